//! `xdp-loader afxdp IFNAME`: packets in user space through an AF_XDP
//! socket (the C tutorial's advanced03 `af_xdp_user`).
//!
//! An XDP program redirects frames into an XSKMAP; the socket in that map
//! receives them into its UMEM without an skb. Written on libc (no AF_XDP
//! crate): the steps stay visible, which is the point of the lesson.
//!
//! - `mapping`: mmap'd memory unmapped on drop
//! - `umem`: the frame area and its free list
//! - `ring`: one producer/consumer ring shared with the kernel
//! - `socket`: the socket, its rings, bind (and why bind refused)
//! - `port`: one batch of receive / reply / complete
//! - `session`: program + socket + attachment, set up and torn down in order
//! - `echo`: ICMPv6 echo request -> reply, in place (assignment 3)
//! - `rates`: the lines printed every 2 s
//! - `driver`: the device's driver name, for the zero-copy refusal
//! - `check`: the lesson's assignments checked (for `xdp-loader check`)
//!
//! The program is attached through a bpf_link that is not pinned: it comes
//! off when the command ends, however it ends (as `capture`'s).

pub mod check;
mod driver;
pub mod echo;
mod mapping;
mod port;
pub mod rates;
mod ring;
mod session;
mod socket;
mod umem;

use std::os::fd::{AsFd, AsRawFd};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use libbpf_rs::{MapCore, MapFlags};

use crate::attach;
use crate::cli::AfxdpArgs;
use crate::commands::require_root;
use crate::error::{Exit, Failure};
use crate::features::{self, Feature};
use crate::iface::{self, mode_name, Interface};
use crate::object::{Loaded, Source};
use crate::signals;
pub use port::{Port, Totals};
use rates::Verdicts;
pub use session::{Session, Setup};
pub use socket::Binding;

/// The built-in object and its default program.
pub const BUILTIN: &str = "xdp_afxdp";
pub const DEFAULT_PROGRAM: &str = "xdp_sock_prog";
/// The XSKMAP every AF_XDP object must have (the C tutorial's name).
pub const XSKS_MAP: &str = "xsks_map";
/// The built-in's counters: [0] to the socket, [1] to the stack.
pub const COUNTERS_MAP: &str = "afxdp_counters";

const REPORT_EVERY: Duration = Duration::from_secs(2);
const POLL_MS: i32 = 100;

pub fn run(args: &AfxdpArgs) -> anyhow::Result<()> {
    require_root("xdp-loader afxdp")?;
    let iface = iface::resolve(args.iface.name())?;
    features::require(Feature::XdpLink, "xdp-loader afxdp")?;
    attach::refuse_if_busy(&iface, "afxdp", "or run afxdp on another interface")?;
    let stop = signals::stop_requests()?;

    let file = args.file.as_ref().or(args.filename.as_ref());
    let session = Session::open(&Setup {
        iface: &iface,
        source: Source::resolve(file.map_or(BUILTIN, String::as_str))?,
        prog_name: match (&args.prog_name, file) {
            (Some(name), _) => Some(name.as_str()),
            (None, None) => Some(DEFAULT_PROGRAM),
            (None, Some(_)) => None,
        },
        queue: args.queue,
        binding: match (args.copy, args.zero_copy) {
            (true, _) => Binding::Copy,
            (_, true) => Binding::ZeroCopy,
            _ => Binding::Auto,
        },
        mode: args.mode,
    })?;
    let Session {
        link,
        mut port,
        loaded,
    } = session;
    for note in &loaded.notes {
        eprintln!("Note: {note}");
    }
    eprintln!(
        "Ready: AF_XDP socket on {} queue {} ({} mode), XDP program {} (id {}) in {} mode; \
         answering ICMPv6 echo requests (Ctrl-C to stop)",
        iface.name,
        args.queue,
        if port.socket.zero_copy {
            "zero-copy"
        } else {
            "copy"
        },
        loaded.program,
        loaded.program_id().unwrap_or_default(),
        mode_name(args.mode)
    );
    let gone = serve(&mut port, &loaded, &iface, args, &stop);
    // The program comes off first, so no frame is redirected to a socket
    // that is closing; the socket, its rings and the UMEM follow.
    drop(link);
    let verdicts = read_verdicts(&loaded);
    eprintln!(
        "Stopped: AF_XDP RX {} packets, TX {} packets{}{}; XDP program detached from {}",
        port.rx.packets,
        port.tx.packets,
        verdicts.map_or(String::new(), |v| format!(
            "; XDP: {} to socket, {} to stack",
            v.to_socket, v.to_stack
        )),
        port.socket.drops().map_or(String::new(), |d| format!(
            "; kernel dropped {} (RX ring full {}, fill ring empty {})",
            d.rx_dropped + d.rx_ring_full,
            d.rx_ring_full,
            d.rx_fill_ring_empty_descs
        )),
        iface.name
    );
    if gone {
        return Err(Failure::new(Exit::Fail, format!("interface {} is gone", iface.name)).into());
    }
    Ok(())
}

/// Receives, answers and reports until Ctrl-C. Returns true if the
/// interface went away meanwhile.
fn serve(
    port: &mut Port,
    loaded: &Loaded,
    iface: &Interface,
    args: &AfxdpArgs,
    stop: &Receiver<()>,
) -> bool {
    let mut since = Instant::now();
    let (mut rx_before, mut tx_before) = (port.rx, port.tx);
    loop {
        if args.poll {
            wait_for_packets(port);
        }
        port.service(echo::reply_in_place);
        if stop.try_recv().is_ok() {
            return false;
        }
        let period = since.elapsed();
        if period < REPORT_EVERY {
            continue;
        }
        if iface::name_of(iface.index).as_deref() != Some(iface.name.as_str()) {
            return true;
        }
        if !args.quiet {
            let seconds = period.as_secs_f64();
            println!("{}", rates::line("AF_XDP RX:", port.rx, rx_before, seconds));
            println!("{}", rates::line("       TX:", port.tx, tx_before, seconds));
            if let Some(v) = read_verdicts(loaded) {
                println!("{}", rates::verdict_line(v));
            }
            println!();
        }
        (since, rx_before, tx_before) = (Instant::now(), port.rx, port.tx);
    }
}

/// Sleeps until the RX ring has something (or a short timeout, so Ctrl-C
/// and the reports are not held up).
fn wait_for_packets(port: &Port) {
    let mut fds = [libc::pollfd {
        fd: port.socket.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd; EINTR (Ctrl-C) just returns early.
    unsafe { libc::poll(fds.as_mut_ptr(), 1, POLL_MS) };
}

/// The program's afxdp_counters summed over CPUs (None: the object has
/// no such map, e.g. a student's own program).
pub fn read_verdicts(loaded: &Loaded) -> Option<Verdicts> {
    let map = loaded.object.maps().find(|m| m.name() == COUNTERS_MAP)?;
    let slot = |key: u32| -> Option<u64> {
        let per_cpu = map
            .lookup_percpu(&key.to_ne_bytes(), MapFlags::ANY)
            .ok()??;
        Some(
            per_cpu
                .iter()
                .filter_map(|v| v.get(..8))
                .map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
                .sum(),
        )
    };
    Some(Verdicts {
        to_socket: slot(0)?,
        to_stack: slot(1)?,
    })
}
