//! tracing04: xdp_capture_func sends each packet to user space through the
//! perf event array capture_events: its metadata, then cap_len bytes of
//! the packet. `check` reads the samples from the map's perf buffer and
//! compares them with the frames it sent.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use libbpf_rs::{MapCore, MapFlags, PerfBufferBuilder};

use super::frames::{ethernet, tag, tag_of, ETH_P_LOCAL};
use super::lab::{Watch, MAC_PEER, MAC_XDP};
use super::{Lesson, Subject};
use crate::capture::parse_sample;

pub const TRACING04: Lesson = Lesson {
    name: "tracing04",
    builtin: Some("xdp_capture"),
    assignments: &["xdp_capture_func sends each packet (meta + cap_len bytes) to capture_events"],
    check,
};

const PROGRAM: &str = "xdp_capture_func";

fn check(subject: &Subject, _number: usize) -> Result<(), String> {
    let loaded = subject.program(PROGRAM)?;
    let map = |name: &str| {
        loaded
            .object
            .maps()
            .find(|m| m.name() == name)
            .ok_or(format!("the object has no map {name}"))
    };
    // Snap length 0: whole packets.
    map("capture_config")?
        .update(&0u32.to_ne_bytes(), &0u32.to_ne_bytes(), MapFlags::ANY)
        .map_err(|e| format!("capture_config: {e}"))?;
    let samples = RefCell::new(Vec::<(u32, Vec<u8>)>::new());
    let events = map("capture_events")?;
    let perf = PerfBufferBuilder::new(&events)
        .sample_cb(|_cpu, data: &[u8]| {
            if let Some((_, wire_len, bytes)) = parse_sample(data) {
                samples.borrow_mut().push((wire_len, bytes.to_vec()));
            }
        })
        .build()
        .map_err(|e| format!("cannot open a perf buffer on capture_events: {e}"))?;
    subject.attach(PROGRAM)?;

    let frames: Vec<(u32, Vec<u8>)> = [60usize, 200, 1000]
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let mut payload = vec![i as u8; len - 14 - 8];
            payload.extend_from_slice(&tag(i as u32));
            (
                i as u32,
                ethernet(MAC_XDP, MAC_PEER, &[], ETH_P_LOCAL, &payload),
            )
        })
        .collect();
    subject.expect_all(&frames, Watch::Xdp)?;
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline
        && !frames
            .iter()
            .all(|(id, _)| samples.borrow().iter().any(|(_, b)| tag_of(b) == Some(*id)))
    {
        perf.poll(Duration::from_millis(50))
            .map_err(|e| e.to_string())?;
    }

    let samples = samples.borrow();
    let mut wrong = Vec::new();
    for (id, frame) in &frames {
        let found = samples.iter().find(|(len, bytes)| {
            tag_of(bytes) == Some(*id) || (*len as usize == frame.len() && bytes.is_empty())
        });
        match found {
            None => wrong.push(format!("no sample for the {}-byte frame", frame.len())),
            Some((len, _)) if *len as usize != frame.len() => wrong.push(format!("the {}-byte frame's sample says pkt_len {len}", frame.len())),
            Some((_, bytes)) if bytes != frame => wrong.push(format!(
                "the {}-byte frame's sample carries {} bytes that are not the packet's (expected all {})",
                frame.len(),
                bytes.len(),
                frame.len()
            )),
            Some(_) => {}
        }
    }
    match wrong.is_empty() {
        true => Ok(()),
        false => Err(wrong.join("; ")),
    }
}
