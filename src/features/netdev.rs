//! A device's XDP features as the kernel reports them (Linux 6.3+): the
//! `netdev` generic netlink family's NETDEV_CMD_DEV_GET. What `ynl --family
//! netdev --do dev-get` shows, in about a hundred lines of plain netlink.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use serde::Serialize;

/// The xdp-features bits (enum netdev_xdp_act), with the spec's names.
pub const XDP_ACT: [(u64, &str, &str); 7] = [
    (1 << 0, "basic", "native XDP: PASS, DROP, ABORTED, TX"),
    (1 << 1, "redirect", "XDP_REDIRECT out of this device"),
    (
        1 << 2,
        "ndo-xmit",
        "a redirect target: takes frames redirected to it",
    ),
    (1 << 3, "xsk-zerocopy", "AF_XDP zero-copy"),
    (1 << 4, "hw-offload", "programs offloaded to the NIC"),
    (
        1 << 5,
        "rx-sg",
        "multi-buffer frames on receive (xdp.frags)",
    ),
    (
        1 << 6,
        "ndo-xmit-sg",
        "multi-buffer frames as a redirect target",
    ),
];

/// What the kernel said about one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceFeatures {
    /// The raw xdp-features bitmask.
    pub xdp_features_mask: u64,
    /// Names of the bits set, in `XDP_ACT` order.
    pub xdp_features: Vec<&'static str>,
    /// Most fragments per AF_XDP zero-copy frame (6.6+; None before).
    pub xdp_zc_max_segs: Option<u32>,
}

impl DeviceFeatures {
    fn from_mask(mask: u64, zc_max_segs: Option<u32>) -> DeviceFeatures {
        DeviceFeatures {
            xdp_features_mask: mask,
            xdp_features: XDP_ACT
                .iter()
                .filter(|(bit, _, _)| mask & bit != 0)
                .map(|(_, name, _)| *name)
                .collect(),
            xdp_zc_max_segs: zc_max_segs,
        }
    }
}

/// Why there is no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReported {
    /// No `netdev` family: the kernel is older than 6.3.
    NoFamily,
    /// The query failed with this errno.
    Failed(i32),
}

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NETDEV_CMD_DEV_GET: u8 = 1;
const NETDEV_A_DEV_IFINDEX: u16 = 1;
const NETDEV_A_DEV_XDP_FEATURES: u16 = 3;
const NETDEV_A_DEV_XDP_ZC_MAX_SEGS: u16 = 4;
const NLMSG_ERROR: u16 = 2;

/// Asks the kernel for `ifindex`'s XDP features.
pub fn query(ifindex: u32) -> Result<DeviceFeatures, NotReported> {
    let socket = open().map_err(NotReported::Failed)?;
    let family = match request(
        &socket,
        GENL_ID_CTRL,
        CTRL_CMD_GETFAMILY,
        &attr_str(CTRL_ATTR_FAMILY_NAME, "netdev"),
    ) {
        Err(libc::ENOENT) => return Err(NotReported::NoFamily),
        Err(errno) => return Err(NotReported::Failed(errno)),
        Ok(attrs) => find(&attrs, CTRL_ATTR_FAMILY_ID)
            .and_then(|v| Some(u16::from_ne_bytes(v.get(..2)?.try_into().ok()?)))
            .ok_or(NotReported::Failed(libc::EPROTO))?,
    };
    let attrs = request(
        &socket,
        family,
        NETDEV_CMD_DEV_GET,
        &attr_u32(NETDEV_A_DEV_IFINDEX, ifindex),
    )
    .map_err(NotReported::Failed)?;
    let mask = find(&attrs, NETDEV_A_DEV_XDP_FEATURES)
        .and_then(|v| Some(u64::from_ne_bytes(v.get(..8)?.try_into().ok()?)))
        .ok_or(NotReported::Failed(libc::EPROTO))?;
    let zc = find(&attrs, NETDEV_A_DEV_XDP_ZC_MAX_SEGS)
        .and_then(|v| Some(u32::from_ne_bytes(v.get(..4)?.try_into().ok()?)));
    Ok(DeviceFeatures::from_mask(mask, zc))
}

fn open() -> Result<OwnedFd, i32> {
    // SAFETY: plain socket(2); a non-negative result is an fd we own.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_GENERIC,
        )
    };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: see above.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// One netlink attribute: length, type, payload padded to 4 bytes.
fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut out = Vec::with_capacity(len.next_multiple_of(4));
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(len.next_multiple_of(4), 0);
    out
}

fn attr_str(kind: u16, text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    attr(kind, &bytes)
}

fn attr_u32(kind: u16, value: u32) -> Vec<u8> {
    attr(kind, &value.to_ne_bytes())
}

/// Sends one generic netlink request and returns the reply's attributes
/// (or the errno of the kernel's NLMSG_ERROR).
fn request(socket: &OwnedFd, family: u16, cmd: u8, attrs: &[u8]) -> Result<Vec<u8>, i32> {
    let len = 16 + 4 + attrs.len();
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&family.to_ne_bytes());
    msg.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
    msg.extend_from_slice(&[cmd, 1, 0, 0]); // genlmsghdr: cmd, version 1
    msg.extend_from_slice(attrs);
    // SAFETY: msg is a valid buffer of msg.len() bytes; the kernel is the
    // default destination of a netlink socket.
    if unsafe { libc::send(socket.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) } < 0 {
        return Err(last_errno());
    }
    let mut buf = vec![0u8; 16384];
    // SAFETY: buf has buf.len() writable bytes.
    let got = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if got < 0 {
        return Err(last_errno());
    }
    let reply = &buf[..got as usize];
    let header = |at: usize| {
        reply
            .get(at..at + 4)
            .map(|b| u32::from_ne_bytes(b.try_into().unwrap()))
    };
    let kind = reply.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    match kind {
        Some(NLMSG_ERROR) => {
            let error = header(16).unwrap_or(0) as i32;
            Err(if error < 0 { -error } else { libc::EPROTO })
        }
        Some(_) => {
            let end = (header(0).unwrap_or(0) as usize).min(reply.len());
            Ok(reply.get(20..end).unwrap_or_default().to_vec())
        }
        None => Err(libc::EPROTO),
    }
}

/// The payload of the first attribute of `kind`.
fn find(attrs: &[u8], kind: u16) -> Option<&[u8]> {
    let mut rest = attrs;
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        // The top bits of the type are flags (nested, byte order).
        let this = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        if this == kind {
            return Some(&rest[4..len]);
        }
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        let mut attrs = attr_str(CTRL_ATTR_FAMILY_NAME, "netdev");
        attrs.extend(attr_u32(NETDEV_A_DEV_IFINDEX, 42));
        assert_eq!(attrs.len() % 4, 0);
        assert_eq!(find(&attrs, CTRL_ATTR_FAMILY_NAME), Some(&b"netdev\0"[..]));
        assert_eq!(
            find(&attrs, NETDEV_A_DEV_IFINDEX),
            Some(&42u32.to_ne_bytes()[..])
        );
        assert_eq!(find(&attrs, 99), None);
    }

    #[test]
    fn a_truncated_attribute_is_not_read() {
        let mut attrs = attr_u32(NETDEV_A_DEV_IFINDEX, 42);
        attrs[0] = 200; // claims more bytes than there are
        assert_eq!(find(&attrs, NETDEV_A_DEV_IFINDEX), None);
    }

    #[test]
    fn mask_bits_get_the_spec_names() {
        let f = DeviceFeatures::from_mask(0b10_0011, Some(1));
        assert_eq!(f.xdp_features, ["basic", "redirect", "rx-sg"]);
        assert!(DeviceFeatures::from_mask(0, None).xdp_features.is_empty());
    }
}
