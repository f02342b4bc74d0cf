//! The xdp:* tracepoints the monitor program (src/bpf/xdp_monitor.bpf.c)
//! attaches to, the record fields each of its programs reads, and how the
//! entries it counts are named.

use crate::stats::reader::ACTIONS;

/// One tracepoint program of xdp_monitor.bpf.c.
pub struct Tracepoint {
    /// The event in the `xdp` group: tracefs `events/xdp/<event>/`.
    pub event: &'static str,
    /// The BPF function attached to it.
    pub program: &'static str,
    /// (field, offset) of every 4-byte field the program's context struct
    /// reads. A kernel whose record differs would feed it garbage, so the
    /// program is then not loaded.
    pub fields: &'static [(&'static str, usize)],
}

const REDIRECT_FIELDS: &[(&str, usize)] = &[
    ("act", 12),
    ("ifindex", 16),
    ("err", 20),
    ("to_ifindex", 24),
];

const CPUMAP_FIELDS: &[(&str, usize)] =
    &[("act", 12), ("cpu", 16), ("drops", 20), ("processed", 24)];

/// Every program of the monitor object, in the order of its source.
pub const TRACEPOINTS: &[Tracepoint] = &[
    Tracepoint {
        event: "xdp_exception",
        program: "trace_xdp_exception",
        fields: &[("act", 12), ("ifindex", 16)],
    },
    Tracepoint {
        event: "xdp_redirect",
        program: "trace_xdp_redirect",
        fields: REDIRECT_FIELDS,
    },
    Tracepoint {
        event: "xdp_redirect_err",
        program: "trace_xdp_redirect_err",
        fields: REDIRECT_FIELDS,
    },
    Tracepoint {
        event: "xdp_redirect_map",
        program: "trace_xdp_redirect_map",
        fields: REDIRECT_FIELDS,
    },
    Tracepoint {
        event: "xdp_redirect_map_err",
        program: "trace_xdp_redirect_map_err",
        fields: REDIRECT_FIELDS,
    },
    Tracepoint {
        event: "xdp_devmap_xmit",
        program: "trace_xdp_devmap_xmit",
        fields: &[
            ("from_ifindex", 8),
            ("act", 12),
            ("to_ifindex", 16),
            ("drops", 20),
            ("sent", 24),
            ("err", 28),
        ],
    },
    Tracepoint {
        event: "xdp_cpumap_enqueue",
        program: "trace_xdp_cpumap_enqueue",
        fields: &[
            ("act", 12),
            ("cpu", 16),
            ("drops", 20),
            ("processed", 24),
            ("to_cpu", 28),
        ],
    },
    Tracepoint {
        event: "xdp_cpumap_kthread",
        program: "trace_xdp_cpumap_kthread",
        fields: CPUMAP_FIELDS,
    },
    Tracepoint {
        event: "xdp_bulk_tx",
        program: "trace_xdp_bulk_tx",
        fields: &[
            ("ifindex", 8),
            ("act", 12),
            ("drops", 16),
            ("sent", 20),
            ("err", 24),
        ],
    },
];

impl Tracepoint {
    /// Why this program cannot run on a kernel whose record has `fields`
    /// (None: it can).
    pub fn mismatch(&self, fields: &[crate::tracefs::Field]) -> Option<String> {
        self.fields.iter().find_map(|&(name, offset)| {
            match fields.iter().find(|f| f.name == name) {
                None => Some(format!("its record has no field '{name}'")),
                Some(f) if f.offset != offset || f.size != 4 => Some(format!(
                    "its field '{name}' is {} bytes at offset {}, the program reads 4 at {offset}",
                    f.size, f.offset
                )),
                Some(_) => None,
            }
        })
    }
}

/// `enum monitor_event` of the BPF program: the names rows show. (The
/// _map variants of older kernels count as the event they became.)
const EVENT_NAMES: [&str; 7] = [
    "xdp_exception",
    "xdp_redirect",
    "xdp_redirect_err",
    "xdp_devmap_xmit",
    "xdp_cpumap_enqueue",
    "xdp_cpumap_kthread",
    "xdp_bulk_tx",
];

pub fn event_name(event: u32) -> String {
    EVENT_NAMES
        .get(event as usize)
        .map_or_else(|| format!("event {event}"), |n| n.to_string())
}

/// Do `from`/`to` of this event hold CPU numbers (cpumap) instead of ifindexes?
pub fn counts_cpus(event: u32) -> bool {
    matches!(EVENT_NAMES.get(event as usize), Some(name) if name.starts_with("xdp_cpumap"))
}

/// Does this event have a target distinct from its device (a redirect's
/// or devmap's interface, a cpumap's target CPU)?
pub fn has_target(event: u32) -> bool {
    matches!(
        EVENT_NAMES.get(event as usize),
        Some(&("xdp_redirect" | "xdp_redirect_err" | "xdp_devmap_xmit" | "xdp_cpumap_enqueue"))
    )
}

pub fn action_name(action: u32) -> String {
    ACTIONS
        .get(action as usize)
        .map_or_else(|| format!("action {action}"), |n| n.to_string())
}

/// `-ENETDOWN` → "ENETDOWN (Network is down)".
pub fn error_name(err: i32) -> Option<String> {
    if err == 0 {
        return None;
    }
    let errno = err.saturating_abs();
    let symbol = match errno {
        libc::EINVAL => "EINVAL",
        libc::ENETDOWN => "ENETDOWN",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENOSPC => "ENOSPC",
        libc::ENODEV => "ENODEV",
        libc::ENXIO => "ENXIO",
        libc::EBUSY => "EBUSY",
        libc::EFAULT => "EFAULT",
        libc::ENOMEM => "ENOMEM",
        libc::EOVERFLOW => "EOVERFLOW",
        _ => "errno",
    };
    Some(format!("{symbol} ({})", crate::error::errno_text(errno)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracefs::Field;

    fn field(name: &str, offset: usize, size: usize) -> Field {
        Field {
            name: name.into(),
            offset,
            size,
        }
    }

    #[test]
    fn a_record_laid_out_as_expected_matches() {
        let fields = [
            field("prog_id", 8, 4),
            field("act", 12, 4),
            field("ifindex", 16, 4),
        ];
        assert_eq!(TRACEPOINTS[0].mismatch(&fields), None);
    }

    #[test]
    fn a_moved_or_missing_field_is_named() {
        let moved = [field("act", 12, 4), field("ifindex", 20, 4)];
        let why = TRACEPOINTS[0].mismatch(&moved).unwrap();
        assert!(
            why.contains("'ifindex'") && why.contains("offset 20"),
            "{why}"
        );
        let missing = [field("act", 12, 4)];
        assert!(TRACEPOINTS[0]
            .mismatch(&missing)
            .unwrap()
            .contains("no field 'ifindex'"));
    }

    #[test]
    fn every_program_of_the_object_is_described() {
        let open = crate::object::Source::Builtin(crate::builtin::find("xdp_monitor").unwrap())
            .open()
            .unwrap();
        let programs: Vec<String> = open
            .progs()
            .map(|p| p.name().to_string_lossy().into_owned())
            .collect();
        let described: Vec<&str> = TRACEPOINTS.iter().map(|t| t.program).collect();
        assert_eq!(programs, described);
        for (prog, tp) in open.progs().zip(TRACEPOINTS) {
            assert_eq!(
                prog.section().to_string_lossy(),
                format!("tracepoint/xdp/{}", tp.event)
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(event_name(0), "xdp_exception");
        assert_eq!(event_name(99), "event 99");
        assert_eq!(action_name(0), "XDP_ABORTED");
        assert_eq!(action_name(7), "action 7");
        assert!(counts_cpus(4) && !counts_cpus(0));
        assert_eq!(error_name(0), None);
        assert_eq!(
            error_name(-libc::ENETDOWN).unwrap(),
            "ENETDOWN (Network is down)"
        );
    }
}
