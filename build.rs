//! Compiles every lesson program `src/bpf/*.bpf.c` with clang into a BPF
//! object and a libbpf-rs skeleton (`$OUT_DIR/<name>.skel.rs`), which
//! `src/builtin.rs` embeds in the binary.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use libbpf_cargo::SkeletonBuilder;

const BPF_DIR: &str = "src/bpf";
const VMLINUX_DIR: &str = "vmlinux";

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    require_clang();

    println!("cargo:rerun-if-changed={BPF_DIR}");
    println!("cargo:rerun-if-changed={VMLINUX_DIR}/vmlinux.h");

    let mut sources = Vec::new();
    for entry in std::fs::read_dir(BPF_DIR).expect("src/bpf exists") {
        let path = entry.expect("readable src/bpf entry").path();
        let name = path.file_name().and_then(OsStr::to_str).unwrap_or_default();
        if name.ends_with(".h") || name.ends_with(".bpf.c") {
            // Headers are shared by several programs: any change rebuilds all.
            println!("cargo:rerun-if-changed={}", path.display());
        }
        if name.ends_with(".bpf.c") {
            sources.push(path);
        }
    }
    sources.sort();

    for source in &sources {
        build_skeleton(source, &out_dir);
    }
    export_headers(&out_dir);
    embed_headers(&out_dir);
}

/// Writes `$OUT_DIR/bpf_headers.rs`: the headers a lesson program includes
/// (this project's `src/bpf/*.h` and `vmlinux.h`), embedded with
/// `include_bytes!`, and one hash of them all. `xdp-loader build` writes
/// them to a cache directory named by that hash, so an installed binary
/// compiles students' programs without this source tree.
fn embed_headers(out_dir: &Path) {
    let mut headers: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(BPF_DIR).expect("src/bpf exists") {
        let path = entry.expect("readable src/bpf entry").path();
        let name = path
            .file_name()
            .and_then(OsStr::to_str)
            .unwrap_or_default()
            .to_string();
        if name.ends_with(".h") {
            headers.push((name, path));
        }
    }
    headers.push(("vmlinux.h".into(), Path::new(VMLINUX_DIR).join("vmlinux.h")));
    headers.sort();

    // FNV-1a over names and contents: a stable name for this set of headers.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut code =
        String::from("/// This project's headers for BPF programs: (file name, contents).\n");
    code += "pub const PROJECT_HEADERS: &[(&str, &[u8])] = &[\n";
    for (name, path) in &headers {
        let contents = std::fs::read(path).expect("read a header");
        for byte in name.bytes().chain(contents.iter().copied()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        let abs = std::fs::canonicalize(path).expect("header path");
        code += &format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            abs.display().to_string()
        );
    }
    code += "];\n";
    // libbpf's headers are embedded by libbpf-sys; they change the hash too.
    for (name, contents) in libbpf_sys::API_HEADERS {
        for byte in name.bytes().chain(contents.bytes()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    code += &format!("/// Names the headers' cache directory.\npub const HEADERS_HASH: &str = \"{hash:016x}\";\n");
    std::fs::write(out_dir.join("bpf_headers.rs"), code).expect("write bpf_headers.rs");
}

/// Writes libbpf's BPF-side headers (`bpf/bpf_helpers.h`, ...) next to the
/// skeletons and tells the crate where: tests compile their own C programs
/// against `xdp_stats_kern.h` with `-I $XDP_TUTORIAL_BPF_INCLUDE`.
fn export_headers(out_dir: &Path) {
    let dir = out_dir.join("include");
    let bpf = dir.join("bpf");
    std::fs::create_dir_all(&bpf).expect("create include dir in OUT_DIR");
    for (name, contents) in libbpf_sys::API_HEADERS {
        std::fs::write(bpf.join(name), contents).expect("write a libbpf header");
    }
    println!("cargo:rustc-env=XDP_TUTORIAL_BPF_INCLUDE={}", dir.display());
}

/// Stops the build with one actionable line when clang is missing, instead
/// of the long backtrace libbpf-cargo would print.
fn require_clang() {
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".into());
    if Command::new(&clang).arg("--version").output().is_err() {
        eprintln!(
            "error: `{clang}` not found: the lesson programs are C compiled by clang; \
             install it with `apt-get install clang llvm` (or run `make deps`)"
        );
        std::process::exit(1);
    }
}

fn build_skeleton(source: &Path, out_dir: &Path) {
    let file = source.file_name().and_then(OsStr::to_str).unwrap();
    let stem = file.trim_end_matches(".bpf.c");
    let skel = out_dir.join(format!("{stem}.skel.rs"));
    let obj = out_dir.join(format!("{stem}.bpf.o"));

    let mut builder = SkeletonBuilder::new();
    builder.source(source).obj(&obj).clang_args([
        OsStr::new("-I"),
        OsStr::new(VMLINUX_DIR),
        OsStr::new("-I"),
        OsStr::new(BPF_DIR),
        OsStr::new("-Wall"),
        OsStr::new("-Werror"),
    ]);
    if let Ok(clang) = env::var("CLANG") {
        builder.clang(clang);
    }
    if let Err(err) = builder.build_and_generate(&skel) {
        eprintln!("error: compiling {}: {err:#}", source.display());
        std::process::exit(1);
    }
}
