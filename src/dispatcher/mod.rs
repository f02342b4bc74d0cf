//! Several XDP programs on one interface, through a dispatcher that
//! follows libxdp's protocol (lib/libxdp/protocol.org in xdp-tools), so
//! this loader and xdp-tools each see, extend and shrink the other's.
//!
//! Every change builds a whole new dispatcher with the new set of
//! programs, pins it, and swaps it in with one netlink call
//! (`XDP_FLAGS_REPLACE` against the old one, or `UPDATE_IF_NOEXIST` on an
//! empty interface); the old one's pins go last. Packets see either the
//! old set or the new one, never a half-built one.
//!
//! - `config`: the configuration block (read v1-v3, write v2)
//! - `run_config`: priority and chain-call actions from `.xdp_run_config`
//! - `pins`: the pin layout and the lock, as libxdp
//! - `discover`: recognising a dispatcher and reading its slots
//! - `component`: loading a program as an extension for a slot
//! - `assemble`: ordering and building a new dispatcher
//! - `stale`: pin dirs of dispatchers that no longer run (for `clean`)

pub mod assemble;
pub mod component;
pub mod config;
pub mod discover;
pub mod pins;
pub mod run_config;
pub mod stale;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use crate::attach::mode_flags;
use crate::cli::Mode;
use crate::error::{errno_text, Exit, Failure};
use crate::features::{self, Feature};
use crate::iface::{self, describe, Attached, Interface};
use assemble::{Built, Member};
pub use component::Request;
pub use discover::{inspect, Component, Found, Seen};

/// The refusal on kernels without BPF trampolines (freplace).
pub const NO_TRAMPOLINES: &str =
    "this kernel cannot attach several XDP programs to one interface: BPF trampolines unavailable";

/// Does this kernel let a dispatcher work? Asked before any change.
pub fn require_trampolines() -> Result<(), Failure> {
    if features::has(Feature::Freplace) == Some(false) {
        return Err(Failure::new(Exit::Xdp, NO_TRAMPOLINES).hint(
            "load one program at a time (it attaches directly), or use Linux 5.10+ with \
             BPF trampolines (`xdp-loader features` shows what this kernel has)",
        ));
    }
    Ok(())
}

/// What to change on one interface.
pub struct Change<'a> {
    pub iface: &'a Interface,
    /// Mode for a new dispatcher (an existing one keeps its own).
    pub mode: Mode,
    pub add: &'a [Request],
    /// Program ids of components to take out.
    pub remove: &'a [u32],
    /// May replace a single program that is not a dispatcher (`--force`).
    pub force: bool,
}

/// What a change left on the interface.
pub struct Outcome {
    /// The new dispatcher (None: the last component went, so did it).
    pub dispatcher: Option<(u32, Mode)>,
    pub slots: Vec<SlotInfo>,
    /// What stopped running: components taken out, a program replaced.
    pub removed: Vec<String>,
    pub notes: Vec<String>,
}

pub struct SlotInfo {
    pub name: String,
    pub id: u32,
    pub run: run_config::RunConfig,
}

/// How often a swap is retried when the interface changed meanwhile
/// (another loader got in between reading and swapping).
const ATTEMPTS: usize = 3;

pub fn change(change: &Change) -> Result<Outcome, Failure> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match attempt(change) {
            Err(Retry::Changed(why)) => last = Some(why),
            Err(Retry::No(failure)) => return Err(failure),
            Ok(outcome) => return Ok(outcome),
        }
    }
    Err(Failure::new(
        Exit::Xdp,
        format!(
            "{}'s XDP program kept changing while the dispatcher was rebuilt: {}",
            change.iface.name,
            last.unwrap_or_default()
        ),
    )
    .hint("another loader is changing this interface; try again when it is done"))
}

enum Retry {
    Changed(String),
    No(Failure),
}

impl From<Failure> for Retry {
    fn from(f: Failure) -> Self {
        Retry::No(f)
    }
}

/// What runs on the interface now, as far as a dispatcher change cares.
enum Current {
    Empty,
    Dispatcher(Found, Mode),
    Plain(Attached),
}

/// The program in the native/skb slot (a dispatcher never goes to hw).
pub fn current(iface: &Interface) -> Result<Option<(Attached, Seen)>, Failure> {
    let Some(attached) = iface::attached(iface.index)?
        .into_iter()
        .find(|a| a.mode != Mode::Hw)
    else {
        return Ok(None);
    };
    let seen = inspect(iface.index, attached.prog_id)?;
    Ok(Some((attached, seen)))
}

fn attempt(change: &Change) -> Result<Outcome, Retry> {
    let _lock = pins::lock()?;
    let iface = change.iface;
    let now = match current(iface)? {
        None => Current::Empty,
        Some((a, Seen::Dispatcher(found))) => {
            if a.link_id.is_some() {
                return Err(linked(iface, &a).into());
            }
            Current::Dispatcher(found, a.mode)
        }
        Some((a, Seen::Plain)) => Current::Plain(a),
        Some((_, Seen::Unusable { id, why })) => {
            return Err(Failure::new(
                Exit::Xdp,
                format!("the dispatcher (id {id}) on {} cannot be changed: {why}", iface.name),
            )
            .hint("take everything off with `xdp-loader unload IFNAME --all` (or change it with the newer tool that made it)")
            .into())
        }
    };
    // After the checks above: a dispatcher we must not touch is named
    // as such even on a kernel that could not change it anyway.
    require_trampolines()?;

    let mut removed = Vec::new();
    let mut members = Vec::new();
    let (old_fd, old_dir, mode) = match &now {
        Current::Empty => (None, None, change.mode),
        Current::Plain(a) => {
            if !change.force || a.link_id.is_some() {
                return Err(plain_in_the_way(iface, a).into());
            }
            removed.push(describe(a));
            (Some(discover::prog_fd_by_id(a.prog_id)?), None, a.mode)
        }
        Current::Dispatcher(found, mode) => (
            Some(
                found
                    .fd
                    .try_clone()
                    .map_err(|e| Failure::new(Exit::Fail, format!("dup: {e}")))?,
            ),
            Some(found.pin_dir.clone()),
            *mode,
        ),
    };
    if let Current::Dispatcher(found, _) = now {
        for id in change.remove {
            if !found.components.iter().any(|c| c.id == *id) {
                return Err(not_a_component(iface, *id, &found).into());
            }
        }
        for component in found.components {
            if change.remove.contains(&component.id) {
                removed.push(format!("{} (id {})", component.name, component.id));
            } else {
                members.push(Member::Kept(component));
            }
        }
    }
    let mut notes = Vec::new();
    for request in change.add {
        let candidate = component::Candidate::open(request)?;
        notes.extend(candidate.notes.iter().cloned());
        members.push(Member::New(candidate));
    }

    if members.is_empty() {
        let old = old_fd.expect("only a removal empties a dispatcher");
        swap(iface, None, Some(old.as_fd()), mode).map_err(|e| changed_or(iface, e, true))?;
        if let Some(dir) = old_dir {
            pins::remove_all(&dir);
        }
        return Ok(Outcome {
            dispatcher: None,
            slots: Vec::new(),
            removed,
            notes,
        });
    }

    assemble::order(&mut members);
    let built = assemble::build(members)?;
    let new_dir = pins::dir(iface.index, built.id);
    let slot_fds: Vec<_> = built.slots.iter().map(|s| (&s.prog, &s.link)).collect();
    pins::pin_all(&new_dir, &slot_fds)?;
    if let Err(errno) = swap(
        iface,
        Some(built.fd()),
        old_fd.as_ref().map(|f| f.as_fd()),
        mode,
    ) {
        pins::remove_all(&new_dir);
        return Err(changed_or(iface, errno, old_fd.is_some()));
    }
    if let Some(dir) = old_dir {
        pins::remove_all(&dir);
    }
    Ok(outcome(&built, mode, removed, notes))
}

fn outcome(built: &Built, mode: Mode, removed: Vec<String>, notes: Vec<String>) -> Outcome {
    let slots = built
        .slots
        .iter()
        .map(|s| SlotInfo {
            name: s.name.clone(),
            id: discover::prog_info(&s.prog).map(|i| i.id).unwrap_or(0),
            run: s.run,
        })
        .collect();
    Outcome {
        dispatcher: Some((built.id, mode)),
        slots,
        removed,
        notes,
    }
}

/// One netlink call: `new` in place of `old` (checked by the kernel), or
/// on an empty interface only if it is still empty; `new` None detaches.
fn swap(
    iface: &Interface,
    new: Option<BorrowedFd>,
    old: Option<BorrowedFd>,
    mode: Mode,
) -> Result<(), i32> {
    let mut flags = mode_flags(mode);
    let mut opts = libbpf_sys::bpf_xdp_attach_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_xdp_attach_opts>() as _,
        ..Default::default()
    };
    match old {
        Some(fd) => {
            flags |= libbpf_sys::XDP_FLAGS_REPLACE;
            opts.old_prog_fd = fd.as_raw_fd();
        }
        None => flags |= libbpf_sys::XDP_FLAGS_UPDATE_IF_NOEXIST,
    }
    let fd = new.map_or(-1, |f| f.as_raw_fd());
    // SAFETY: valid fds (or -1 to detach) and a sized opts struct.
    let ret = unsafe { libbpf_sys::bpf_xdp_attach(iface.index as i32, fd, flags, &opts) };
    if ret < 0 {
        return Err(-ret);
    }
    Ok(())
}

/// EEXIST (REPLACE: the old program is not there any more) and EBUSY
/// (NOEXIST: something arrived) mean another loader was quicker: retry.
fn changed_or(iface: &Interface, errno: i32, had_old: bool) -> Retry {
    let changed = (had_old && errno == libc::EEXIST) || (!had_old && errno == libc::EBUSY);
    if changed {
        return Retry::Changed(errno_text(errno));
    }
    let failure = Failure::new(
        Exit::Xdp,
        format!(
            "cannot attach the dispatcher to {}: {}",
            iface.name,
            errno_text(errno)
        ),
    );
    Retry::No(match errno {
        libc::EOPNOTSUPP => failure.hint("this driver has no native XDP: use -m skb"),
        _ => failure.hint("nothing was changed: the programs that ran before still run"),
    })
}

fn linked(iface: &Interface, a: &Attached) -> Failure {
    Failure::new(
        Exit::Xdp,
        format!(
            "{} runs {} through a bpf_link, which netlink cannot replace",
            iface.name,
            describe(a)
        ),
    )
    .hint("take it off with `xdp-loader unload IFNAME` first")
}

fn plain_in_the_way(iface: &Interface, a: &Attached) -> Failure {
    Failure::new(
        Exit::Xdp,
        format!(
            "{} already runs {}, which is not a dispatcher: adding programs would take it off",
            iface.name,
            describe(a)
        ),
    )
    .hint("replace it with --force (it stops running), or unload it first")
}

fn not_a_component(iface: &Interface, id: u32, found: &Found) -> Failure {
    Failure::new(
        Exit::Usage,
        format!(
            "program id {id} is not in the dispatcher (id {}) on {}; its programs:",
            found.id, iface.name
        ),
    )
    .details(
        found
            .components
            .iter()
            .map(|c| format!("{} (id {}, priority {})", c.name, c.id, c.run.priority)),
    )
    .hint("pick one of these with --id, or --all for every one")
}

/// `ids` (programs attached to `ifindex`) followed by the programs in
/// the slots of any dispatcher among them: what `map`, `pin` and `stats`
/// look through to find an interface's maps.
pub fn with_components(ifindex: u32, ids: Vec<u32>) -> Vec<u32> {
    let mut all = ids.clone();
    for id in ids {
        if let Ok(Seen::Dispatcher(found)) = inspect(ifindex, id) {
            all.extend(found.components.iter().map(|c| c.id));
        }
    }
    all
}
