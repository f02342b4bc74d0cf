//! Everything one AF_XDP socket needs, set up in the order that loses no
//! frame and torn down in the reverse: the XDP program loaded, the UMEM and
//! socket made and bound, the fill ring stocked, the socket put in the
//! XSKMAP, and only then the program attached.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use libbpf_rs::{MapCore, MapFlags, MapType};

use super::port::Port;
use super::socket::{self, Binding, Target};
use super::umem::Umem;
use super::XSKS_MAP;
use crate::attach::{self, Request};
use crate::cli::{AttachKind, Mode};
use crate::error::{Exit, Failure};
use crate::iface::Interface;
use crate::object::{self, Loaded, Selection, Source};

/// What to set up.
pub struct Setup<'a> {
    pub iface: &'a Interface,
    pub source: Source,
    pub prog_name: Option<&'a str>,
    pub queue: u32,
    pub binding: Binding,
    pub mode: Mode,
}

/// Fields drop in this order: the link first (no frame is redirected to
/// a closing socket), then the socket and UMEM, then the program.
pub struct Session {
    /// An unpinned bpf_link: the program comes off when it closes, even
    /// if the process is killed.
    pub link: OwnedFd,
    pub port: Port,
    pub loaded: Loaded,
}

impl Session {
    pub fn open(setup: &Setup) -> Result<Session, Failure> {
        let loaded = object::load(
            &setup.source,
            Selection {
                prog_name: setup.prog_name,
                section: None,
            },
            None,
            None,
        )?;
        let umem = Umem::new()
            .map_err(|e| Failure::new(Exit::Fail, format!("cannot map the UMEM (16 MiB): {e}")))?;
        let socket = socket::open(
            &umem,
            &Target {
                iface: setup.iface,
                queue: setup.queue,
                binding: setup.binding,
            },
        )?;
        let port = Port::new(socket, umem);
        register(&loaded, setup.queue, port.socket.as_fd().as_raw_fd())?;
        let link = attach::attach_while_running(&Request {
            iface: setup.iface,
            prog_fd: loaded.program_fd(),
            mode: setup.mode,
            kind: AttachKind::Link,
            force: false,
        })?;
        Ok(Session { link, port, loaded })
    }
}

/// Puts the socket in the XSKMAP at its queue's index.
fn register(loaded: &Loaded, queue: u32, socket_fd: i32) -> Result<(), Failure> {
    let map = loaded
        .object
        .maps()
        .find(|m| m.name() == XSKS_MAP && m.map_type() == MapType::Xskmap)
        .ok_or_else(|| {
            Failure::new(
                Exit::Bpf,
                format!(
                    "'{}' has no XSKMAP named {XSKS_MAP}: nothing can reach the socket",
                    loaded.object_name
                ),
            )
            .hint(
                "declare struct { __uint(type, BPF_MAP_TYPE_XSKMAP); __type(key, __u32); \
                 __type(value, __u32); __uint(max_entries, 64); } xsks_map SEC(\".maps\"); \
                 and return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, 0)",
            )
        })?;
    map.update(
        &queue.to_ne_bytes(),
        &socket_fd.to_ne_bytes(),
        MapFlags::ANY,
    )
    .map_err(|e| {
        Failure::new(
            Exit::Fail,
            format!("cannot put the socket in {XSKS_MAP} at queue {queue}: {e}"),
        )
        .hint(format!(
            "{XSKS_MAP} has {} entries: use a queue below that",
            map.max_entries()
        ))
    })
}
