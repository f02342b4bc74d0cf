//! The capabilities a command needs, checked before it changes anything.
//!
//! Not "is this root": root with capabilities dropped (a container, setpriv)
//! fails halfway, and a non-root user holding them works, as with bpftool.
//! The effective set is read from /proc/self/status (`CapEff`).

use crate::error::{Exit, Failure};

/// A capability this tool may need (numbers from linux/capability.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// Attach and detach XDP programs, create namespaces and interfaces.
    NetAdmin = 12,
    /// Find programs and maps by id (BPF_*_GET_FD_BY_ID and GET_NEXT_ID
    /// check CAP_SYS_ADMIN, not CAP_BPF); it also stands in for CAP_BPF
    /// and CAP_PERFMON (loading, tracepoints, perf buffers, bpf_printk).
    SysAdmin = 21,
}

impl Cap {
    pub fn name(self) -> &'static str {
        match self {
            Cap::NetAdmin => "CAP_NET_ADMIN",
            Cap::SysAdmin => "CAP_SYS_ADMIN",
        }
    }

    fn lowercase(self) -> &'static str {
        match self {
            Cap::NetAdmin => "net_admin",
            Cap::SysAdmin => "sys_admin",
        }
    }
}

/// Every command that uses BPF objects: programs and maps by id.
pub const BPF: &[Cap] = &[Cap::SysAdmin];
/// Commands that also attach, detach, or change interfaces.
pub const BPF_AND_NET: &[Cap] = &[Cap::SysAdmin, Cap::NetAdmin];

/// Refuses early, naming the missing capabilities, instead of failing
/// halfway with EPERM (or reading every attached program as gone).
pub fn require(what: &str, needs: &[Cap]) -> Result<(), Failure> {
    let effective = effective_caps();
    let missing: Vec<Cap> = needs
        .iter()
        .copied()
        .filter(|cap| effective & (1u64 << *cap as u32) == 0)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(missing_failure(what, needs, &missing))
}

fn missing_failure(what: &str, needs: &[Cap], missing: &[Cap]) -> Failure {
    let names = |caps: &[Cap]| {
        caps.iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let grant: Vec<String> = needs
        .iter()
        .map(|c| format!("+{}", c.lowercase()))
        .collect();
    Failure::new(
        Exit::Fail,
        format!("{what} needs {} (missing: {})", names(needs), names(missing)),
    )
    .hint(format!(
        "run it as root (sudo), or with the capabilities, e.g. setpriv --inh-caps={0} --ambient-caps={0} xdp-loader ...",
        grant.join(",")
    ))
}

/// The effective capability set, as the kernel reports it (0 if unreadable).
fn effective_caps() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| parse_cap_eff(&status))
        .unwrap_or(0)
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cap_eff() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000201000\n";
        let caps = parse_cap_eff(status).unwrap();
        assert_ne!(caps & (1 << Cap::SysAdmin as u32), 0);
        assert_ne!(caps & (1 << Cap::NetAdmin as u32), 0);
        assert_eq!(parse_cap_eff("CapEff:\tzz\n"), None);
    }

    #[test]
    fn names_what_is_missing_and_how_to_grant_it() {
        let failure = missing_failure("xdp-loader load", BPF_AND_NET, &[Cap::NetAdmin]);
        assert_eq!(
            failure.message,
            "xdp-loader load needs CAP_SYS_ADMIN and CAP_NET_ADMIN (missing: CAP_NET_ADMIN)"
        );
        assert!(failure
            .hint
            .unwrap()
            .contains("--inh-caps=+sys_admin,+net_admin"));
    }
}
