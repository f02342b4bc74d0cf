//! Opening a BPF object (a file or a built-in), choosing the XDP program
//! to use, and loading it into the kernel with errors a person can act on.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use libbpf_rs::{MapType, Object, ObjectBuilder, OpenObject, ProgramAttachType, ProgramType};

use crate::builtin::{self, Builtin};
use crate::error::{errno_of, errno_text, Exit, Failure, ROOT_HINT};
use crate::libbpf_log;
use crate::maps::{self, PinPlan, PinTo};

/// Where the BPF object comes from.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Builtin(&'static Builtin),
}

impl Source {
    /// A path that exists (or looks like one) is a file; otherwise a built-in name.
    pub fn resolve(arg: &str) -> Result<Source, Failure> {
        let path = Path::new(arg);
        if path.exists() || arg.contains('/') || arg.ends_with(".o") {
            return Ok(Source::File(path.to_path_buf()));
        }
        builtin::find(arg).map(Source::Builtin).ok_or_else(|| {
            Failure::new(
                Exit::Bpf,
                format!("'{arg}' is neither a file nor a built-in program"),
            )
            .hint(format!(
                "give a BPF object file, or one of the built-ins: {} (see `xdp-loader list`)",
                builtin::names().join(", ")
            ))
        })
    }

    /// The object's name as messages show it: file stem or built-in name.
    pub fn name(&self) -> String {
        match self {
            Source::File(path) => path
                .file_stem()
                .unwrap_or(path.as_os_str())
                .to_string_lossy()
                .trim_end_matches(".bpf")
                .to_string(),
            Source::Builtin(b) => b.name.to_string(),
        }
    }

    /// Opens (parses) the object without loading anything into the kernel.
    pub fn open(&self) -> Result<OpenObject, Failure> {
        libbpf_log::take();
        let mut builder = ObjectBuilder::default();
        let opened = match self {
            Source::File(path) => {
                if !path.is_file() {
                    let why = if path.exists() {
                        "not a regular file".to_string()
                    } else {
                        errno_text(libc::ENOENT)
                    };
                    return Err(Failure::new(
                        Exit::Bpf,
                        format!("cannot open '{}': {why}", path.display()),
                    )
                    .hint(format!(
                        "give a BPF object file (build one from C with: xdp-loader build prog.bpf.c), \
                         or a built-in: {}",
                        builtin::names().join(", ")
                    )));
                }
                // The header alone names the common mistakes (an empty, host or
                // big-endian object) better than libbpf's errno does.
                if let Some(why) = crate::elf::problem(path) {
                    return Err(unusable(&path.display().to_string(), why, Vec::new()));
                }
                builder.open_file(path)
            }
            Source::Builtin(b) => builder.name(b.name).and_then(|b2| b2.open_memory(b.object)),
        };
        opened.map_err(|err| self.open_failure(&err))
    }

    fn open_failure(&self, err: &libbpf_rs::Error) -> Failure {
        // Read before take() clears it: libbpf's reason when it said none
        // at warning level (a damaged BTF section gives only ENOENT).
        let debug_reason = libbpf_log::last_debug_line();
        let mut log = libbpf_log::take();
        if log.is_empty() {
            log.extend(debug_reason);
        }
        let name = self.name();
        if log.iter().any(|l| l.contains("legacy map definitions")) {
            return Failure::new(
                Exit::Bpf,
                format!(
                    "'{name}' declares maps the legacy way (SEC(\"maps\") / struct bpf_map_def)"
                ),
            )
            .hint(
                "libbpf >= 1.0 rejects legacy maps; declare each map with BTF in SEC(\".maps\"): \
                 struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); \
                 __type(value, __u64); __uint(max_entries, 5); } my_map SEC(\".maps\");",
            );
        }
        let what = match self {
            Source::File(path) => path.display().to_string(),
            Source::Builtin(b) => b.name.to_string(),
        };
        unusable(&what, errno_text(errno_of(err)), tail(&log, 5))
    }
}

/// `what` cannot be opened as a BPF object, because of `why`; `log` is what
/// libbpf said about it.
fn unusable(what: &str, why: String, log: Vec<String>) -> Failure {
    Failure::new(
        Exit::Bpf,
        format!("'{what}' is not a usable BPF object: {why}"),
    )
    .details(log)
    .hint("build BPF objects with: xdp-loader build prog.bpf.c -o prog.o (clang with this project's and libbpf's headers; -v prints the clang command)")
}

/// What the user asked for with `-n` and `-s`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Selection<'a> {
    pub prog_name: Option<&'a str>,
    pub section: Option<&'a str>,
}

/// A program of an object, as libbpf sees it before loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramEntry {
    pub name: String,
    pub section: String,
    pub prog_type: ProgramType,
}

impl ProgramEntry {
    fn describe(&self) -> String {
        format!(
            "{} (section '{}', {})",
            self.name,
            self.section,
            type_name(self.prog_type)
        )
    }
}

pub fn type_name(prog_type: ProgramType) -> String {
    match prog_type {
        ProgramType::Unspec => "unknown section type".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The programs of an opened object, in ELF order.
pub fn programs(open: &OpenObject) -> Vec<ProgramEntry> {
    open.progs()
        .map(|p| ProgramEntry {
            name: lossy(p.name()),
            section: lossy(p.section()),
            prog_type: p.prog_type(),
        })
        .collect()
}

/// The most kernel memory one map, and all the maps of one object together,
/// may ask for. Far above what any lesson needs; a damaged or mistaken
/// `max_entries` asks for much more, and the kernel would spend minutes
/// (unkillable) allocating it.
const MAX_MAP_BYTES: u64 = 1 << 30;

/// Kernel memory a map will take, roughly: its entries, each key plus value
/// (a value per CPU for per-CPU maps); ring buffers are `max_entries` bytes
/// of data (key and value size 0, so the entry formula said 0).
fn map_bytes(map_type: MapType, entries: u32, key: u32, value: u32, cpus: u64) -> u64 {
    let entries = u64::from(entries);
    match map_type {
        MapType::RingBuf | MapType::UserRingBuf => entries,
        MapType::PercpuArray | MapType::PercpuHash | MapType::LruPercpuHash => {
            entries.saturating_mul(u64::from(key) + u64::from(value) * cpus)
        }
        _ => entries.saturating_mul(u64::from(key) + u64::from(value)),
    }
}

/// Refuses maps that would need absurd amounts of kernel memory, one by one
/// and all together.
fn check_map_sizes(open: &OpenObject, object: &str) -> Result<(), Failure> {
    let cpus = libbpf_rs::num_possible_cpus().unwrap_or(1) as u64;
    let hint = "the object looks damaged, or max_entries is far too large: lower it in the map's definition";
    let mut total = 0u64;
    for map in open.maps() {
        let bytes = map_bytes(
            map.map_type(),
            map.max_entries(),
            map.key_size(),
            map.value_size(),
            cpus,
        );
        if bytes > MAX_MAP_BYTES {
            return Err(Failure::new(
                Exit::Bpf,
                format!(
                    "map '{}' of '{object}' would need {} MiB of kernel memory ({}, max_entries {}); the limit is {} MiB",
                    lossy(map.name()),
                    bytes >> 20,
                    type_label(map.map_type()),
                    map.max_entries(),
                    MAX_MAP_BYTES >> 20
                ),
            )
            .hint(hint));
        }
        total = total.saturating_add(bytes);
    }
    if total > MAX_MAP_BYTES {
        return Err(Failure::new(
            Exit::Bpf,
            format!(
                "the maps of '{object}' together would need {} MiB of kernel memory; the limit is {} MiB",
                total >> 20,
                MAX_MAP_BYTES >> 20
            ),
        )
        .hint(hint));
    }
    Ok(())
}

fn type_label(map_type: MapType) -> String {
    format!("{map_type:?}").to_lowercase()
}

/// The names of an opened object's maps.
pub fn map_names(open: &OpenObject) -> Vec<String> {
    open.maps()
        .map(|m| lossy(m.name()))
        .filter(|name| {
            !name.starts_with('.') && !name.contains(".rodata") && !name.contains(".bss")
        })
        .collect()
}

pub fn lossy(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

/// The outcome of choosing a program.
#[derive(Debug, PartialEq, Eq)]
pub struct Choice {
    pub name: String,
    /// libbpf does not know the section name: load the program as XDP anyway.
    pub force_xdp: bool,
    /// Things the user should know about the choice.
    pub notes: Vec<String>,
}

/// Picks the program to load: by name and/or section, else the first XDP one.
pub fn choose(object: &str, progs: &[ProgramEntry], sel: Selection) -> Result<Choice, Failure> {
    let picked_by_user = sel.prog_name.is_some() || sel.section.is_some();
    let candidates: Vec<&ProgramEntry> = progs
        .iter()
        .filter(|p| sel.prog_name.is_none_or(|n| p.name == n))
        .filter(|p| sel.section.is_none_or(|s| p.section == s))
        .filter(|p| picked_by_user || p.prog_type == ProgramType::Xdp)
        .collect();
    let listing = || progs.iter().map(ProgramEntry::describe);

    let Some(first) = candidates.first() else {
        let wanted = match (sel.prog_name, sel.section) {
            (Some(n), Some(s)) => format!("no program '{n}' in section '{s}'"),
            (Some(n), None) => format!("no program named '{n}'"),
            (None, Some(s)) => format!("no program in section '{s}'"),
            (None, None) => "no XDP program".to_string(),
        };
        let only_other_types =
            !progs.is_empty() && progs.iter().all(|p| p.prog_type != ProgramType::Unspec);
        let run_by = builtin::find(object).and_then(|b| b.run_by);
        let hint = if picked_by_user {
            "pick one of the programs listed above with -n NAME (or -s SECTION)".to_string()
        } else if let Some(command) = run_by {
            format!("{object} is not an XDP program to attach: run it with {command}")
        } else if only_other_types {
            "xdp-loader attaches XDP programs only: declare one with SEC(\"xdp\")".to_string()
        } else {
            "a program in a section libbpf does not know (e.g. SEC(\"xdp_foo\")) loads as XDP \
             when you pick it with -n NAME or -s SECTION"
                .to_string()
        };
        return Err(
            Failure::new(Exit::Bpf, format!("{wanted} in object '{object}'; it has:"))
                .details(listing())
                .hint(hint),
        );
    };

    let mut notes = Vec::new();
    if candidates.len() > 1 {
        let others: Vec<&str> = candidates[1..].iter().map(|p| p.name.as_str()).collect();
        notes.push(format!(
            "'{object}' has {} matching programs; using '{}' (others: {}; pick with -n NAME)",
            candidates.len(),
            first.name,
            others.join(", ")
        ));
    }
    let force_xdp = match first.prog_type {
        ProgramType::Xdp => false,
        ProgramType::Unspec => {
            notes.push(format!(
                "section '{}' is not a name libbpf >= 1.0 recognises (it wants SEC(\"xdp\")); \
                 loading '{}' as XDP because you picked it",
                first.section, first.name
            ));
            true
        }
        other => {
            return Err(Failure::new(
                Exit::Bpf,
                format!(
                    "program '{}' in '{object}' is a {} program, not XDP",
                    first.name,
                    type_name(other)
                ),
            )
            .details(listing())
            .hint("pick an XDP program (SEC(\"xdp\")) with -n NAME"));
        }
    };
    Ok(Choice {
        name: first.name.clone(),
        force_xdp,
        notes,
    })
}

/// A loaded object and the program chosen from it.
pub struct Loaded {
    pub object: Object,
    pub object_name: String,
    pub program: String,
    pub notes: Vec<String>,
    /// Which maps were pinned or reused (empty when not pinning).
    pub pins: PinPlan,
}

impl Loaded {
    /// The kernel id of the loaded program.
    pub fn program_id(&self) -> Option<u32> {
        libbpf_rs::Program::id_from_fd(self.program_fd()).ok()
    }

    /// The object's tc program (SEC("tc")), loaded beside the XDP one:
    /// its name and fd.
    pub fn tc_program(&self) -> Option<(String, BorrowedFd<'_>)> {
        self.object
            .progs()
            .find(|p| p.prog_type() == ProgramType::SchedCls)
            .map(|p| (lossy(p.name()), p.as_fd().as_raw_fd()))
            // SAFETY: the fd belongs to `self.object`, which outlives the borrow.
            .map(|(name, fd)| (name, unsafe { BorrowedFd::borrow_raw(fd) }))
    }

    pub fn program_fd(&self) -> BorrowedFd<'_> {
        // Names are compared as `programs` shows them (damaged objects can
        // have names that are not UTF-8).
        self.object
            .progs()
            .find(|p| lossy(p.name()) == self.program)
            .map(|p| p.as_fd().as_raw_fd())
            // SAFETY: the fd belongs to `self.object`, which outlives the borrow.
            .map(|fd| unsafe { BorrowedFd::borrow_raw(fd) })
            .expect("the chosen program was loaded")
    }
}

/// Opens `source`, keeps only the chosen program, and loads it.
/// `offload_ifindex` binds the program to a device for `-m hw`; with
/// `pin_to` the maps are pinned there, reusing compatible existing pins;
/// the pin lock is then held until the returned `Loaded.pins` is dropped.
pub fn load(
    source: &Source,
    sel: Selection,
    offload_ifindex: Option<u32>,
    pin_to: Option<PinTo>,
) -> Result<Loaded, Failure> {
    let object_name = source.name();
    let mut open = source.open()?;
    let entries = programs(&open);
    let choice = choose(&object_name, &entries, sel)?;
    require_frags(&entries, &choice.name)?;
    check_map_sizes(&open, &object_name)?;
    let pins = match pin_to {
        Some(to) => maps::plan(&mut open, &object_name, to)?,
        None => PinPlan::default(),
    };

    for mut prog in open.progs_mut() {
        if lossy(prog.name()) != choice.name {
            // Only the chosen program goes into the kernel, and the tc
            // programs that pair with it (advanced01: XDP writes metadata,
            // tc reads it), which `load` attaches at tc ingress.
            if prog.prog_type() != ProgramType::SchedCls {
                prog.set_autoload(false);
            }
            continue;
        }
        if choice.force_xdp {
            prog.set_prog_type(ProgramType::Xdp);
            prog.set_attach_type(ProgramAttachType::Xdp);
        }
        if libbpf_log::verbose() {
            prog.set_log_level(libbpf_log::verifier_log_level());
        }
        if let Some(ifindex) = offload_ifindex {
            prog.set_ifindex(ifindex);
        }
    }

    libbpf_log::take();
    let object = open
        .load()
        .map_err(|err| load_failure(&object_name, &choice.name, &err))?;
    let loaded = Loaded {
        object,
        object_name,
        program: choice.name,
        notes: choice.notes,
        pins,
    };
    let prog_id = loaded.program_id().unwrap_or(0);
    loaded
        .pins
        .pin_created(&loaded.object, prog_id)
        .inspect_err(|_| loaded.pins.undo())?;
    Ok(loaded)
}

/// A multi-buffer program (`SEC("xdp.frags")`, loaded with
/// BPF_F_XDP_HAS_FRAGS) on a kernel without frags: say so before the
/// kernel's bare EINVAL.
fn require_frags(entries: &[ProgramEntry], chosen: &str) -> Result<(), Failure> {
    let frags = entries
        .iter()
        .any(|p| p.name == chosen && p.section.starts_with("xdp.frags"));
    if !frags {
        return Ok(());
    }
    crate::features::require(
        crate::features::Feature::XdpFrags,
        &format!("program '{chosen}' (SEC(\"xdp.frags\"))"),
    )
    .map_err(|f| Failure {
        exit: Exit::Bpf,
        ..f
    })
}

pub fn load_failure(object: &str, program: &str, err: &libbpf_rs::Error) -> Failure {
    let log = libbpf_log::take();
    let errno = errno_of(err);
    if let Some(verifier) = libbpf_log::verifier_log(&log) {
        let mut failure = Failure::new(
            Exit::Bpf,
            format!("the kernel verifier rejected program '{program}' of '{object}'"),
        );
        if let Some(insn) = libbpf_log::failing_instruction(&verifier) {
            failure = failure.details([format!("failed at instruction {insn}")]);
        }
        let known = crate::verifier_hints::explain(&verifier);
        if libbpf_log::verbose() {
            return failure.hint(known.unwrap_or_else(|| {
                "the full verifier log is above; its last lines say why".into()
            }));
        }
        let shown = 8;
        let failure = failure
            .details(std::iter::once(format!(
                "verifier log (last {shown} lines):"
            )))
            .details(tail(&verifier, shown).into_iter().map(|l| format!("  {l}")));
        // "invalid func unknown#N": a helper this kernel does not have.
        if verifier.iter().any(|l| l.starts_with("invalid func")) {
            return failure.hint(format!(
                "the program calls a BPF helper this kernel ({}) does not have: it needs a newer kernel",
                kernel_release()
            ));
        }
        return failure.hint(match known {
            Some(why) => format!("{why} (-v prints the whole log)"),
            None => "the last lines say why; -v prints the whole log".into(),
        });
    }
    // libbpf: "map 'NAME': failed to create: -EINVAL"
    if let Some(map) = log.iter().find_map(|l| {
        l.split_once("map '")
            .and_then(|(_, rest)| rest.split_once("': failed to create"))
            .map(|(name, _)| name.to_string())
    }) {
        return Failure::new(
            Exit::Bpf,
            format!(
                "the kernel refused to create map '{map}' of '{object}': {}",
                errno_text(errno)
            ),
        )
        .details(tail(&log, 3))
        .hint(match log.iter().any(|l| l.contains("pinned map")) {
            // libbpf could not open or reuse the pin: the pin is the cause.
            true => "libbpf could not use the map's pin (lines above): remove the pin, \
                     or pin elsewhere with --pin-path DIR"
                .to_string(),
            false => format!(
                "its type, flags or sizes may need a newer kernel than {} (bpftool feature probe lists what this one has)",
                kernel_release()
            ),
        });
    }
    let failure = Failure::new(
        Exit::Bpf,
        format!(
            "cannot load program '{program}' of '{object}': {}",
            errno_text(errno)
        ),
    )
    .details(tail(&log, 5));
    match errno {
        libc::EPERM | libc::EACCES => failure.hint(ROOT_HINT),
        _ => failure,
    }
}

/// `uname -r`, for hints about kernel features.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_else(|_| "this kernel".into())
}

/// The last `n` lines of a log.
pub fn tail(lines: &[String], n: usize) -> Vec<String> {
    lines[lines.len().saturating_sub(n)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prog(name: &str, section: &str, prog_type: ProgramType) -> ProgramEntry {
        ProgramEntry {
            name: name.into(),
            section: section.into(),
            prog_type,
        }
    }

    fn sample() -> Vec<ProgramEntry> {
        vec![
            prog("tc_func", "tc", ProgramType::SchedCls),
            prog("xdp_pass_func", "xdp", ProgramType::Xdp),
            prog("xdp_drop_func", "xdp", ProgramType::Xdp),
            prog("xdp_patch_ports", "xdp_patch_ports", ProgramType::Unspec),
        ]
    }

    #[test]
    fn default_is_first_xdp_program_with_a_note() {
        let choice = choose("obj", &sample(), Selection::default()).unwrap();
        assert_eq!(choice.name, "xdp_pass_func");
        assert!(!choice.force_xdp);
        assert!(choice.notes[0].contains("xdp_drop_func"));
    }

    #[test]
    fn by_name_and_by_section() {
        let by_name = Selection {
            prog_name: Some("xdp_drop_func"),
            section: None,
        };
        assert_eq!(
            choose("o", &sample(), by_name).unwrap().name,
            "xdp_drop_func"
        );
        let by_section = Selection {
            prog_name: None,
            section: Some("xdp"),
        };
        let choice = choose("o", &sample(), by_section).unwrap();
        assert_eq!(choice.name, "xdp_pass_func");
        assert_eq!(choice.notes.len(), 1);
    }

    #[test]
    fn unknown_name_lists_every_program() {
        let sel = Selection {
            prog_name: Some("nope"),
            section: None,
        };
        let err = choose("o", &sample(), sel).unwrap_err();
        assert_eq!(err.exit, Exit::Bpf);
        assert!(err.message.contains("no program named 'nope'"));
        assert_eq!(err.details.len(), 4);
        assert!(err.details[1].contains("xdp_pass_func"));
    }

    #[test]
    fn legacy_section_loads_as_xdp_when_picked() {
        let sel = Selection {
            prog_name: None,
            section: Some("xdp_patch_ports"),
        };
        let choice = choose("o", &sample(), sel).unwrap();
        assert!(choice.force_xdp);
        assert!(choice.notes[0].contains("as XDP"));
    }

    #[test]
    fn non_xdp_program_is_refused() {
        let sel = Selection {
            prog_name: Some("tc_func"),
            section: None,
        };
        let err = choose("o", &sample(), sel).unwrap_err();
        assert!(err.message.contains("not XDP"), "{}", err.message);
    }

    #[test]
    fn no_xdp_program_at_all() {
        let progs = vec![prog("f", "xdp_foo", ProgramType::Unspec)];
        let err = choose("o", &progs, Selection::default()).unwrap_err();
        assert!(err.message.contains("no XDP program"));
        assert!(err.hint.unwrap().contains("-n NAME"));
    }

    #[test]
    fn only_other_program_types() {
        let progs = vec![prog("kp", "kprobe/x", ProgramType::Kprobe)];
        let err = choose("o", &progs, Selection::default()).unwrap_err();
        assert!(err.details[0].contains("kprobe"), "{:?}", err.details);
        assert!(err.hint.unwrap().contains("SEC(\"xdp\")"));
    }

    #[test]
    fn source_resolution() {
        assert!(matches!(
            Source::resolve("xdp_pass"),
            Ok(Source::Builtin(_))
        ));
        assert!(matches!(Source::resolve("./x.o"), Ok(Source::File(_))));
        let err = Source::resolve("no_such_thing").unwrap_err();
        assert!(err.hint.unwrap().contains("xdp_prog"));
    }
}
