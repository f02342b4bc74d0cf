//! BPF trampoline probes: an freplace (BPF_PROG_TYPE_EXT) program taking
//! the place of a function inside a loaded XDP program, as libxdp's
//! dispatcher does with its slots, and an fentry program running before a
//! loaded XDP program, as a capture around a running program does.
//!
//! Loading and attaching are separate steps, and kernels differ in which
//! one refuses: the answer names the step.

use std::os::fd::{AsFd, AsRawFd};

use libbpf_rs::{AsRawLibbpf, Object, ObjectBuilder, OpenObject};

use super::catalog::Feature;
use super::{Outcome, Probed};
use crate::builtin;
use crate::error::errno_of;
use crate::libbpf_log;

/// The program every probe here aims at, and the function freplace takes.
const TARGET: &str = "probe_target";
const SLOT: &str = "probe_slot";

pub fn freplace() -> Probed {
    with_target(
        Feature::Freplace,
        "probe_freplace",
        Some(SLOT),
        |prog, target| {
            let name = std::ffi::CString::new(SLOT).expect("no NUL in a literal");
            // libbpf finds the slot's BTF id in the target and calls
            // bpf_link_create(ext, target, 0, target_btf_id), as libxdp does.
            // SAFETY: a loaded program and a valid target fd.
            let link = unsafe {
                libbpf_sys::bpf_program__attach_freplace(
                    prog.as_libbpf_object().as_ptr(),
                    target,
                    name.as_ptr(),
                )
            };
            if link.is_null() {
                return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
            }
            // SAFETY: a link libbpf just made; destroying it detaches.
            unsafe { libbpf_sys::bpf_link__destroy(link) };
            Ok("loaded an EXT program for a function of an XDP program and attached it")
        },
    )
}

pub fn fentry() -> Probed {
    with_target(Feature::Fentry, "probe_fentry", Some(TARGET), |prog, _| {
        prog.attach_trace()
            .map(|_link| "loaded an fentry program on an XDP program and attached it")
            .map_err(|e| errno_of(&e))
    })
}

/// Loads probe_target, then `program` aimed at it (`function` inside it),
/// and runs `attach` on the result. Every fd is closed on return.
fn with_target(
    feature: Feature,
    program: &str,
    function: Option<&str>,
    attach: impl FnOnce(&libbpf_rs::ProgramMut, i32) -> Result<&'static str, i32>,
) -> Probed {
    let target = match load_only(TARGET, None) {
        Ok(object) => object,
        Err(errno) => return Probed::unknown_errno(feature, "load the target XDP program", errno),
    };
    let Some(target_prog) = target.progs().find(|p| p.name() == TARGET) else {
        return Probed::unknown(feature, "the probe object has no target program");
    };
    let target_fd = target_prog.as_fd().as_raw_fd();
    let probe = match load_only(program, Some((target_fd, function))) {
        Ok(object) => object,
        Err(errno) => {
            return Probed {
                feature,
                outcome: Outcome::No {
                    step: "load",
                    errno: Some(errno),
                },
                detail: verifier_said(),
            }
        }
    };
    let Some(prog) = probe.progs_mut().find(|p| p.name() == program) else {
        return Probed::unknown(feature, "the probe object lost its program");
    };
    match attach(&prog, target_fd) {
        Ok(what) => Probed::yes(feature, what),
        Err(errno) => Probed {
            feature,
            outcome: Outcome::No {
                step: "attach",
                errno: Some(errno),
            },
            detail: String::new(),
        },
    }
}

/// Opens the embedded probe object and loads only `program`, aimed at
/// `(target_fd, function)` when given. Err is the errno.
fn load_only(program: &str, target: Option<(i32, Option<&str>)>) -> Result<Object, i32> {
    let object = builtin::find("xdp_features").expect("xdp_features is a built-in");
    let mut open: OpenObject = ObjectBuilder::default()
        .open_memory(object.object)
        .map_err(|e| errno_of(&e))?;
    for mut prog in open.progs_mut() {
        if prog.name() != program {
            prog.set_autoload(false);
            continue;
        }
        if let Some((fd, function)) = target {
            prog.set_attach_target(fd, function.map(str::to_string))
                .map_err(|e| errno_of(&e))?;
        }
    }
    libbpf_log::take();
    open.load().map_err(|e| errno_of(&e))
}

/// The verifier's last words on the program just refused, if it gave any.
fn verifier_said() -> String {
    let lines = libbpf_log::take();
    libbpf_log::verifier_log(&lines)
        .and_then(|log| log.last().cloned())
        .map(|line| format!("verifier: {}", line.trim()))
        .unwrap_or_default()
}
