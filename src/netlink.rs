//! Plain netlink, for the few questions libbpf does not ask for us: a
//! device's XDP features (generic netlink, `features::netdev`) and the tc
//! filters on an interface (rtnetlink, `others`). A socket, one request,
//! its replies (a dump's several parts included), and attributes.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

/// A netlink socket of `protocol` (NETLINK_ROUTE, NETLINK_GENERIC).
pub fn open(protocol: i32) -> Result<OwnedFd, i32> {
    // SAFETY: plain socket(2); a non-negative result is an fd we own.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
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
pub fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut out = Vec::with_capacity(len.next_multiple_of(4));
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(len.next_multiple_of(4), 0);
    out
}

pub fn attr_str(kind: u16, text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    attr(kind, &bytes)
}

pub fn attr_u32(kind: u16, value: u32) -> Vec<u8> {
    attr(kind, &value.to_ne_bytes())
}

/// Sends one request (`body` follows the netlink header) and returns the
/// body of every reply message; a dump (`flags` with NLM_F_DUMP) is read
/// until NLMSG_DONE. The kernel's NLMSG_ERROR becomes its errno.
pub fn exchange(
    socket: &OwnedFd,
    msg_type: u16,
    flags: u16,
    body: &[u8],
) -> Result<Vec<Vec<u8>>, i32> {
    let len = NLMSG_HDRLEN + body.len();
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&msg_type.to_ne_bytes());
    msg.extend_from_slice(&(libc::NLM_F_REQUEST as u16 | flags).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
    msg.extend_from_slice(body);
    // SAFETY: msg is a valid buffer of msg.len() bytes; the kernel is the
    // default destination of a netlink socket.
    if unsafe { libc::send(socket.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) } < 0 {
        return Err(last_errno());
    }
    let dump = flags & libc::NLM_F_DUMP as u16 != 0;
    let mut replies = Vec::new();
    let mut buf = vec![0u8; 32768];
    loop {
        // SAFETY: buf has buf.len() writable bytes.
        let got = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if got < 0 {
            return Err(last_errno());
        }
        let mut rest = &buf[..got as usize];
        while rest.len() >= NLMSG_HDRLEN {
            let len = u32_at(rest, 0).unwrap_or(0) as usize;
            let kind = u16::from_ne_bytes([rest[4], rest[5]]);
            if len < NLMSG_HDRLEN || len > rest.len() {
                return Err(libc::EPROTO);
            }
            match kind {
                NLMSG_DONE => return Ok(replies),
                NLMSG_ERROR => {
                    let error = u32_at(rest, NLMSG_HDRLEN).unwrap_or(0) as i32;
                    // An error of 0 is the acknowledgement of a request.
                    return match error {
                        0 => Ok(replies),
                        e if e < 0 => Err(-e),
                        _ => Err(libc::EPROTO),
                    };
                }
                _ => replies.push(rest[NLMSG_HDRLEN..len].to_vec()),
            }
            rest = &rest[len.next_multiple_of(4).min(rest.len())..];
        }
        if !dump {
            return Ok(replies);
        }
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The payload of the first attribute of `kind`.
pub fn find(attrs: &[u8], kind: u16) -> Option<&[u8]> {
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

/// An attribute's payload read as a native-endian u32.
pub fn find_u32(attrs: &[u8], kind: u16) -> Option<u32> {
    u32_at(find(attrs, kind)?, 0)
}

/// An attribute's payload read as a NUL-terminated string.
pub fn find_str(attrs: &[u8], kind: u16) -> Option<String> {
    let bytes = find(attrs, kind)?;
    let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
    Some(String::from_utf8_lossy(text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        let mut attrs = attr_str(2, "netdev");
        attrs.extend(attr_u32(1, 42));
        assert_eq!(attrs.len() % 4, 0);
        assert_eq!(find(&attrs, 2), Some(&b"netdev\0"[..]));
        assert_eq!(find_str(&attrs, 2).as_deref(), Some("netdev"));
        assert_eq!(find_u32(&attrs, 1), Some(42));
        assert_eq!(find(&attrs, 99), None);
    }

    #[test]
    fn a_truncated_attribute_is_not_read() {
        let mut attrs = attr_u32(1, 42);
        attrs[0] = 200; // claims more bytes than there are
        assert_eq!(find(&attrs, 1), None);
    }
}
