//! How captured packets reach user space: per-CPU perf buffers (every
//! kernel) or the BPF ring buffer (one ring for all CPUs, Linux 5.8).
//!
//! Both capture programs (capture's own, and the fentry/fexit ones around
//! a running program) come in both flavours, with the same map names:
//! `capture_events` (perf), `capture_ring` and `capture_lost` (ring).

use libbpf_rs::{
    MapCore, MapFlags, Object, PerfBuffer, PerfBufferBuilder, RingBuffer, RingBufferBuilder,
};

use std::cell::RefCell;

use super::sink::{self, Ending, Packet, Sink, POLL};
use crate::error::{Exit, Failure};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Perf,
    Ring,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Perf => "perf buffer",
            Transport::Ring => "ring buffer",
        }
    }
}

/// Reads records from a loaded capture object.
pub struct Reader<'a> {
    buffer: Buffer<'a>,
    object: &'a Object,
}

enum Buffer<'a> {
    Perf(PerfBuffer<'a>),
    Ring(RingBuffer<'a>),
}

impl<'a> Reader<'a> {
    /// `record` gets each record's bytes; `lost` the perf buffer's counts
    /// of records it had no room for (both are also counted by the program:
    /// `lost_counted_by_program`).
    pub fn open(
        object: &'a Object,
        transport: Transport,
        mut record: impl FnMut(&[u8]) + 'a,
        lost: impl FnMut(i32, u64) + 'a,
    ) -> Result<Reader<'a>, Failure> {
        let cannot = |e: libbpf_rs::Error| {
            Failure::new(
                Exit::Bpf,
                format!("cannot open the {}: {e}", transport.name()),
            )
        };
        let buffer = match transport {
            Transport::Perf => {
                let map = map(object, "capture_events")?;
                let perf = PerfBufferBuilder::new(&map)
                    .sample_cb(move |_cpu, data: &[u8]| record(data))
                    .lost_cb(lost)
                    .build()
                    .map_err(cannot)?;
                Buffer::Perf(perf)
            }
            Transport::Ring => {
                let map = map(object, "capture_ring")?;
                let mut builder = RingBufferBuilder::new();
                builder
                    .add(&map, move |data: &[u8]| {
                        record(data);
                        0
                    })
                    .map_err(cannot)?;
                Buffer::Ring(builder.build().map_err(cannot)?)
            }
        };
        Ok(Reader { buffer, object })
    }

    /// Waits up to POLL for records and hands them over. EINTR (a signal
    /// arrived) is not an error: the caller looks at why.
    pub fn poll(&self) {
        let _ = match &self.buffer {
            Buffer::Perf(perf) => perf.poll(POLL),
            Buffer::Ring(ring) => ring.poll(POLL),
        };
    }

    /// Hands over every record still waiting, without waiting for more:
    /// at Ctrl-C, what had arrived is written, not left uncounted.
    pub fn drain(&self) {
        let _ = match &self.buffer {
            Buffer::Perf(perf) => perf.consume(),
            Buffer::Ring(ring) => ring.consume(),
        };
    }

    /// Packets the program could not put into its full buffer, all CPUs,
    /// as it counted them itself (capture_lost.h).
    pub fn lost_counted_by_program(&self) -> u64 {
        let Ok(map) = map(self.object, "capture_lost") else {
            return 0;
        };
        map.lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .ok()
            .flatten()
            .map(|cpus| {
                cpus.iter()
                    .filter_map(|v| Some(u64::from_ne_bytes(v.get(..8)?.try_into().ok()?)))
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// Opens the reader, says `announce`, and hands each record `parse`
/// understands to the sink until the capture ends; then takes what the
/// program counted as lost where that is more than the buffer reported. The capture programs are attached already.
pub fn read_into(
    object: &Object,
    transport: Transport,
    parse: fn(&[u8]) -> Option<Packet<'_>>,
    sink: &RefCell<Sink>,
    ending: &Ending,
    announce: String,
) -> Result<(), Failure> {
    let reader = Reader::open(
        object,
        transport,
        |data| {
            if let Some(packet) = parse(data) {
                sink.borrow_mut().record(packet);
            }
        },
        |_cpu, count| sink.borrow_mut().lost(count),
    )?;
    eprintln!("{announce}");
    let result = sink::pump(sink, ending, || reader.poll());
    reader.drain();
    let mut sink = sink.borrow_mut();
    sink.tally.buffer = transport.name();
    // The perf buffer's lost records miss what was lost last (no room
    // came back to write them); the program's count misses nothing.
    sink.tally.lost = sink.tally.lost.max(reader.lost_counted_by_program());
    result.and(sink.flush())
}

fn map<'o>(object: &'o Object, name: &str) -> Result<libbpf_rs::Map<'o>, Failure> {
    object
        .maps()
        .find(|m| m.name() == name)
        .ok_or_else(|| Failure::new(Exit::Bpf, format!("the capture object has no map {name}")))
}
