//! The receive/transmit loop of one socket: the C tutorial's
//! `handle_receive_packets` + `complete_tx`, one batch per call.
//!
//! A frame's round trip: free list -> fill ring -> (kernel writes a packet)
//! -> RX ring -> we look at it -> either back to the free list, or, turned
//! into a reply, -> TX ring -> (kernel sends it) -> completion ring -> free
//! list.

use super::socket::XskSocket;
use super::umem::Umem;

/// Descriptors handled per call (the C tutorial's RX_BATCH_SIZE).
const BATCH: u32 = 64;

/// Packets and bytes, counted by user space.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub packets: u64,
    pub bytes: u64,
}

impl Totals {
    fn add(&mut self, len: u32) {
        self.packets += 1;
        self.bytes += u64::from(len);
    }
}

pub struct Port {
    pub socket: XskSocket,
    umem: Umem,
    pub rx: Totals,
    pub tx: Totals,
    /// Frames in the TX ring not yet back through the completion ring.
    tx_outstanding: u32,
}

impl Port {
    /// Stocks the fill ring, so the kernel has frames to receive into from
    /// the moment the socket is in the XSKMAP.
    pub fn new(socket: XskSocket, umem: Umem) -> Port {
        let mut port = Port {
            socket,
            umem,
            rx: Totals::default(),
            tx: Totals::default(),
            tx_outstanding: 0,
        };
        port.refill();
        port
    }

    /// Handles one batch of received frames. `answer` may rewrite a frame
    /// into a reply and return true to send it back out; otherwise the
    /// frame is freed. Returns how many frames arrived.
    pub fn service(&mut self, mut answer: impl FnMut(&mut [u8]) -> bool) -> u32 {
        self.complete_tx();
        let received = self.socket.rx.available().min(BATCH);
        if received == 0 {
            // Without poll(), only a syscall makes the driver look at the
            // fill ring again once it ran dry.
            if self.socket.fill.needs_wakeup() {
                self.socket.wake_rx();
            }
            return 0;
        }
        for nth in 0..received {
            let desc = self.socket.rx.peek(nth);
            self.rx.add(desc.len);
            let frame = self.umem.bytes(desc.addr, desc.len);
            if answer(frame) && self.socket.tx.free() > 0 {
                self.socket.tx.push(libc::xdp_desc {
                    addr: desc.addr,
                    len: desc.len,
                    options: 0,
                });
                self.tx.add(desc.len);
                self.tx_outstanding += 1;
            } else {
                self.umem.release(desc.addr);
            }
        }
        self.socket.rx.release(received);
        if self.tx_outstanding > 0 {
            self.socket.tx.submit();
            // Copy mode sends only from inside this syscall.
            self.socket.kick_tx();
        }
        self.refill();
        received
    }

    /// Takes the sent frames back from the completion ring.
    fn complete_tx(&mut self) {
        if self.tx_outstanding == 0 {
            return;
        }
        // Frames that did not fit into the last kick go out with this one.
        self.socket.kick_tx();
        let done = self.socket.completion.available();
        for nth in 0..done {
            self.umem.release(self.socket.completion.peek(nth));
        }
        self.socket.completion.release(done);
        self.tx_outstanding -= done;
    }

    /// Gives the kernel as many free frames as the fill ring takes.
    fn refill(&mut self) {
        let room = self.socket.fill.free() as usize;
        for _ in 0..room.min(self.umem.free_frames()) {
            let frame = self.umem.alloc().expect("counted free frames");
            self.socket.fill.push(frame);
        }
        self.socket.fill.submit();
    }
}
