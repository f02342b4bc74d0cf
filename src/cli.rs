//! Command-line definitions (clap derive). Parsing only: every command's
//! behaviour lives in its own module.
//!
//! Besides xdp-tools' `xdp-loader` syntax, the C tutorial's option names are
//! accepted (`--dev`, `--skb-mode`, `--progname`, `--filename`, ...), so
//! a student reading the tutorial's text can type what it shows.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "xdp-loader",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (xdp-tutorial in Rust, libbpf-rs; not the xdp-tools xdp-loader)"
    ),
    propagate_version = true,
    about = "Load, attach and inspect XDP programs: the XDP tutorial's loader in Rust",
    after_help = "Exit codes: 0 ok, 1 failure, 2 bad option or argument, \
                  30 XDP attach/detach failed, 40 BPF object open/load failed."
)]
pub struct Cli {
    /// -v: libbpf's messages and, when the verifier refuses a program, its
    /// whole log; -vv: libbpf's debug output too, and the verifier's log
    /// with every instruction's register state, even for programs it accepts.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load an XDP program from FILE (any BPF object) or a built-in, and attach it to IFNAME.
    Load(LoadArgs),
    /// Detach the XDP program(s) from IFNAME.
    Unload(UnloadArgs),
    /// Show the XDP programs attached to every interface (or one).
    Status(StatusArgs),
    /// List the built-in lesson programs.
    List,
    /// Live per-action packet and byte counters from a pinned xdp_stats_map.
    Stats(StatsArgs),
    /// Pin the maps of the program attached to IFNAME under /sys/fs/bpf/IFNAME/.
    Pin(PinArgs),
    /// Remove the map pins of the program attached to IFNAME.
    Unpin(PinArgs),
    /// Remove what interrupted runs left: map pins whose program is gone, link pins that attach nothing.
    Clean(CleanArgs),
    /// Point the redirect program on IFNAME (built-in xdp_redirect) at another interface (packet03).
    Redirect(RedirectArgs),
    /// Test environments: a network namespace joined to this one by a veth pair.
    Testenv(TestenvArgs),
    /// Measure the built-in programs, the loader and the stats reader (see README, Performance).
    Bench(BenchArgs),
    /// Count the kernel's xdp:* tracepoint events (aborts, redirects, devmap/cpumap batches) per interface and action.
    Monitor(MonitorArgs),
    /// Print bpf_printk() lines from the kernel's trace pipe, decoding the xdp_printk lesson's MACs.
    Trace(TraceArgs),
    /// Record the packets arriving on IFNAME (lines, a pcap file), around the XDP program running there with its verdict (as xdpdump).
    Capture(CaptureArgs),
    /// Read and write BPF maps: list, dump, lookup, update, delete; new-inner for map-in-map.
    Map(MapArgs),
    /// What this kernel can do (XDP link, trampolines, frags, ...), probed by trying; with IFNAME, the device's XDP features.
    Features(FeaturesArgs),
    /// Compile one BPF program (C) with clang, this project's headers and libbpf's: FILE.bpf.c -> FILE.bpf.o.
    Build(BuildArgs),
    /// Receive packets in user space through an AF_XDP socket (advanced03); answers ICMPv6 pings.
    Afxdp(AfxdpArgs),
    /// Grade a lesson's assignments on real traffic in a private test environment: PASS or FAIL each.
    Check(CheckArgs),
}

/// The XDP attach mode (where in the driver the program runs).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// In the driver (fastest; needs driver support, veth has it).
    Native,
    /// Generic XDP on the socket buffer: works on every device, slower.
    Skb,
    /// Offloaded to the NIC (only offload-capable hardware).
    Hw,
    /// Let the kernel choose native if the driver has it, else skb.
    Unspecified,
}

/// How the attachment is made, and so how it is owned.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachKind {
    /// Classic netlink attach, like `ip link set ... xdp` and the C tutorial.
    Netlink,
    /// A bpf_link, pinned under /sys/fs/bpf/xdp-loader/IFNAME/link.
    Link,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Interface, then one or more object FILEs or BUILTIN names (see
    /// `xdp-loader list`; several run together through a dispatcher), or a
    /// program already loaded: id:N, or the path where it is pinned on bpffs.
    #[arg(value_name = "IFNAME FILE|BUILTIN", num_args = 0..)]
    pub positional: Vec<String>,

    /// Interface (C tutorial spelling; same as the first argument).
    #[arg(short = 'd', long = "dev", value_name = "IFNAME")]
    pub dev: Option<String>,

    /// Object file (C tutorial spelling; same as the second argument).
    #[arg(long = "filename", value_name = "FILE")]
    pub filename: Option<String>,

    /// Attach mode.
    #[arg(short, long, value_enum, default_value_t = Mode::Native)]
    pub mode: Mode,

    /// Same as `-m skb`.
    #[arg(short = 'S', long = "skb-mode", conflicts_with_all = ["native_mode", "auto_mode", "offload_mode"])]
    pub skb_mode: bool,
    /// Same as `-m native`.
    #[arg(short = 'N', long = "native-mode", conflicts_with_all = ["auto_mode", "offload_mode"])]
    pub native_mode: bool,
    /// Same as `-m unspecified` (`-A` is the C tutorial's; xdp-tools'
    /// `-A` for actions is spelled out here: `--actions`).
    #[arg(short = 'A', long = "auto-mode", conflicts_with = "offload_mode")]
    pub auto_mode: bool,
    /// Same as `-m hw`.
    #[arg(long = "offload-mode")]
    pub offload_mode: bool,

    /// Replace a program that is already attached (in either mode).
    #[arg(short = 'F', long)]
    pub force: bool,

    /// Pick the program by ELF section name (e.g. `xdp`, or a legacy
    /// `xdp_foo`); with several files, once per file in order.
    #[arg(short, long)]
    pub section: Vec<String>,

    /// Pick the program by function name (default: the first XDP program);
    /// with several files, once per file in order.
    #[arg(short = 'n', long = "prog-name", alias = "progname")]
    pub prog_name: Vec<String>,

    /// Run priority in the dispatcher (lower runs first; default: the
    /// object's XDP_RUN_CONFIG, else 50).
    #[arg(short = 'P', long = "prio", value_name = "PRIO")]
    pub prio: Option<u32>,

    /// Verdicts after which the next program runs, e.g. `pass,drop`
    /// (default: the object's XDP_RUN_CONFIG, else pass).
    #[arg(long = "actions", value_name = "ACTIONS")]
    pub actions: Option<String>,

    /// Attach through a dispatcher even for one program, so more can join.
    #[arg(long)]
    pub multi: bool,

    /// Attach through netlink (default) or a pinned bpf_link.
    #[arg(long = "attach", value_enum, default_value_t = AttachKind::Netlink)]
    pub attach: AttachKind,

    /// Pin (and reuse) the object's maps here instead of /sys/fs/bpf/IFNAME (must be on bpffs).
    #[arg(short = 'p', long = "pin-path", value_name = "DIR")]
    pub pin_path: Option<PathBuf>,
}

impl LoadArgs {
    /// The mode after applying the tutorial's `--*-mode` aliases.
    pub fn effective_mode(&self) -> Mode {
        if self.skb_mode {
            Mode::Skb
        } else if self.native_mode {
            Mode::Native
        } else if self.auto_mode {
            Mode::Unspecified
        } else if self.offload_mode {
            Mode::Hw
        } else {
            self.mode
        }
    }

    /// (IFNAME, FILEs) from positionals and the `--dev`/`--filename` aliases.
    pub fn target(&self) -> Result<(String, Vec<String>), String> {
        let mut rest = self.positional.iter().cloned();
        let ifname = self.dev.clone().or_else(|| rest.next());
        let mut files: Vec<String> = self.filename.iter().cloned().collect();
        files.extend(rest);
        if self.prog_name.len() > files.len().max(1) || self.section.len() > files.len().max(1) {
            return Err("more -n/-s than files: give at most one of each per file".into());
        }
        match (ifname, files.is_empty()) {
            (Some(i), false) => Ok((i, files)),
            (None, _) => {
                Err("missing IFNAME: which interface should the program attach to?".into())
            }
            (Some(_), true) => {
                Err("missing FILE|BUILTIN: an object file, or a name from `xdp-loader list`".into())
            }
        }
    }
}

impl LoadArgs {
    /// `-n` for the file at `index` (a single `-n` applies to a single file).
    pub fn prog_name_at(&self, index: usize) -> Option<&str> {
        self.prog_name.get(index).map(String::as_str)
    }

    pub fn section_at(&self, index: usize) -> Option<&str> {
        self.section.get(index).map(String::as_str)
    }
}

/// The interface a command works on: `IFNAME`, or the C tutorial's
/// `-d/--dev IFNAME`.
#[derive(Args, Debug)]
pub struct IfnameArg {
    /// Interface to work on.
    #[arg(value_name = "IFNAME", required_unless_present = "dev")]
    pub ifname: Option<String>,

    /// Interface (C tutorial spelling).
    #[arg(
        short = 'd',
        long = "dev",
        value_name = "IFNAME",
        conflicts_with = "ifname"
    )]
    pub dev: Option<String>,
}

impl IfnameArg {
    pub fn name(&self) -> &str {
        self.dev
            .as_deref()
            .or(self.ifname.as_deref())
            .unwrap_or_default()
    }
}

#[derive(Args, Debug)]
pub struct UnloadArgs {
    #[command(flatten)]
    pub iface: IfnameArg,

    /// Only detach the program with this id (refuses if another is attached).
    #[arg(
        short = 'i',
        long,
        visible_short_alias = 'U',
        alias = "unload",
        conflicts_with = "all"
    )]
    pub id: Option<u32>,

    /// Detach every XDP program on the interface (all modes).
    #[arg(short, long, alias = "unload-all")]
    pub all: bool,

    /// Keep the program's map pins (by default unload removes them).
    #[arg(long)]
    pub keep_maps: bool,

    /// Where the maps were pinned, if not /sys/fs/bpf/IFNAME.
    #[arg(short = 'p', long = "pin-path", value_name = "DIR")]
    pub pin_path: Option<PathBuf>,
}

impl UnloadArgs {
    pub fn ifname(&self) -> &str {
        self.iface.name()
    }
}

#[derive(Args, Debug)]
pub struct CleanArgs {
    /// Only the leftovers of this interface (it need not exist any more).
    pub ifname: Option<String>,
}

#[derive(Args, Debug)]
pub struct PinArgs {
    /// Interface whose attached program's maps are (un)pinned.
    pub ifname: String,

    /// Pin directory (default /sys/fs/bpf/IFNAME; must be on bpffs).
    #[arg(short = 'p', long = "pin-path", value_name = "DIR")]
    pub pin_path: Option<PathBuf>,
}

/// The packet03 lesson's `xdp_prog_user`: fills the pinned redirect maps.
#[derive(Args, Debug)]
#[command(after_help = "Fills whichever of these maps are pinned for IFNAME: \
                  tx_port[0] = ifindex of --to (xdp_redirect_map_func); \
                  redirect_params[--src-mac] = --dest-mac (xdp_redirect_map_func); \
                  redirect_target[0] = {ifindex of --to, --dest-mac} (xdp_redirect_func). \
                  Load the program first: xdp-loader load IFNAME xdp_redirect -n xdp_redirect_map_func")]
pub struct RedirectArgs {
    /// Interface whose redirect program's maps are filled (where the frames
    /// arrive): IFNAME or -d/--dev IFNAME.
    #[command(flatten)]
    pub iface: IfnameArg,

    /// Interface the frames are sent out of.
    #[arg(
        short = 'r',
        long = "to",
        visible_alias = "redirect-dev",
        value_name = "IFNAME2"
    )]
    pub to: String,

    /// Forward the frames with this source MAC (needs --dest-mac), e.g. aa:bb:cc:00:11:22.
    #[arg(short = 'L', long, value_name = "MAC")]
    pub src_mac: Option<String>,

    /// New destination MAC of the forwarded frames.
    #[arg(short = 'R', long, value_name = "MAC")]
    pub dest_mac: Option<String>,

    /// Where the maps are pinned, if not /sys/fs/bpf/IFNAME.
    #[arg(short = 'p', long = "pin-path", value_name = "DIR")]
    pub pin_path: Option<PathBuf>,
}

impl RedirectArgs {
    pub fn ifname(&self) -> &str {
        self.iface.name()
    }
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Interface whose pinned xdp_stats_map is read (/sys/fs/bpf/IFNAME/xdp_stats_map).
    #[arg(value_name = "IFNAME", required_unless_present_any = ["dev", "map_id", "pin_path"])]
    pub ifname: Option<String>,

    /// Interface (C tutorial spelling).
    #[arg(
        short = 'd',
        long = "dev",
        value_name = "IFNAME",
        conflicts_with = "ifname"
    )]
    pub dev: Option<String>,

    /// Read the map pinned in this directory instead.
    #[arg(short = 'p', long = "pin-path", value_name = "DIR")]
    pub pin_path: Option<PathBuf>,

    /// Read the map with this kernel id instead of a pin.
    #[arg(long, conflicts_with = "pin_path")]
    pub map_id: Option<u32>,

    #[command(flatten)]
    pub sampling: Sampling,

    /// When the program, map or interface goes away, wait for it to come back instead of exiting.
    #[arg(long)]
    pub follow: bool,

    /// Print only the samples (no headers), like the C tutorial's --quiet.
    #[arg(short, long)]
    pub quiet: bool,
}

impl StatsArgs {
    pub fn ifname(&self) -> Option<&str> {
        self.dev.as_deref().or(self.ifname.as_deref())
    }
}

/// How often a live reader samples, and when it stops.
#[derive(Args, Debug, Clone, Copy)]
pub struct Sampling {
    /// Seconds between samples (0.001 to 86400).
    #[arg(short, long, default_value = "2", value_parser = crate::numbers::duration)]
    pub interval: Duration,

    /// Stop after this many samples (default: until Ctrl-C).
    #[arg(short, long, value_parser = crate::numbers::count)]
    pub count: Option<u64>,

    /// One JSON object per sample (schema in README).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// Your own tracepoint object (SEC("tracepoint/xdp/...") programs): attach them and print
    /// its maps each interval, as the C tutorial's trace_load_and_stats. Default: the built-in monitor.
    #[arg(value_name = "FILE.o")]
    pub object: Option<PathBuf>,

    #[command(flatten)]
    pub sampling: Sampling,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Stop after this many lines (default: until Ctrl-C).
    #[arg(short, long, value_parser = crate::numbers::count)]
    pub count: Option<u64>,

    /// Print the trace lines as the kernel wrote them, undecoded.
    #[arg(long)]
    pub raw: bool,

    /// Also print the lines already waiting in the buffer from before `trace` started.
    #[arg(long)]
    pub old: bool,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The C source of a BPF program (e.g. lessons/packet01/xdp_parser.bpf.c).
    #[arg(value_name = "FILE.bpf.c")]
    pub file: PathBuf,

    /// The object to write (default: FILE with .o for .c, next to it).
    #[arg(short, long, value_name = "FILE.o")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Options follow xdpdump's: -i, -w - (pcap to standard output), -x, -P, -D, \
                  --rx-capture, -p. On an interface that runs an XDP program, capture records \
                  each packet around that program (fentry/fexit, with its verdict) where the \
                  kernel has BPF trampolines."
)]
pub struct CaptureArgs {
    /// Interface to capture on.
    #[arg(value_name = "IFNAME", required_unless_present_any = ["interface", "list_interfaces"])]
    pub ifname: Option<String>,

    /// Interface to capture on (xdpdump and tcpdump spelling).
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFNAME",
        alias = "dev",
        short_alias = 'd',
        conflicts_with = "ifname"
    )]
    pub interface: Option<String>,

    /// List the interfaces and their XDP programs, and exit (as xdpdump -D).
    #[arg(short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,

    /// Write the packets to this pcap file (tcpdump -r, wireshark read it);
    /// `-` writes it to standard output (the packet lines then go to standard error).
    #[arg(
        short = 'w',
        long = "write",
        visible_alias = "filename",
        value_name = "FILE.pcap"
    )]
    pub write: Option<PathBuf>,

    /// Stop after this many packets (default: until Ctrl-C).
    #[arg(short, long, value_parser = crate::numbers::count)]
    pub count: Option<u64>,

    /// Bytes kept of each packet (the rest is counted, not copied).
    #[arg(short, long, alias = "snapshot-length", default_value_t = 65535, value_parser = clap::value_parser!(u32).range(14..=65535))]
    pub snaplen: u32,

    /// Attach mode of the capture program (when capture attaches its own).
    #[arg(short, long, alias = "load-xdp-mode", value_enum, default_value_t = Mode::Native)]
    pub mode: Mode,

    /// Accepted for xdpdump's command lines: capture always writes classic pcap.
    #[arg(long = "use-pcap", hide = true)]
    pub use_pcap: bool,

    /// No line per packet (only the final count).
    #[arg(short, long)]
    pub quiet: bool,

    /// Also print each packet's bytes in hex (and ASCII).
    #[arg(short = 'x', long = "hex")]
    pub hex: bool,

    /// Put the interface in promiscuous mode while capturing.
    #[arg(short = 'P', long = "promiscuous-mode")]
    pub promiscuous: bool,

    /// Where a packet is recorded around a running XDP program: entry (as it
    /// arrives), exit (with the program's verdict) or entry,exit.
    #[arg(long = "rx-capture", value_name = "entry|exit|entry,exit", default_value = "entry",
          value_parser = crate::capture::parse_rx_capture)]
    pub rx_capture: crate::capture::RxCapture,

    /// How packets reach user space: the BPF ring buffer (Linux 5.8; for
    /// capture's own program 5.18), per-CPU perf buffers, or the ring where
    /// the kernel has it.
    #[arg(long, value_enum, default_value_t = CaptureBuffer::Auto)]
    pub buffer: CaptureBuffer,

    /// The program to capture around, by name or id, when several run
    /// behind a dispatcher (default: the one attached, or the only one behind it).
    #[arg(short = 'p', long = "program-names", value_name = "PROG")]
    pub program: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureBuffer {
    Auto,
    Perf,
    Ring,
}

impl CaptureArgs {
    pub fn ifname(&self) -> &str {
        self.interface
            .as_deref()
            .or(self.ifname.as_deref())
            .unwrap_or_default()
    }
}

#[derive(Args, Debug)]
#[command(
    after_help = "MAP is a pin path (/sys/fs/bpf/IFNAME/NAME), id:N (kernel map id), \
                  or IFNAME:NAME (a map of the XDP program on IFNAME, or pinned in /sys/fs/bpf/IFNAME). \
                  KEY and VALUE follow the map's BTF types: 3, XDP_PASS, {rx_packets: 0, rx_bytes: 0}, \
                  [1, 2], aa:bb:cc:dd:ee:ff; without BTF, hex bytes (\"01 00 00 00\") or a number."
)]
pub struct MapArgs {
    #[command(subcommand)]
    pub command: MapCommand,
}

#[derive(Subcommand, Debug)]
pub enum MapCommand {
    /// The maps of the XDP program on IFNAME and those pinned in /sys/fs/bpf/IFNAME (default: every interface running XDP).
    List {
        ifname: Option<String>,
        /// Every map in the system, not only XDP programs' maps (as `bpftool map show`).
        #[arg(short, long)]
        all: bool,
        /// One JSON object per map.
        #[arg(long)]
        json: bool,
    },
    /// Every entry of MAP (per-CPU maps: each CPU's value and the sum).
    Dump {
        map: String,
        #[arg(long)]
        json: bool,
    },
    /// The entry of MAP at KEY.
    Lookup {
        map: String,
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Set MAP[KEY] = VALUE (per-CPU maps: on every CPU; maps of maps: VALUE is a MAP).
    Update {
        map: String,
        key: String,
        value: String,
        /// any: add or replace; noexist: only add; exist: only replace.
        #[arg(long, value_enum, default_value_t = UpdateFlag::Any)]
        flags: UpdateFlag,
    },
    /// Remove KEY from MAP (hash maps; array entries always exist).
    Delete { map: String, key: String },
    /// Map-in-map: create an empty inner map shaped like the one in OUTER (or --like MAP) and put it at KEY.
    NewInner {
        outer: String,
        key: String,
        /// The map to copy the type, sizes and BTF of (default: the inner map at KEY, else any in OUTER).
        #[arg(long, value_name = "MAP")]
        like: Option<String>,
    },
}

/// BPF_ANY, BPF_NOEXIST, BPF_EXIST.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateFlag {
    Any,
    Noexist,
    Exist,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Only this interface.
    pub ifname: Option<String>,

    /// Machine-readable output (schema in README).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Lessons: basic02, basic03, packet01, packet02, packet03, maps, tracing01 (FILE needed), tracing04. \
                  Exit status: 0 every assignment passes, 1 one or more FAIL (or the check could not run), 2 usage."
)]
pub struct CheckArgs {
    /// The lesson whose assignments are checked.
    pub lesson: String,

    /// The student's object (default: the lesson's built-in reference solution).
    #[arg(value_name = "FILE.o", conflicts_with = "user")]
    pub file: Option<PathBuf>,

    /// Grade the lesson's user-space assignments instead: the student's
    /// program(s), comma-separated (basic04: loader,reader).
    #[arg(long, value_name = "PROG[,PROG]")]
    pub user: Option<String>,

    /// One JSON object with every assignment's result (schema in README).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct FeaturesArgs {
    /// Also show this interface's XDP features, as the kernel reports them (6.3+).
    pub ifname: Option<String>,

    /// Machine-readable output (schema in README, "Kernel compatibility").
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TestenvArgs {
    #[command(subcommand)]
    pub command: TestenvCommand,
}

#[derive(Args, Debug, Clone, Default)]
pub struct EnvName {
    /// Environment name (default: the last one set up).
    #[arg(short, long)]
    pub name: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum TestenvCommand {
    /// Create a namespace and veth pair (the outside end is named after the environment).
    Setup {
        #[command(flatten)]
        env: EnvName,
        /// Also configure IPv4 (10.11.N.1/.2).
        #[arg(long)]
        legacy_ip: bool,
        /// Also create VLAN interfaces 1 and 2 on both ends.
        #[arg(long)]
        vlan: bool,
    },
    /// Delete the environment (namespace, veth pair, its bpffs pins).
    Teardown {
        #[command(flatten)]
        env: EnvName,
    },
    /// Show the selected environment and all others.
    Status,
    /// Ping the outside address from inside the namespace.
    Ping {
        #[command(flatten)]
        env: EnvName,
        /// Ping the IPv4 address (needs `setup --legacy-ip`).
        #[arg(long)]
        legacy_ip: bool,
        /// Number of echo requests.
        #[arg(short, long, default_value = "3", value_parser = crate::numbers::count)]
        count: u64,
        /// Echo requests tagged with VLAN 1, sent from a raw socket on veth0 (no 802.1Q
        /// module needed); says which of them passed the outside end's XDP program.
        #[arg(long)]
        vlan: bool,
    },
    /// Run a command inside the namespace: `testenv exec -- CMD ARGS`.
    Exec {
        #[command(flatten)]
        env: EnvName,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Open a shell inside the namespace.
    Enter {
        #[command(flatten)]
        env: EnvName,
    },
    /// Watch the environment's traffic with tcpdump (outside end; `--inner` for veth0).
    Tcpdump {
        #[command(flatten)]
        env: EnvName,
        #[arg(long)]
        inner: bool,
    },
    /// Redirect between two environments with XDP (packet03): ENV1's namespace
    /// reaches ENV2's through the outside interfaces, without the host's stack.
    Redirect {
        /// Environment whose namespace sends (and receives the replies).
        env1: String,
        /// Environment whose namespace receives.
        env2: String,
    },
    /// Tear the environment down and set it up again (same name, same options unless given).
    Reset {
        #[command(flatten)]
        env: EnvName,
        /// Also configure IPv4 (kept if the environment had it).
        #[arg(long)]
        legacy_ip: bool,
        /// Also create VLAN interfaces (kept if the environment had them).
        #[arg(long)]
        vlan: bool,
    },
    /// `xdp-loader load` on the environment, maps pinned in /sys/fs/bpf/NAME:
    /// `testenv load -- FILE|BUILTIN [LOAD OPTIONS]`, e.g. `t load -- xdp_prog_kern.o -n xdp_parser_func`.
    Load {
        #[command(flatten)]
        env: EnvName,
        /// The object and `xdp-loader load` options (after `--`).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "LOAD ARGS"
        )]
        args: Vec<String>,
    },
    /// `xdp-loader unload` on the environment (its map pins go too): `testenv unload [-- UNLOAD OPTIONS]`.
    Unload {
        #[command(flatten)]
        env: EnvName,
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "UNLOAD ARGS"
        )]
        args: Vec<String>,
    },
    /// `xdp-loader stats` of the environment's pinned xdp_stats_map: `testenv stats [-- STATS OPTIONS]`.
    Stats {
        #[command(flatten)]
        env: EnvName,
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "STATS ARGS"
        )]
        args: Vec<String>,
    },
}

/// `xdp-loader bench PROGRAM` measures one program's per-packet cost;
/// the subcommands measure the rest (`suite` runs everything).
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: Option<BenchCommand>,

    /// Program function name (e.g. xdp_parser_func), or `all` for every one.
    #[arg(value_name = "PROGRAM", required = true)]
    pub program: Option<String>,

    #[command(flatten)]
    pub data: DataPlaneArgs,

    /// One JSON object with every row, instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Options of the per-packet (BPF_PROG_TEST_RUN) measurement.
#[derive(Args, Debug, Clone, Copy)]
pub struct DataPlaneArgs {
    /// Frame size in bytes as the program sees it (Ethernet header, no FCS): 64, 512 or 1500.
    #[arg(long, default_value_t = 64, value_parser = frame_size)]
    pub size: usize,

    /// Runs per BPF_PROG_TEST_RUN call (each measurement is the median of 9 calls).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
}

/// The frame sizes the benchmark offers: small, medium and large.
fn frame_size(text: &str) -> Result<usize, String> {
    match text {
        "64" | "512" | "1500" => Ok(text.parse().unwrap()),
        _ => Err("the frame size is one of 64, 512, 1500".into()),
    }
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Per-packet cost of 1, 2 and 5 programs behind our dispatcher, libxdp's, and alone (needs BPF trampolines).
    Dispatcher {
        /// Runs per BPF_PROG_TEST_RUN call (each measurement is the median of 9 calls).
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(1..))]
        repeat: u32,
        #[arg(long)]
        json: bool,
    },
    /// Real frames into a veth pair (BPF_F_TEST_XDP_LIVE_FRAMES), counted by the program on the peer.
    Live {
        /// Seconds of traffic per program (0.001 to 86400).
        #[arg(long, default_value = "2", value_parser = crate::numbers::seconds)]
        seconds: f64,
        #[arg(long)]
        json: bool,
    },
    /// Packets per second `capture` writes (every other one counted as lost), against xdpdump.
    Capture {
        /// Seconds of traffic per contender (0.001 to 86400).
        #[arg(long, default_value = "2", value_parser = crate::numbers::seconds)]
        seconds: f64,
        #[arg(long)]
        json: bool,
    },
    /// load + unload against `ip link` and `bpftool`, and the time to the first `stats` line.
    Control {
        /// Timed runs of each tool, in every order in turn (24 orders: use a multiple).
        #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
        #[arg(long)]
        json: bool,
    },
    /// bpf() calls and CPU time per `stats` sample against a one-lookup-per-key reader (uses strace).
    Stats {
        /// Samples per measurement.
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
        samples: u32,
        #[arg(long)]
        json: bool,
    },
    /// Everything above, in one table (`make bench`).
    Suite {
        /// Fewer runs and shorter traffic: a check that every part works, not a measurement.
        #[arg(long)]
        quick: bool,
        #[arg(long)]
        json: bool,
    },
    /// Reads a pinned xdp_stats_map SAMPLES times in a row, for `bench stats`
    /// to count the syscalls of each reader in a process of its own.
    #[command(hide = true)]
    Reader {
        pin: PathBuf,
        #[arg(long)]
        samples: u64,
        /// One lookup per key (the C tutorial's reader) instead of one batch.
        #[arg(long)]
        per_key: bool,
    },
}

/// `xdp-loader afxdp IFNAME [FILE.o [-n PROG]]`: the C tutorial's
/// af_xdp_user (advanced03).
#[derive(Args, Debug)]
pub struct AfxdpArgs {
    #[command(flatten)]
    pub iface: IfnameArg,

    /// XDP object with an XSKMAP named xsks_map (default: the built-in xdp_afxdp).
    #[arg(value_name = "FILE.o", conflicts_with = "filename")]
    pub file: Option<String>,

    /// Object file (C tutorial spelling; same as FILE.o).
    #[arg(long = "filename", value_name = "FILE.o")]
    pub filename: Option<String>,

    /// The XDP program in the object (built-in: xdp_sock_prog, every other
    /// packet to the socket; xdp_sock_all, every packet).
    #[arg(short = 'n', long = "prog-name", alias = "progname")]
    pub prog_name: Option<String>,

    /// The receive queue to bind the socket to.
    #[arg(short = 'Q', long, default_value_t = 0)]
    pub queue: u32,

    /// Copy mode: works on every device that runs XDP (veth included).
    #[arg(short = 'c', long, conflicts_with = "zero_copy")]
    pub copy: bool,

    /// Zero-copy mode: needs driver support (veth has none).
    #[arg(short = 'z', long)]
    pub zero_copy: bool,

    /// Sleep in poll() until packets arrive (default: busy-poll the rings, as the C tutorial).
    #[arg(short = 'p', long = "poll", alias = "poll-mode")]
    pub poll: bool,

    /// Attach mode of the XDP program.
    #[arg(short, long, value_enum, default_value_t = Mode::Native)]
    pub mode: Mode,

    /// No statistics every 2 s (only the final totals).
    #[arg(short, long)]
    pub quiet: bool,
}
