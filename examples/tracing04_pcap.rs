//! tracing04: copy packets to user space through a perf buffer and write
//! them to a pcap file that tcpdump and wireshark read.
//!
//! ```text
//! cargo run --example tracing04_pcap -- IFNAME FILE.pcap [--count PACKETS] [--snaplen BYTES]
//! tcpdump -r FILE.pcap -nn -e
//! ```
//! xdp_capture passes every packet, after bpf_perf_event_output() has put
//! a small header (struct capture_meta) and the packet's bytes into the
//! perf ring of the CPU it runs on. We poll all rings.

mod common;

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::mem::MaybeUninit;
use std::time::Duration;

use anyhow::{Context, Result};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, PerfBufferBuilder};
use xdp_tutorial::builtin::skel::xdp_capture::XdpCaptureSkelBuilder;

/// struct capture_meta: timestamp_ns (u64), pkt_len (u32), cap_len (u32).
const META_LEN: usize = 16;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [ifname, file, ..] = args.as_slice() else {
        anyhow::bail!("usage: tracing04_pcap IFNAME FILE.pcap [--count N] [--snaplen BYTES]");
    };
    let count: u64 = common::option(&args, "--count")?.unwrap_or(10);
    let snaplen: u32 = common::option(&args, "--snaplen")?.unwrap_or(1500);
    let ifindex = common::ifindex_of(ifname)?;

    let mut storage = MaybeUninit::uninit();
    let mut skel = XdpCaptureSkelBuilder::default()
        .open(&mut storage)?
        .load()?;
    // Slot 0 of capture_config: how many bytes of each packet to copy.
    skel.maps
        .capture_config
        .update(&0u32.to_ne_bytes(), &snaplen.to_ne_bytes(), MapFlags::ANY)?;

    // The pcap file: a global header (microsecond timestamps, Ethernet),
    // then one record header + the bytes for each packet.
    let out = RefCell::new(BufWriter::new(
        File::create(file).with_context(|| file.clone())?,
    ));
    let mut header = Vec::new();
    for word in [0xa1b2_c3d4u32, 2 | 4 << 16, 0, 0, snaplen, 1] {
        header.extend_from_slice(&word.to_le_bytes()); // 2|4<<16: version 2.4 as two u16
    }
    out.borrow_mut().write_all(&header)?;

    // The program stamps packets with CLOCK_MONOTONIC; pcap wants wall time.
    let to_wall_ns = now_ns(libc::CLOCK_REALTIME) - now_ns(libc::CLOCK_MONOTONIC);
    let written = RefCell::new(0u64);
    let on_sample = |_cpu: i32, data: &[u8]| {
        let field = |at: usize| u32::from_ne_bytes(data[at..at + 4].try_into().unwrap());
        let stamp = u64::from_ne_bytes(data[..8].try_into().unwrap()) + to_wall_ns;
        let (pkt_len, cap_len) = (field(8), field(12));
        // Past cap_len, the kernel may have padded the record to 8 bytes.
        let bytes = &data[META_LEN..META_LEN + cap_len as usize];
        let secs = (stamp / 1_000_000_000) as u32;
        let usecs = (stamp % 1_000_000_000 / 1000) as u32;
        let mut out = out.borrow_mut();
        for word in [secs, usecs, cap_len, pkt_len] {
            out.write_all(&word.to_le_bytes())
                .expect("write the pcap file");
        }
        out.write_all(bytes).expect("write the pcap file");
        *written.borrow_mut() += 1;
    };
    let lost = |cpu: i32, n: u64| eprintln!("lost {n} samples on CPU {cpu} (rings full)");
    // One ring per CPU, 8 pages each; the callbacks run inside poll().
    let perf = PerfBufferBuilder::new(&skel.maps.capture_events)
        .sample_cb(on_sample)
        .lost_cb(lost)
        .pages(8)
        .build()?;

    // Attach last: no packet goes by before we are ready to read it.
    skel.links.xdp_capture_func = Some(skel.progs.xdp_capture_func.attach_xdp(ifindex)?);
    println!("capturing {count} packets on {ifname} to {file}");
    while *written.borrow() < count {
        perf.poll(Duration::from_millis(200))?;
    }
    drop(perf); // its callbacks borrow `out` and `written`
    out.borrow_mut().flush()?;
    println!("wrote {} packets to {file}", written.borrow());
    Ok(())
}

fn now_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid timespec to fill.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
