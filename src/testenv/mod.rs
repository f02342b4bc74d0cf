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

use std::path::Path;

use crate::cli::{EnvName, TestenvCommand};
use crate::error::{Exit, Failure};

mod cmd;
mod env;
mod inspect;
mod redirect_pair;
mod setup;
mod state;
mod tutorial;
mod vlan_ping;

use cmd::*;
// `check` builds its private namespaces with the same tools.
pub(crate) use cmd::{in_netns, ip, ip_in, on_thread_in_netns};
use env::*;
use inspect::*;
use setup::*;
use state::*;

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
            vlan: false,
        } => ping(&state, env, *legacy_ip, *count),
        TestenvCommand::Ping {
            env,
            legacy_ip,
            count,
            vlan: true,
        } => vlan_ping::ping(&state, env, *legacy_ip, *count),
        TestenvCommand::Exec { env, command } => {
            let env = live_env(&state, env, "exec")?;
            exec_inside(&env, command)
        }
        TestenvCommand::Enter { env } => enter(&state, env),
        TestenvCommand::Tcpdump { env, inner } => tcpdump(&state, env, *inner),
        TestenvCommand::Redirect { env1, env2 } => redirect_pair::redirect(&state, env1, env2),
        TestenvCommand::Reset {
            env,
            legacy_ip,
            vlan,
        } => tutorial::reset(&state, env, *legacy_ip, *vlan),
        TestenvCommand::Load { env, args } => tutorial::loader_on(&state, env, "load", args),
        TestenvCommand::Unload { env, args } => tutorial::loader_on(&state, env, "unload", args),
        TestenvCommand::Stats { env, args } => tutorial::loader_on(&state, env, "stats", args),
    }
}

/// The environment commands use when `--name` is not given: the last one set up.
pub fn current_name() -> Option<String> {
    State::open().current()
}

// ---------------------------------------------------------------------------
// Checks shared by the commands.

pub(crate) fn require_root(what: &str) -> Result<(), Failure> {
    crate::commands::require_root(&format!("xdp-loader testenv {what}"))
}

pub(crate) fn link_exists(ifname: &str) -> bool {
    Path::new("/sys/class/net").join(ifname).exists()
}

pub(crate) fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// `--name`, or else the current environment; checked either way.
pub(crate) fn selected_name(state: &State, env: &EnvName) -> Result<String, Failure> {
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

pub(crate) fn no_such_env(state: &State, name: &str) -> Failure {
    let existing = state.names();
    let hint = if existing.is_empty() {
        "there are none: create one with xdp-loader testenv setup".to_owned()
    } else {
        format!("existing environments: {}", existing.join(", "))
    };
    Failure::new(Exit::Fail, format!("no test environment '{name}'")).hint(hint)
}

/// The selected environment, which must still have its namespace.
pub(crate) fn live_env(state: &State, env: &EnvName, what: &str) -> Result<Env, Failure> {
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
