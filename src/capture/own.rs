//! Capture with a program of its own: `xdp_capture` (lesson tracing04)
//! attached to an interface that runs no XDP program, passing everything
//! and copying each packet to user space through a perf buffer.
//!
//! The program is attached through a bpf_link that is not pinned, so it
//! comes off when the command ends, however it ends (Ctrl-C, --count,
//! an error, even SIGKILL): a capture never leaves a program behind.

use std::cell::RefCell;
use std::sync::mpsc::Receiver;

use libbpf_rs::{MapCore, MapFlags, PerfBufferBuilder};

use super::sink::{self, Packet, Point, Sink};
use crate::attach::{self, Request};
use crate::builtin;
use crate::cli::{AttachKind, CaptureArgs};
use crate::error::{Exit, Failure};
use crate::iface::{mode_name, Interface};
use crate::object::{self, Selection, Source};

/// `struct capture_meta` of xdp_capture.bpf.c: what precedes the bytes.
const META_LEN: usize = 16;

/// Loads and attaches the capture program, and hands perf samples to the
/// sink until stopped.
pub fn capture(
    args: &CaptureArgs,
    iface: &Interface,
    stop: &Receiver<()>,
    sink: &RefCell<Sink>,
    into: &str,
) -> Result<(), Failure> {
    let source = Source::Builtin(builtin::find("xdp_capture").expect("built-in xdp_capture"));
    let loaded = object::load(&source, Selection::default(), None, None)?;
    let map = |name: &str| {
        loaded
            .object
            .maps()
            .find(|m| m.name() == name)
            .expect("a map of xdp_capture")
    };
    map("capture_config")
        .update(
            &0u32.to_ne_bytes(),
            &args.snaplen.to_ne_bytes(),
            MapFlags::ANY,
        )
        .map_err(|e| Failure::new(Exit::Bpf, format!("cannot set the snap length: {e}")))?;

    let events = map("capture_events");
    let perf = PerfBufferBuilder::new(&events)
        .sample_cb(|_cpu, data: &[u8]| {
            if let Some(packet) = parse_sample(data) {
                sink.borrow_mut().record(packet);
            }
        })
        .lost_cb(|_cpu, count| sink.borrow_mut().lost(count))
        .build()
        .map_err(|e| Failure::new(Exit::Bpf, format!("cannot open the perf buffer: {e}")))?;

    let _link = attach::attach_while_running(&Request {
        iface,
        prog_fd: loaded.program_fd(),
        mode: args.mode,
        kind: AttachKind::Link,
        force: false,
    })?;
    eprintln!(
        "Capturing on {} ({} mode, snaplen {}){into} (Ctrl-C to stop)",
        iface.name,
        mode_name(args.mode),
        args.snaplen,
    );
    sink::pump(sink, iface, stop, || {
        let _ = perf.poll(sink::POLL);
    })
}

/// One perf sample: the metadata, then the captured bytes.
fn parse_sample(data: &[u8]) -> Option<Packet<'_>> {
    let timestamp_ns = u64::from_ne_bytes(data.get(0..8)?.try_into().ok()?);
    let wire_len = u32::from_ne_bytes(data.get(8..12)?.try_into().ok()?);
    let cap_len = u32::from_ne_bytes(data.get(12..16)?.try_into().ok()?) as usize;
    // The kernel pads samples to 8 bytes: take only what was captured.
    let bytes = data.get(META_LEN..)?;
    Some(Packet {
        timestamp_ns,
        wire_len,
        bytes: &bytes[..cap_len.min(bytes.len())],
        point: Point::Own,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_cut_to_the_captured_length() {
        let mut data = Vec::new();
        data.extend_from_slice(&5u64.to_ne_bytes());
        data.extend_from_slice(&1500u32.to_ne_bytes());
        data.extend_from_slice(&3u32.to_ne_bytes());
        data.extend_from_slice(&[1, 2, 3, 0, 0, 0, 0, 0]); // 5 bytes of padding
        let packet = parse_sample(&data).unwrap();
        assert_eq!(
            (packet.timestamp_ns, packet.wire_len, packet.bytes),
            (5, 1500, &[1u8, 2, 3][..])
        );
        assert!(parse_sample(&data[..10]).is_none());
    }
}
