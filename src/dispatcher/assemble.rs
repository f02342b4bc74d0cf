//! Building a new dispatcher for a set of programs: order them as libxdp
//! does, write the configuration, load the dispatcher, then load or
//! re-link each program into its slot. Nothing here touches an interface.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use libbpf_rs::btf::types::Func;
use libbpf_rs::btf::Btf;
use libbpf_rs::{AsRawLibbpf, Object, ObjectBuilder};

use super::component::{self, Candidate, FRAGS_FLAG};
use super::config::{Config, EMPTY_SLOT_VERDICT, FLAG_FRAGS, SLOTS, WRITTEN_VERSION};
use super::discover::{self, Component, DISPATCHER_NAME};
use super::run_config::RunConfig;
use crate::builtin;
use crate::error::{errno_text, Exit, Failure};
use crate::libbpf_log;

/// A program of the new dispatcher: already in one (kept), or new.
pub enum Member {
    Kept(Component),
    New(Candidate),
}

impl Member {
    pub fn run(&self) -> RunConfig {
        match self {
            Member::Kept(c) => c.run,
            Member::New(c) => c.run,
        }
    }
    pub fn name(&self) -> &str {
        match self {
            Member::Kept(c) => &c.name,
            Member::New(c) => &c.program,
        }
    }
    fn frags(&self) -> bool {
        match self {
            Member::Kept(c) => c.frags,
            Member::New(c) => c.frags,
        }
    }
}

/// libxdp's order: run priority, then function name, then programs
/// already loaded before new ones. A stable sort keeps the rest as given.
pub fn order(members: &mut [Member]) {
    members.sort_by(|a, b| {
        (a.run().priority, a.name(), matches!(a, Member::New(_))).cmp(&(
            b.run().priority,
            b.name(),
            matches!(b, Member::New(_)),
        ))
    });
}

/// One filled slot of a built dispatcher.
pub struct Slot {
    pub name: String,
    pub run: RunConfig,
    pub prog: OwnedFd,
    pub link: OwnedFd,
    /// The object of a newly loaded program (keeps its maps alive too).
    pub object: Option<Object>,
}

/// A loaded dispatcher, not attached anywhere, its slots linked.
pub struct Built {
    pub dispatcher: Object,
    pub id: u32,
    pub slots: Vec<Slot>,
}

impl Built {
    pub fn fd(&self) -> BorrowedFd<'_> {
        component::prog_fd(&self.dispatcher, DISPATCHER_NAME).expect("the dispatcher is loaded")
    }
}

/// The configuration for `members` in this order.
pub fn configure(members: &[Member]) -> Config {
    let mut config = Config {
        version: WRITTEN_VERSION,
        num_progs_enabled: members.len() as u8,
        // Frags only when every program handles them (libxdp's rule).
        is_xdp_frags: !members.is_empty() && members.iter().all(Member::frags),
        ..Config::default()
    };
    for (slot, member) in members.iter().enumerate() {
        config.chain_call_actions[slot] = member.run().actions | (1 << EMPTY_SLOT_VERDICT);
        config.run_prios[slot] = member.run().priority;
        config.program_flags[slot] = if member.frags() { FLAG_FRAGS } else { 0 };
    }
    config
}

/// Loads a dispatcher for `members` (already ordered) and fills its slots.
pub fn build(members: Vec<Member>) -> Result<Built, Failure> {
    if members.len() > SLOTS {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "{} programs asked for, a dispatcher has {SLOTS} slots",
                members.len()
            ),
        ));
    }
    let config = configure(&members);
    let dispatcher = load_dispatcher(&config)?;
    let disp_fd = component::prog_fd(&dispatcher, DISPATCHER_NAME).expect("loaded");
    // SAFETY: the object outlives this borrow.
    let raw = unsafe { dispatcher.as_libbpf_object().as_ref() };
    let btf = Btf::from_bpf_object(raw)
        .ok()
        .flatten()
        .ok_or_else(|| Failure::new(Exit::Bpf, "the dispatcher object has no BTF"))?;
    let mut slots = Vec::new();
    for (index, member) in members.into_iter().enumerate() {
        let function = format!("prog{index}");
        let btf_id = btf
            .type_by_name::<Func>(&function)
            .map(|f| f.type_id().into())
            .ok_or_else(|| Failure::new(Exit::Bpf, format!("no {function} in the dispatcher")))?;
        let run = member.run();
        let name = member.name().to_string();
        let (prog, object) = match member {
            Member::Kept(c) => (c.fd, None),
            Member::New(candidate) => {
                let object = candidate.load_for(disp_fd, &function)?;
                let fd = component::prog_fd(&object, &name)
                    .expect("the chosen program was loaded")
                    .try_clone_to_owned()
                    .map_err(|e| Failure::new(Exit::Fail, format!("dup: {e}")))?;
                (fd, Some(object))
            }
        };
        let link = component::link(prog.as_fd(), disp_fd, btf_id).map_err(|errno| {
            Failure::new(
                Exit::Xdp,
                format!(
                    "cannot attach '{name}' to slot {function} of the dispatcher: {}",
                    errno_text(errno)
                ),
            )
        })?;
        slots.push(Slot {
            name,
            run,
            prog,
            link,
            object,
        });
    }
    let id = discover::prog_info(
        &disp_fd
            .try_clone_to_owned()
            .map_err(|e| Failure::new(Exit::Fail, format!("dup: {e}")))?,
    )
    .map(|i| i.id)
    .unwrap_or(0);
    Ok(Built {
        dispatcher,
        id,
        slots,
    })
}

fn load_dispatcher(config: &Config) -> Result<Object, Failure> {
    let object = builtin::DISPATCHER_OBJECT;
    let mut open = ObjectBuilder::default()
        .open_memory(object)
        .map_err(|e| Failure::new(Exit::Bpf, format!("cannot open the dispatcher: {e}")))?;
    let bytes = config.to_v2_bytes();
    for mut map in open.maps_mut() {
        if map.name().to_string_lossy().ends_with(".rodata") {
            map.set_initial_value(&bytes).map_err(|e| {
                Failure::new(Exit::Bpf, format!("cannot configure the dispatcher: {e}"))
            })?;
        }
    }
    if config.is_xdp_frags {
        for prog in open.progs_mut() {
            // SAFETY: an open, not yet loaded program.
            unsafe {
                libbpf_sys::bpf_program__set_flags(prog.as_libbpf_object().as_ptr(), FRAGS_FLAG)
            };
        }
    }
    libbpf_log::take();
    open.load()
        .map_err(|err| crate::object::load_failure("xdp_dispatcher", DISPATCHER_NAME, &err))
}
