//! BPF programs on an interface's other hooks: tc (classic cls_bpf filters
//! on the clsact qdisc, and tcx on 6.6+) and the network namespace's flow
//! dissector. `status` mentions them, as `bpftool net show` does, so that a
//! packet's whole path is visible; xdp-loader never changes them.

use std::os::fd::AsRawFd;

use serde::Serialize;

use crate::iface::prog_summary;
use crate::netlink;

/// One program on a hook other than XDP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherProgram {
    /// "tc ingress", "tc egress" or "flow_dissector".
    pub hook: &'static str,
    pub id: u32,
    pub name: String,
    /// How it is attached: "cls_bpf pref 49152", "tcx", "tcx link 7", "netns".
    pub attach: String,
}

/// The tc programs on `ifindex`, ingress first.
pub fn tc_programs(ifindex: u32) -> Vec<OtherProgram> {
    let mut found = Vec::new();
    for (hook, parent, tcx) in [
        ("tc ingress", CLSACT_INGRESS, libbpf_sys::BPF_TCX_INGRESS),
        ("tc egress", CLSACT_EGRESS, libbpf_sys::BPF_TCX_EGRESS),
    ] {
        found.extend(
            cls_bpf_filters(ifindex, parent)
                .into_iter()
                .map(|(id, pref)| other(hook, id, format!("cls_bpf pref {pref}"))),
        );
        found.extend(
            query(ifindex as i32, tcx)
                .into_iter()
                .map(|(id, link)| other(hook, id, attach_of(link, "tcx"))),
        );
    }
    found
}

/// The flow dissector program of this network namespace, if one is attached.
pub fn flow_dissector() -> Option<OtherProgram> {
    let netns = std::fs::File::open("/proc/self/ns/net").ok()?;
    let (id, link) = query(netns.as_raw_fd(), libbpf_sys::BPF_FLOW_DISSECTOR)
        .into_iter()
        .next()?;
    Some(other("flow_dissector", id, attach_of(link, "netns")))
}

fn other(hook: &'static str, id: u32, attach: String) -> OtherProgram {
    OtherProgram {
        hook,
        id,
        name: prog_summary(id).name,
        attach,
    }
}

fn attach_of(link: Option<u32>, how: &str) -> String {
    match link {
        Some(link) => format!("{how} link {link}"),
        None => how.to_string(),
    }
}

/// BPF_PROG_QUERY: the programs (and their links, where the kernel says)
/// on `target` for `attach_type`. Nothing where the kernel does not know
/// the attach type (tcx before 6.6).
fn query(target: i32, attach_type: libbpf_sys::bpf_attach_type) -> Vec<(u32, Option<u32>)> {
    const MAX: usize = 64;
    let mut prog_ids = [0u32; MAX];
    let mut link_ids = [0u32; MAX];
    let mut opts = libbpf_sys::bpf_prog_query_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_query_opts>() as _,
        prog_ids: prog_ids.as_mut_ptr(),
        link_ids: link_ids.as_mut_ptr(),
        ..Default::default()
    };
    opts.__bindgen_anon_1.count = MAX as u32;
    // SAFETY: the id arrays hold MAX entries, as opts.count says.
    let ret = unsafe { libbpf_sys::bpf_prog_query_opts(target, attach_type, &mut opts) };
    if ret != 0 {
        return Vec::new();
    }
    // SAFETY: the kernel wrote the count of ids it returned.
    let count = (unsafe { opts.__bindgen_anon_1.count } as usize).min(MAX);
    (0..count)
        .map(|i| (prog_ids[i], (link_ids[i] != 0).then_some(link_ids[i])))
        .collect()
}

// The clsact qdisc's two filter parents: TC_H_MAKE(TC_H_CLSACT,
// TC_H_MIN_INGRESS) and TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS).
const CLSACT_INGRESS: u32 = 0xFFFF_FFF2;
const CLSACT_EGRESS: u32 = 0xFFFF_FFF3;
const RTM_GETTFILTER: u16 = 46;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_ID: u16 = 11;
/// struct tcmsg: family, 3 bytes of padding, ifindex, handle, parent, info.
const TCMSG_LEN: usize = 20;

/// (program id, preference) of each cls_bpf filter under `parent`, by an
/// rtnetlink filter dump (what `tc filter show dev IF ingress` asks). None
/// when the interface has no clsact qdisc: the kernel refuses the dump.
fn cls_bpf_filters(ifindex: u32, parent: u32) -> Vec<(u32, u32)> {
    let Ok(socket) = netlink::open(libc::NETLINK_ROUTE) else {
        return Vec::new();
    };
    let mut tcmsg = vec![0u8; TCMSG_LEN];
    tcmsg[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    tcmsg[12..16].copy_from_slice(&parent.to_ne_bytes());
    let Ok(replies) = netlink::exchange(&socket, RTM_GETTFILTER, libc::NLM_F_DUMP as u16, &tcmsg)
    else {
        return Vec::new();
    };
    replies
        .iter()
        .filter_map(|reply| {
            let attrs = reply.get(TCMSG_LEN..)?;
            if netlink::find_str(attrs, TCA_KIND)? != "bpf" {
                return None;
            }
            let id = netlink::find_u32(netlink::find(attrs, TCA_OPTIONS)?, TCA_BPF_ID)?;
            // tcm_info: the preference in the upper 16 bits, protocol below.
            let info = u32::from_ne_bytes(reply.get(16..20)?.try_into().ok()?);
            Some((id, info >> 16))
        })
        .collect()
}
