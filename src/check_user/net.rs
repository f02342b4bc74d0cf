//! The private network a student's program runs against: an interface
//! `xu<pid>n<k>` in this namespace, its veth peer `veth0` in a namespace
//! of the same name. Quiet (no DAD, router solicitations or autoconf;
//! static neighbours), so only the packets sent here cross it. Dropping
//! it removes the interface, the namespace and the pin directory
//! /sys/fs/bpf/<ifname>/.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct Net {
    pub ifname: String,
    pub host_ip: String,
    pub peer_ip: String,
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Net {
    pub fn create() -> Result<Net, String> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // fd01:: (tests use fd00::), then the pid and the counter.
        let prefix = format!("fd01:{:x}:{:x}:{n:x}", pid >> 16, pid & 0xffff);
        let net = Net {
            ifname: format!("xu{pid:x}n{n:x}"),
            host_ip: format!("{prefix}::1"),
            peer_ip: format!("{prefix}::2"),
        };
        net.build()
            .map_err(|e| format!("cannot set up the test network: {e}"))?;
        Ok(net)
    }

    fn inside(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["netns", "exec", &self.ifname];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    fn build(&self) -> Result<(), String> {
        let (ns, ifname) = (self.ifname.as_str(), self.ifname.as_str());
        run("ip", &["netns", "add", ns])?;
        run(
            "ip",
            &[
                "link", "add", ifname, "type", "veth", "peer", "name", "veth0", "netns", ns,
            ],
        )?;
        for key in ["accept_dad", "accept_ra", "router_solicitations"] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{ifname}/{key}"), "0");
            self.inside(&["sysctl", "-qw", &format!("net.ipv6.conf.veth0.{key}=0")])?;
        }
        let host = format!("{}/64", self.host_ip);
        let peer = format!("{}/64", self.peer_ip);
        run("ip", &["addr", "add", &host, "dev", ifname, "nodad"])?;
        self.inside(&["ip", "addr", "add", &peer, "dev", "veth0", "nodad"])?;
        run("ip", &["link", "set", ifname, "up"])?;
        self.inside(&["ip", "link", "set", "veth0", "up"])?;
        let host_mac = self.host_mac()?;
        let peer_mac = self.peer_mac()?;
        let permanent = |ip: &str, mac: &str, dev: &str| {
            [
                "neigh",
                "replace",
                ip,
                "lladdr",
                mac,
                "nud",
                "permanent",
                "dev",
                dev,
            ]
            .map(str::to_owned)
        };
        let args = permanent(&self.peer_ip, &peer_mac, ifname);
        run("ip", &args.iter().map(String::as_str).collect::<Vec<_>>())?;
        let mut args = vec!["ip".to_owned()];
        args.extend(permanent(&self.host_ip, &host_mac, "veth0"));
        self.inside(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
        Ok(())
    }

    pub fn ifindex(&self) -> Result<u32, String> {
        let path = format!("/sys/class/net/{}/ifindex", self.ifname);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        text.trim().parse().map_err(|e| format!("{path}: {e}"))
    }

    pub fn host_mac(&self) -> Result<String, String> {
        let path = format!("/sys/class/net/{}/address", self.ifname);
        std::fs::read_to_string(&path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("{path}: {e}"))
    }

    pub fn peer_mac(&self) -> Result<String, String> {
        Ok(self
            .inside(&["cat", "/sys/class/net/veth0/address"])?
            .trim()
            .to_owned())
    }

    /// `count` pings from inside to the host end; Err if any went unanswered.
    pub fn ping(&self, count: u32) -> Result<(), String> {
        let count = count.to_string();
        self.inside(&[
            "ping",
            "-6",
            "-q",
            "-c",
            &count,
            "-i",
            "0.2",
            "-W",
            "1",
            &self.host_ip,
        ])
        .map(|_| ())
    }

    /// The XDP program attached to the interface, and the ids of its maps.
    pub fn attached_program(&self) -> Result<(u32, Vec<u32>), String> {
        let slots = crate::iface::slots(self.ifindex()?).map_err(|f| f.message)?;
        let Some(&(_, prog)) = slots.iter().find(|&&(_, id)| id != 0) else {
            return Err(format!("no XDP program is attached to {}", self.ifname));
        };
        let maps = crate::maps::maps_by_program()
            .remove(&prog)
            .unwrap_or_default();
        Ok((prog, maps))
    }

    pub fn pin_dir(&self) -> String {
        format!("/sys/fs/bpf/{}", self.ifname)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting one end of a veth pair deletes both.
        let _ = run("ip", &["link", "del", &self.ifname]);
        let _ = run("ip", &["netns", "del", &self.ifname]);
        let _ = std::fs::remove_dir_all(self.pin_dir());
    }
}
