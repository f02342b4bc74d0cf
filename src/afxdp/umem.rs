//! The UMEM: one memory area cut into equal frames, shared by user space
//! and the kernel. Packets are never copied between them after this: a
//! frame's address (its offset in the area) moves through the rings, and
//! whoever holds the address may touch the frame.
//!
//! User space keeps the addresses it holds in a free list: frames go to the
//! kernel through the fill ring (to receive into) or the TX ring (to send),
//! and come back through the RX ring or the completion ring.

use super::mapping::Mapping;

/// The C tutorial's sizes: 4096 frames of 4096 bytes (16 MiB).
pub const FRAMES: u32 = 4096;
pub const FRAME_SIZE: u32 = 4096;

pub struct Umem {
    area: Mapping,
    /// Frame addresses user space holds and nobody uses.
    free: Vec<u64>,
}

impl Umem {
    pub fn new() -> std::io::Result<Umem> {
        let area = Mapping::anonymous((FRAMES * FRAME_SIZE) as usize)?;
        Ok(Umem {
            area,
            free: (0..FRAMES).map(|n| u64::from(n * FRAME_SIZE)).collect(),
        })
    }

    /// What setsockopt(XDP_UMEM_REG) needs to know.
    pub fn registration(&self) -> libc::xdp_umem_reg {
        libc::xdp_umem_reg {
            addr: self.area.start().as_ptr() as u64,
            len: self.area.len() as u64,
            chunk_size: FRAME_SIZE,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        }
    }

    /// Takes a free frame, if there is one.
    pub fn alloc(&mut self) -> Option<u64> {
        self.free.pop()
    }

    /// Gives a frame back (from the RX or the completion ring).
    pub fn release(&mut self, addr: u64) {
        // In aligned mode the kernel may hand back an address inside the
        // frame (after headroom); the frame is what is free.
        self.free.push(addr - addr % u64::from(FRAME_SIZE));
    }

    pub fn free_frames(&self) -> usize {
        self.free.len()
    }

    /// The `len` bytes at `addr`, as a received descriptor names them.
    pub fn bytes(&mut self, addr: u64, len: u32) -> &mut [u8] {
        let start = addr as usize;
        let end = start + len as usize;
        assert!(end <= self.area.len(), "a descriptor inside the UMEM");
        // SAFETY: inside the area (checked); the frame is ours while we hold
        // its address, and &mut self keeps a second borrow out.
        unsafe { std::slice::from_raw_parts_mut(self.area.at(start).as_ptr(), len as usize) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_go_out_and_come_back_whole() {
        let mut umem = Umem::new().unwrap();
        assert_eq!(umem.free_frames(), FRAMES as usize);
        let frame = umem.alloc().unwrap();
        assert_eq!(frame % u64::from(FRAME_SIZE), 0);
        assert_eq!(umem.free_frames(), FRAMES as usize - 1);
        // The kernel may return an address past the frame's start.
        umem.release(frame + 256);
        assert_eq!(umem.alloc(), Some(frame));
        umem.bytes(frame, 64).fill(0xab);
        assert_eq!(umem.bytes(frame, 64)[63], 0xab);
    }
}
