//! A program to add to a dispatcher: opened from its object, its run
//! configuration read, then loaded as an extension (BPF_PROG_TYPE_EXT)
//! that replaces one slot function of one dispatcher.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use libbpf_rs::btf::Btf;
use libbpf_rs::{AsRawLibbpf, Object, OpenObject, ProgramType};

use super::run_config::{self, RunConfig};
use crate::error::{Exit, Failure};
use crate::libbpf_log;
use crate::object::{self, lossy, Selection, Source};

/// BPF_F_XDP_HAS_FRAGS: the program handles multi-buffer packets.
pub const FRAGS_FLAG: u32 = 1 << 5;

/// What the user asked for: an object, which program, overrides.
#[derive(Debug, Clone)]
pub struct Request {
    pub file: String,
    pub prog_name: Option<String>,
    pub section: Option<String>,
    pub priority: Option<u32>,
    pub actions: Option<u32>,
}

/// Opened, not loaded: loading needs the dispatcher and the slot.
pub struct Candidate {
    pub object_name: String,
    pub program: String,
    pub run: RunConfig,
    pub frags: bool,
    pub notes: Vec<String>,
    open: OpenObject,
}

impl Candidate {
    pub fn open(req: &Request) -> Result<Candidate, Failure> {
        let source = Source::resolve(&req.file)?;
        let object_name = source.name();
        let open = source.open()?;
        let entries = object::programs(&open);
        let sel = Selection {
            prog_name: req.prog_name.as_deref(),
            section: req.section.as_deref(),
        };
        let choice = object::choose(&object_name, &entries, sel)?;
        // SAFETY: the bpf_object outlives this borrow (it lives in `open`).
        let raw = unsafe { open.as_libbpf_object().as_ref() };
        let from_object = Btf::from_bpf_object(raw)
            .ok()
            .flatten()
            .map(|btf| run_config::from_btf(&btf, &choice.name))
            .unwrap_or_default();
        let run = RunConfig {
            priority: req.priority.unwrap_or(from_object.priority),
            actions: req.actions.unwrap_or(from_object.actions),
        };
        let frags = open
            .progs()
            .find(|p| lossy(p.name()) == choice.name)
            // SAFETY: a program of `open`, alive for this call.
            .map(|p| unsafe { libbpf_sys::bpf_program__flags(p.as_libbpf_object().as_ptr()) })
            .is_some_and(|flags| flags & FRAGS_FLAG != 0);
        Ok(Candidate {
            object_name,
            program: choice.name,
            run,
            frags,
            notes: choice.notes,
            open,
        })
    }

    /// Loads the program as the replacement of `slot_function` in the
    /// dispatcher `target`. The returned object owns the program fd.
    pub fn load_for(mut self, target: BorrowedFd, slot_function: &str) -> Result<Object, Failure> {
        for mut prog in self.open.progs_mut() {
            if lossy(prog.name()) != self.program {
                prog.set_autoload(false);
                continue;
            }
            prog.set_prog_type(ProgramType::Ext);
            let ptr = prog.as_libbpf_object().as_ptr();
            // SAFETY: an open, not yet loaded program. EXT programs carry no
            // attach type, and frags belong to the dispatcher, not a slot.
            unsafe {
                libbpf_sys::bpf_program__set_expected_attach_type(ptr, 0);
                let flags = libbpf_sys::bpf_program__flags(ptr);
                libbpf_sys::bpf_program__set_flags(ptr, flags & !FRAGS_FLAG);
            }
            prog.set_attach_target(target.as_raw_fd(), Some(slot_function.to_string()))
                .map_err(|e| {
                    Failure::new(
                        Exit::Bpf,
                        format!("cannot aim '{}' at the dispatcher: {e}", self.program),
                    )
                })?;
            if libbpf_log::verbose() {
                prog.set_log_level(1);
            }
        }
        libbpf_log::take();
        self.open
            .load()
            .map_err(|err| object::load_failure(&self.object_name, &self.program, &err))
    }
}

/// The fd of program `name` in a loaded object.
pub fn prog_fd<'a>(object: &'a Object, name: &str) -> Option<BorrowedFd<'a>> {
    object
        .progs()
        .find(|p| lossy(p.name()) == name)
        .map(|p| p.as_fd().as_raw_fd())
        // SAFETY: the fd belongs to `object`, which outlives the borrow.
        .map(|fd| unsafe { BorrowedFd::borrow_raw(fd) })
}

/// Attaches the extension `prog` to `slot_btf_id` of dispatcher `target`
/// with an freplace link, as libxdp does (a program already attached to
/// another dispatcher gets a second attachment: 5.10+).
pub fn link(prog: BorrowedFd, target: BorrowedFd, slot_btf_id: u32) -> Result<OwnedFd, i32> {
    let mut opts = libbpf_sys::bpf_link_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _,
        ..Default::default()
    };
    opts.target_btf_id = slot_btf_id;
    // SAFETY: valid fds and a sized, initialised opts struct.
    let fd = unsafe { libbpf_sys::bpf_link_create(prog.as_raw_fd(), target.as_raw_fd(), 0, &opts) };
    if fd < 0 {
        return Err(-fd);
    }
    // SAFETY: a new fd from the kernel.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}
