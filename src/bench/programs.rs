//! The programs the benchmarks measure, each with the frame it acts on.

use std::os::fd::BorrowedFd;

use super::frames::Kind;
use crate::builtin;
use crate::error::{Exit, Failure};
use crate::object::{self, Loaded, Selection, Source};

pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;

/// One built-in program and how to measure it.
#[derive(Debug)]
pub struct Subject {
    /// Function name, as `bench PROGRAM` takes it.
    pub program: &'static str,
    /// The built-in object that holds it.
    pub object: &'static str,
    pub frame: Kind,
    /// The verdict on that frame: checked, so a wrong frame cannot make the
    /// benchmark time another code path without anyone noticing.
    pub verdict: u32,
    /// The program rewrites the frame so that a second run on the same
    /// buffer would take another path (an echo request becomes a reply; a
    /// popped tag is gone). Such programs get a fresh frame for every run.
    pub one_shot: bool,
    /// The most it may cost as a multiple of the bare pass program, where
    /// the project has set a target (README, Performance).
    pub target: Option<f64>,
}

const fn subject(
    object: &'static str,
    program: &'static str,
    frame: Kind,
    verdict: u32,
) -> Subject {
    Subject {
        program,
        object,
        frame,
        verdict,
        one_shot: false,
        target: None,
    }
}

/// Counting the verdict in xdp_stats_map may cost 30% over a bare pass.
const STATS_TARGET: Option<f64> = Some(1.3);

/// The baseline: returns XDP_PASS, counts nothing.
pub const BARE_PASS: Subject = subject("xdp_bench", "xdp_bare_pass", Kind::Udp, XDP_PASS);

/// The live-traffic generator (XDP_TX), see src/bpf/xdp_bench.bpf.c.
pub const GENERATOR: Subject = subject("xdp_bench", "xdp_bench_tx", Kind::Udp, XDP_TX);

/// Every program `bench all` measures, baseline first.
pub const ALL: &[Subject] = &[
    BARE_PASS,
    Subject {
        target: STATS_TARGET,
        ..subject("xdp_pass", "xdp_prog_simple", Kind::Udp, XDP_PASS)
    },
    Subject {
        target: STATS_TARGET,
        ..subject("xdp_prog", "xdp_pass_func", Kind::Udp, XDP_PASS)
    },
    Subject {
        target: STATS_TARGET,
        ..subject("xdp_prog", "xdp_drop_func", Kind::Udp, XDP_DROP)
    },
    Subject {
        target: STATS_TARGET,
        ..subject("xdp_stats1", "xdp_stats1_func", Kind::Udp, XDP_PASS)
    },
    Subject {
        target: Some(2.0),
        ..subject("xdp_parser", "xdp_parser_func", Kind::EchoRequest, XDP_DROP)
    },
    Subject {
        one_shot: true,
        ..subject(
            "xdp_redirect",
            "xdp_icmp_echo_func",
            Kind::EchoRequest,
            XDP_TX,
        )
    },
    subject("xdp_rewrite", "xdp_port_rewrite_func", Kind::Udp, XDP_PASS),
    Subject {
        one_shot: true,
        ..subject("xdp_rewrite", "xdp_vlan_swap_func", Kind::VlanUdp, XDP_PASS)
    },
];

/// The subject named `program` (a function name).
pub fn find(program: &str) -> Result<&'static Subject, Failure> {
    ALL.iter().find(|s| s.program == program).ok_or_else(|| {
        let names: Vec<&str> = ALL.iter().map(|s| s.program).collect();
        Failure::new(
            Exit::Usage,
            format!("'{program}' is not a program the benchmark knows"),
        )
        .hint(format!("one of: all, {}", names.join(", ")))
    })
}

/// A subject's program, loaded into the kernel (not attached anywhere).
pub struct LoadedSubject {
    pub subject: &'static Subject,
    loaded: Loaded,
}

impl LoadedSubject {
    pub fn load(subject: &'static Subject) -> Result<LoadedSubject, Failure> {
        let builtin = builtin::find(subject.object).expect("bench subjects are built-ins");
        let selection = Selection {
            prog_name: Some(subject.program),
            section: None,
        };
        let loaded = object::load(&Source::Builtin(builtin), selection, None, None)?;
        Ok(LoadedSubject { subject, loaded })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.loaded.program_fd()
    }

    /// The kernel id of the program's `xdp_stats_map`, if it has one.
    pub fn stats_map_id(&self) -> Option<u32> {
        use libbpf_rs::MapCore;
        self.loaded
            .object
            .maps()
            .find(|m| m.name() == crate::stats::MAP_NAME)
            .and_then(|m| m.info().ok())
            .map(|info| info.info.id)
    }
}
