//! A device's XDP features as the kernel reports them (Linux 6.3+): the
//! `netdev` generic netlink family's NETDEV_CMD_DEV_GET. What `ynl --family
//! netdev --do dev-get` shows, in about a hundred lines of plain netlink.

use std::os::fd::OwnedFd;

use serde::Serialize;

use crate::netlink::{self, attr_str, attr_u32, find};

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

/// Asks the kernel for `ifindex`'s XDP features.
pub fn query(ifindex: u32) -> Result<DeviceFeatures, NotReported> {
    let socket = netlink::open(libc::NETLINK_GENERIC).map_err(NotReported::Failed)?;
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

/// Sends one generic netlink request and returns the reply's attributes
/// (or the errno of the kernel's NLMSG_ERROR).
fn request(socket: &OwnedFd, family: u16, cmd: u8, attrs: &[u8]) -> Result<Vec<u8>, i32> {
    let mut body = vec![cmd, 1, 0, 0]; // genlmsghdr: cmd, version 1
    body.extend_from_slice(attrs);
    let replies = netlink::exchange(socket, family, 0, &body)?;
    let reply = replies.first().ok_or(libc::EPROTO)?;
    Ok(reply.get(4..).unwrap_or_default().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_bits_get_the_spec_names() {
        let f = DeviceFeatures::from_mask(0b10_0011, Some(1));
        assert_eq!(f.xdp_features, ["basic", "redirect", "rx-sg"]);
        assert!(DeviceFeatures::from_mask(0, None).xdp_features.is_empty());
    }
}
