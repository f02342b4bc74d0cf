//! Why an attach or detach failed, in words: the kernel's errno (and its
//! own netlink message, when it gives one) turned into one `Error:` line
//! and a `Hint:` that says what to do.

use super::{conflicts, Request};
use crate::cli::Mode;
use crate::error::{errno_name, errno_text, Exit, Failure, ROOT_HINT};
use crate::iface::{self, describe, mode_name, Attached, Interface};
use crate::libbpf_log;

/// Why an attach step failed.
#[derive(Debug)]
pub enum AttachError {
    /// The kernel said no; `explain` turns this into a Failure with a hint.
    Kernel {
        errno: i32,
        call: &'static str,
        kernel_message: Option<String>,
    },
    /// Already explained.
    Reported(Failure),
}

impl AttachError {
    /// A few words for a line that is not the main error.
    pub(super) fn short(&self) -> String {
        match self {
            AttachError::Kernel { errno, call, .. } => {
                format!("{}, from {call}", errno_text(*errno))
            }
            AttachError::Reported(failure) => failure.message.clone(),
        }
    }
}

pub(super) fn check(ret: i32, call: &'static str) -> Result<(), AttachError> {
    if ret >= 0 {
        return Ok(());
    }
    Err(AttachError::Kernel {
        errno: -ret,
        call,
        kernel_message: libbpf_log::kernel_message(&libbpf_log::take()),
    })
}

/// Turns a refused attach into a one-line error and an actionable hint.
pub(super) fn explain(req: &Request, err: AttachError, before: &[Attached]) -> Failure {
    let (errno, call, kernel_message) = match err {
        AttachError::Reported(failure) => return failure,
        AttachError::Kernel {
            errno,
            call,
            kernel_message,
        } => (errno, call, kernel_message),
    };
    let ifname = &req.iface.name;
    let mode = mode_name(req.mode);
    let kernel_says = kernel_message.iter().map(|m| format!("kernel says: {m}"));
    // A program attached by someone else after we looked (a racing load)
    // is found by looking again.
    let now = match errno {
        libc::EBUSY | libc::EEXIST => iface::attached(req.iface.index).unwrap_or_default(),
        _ => Vec::new(),
    };
    let holder = before
        .iter()
        .chain(&now)
        .find(|a| conflicts(req.mode, a.mode));
    let hw_refused = req.mode == Mode::Hw && matches!(errno, libc::EINVAL | libc::EOPNOTSUPP);
    // netlink brings the driver's words ("... MTU ..."); a bpf_link has no
    // such channel and gets only the errno veth and others use: ERANGE.
    let mtu_refused = kernel_message.as_deref().is_some_and(|m| m.contains("MTU"))
        || (errno == libc::ERANGE && req.mode != Mode::Skb);

    let failure = match holder {
        Some(holder) if matches!(errno, libc::EBUSY | libc::EEXIST) => {
            let mut f = Failure::new(
                Exit::Xdp,
                format!(
                    "{ifname} already has an XDP program attached: {}",
                    describe(holder)
                ),
            );
            if holder.mode != req.mode && req.mode != Mode::Unspecified {
                f = f.details([format!(
                "native and skb programs cannot be attached at the same time (you asked for {mode})"
            )]);
            }
            f.hint(format!(
                "use --force to replace it, or remove it first: xdp-loader unload {ifname}"
            ))
        }
        _ if hw_refused => Failure::new(
            Exit::Xdp,
            format!("{ifname} cannot offload XDP programs to hardware (-m hw)"),
        )
        .hint("only offload-capable NICs support hw mode: use -m native, or -m skb"),
        _ if errno == libc::EOPNOTSUPP => Failure::new(
            Exit::Xdp,
            format!("{ifname} does not support XDP in {mode} mode"),
        )
        .hint("use -m skb (generic XDP works on every device) or -m unspecified"),
        _ if mtu_refused => Failure::new(
            Exit::Xdp,
            format!(
                "the MTU of {ifname}{} is too large for {mode} XDP",
                device_mtu(ifname).map_or(String::new(), |mtu| format!(" ({mtu})"))
            ),
        )
        .hint(format!(
            "a plain XDP program needs each frame in one page: load a multi-buffer program \
                 instead (SEC(\"xdp.frags\"), Linux 5.18+, e.g. xdp_tailgrow -n xdp_frags_count), \
                 lower the MTU (ip link set dev {ifname} mtu 1500, and its veth peer too), or use -m skb"
        )),
        _ if matches!(errno, libc::EPERM | libc::EACCES) => Failure::new(
            Exit::Xdp,
            format!("not allowed to attach XDP programs to {ifname}"),
        )
        .hint(ROOT_HINT),
        _ => Failure::new(
            Exit::Xdp,
            format!(
                "cannot attach to {ifname} in {mode} mode: {} ({}, from {call})",
                errno_text(errno),
                errno_name(errno)
            ),
        ),
    };
    failure.details(kernel_says)
}

/// The device's MTU, for the message (None if sysfs does not say).
fn device_mtu(ifname: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{ifname}/mtu"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Turns a failed detach into a Failure (used by `unload`).
pub fn explain_detach(iface: &Interface, attached: &Attached, err: AttachError) -> Failure {
    match err {
        AttachError::Reported(failure) => failure,
        AttachError::Kernel {
            errno,
            call,
            kernel_message,
        } => {
            let failure = Failure::new(
                Exit::Xdp,
                format!(
                    "cannot detach {} from {}: {} ({call})",
                    describe(attached),
                    iface.name,
                    errno_text(errno)
                ),
            )
            .details(kernel_message.map(|m| format!("kernel says: {m}")));
            match errno {
                libc::EEXIST => {
                    failure.hint("another program was attached meanwhile; run `xdp-loader status`")
                }
                libc::EPERM | libc::EACCES => failure.hint(ROOT_HINT),
                _ => failure,
            }
        }
    }
}
