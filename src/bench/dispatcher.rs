//! Per-packet cost of several programs on one interface: the counting
//! program xdp_stats1_func run alone, behind our dispatcher and behind
//! libxdp's (xdp-tools' `xdp-loader`), with 1, 2 and 5 copies of it.
//!
//! Every dispatcher sits on a veth pair of its own; BPF_PROG_TEST_RUN on
//! the dispatcher program runs the whole chain (each copy returns
//! XDP_PASS and chains on it, so every one runs). As in `dataplane`, each
//! number is a median of calls, and every round times all of them back to
//! back, so a busy moment of the machine hits every side alike.
//! Ours and libxdp's run the same component object, on the same frame.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::Command;

use super::frames;
use super::programs::{self, LoadedSubject, Subject, XDP_PASS};
use super::table::Row;
use super::veth::VethPair;
use super::{check_interrupted, median};
use crate::cli::Mode;
use crate::dispatcher::{self, Change, Request, Seen};
use crate::error::{Exit, Failure};
use crate::iface::{self, Interface};

/// Each contender is timed this many times in each position of a round.
const ROTATIONS: usize = 2;
const COUNTS: [usize; 3] = [1, 2, 5];
const COMPONENT: &str = "xdp_stats1_func";
/// Debian's xdp-tools; the full path, as this binary is `xdp-loader` too.
const LIBXDP_LOADER: &str = "/usr/sbin/xdp-loader";

/// Whose dispatcher runs the components.
#[derive(Clone, Copy, PartialEq)]
enum Owner {
    Ours,
    Libxdp,
}

/// One dispatcher with `count` components on its own veth pair. Dropping
/// it removes the dispatcher's pins, then the pair (which detaches it).
struct Chain {
    owner: Owner,
    count: usize,
    prog: OwnedFd,
    _pins: PinSweep,
    _pair: VethPair,
}

/// The frame size of every row.
const SIZE: usize = 64;

/// The rows: the component alone, then ours and libxdp's per count.
pub fn measure(repeat: u32) -> Result<Vec<Row>, Failure> {
    dispatcher::require_trampolines()?;
    // Without bpffs libxdp cannot pin a dispatcher and attaches the
    // program directly instead: there would be nothing to compare.
    crate::pin::ensure_bpffs()?;
    let subject = programs::find(COMPONENT)?;
    let frame = frames::build(subject.frame, SIZE);
    let alone = LoadedSubject::load(subject)?;
    let object = ObjectFile::write(subject)?;
    let mut chains = Vec::new();
    for count in COUNTS {
        check_interrupted()?;
        chains.push(Chain::libxdp(&object, count)?);
        chains.push(Chain::ours(subject, count)?);
    }

    // Index 0 is the program alone, then one per chain.
    let mut timed = vec![(alone.fd(), COMPONENT.to_string())];
    timed.extend(chains.iter().map(|c| (c.prog.as_fd(), c.label())));
    let mut samples = vec![Vec::new(); timed.len()];
    // Each round starts one further along: every contender is timed in
    // every position (first after a pause, right after a heavy one, ...).
    for round in 0..ROTATIONS * timed.len() {
        check_interrupted()?;
        for i in (0..timed.len()).map(|k| (k + round) % timed.len()) {
            let (fd, label) = &timed[i];
            samples[i].push(per_run(*fd, &frame, repeat, label)?);
        }
    }
    let ns: Vec<f64> = samples.iter().map(|s| median(s)).collect();
    let (alone_ns, ns) = (ns[0], &ns[1..]);
    Ok(rows(subject, alone_ns, &chains, ns))
}

fn rows(subject: &Subject, alone_ns: f64, chains: &[Chain], ns: &[f64]) -> Vec<Row> {
    let frame = format!("{SIZE} B {}", subject.frame.describe());
    let mut rows = vec![Row::new(
        "dispatcher",
        format!("{COMPONENT} alone ({frame})"),
        alone_ns,
        "ns/pkt",
    )
    .shown(format!("{alone_ns:.1} ns/pkt"))
    .note("BPF_PROG_TEST_RUN of the program itself")];
    let libxdp_ns = |count: usize| {
        chains
            .iter()
            .zip(ns)
            .find(|(c, _)| c.owner == Owner::Libxdp && c.count == count)
            .map(|(_, ns)| *ns)
            .expect("libxdp measured for every count")
    };
    for (chain, &ns) in chains.iter().zip(ns) {
        let alone_times = ns / (alone_ns * chain.count as f64);
        let alone_ref = format!("{} x alone", chain.count);
        let row =
            Row::new("dispatcher", chain.label(), ns, "ns/pkt").shown(format!("{ns:.1} ns/pkt"));
        rows.push(match chain.owner {
            Owner::Ours => {
                let versus = ns / libxdp_ns(chain.count);
                row.versus(format!("libxdp, {}", chain.count), versus)
                    .note(format!(
                        "{alone_times:.2}x {alone_ref}; target <= 1.00x libxdp: {}",
                        if versus <= 1.0 { "met" } else { "NOT met" }
                    ))
            }
            Owner::Libxdp => row
                .versus(alone_ref, alone_times)
                .note(format!("{LIBXDP_LOADER} (xdp-tools)")),
        });
    }
    rows
}

/// The kernel's mean ns per run of `prog`, checked to end in XDP_PASS.
fn per_run(
    prog: std::os::fd::BorrowedFd,
    frame: &[u8],
    repeat: u32,
    what: &str,
) -> Result<f64, Failure> {
    let run = super::test_run::repeat(prog, frame, repeat).map_err(|e| {
        Failure::new(
            Exit::Fail,
            format!("BPF_PROG_TEST_RUN of {what} failed: {e}"),
        )
    })?;
    if run.verdict != XDP_PASS {
        return Err(Failure::new(
            Exit::Fail,
            format!(
                "{what} returned verdict {}, expected XDP_PASS: the benchmark would time the wrong path",
                run.verdict
            ),
        ));
    }
    Ok(f64::from(run.ns_per_run))
}

impl Chain {
    fn label(&self) -> String {
        let who = match self.owner {
            Owner::Ours => "our dispatcher",
            Owner::Libxdp => "libxdp dispatcher",
        };
        let s = if self.count == 1 { "" } else { "s" };
        format!("{who}, {} program{s}", self.count)
    }

    fn ours(subject: &Subject, count: usize) -> Result<Chain, Failure> {
        let (pair, pins, iface) = Chain::pair(Owner::Ours, count)?;
        let request = Request {
            file: subject.object.to_string(),
            prog_name: Some(subject.program.to_string()),
            section: None,
            priority: None,
            actions: None,
        };
        dispatcher::change(&Change {
            iface: &iface,
            mode: Mode::Native,
            add: &vec![request; count],
            remove: &[],
            force: false,
        })?;
        Chain::found(Owner::Ours, count, &iface, pins, pair)
    }

    fn libxdp(object: &ObjectFile, count: usize) -> Result<Chain, Failure> {
        let (pair, pins, iface) = Chain::pair(Owner::Libxdp, count)?;
        let file = object.path.to_string_lossy();
        let mut args = vec!["load", "-m", "native", iface.name.as_str()];
        args.extend(std::iter::repeat_n(file.as_ref(), count));
        let out = Command::new(LIBXDP_LOADER)
            .args(&args)
            .output()
            .map_err(|e| {
                Failure::new(Exit::Fail, format!("cannot run {LIBXDP_LOADER}: {e}"))
                    .hint("apt-get install xdp-tools")
            })?;
        if !out.status.success() {
            return Err(Failure::new(
                Exit::Fail,
                format!(
                    "`{LIBXDP_LOADER} {}` failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
        Chain::found(Owner::Libxdp, count, &iface, pins, pair)
    }

    /// A veth pair of its own (tag o1, x5, ...), swept of dispatcher pins
    /// on the way out.
    fn pair(owner: Owner, count: usize) -> Result<(VethPair, PinSweep, Interface), Failure> {
        let tag = match owner {
            Owner::Ours => format!("o{count}"),
            Owner::Libxdp => format!("x{count}"),
        };
        let pair = VethPair::create(&tag)?;
        let iface = iface::resolve(&pair.name)?;
        let pins = PinSweep {
            ifindex: iface.index,
        };
        Ok((pair, pins, iface))
    }

    /// The dispatcher now on `iface`, checked to hold `count` programs.
    fn found(
        owner: Owner,
        count: usize,
        iface: &Interface,
        pins: PinSweep,
        pair: VethPair,
    ) -> Result<Chain, Failure> {
        let found = match dispatcher::current(iface)? {
            Some((_, Seen::Dispatcher(found))) => found,
            _ => {
                return Err(Failure::new(
                    Exit::Fail,
                    format!("no dispatcher found on {} after loading", iface.name),
                )
                .hint("libxdp attaches a program directly where it cannot use a dispatcher"))
            }
        };
        if found.components.len() != count {
            return Err(Failure::new(
                Exit::Fail,
                format!(
                    "the dispatcher on {} holds {} programs, expected {count}",
                    iface.name,
                    found.components.len()
                ),
            ));
        }
        Ok(Chain {
            owner,
            count,
            prog: found.fd,
            _pins: pins,
            _pair: pair,
        })
    }
}

/// Removes `/sys/fs/bpf/xdp/dispatch-IFINDEX-*` on drop: the pins of any
/// dispatcher on our own veth (its ifindex is ours while the pair exists).
struct PinSweep {
    ifindex: u32,
}

impl Drop for PinSweep {
    fn drop(&mut self) {
        let prefix = format!("dispatch-{}-", self.ifindex);
        let Ok(entries) = std::fs::read_dir(dispatcher::pins::root()) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                dispatcher::pins::remove_all(&entry.path());
            }
        }
    }
}

/// The component's built-in object, byte for byte, for xdp-tools to load;
/// removed on drop.
struct ObjectFile {
    dir: PathBuf,
    path: PathBuf,
}

impl ObjectFile {
    fn write(subject: &Subject) -> Result<ObjectFile, Failure> {
        let dir = std::env::temp_dir().join(format!("xdp-bench-{}-d", std::process::id()));
        let file = ObjectFile {
            path: dir.join(format!("{}.bpf.o", subject.object)),
            dir,
        };
        let builtin = crate::builtin::find(subject.object).expect("bench subjects are built-ins");
        std::fs::create_dir_all(&file.dir)
            .and_then(|()| std::fs::write(&file.path, builtin.object))
            .map_err(|e| {
                Failure::new(
                    Exit::Fail,
                    format!("cannot write {}: {e}", file.path.display()),
                )
            })?;
        Ok(file)
    }
}

impl Drop for ObjectFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
