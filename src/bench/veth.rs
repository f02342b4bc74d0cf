//! A private veth pair for the benchmarks: the outside end here, named
//! after the namespace that holds the inside end, `veth0`. Dropping it
//! deletes both (and the outside end's pins), also when a step failed.

use std::fs;
use std::os::fd::AsRawFd;
use std::process::Command;

use crate::error::{Exit, Failure};

/// The inside end's name, in the namespace.
pub const INSIDE: &str = "veth0";

pub struct VethPair {
    /// The outside end's name, which is also the namespace's.
    pub name: String,
}

impl VethPair {
    /// `xb<pid><tag>`: unique per process, `tag` tells the parts apart.
    pub fn create(tag: &str) -> Result<VethPair, Failure> {
        let pair = VethPair {
            name: format!("xb{:x}{tag}", std::process::id()),
        };
        let ns = pair.name.as_str();
        // Remains of an earlier run of a process with the same pid.
        pair.remove();
        ip(&["netns", "add", ns])?;
        ip(&[
            "link", "add", "dev", ns, "type", "veth", "peer", "name", INSIDE, "netns", ns,
        ])?;
        // No IPv6 on either end: no router solicitations or MLD reports, so
        // every frame the inside end counts is one the benchmark sent.
        disable_ipv6(ns)?;
        pair.inside(|| disable_ipv6(INSIDE))?;
        ip(&["link", "set", ns, "up"])?;
        ip(&["-n", ns, "link", "set", INSIDE, "up"])?;
        Ok(pair)
    }

    /// Runs `work` on a thread that has joined the namespace, so sockets
    /// and netlink requests it makes act on the inside end. The mount
    /// namespace stays ours (bpffs included).
    pub fn inside<T: Send>(
        &self,
        work: impl FnOnce() -> Result<T, Failure> + Send,
    ) -> Result<T, Failure> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    self.enter()?;
                    work()
                })
                .join()
                .unwrap_or_else(|_| Err(Failure::new(Exit::Fail, "a bench thread panicked")))
        })
    }

    /// Moves the calling thread (only it) into the namespace, for a
    /// thread that works there while others go on out here.
    pub fn enter(&self) -> Result<(), Failure> {
        let path = format!("/run/netns/{}", self.name);
        let netns = fs::File::open(&path)
            .map_err(|e| Failure::new(Exit::Fail, format!("cannot open {path}: {e}")))?;
        // SAFETY: a valid namespace fd; setns(CLONE_NEWNET) moves only
        // this thread.
        if unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            let err = std::io::Error::last_os_error();
            return Err(Failure::new(
                Exit::Fail,
                format!("cannot enter namespace {}: {err}", self.name),
            ));
        }
        Ok(())
    }

    fn remove(&self) {
        // Deleting one end of a veth pair deletes both.
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = fs::remove_dir_all(format!("/sys/fs/bpf/{}", self.name));
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        self.remove();
    }
}

/// `/proc/sys/net` is per network namespace: of the thread that opens it.
fn disable_ipv6(ifname: &str) -> Result<(), Failure> {
    let path = format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6");
    match fs::write(&path, "1") {
        Ok(()) => Ok(()),
        // A kernel without IPv6 sends no IPv6 either.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Failure::new(
            Exit::Fail,
            format!("cannot write {path}: {e}"),
        )),
    }
}

/// Runs `ip ARGS`; a failure carries its stderr.
pub fn ip(args: &[&str]) -> Result<(), Failure> {
    let out = Command::new("ip").args(args).output().map_err(|e| {
        Failure::new(Exit::Fail, format!("cannot run ip: {e}")).hint("apt-get install iproute2")
    })?;
    if !out.status.success() {
        return Err(Failure::new(
            Exit::Fail,
            format!(
                "`ip {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(())
}
