//! Shared helpers for the integration tests: run the real binary, and own a
//! private network namespace joined to this one by a veth pair.
//!
//! Every `TestNet` has unique names and addresses (derived from the pid and
//! a counter), so tests run in parallel, and its `Drop` removes everything
//! even when the test panics.

#![allow(dead_code)] // each test file uses a different subset

pub mod background;
pub mod checksum;
pub mod features;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

/// Privileged tests run as root. Outside CI they are skipped (and say so);
/// under `CI=true` not being root is a failure, not a skip.
pub fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("privileged test cannot run: not root (CI=true requires it)");
    }
    eprintln!("skipped: needs root");
    false
}

/// The result of running `xdp-loader`.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    #[track_caller]
    pub fn fails_with(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit {code}: {self:#?}");
        assert!(self.stderr.contains("Error: "), "no Error line: {self:#?}");
        self
    }

    /// The `Hint:` line, which every user error here must have.
    #[track_caller]
    pub fn hint(&self) -> &str {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix("Hint: "))
            .unwrap_or_else(|| panic!("no Hint line: {self:#?}"))
    }
}

pub fn loader_path() -> &'static str {
    env!("CARGO_BIN_EXE_xdp-loader")
}

/// Runs `xdp-loader ARGS` in this namespace.
pub fn loader(args: &[&str]) -> Run {
    Run::from(
        Command::new(loader_path())
            .args(args)
            .output()
            .expect("run xdp-loader"),
    )
}

/// Runs `sh -c SCRIPT` in a private mount namespace (what it mounts or
/// unmounts stays there), panicking with its output if it fails.
#[track_caller]
pub fn in_private_mounts(script: &str) -> Run {
    let run = Run::from(
        Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", script])
            .output()
            .expect("run unshare"),
    );
    assert_eq!(run.code, 0, "{script}: {run:#?}");
    run
}

/// Runs a command, panicking with its stderr if it fails.
#[track_caller]
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn json(program: &str, args: &[&str]) -> Value {
    serde_json::from_str(&sh(program, args)).expect("valid JSON")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A namespace `ns` with `veth0` inside, joined to `host_if` out here.
pub struct TestNet {
    pub name: String,
    pub host_ip: String,
    pub peer_ip: String,
}

impl TestNet {
    /// A new test network, or None when the test must be skipped (see `privileged`).
    pub fn for_privileged_test() -> Option<TestNet> {
        privileged().then(TestNet::new)
    }

    pub fn new() -> TestNet {
        let pid = std::process::id();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("xt{:x}n{n:x}", pid & 0xffff);
        // A /64 no other test (or process) uses: fd00:<pid>:<n>::/64.
        let prefix = format!("fd00:{:x}:{:x}:{n:x}", pid >> 16, pid & 0xffff);
        let net = TestNet {
            host_ip: format!("{prefix}::1"),
            peer_ip: format!("{prefix}::2"),
            name,
        };
        net.create();
        net
    }

    pub fn host_if(&self) -> &str {
        &self.name
    }

    fn inside(&self, args: &[&str]) -> String {
        let mut full = vec!["netns", "exec", &self.name];
        full.extend_from_slice(args);
        sh("ip", &full)
    }

    fn create(&self) {
        sh("ip", &["netns", "add", &self.name]);
        self.create_link();
    }

    /// (Re)creates the veth pair with its addresses: after `ip link del`,
    /// the same names come back with new ifindexes.
    pub fn create_link(&self) {
        let ns = self.name.as_str();
        sh(
            "ip",
            &[
                "link", "add", "dev", ns, "type", "veth", "peer", "name", "veth0", "netns", ns,
            ],
        );
        // Quiet links: no DAD, router solicitations or autoconf traffic, so
        // only the packets a test sends cross the veth.
        for (key, value) in [
            ("accept_dad", "0"),
            ("accept_ra", "0"),
            ("router_solicitations", "0"),
        ] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{ns}/{key}"), value);
            self.inside(&[
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.veth0.{key}={value}"),
            ]);
        }
        sh(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/64", self.host_ip),
                "dev",
                ns,
                "nodad",
            ],
        );
        self.inside(&[
            "ip",
            "addr",
            "add",
            &format!("{}/64", self.peer_ip),
            "dev",
            "veth0",
            "nodad",
        ]);
        sh("ip", &["link", "set", ns, "up"]);
        self.inside(&["ip", "link", "set", "veth0", "up"]);
        self.inside(&["ip", "link", "set", "lo", "up"]);
        let host_mac = mac(&json("ip", &["-j", "link", "show", ns]));
        let peer_mac = mac(&serde_json::from_str(
            &self.inside(&["ip", "-j", "link", "show", "veth0"]),
        )
        .unwrap());
        sh(
            "ip",
            &[
                "neigh",
                "replace",
                &self.peer_ip,
                "lladdr",
                &peer_mac,
                "nud",
                "permanent",
                "dev",
                ns,
            ],
        );
        self.inside(&[
            "ip",
            "neigh",
            "replace",
            &self.host_ip,
            "lladdr",
            &host_mac,
            "nud",
            "permanent",
            "dev",
            "veth0",
        ]);
    }

    /// Pings the host end from inside the namespace: does traffic get through?
    pub fn ping(&self, count: u32) -> bool {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name,
                "ping",
                "-6",
                "-q",
                "-c",
                &count.to_string(),
            ])
            .args(["-i", "0.2", "-W", "1", &self.host_ip])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// The `xdp` object of `ip -j link show` for the host end (None: no XDP).
    pub fn ip_link_xdp(&self) -> Option<Value> {
        json("ip", &["-j", "link", "show", "dev", &self.name])[0]
            .get("xdp")
            .cloned()
    }

    /// Runs xdp-loader inside the namespace.
    pub fn loader_inside(&self, args: &[&str]) -> Run {
        Run::from(
            Command::new("ip")
                .args(["netns", "exec", &self.name, loader_path()])
                .args(args)
                .output()
                .expect("run ip netns exec"),
        )
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        // Deleting one end of a veth pair deletes both.
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(format!("/sys/fs/bpf/xdp-loader/{}", self.name));
        let _ = std::fs::remove_dir_all(format!("/sys/fs/bpf/{}", self.name));
    }
}

fn mac(link: &Value) -> String {
    link[0]["address"]
        .as_str()
        .expect("link has a MAC")
        .to_string()
}

/// `ip link` reports the XDP attach mode as a number (XDP_ATTACHED_*).
pub fn ip_mode_number(mode: &str) -> u64 {
    match mode {
        "native" => 1,
        "skb" => 2,
        "hw" => 3,
        other => panic!("no such mode {other}"),
    }
}

/// Compiles a C XDP program with clang into a temp dir; returns the object path.
pub fn compile_bpf(name: &str, source: &str) -> PathBuf {
    compile_bpf_with_includes(name, source, &[])
}

/// Compiles a C XDP program the way build.rs compiles the lessons, so it
/// can include "vmlinux_xdp.h", the lesson headers and <bpf/bpf_helpers.h>.
pub fn compile_lesson_bpf(name: &str, source: &str) -> PathBuf {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    compile_bpf_with_includes(
        name,
        source,
        &[
            &format!("{crate_dir}/vmlinux"),
            &format!("{crate_dir}/src/bpf"),
            env!("XDP_TUTORIAL_BPF_INCLUDE"),
        ],
    )
}

/// Removes a file or directory the test made outside what TestNet's Drop
/// knows about (a pin directory elsewhere, a capture file), even when the
/// test panics.
pub struct RemoveOnDrop(pub String);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Compiles a C XDP program with clang and `-I` for each of `includes`
/// into a temp dir; returns the object path.
fn compile_bpf_with_includes(name: &str, source: &str, includes: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xdp-loader-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join(format!("{name}.c"));
    let obj = dir.join(format!("{name}.o"));
    std::fs::write(&c, source).unwrap();
    let mut args = vec!["-target", "bpf", "-O2", "-g"];
    for include in includes {
        args.extend_from_slice(&["-I", include]);
    }
    args.extend_from_slice(&["-c", path(&c), "-o", path(&obj)]);
    sh("clang", &args);
    obj
}

impl TestNet {
    /// Packets the host end has received so far (veth counts them all,
    /// whatever XDP then does with them).
    pub fn host_rx_packets(&self) -> u64 {
        std::fs::read_to_string(format!(
            "/sys/class/net/{}/statistics/rx_packets",
            self.name
        ))
        .expect("host veth statistics")
        .trim()
        .parse()
        .expect("a number")
    }

    /// Waits until the host end has received nothing for 1.5 s (at most
    /// 10 s in all): the peer's IPv6 stack sends a few MLD reports (and
    /// their retransmissions, up to 1 s apart) after the link comes up,
    /// which would add to exact packet counts.
    pub fn settle(&self) {
        let quiet = std::time::Duration::from_millis(1500);
        let start = std::time::Instant::now();
        let mut last = self.host_rx_packets();
        let mut since = std::time::Instant::now();
        while since.elapsed() < quiet && start.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(100));
            let now = self.host_rx_packets();
            if now != last {
                last = now;
                since = std::time::Instant::now();
            }
        }
    }
}

impl TestNet {
    /// Runs `work` on a thread that has joined the namespace's network
    /// namespace: sockets it creates live in there (and stay there when
    /// handed back to the caller's thread).
    /// A UDP receiver on the host end and a sender inside the namespace,
    /// connected to it: for counting datagrams against XDP's counters.
    pub fn udp_pair(&self) -> (std::net::UdpSocket, std::net::UdpSocket) {
        let port = 20_000 + (std::process::id() % 20_000) as u16;
        let receiver = std::net::UdpSocket::bind((self.host_ip.as_str(), port)).unwrap();
        receiver
            .set_read_timeout(Some(std::time::Duration::from_millis(500)))
            .unwrap();
        let sender =
            self.in_namespace(|| std::net::UdpSocket::bind((self.peer_ip.as_str(), 0)).unwrap());
        sender.connect((self.host_ip.as_str(), port)).unwrap();
        (receiver, sender)
    }

    pub fn in_namespace<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        let netns = std::fs::File::open(format!("/run/netns/{}", self.name)).expect("netns file");
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    use std::os::fd::AsRawFd;
                    // SAFETY: a valid netns fd; only this thread moves.
                    let ret = unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) };
                    assert_eq!(ret, 0, "setns: {}", std::io::Error::last_os_error());
                    work()
                })
                .join()
                .expect("namespace thread")
        })
    }

    /// XDP_PASS packets counted in the pinned xdp_stats_map (by bpftool).
    pub fn pinned_pass_count(&self) -> u64 {
        bpftool_counts(&format!("/sys/fs/bpf/{}/xdp_stats_map", self.name))[2].0
    }
}

pub fn hex_bytes(list: &Value) -> Vec<u8> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a byte list: {list}"))
        .iter()
        .map(|b| {
            let s = b.as_str().unwrap();
            u8::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
        })
        .collect()
}

/// Per-action (packets, bytes) summed over CPUs by bpftool's raw dump
/// (key: u32, value: struct datarec { u64 rx_packets; u64 rx_bytes; }).
#[track_caller]
pub fn bpftool_counts(pin: &str) -> [(u64, u64); 5] {
    bpftool_counts_of(&["pinned", pin])
}

/// (packets, bytes) per action of the xdp_stats_map with this id (bpftool).
#[track_caller]
pub fn bpftool_counts_of_map(map_id: u64) -> [(u64, u64); 5] {
    bpftool_counts_of(&["id", &map_id.to_string()])
}

/// `bpftool_counts` of the map bpftool finds by `which`: `["id", "12"]`
/// or `["pinned", PATH]`.
#[track_caller]
pub fn bpftool_counts_of(which: &[&str]) -> [(u64, u64); 5] {
    let mut args = vec!["-j", "map", "dump"];
    args.extend_from_slice(which);
    let dump = json("bpftool", &args);
    let mut totals = [(0, 0); 5];
    let entries = dump.as_array().unwrap_or_else(|| panic!("{dump}"));
    assert_eq!(entries.len(), 5, "one entry per action: {dump}");
    for entry in entries {
        let key = hex_bytes(&entry["key"]);
        let key = u32::from_le_bytes(key[..4].try_into().unwrap()) as usize;
        for cpu in entry["values"].as_array().unwrap() {
            let v = hex_bytes(&cpu["value"]);
            assert_eq!(v.len(), 16, "{entry}");
            totals[key].0 += u64::from_le_bytes(v[..8].try_into().unwrap());
            totals[key].1 += u64::from_le_bytes(v[8..].try_into().unwrap());
        }
    }
    totals
}

/// The IPv4 addresses `TestNet::add_ipv4` gave a test network.
#[derive(Debug, Clone)]
pub struct Ipv4Pair {
    /// The host end's address.
    pub host_ip: String,
    /// veth0's address, inside the namespace.
    pub peer_ip: String,
    /// The /30 both are in, e.g. `10.130.5.4/30`.
    pub subnet: String,
}

static V4_COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestNet {
    /// Gives both ends IPv4 addresses, in a /30 of 10.128.0.0/10 that no
    /// other test uses (13 bits of the pid, 7 of a counter: away from the
    /// testenv's 10.11.0.0/16), with permanent ARP entries both ways, so no
    /// ARP crosses the link.
    pub fn add_ipv4(&self) -> Ipv4Pair {
        let n = V4_COUNTER.fetch_add(1, Ordering::Relaxed);
        let index = ((std::process::id() & 0x1fff) << 7) | (n & 0x7f);
        let base = u32::from(std::net::Ipv4Addr::new(10, 128, 0, 0)) | (index << 2);
        let addr = |offset: u32| std::net::Ipv4Addr::from(base + offset).to_string();
        let pair = Ipv4Pair {
            host_ip: addr(1),
            peer_ip: addr(2),
            subnet: format!("{}/30", addr(0)),
        };
        let ns = self.name.as_str();
        sh(
            "ip",
            &["addr", "add", &format!("{}/30", pair.host_ip), "dev", ns],
        );
        self.inside(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", pair.peer_ip),
            "dev",
            "veth0",
        ]);
        sh(
            "ip",
            &[
                "neigh",
                "replace",
                &pair.peer_ip,
                "lladdr",
                &self.peer_mac(),
                "nud",
                "permanent",
                "dev",
                ns,
            ],
        );
        self.inside(&[
            "ip",
            "neigh",
            "replace",
            &pair.host_ip,
            "lladdr",
            &self.host_mac(),
            "nud",
            "permanent",
            "dev",
            "veth0",
        ]);
        pair
    }

    /// The MAC address of the host end, as `ip -j link` shows it.
    pub fn host_mac(&self) -> String {
        mac(&json("ip", &["-j", "link", "show", "dev", &self.name]))
    }

    /// The MAC address of veth0 inside the namespace.
    pub fn peer_mac(&self) -> String {
        mac(&json(
            "ip",
            &["-n", &self.name, "-j", "link", "show", "dev", "veth0"],
        ))
    }
}

/// Does bpftool (an independent reader of the kernel's link table) show a
/// live XDP bpf_link holding program `prog_id`? Panics with the table if not.
#[track_caller]
pub fn assert_bpftool_xdp_link(prog_id: &Value) {
    let links = json("bpftool", &["-j", "link", "show"]);
    assert!(
        links
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["type"] == "xdp" && &l["prog_id"] == prog_id),
        "bpftool shows no XDP link for prog {prog_id}: {links}"
    );
}

/// target/debug/examples/NAME: a cargo example (built by `cargo test`, or
/// `cargo build --examples` before running one test file alone).
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // The test binary is target/debug/deps/NAME-HASH.
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} missing: run `cargo build --examples` first",
        path.display()
    );
    path
}
