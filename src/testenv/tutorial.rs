//! The C tutorial's `testenv.sh reset`, `load`, `unload` and `stats`, so a
//! lesson text written for `t load` / `t stats` runs as written: each is the
//! matching `xdp-loader` command aimed at the environment's interface.

use clap::Parser;

use super::*;
use crate::cli::Cli;

/// `reset`: teardown, then setup under the same name. The options the
/// environment had are kept; `--legacy-ip`/`--vlan` add to them.
pub(crate) fn reset(
    state: &State,
    env: &EnvName,
    legacy_ip: bool,
    vlan: bool,
) -> anyhow::Result<()> {
    let name = selected_name(state, env)?;
    let before = state.load(&name)?;
    let legacy_ip = legacy_ip || before.as_ref().is_some_and(|e| e.legacy_ip);
    let vlan = vlan || before.as_ref().is_some_and(|e| e.vlan);
    let named = EnvName {
        name: Some(name.clone()),
    };
    if before.is_some() || netns_exists(&name) {
        setup::teardown(state, &named)?;
    }
    setup::setup(state, &named, legacy_ip, vlan)
}

/// `load`/`unload`/`stats`: `xdp-loader COMMAND --dev NAME ARGS`, and for
/// `load` the maps pinned in /sys/fs/bpf/NAME as testenv.sh does.
pub(crate) fn loader_on(
    state: &State,
    env: &EnvName,
    command: &str,
    args: &[String],
) -> anyhow::Result<()> {
    let env = live_env(state, env, command)?;
    let argv = loader_argv(&env.name, command, args);
    println!("$ {}", argv.join(" "));
    // Parsed as if typed: a bad option gets clap's usage message and exit 2.
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| e.exit());
    crate::run(&cli)
}

/// The command line `loader_on` runs.
pub(crate) fn loader_argv(name: &str, command: &str, args: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = vec![
        "xdp-loader".into(),
        command.into(),
        "--dev".into(),
        name.into(),
    ];
    if command == "load" {
        argv.push("--pin-path".into());
        argv.push(crate::pin::default_dir(name).display().to_string());
    }
    argv.extend(args.iter().cloned());
    argv
}
