//! The private test environment of one `check` run: three network
//! namespaces of its own, named after the process, removed when the `Lab`
//! drops (also on an error or a panic; Ctrl-C waits for it, see mod.rs).
//!
//! ```text
//!  namespace B          namespace A (the program under test on `tested`)        namespace C
//!  peer 02:..:0b  <==>  tested 02:..:0a 10.200.1.1 | out 02:..:0c 10.200.2.1  <==>  sink 02:..:0d
//! ```
//!
//! `peer` sends hand-made frames from a packet socket; packet sockets on
//! `tested`, `peer` and `sink` see what the program let through, sent back or
//! redirected. IPv6 is off in all three namespaces and the IPv4 neighbours
//! are static, so no frame crosses a link unless `check` sent it. `peer`
//! and `sink` run xdp_pass: a veth delivers XDP_TX and redirected frames
//! only to a peer with an XDP program.

use std::collections::HashMap;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::frames::{self, tag, tag_of, ETH_P_LOCAL};
use super::wire::Socket;
use crate::attach;
use crate::builtin;
use crate::cli::{AttachKind, Mode};
use crate::error::{Exit, Failure};
use crate::iface;
use crate::object::{self, Selection, Source};
use crate::testenv::{in_netns, ip, ip_in, on_thread_in_netns};

pub const MAC_XDP: [u8; 6] = [2, 0, 0, 0, 0, 0x0a];
pub const MAC_PEER: [u8; 6] = [2, 0, 0, 0, 0, 0x0b];
pub const MAC_OUT: [u8; 6] = [2, 0, 0, 0, 0, 0x0c];
pub const MAC_SINK: [u8; 6] = [2, 0, 0, 0, 0, 0x0d];
pub const IP4_XDP: &str = "10.200.1.1";
pub const IP4_PEER: &str = "10.200.1.2";
pub const IP4_SINK: &str = "10.200.2.2";
/// IPv6 is off in the lab: these addresses only appear in the frames.
pub const IP6_PEER: &str = "fc00:dead:beef::2";
pub const IP6_XDP: &str = "fc00:dead:beef::1";

/// How long to wait for a frame that may never come (a dropped one).
const PATIENCE: Duration = Duration::from_millis(1000);
/// Ends every batch: once it is seen, all frames sent before it were.
const MARKER: u32 = 0xffff_ffff;
const PREFIX: &str = "xdpcheck-";

/// Where frames are watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watch {
    /// Arriving on `tested` (after the program): what it passed.
    Xdp,
    /// Back at the sender `peer`: what the program sent back (XDP_TX).
    Peer,
    /// At `sink`, behind `out`: what the program redirected there.
    Sink,
}

pub struct Lab {
    /// Namespaces A, B, C.
    ns: [String; 3],
    pub ifindex_out: u32,
}

impl Lab {
    pub fn create() -> Result<Lab, Failure> {
        remove_stale();
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut lab = Lab {
            ns: ["a", "b", "c"].map(|side| format!("{id}-{side}")),
            ifindex_out: 0,
        };
        lab.build().map_err(|failure| Failure {
            message: format!(
                "cannot set up the private test environment: {}",
                failure.message
            ),
            ..failure
        })?;
        Ok(lab)
    }

    fn build(&mut self) -> Result<(), Failure> {
        let [a, b, c] = self.ns.clone();
        for ns in [&a, &b, &c] {
            ip(&["netns", "add", ns])?;
            in_netns(
                ns,
                "sysctl",
                &[
                    "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ],
            )?;
            ip_in(ns, &["link", "set", "lo", "up"])?;
        }
        // `tested` gets an ifindex of its own (from the pid): a tracepoint
        // counting per ifindex then sees no other namespace's interface 2.
        let index = tested_ifindex().to_string();
        let pair = |ns: &str,
                    name: &str,
                    mac: [u8; 6],
                    peer: &str,
                    peer_mac: [u8; 6],
                    peer_ns: &str,
                    index: Option<&str>| {
            let (mac, peer_mac) = (frames::mac_text(&mac), frames::mac_text(&peer_mac));
            let mut args = vec!["link", "add", "name", name, "address", &mac];
            args.extend(index.map(|i| ["index", i]).into_iter().flatten());
            args.extend([
                "type", "veth", "peer", "name", peer, "address", &peer_mac, "netns", peer_ns,
            ]);
            ip_in(ns, &args)
        };
        pair(&a, "tested", MAC_XDP, "peer", MAC_PEER, &b, Some(&index))?;
        pair(&a, "out", MAC_OUT, "sink", MAC_SINK, &c, None)?;
        for (ns, ifname) in [(&a, "tested"), (&a, "out"), (&b, "peer"), (&c, "sink")] {
            // With VLAN offload a tag would not be in the frame XDP sees.
            let _ = in_netns(
                ns,
                "ethtool",
                &["-K", ifname, "rxvlan", "off", "txvlan", "off"],
            );
            ip_in(ns, &["link", "set", ifname, "up"])?;
        }
        ip_in(
            &a,
            &["addr", "add", &format!("{IP4_XDP}/24"), "dev", "tested"],
        )?;
        ip_in(&a, &["addr", "add", "10.200.2.1/24", "dev", "out"])?;
        for (addr, mac, dev) in [(IP4_PEER, MAC_PEER, "tested"), (IP4_SINK, MAC_SINK, "out")] {
            ip_in(
                &a,
                &[
                    "neigh",
                    "add",
                    addr,
                    "lladdr",
                    &frames::mac_text(&mac),
                    "nud",
                    "permanent",
                    "dev",
                    dev,
                ],
            )?;
        }
        self.ifindex_out = on_thread_in_netns(&a, || Ok(iface::resolve("out")?.index))?;
        let pass = object::load(
            &Source::Builtin(builtin::find("xdp_pass").expect("built-in xdp_pass")),
            Selection::default(),
            None,
            None,
        )?;
        self.attach(Watch::Peer, pass.program_fd())?;
        self.attach(Watch::Sink, pass.program_fd())?;
        Ok(())
    }

    /// (namespace, interface) of a place.
    fn place(&self, at: Watch) -> (&str, &'static str) {
        match at {
            Watch::Xdp => (&self.ns[0], "tested"),
            Watch::Peer => (&self.ns[1], "peer"),
            Watch::Sink => (&self.ns[2], "sink"),
        }
    }

    /// Attaches a program (native mode, replacing what runs there).
    pub fn attach(&self, at: Watch, prog_fd: BorrowedFd) -> Result<(), Failure> {
        let (ns, ifname) = self.place(at);
        on_thread_in_netns(ns, || {
            let iface = iface::resolve(ifname)?;
            attach::attach(&attach::Request {
                iface: &iface,
                prog_fd,
                mode: Mode::Native,
                kind: AttachKind::Netlink,
                force: true,
            })?;
            Ok(())
        })
    }

    /// Runs `work` on a thread in namespace A (where `tested` and `out` are).
    pub fn in_namespace_a<T: Send>(
        &self,
        work: impl FnOnce() -> Result<T, Failure> + Send,
    ) -> Result<T, Failure> {
        on_thread_in_netns(&self.ns[0], work)
    }

    /// IPv4 forwarding in namespace A, on until the guard drops
    /// (bpf_fib_lookup answers "forwarding disabled" without it).
    pub fn forwarding(&self) -> Result<Forwarding<'_>, Failure> {
        in_netns(&self.ns[0], "sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
        Ok(Forwarding(&self.ns[0]))
    }

    /// `/proc/net/snmp` of namespace A: the kernel's own forwarding counter.
    pub fn forwarded_by_kernel(&self) -> Result<u64, Failure> {
        let snmp = in_netns(&self.ns[0], "cat", &["/proc/net/snmp"])?;
        let mut ip_lines = snmp.lines().filter(|l| l.starts_with("Ip:"));
        let (names, values) = (ip_lines.next().unwrap_or(""), ip_lines.next().unwrap_or(""));
        let at = names.split_whitespace().position(|n| n == "ForwDatagrams");
        Ok(at
            .and_then(|i| values.split_whitespace().nth(i)?.parse().ok())
            .unwrap_or(0))
    }

    /// Sends `frames` from `peer`, then a marker, and returns the frames
    /// seen at `watch` by their tag, until every one of `expect` (and the
    /// marker, when watching `tested`) was seen, or the patience ran out.
    pub fn exchange(
        &self,
        frames: &[(u32, Vec<u8>)],
        watch: Watch,
        expect: usize,
    ) -> Result<HashMap<u32, Vec<u8>>, Failure> {
        let (ns, ifname) = self.place(watch);
        let socket_failure =
            |e: std::io::Error| Failure::new(Exit::Fail, format!("packet socket on {ifname}: {e}"));
        let rx = on_thread_in_netns(ns, || {
            Socket::bind(iface::resolve(ifname)?.index).map_err(socket_failure)
        })?;
        let tx = on_thread_in_netns(&self.ns[1], || {
            Socket::bind(iface::resolve("peer")?.index).map_err(socket_failure)
        })?;
        let marker = frames::ethernet(MAC_XDP, MAC_PEER, &[], ETH_P_LOCAL, &tag(MARKER));
        for (_, frame) in frames.iter().chain([(MARKER, marker)].iter()) {
            tx.send(frame)
                .map_err(|e| Failure::new(Exit::Fail, format!("cannot send from peer: {e}")))?;
        }
        let wanted: Vec<u32> = frames.iter().map(|(id, _)| *id).collect();
        let seen = rx
            .receive(PATIENCE, |got| {
                let ids: Vec<u32> = got.iter().filter_map(|f| tag_of(f)).collect();
                let marker_ok = watch != Watch::Xdp || ids.contains(&MARKER);
                marker_ok && wanted.iter().filter(|id| ids.contains(id)).count() >= expect
            })
            .map_err(socket_failure)?;
        Ok(seen
            .into_iter()
            .filter_map(|f| Some((tag_of(&f)?, f)))
            .filter(|(id, _)| *id != MARKER)
            .collect())
    }
}

pub struct Forwarding<'a>(&'a str);

impl Drop for Forwarding<'_> {
    fn drop(&mut self) {
        let _ = in_netns(self.0, "sysctl", &["-qw", "net.ipv4.ip_forward=0"]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes its interfaces, and so the programs on them.
        for ns in &self.ns {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// The ifindex of `tested`: unique among running `check`s (by pid).
pub fn tested_ifindex() -> u32 {
    1_000_000 + std::process::id() % 1_000_000
}

/// Removes the namespaces of `check` runs that were killed (-9) before
/// they could clean up: their process is gone.
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}
