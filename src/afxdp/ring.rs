//! One AF_XDP ring: a power-of-two array of descriptors shared with the
//! kernel through mmap, with a producer and a consumer index.
//!
//! Each ring has one producer and one consumer, one of them the kernel:
//! - we produce into the fill ring (empty frames for the kernel to fill)
//!   and the TX ring (frames to send);
//! - we consume from the RX ring (received frames) and the completion ring
//!   (sent frames, free again).
//!
//! The indexes only grow (wrapping at 2^32); `index & mask` is the slot.
//! The side that writes a slot publishes it by storing its index with
//! Release ordering, and the other side reads the index with Acquire before
//! reading the slot: the same protocol as libxdp's xsk.h.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use super::mapping::Mapping;

pub struct Ring<T: Copy> {
    producer: NonNull<AtomicU32>,
    consumer: NonNull<AtomicU32>,
    flags: NonNull<AtomicU32>,
    slots: NonNull<T>,
    size: u32,
    /// Our copy of the index we own (producer or consumer), ahead of the
    /// shared one until `submit`/`release` publishes it.
    local: u32,
    _mapping: Mapping,
}

// SAFETY: the ring is only used through &mut self by one thread at a time;
// the pointers stay valid as long as the mapping it owns.
unsafe impl<T: Copy> Send for Ring<T> {}

impl<T: Copy> Ring<T> {
    /// A ring in `mapping`, laid out as the kernel's `xdp_ring_offset` says.
    pub fn new(mapping: Mapping, offsets: &libc::xdp_ring_offset, size: u32) -> Ring<T> {
        assert!(size.is_power_of_two(), "ring sizes are powers of two");
        let at = |offset: u64| mapping.at(offset as usize);
        Ring {
            producer: at(offsets.producer).cast(),
            consumer: at(offsets.consumer).cast(),
            flags: at(offsets.flags).cast(),
            slots: at(offsets.desc).cast(),
            size,
            local: 0,
            _mapping: mapping,
        }
    }

    fn load(index: NonNull<AtomicU32>) -> u32 {
        // SAFETY: points into the live mapping, at a u32 the kernel aligns.
        unsafe { index.as_ref() }.load(Ordering::Acquire)
    }

    fn store(index: NonNull<AtomicU32>, value: u32) {
        // SAFETY: as in `load`.
        unsafe { index.as_ref() }.store(value, Ordering::Release)
    }

    fn slot(&self, index: u32) -> *mut T {
        // SAFETY: masked into the ring's `size` slots.
        unsafe { self.slots.as_ptr().add((index & (self.size - 1)) as usize) }
    }

    /// Does the kernel want a syscall to look at this ring again
    /// (XDP_USE_NEED_WAKEUP)?
    pub fn needs_wakeup(&self) -> bool {
        Self::load(self.flags) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    // ---- our side produces (fill, TX) ----

    /// Slots we may still write before the kernel consumes some.
    pub fn free(&self) -> u32 {
        self.size - self.local.wrapping_sub(Self::load(self.consumer))
    }

    /// Writes one entry; the kernel sees it after `submit`. The caller has
    /// checked `free()`.
    pub fn push(&mut self, entry: T) {
        debug_assert!(self.free() > 0);
        // SAFETY: a slot the kernel has consumed (free() > 0).
        unsafe { self.slot(self.local).write(entry) };
        self.local = self.local.wrapping_add(1);
    }

    /// Publishes every entry pushed so far.
    pub fn submit(&mut self) {
        Self::store(self.producer, self.local);
    }

    // ---- the kernel produces (RX, completion) ----

    /// Entries the kernel has published that we have not released.
    pub fn available(&self) -> u32 {
        Self::load(self.producer).wrapping_sub(self.local)
    }

    /// The `nth` available entry (nth < available()).
    pub fn peek(&self, nth: u32) -> T {
        debug_assert!(nth < self.available());
        // SAFETY: published by the kernel and not yet released by us.
        unsafe { self.slot(self.local.wrapping_add(nth)).read() }
    }

    /// Gives `count` entries back to the kernel.
    pub fn release(&mut self, count: u32) {
        self.local = self.local.wrapping_add(count);
        Self::store(self.consumer, self.local);
    }
}
