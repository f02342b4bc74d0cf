//! Damaged objects on the real `load` path: thousands of mutations of the
//! built-in objects (bit flips, truncations, section-table damage) must each
//! end in a clean success or a clean `Error:` (exit 1, 2 or 40): never a
//! signal, a panic or a hang, and never anything left attached or pinned.
//!
//! `FUZZ_RUNS` sets the number of mutations (default 2000).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const OBJECTS: [&[u8]; 3] = [
    include_bytes!(concat!(env!("OUT_DIR"), "/xdp_pass.bpf.o")),
    include_bytes!(concat!(env!("OUT_DIR"), "/xdp_prog.bpf.o")),
    include_bytes!(concat!(env!("OUT_DIR"), "/xdp_stats1.bpf.o")),
];
const THREADS: u64 = 4;
const HANG: Duration = Duration::from_secs(20);

/// xorshift64*: a reproducible stream of "random" numbers per seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One damaged copy of `object`; which damage depends on `seed`.
fn mutate(object: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut bytes = object.to_vec();
    match seed % 4 {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(bytes.len());
                bytes[at] ^= 1 << rng.below(8);
            }
        }
        1 => bytes.truncate(rng.below(bytes.len())),
        2 => {
            // The section header table: e_shoff (offset 40), 64-byte entries.
            let shoff = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
            for _ in 0..1 + rng.below(4) {
                let at = shoff + rng.below(bytes.len().saturating_sub(shoff));
                if at < bytes.len() {
                    bytes[at] = rng.next() as u8;
                }
            }
        }
        _ => {
            let at = rng.below(bytes.len());
            let len = 1 + rng.below(64);
            let end = (at + len).min(bytes.len());
            bytes[at..end].fill(if rng.below(2) == 0 { 0 } else { 0xff });
        }
    }
    bytes
}

/// Runs `load` on `file`; panics on a signal, a panic or a hang.
fn load_damaged(net: &TestNet, file: &Path, seed: u64) -> i32 {
    let mut child = Command::new(loader_path())
        .args(["load", "-m", "skb", net.host_if(), path(file)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            panic!("seed {seed}: load hung for {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let code = status
        .code()
        .unwrap_or_else(|| panic!("seed {seed}: killed by a signal ({status}); stderr: {stderr}"));
    assert!(!stderr.contains("panicked"), "seed {seed}: {stderr}");
    match code {
        0 => {}
        1 | 2 | 40 => assert!(
            stderr.starts_with("Error: ") || stderr.contains("\nError: "),
            "seed {seed}: exit {code} without an Error: line: {stderr}"
        ),
        other => panic!("seed {seed}: unexpected exit {other}: {stderr}"),
    }
    code
}

#[test]
fn damaged_objects_fail_cleanly_and_leave_nothing() {
    if !privileged() {
        return;
    }
    let runs: u64 = std::env::var("FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let workers: Vec<_> = (0..THREADS)
        .map(|worker| {
            std::thread::spawn(move || {
                let net = TestNet::new();
                let dir: PathBuf = std::env::temp_dir().join(format!("fuzz-{}", net.host_if()));
                std::fs::create_dir_all(&dir).unwrap();
                let pins = format!("/sys/fs/bpf/{}", net.host_if());
                let mut loaded = 0;
                for seed in (worker..runs).step_by(THREADS as usize) {
                    let object = OBJECTS[(seed / 4) as usize % OBJECTS.len()];
                    let file = dir.join(format!("m{seed}.o"));
                    std::fs::write(&file, mutate(object, seed)).unwrap();
                    if load_damaged(&net, &file, seed) == 0 {
                        // The damage missed everything that matters.
                        loaded += 1;
                        loader(&["unload", net.host_if()]).ok();
                    }
                    assert_eq!(net.ip_link_xdp(), None, "seed {seed}: left attached");
                    assert!(!Path::new(&pins).exists(), "seed {seed}: left pins");
                    std::fs::remove_file(&file).unwrap();
                }
                std::fs::remove_dir_all(&dir).unwrap();
                loaded
            })
        })
        .collect();
    let loaded: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    println!("{runs} damaged objects: {loaded} still loaded, the rest failed cleanly");
    assert!(
        loaded < runs,
        "no mutation was ever refused: the damage is not reaching load"
    );
}
