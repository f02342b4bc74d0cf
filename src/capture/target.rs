//! Which program `capture` records around when the interface already runs
//! XDP: the attached program, or with `-p PROG` one of the programs behind
//! a multi-program dispatcher (libxdp's pins: /sys/fs/bpf/xdp/
//! dispatch-IFINDEX-DISPATCHERID/progN-prog), and the name of its main
//! function in its BTF, which fentry/fexit are aimed at.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use libbpf_rs::btf::types::Func;
use libbpf_rs::btf::{Btf, TypeId};

use crate::error::{errno_text, Exit, Failure};
use crate::iface::{describe, prog_summary, Attached, Interface};

/// The program to capture around.
pub struct Target {
    pub fd: OwnedFd,
    pub id: u32,
    pub name: String,
    /// Its main function's name in its BTF (the program name is cut to 15
    /// characters; the function's is whole).
    pub function: String,
    /// ", behind xdp_dispatcher id N" for a dispatcher's component.
    pub behind: String,
    /// The program attached to the interface: the target, or its dispatcher.
    pub attached_id: u32,
}

impl Target {
    pub fn describe(&self) -> String {
        format!("{} (id {}{})", self.name, self.id, self.behind)
    }

    /// Why capturing around it shows nothing any more, if so: the program
    /// attached at the start is not attached now (unloaded, replaced, or
    /// a new dispatcher took over when programs were added or removed).
    pub fn gone_from(&self, iface: &Interface) -> Option<String> {
        let slots = crate::iface::slots(iface.index).ok()?;
        match slots.iter().any(|&(_, id)| id == self.attached_id) {
            true => None,
            false => Some(format!(
                "{} no longer runs program id {} (detached or replaced)",
                iface.name, self.attached_id
            )),
        }
    }
}

/// The dispatcher's program name (libxdp's and ours).
const DISPATCHER: &str = "xdp_dispatcher";

pub fn choose(
    iface: &Interface,
    attached: &Attached,
    wanted: Option<&str>,
) -> Result<Target, Failure> {
    let main = prog_summary(attached.prog_id);
    let matches = |id: u32, name: &str| wanted.is_none_or(|w| w == name || w == id.to_string());
    if main.name == DISPATCHER && wanted.is_some() {
        let components = dispatcher_components(iface.index, attached.prog_id);
        let listing = || {
            components
                .iter()
                .map(|(id, name, _)| format!("{name} (id {id})"))
                .collect::<Vec<_>>()
        };
        let found = components
            .iter()
            .position(|(id, name, _)| matches(*id, name));
        let Some(index) = found else {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "-p {}: no such program behind {} on {}; it runs:",
                    wanted.unwrap_or_default(),
                    describe(attached),
                    iface.name
                ),
            )
            .details(listing())
            .hint("give one of them by name or id (without -p: around the dispatcher, the interface's final verdict)"));
        };
        let (id, name, fd) = components.into_iter().nth(index).expect("found above");
        return target(
            fd,
            id,
            name,
            format!(", behind {DISPATCHER} id {}", attached.prog_id),
            attached.prog_id,
        );
    }
    if !matches(attached.prog_id, &main.name) {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "-p {}: {} runs {}, a single program",
                wanted.unwrap_or_default(),
                iface.name,
                describe(attached)
            ),
        )
        .hint(format!(
            "leave out -p, or give -p {} (-p chooses among the programs behind a dispatcher)",
            main.name
        )));
    }
    // SAFETY: plain bpf() call; a negative return is checked.
    let fd = unsafe { libbpf_sys::bpf_prog_get_fd_by_id(attached.prog_id) };
    if fd < 0 {
        return Err(Failure::new(
            Exit::Fail,
            format!("cannot open {}: {}", describe(attached), errno_text(-fd)),
        ));
    }
    // SAFETY: a new fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    target(
        fd,
        attached.prog_id,
        main.name,
        String::new(),
        attached.prog_id,
    )
}

fn target(
    fd: OwnedFd,
    id: u32,
    name: String,
    behind: String,
    attached_id: u32,
) -> Result<Target, Failure> {
    let function = main_function(&fd, id).ok_or_else(|| {
        Failure::new(
            Exit::Fail,
            format!("{name} (id {id}) has no BTF function information: fentry/fexit cannot be aimed at it"),
        )
        .hint("programs built by clang with -g (as libbpf and this tool build them) have it")
    })?;
    Ok(Target {
        fd,
        id,
        name,
        function,
        behind,
        attached_id,
    })
}

/// The programs behind dispatcher `dispatcher_id`, in slot order:
/// (id, name, fd).
fn dispatcher_components(ifindex: u32, dispatcher_id: u32) -> Vec<(u32, String, OwnedFd)> {
    let dir = format!("/sys/fs/bpf/xdp/dispatch-{ifindex}-{dispatcher_id}");
    (0..10)
        .filter_map(|slot| {
            let fd = pinned_fd(&Path::new(&dir).join(format!("prog{slot}-prog")))?;
            let id = libbpf_rs::Program::id_from_fd(fd.as_fd()).ok()?;
            Some((id, prog_summary(id).name, fd))
        })
        .collect()
}

fn pinned_fd(path: &Path) -> Option<OwnedFd> {
    let path = CString::new(path.to_str()?).ok()?;
    // SAFETY: a NUL-terminated path; a negative return is checked.
    let fd = unsafe { libbpf_sys::bpf_obj_get(path.as_ptr()) };
    // SAFETY: a new fd we own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The BTF name of the program's main function (func_info[0]).
fn main_function(fd: &OwnedFd, id: u32) -> Option<String> {
    let info_len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    let mut info = libbpf_sys::bpf_prog_info::default();
    let mut len = info_len;
    // SAFETY: info is a bpf_prog_info of the size given.
    let ret = unsafe {
        libbpf_sys::bpf_obj_get_info_by_fd(
            fd.as_raw_fd(),
            (&mut info as *mut libbpf_sys::bpf_prog_info).cast(),
            &mut len,
        )
    };
    if ret != 0 || info.btf_id == 0 || info.nr_func_info == 0 {
        return None;
    }
    // Second call: only the first function record.
    let mut first = libbpf_sys::bpf_func_info::default();
    let mut again = libbpf_sys::bpf_prog_info {
        nr_func_info: 1,
        func_info_rec_size: std::mem::size_of::<libbpf_sys::bpf_func_info>() as u32,
        func_info: (&mut first as *mut libbpf_sys::bpf_func_info) as u64,
        ..Default::default()
    };
    let mut len = info_len;
    // SAFETY: func_info points at one record of the size given.
    let ret = unsafe {
        libbpf_sys::bpf_obj_get_info_by_fd(
            fd.as_raw_fd(),
            (&mut again as *mut libbpf_sys::bpf_prog_info).cast(),
            &mut len,
        )
    };
    if ret != 0 {
        return None;
    }
    let btf = Btf::from_prog_id(id).ok()?;
    let func: Func = btf.type_by_id(TypeId::from(first.type_id))?;
    Some(func.name()?.to_string_lossy().into_owned())
}
