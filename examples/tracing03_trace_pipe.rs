//! tracing03: bpf_printk() from an XDP program, read from the trace pipe.
//!
//! ```text
//! cargo run --example tracing03_trace_pipe -- IFNAME [--count LINES]
//! ```
//! Attaches xdp_printk to IFNAME (by a bpf_link: it comes off when we
//! exit), then reads the kernel's trace pipe and decodes each of its lines
//! "src: <u64>, dst: <u64>, proto: <u16>" into MAC addresses.

mod common;

use std::io::{BufRead, BufReader};
use std::mem::MaybeUninit;

use anyhow::{Context, Result};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use xdp_tutorial::builtin::skel::xdp_printk::XdpPrintkSkelBuilder;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ifname = args
        .first()
        .context("usage: tracing03_trace_pipe IFNAME [--count LINES]")?;
    let count: Option<u64> = common::option(&args, "--count")?;
    let ifindex = common::ifindex_of(ifname)?;

    let mut storage = MaybeUninit::uninit();
    let mut skel = XdpPrintkSkelBuilder::default().open(&mut storage)?.load()?;
    skel.links.xdp_printk_func = Some(skel.progs.xdp_printk_func.attach_xdp(ifindex)?);

    // bpf_printk() writes into the kernel's one global trace buffer; its
    // trace_pipe gives each line once, to one reader (a second reader,
    // such as `cat trace_pipe` elsewhere, takes lines away from us).
    let pipe = [
        "/sys/kernel/tracing/trace_pipe",
        "/sys/kernel/debug/tracing/trace_pipe",
    ]
    .into_iter()
    .find_map(|p| std::fs::File::open(p).ok())
    .context("no trace_pipe: mount tracefs (mount -t tracefs none /sys/kernel/tracing)")?;
    println!("xdp_printk on {ifname}; reading the trace pipe");

    let mut decoded = 0;
    for line in BufReader::new(pipe).lines() {
        let line = line?;
        // A line: "<task>-<pid> [cpu] flags timestamp: bpf_trace_printk: src: ..., dst: ..., proto: ..."
        let Some(message) = line.split("bpf_trace_printk: ").nth(1) else {
            continue;
        };
        let Some((src, dst, proto)) = parse(message) else {
            println!("(other) {message}"); // some other program's bpf_printk
            continue;
        };
        println!("src {} dst {} proto 0x{proto:04x}", mac(src), mac(dst));
        decoded += 1;
        if count.is_some_and(|n| decoded >= n) {
            break;
        }
    }
    Ok(())
}

/// "src: 1, dst: 2, proto: 34525" -> (1, 2, 34525).
fn parse(message: &str) -> Option<(u64, u64, u16)> {
    let mut fields = message.split(", ").map(|f| f.split(": ").nth(1));
    let src = fields.next()??.trim().parse().ok()?;
    let dst = fields.next()??.trim().parse().ok()?;
    let proto = fields.next()??.trim().parse().ok()?;
    Some((src, dst, proto))
}

/// The program packs a MAC into a u64 with its first byte lowest.
fn mac(packed: u64) -> String {
    let bytes = packed.to_le_bytes();
    bytes[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
