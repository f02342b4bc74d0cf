//! `xdp-loader testenv`: set up real environments, check them with `ip`
//! (an oracle independent of the code under test), use them, tear them down.
//!
//! Each test has its own TMPDIR (so its own state directory), a unique
//! environment name and a unique environment number (so unique subnets),
//! and a guard that deletes the link and namespace even when it panics.

mod common;

use common::sh;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The result of one `xdp-loader testenv ...` run.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn ok(self) -> Out {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    #[track_caller]
    fn fails_with(self, code: i32) -> Out {
        assert_eq!(self.code, code, "expected exit {code}: {self:#?}");
        assert!(self.stderr.contains("Error: "), "no Error line: {self:#?}");
        self
    }
}

/// One test's environment: its name, number and private state directory.
/// Dropping it removes whatever is left, errors ignored.
struct TestEnv {
    name: String,
    num: u32,
    tmpdir: PathBuf,
}

impl TestEnv {
    /// None when the test is skipped (not root, outside CI).
    fn new() -> Option<TestEnv> {
        if !common::privileged() {
            return None;
        }
        let pid = std::process::id();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("xte{:x}n{n:x}", pid & 0xffffff);
        let tmpdir = std::env::temp_dir().join(format!("xdp-testenv-test-{name}"));
        let _ = std::fs::remove_dir_all(&tmpdir);
        std::fs::create_dir_all(&tmpdir).unwrap();
        Some(TestEnv {
            // In 1..=250, also a valid IPv4 octet; distinct for the tests of one run.
            num: 1 + (pid.wrapping_mul(7) + n) % 250,
            name,
            tmpdir,
        })
    }

    /// Runs `xdp-loader testenv ARGS` with this test's state directory.
    fn testenv(&self, args: &[&str]) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_xdp-loader"))
            .arg("testenv")
            .args(args)
            .env("TMPDIR", &self.tmpdir)
            .env("XDP_TESTENV_FIRST_NUM", self.num.to_string())
            .output()
            .expect("run xdp-loader");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ip6(&self, host: u8) -> String {
        format!("fc00:dead:cafe:{:x}::{host}", self.num)
    }

    fn ip4(&self, host: u8) -> String {
        format!("10.11.{}.{host}", self.num)
    }

    fn state_file(&self) -> PathBuf {
        self.tmpdir
            .join("xdp-tutorial-testlab")
            .join(format!("{}.env", self.name))
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Deleting one end of a veth pair deletes both.
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(&self.tmpdir);
    }
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|out| out.status.success())
}

fn link_exists(ifname: &str) -> bool {
    succeeds("ip", &["link", "show", "dev", ifname])
}

fn link_exists_in(ns: &str, ifname: &str) -> bool {
    succeeds("ip", &["-n", ns, "link", "show", "dev", ifname])
}

fn netns_exists(name: &str) -> bool {
    sh("ip", &["netns", "list"])
        .lines()
        .any(|line| line.split_whitespace().next() == Some(name))
}

/// The local addresses in `ip -j addr show` output.
fn addresses(json: &str) -> Vec<String> {
    let links: Value = serde_json::from_str(json).expect("ip -j output is JSON");
    links
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|addr| addr["local"].as_str().map(str::to_owned))
        .collect()
}

fn kernel_has_vlans(probe_ns: &str) -> bool {
    let _ = Command::new("ip").args(["netns", "del", probe_ns]).output();
    sh("ip", &["netns", "add", probe_ns]);
    let ok = succeeds(
        "ip",
        &[
            "-n", probe_ns, "link", "add", "pa", "type", "veth", "peer", "name", "pb",
        ],
    ) && succeeds(
        "ip",
        &[
            "-n", probe_ns, "link", "add", "link", "pa", "name", "pa.1", "type", "vlan", "id", "1",
        ],
    );
    let _ = Command::new("ip").args(["netns", "del", probe_ns]).output();
    ok
}

#[test]
fn setup_use_and_teardown() {
    let Some(t) = TestEnv::new() else { return };
    let name = t.name.as_str();

    let out = t.testenv(&["setup", "--name", name, "--legacy-ip"]).ok();
    assert!(
        out.stdout.contains(&format!(
            "Setup environment '{name}' with peer ip {}.",
            t.ip6(2)
        )),
        "{out:#?}"
    );
    assert!(out.stdout.contains(&t.ip4(2)), "{out:#?}");

    // The oracle: ip itself.
    let link: Value = serde_json::from_str(&sh("ip", &["-j", "-d", "link", "show", name])).unwrap();
    assert_eq!(link[0]["linkinfo"]["info_kind"], "veth", "{link:#}");
    assert!(netns_exists(name));
    let outside = addresses(&sh("ip", &["-j", "-6", "addr", "show", "dev", name]));
    assert!(outside.contains(&t.ip6(1)), "{outside:?}");
    let inside = addresses(&sh(
        "ip",
        &["netns", "exec", name, "ip", "-j", "addr", "show", "veth0"],
    ));
    assert!(inside.contains(&t.ip6(2)), "{inside:?}");
    assert!(inside.contains(&t.ip4(2)), "{inside:?}");

    // Without --name, every command uses the environment just set up.
    let status = t.testenv(&["status"]).ok();
    assert!(status.stdout.contains(name), "{status:#?}");
    t.testenv(&["ping", "-c", "2"]).ok();
    t.testenv(&["ping", "--legacy-ip", "-c", "1"]).ok();

    let out = t
        .testenv(&["exec", "--", "ip", "-j", "link", "show", "veth0"])
        .ok();
    let veth0: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(veth0[0]["ifname"], "veth0");
    assert_ne!(t.testenv(&["exec", "--", "false"]).code, 0);
    // The command's own exit code, and TESTENV_NAME in its environment.
    let script = format!("test \"$TESTENV_NAME\" = {name} && exit 7");
    assert_eq!(t.testenv(&["exec", "--", "sh", "-c", &script]).code, 7);

    let again = t.testenv(&["setup", "--name", name]).fails_with(1);
    assert!(again.stderr.contains("already exists"), "{again:#?}");

    let out = t.testenv(&["teardown"]).ok();
    assert!(out.stdout.contains(name), "{out:#?}");
    assert!(!link_exists(name), "link {name} still exists");
    assert!(!netns_exists(name), "netns {name} still exists");
    assert!(!t.state_file().exists());

    let gone = t.testenv(&["teardown", "--name", name]).fails_with(1);
    assert!(
        gone.stderr
            .contains(&format!("no test environment '{name}'")),
        "{gone:#?}"
    );
    assert!(t
        .testenv(&["status"])
        .ok()
        .stdout
        .contains("No test environments"));
}

#[test]
fn vlan_interfaces_on_both_ends() {
    let Some(t) = TestEnv::new() else { return };
    let name = t.name.as_str();

    if !kernel_has_vlans(&format!("{name}p")) {
        // Then setup must fail cleanly: a clear error, and nothing left behind.
        let out = t
            .testenv(&["setup", "--name", name, "--vlan"])
            .fails_with(1);
        assert!(out.stderr.contains("type vlan"), "{out:#?}");
        assert!(out.stderr.contains("Hint: "), "{out:#?}");
        assert!(!link_exists(name));
        assert!(!netns_exists(name));
        assert!(!t.state_file().exists());
        eprintln!("kernel has no 802.1Q VLANs: checked that setup --vlan undoes itself");
        return;
    }

    t.testenv(&["setup", "--name", name, "--vlan"]).ok();
    let outside_vlan = format!("{name}.1");
    assert!(link_exists(&outside_vlan), "{outside_vlan} missing");
    assert!(link_exists_in(name, "veth0.1"), "veth0.1 missing inside");
    let vlan_ip = format!("fc00:dead:cafe:{:x}::2", t.num + 4096);
    let inside = addresses(&sh("ip", &["-n", name, "-j", "addr", "show", "veth0.1"]));
    assert!(inside.contains(&vlan_ip), "{inside:?}");

    t.testenv(&["teardown", "--name", name]).ok();
    assert!(!link_exists(name));
    assert!(!link_exists(&outside_vlan));
    assert!(!netns_exists(name));
}

/// The C tutorial's `t load`, `t stats`, `t unload` and `t reset`, checked
/// with ip and bpftool.
#[test]
fn tutorial_load_stats_unload_reset() {
    let Some(t) = TestEnv::new() else { return };
    let name = t.name.as_str();
    t.testenv(&["setup", "--name", name, "--legacy-ip"]).ok();

    let out = t.testenv(&["load", "--", "xdp_parser"]).ok();
    assert!(
        out.stdout
            .contains(&format!("--pin-path /sys/fs/bpf/{name}")),
        "{out:#?}"
    );
    let xdp: Value = serde_json::from_str(&sh("ip", &["-j", "link", "show", name])).unwrap();
    assert!(
        xdp[0].get("xdp").is_some(),
        "no XDP program on {name}: {xdp:#}"
    );
    let pin = format!("/sys/fs/bpf/{name}/xdp_stats_map");

    // 4 pings: 2 even sequence numbers dropped, counted in the pinned map.
    t.testenv(&["ping", "-c", "4"]).ok();
    let stats = t.testenv(&["stats", "--", "--count", "1", "--json"]).ok();
    let json: Value = serde_json::from_str(stats.stdout.lines().last().unwrap()).unwrap();
    let drops = common::bpftool_counts(&pin)[1].0;
    assert_eq!(drops, 2, "bpftool: XDP_DROP");
    assert_eq!(json["actions"]["XDP_DROP"]["packets"], drops, "{json:#}");

    t.testenv(&["unload"]).ok();
    let xdp: Value = serde_json::from_str(&sh("ip", &["-j", "link", "show", name])).unwrap();
    assert!(xdp[0].get("xdp").is_none(), "{xdp:#}");
    assert!(!std::path::Path::new(&pin).exists(), "unload leaves {pin}");

    // reset: a new pair under the same name, IPv4 kept.
    let before = sh("cat", &[&format!("/sys/class/net/{name}/ifindex")]);
    t.testenv(&["reset"]).ok();
    assert_ne!(
        sh("cat", &[&format!("/sys/class/net/{name}/ifindex")]),
        before
    );
    let inside = addresses(&sh(
        "ip",
        &[
            "netns", "exec", name, "ip", "-j", "-4", "addr", "show", "veth0",
        ],
    ));
    assert!(inside.iter().any(|a| a.starts_with("10.11.")), "{inside:?}");
    t.testenv(&["ping", "--legacy-ip", "-c", "1"]).ok();
    t.testenv(&["teardown"]).ok();
}

/// `ping --vlan`: tagged echo requests from a raw socket, no 802.1Q
/// devices; the parser's verdicts, as bpftool counts them.
#[test]
fn vlan_ping_from_a_raw_socket() {
    let Some(t) = TestEnv::new() else { return };
    let name = t.name.as_str();
    t.testenv(&["setup", "--name", name]).ok();
    t.testenv(&["load", "--", "xdp_parser"]).ok();
    let out = t.testenv(&["ping", "--vlan", "-c", "4"]).ok();
    assert!(
        out.stdout.contains("4 packets transmitted, 2 received"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("icmp_seq=2: dropped"), "{out:#?}");
    assert!(
        out.stdout.contains("icmp_seq=3: passed XDP on") && out.stdout.contains("(VLAN 1)"),
        "{out:#?}"
    );
    assert_eq!(
        common::bpftool_counts(&format!("/sys/fs/bpf/{name}/xdp_stats_map"))[1].0,
        2,
        "bpftool: XDP_DROP"
    );

    // All dropped: exit 1, like ping without a single reply.
    t.testenv(&["load", "--", "xdp_prog", "-n", "xdp_drop_func", "-F"])
        .ok();
    t.testenv(&["ping", "--vlan", "-c", "1"]).fails_with(1);
    t.testenv(&["teardown"]).ok();
}
