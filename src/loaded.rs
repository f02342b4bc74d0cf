//! Programs that are already in the kernel, named by `id:N` or by the path
//! of their pin on bpffs: what `load IFNAME id:N` and `load IFNAME PATH`
//! attach, as `bpftool net attach xdp id N dev IF` and
//! `ip link set dev IF xdp pinned PATH` do.
//!
//! Nothing is loaded and no map is pinned: the program and its maps belong
//! to whoever loaded it. Only the attachment (and, with `--attach link`,
//! the link pin) is this tool's.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use libbpf_rs::{ProgramHandle, ProgramType};

use crate::error::{errno_of, errno_text, Exit, Failure};
use crate::pin::{self, Kind};

/// How the user named a loaded program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Id(u32),
    Pin(PathBuf),
}

impl Named {
    /// `id:N`, or a path on bpffs; None for anything else (an object file
    /// or a built-in name, which `object::Source` resolves).
    pub fn parse(arg: &str) -> Option<Result<Named, Failure>> {
        if let Some(number) = arg.strip_prefix("id:") {
            return Some(match number.parse::<u32>() {
                Ok(id) if id > 0 => Ok(Named::Id(id)),
                _ => Err(Failure::new(
                    Exit::Usage,
                    format!("'{arg}' is not a program id: expected id:N with N a number above 0"),
                )
                .hint("`xdp-loader status` and `bpftool prog show` list the programs' ids")),
            });
        }
        let path = Path::new(arg);
        (path.exists() && pin::is_bpffs(path)).then(|| Ok(Named::Pin(path.to_path_buf())))
    }

    fn describe(&self) -> String {
        match self {
            Named::Id(id) => format!("id:{id}"),
            Named::Pin(path) => path.display().to_string(),
        }
    }
}

/// A loaded XDP program, held open while it is attached.
pub struct LoadedProgram {
    pub handle: ProgramHandle,
    pub name: String,
}

/// Opens the program and checks that it is one an interface can run.
pub fn open(named: &Named) -> Result<LoadedProgram, Failure> {
    let handle = match named {
        Named::Id(id) => ProgramHandle::from_prog_id(*id).map_err(|err| {
            let errno = errno_of(&err);
            let failure = Failure::new(
                Exit::Bpf,
                format!("cannot open program id:{id}: {}", errno_text(errno)),
            );
            match errno {
                libc::ENOENT => failure.hint(
                    "no loaded program has this id (any more): `bpftool prog show` lists them",
                ),
                _ => failure,
            }
        })?,
        Named::Pin(path) => open_pin(path)?,
    };
    let name = handle.name().to_string_lossy().into_owned();
    if handle.prog_type() != ProgramType::Xdp {
        return Err(Failure::new(
            Exit::Bpf,
            format!(
                "{} is program '{name}' of type {}, not an XDP program",
                named.describe(),
                crate::object::type_name(handle.prog_type())
            ),
        )
        .hint("only programs of type xdp attach to an interface"));
    }
    Ok(LoadedProgram { handle, name })
}

/// The program pinned at `path`; a pinned map or link is named as such.
fn open_pin(path: &Path) -> Result<ProgramHandle, Failure> {
    let shown = path.display();
    if path.is_dir() {
        return Err(Failure::new(
            Exit::Bpf,
            format!("{shown} is a directory on bpffs, not a pinned program"),
        )
        .hint("give the path of a pinned program (bpftool prog pin ID PATH makes one)"));
    }
    let kind = match pin::open_with_kind(path) {
        Some((_, kind)) => kind,
        None => {
            return Err(
                Failure::new(Exit::Bpf, format!("nothing is pinned at {shown}"))
                    .hint("give the path of a pinned program (bpftool prog pin ID PATH makes one)"),
            )
        }
    };
    if kind != Kind::Program {
        return Err(Failure::new(
            Exit::Bpf,
            format!("{shown} is a pinned {}, not a program", kind.name()),
        )
        .hint("give the path of a pinned program, or id:N (`bpftool prog show` lists them)"));
    }
    ProgramHandle::from_pinned_path(path).map_err(|err| {
        Failure::new(
            Exit::Bpf,
            format!(
                "cannot open the program pinned at {shown}: {}",
                errno_text(errno_of(&err))
            ),
        )
    })
}

impl LoadedProgram {
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.handle.as_fd()
    }
}
