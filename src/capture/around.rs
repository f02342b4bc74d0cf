//! Capture around an XDP program that is already running, as xdpdump
//! does: fentry (entry) and fexit (exit, with the verdict) programs from
//! `xdp_capture_trace`, aimed at the running program through BPF
//! trampolines. The interface and its program are not touched; the
//! tracing links are not pinned, so they close with this process however
//! it ends.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::sync::mpsc::Receiver;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};

use super::sink::{Ending, Packet, Point, Sink};
use super::target::Target;
use super::transport::{self, Transport};
use crate::builtin::skel::xdp_capture_trace::XdpCaptureTraceSkelBuilder;
use crate::cli::{CaptureArgs, CaptureBuffer};
use crate::error::{errno_name, errno_of, errno_text, Exit, Failure};
use crate::features::{self, Feature};
use crate::iface::Interface;
use crate::libbpf_log;

/// `struct trace_meta` of xdp_capture_trace.bpf.c.
const META_LEN: usize = 24;

/// Refuses, with what to do instead, where the kernel has no fentry on
/// XDP programs (no BPF trampolines).
pub fn require_trampolines(iface: &Interface, target: &Target) -> Result<(), Failure> {
    let answer = features::probe_one(Feature::Fentry);
    if !matches!(answer.outcome, features::Outcome::No { .. }) {
        return Ok(());
    }
    Err(Failure::new(
        Exit::Fail,
        format!(
            "capturing around {}'s XDP program {} needs BPF trampolines (fentry/fexit on an XDP program), which this kernel does not have",
            iface.name,
            target.describe()
        ),
    )
    .details([format!("probe: {}", answer.explanation())])
    .hint(format!(
        "capture's own program works on this kernel on an interface without XDP: \
         `xdp-loader unload {0}`, `xdp-loader capture {0}`, then load it again; \
         or watch what it passes with `tcpdump -i {0}`",
        iface.name
    )))
}

pub fn capture(
    args: &CaptureArgs,
    iface: &Interface,
    target: &Target,
    stop: &Receiver<()>,
    sink: &RefCell<Sink>,
    into: &str,
) -> Result<(), Failure> {
    let transport = match args.buffer {
        CaptureBuffer::Perf => Transport::Perf,
        CaptureBuffer::Ring => {
            features::require(Feature::Ringbuf, "--buffer ring")?;
            Transport::Ring
        }
        CaptureBuffer::Auto => match features::has(Feature::Ringbuf) {
            Some(false) => Transport::Perf,
            _ => Transport::Ring,
        },
    };
    let wanted: Vec<&str> = [
        (args.rx_capture.entry, "entry"),
        (args.rx_capture.exit, "exit"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, point)| point)
    .collect();
    let suffix = match transport {
        Transport::Perf => "perf",
        Transport::Ring => "ring",
    };
    let programs: Vec<String> = wanted
        .iter()
        .map(|point| format!("capture_{point}_{suffix}"))
        .collect();

    let mut storage = MaybeUninit::uninit();
    let mut open = XdpCaptureTraceSkelBuilder::default()
        .open(&mut storage)
        .map_err(|e| Failure::new(Exit::Bpf, format!("cannot open xdp_capture_trace: {e}")))?;
    if let Some(rodata) = open.maps.rodata_data.as_deref_mut() {
        rodata.snaplen = args.snaplen;
    }
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        if !programs.contains(&name) {
            prog.set_autoload(false);
            continue;
        }
        prog.set_attach_target(target.fd.as_raw_fd(), Some(target.function.clone()))
            .map_err(|e| {
                Failure::new(
                    Exit::Bpf,
                    format!("cannot aim {name} at {}: {e}", target.describe()),
                )
            })?;
    }
    libbpf_log::take();
    let mut skel = open.load().map_err(|e| {
        let errno = errno_of(&e);
        Failure::new(
            Exit::Bpf,
            format!(
                "cannot load the fentry/fexit programs for {}: {} ({})",
                target.describe(),
                errno_text(errno),
                errno_name(errno)
            ),
        )
        .details(libbpf_log::take().into_iter().rev().take(5).rev())
    })?;
    let _links = skel
        .object_mut()
        .progs_mut()
        .filter(|p| programs.contains(&p.name().to_string_lossy().into_owned()))
        .map(|p| {
            p.attach_trace().map_err(|e| {
                Failure::new(
                    Exit::Fail,
                    format!(
                        "cannot attach {} to {}: {e}",
                        p.name().to_string_lossy(),
                        target.describe()
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let announce = format!(
        "Capturing on {} around {} at {} (snaplen {}, {}){into} (Ctrl-C to stop)",
        iface.name,
        target.describe(),
        wanted.join(","),
        args.snaplen,
        transport.name(),
    );
    transport::read_into(
        skel.object(),
        transport,
        parse_record,
        sink,
        &Ending {
            iface,
            stop,
            target_gone: &|| target.gone_from(iface),
        },
        announce,
    )
}

/// One record: the metadata (with the point and verdict), then the bytes.
fn parse_record(data: &[u8]) -> Option<Packet<'_>> {
    let u32_at = |at: usize| Some(u32::from_ne_bytes(data.get(at..at + 4)?.try_into().ok()?));
    let timestamp_ns = u64::from_ne_bytes(data.get(0..8)?.try_into().ok()?);
    let wire_len = u32_at(8)?;
    let cap_len = u32_at(12)? as usize;
    let point = match u32_at(16)? {
        0 => Point::Entry,
        _ => Point::Exit(u32_at(20)?),
    };
    let bytes = data.get(META_LEN..)?;
    Some(Packet {
        timestamp_ns,
        wire_len,
        bytes: &bytes[..cap_len.min(bytes.len())],
        point,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_the_point_and_verdict() {
        let record = |point: u32, verdict: u32| {
            let mut data = Vec::new();
            data.extend_from_slice(&7u64.to_ne_bytes());
            data.extend_from_slice(&98u32.to_ne_bytes());
            data.extend_from_slice(&2u32.to_ne_bytes());
            data.extend_from_slice(&point.to_ne_bytes());
            data.extend_from_slice(&verdict.to_ne_bytes());
            data.extend_from_slice(&[0xaa, 0xbb, 0, 0, 0, 0]);
            data
        };
        let entry = record(0, 0);
        let packet = parse_record(&entry).unwrap();
        assert_eq!(
            (packet.point, packet.wire_len, packet.bytes),
            (Point::Entry, 98, &[0xaa, 0xbb][..])
        );
        let exit = record(1, 1);
        assert_eq!(parse_record(&exit).unwrap().point, Point::Exit(1));
        assert!(parse_record(&exit[..20]).is_none());
    }
}
