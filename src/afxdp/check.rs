//! The advanced03 assignments, checked (for `xdp-loader check` and the
//! lesson's `make check`):
//!
//! - assignment 2, the every-other-packet XDP program: `every_other`
//!   loads the student's object, binds a real AF_XDP socket on the
//!   loopback device of a network namespace made for the check (nothing
//!   outside it is touched), puts it in xsks_map[0], and runs the program
//!   with BPF_PROG_TEST_RUN on one CPU: verdicts must alternate between
//!   XDP_REDIRECT and XDP_PASS; with the socket taken out of the map, every
//!   packet must pass (a redirect to an empty slot would drop it).
//! - assignment 3, the ICMPv6 echo responder: `echo_responder` feeds a
//!   responder function an echo request and frames it must leave alone.
//!
//! Assignment 1 (consuming packets) is shown by running `xdp-loader afxdp`
//! with the student's object; tests/afxdp.rs checks it on real traffic.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use libbpf_rs::{MapCore, MapType};

use super::echo::{self, ICMPV6_ECHO_REPLY};
use super::socket::{self, Binding, Target};
use super::umem::Umem;
use super::XSKS_MAP;
use crate::bench::frames::{self, Kind};
use crate::bench::test_run;
use crate::error::{Exit, Failure};
use crate::iface::Interface;
use crate::object::{self, Selection, Source};

const XDP_ABORTED: u32 = 0;
const XDP_PASS: u32 = 2;
const XDP_REDIRECT: u32 = 4;
/// Runs with the socket in the map; even, so both verdicts come up.
const RUNS: usize = 8;

/// One checked property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was checked, e.g. "xsks_map is an XSKMAP".
    pub what: String,
    pub passed: bool,
    /// What was seen (verdicts, bytes), for the student.
    pub detail: String,
}

impl Finding {
    fn new(what: &str, passed: bool, detail: impl Into<String>) -> Finding {
        Finding {
            what: what.to_string(),
            passed,
            detail: detail.into(),
        }
    }
}

/// Assignment 2. Err only when the check itself cannot run (the object
/// does not load, no root, no AF_XDP); a wrong program gives failed Findings.
pub fn every_other(source: &Source, prog_name: Option<&str>) -> Result<Vec<Finding>, Failure> {
    let loaded = object::load(
        source,
        Selection {
            prog_name,
            section: None,
        },
        None,
        None,
    )?;
    let Some(map) = loaded
        .object
        .maps()
        .find(|m| m.name() == XSKS_MAP && m.map_type() == MapType::Xskmap)
    else {
        return Ok(vec![Finding::new(
            "xsks_map is an XSKMAP",
            false,
            format!(
                "'{}' has no BPF_MAP_TYPE_XSKMAP named {XSKS_MAP}",
                loaded.object_name
            ),
        )]);
    };
    let mut findings = vec![Finding::new("xsks_map is an XSKMAP", true, "")];
    let prog = loaded.program_fd();
    let map_fd = map.as_fd();
    let runs = std::thread::scope(|scope| {
        scope
            .spawn(|| in_private_netns(prog, map_fd))
            .join()
            .unwrap_or_else(|_| Err(Failure::new(Exit::Fail, "the check's thread panicked")))
    })?;

    let alternating = runs.with_socket.windows(2).all(|w| w[0] != w[1])
        && runs
            .with_socket
            .iter()
            .all(|&v| v == XDP_REDIRECT || v == XDP_PASS);
    findings.push(Finding::new(
        "every other packet to the socket (XDP_REDIRECT), the rest to the stack (XDP_PASS)",
        alternating,
        format!("verdicts: {}", names(&runs.with_socket)),
    ));
    let all_pass = runs.without_socket.iter().all(|&v| v == XDP_PASS);
    findings.push(Finding::new(
        "no socket on the queue: every packet to the stack (look the queue up in xsks_map first)",
        all_pass,
        format!("verdicts: {}", names(&runs.without_socket)),
    ));
    Ok(findings)
}

struct Runs {
    with_socket: Vec<u32>,
    without_socket: Vec<u32>,
}

/// In a network namespace of this thread's own: a socket on its `lo`.
fn in_private_netns(prog: BorrowedFd, map: BorrowedFd) -> Result<Runs, Failure> {
    let os_error = |what: &str| {
        Failure::new(
            Exit::Fail,
            format!("check: {what}: {}", std::io::Error::last_os_error()),
        )
    };
    // SAFETY: affects only this thread's network namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(os_error("cannot make a private network namespace"));
    }
    pin_to_this_cpu().map_err(|_| os_error("cannot pin the check to one CPU"))?;
    let lo = Interface {
        name: "lo".into(),
        index: 1,
    };
    let umem = Umem::new().map_err(|e| Failure::new(Exit::Fail, format!("UMEM: {e}")))?;
    let socket = socket::open(
        &umem,
        &Target {
            iface: &lo,
            queue: 0,
            binding: Binding::Copy,
        },
    )?;
    let key = 0u32;
    let value = socket.as_fd().as_raw_fd() as u32;
    // SAFETY: valid map fd; key and value are u32 as xsks_map declares.
    let ret = unsafe {
        libbpf_sys::bpf_map_update_elem(
            map.as_raw_fd(),
            (&key as *const u32).cast(),
            (&value as *const u32).cast(),
            0,
        )
    };
    if ret != 0 {
        return Err(os_error("xsks_map[0] = socket"));
    }
    let frame = frames::build(Kind::Udp, 64);
    let run = || -> Result<u32, Failure> {
        test_run::repeat(prog, &frame, 1)
            .map(|t| t.verdict)
            .map_err(|e| Failure::new(Exit::Fail, format!("check: BPF_PROG_TEST_RUN: {e}")))
    };
    let with_socket = (0..RUNS).map(|_| run()).collect::<Result<Vec<_>, _>>()?;
    // SAFETY: as above.
    if unsafe { libbpf_sys::bpf_map_delete_elem(map.as_raw_fd(), (&key as *const u32).cast()) } != 0
    {
        return Err(os_error("delete xsks_map[0]"));
    }
    let without_socket = (0..RUNS / 2)
        .map(|_| run())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Runs {
        with_socket,
        without_socket,
    })
}

/// The every-other counter is per CPU: all runs must meet the same one.
fn pin_to_this_cpu() -> Result<(), ()> {
    // SAFETY: sched_getcpu has no preconditions; the set is initialised
    // by CPU_ZERO before use and sched_setaffinity(0) acts on this thread.
    unsafe {
        let cpu = libc::sched_getcpu();
        if cpu < 0 {
            return Err(());
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu as usize, &mut set);
        match libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) {
            0 => Ok(()),
            _ => Err(()),
        }
    }
}

fn names(verdicts: &[u32]) -> String {
    let name = |v: &u32| match *v {
        XDP_ABORTED => "ABORTED".to_string(),
        1 => "DROP".into(),
        XDP_PASS => "PASS".into(),
        3 => "TX".into(),
        XDP_REDIRECT => "REDIRECT".into(),
        other => other.to_string(),
    };
    verdicts.iter().map(name).collect::<Vec<_>>().join(" ")
}

/// Assignment 3: `responder` gets a frame in place and returns true when
/// it turned it into a reply to send.
pub fn echo_responder(responder: &mut dyn FnMut(&mut [u8]) -> bool) -> Vec<Finding> {
    let request = echo::echo_request();
    let mut reply = request.clone();
    let answered = responder(&mut reply);
    let icmp = 14 + 40;
    let mut findings = vec![Finding::new(
        "an echo request is answered",
        answered,
        if answered { "" } else { "returned false" },
    )];
    if answered {
        let checks = [
            (
                "MAC addresses swapped",
                reply[0..6] == request[6..12] && reply[6..12] == request[0..6],
            ),
            (
                "IPv6 addresses swapped",
                reply[22..38] == request[38..54] && reply[38..54] == request[22..38],
            ),
            ("type is echo reply (129)", reply[icmp] == ICMPV6_ECHO_REPLY),
            (
                "identifier, sequence and data kept",
                reply.len() == request.len() && reply[icmp + 4..] == request[icmp + 4..],
            ),
            (
                "ICMPv6 checksum right",
                reply.len() == request.len() && echo::icmpv6_checksum(&reply) == 0,
            ),
        ];
        findings.extend(
            checks
                .into_iter()
                .map(|(what, ok)| Finding::new(what, ok, hex(&reply[..reply.len().min(70)]))),
        );
    }
    let mut others = vec![
        frames::build(Kind::Udp, 64),
        frames::build(Kind::EchoRequest, 64),
    ];
    let mut an_echo_reply = request;
    an_echo_reply[icmp] = ICMPV6_ECHO_REPLY;
    others.push(an_echo_reply);
    let left_alone = others.iter_mut().all(|frame| {
        let before = frame.clone();
        !responder(frame) && *frame == before
    });
    findings.push(Finding::new(
        "other frames (IPv4 UDP, IPv4 ping, an ICMPv6 echo reply) are not answered or changed",
        left_alone,
        "",
    ));
    findings
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_pass(findings: &[Finding]) -> bool {
        findings.iter().all(|f| f.passed)
    }

    #[test]
    fn the_reference_responder_passes() {
        let findings = echo_responder(&mut echo::reply_in_place);
        assert!(all_pass(&findings), "{findings:#?}");
    }

    #[test]
    fn wrong_responders_are_rejected() {
        // Answers nothing.
        assert!(!all_pass(&echo_responder(&mut |_| false)));
        // Turns the type around but forgets the checksum.
        let mut no_checksum = |f: &mut [u8]| {
            if f.len() > 54 && f[54] == 128 {
                f[54] = 129;
                let (dst, src) = f.split_at_mut(6);
                dst.swap_with_slice(&mut src[..6]);
                for i in 0..16 {
                    f.swap(22 + i, 38 + i);
                }
                return true;
            }
            false
        };
        let findings = echo_responder(&mut no_checksum);
        let failed: Vec<&str> = findings
            .iter()
            .filter(|f| !f.passed)
            .map(|f| f.what.as_str())
            .collect();
        assert_eq!(failed, ["ICMPv6 checksum right"], "{findings:#?}");
        // Answers everything.
        let findings = echo_responder(&mut |f| {
            echo::reply_in_place(f);
            true
        });
        assert!(!findings.last().unwrap().passed, "{findings:#?}");
    }
}
