//! `xdp-loader redirect` and `xdp-loader testenv redirect` (packet03) on the
//! real kernel. The oracles are independent of the code under test:
//! `bpftool -j map dump` for the map contents, `ip -j link` for ifindexes
//! and attachments, and ping replies for the end-to-end path.
//!
//! Every test owns uniquely named interfaces, namespaces, pin directories
//! and state directories, and a guard removes them even when it panics.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{json, loader, privileged, sh, Run, TestNet};
use serde_json::Value;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// XDP_REDIRECT's key in xdp_stats_map.
const XDP_REDIRECT: u32 = 4;

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:x}n{n:x}", std::process::id() & 0xffffff)
}

// ---------------------------------------------------------------------------
// Oracles

fn ifindex(ifname: &str) -> u32 {
    json("ip", &["-j", "link", "show", "dev", ifname])[0]["ifindex"]
        .as_u64()
        .expect("ip -j link shows the ifindex") as u32
}

/// `["0x0a", "0x00"]` -> `[10, 0]` (bpftool's raw bytes).
fn hex_bytes(value: &Value) -> Option<Vec<u8>> {
    value
        .as_array()?
        .iter()
        .map(|b| u8::from_str_radix(b.as_str()?.trim_start_matches("0x"), 16).ok())
        .collect()
}

/// The entries of a pinned map as (key bytes, value bytes), per bpftool.
/// Slots without a value (an empty devmap slot) are left out.
fn dump(pin: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let entries = json(
        "bpftool",
        &["-j", "map", "dump", "pinned", pin.to_str().unwrap()],
    );
    entries
        .as_array()
        .expect("bpftool dumps an array")
        .iter()
        .filter_map(|e| Some((hex_bytes(&e["key"])?, hex_bytes(&e["value"])?)))
        .collect()
}

/// Packets counted for `action` in a pinned (per-CPU) xdp_stats_map, all CPUs summed.
fn stats_packets(pin: &Path, action: u32) -> u64 {
    let entries = json(
        "bpftool",
        &["-j", "map", "dump", "pinned", pin.to_str().unwrap()],
    );
    let entry = entries
        .as_array()
        .expect("bpftool dumps an array")
        .iter()
        .find(|e| hex_bytes(&e["key"]).as_deref() == Some(&action.to_ne_bytes()[..]))
        .unwrap_or_else(|| panic!("no key {action} in {entries:#}"));
    let per_cpu: Vec<Value> = match entry.get("values") {
        Some(values) => values
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["value"].clone())
            .collect(),
        None => vec![entry["value"].clone()],
    };
    per_cpu
        .iter()
        .map(|v| {
            let bytes = hex_bytes(v).expect("raw value bytes");
            u64::from_ne_bytes(bytes[..8].try_into().unwrap()) // rx_packets
        })
        .sum()
}

fn mac_bytes(mac: &str) -> Vec<u8> {
    mac.split(':')
        .map(|g| u8::from_str_radix(g, 16).unwrap())
        .collect()
}

/// The `xdp` object `ip -j link` shows for a device (None: no XDP program).
fn xdp_of(ns: Option<&str>, ifname: &str) -> Option<Value> {
    let mut args = vec![];
    if let Some(ns) = ns {
        args.extend(["-n", ns]);
    }
    args.extend(["-j", "link", "show", "dev", ifname]);
    json("ip", &args)[0].get("xdp").cloned()
}

fn mac_of(ns: Option<&str>, ifname: &str) -> String {
    let mut args = vec![];
    if let Some(ns) = ns {
        args.extend(["-n", ns]);
    }
    args.extend(["-j", "link", "show", "dev", ifname]);
    json("ip", &args)[0]["address"]
        .as_str()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------
// Guards

/// A directory on bpffs for `--pin-path`, removed on drop.
struct PinDir(PathBuf);

impl PinDir {
    fn new() -> PinDir {
        let dir = PathBuf::from("/sys/fs/bpf").join(unique("xrp"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        PinDir(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Creates a map pin with bpftool (an independent way to make a wrong map).
fn bpftool_map(pin: &Path, map_type: &str, key: u32, value: u32, entries: u32, name: &str) {
    sh(
        "bpftool",
        &[
            "map",
            "create",
            pin.to_str().unwrap(),
            "type",
            map_type,
            "key",
            &key.to_string(),
            "value",
            &value.to_string(),
            "entries",
            &entries.to_string(),
            "name",
            name,
        ],
    );
}

/// Two test environments in one private state directory, with unique
/// names and numbers (so unique subnets). Dropping it removes both
/// environments (links, namespaces, pins) and the state directory.
struct Lab {
    names: [String; 2],
    num: u32,
    tmpdir: PathBuf,
}

impl Lab {
    /// None when the test is skipped (not root, outside CI).
    fn new() -> Option<Lab> {
        if !privileged() {
            return None;
        }
        let a = unique("xra");
        let b = a.replacen("xra", "xrb", 1);
        let tmpdir = std::env::temp_dir().join(format!("xdp-redirect-test-{a}"));
        let _ = std::fs::remove_dir_all(&tmpdir);
        std::fs::create_dir_all(&tmpdir).unwrap();
        let n = COUNTER.load(Ordering::Relaxed);
        let lab = Lab {
            // 0x3000..0x4000: away from tests/testenv.rs (1..=250) and a
            // student's own environments; the second one gets num + 1.
            num: 0x3000 + (std::process::id().wrapping_mul(7) + 2 * n) % 0x1000,
            names: [a, b],
            tmpdir,
        };
        for name in &lab.names {
            lab.testenv(&["setup", "--name", name]).ok();
        }
        Some(lab)
    }

    /// `xdp-loader testenv ARGS` with this lab's state directory.
    fn testenv(&self, args: &[&str]) -> Run {
        let out = Command::new(common::loader_path())
            .arg("testenv")
            .args(args)
            .env("TMPDIR", &self.tmpdir)
            .env("XDP_TESTENV_FIRST_NUM", self.num.to_string())
            .output()
            .expect("run xdp-loader");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn a(&self) -> &str {
        &self.names[0]
    }

    fn b(&self) -> &str {
        &self.names[1]
    }

    /// The inside (veth0) address of environment `i`.
    fn inside_ip(&self, i: u32) -> String {
        format!("fc00:dead:cafe:{:x}::2", self.num + i)
    }

    fn subnet(&self, i: u32) -> String {
        format!("fc00:dead:cafe:{:x}::/64", self.num + i)
    }

    fn stats_pin(&self, name: &str) -> PathBuf {
        Path::new("/sys/fs/bpf").join(name).join("xdp_stats_map")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for name in &self.names {
            // Deleting one end of a veth pair deletes both.
            let _ = Command::new("ip").args(["link", "del", name]).output();
            let _ = Command::new("ip").args(["netns", "del", name]).output();
            let _ = std::fs::remove_dir_all(Path::new("/sys/fs/bpf").join(name));
        }
        let _ = std::fs::remove_dir_all(&self.tmpdir);
    }
}

// ---------------------------------------------------------------------------
// xdp-loader redirect: bad input

/// Checked before anything else (root included): no privileges needed.
#[test]
fn bad_macs_are_usage_errors_naming_the_value() {
    let good = "aa:bb:cc:00:11:22";
    for bad in [
        "aa-bb-cc-00-11-22",
        "aa:bb:cc:00:11",
        "aa:bb:cc:00:11:22:33",
        "a:bb:cc:00:11:22",
        "aa:bb:cc:00:11:222",
        "aa:bb:cc:00:11:zz",
        "",
    ] {
        for (option, args) in [
            ("--src-mac", ["--src-mac", bad, "--dest-mac", good]),
            ("--dest-mac", ["--src-mac", good, "--dest-mac", bad]),
        ] {
            let mut argv = vec!["redirect", "lo", "--to", "lo"];
            argv.extend(args);
            let out = loader(&argv).fails_with(2);
            let error = out.stderr.lines().next().unwrap();
            assert!(
                error.starts_with(&format!("Error: {option} '{bad}' is not a MAC address")),
                "{out:#?}"
            );
            assert!(out.hint().contains(good), "{out:#?}");
        }
    }
}

#[test]
fn src_mac_needs_dest_mac() {
    let out = loader(&[
        "redirect",
        "lo",
        "--to",
        "lo",
        "--src-mac",
        "aa:bb:cc:00:11:22",
    ])
    .fails_with(2);
    assert!(
        out.stderr.contains("--src-mac needs --dest-mac"),
        "{out:#?}"
    );
}

#[test]
fn redirecting_an_environment_to_itself_is_a_usage_error() {
    let out = loader(&["testenv", "redirect", "xrsame", "xrsame"]).fails_with(2);
    assert!(out.stderr.contains("'xrsame' to itself"), "{out:#?}");
}

#[test]
fn unknown_interfaces_are_usage_errors() {
    if !privileged() {
        return;
    }
    let out = loader(&["redirect", "lo", "--to", "xrnosuch0"]).fails_with(2);
    assert!(
        out.stderr.contains("unknown interface 'xrnosuch0'"),
        "{out:#?}"
    );
    assert!(out.hint().contains("lo"), "{out:#?}");
    let out = loader(&["redirect", "xrnosuch0", "--to", "lo"]).fails_with(2);
    assert!(
        out.stderr.contains("unknown interface 'xrnosuch0'"),
        "{out:#?}"
    );
}

#[test]
fn without_pinned_maps_it_says_what_to_load() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let out = loader(&["redirect", net.host_if(), "--to", "lo"]).fails_with(40);
    assert!(
        out.stderr
            .contains(&format!("/sys/fs/bpf/{}", net.host_if())),
        "{out:#?}"
    );
    assert!(
        out.hint().contains(&format!(
            "xdp-loader load {} xdp_redirect -n xdp_redirect_map_func",
            net.host_if()
        )),
        "{out:#?}"
    );

    // A pin directory without any of the three maps: the same, with -p.
    let dir = PinDir::new();
    bpftool_map(&dir.0.join("other"), "array", 4, 4, 1, "other");
    let out = loader(&["redirect", net.host_if(), "--to", "lo", "-p", dir.path()]).fails_with(40);
    assert!(out.stderr.contains("no redirect maps"), "{out:#?}");
    assert!(
        out.hint().contains(&format!("-p {}", dir.path())),
        "{out:#?}"
    );
}

#[test]
fn a_map_with_the_wrong_layout_is_refused_before_any_write() {
    if !privileged() {
        return;
    }
    let dir = PinDir::new();
    // A correct redirect_params, and a tx_port that is a hash, not a devmap.
    bpftool_map(
        &dir.0.join("redirect_params"),
        "hash",
        6,
        6,
        16,
        "redirect_params",
    );
    bpftool_map(&dir.0.join("tx_port"), "hash", 4, 4, 4, "tx_port");
    let out = loader(&[
        "redirect",
        "lo",
        "--to",
        "lo",
        "-p",
        dir.path(),
        "--src-mac",
        "02:00:00:00:00:01",
        "--dest-mac",
        "02:00:00:00:00:02",
    ])
    .fails_with(40);
    assert!(
        out.stderr.contains("is not packet03's tx_port map"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("pinned: Hash"), "{out:#?}");
    assert!(out.stderr.contains("wanted: Devmap"), "{out:#?}");
    assert!(
        dump(&dir.0.join("redirect_params")).is_empty(),
        "redirect_params was written although tx_port was wrong"
    );

    // A value of the wrong size is refused too.
    let dir = PinDir::new();
    bpftool_map(
        &dir.0.join("redirect_target"),
        "array",
        4,
        8,
        1,
        "redirect_target",
    );
    let out = loader(&["redirect", "lo", "--to", "lo", "-p", dir.path()]).fails_with(40);
    assert!(out.stderr.contains("value 8 B"), "{out:#?}");
}

// ---------------------------------------------------------------------------
// xdp-loader redirect: filling the maps

#[test]
fn redirect_fills_the_maps_of_the_loaded_program() {
    let Some(from) = TestNet::for_privileged_test() else {
        return;
    };
    let to = TestNet::new();
    let (src, dest) = ("02:00:00:00:0a:01", "02:00:00:00:0b:02");
    loader(&[
        "load",
        from.host_if(),
        "xdp_redirect",
        "-n",
        "xdp_redirect_map_func",
    ])
    .ok();
    let out = loader(&[
        "redirect",
        from.host_if(),
        "--to",
        to.host_if(),
        "--src-mac",
        src,
        "--dest-mac",
        dest,
    ])
    .ok();

    let dir = Path::new("/sys/fs/bpf").join(from.host_if());
    let (from_index, to_index) = (ifindex(from.host_if()), ifindex(to.host_if()));
    assert!(
        out.stdout.contains(&format!("map dir: {}", dir.display())),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains(&format!(
            "redirect from ifnum={from_index} to ifnum={to_index}"
        )),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains(&format!("forward: {src} -> {dest}")),
        "{out:#?}"
    );

    let key0 = 0u32.to_ne_bytes().to_vec();
    assert_eq!(
        dump(&dir.join("tx_port")),
        vec![(key0.clone(), to_index.to_ne_bytes().to_vec())]
    );
    assert_eq!(
        dump(&dir.join("redirect_params")),
        vec![(mac_bytes(src), mac_bytes(dest))]
    );
    let mut target = to_index.to_ne_bytes().to_vec();
    target.extend(mac_bytes(dest));
    target.extend([0, 0]);
    assert_eq!(dump(&dir.join("redirect_target")), vec![(key0, target)]);

    // A second forward entry adds to redirect_params; the C tutorial's -d/-r/-L/-R spelling.
    loader(&[
        "redirect",
        "-d",
        from.host_if(),
        "-r",
        "lo",
        "-L",
        "02:00:00:00:0a:03",
        "-R",
        "02:00:00:00:0b:04",
    ])
    .ok();
    assert_eq!(dump(&dir.join("redirect_params")).len(), 2);
    assert_eq!(
        dump(&dir.join("tx_port"))[0].1,
        ifindex("lo").to_ne_bytes().to_vec()
    );
}

#[test]
fn redirect_with_pin_path_and_only_a_dest_mac() {
    let Some(from) = TestNet::for_privileged_test() else {
        return;
    };
    let dir = PinDir::new();
    loader(&[
        "load",
        from.host_if(),
        "xdp_redirect",
        "-n",
        "xdp_redirect_func",
        "-p",
        dir.path(),
    ])
    .ok();
    let dest = "02:00:00:00:0c:05";
    let out = loader(&[
        "redirect",
        from.host_if(),
        "--redirect-dev",
        "lo",
        "--dest-mac",
        dest,
        "-p",
        dir.path(),
    ])
    .ok();
    assert!(
        out.stdout.contains(&format!("map dir: {}", dir.path())),
        "{out:#?}"
    );
    // redirect_params is left alone, and the output says so.
    assert!(
        out.stdout.contains("redirect_params is unchanged"),
        "{out:#?}"
    );
    assert!(dump(&dir.0.join("redirect_params")).is_empty());

    let mut target = ifindex("lo").to_ne_bytes().to_vec();
    target.extend(mac_bytes(dest));
    target.extend([0, 0]);
    assert_eq!(
        dump(&dir.0.join("redirect_target")),
        vec![(0u32.to_ne_bytes().to_vec(), target)]
    );
    loader(&["unload", from.host_if(), "-p", dir.path()]).ok();
}

// ---------------------------------------------------------------------------
// xdp-loader testenv redirect

#[test]
fn testenv_redirect_carries_pings_between_namespaces_through_xdp() {
    let Some(lab) = Lab::new() else { return };
    let (a, b) = (lab.a(), lab.b());

    let out = lab.testenv(&["redirect", a, b]).ok();
    let ping_hint = format!(
        "xdp-loader testenv exec --name {a} -- ping -6 {}",
        lab.inside_ip(1)
    );
    assert!(out.stdout.contains(&ping_hint), "{out:#?}");

    // What ip sees: the redirect program outside, a program on both veth0s.
    for name in [a, b] {
        let outside = xdp_of(None, name).expect("XDP on the outside end");
        assert_eq!(outside["mode"], 1, "native: {outside:#}");
        assert_eq!(outside["prog"]["name"], "xdp_redirect_ma", "{outside:#}");
        assert!(
            xdp_of(Some(name), "veth0").is_some(),
            "no XDP on veth0 in {name}"
        );
    }
    // And what bpftool sees in a's maps: out of b, to b's veth0.
    let dir = Path::new("/sys/fs/bpf").join(a);
    assert_eq!(
        dump(&dir.join("tx_port")),
        vec![(vec![0; 4], ifindex(b).to_ne_bytes().to_vec())]
    );
    assert_eq!(
        dump(&dir.join("redirect_params")),
        vec![(
            mac_bytes(&mac_of(Some(a), "veth0")),
            mac_bytes(&mac_of(Some(b), "veth0"))
        )]
    );

    let before = [a, b].map(|name| stats_packets(&lab.stats_pin(name), XDP_REDIRECT));
    let count = 5;
    let ping = lab
        .testenv(&[
            "exec",
            "--name",
            a,
            "--",
            "ping",
            "-6",
            "-c",
            &count.to_string(),
            "-i",
            "0.2",
            "-W",
            "1",
            &lab.inside_ip(1),
        ])
        .ok();
    assert!(
        ping.stdout
            .contains(&format!("{count} packets transmitted, {count} received")),
        "{ping:#?}"
    );
    let after = [a, b].map(|name| stats_packets(&lab.stats_pin(name), XDP_REDIRECT));
    // a redirected the echo requests, b the replies.
    for i in 0..2 {
        assert!(
            after[i] - before[i] >= count,
            "{}: XDP_REDIRECT {} -> {}, expected at least {count} more",
            lab.names[i],
            before[i],
            after[i]
        );
    }

    // Twice is fine: everything is replaced, nothing piles up.
    lab.testenv(&["redirect", a, b]).ok();
    lab.testenv(&[
        "exec",
        "--name",
        b,
        "--",
        "ping",
        "-6",
        "-c",
        "1",
        "-W",
        "1",
        &lab.inside_ip(0),
    ])
    .ok();

    // teardown removes everything, the redirect included.
    for name in [a, b] {
        lab.testenv(&["teardown", "--name", name]).ok();
        assert!(!Path::new("/sys/class/net").join(name).exists());
        assert!(!Path::new("/run/netns").join(name).exists());
        assert!(!Path::new("/sys/fs/bpf").join(name).exists());
    }
}

#[test]
fn testenv_redirect_undoes_its_steps_when_one_fails() {
    let Some(lab) = Lab::new() else { return };
    let (a, b) = (lab.a(), lab.b());
    // b's tx_port pin is a hash map: loading b's program fails, after a's
    // program, both veth0 programs and both routes are in place.
    let b_dir = Path::new("/sys/fs/bpf").join(b);
    std::fs::create_dir_all(&b_dir).unwrap();
    bpftool_map(&b_dir.join("tx_port"), "hash", 4, 4, 4, "tx_port");

    let out = lab.testenv(&["redirect", a, b]).fails_with(40);
    assert!(
        out.stderr.contains(&format!(
            "cannot set up the redirect between '{a}' and '{b}'"
        )),
        "{out:#?}"
    );
    assert!(out.stderr.contains("tx_port"), "{out:#?}");

    for name in [a, b] {
        assert_eq!(xdp_of(None, name), None, "XDP left on {name}");
        assert_eq!(
            xdp_of(Some(name), "veth0"),
            None,
            "XDP left on veth0 in {name}"
        );
    }
    for (name, other) in [(a, 1), (b, 0)] {
        let routes = sh(
            "ip",
            &["-n", name, "-6", "route", "show", &lab.subnet(other)],
        );
        assert!(routes.trim().is_empty(), "route left in {name}: {routes}");
    }
    // a's pins were made by this run: gone. b's stranger stays.
    assert!(!Path::new("/sys/fs/bpf").join(a).exists());
    assert!(b_dir.join("tx_port").exists());
    // The environments still work.
    lab.testenv(&["ping", "--name", a, "-c", "1"]).ok();
}
