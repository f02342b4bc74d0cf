//! A memory mapping that is unmapped when dropped: the UMEM's frames and
//! the four rings.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

pub struct Mapping {
    start: NonNull<u8>,
    len: usize,
}

// SAFETY: plain memory; who reads and writes it is governed by its users.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Private anonymous memory, zeroed: the UMEM area.
    pub fn anonymous(len: usize) -> std::io::Result<Mapping> {
        Self::map(len, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    }

    /// A ring of the socket `fd`, found at page offset `offset`
    /// (XDP_PGOFF_RX_RING, ...); MAP_POPULATE faults it in now.
    pub fn ring(fd: BorrowedFd, offset: u64, len: usize) -> std::io::Result<Mapping> {
        Self::map(
            len,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            fd.as_raw_fd(),
            offset as libc::off_t,
        )
    }

    fn map(len: usize, flags: i32, fd: i32, offset: libc::off_t) -> std::io::Result<Mapping> {
        // SAFETY: a fresh mapping chosen by the kernel; nothing aliases it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapping {
            start: NonNull::new(ptr.cast()).expect("mmap never maps page 0"),
            len,
        })
    }

    pub fn start(&self) -> NonNull<u8> {
        self.start
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The address `offset` bytes in (offset < len).
    pub fn at(&self, offset: usize) -> NonNull<u8> {
        assert!(offset < self.len, "offset inside the mapping");
        // SAFETY: inside the mapping, checked above.
        unsafe { self.start.add(offset) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: exactly the region mmap returned; no borrow outlives self.
        unsafe { libc::munmap(self.start.as_ptr().cast(), self.len) };
    }
}
