//! Running `ip`, `sysctl`, `ping`... (in this namespace or an environment's),
//! and work on a thread inside a namespace.

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, ExitStatus};

use super::*;
use crate::error::{Exit, Failure};

/// Runs PROGRAM ARGS and returns its stdout. Any failure becomes a Failure
/// naming the command line, with its stderr as detail lines.
pub(crate) fn run_cmd(program: &str, args: &[&str]) -> Result<String, Failure> {
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
pub(crate) fn ip(args: &[&str]) -> Result<String, Failure> {
    run_cmd("ip", args)
}

/// `ip -n NS ARGS`: an `ip` command inside namespace NS.
pub(crate) fn ip_in(ns: &str, args: &[&str]) -> Result<String, Failure> {
    let full: Vec<&str> = ["-n", ns].iter().chain(args).copied().collect();
    run_cmd("ip", &full)
}

/// `ip netns exec NS PROGRAM ARGS`: any program inside namespace NS.
pub(crate) fn in_netns(ns: &str, program: &str, args: &[&str]) -> Result<String, Failure> {
    let full: Vec<&str> = ["netns", "exec", ns, program]
        .iter()
        .chain(args)
        .copied()
        .collect();
    run_cmd("ip", &full)
}

pub(crate) fn command_line(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn spawn_failure(program: &str, err: io::Error) -> Failure {
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
pub(crate) fn in_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
}

/// Runs an interactive command with our stdin/stdout/stderr and waits for it.
///
/// Like system(3), we ignore Ctrl-C while it runs: the terminal sends SIGINT
/// to both processes, and the child (tcpdump, ping, a shell) should decide
/// when to stop, not us. It is ignored only after the spawn, so the child
/// still gets the default behaviour.
pub(crate) fn run_interactive(cmd: &mut Command) -> Result<ExitStatus, Failure> {
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
pub(crate) fn netns_command(env: &Env, argv: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &env.name])
        .args(argv)
        .env("TESTENV_NAME", &env.name);
    cmd
}

/// Runs `work` on a helper thread that has joined network namespace `ns`
/// (through /run/netns/NS, like `ip netns exec`, but without its private
/// mount namespace, which would hide bpffs). This thread stays where it is.
pub(crate) fn on_thread_in_netns<T: Send>(
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
