//! `xdp-loader build FILE.bpf.c [-o FILE.o]`: compiles one BPF program
//! with clang, against this project's headers and libbpf's, as build.rs
//! compiles the built-ins, but one file, in well under a second.
//!
//! clang's own diagnostics go straight to the terminal (its stderr is
//! ours), in its colours and with its carets: nothing is reworded.

pub mod headers;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::cli::BuildArgs;
use crate::error::{Exit, Failure};

/// The flags every lesson program is built with. `-g` keeps BTF (needed
/// for BTF-defined maps) and the DWARF line info `llvm-objdump -S` shows.
pub const CLANG_FLAGS: &[&str] = &["-target", "bpf", "-O2", "-g", "-Wall"];

/// The compiler: $CLANG, as for build.rs, else `clang`.
fn clang() -> String {
    std::env::var("CLANG").unwrap_or_else(|_| "clang".into())
}

/// `prog.bpf.c` -> `prog.bpf.o`, next to the source.
pub fn default_output(source: &Path) -> PathBuf {
    source.with_extension("o")
}

/// The clang command that builds `source` into `output`.
pub fn command(source: &Path, output: &Path, include: &Path) -> Command {
    let mut cmd = Command::new(clang());
    cmd.args(CLANG_FLAGS)
        .arg("-I")
        .arg(include)
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(output);
    cmd
}

pub fn run(args: &BuildArgs, verbose: bool) -> anyhow::Result<()> {
    let source = &args.file;
    check_source(source)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(source));
    let include = headers::include_dir()?;
    let mut cmd = command(source, &output, &include);
    if verbose {
        eprintln!("{}", shown(&cmd));
    }
    let started = Instant::now();
    let status = cmd.status().map_err(|err| {
        Failure::new(Exit::Fail, format!("cannot run {}: {err}", clang()))
            .hint("install clang: apt-get install clang llvm (or make deps)")
    })?;
    if !status.success() {
        // clang has printed its diagnostics; a stale object would load as
        // if the edit had worked, so none is left behind.
        let _ = std::fs::remove_file(&output);
        return Err(Failure::new(
            Exit::Fail,
            format!(
                "clang could not compile {} (its messages are above)",
                source.display()
            ),
        )
        .into());
    }
    println!(
        "Built {} from {} in {:.2} s",
        output.display(),
        source.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A missing file or one that is not C is a mistake in the argument (2).
fn check_source(source: &Path) -> Result<(), Failure> {
    if !source.is_file() {
        return Err(Failure::new(
            Exit::Usage,
            format!("cannot read '{}': no such file", source.display()),
        )
        .hint("give the C source of a BPF program, e.g. lessons/packet01/xdp_parser.bpf.c"));
    }
    if source.extension().and_then(|e| e.to_str()) != Some("c") {
        return Err(Failure::new(
            Exit::Usage,
            format!("'{}' is not a C file (.c)", source.display()),
        )
        .hint(
            "xdp-loader build compiles C; load an object (.o) with xdp-loader load IFNAME FILE.o",
        ));
    }
    Ok(())
}

/// The command as a shell line a user can paste.
pub fn shown(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| crate::compile::shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes `arg` for a POSIX shell when it needs it.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_goes_next_to_the_source() {
        assert_eq!(
            default_output(Path::new("lessons/packet01/xdp_parser.bpf.c")),
            PathBuf::from("lessons/packet01/xdp_parser.bpf.o")
        );
        assert_eq!(default_output(Path::new("prog.c")), PathBuf::from("prog.o"));
    }

    #[test]
    fn the_shown_command_can_be_pasted() {
        assert_eq!(shell_quote("-O2"), "-O2");
        assert_eq!(shell_quote("my prog.c"), "'my prog.c'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
