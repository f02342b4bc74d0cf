//! Network interfaces: name <-> index, and what XDP programs they run.

use std::ffi::{CStr, CString};

use libbpf_rs::query::{LinkInfoIter, LinkTypeInfo};
use libbpf_rs::ProgramHandle;

use crate::cli::Mode;
use crate::error::{Exit, Failure};

/// An interface of this network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
}

/// Looks an interface up by name; unknown names list the ones that exist.
pub fn resolve(name: &str) -> Result<Interface, Failure> {
    let index = CString::new(name)
        .ok()
        .filter(|_| !name.is_empty() && name.len() < libc::IF_NAMESIZE)
        // SAFETY: a valid NUL-terminated string; the call only reads it.
        .map(|cname| unsafe { libc::if_nametoindex(cname.as_ptr()) })
        .unwrap_or(0);
    if index == 0 {
        let names: Vec<String> = all().into_iter().map(|i| i.name).collect();
        let message = match invalid_name(name) {
            Some(why) => format!("'{name}' cannot be an interface name: {why}"),
            None => format!("unknown interface '{name}'"),
        };
        return Err(Failure::new(Exit::Usage, message)
            .hint(format!("interfaces here: {}", names.join(", "))));
    }
    Ok(Interface {
        name: name.to_string(),
        index,
    })
}

/// Why the kernel would never accept `name` (see dev_valid_name()).
fn invalid_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() >= libc::IF_NAMESIZE {
        return Some(format!(
            "it has {} characters, Linux allows at most {}",
            name.len(),
            libc::IF_NAMESIZE - 1
        ));
    }
    if name == "." || name == ".." {
        return Some("'.' and '..' are reserved".into());
    }
    name.chars()
        .find(|&c| c == '/' || c == ':' || c.is_whitespace() || c == '\0')
        .map(|c| format!("it contains {c:?}"))
}

/// The name of interface `index` in this namespace, if there is one.
pub fn name_of(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has the IF_NAMESIZE bytes if_indextoname may write.
    let name = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    // SAFETY: on success the name in buf is NUL-terminated.
    (!name.is_null()).then(|| {
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    })
}

/// Every interface of this network namespace, in index order.
pub fn all() -> Vec<Interface> {
    let mut found = Vec::new();
    // SAFETY: if_nameindex returns an array terminated by a zeroed entry,
    // which we walk and then free exactly once.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            return found;
        }
        let mut entry = list;
        while (*entry).if_index != 0 && !(*entry).if_name.is_null() {
            found.push(Interface {
                name: CStr::from_ptr((*entry).if_name)
                    .to_string_lossy()
                    .into_owned(),
                index: (*entry).if_index,
            });
            entry = entry.add(1);
        }
        libc::if_freenameindex(list);
    }
    found.sort_by_key(|i| i.index);
    found
}

/// One XDP program attached to an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub mode: Mode,
    pub prog_id: u32,
    /// The bpf_link holding the attachment, if it is link-based.
    pub link_id: Option<u32>,
}

/// The program id in each XDP slot of `ifindex` (0: empty). One netlink
/// round trip, no bpf() calls: cheap enough to run every stats sample.
pub fn slots(ifindex: u32) -> Result<[(Mode, u32); 3], Failure> {
    let mut opts = libbpf_sys::bpf_xdp_query_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_xdp_query_opts>() as _,
        ..Default::default()
    };
    // SAFETY: opts is a properly sized, initialised query struct.
    let ret = unsafe { libbpf_sys::bpf_xdp_query(ifindex as i32, 0, &mut opts) };
    if ret < 0 {
        return Err(Failure::new(
            Exit::Fail,
            format!(
                "cannot query XDP state of ifindex {ifindex}: {}",
                crate::error::errno_text(-ret)
            ),
        ));
    }
    Ok([
        (Mode::Native, opts.drv_prog_id),
        (Mode::Skb, opts.skb_prog_id),
        (Mode::Hw, opts.hw_prog_id),
    ])
}

/// The XDP programs attached to `ifindex` (native, skb and hw slots).
pub fn attached(ifindex: u32) -> Result<Vec<Attached>, Failure> {
    let slots = slots(ifindex)?;
    if slots.iter().all(|&(_, id)| id == 0) {
        // Nothing attached: skip walking every bpf_link of the system.
        return Ok(Vec::new());
    }
    let links = xdp_links();
    Ok(slots
        .into_iter()
        .filter(|&(_, id)| id != 0)
        .map(|(mode, prog_id)| Attached {
            mode,
            prog_id,
            link_id: links
                .iter()
                .find(|l| l.ifindex == ifindex && l.prog_id == prog_id)
                .map(|l| l.link_id),
        })
        .collect())
}

/// An XDP bpf_link somewhere in the system.
#[derive(Debug, Clone, Copy)]
pub struct XdpLink {
    pub link_id: u32,
    pub prog_id: u32,
    /// 0 once the link is detached (its interface went away, or forced off).
    pub ifindex: u32,
}

/// All XDP bpf_links the kernel knows of.
pub fn xdp_links() -> Vec<XdpLink> {
    LinkInfoIter::default()
        .filter_map(|link| match link.info {
            LinkTypeInfo::Xdp(xdp) => Some(XdpLink {
                link_id: link.id,
                prog_id: link.prog_id,
                ifindex: xdp.ifindex,
            }),
            _ => None,
        })
        .collect()
}

/// Name and tag of a loaded program, for messages and `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgSummary {
    pub id: u32,
    pub name: String,
    pub tag: String,
}

pub fn prog_summary(id: u32) -> ProgSummary {
    match ProgramHandle::from_prog_id(id) {
        Ok(handle) => ProgSummary {
            id,
            name: handle.name().to_string_lossy().into_owned(),
            tag: handle.tag().iter().map(|b| format!("{b:02x}")).collect(),
        },
        // The program can vanish between query and lookup; say so.
        Err(_) => ProgSummary {
            id,
            name: "<gone>".into(),
            tag: String::new(),
        },
    }
}

/// "xdp_drop_func (id 42, native mode)" for messages.
pub fn describe(attached: &Attached) -> String {
    let prog = prog_summary(attached.prog_id);
    let via = if attached.link_id.is_some() {
        ", bpf_link"
    } else {
        ""
    };
    format!(
        "{} (id {}, {} mode{via})",
        prog.name,
        prog.id,
        mode_name(attached.mode)
    )
}

pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Native => "native",
        Mode::Skb => "skb",
        Mode::Hw => "hw",
        Mode::Unspecified => "unspecified",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_always_there() {
        assert_eq!(resolve("lo").unwrap().index, 1);
        assert!(all().iter().any(|i| i.name == "lo"));
    }

    #[test]
    fn unknown_interface_lists_what_exists() {
        let err = resolve("no-such-if0").unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.hint.unwrap().contains("lo"));
        assert!(resolve("").is_err());
        assert!(resolve("a-name-that-is-far-too-long").is_err());
    }
}
