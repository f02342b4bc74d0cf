//! `status`, `ping`, `exec`, `enter` and `tcpdump`.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use super::*;
use crate::cli::EnvName;
use crate::error::{Exit, Failure};

// ---------------------------------------------------------------------------
// status

pub(crate) fn status(state: &State) -> anyhow::Result<()> {
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

pub(crate) fn print_env(env: &Env) {
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

pub(crate) fn summary(env: &Env) -> String {
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

pub(crate) fn ping(
    state: &State,
    env: &EnvName,
    legacy_ip: bool,
    count: u64,
) -> anyhow::Result<()> {
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
pub(crate) fn exec_inside(env: &Env, argv: &[String]) -> anyhow::Result<()> {
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

pub(crate) fn enter(state: &State, env: &EnvName) -> anyhow::Result<()> {
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

pub(crate) fn tcpdump(state: &State, env: &EnvName, inner: bool) -> anyhow::Result<()> {
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
