//! Test environments: the C tutorial's `testenv.sh` as `xdp-loader testenv`.
//!
//! An environment is a network namespace NAME holding `veth0`, joined by a
//! veth pair to the interface NAME out here. Load an XDP program on NAME and
//! send it traffic from inside with `testenv ping`:
//!
//! ```text
//!  this namespace                 namespace NAME
//!  NAME  fc00:dead:cafe:N::1 <==> veth0  fc00:dead:cafe:N::2
//!        10.11.N.1 (--legacy-ip)         10.11.N.2
//! ```
//!
//! `testenv redirect ENV1 ENV2` (packet03) joins two environments with XDP
//! redirects between their outside ends; see the `redirect` section below.
//!
//! The environments are remembered in `${TMPDIR:-/tmp}/xdp-tutorial-testlab`:
//! one `NAME.env` file each, `current` (the default for `--name`) and
//! `highest` (the last environment number N handed out).
//!
//! The work is done by `ip`, `sysctl`, `ethtool`, `ping` and `tcpdump`, as in
//! the shell script, so every step is a command a student can run by hand.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::attach;
use crate::builtin;
use crate::cli::{AttachKind, EnvName, Mode, TestenvCommand};
use crate::error::{Exit, Failure};
use crate::iface::{self, Attached, Interface};
use crate::maps::{self, PinPlan};
use crate::object::{self, Selection, Source};
use crate::pin;
use crate::redirect::{self, Mac};
use crate::signals;

/// The inside end of the veth pair.
const INSIDE_IF: &str = "veth0";
/// IPv6 addresses are `fc00:dead:cafe:<N in hex>::1` and `::2`.
const IP6_BASE: &str = "fc00:dead:cafe";
/// IPv4 addresses (`--legacy-ip`) are `10.11.<N>.1` and `.2`.
const IP4_BASE: &str = "10.11";
/// The VLAN ids `--vlan` creates on both ends.
const VLAN_IDS: [u32; 2] = [1, 2];
/// Interface names have at most 15 characters (IFNAMSIZ 16, with the NUL).
const MAX_IFNAME: usize = 15;
/// Test hook: the first environment number when no counter exists yet, so
/// tests running in parallel (each with its own TMPDIR) get distinct subnets.
const FIRST_NUM_VAR: &str = "XDP_TESTENV_FIRST_NUM";

pub fn run(cmd: &TestenvCommand) -> anyhow::Result<()> {
    let state = State::open();
    match cmd {
        TestenvCommand::Setup {
            env,
            legacy_ip,
            vlan,
        } => setup(&state, env, *legacy_ip, *vlan),
        TestenvCommand::Teardown { env } => teardown(&state, env),
        TestenvCommand::Status => status(&state),
        TestenvCommand::Ping {
            env,
            legacy_ip,
            count,
        } => ping(&state, env, *legacy_ip, *count),
        TestenvCommand::Exec { env, command } => {
            let env = live_env(&state, env, "exec")?;
            exec_inside(&env, command)
        }
        TestenvCommand::Enter { env } => enter(&state, env),
        TestenvCommand::Tcpdump { env, inner } => tcpdump(&state, env, *inner),
        TestenvCommand::Redirect { env1, env2 } => redirect(&state, env1, env2),
    }
}

/// The environment commands use when `--name` is not given: the last one set up.
pub fn current_name() -> Option<String> {
    State::open().current()
}

// ---------------------------------------------------------------------------
// Environments and their addresses (pure: no system calls).

/// What `setup` created, as remembered in `NAME.env`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Env {
    name: String,
    /// Makes this environment's subnets unique.
    num: u32,
    legacy_ip: bool,
    vlan: bool,
}

/// One subnet across the pair: the outside and inside interface and addresses.
#[derive(Debug, PartialEq, Eq)]
struct Subnet {
    outside_if: String,
    inside_if: String,
    outside_ip: String,
    inside_ip: String,
    prefix_len: u8,
}

impl Subnet {
    fn is_ipv6(&self) -> bool {
        self.outside_ip.contains(':')
    }
}

/// The /64 of environment `num` on VLAN `vid` (0: no VLAN), e.g. `fc00:dead:cafe:1`.
/// The VLAN id goes in the top hex digit of the 4th group, like testenv.sh.
fn ip6_prefix(num: u32, vid: u32) -> String {
    format!("{IP6_BASE}:{:x}", num + vid * 4096)
}

fn ip4_prefix(num: u32) -> String {
    format!("{IP4_BASE}.{num}")
}

impl Env {
    fn outside_ip6(&self) -> String {
        format!("{}::1", ip6_prefix(self.num, 0))
    }

    fn inside_ip6(&self) -> String {
        format!("{}::2", ip6_prefix(self.num, 0))
    }

    fn outside_ip4(&self) -> String {
        format!("{}.1", ip4_prefix(self.num))
    }

    fn inside_ip4(&self) -> String {
        format!("{}.2", ip4_prefix(self.num))
    }

    /// (outside, inside) names of the VLAN interfaces, e.g. `NAME.1`, `veth0.1`.
    fn vlan_ifs(&self, vid: u32) -> (String, String) {
        (format!("{}.{vid}", self.name), format!("{INSIDE_IF}.{vid}"))
    }

    /// Every subnet to configure: IPv6, then IPv4 and the VLANs if asked for.
    fn subnets(&self) -> Vec<Subnet> {
        let mut subnets = vec![Subnet {
            outside_if: self.name.clone(),
            inside_if: INSIDE_IF.into(),
            outside_ip: self.outside_ip6(),
            inside_ip: self.inside_ip6(),
            prefix_len: 64,
        }];
        if self.legacy_ip {
            subnets.push(Subnet {
                outside_if: self.name.clone(),
                inside_if: INSIDE_IF.into(),
                outside_ip: self.outside_ip4(),
                inside_ip: self.inside_ip4(),
                prefix_len: 24,
            });
        }
        if self.vlan {
            for vid in VLAN_IDS {
                let (outside_if, inside_if) = self.vlan_ifs(vid);
                let prefix = ip6_prefix(self.num, vid);
                subnets.push(Subnet {
                    outside_if,
                    inside_if,
                    outside_ip: format!("{prefix}::1"),
                    inside_ip: format!("{prefix}::2"),
                    prefix_len: 64,
                });
            }
        }
        subnets
    }

    /// Refuses numbers that do not fit in the addresses.
    fn check_num(&self) -> Result<(), String> {
        let top_vid = if self.vlan { VLAN_IDS[1] } else { 0 };
        if self.num == 0 || self.num + top_vid * 4096 > 0xffff {
            return Err(format!(
                "environment number {} does not fit in an IPv6 prefix ({}:<N>::/64)",
                self.num, IP6_BASE
            ));
        }
        if self.legacy_ip && self.num > 255 {
            return Err(format!(
                "environment number {} is too large for IPv4 ({IP4_BASE}.<N>.0/24 needs N <= 255)",
                self.num
            ));
        }
        Ok(())
    }

    /// The `NAME.env` file: `key=value` lines.
    fn format(&self) -> String {
        format!(
            "num={}\nlegacy_ip={}\nvlan={}\n",
            self.num, self.legacy_ip as u8, self.vlan as u8
        )
    }

    fn parse(name: &str, text: &str) -> Result<Env, String> {
        let mut env = Env {
            name: name.into(),
            num: 0,
            legacy_ip: false,
            vlan: false,
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("not key=value: '{line}'"))?;
            let bad = || format!("bad value for {key}: '{value}'");
            match key {
                "num" => env.num = value.parse().map_err(|_| bad())?,
                "legacy_ip" => env.legacy_ip = parse_flag(value).ok_or_else(bad)?,
                "vlan" => env.vlan = parse_flag(value).ok_or_else(bad)?,
                _ => {} // a newer version's key: ignore it
            }
        }
        if env.num == 0 {
            return Err("no num=N line".into());
        }
        Ok(env)
    }
}

fn parse_flag(value: &str) -> Option<bool> {
    match value {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// An environment name becomes an interface name, a namespace name and a
/// file name, so it must be valid (and harmless) as all three.
fn validate_name(name: &str, vlan: bool) -> Result<(), String> {
    // `--vlan` appends `.1`/`.2` for the VLAN interfaces.
    let max = if vlan { MAX_IFNAME - 2 } else { MAX_IFNAME };
    if name.is_empty() {
        return Err("the environment name is empty".into());
    }
    if name.len() > max {
        let why = if vlan { " with --vlan" } else { "" };
        return Err(format!(
            "environment name '{name}' is too long: at most {max} characters{why} \
             (it is also an interface name)"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c)))
    {
        return Err(format!(
            "environment name '{name}' contains '{bad}': use only letters, digits, '_', '.' and '-'"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "environment name '{name}' must start with a letter, digit or '_'"
        ));
    }
    Ok(())
}

/// `xdptut-XXXX`, XXXX from the clock and pid (random enough for a name).
fn random_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mix = nanos ^ std::process::id().wrapping_mul(2_654_435_761);
    format!("xdptut-{:04x}", (mix ^ (mix >> 16)) & 0xffff)
}

/// The MAC address in the output of `ip -j link show dev X`.
fn mac_from_json(text: &str) -> Option<String> {
    let links: serde_json::Value = serde_json::from_str(text).ok()?;
    links.get(0)?.get("address")?.as_str().map(str::to_owned)
}

/// The link kind (`veth`, `vlan`...) in the output of `ip -j -d link show dev X`.
fn kind_from_json(text: &str) -> Option<String> {
    let links: serde_json::Value = serde_json::from_str(text).ok()?;
    let kind = links.get(0)?.get("linkinfo")?.get("info_kind")?;
    kind.as_str().map(str::to_owned)
}

// ---------------------------------------------------------------------------
// The state directory.

struct State {
    dir: PathBuf,
}

impl State {
    /// `${TMPDIR:-/tmp}/xdp-tutorial-testlab` (an empty TMPDIR counts as unset, like the shell).
    /// Created by the first setup: until then, there are no environments.
    fn open() -> State {
        let tmp = std::env::var_os("TMPDIR")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        State {
            dir: tmp.join("xdp-tutorial-testlab"),
        }
    }

    fn create_dir(&self) -> Result<(), Failure> {
        fs::create_dir_all(&self.dir).map_err(|e| io_failure("cannot create", &self.dir, e))
    }

    fn env_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.env"))
    }

    fn has(&self, name: &str) -> bool {
        self.env_path(name).exists()
    }

    /// The environment NAME, or None when it has no state file.
    fn load(&self, name: &str) -> Result<Option<Env>, Failure> {
        let path = self.env_path(name);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_failure("cannot read", &path, e)),
        };
        Env::parse(name, &text).map(Some).map_err(|why| {
            Failure::new(
                Exit::Fail,
                format!("state file {} is damaged: {why}", path.display()),
            )
            .hint(format!(
                "remove the environment: xdp-loader testenv teardown --name {name}"
            ))
        })
    }

    fn save(&self, env: &Env) -> Result<(), Failure> {
        let path = self.env_path(&env.name);
        fs::write(&path, env.format()).map_err(|e| io_failure("cannot write", &path, e))
    }

    fn remove(&self, name: &str) -> Result<(), Failure> {
        remove_file_if_exists(&self.env_path(name))
    }

    /// Every environment with a state file, sorted by name.
    fn names(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| {
                let file = entry.ok()?.file_name().into_string().ok()?;
                file.strip_suffix(".env").map(str::to_owned)
            })
            .collect();
        names.sort();
        names
    }

    fn current(&self) -> Option<String> {
        let text = fs::read_to_string(self.dir.join("current")).ok()?;
        let name = text.trim();
        (!name.is_empty()).then(|| name.to_owned())
    }

    fn set_current(&self, name: &str) -> Result<(), Failure> {
        let path = self.dir.join("current");
        fs::write(&path, format!("{name}\n")).map_err(|e| io_failure("cannot write", &path, e))
    }

    fn forget_current_if(&self, name: &str) -> Result<(), Failure> {
        if self.current().as_deref() == Some(name) {
            remove_file_if_exists(&self.dir.join("current"))?;
        }
        Ok(())
    }

    /// The number for a new environment: one more than the highest used.
    fn next_num(&self) -> Result<u32, Failure> {
        let path = self.dir.join("highest");
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<u32>().map(|n| n + 1).map_err(|_| {
                Failure::new(
                    Exit::Fail,
                    format!("counter file {} is damaged", path.display()),
                )
                .hint(format!(
                    "remove it to restart numbering: rm {}",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => first_num(),
            Err(e) => Err(io_failure("cannot read", &path, e)),
        }
    }

    fn set_highest(&self, num: u32) -> Result<(), Failure> {
        let path = self.dir.join("highest");
        fs::write(&path, format!("{num}\n")).map_err(|e| io_failure("cannot write", &path, e))
    }
}

/// 1, or the value of the test hook `XDP_TESTENV_FIRST_NUM`.
fn first_num() -> Result<u32, Failure> {
    match std::env::var(FIRST_NUM_VAR) {
        Err(_) => Ok(1),
        Ok(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                Failure::new(
                    Exit::Usage,
                    format!("{FIRST_NUM_VAR}='{text}' is not a positive number"),
                )
            }),
    }
}

fn io_failure(what: &str, path: &Path, err: io::Error) -> Failure {
    Failure::new(Exit::Fail, format!("{what} {}: {err}", path.display()))
}

fn remove_file_if_exists(path: &Path) -> Result<(), Failure> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_failure("cannot remove", path, e)),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Running commands.

/// Runs PROGRAM ARGS and returns its stdout. Any failure becomes a Failure
/// naming the command line, with its stderr as detail lines.
fn run_cmd(program: &str, args: &[&str]) -> Result<String, Failure> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| spawn_failure(program, e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Failure::new(
            Exit::Fail,
            format!("`{}` failed ({})", command_line(program, args), out.status),
        )
        .details(stderr.lines().map(str::to_owned)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip ARGS` in this namespace.
fn ip(args: &[&str]) -> Result<String, Failure> {
    run_cmd("ip", args)
}

/// `ip -n NS ARGS`: an `ip` command inside namespace NS.
fn ip_in(ns: &str, args: &[&str]) -> Result<String, Failure> {
    let full: Vec<&str> = ["-n", ns].iter().chain(args).copied().collect();
    run_cmd("ip", &full)
}

/// `ip netns exec NS PROGRAM ARGS`: any program inside namespace NS.
fn in_netns(ns: &str, program: &str, args: &[&str]) -> Result<String, Failure> {
    let full: Vec<&str> = ["netns", "exec", ns, program]
        .iter()
        .chain(args)
        .copied()
        .collect();
    run_cmd("ip", &full)
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

fn spawn_failure(program: &str, err: io::Error) -> Failure {
    let failure = Failure::new(Exit::Fail, format!("cannot run {program}: {err}"));
    if err.kind() != io::ErrorKind::NotFound {
        return failure;
    }
    match program {
        "ip" => failure.hint("apt-get install iproute2"),
        "tcpdump" => failure.hint("apt-get install tcpdump (or make deps)"),
        _ => failure.hint(format!("install {program}")),
    }
}

/// Is PROGRAM in $PATH? (`ip netns exec` would only say "exec failed".)
fn in_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
}

/// Runs an interactive command with our stdin/stdout/stderr and waits for it.
///
/// Like system(3), we ignore Ctrl-C while it runs: the terminal sends SIGINT
/// to both processes, and the child (tcpdump, ping, a shell) should decide
/// when to stop, not us. It is ignored only after the spawn, so the child
/// still gets the default behaviour.
fn run_interactive(cmd: &mut Command) -> Result<ExitStatus, Failure> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd.spawn().map_err(|e| spawn_failure(&program, e))?;
    // SAFETY: signal() only changes this process's dispositions; we restore them.
    let (old_int, old_quit) = unsafe {
        (
            libc::signal(libc::SIGINT, libc::SIG_IGN),
            libc::signal(libc::SIGQUIT, libc::SIG_IGN),
        )
    };
    let status = child.wait();
    // SAFETY: puts back what signal() returned above.
    unsafe {
        libc::signal(libc::SIGINT, old_int);
        libc::signal(libc::SIGQUIT, old_quit);
    }
    status.map_err(|e| Failure::new(Exit::Fail, format!("waiting for {program}: {e}")))
}

/// `ip netns exec NAME ...` with our stdio and `TESTENV_NAME=NAME`.
fn netns_command(env: &Env, argv: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &env.name])
        .args(argv)
        .env("TESTENV_NAME", &env.name);
    cmd
}

// ---------------------------------------------------------------------------
// Checks shared by the commands.

fn require_root(what: &str) -> Result<(), Failure> {
    crate::commands::require_root(&format!("xdp-loader testenv {what}"))
}

fn link_exists(ifname: &str) -> bool {
    Path::new("/sys/class/net").join(ifname).exists()
}

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// `--name`, or else the current environment; checked either way.
fn selected_name(state: &State, env: &EnvName) -> Result<String, Failure> {
    let name = match &env.name {
        Some(name) => name.clone(),
        None => state.current().ok_or_else(|| {
            Failure::new(Exit::Fail, "no test environment selected")
                .hint("create one: xdp-loader testenv setup (or pass --name NAME)")
        })?,
    };
    validate_name(&name, false).map_err(|msg| Failure::new(Exit::Usage, msg))?;
    Ok(name)
}

fn no_such_env(state: &State, name: &str) -> Failure {
    let existing = state.names();
    let hint = if existing.is_empty() {
        "there are none: create one with xdp-loader testenv setup".to_owned()
    } else {
        format!("existing environments: {}", existing.join(", "))
    };
    Failure::new(Exit::Fail, format!("no test environment '{name}'")).hint(hint)
}

/// The selected environment, which must still have its namespace.
fn live_env(state: &State, env: &EnvName, what: &str) -> Result<Env, Failure> {
    let name = selected_name(state, env)?;
    let env = state
        .load(&name)?
        .ok_or_else(|| no_such_env(state, &name))?;
    require_root(what)?;
    if !netns_exists(&name) {
        return Err(
            Failure::new(Exit::Fail, format!("the namespace of '{name}' is gone")).hint(format!(
                "recreate it: xdp-loader testenv teardown --name {name} && \
                 xdp-loader testenv setup --name {name}"
            )),
        );
    }
    Ok(env)
}

// ---------------------------------------------------------------------------
// setup

fn setup(state: &State, env: &EnvName, legacy_ip: bool, vlan: bool) -> anyhow::Result<()> {
    let name = env.name.clone().unwrap_or_else(random_name);
    validate_name(&name, vlan).map_err(|msg| Failure::new(Exit::Usage, msg))?;
    require_root("setup")?;
    refuse_existing(state, &name)?;

    state.create_dir()?;
    let num = state.next_num()?;
    let env = Env {
        name,
        num,
        legacy_ip,
        vlan,
    };
    env.check_num().map_err(|msg| {
        Failure::new(Exit::Fail, msg).hint(format!(
            "restart the numbering with rm {}",
            state.dir.join("highest").display()
        ))
    })?;
    state.set_highest(num)?;
    // Saved first: if setup is interrupted, teardown still finds it.
    state.save(&env)?;
    if let Err(mut failure) = create(&env) {
        undo(state, &env);
        failure.message = format!("cannot set up '{}': {}", env.name, failure.message);
        if failure.hint.is_none() {
            failure = failure.hint("nothing was left behind: what setup had created is removed");
        }
        return Err(failure.into());
    }
    state.set_current(&env.name)?;

    check_ping(&env);
    print_setup(&env);
    Ok(())
}

fn refuse_existing(state: &State, name: &str) -> Result<(), Failure> {
    let teardown = format!("remove it first: xdp-loader testenv teardown --name {name}");
    let (what, hint) = if state.has(name) {
        ("a test environment", teardown)
    } else if netns_exists(name) {
        ("a network namespace", teardown)
    } else if link_exists(name) {
        // Not an environment, so teardown would refuse to delete it.
        ("an interface", "choose another name with --name".to_owned())
    } else {
        return Ok(());
    };
    Err(Failure::new(Exit::Fail, format!("{what} named '{name}' already exists")).hint(hint))
}

/// Builds the environment; stops at the first failing step.
fn create(env: &Env) -> Result<(), Failure> {
    let ns = env.name.as_str();
    ip(&["netns", "add", ns])?;
    ip(&[
        "link", "add", "dev", ns, "type", "veth", "peer", "name", INSIDE_IF, "netns", ns,
    ])?;
    let mut pairs = vec![(ns.to_owned(), INSIDE_IF.to_owned())];
    if env.vlan {
        for vid in VLAN_IDS {
            let (outside, inside) = env.vlan_ifs(vid);
            let id = vid.to_string();
            ip(&[
                "link", "add", "link", ns, "name", &outside, "type", "vlan", "id", &id,
            ])
            .map_err(|failure| {
                failure.hint(
                    "the kernel needs 802.1Q VLAN support (CONFIG_VLAN_8021Q): modprobe 8021q",
                )
            })?;
            ip_in(
                ns,
                &[
                    "link", "add", "link", INSIDE_IF, "name", &inside, "type", "vlan", "id", &id,
                ],
            )?;
            pairs.push((outside, inside));
        }
    }
    for (outside, inside) in &pairs {
        quiet_ipv6(ns, outside, inside)?;
    }
    ip_in(ns, &["link", "set", "lo", "up"])?;
    for (outside, inside) in &pairs {
        ip(&["link", "set", outside, "up"])?;
        ip_in(ns, &["link", "set", inside, "up"])?;
    }
    // A VLAN interface has its parent's MAC, so one pair of MACs serves all.
    let outside_mac = read_mac(ip(&["-j", "link", "show", "dev", ns])?, ns)?;
    let inside_mac = read_mac(
        ip_in(ns, &["-j", "link", "show", "dev", INSIDE_IF])?,
        INSIDE_IF,
    )?;
    for subnet in env.subnets() {
        configure_subnet(ns, &subnet, &outside_mac, &inside_mac)?;
    }
    add_routes(env)?;
    vlan_offload_off(ns);
    Ok(())
}

/// No duplicate address detection, router advertisements or solicitations:
/// the addresses work at once, and only the packets we send cross the link.
fn quiet_ipv6(ns: &str, outside_if: &str, inside_if: &str) -> Result<(), Failure> {
    for key in ["accept_dad", "accept_ra", "router_solicitations"] {
        let path = format!("/proc/sys/net/ipv6/conf/{outside_if}/{key}");
        fs::write(&path, "0").map_err(|e| io_failure("cannot write", Path::new(&path), e))?;
        // The '/' form keeps the '.' of VLAN interface names (veth0.1) intact.
        let setting = format!("net/ipv6/conf/{inside_if}/{key}=0");
        in_netns(ns, "sysctl", &["-qw", &setting])?;
    }
    Ok(())
}

fn read_mac(json: String, ifname: &str) -> Result<String, Failure> {
    mac_from_json(&json).ok_or_else(|| {
        Failure::new(
            Exit::Fail,
            format!("cannot read the MAC address of {ifname} from `ip -j link show`"),
        )
    })
}

/// Addresses on both ends, and permanent neighbour entries both ways, so no
/// neighbour discovery or ARP traffic shows up in a student's counters.
fn configure_subnet(
    ns: &str,
    subnet: &Subnet,
    outside_mac: &str,
    inside_mac: &str,
) -> Result<(), Failure> {
    let outside_cidr = format!("{}/{}", subnet.outside_ip, subnet.prefix_len);
    let inside_cidr = format!("{}/{}", subnet.inside_ip, subnet.prefix_len);
    let ipv6 = subnet.is_ipv6();
    ip(&addr_add(&outside_cidr, &subnet.outside_if, ipv6))?;
    ip_in(ns, &addr_add(&inside_cidr, &subnet.inside_if, ipv6))?;
    ip(&neigh_add(
        &subnet.inside_ip,
        inside_mac,
        &subnet.outside_if,
    ))?;
    ip_in(
        ns,
        &neigh_add(&subnet.outside_ip, outside_mac, &subnet.inside_if),
    )?;
    Ok(())
}

/// `ip addr add CIDR dev DEV`, plus `nodad` (an IPv6-only flag) for IPv6.
fn addr_add<'a>(cidr: &'a str, dev: &'a str, ipv6: bool) -> Vec<&'a str> {
    let mut args = vec!["addr", "add", cidr, "dev", dev];
    if ipv6 {
        args.push("nodad");
    }
    args
}

/// `ip neigh add IP lladdr MAC nud permanent dev DEV`: an entry that never expires.
fn neigh_add<'a>(ip: &'a str, mac: &'a str, dev: &'a str) -> [&'a str; 9] {
    [
        "neigh",
        "add",
        ip,
        "lladdr",
        mac,
        "nud",
        "permanent",
        "dev",
        dev,
    ]
}

/// Inside, every environment's subnet is reached through the outside end.
fn add_routes(env: &Env) -> Result<(), Failure> {
    let ns = env.name.as_str();
    let all6 = format!("{IP6_BASE}::/48");
    ip_in(
        ns,
        &["-6", "route", "add", &all6, "via", &env.outside_ip6()],
    )?;
    if env.legacy_ip {
        let all4 = format!("{IP4_BASE}.0.0/16");
        ip_in(
            ns,
            &["-4", "route", "add", &all4, "via", &env.outside_ip4()],
        )?;
    }
    Ok(())
}

/// With VLAN offload the tag is not in the packet data, so an XDP program
/// parsing VLAN headers would never see it. Best effort: ethtool may be missing.
fn vlan_offload_off(ns: &str) {
    let _ = run_cmd("ethtool", &["-K", ns, "rxvlan", "off", "txvlan", "off"]);
    let off_inside = ["-K", INSIDE_IF, "rxvlan", "off", "txvlan", "off"];
    let _ = in_netns(ns, "ethtool", &off_inside);
}

/// Removes whatever a failed setup created (errors ignored: parts may not exist).
fn undo(state: &State, env: &Env) {
    let _ = ip(&["link", "del", "dev", &env.name]);
    let _ = ip(&["netns", "del", &env.name]);
    let _ = state.remove(&env.name);
}

/// One ping from inside; a failure is only a warning (the environment exists).
fn check_ping(env: &Env) {
    let target = env.outside_ip6();
    if let Err(failure) = in_netns(&env.name, "ping", &["-6", "-c1", "-W2", &target]) {
        eprintln!("Warning: {}", failure.message);
        for line in &failure.details {
            eprintln!("  {line}");
        }
    }
}

fn print_setup(env: &Env) {
    println!(
        "Setup environment '{}' with peer ip {}.",
        env.name,
        env.inside_ip6()
    );
    if env.legacy_ip {
        println!(
            "  IPv4 peer ip {} (outside end {}).",
            env.inside_ip4(),
            env.outside_ip4()
        );
    }
    for vlan in env.subnets().iter().filter(|s| s.outside_if != env.name) {
        println!(
            "  VLAN {} <-> {} with peer ip {}.",
            vlan.outside_if, vlan.inside_if, vlan.inside_ip
        );
    }
    println!("Load a program: xdp-loader load {} xdp_pass", env.name);
}

// ---------------------------------------------------------------------------
// teardown

fn teardown(state: &State, env: &EnvName) -> anyhow::Result<()> {
    let name = selected_name(state, env)?;
    // An interface of that name alone is not an environment: never delete eth0.
    if !state.has(&name) && !netns_exists(&name) {
        return Err(no_such_env(state, &name).into());
    }
    require_root("teardown")?;

    remove_pins(&name)?;
    if is_veth(&name) {
        // Deleting one end of a veth pair deletes both.
        ip(&["link", "del", "dev", &name])?;
    }
    if netns_exists(&name) {
        ip(&["netns", "del", &name])?;
    }
    state.remove(&name)?;
    state.forget_current_if(&name)?;
    println!("Removed environment '{name}'.");
    Ok(())
}

fn is_veth(ifname: &str) -> bool {
    link_exists(ifname)
        && ip(&["-j", "-d", "link", "show", "dev", ifname])
            .ok()
            .and_then(|json| kind_from_json(&json))
            .as_deref()
            == Some("veth")
}

/// Pins of programs loaded on the environment: by the lessons, and by xdp-loader.
fn remove_pins(name: &str) -> Result<(), Failure> {
    for dir in [pin::default_dir(name), pin::loader_dir(name)] {
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_failure("cannot remove the pins in", &dir, e));
            }
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// status

fn status(state: &State) -> anyhow::Result<()> {
    let names = state.names();
    if names.is_empty() {
        println!("No test environments (create one: xdp-loader testenv setup)");
        return Ok(());
    }
    let current = state.current().filter(|name| names.contains(name));
    match &current {
        Some(name) => match state.load(name)? {
            Some(env) => print_env(&env),
            None => println!("No environment selected."),
        },
        None => println!("No environment selected (pass --name to the commands)."),
    }
    println!();
    println!("All environments:");
    for name in &names {
        let marker = if current.as_deref() == Some(name) {
            '*'
        } else {
            ' '
        };
        let summary = match state.load(name) {
            Ok(Some(env)) => summary(&env),
            Ok(None) => "(gone)".into(),
            Err(failure) => failure.message,
        };
        println!("{marker} {name:<15} {summary}");
    }
    Ok(())
}

fn print_env(env: &Env) {
    let gone = |present: bool| if present { "" } else { "  (missing!)" };
    println!("Selected environment: {}", env.name);
    println!("  Namespace: {}{}", env.name, gone(netns_exists(&env.name)));
    println!("  Subnets (outside interface and ip <-> inside):");
    for s in env.subnets() {
        let missing = gone(link_exists(&s.outside_if));
        println!(
            "    {:<10} {:>22}/{:<3} <-> {:<8} {}{missing}",
            s.outside_if, s.outside_ip, s.prefix_len, s.inside_if, s.inside_ip
        );
    }
}

fn summary(env: &Env) -> String {
    let mut text = format!("N={} {}::/64", env.num, ip6_prefix(env.num, 0));
    if env.legacy_ip {
        text += &format!(" {}.0/24", ip4_prefix(env.num));
    }
    if env.vlan {
        text += " +vlan";
    }
    text
}

// ---------------------------------------------------------------------------
// ping, exec, enter, tcpdump

fn ping(state: &State, env: &EnvName, legacy_ip: bool, count: u64) -> anyhow::Result<()> {
    let env = live_env(state, env, "ping")?;
    let (family, target) = if legacy_ip {
        if !env.legacy_ip {
            return Err(
                Failure::new(Exit::Usage, format!("'{}' has no IPv4 addresses", env.name))
                    .hint(format!(
                        "set it up with --legacy-ip: xdp-loader testenv teardown --name {0} && \
                 xdp-loader testenv setup --name {0} --legacy-ip",
                        env.name
                    ))
                    .into(),
            );
        }
        ("-4", env.outside_ip4())
    } else {
        ("-6", env.outside_ip6())
    };
    let count = count.to_string();
    let status = run_interactive(&mut netns_command(
        &env,
        // -W 1: a dropped echo request fails in a second, not ping's 10 s.
        &["ping", family, "-c", &count, "-W", "1", &target],
    ))?;
    if !status.success() {
        return Err(
            Failure::new(Exit::Fail, format!("ping from {} failed", env.name))
                .hint(format!(
                    "is an XDP program dropping the packets? see xdp-loader status {}",
                    env.name
                ))
                .into(),
        );
    }
    Ok(())
}

/// Runs ARGV inside the namespace and exits with its exit code if it fails.
///
/// `Failure` only carries this tool's own exit codes, and scripts need the
/// command's, so a failing command ends the process here directly.
fn exec_inside(env: &Env, argv: &[String]) -> anyhow::Result<()> {
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let status = run_interactive(&mut netns_command(env, &argv))?;
    if status.success() {
        return Ok(());
    }
    // Killed by a signal: the shell convention, 128 + signal number.
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    std::process::exit(code);
}

fn enter(state: &State, env: &EnvName) -> anyhow::Result<()> {
    let env = live_env(state, env, "enter")?;
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/bash".into());
    eprintln!(
        "Entering namespace '{}' ({INSIDE_IF} is the inside end); exit the shell to leave.",
        env.name
    );
    exec_inside(&env, &[shell])
}

fn tcpdump(state: &State, env: &EnvName, inner: bool) -> anyhow::Result<()> {
    let env = live_env(state, env, "tcpdump")?;
    if !in_path("tcpdump") {
        return Err(Failure::new(Exit::Fail, "tcpdump is not installed")
            .hint("apt-get install tcpdump (or make deps)")
            .into());
    }
    let mut cmd = if inner {
        netns_command(&env, &["tcpdump", "-nei", INSIDE_IF])
    } else {
        let mut cmd = Command::new("tcpdump");
        cmd.args(["-nei", &env.name]);
        cmd
    };
    let status = run_interactive(&mut cmd)?;
    if !status.success() {
        return Err(Failure::new(Exit::Fail, format!("tcpdump exited with {status}")).into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// redirect (packet03): the tutorial's `t redirect ENV1 ENV2`
//
//  namespace ENV1                                              namespace ENV2
//  veth0 ---> ENV1 (xdp_redirect_map_func) ==redirect==> ENV2 ---> veth0
//  veth0 <--- ENV1 <==redirect== (xdp_redirect_map_func) ENV2 <--- veth0
//
// Each outside end redirects the frames its namespace sends straight out of
// the other outside end, rewriting the destination MAC to the other veth0's.

/// One side of the redirect: an environment and what it is made of.
struct Side {
    env: Env,
    outside: Interface,
    outside_mac: Mac,
    inside_mac: Mac,
}

impl Side {
    fn read(env: Env) -> Result<Side, Failure> {
        let outside = iface::resolve(&env.name)?;
        let outside_mac = mac_of(ip(&["-j", "link", "show", "dev", &env.name])?, &env.name)?;
        let inside_mac = mac_of(
            ip_in(&env.name, &["-j", "link", "show", "dev", INSIDE_IF])?,
            INSIDE_IF,
        )?;
        Ok(Side {
            env,
            outside,
            outside_mac,
            inside_mac,
        })
    }

    /// The peer's subnets this side's namespace must route out of veth0:
    /// (ip family flag, subnet, the peer's inside address).
    fn routes_to(&self, peer: &Side) -> Vec<(&'static str, String, String)> {
        let mut routes = vec![(
            "-6",
            format!("{}::/64", ip6_prefix(peer.env.num, 0)),
            peer.env.inside_ip6(),
        )];
        if self.env.legacy_ip && peer.env.legacy_ip {
            routes.push((
                "-4",
                format!("{}.0/24", ip4_prefix(peer.env.num)),
                peer.env.inside_ip4(),
            ));
        }
        routes
    }
}

fn mac_of(json: String, ifname: &str) -> Result<Mac, Failure> {
    let text = read_mac(json, ifname)?;
    text.parse().map_err(|why| {
        Failure::new(
            Exit::Fail,
            format!("{ifname} has the address '{text}', not an Ethernet MAC: {why}"),
        )
    })
}

/// A change `redirect` made, and so must undo if a later step fails.
enum Done {
    /// A program attached to veth0 inside the namespace.
    InsideProgram { ns: String, prog_id: u32 },
    /// A route to the peer's subnet and a neighbour entry for its address.
    Route {
        ns: String,
        family: &'static str,
        subnet: String,
        neighbour: String,
    },
    /// The redirect program on an outside end, and the map pins its load created.
    OutsideProgram {
        iface: Interface,
        prog_id: u32,
        pins: PinPlan,
    },
}

impl Done {
    /// Best effort: every step is tried, errors ignored.
    fn undo(self) {
        let netlink = |prog_id| Attached {
            mode: Mode::Native,
            prog_id,
            link_id: None,
        };
        match self {
            Done::InsideProgram { ns, prog_id } => {
                let _ = on_thread_in_netns(&ns, || {
                    let veth0 = iface::resolve(INSIDE_IF)?;
                    attach::detach(&veth0, &netlink(prog_id))
                        .map_err(|e| attach::explain_detach(&veth0, &netlink(prog_id), e))
                });
            }
            Done::Route {
                ns,
                family,
                subnet,
                neighbour,
            } => {
                let _ = ip_in(&ns, &[family, "route", "del", &subnet, "dev", INSIDE_IF]);
                let _ = ip_in(&ns, &[family, "neigh", "del", &neighbour, "dev", INSIDE_IF]);
            }
            Done::OutsideProgram {
                iface,
                prog_id,
                pins,
            } => {
                let _ = attach::detach(&iface, &netlink(prog_id));
                pins.undo();
            }
        }
    }
}

/// Runs `work` on a helper thread that has joined network namespace `ns`
/// (through /run/netns/NS, like `ip netns exec`, but without its private
/// mount namespace, which would hide bpffs). This thread stays where it is.
fn on_thread_in_netns<T: Send>(
    ns: &str,
    work: impl FnOnce() -> Result<T, Failure> + Send,
) -> Result<T, Failure> {
    let path = Path::new("/run/netns").join(ns);
    let file = fs::File::open(&path).map_err(|e| io_failure("cannot open", &path, e))?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: a valid namespace fd; setns(CLONE_NEWNET) only
                // moves the calling (helper) thread.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    let err = io::Error::last_os_error();
                    return Err(Failure::new(
                        Exit::Fail,
                        format!("cannot enter namespace {ns}: {err}"),
                    ));
                }
                work()
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Failure::new(
                    Exit::Fail,
                    format!("the helper thread in namespace {ns} panicked"),
                ))
            })
    })
}

/// A built-in object (never a file of that name in the current directory).
fn builtin_source(name: &str) -> Result<Source, Failure> {
    builtin::find(name).map(Source::Builtin).ok_or_else(|| {
        Failure::new(
            Exit::Bpf,
            format!("this xdp-loader has no built-in program '{name}'"),
        )
        .hint(format!(
            "the built-ins are: {} (see `xdp-loader list`)",
            builtin::names().join(", ")
        ))
    })
}

/// Native, netlink, replacing whatever runs there (like `load --force`).
fn attach_request<'a>(iface: &'a Interface, prog_fd: BorrowedFd<'a>) -> attach::Request<'a> {
    attach::Request {
        iface,
        prog_fd,
        mode: Mode::Native,
        kind: AttachKind::Netlink,
        force: true,
    }
}

fn redirect(state: &State, name1: &str, name2: &str) -> anyhow::Result<()> {
    if name1 == name2 {
        return Err(
            Failure::new(Exit::Usage, format!("cannot redirect '{name1}' to itself"))
                .hint("name two environments: xdp-loader testenv redirect ENV1 ENV2")
                .into(),
        );
    }
    let env_of = |name: &str| {
        let name = EnvName {
            name: Some(name.to_owned()),
        };
        live_env(state, &name, "redirect")
    };
    let sides = [Side::read(env_of(name1)?)?, Side::read(env_of(name2)?)?];
    // The built-in must exist before anything changes.
    let source = builtin_source(redirect::OBJECT)?;

    // From the first change to the last, a Ctrl-C waits (see signals.rs).
    let _deferred = signals::defer_termination();
    let mut done = Vec::new();
    match redirect_steps(&sides, &source, &mut done) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            Ok(())
        }
        Err(mut failure) => {
            for step in done.into_iter().rev() {
                step.undo();
            }
            failure.message = format!(
                "cannot set up the redirect between '{name1}' and '{name2}': {}",
                failure.message
            );
            failure
                .details
                .push("(what this command had set up before that is undone)".into());
            Err(failure.into())
        }
    }
}

/// The steps of `redirect`, each recorded in `done` once made. Returns the report.
fn redirect_steps(
    sides: &[Side; 2],
    source: &Source,
    done: &mut Vec<Done>,
) -> Result<Vec<String>, Failure> {
    let [a, b] = sides;
    let mut report = vec![format!(
        "Redirect between '{}' and '{}' (packet03):",
        a.env.name, b.env.name
    )];

    // A veth delivers frames redirected into it only when its peer (veth0
    // inside) runs an XDP program: one program passing everything serves both.
    let pass = object::load(
        &builtin_source("xdp_pass")?,
        Selection::default(),
        None,
        None,
    )?;
    let mut pass_id = 0;
    for side in sides {
        let ns = side.env.name.clone();
        pass_id = on_thread_in_netns(&ns, || {
            let veth0 = iface::resolve(INSIDE_IF)?;
            Ok(attach::attach(&attach_request(&veth0, pass.program_fd()))?.prog_id)
        })?;
        done.push(Done::InsideProgram {
            ns,
            prog_id: pass_id,
        });
    }
    report.push(format!(
        " - {} (prog id {pass_id}) on {INSIDE_IF} in both namespaces: a veth delivers \
         redirected frames only when its peer runs XDP",
        pass.program
    ));

    // Each namespace sends the other's traffic out of veth0. Any destination
    // MAC will do (XDP rewrites it); the outside end's is the natural one.
    for (side, peer) in [(a, b), (b, a)] {
        let ns = side.env.name.as_str();
        let mac = side.outside_mac.to_string();
        for (family, subnet, neighbour) in side.routes_to(peer) {
            ip_in(ns, &[family, "route", "replace", &subnet, "dev", INSIDE_IF])?;
            done.push(Done::Route {
                ns: ns.to_owned(),
                family,
                subnet: subnet.clone(),
                neighbour: neighbour.clone(),
            });
            let mut neigh = neigh_add(&neighbour, &mac, INSIDE_IF);
            neigh[1] = "replace";
            ip_in(ns, &neigh)?;
            report.push(format!(
                " - in {ns}: route {subnet} dev {INSIDE_IF}, neighbour {neighbour} lladdr {mac}"
            ));
        }
    }

    // A socket's UDP/TCP checksum is left for the device to finish (offload);
    // an XDP redirect drops that mark, and the other side then discards the
    // datagram as corrupt. Pings are unaffected; sockets need full sums.
    for side in [a, b] {
        let ns = side.env.name.as_str();
        match in_netns(ns, "ethtool", &["-K", INSIDE_IF, "tx", "off"]) {
            Ok(_) => report.push(format!(
                " - in {ns}: transmit checksum offload off on {INSIDE_IF} (redirected UDP/TCP keeps valid checksums)"
            )),
            Err(_) => report.push(format!(
                " - Note: could not turn off checksum offload in {ns} (is ethtool installed?): \
                 UDP/TCP from sockets may be dropped after the redirect; pings work"
            )),
        }
    }

    // The redirect programs, their maps filled before they are attached.
    for (side, peer) in [(a, b), (b, a)] {
        let dir = maps::pin_dir(&side.outside.name, None)?;
        let selection = Selection {
            prog_name: Some(redirect::MAP_PROGRAM),
            section: None,
        };
        let pin_to = maps::PinTo {
            ifname: &side.outside.name,
            dir: &dir,
        };
        let mut loaded = object::load(source, selection, None, Some(pin_to))?;
        let pins = std::mem::take(&mut loaded.pins);
        let filled = redirect::apply(&redirect::Request {
            from: &side.outside,
            to: &peer.outside,
            dir: &dir,
            src_mac: Some(side.inside_mac),
            dest_mac: Some(peer.inside_mac),
        })
        .and_then(|lines| {
            let outcome = attach::attach(&attach_request(&side.outside, loaded.program_fd()))?;
            Ok((lines, outcome))
        });
        let (lines, outcome) = filled.inspect_err(|_| pins.undo())?;
        done.push(Done::OutsideProgram {
            iface: side.outside.clone(),
            prog_id: outcome.prog_id,
            pins,
        });
        report.push(format!(
            " - {} (prog id {}) on {} (ifindex {}), native mode:",
            loaded.program, outcome.prog_id, side.outside.name, side.outside.index
        ));
        report.extend(lines.into_iter().map(|line| format!("     {line}")));
        for old in outcome.replaced {
            report.push(format!("     replaced {old}"));
        }
    }

    report.push(format!(
        "Test it:  xdp-loader testenv exec --name {} -- ping -6 {}",
        a.env.name,
        b.env.inside_ip6()
    ));
    report.push(format!(
        "Watch it: xdp-loader stats {} (and {}): the frames count as XDP_REDIRECT",
        a.env.name, b.env.name
    ));
    report.push(format!(
        "While it runs, all traffic from the namespaces goes to each other (testenv ping \
         no longer reaches the outside end). Stop: xdp-loader unload {} && xdp-loader unload {}",
        a.env.name, b.env.name
    ));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(num: u32, legacy_ip: bool, vlan: bool) -> Env {
        Env {
            name: "test".into(),
            num,
            legacy_ip,
            vlan,
        }
    }

    #[test]
    fn ipv6_uses_n_in_hex() {
        let e = env(26, false, false);
        assert_eq!(e.outside_ip6(), "fc00:dead:cafe:1a::1");
        assert_eq!(e.inside_ip6(), "fc00:dead:cafe:1a::2");
    }

    #[test]
    fn ipv4_uses_n_in_decimal() {
        let e = env(26, true, false);
        assert_eq!(e.outside_ip4(), "10.11.26.1");
        assert_eq!(e.inside_ip4(), "10.11.26.2");
    }

    #[test]
    fn vlan_prefix_puts_the_vid_in_the_top_digit() {
        assert_eq!(ip6_prefix(1, 0), "fc00:dead:cafe:1");
        assert_eq!(ip6_prefix(1, 1), "fc00:dead:cafe:1001");
        assert_eq!(ip6_prefix(0x1a, 2), "fc00:dead:cafe:201a");
    }

    #[test]
    fn subnets_follow_the_options() {
        assert_eq!(env(1, false, false).subnets().len(), 1);
        let all = env(1, true, true).subnets();
        assert_eq!(all.len(), 4);
        assert_eq!(all[1].inside_ip, "10.11.1.2");
        assert!(!all[1].is_ipv6());
        assert_eq!(all[2].outside_if, "test.1");
        assert_eq!(all[2].inside_if, "veth0.1");
        assert_eq!(all[2].outside_ip, "fc00:dead:cafe:1001::1");
        assert_eq!(all[3].inside_ip, "fc00:dead:cafe:2001::2");
    }

    #[test]
    fn numbers_must_fit_the_addresses() {
        assert!(env(255, true, false).check_num().is_ok());
        assert!(env(256, true, false).check_num().is_err());
        assert!(env(256, false, false).check_num().is_ok());
        assert!(env(0xffff, false, false).check_num().is_ok());
        assert!(env(0xffff, false, true).check_num().is_err());
        assert!(env(0, false, false).check_num().is_err());
    }

    #[test]
    fn valid_names() {
        for name in ["test", "xdptut-1a2b", "a.b_c-d", "_x", "123456789012345"] {
            assert_eq!(validate_name(name, false), Ok(()), "{name}");
        }
    }

    #[test]
    fn invalid_names() {
        for name in ["", "1234567890123456", "a/b", "a b", "-x", ".", "..", "ä"] {
            assert!(validate_name(name, false).is_err(), "{name:?}");
        }
        // Room for the VLAN suffix `.1`.
        assert!(validate_name("1234567890123", true).is_ok());
        assert!(validate_name("12345678901234", true).is_err());
    }

    #[test]
    fn random_names_are_valid() {
        let name = random_name();
        assert!(name.starts_with("xdptut-") && name.len() == 11, "{name}");
        assert_eq!(validate_name(&name, true), Ok(()));
    }

    #[test]
    fn state_file_round_trips() {
        let e = env(7, true, false);
        assert_eq!(e.format(), "num=7\nlegacy_ip=1\nvlan=0\n");
        assert_eq!(Env::parse("test", &e.format()), Ok(e));
    }

    #[test]
    fn state_file_parse_tolerates_comments_and_new_keys() {
        let text = "# made by setup\n\nnum=3\nfuture=x\nvlan=1\n";
        assert_eq!(Env::parse("test", text), Ok(env(3, false, true)));
    }

    #[test]
    fn damaged_state_files_are_refused() {
        assert!(Env::parse("t", "").is_err());
        assert!(Env::parse("t", "num=x\n").is_err());
        assert!(Env::parse("t", "num=1\nvlan=yes\n").is_err());
        assert!(Env::parse("t", "num=1\ngarbage\n").is_err());
    }

    #[test]
    fn mac_and_kind_from_ip_json() {
        let json = r#"[{"ifname":"t","address":"aa:bb:cc:dd:ee:ff",
                        "linkinfo":{"info_kind":"veth"}}]"#;
        assert_eq!(mac_from_json(json).as_deref(), Some("aa:bb:cc:dd:ee:ff"));
        assert_eq!(kind_from_json(json).as_deref(), Some("veth"));
        assert_eq!(mac_from_json("[]"), None);
        assert_eq!(kind_from_json("not json"), None);
    }

    #[test]
    fn command_lines_are_readable() {
        assert_eq!(command_line("ip", &["netns", "add", "x"]), "ip netns add x");
    }
}
