//! Capture with a program of its own: `xdp_capture` (lesson tracing04)
//! attached to an interface that runs no XDP program, passing everything
//! and copying each packet to user space; or its ring-buffer twin
//! `xdp_capture_ring` where the kernel runs it (Linux 5.18).
//!
//! The program is attached through a bpf_link that is not pinned, so it
//! comes off when the command ends, however it ends (Ctrl-C, --count,
//! an error, even SIGKILL): a capture never leaves a program behind.

use std::cell::RefCell;
use std::sync::mpsc::Receiver;

use libbpf_rs::{MapCore, MapFlags};

use super::sink::{Ending, Packet, Point, Sink};
use super::transport::{self, Transport};
use crate::attach::{self, Request};
use crate::builtin;
use crate::cli::{AttachKind, CaptureArgs, CaptureBuffer};
use crate::error::{Exit, Failure};
use crate::features::{self, Feature};
use crate::iface::{mode_name, Interface};
use crate::object::{self, Selection, Source};

/// `struct capture_meta` of xdp_capture.h: what precedes the bytes.
const META_LEN: usize = 16;

/// Loads and attaches the capture program, and hands its records to the
/// sink until stopped.
pub fn capture(
    args: &CaptureArgs,
    iface: &Interface,
    stop: &Receiver<()>,
    sink: &RefCell<Sink>,
    into: &str,
) -> Result<(), Failure> {
    let (loaded, transport) = load(args.buffer)?;
    let config = loaded
        .object
        .maps()
        .find(|m| m.name() == "capture_config")
        .expect("xdp_capture's config map");
    config
        .update(
            &0u32.to_ne_bytes(),
            &args.snaplen.to_ne_bytes(),
            MapFlags::ANY,
        )
        .map_err(|e| Failure::new(Exit::Bpf, format!("cannot set the snap length: {e}")))?;

    let _link = attach::attach_while_running(&Request {
        iface,
        prog_fd: loaded.program_fd(),
        mode: args.mode,
        kind: AttachKind::Link,
        force: false,
    })?;
    let announce = format!(
        "Capturing on {} ({} mode, snaplen {}, {}){into} (Ctrl-C to stop)",
        iface.name,
        mode_name(args.mode),
        args.snaplen,
        transport.name(),
    );
    transport::read_into(
        &loaded.object,
        transport,
        parse_record,
        sink,
        &Ending {
            iface,
            stop,
            // Its own link: it comes off only with the interface.
            target_gone: &|| None,
        },
        announce,
    )
}

/// The ring-buffer program where the kernel runs it (it copies with
/// bpf_xdp_load_bytes, Linux 5.18), else the perf-buffer one.
fn load(buffer: CaptureBuffer) -> Result<(object::Loaded, Transport), Failure> {
    let load = |name| {
        let source = Source::Builtin(builtin::find(name).expect("a built-in capture program"));
        object::load(&source, Selection::default(), None, None)
    };
    if buffer != CaptureBuffer::Perf && features::has(Feature::Ringbuf) != Some(false) {
        match load("xdp_capture_ring") {
            Ok(loaded) => return Ok((loaded, Transport::Ring)),
            Err(failure) if buffer == CaptureBuffer::Ring => {
                return Err(Failure::new(
                    Exit::Bpf,
                    "--buffer ring: this kernel does not load xdp_capture_ring, which copies \
                     packets with bpf_xdp_load_bytes (Linux 5.18 and later)",
                )
                .details([format!("the load said: {}", failure.message)])
                .hint("leave out --buffer (the perf buffer works on every kernel)"))
            }
            Err(_) => {}
        }
    } else if buffer == CaptureBuffer::Ring {
        return Err(features::missing(
            &features::probe_one(Feature::Ringbuf),
            "--buffer ring",
        ));
    }
    Ok((load("xdp_capture")?, Transport::Perf))
}

/// One record: the metadata, then the captured bytes.
pub(super) fn parse_record(data: &[u8]) -> Option<Packet<'_>> {
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
        let packet = parse_record(&data).unwrap();
        assert_eq!(
            (packet.timestamp_ns, packet.wire_len, packet.bytes),
            (5, 1500, &[1u8, 2, 3][..])
        );
        assert!(parse_record(&data[..10]).is_none());
    }
}
