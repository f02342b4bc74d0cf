//! xdp-tutorial: the XDP tutorial's lessons as libbpf-rs skeletons, and the
//! `xdp-loader` command that loads, attaches and inspects them.
//!
//! One module per job:
//! - `cli`: command-line definitions
//! - `builtin`: the embedded lesson programs (and their skeletons)
//! - `object`: open an object, pick the program, load it, explain failures
//! - `loaded`: programs already in the kernel (`id:N`, a pinned program) that `load` attaches
//! - `elf`: why a file is not a BPF object (empty, not ELF, other CPU, truncated)
//! - `attach`: modes, force fallback, bpf_link, detach; a failed replace
//!   rolled back (`attach/rollback`), failures explained (`attach/explain`)
//! - `iface`: interface names/indexes and what XDP programs they run
//! - `pin`: bpffs and pin paths (dotted interface names escaped)
//! - `ownership`: the record of the pins this tool made, and the lock
//! - `leftovers`: pins and links a killed run left behind (`clean`)
//! - `signals`: hold Ctrl-C/SIGTERM while load changes the system
//! - `maps`: pin, reuse and unpin a program's maps
//! - `mapcmd`: `xdp-loader map`: entries read and written by their BTF types
//! - `redirect`: fill the packet03 redirect maps (the lesson's `xdp_prog_user`)
//! - `stats`: the live per-action counters reader
//! - `status`: the status table and JSON
//! - `others`: tc and flow dissector programs, which `status` mentions
//! - `testenv`: test environments (namespace + veth pair)
//! - `monitor`: count the kernel's xdp:* tracepoint events (tracing01/02)
//! - `trace`: read bpf_printk lines from the trace pipe (tracing03)
//! - `capture`: packets to lines and a pcap file, by its own program or around a running one (tracing04, xdpdump)
//! - `tracefs`, `fsmount`: finding and mounting tracefs (and bpffs)
//! - `libbpf_log`: capture libbpf's messages (verifier log, kernel errors)
//! - `verifier_hints`: what the verifier's packet-access refusals mean (experiment01)
//! - `error`: exit codes and the `Error:`/`Hint:` shape
//! - `numbers`: the parsers of numeric options (seconds, counts)
//! - `privilege`: the capabilities each command needs (CapEff, not euid 0)
//! - `bench`: `xdp-loader bench`, the measurements behind README's Performance
//! - `netlink`: a netlink socket, a request and its replies, attributes
//! - `dispatcher`: several programs per interface, libxdp's protocol
//! - `multiprog`: `load`/`unload` with several programs on one interface
//! - `features`: what the running kernel can do, probed by trying (and asked by the other commands)
//! - `check_user`: grades the lessons' user-space assignments (a student's
//!   program run against a private network, compared with the kernel's state)
//! - `afxdp`: an AF_XDP socket (UMEM, rings) fed by an XSKMAP program (advanced03)
//! - `check`: grades a lesson's assignments on real traffic in a private environment

pub mod afxdp;
pub mod attach;
pub mod bench;
pub mod builtin;
pub mod capture;
pub mod check;
pub mod check_user;
pub mod cli;
pub mod commands;
pub mod compile;
pub mod dispatcher;
pub mod elf;
pub mod error;
pub mod features;
pub mod fsmount;
pub mod iface;
pub mod leftovers;
pub mod libbpf_log;
pub mod loaded;
pub mod mapcmd;
pub mod maps;
pub mod monitor;
pub mod multiprog;
pub mod netlink;
pub mod numbers;
pub mod object;
pub mod others;
pub mod ownership;
pub mod pin;
pub mod privilege;
pub mod redirect;
pub mod signals;
pub mod stats;
pub mod status;
pub mod testenv;
pub mod trace;
pub mod tracefs;
pub mod verifier_hints;

use cli::{Cli, Command};

/// Runs one parsed command.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Load(args) => commands::load(args),
        Command::Unload(args) => commands::unload(args),
        Command::Status(args) => {
            privilege::require("xdp-loader status", privilege::BPF)?;
            status::run(args)
        }
        Command::List => commands::list(),
        Command::Stats(args) => stats::run(args),
        Command::Pin(args) => maps::pin_command(args),
        Command::Unpin(args) => maps::unpin_command(args),
        Command::Clean(args) => commands::clean(args),
        Command::Redirect(args) => redirect::run(args),
        Command::Testenv(args) => testenv::run(&args.command),
        Command::Bench(args) => bench::run(args),
        Command::Monitor(args) => monitor::run(args),
        Command::Trace(args) => trace::run(args),
        Command::Capture(args) => capture::run(args),
        Command::Map(args) => mapcmd::run(&args.command),
        Command::Features(args) => features::run(args),
        Command::Build(args) => compile::run(args, cli.verbose > 0),
        Command::Afxdp(args) => afxdp::run(args),
        Command::Check(args) => check::run(args),
    }
}
