//! Batched, direct delivery of what one published batch releases.
//!
//! Why: one batch can release a frame for thousands of connections at once
//! (a change that 1,000 sessions watch, plus the replies it unblocks).
//! Waking each connection's writer task costs a channel message, a task
//! switch and a buffer split per connection, and the sends then trickle
//! out one task at a time behind whatever else the shard has queued. So
//! while the shard applies a batch ([`FlushQueue::begin`]) connections only
//! append to their outbound buffer and note themselves here; when the batch
//! is applied the shard takes the list ([`FlushQueue::finish`]) and each
//! noted connection hands its whole buffer to the kernel with one
//! non-blocking `send(2)` ([`send_nonblocking`]), in the order noted.
//!
//! Guarantees:
//! - Per connection, bytes leave in the order they were queued: a direct
//!   send only happens while the connection's writer task holds no chunk
//!   (nothing queued earlier is still unsent), and whatever the kernel does
//!   not take (EAGAIN, a short write, an error) stays at the front of the
//!   outbound buffer for the writer task, which is then woken.
//! - Bounded: a connection is noted at most once per batch, so the list
//!   never holds more entries than the shard has connections.
//! - Outside a batch nothing changes: enqueueing wakes the writer task,
//!   which coalesces a pipelined client's replies into few writes.

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;

/// The connections to flush at the end of the batch being applied.
#[derive(Debug, Default)]
pub struct FlushQueue {
    deferring: Cell<bool>,
    noted: RefCell<Vec<u64>>,
}

impl FlushQueue {
    pub fn new() -> FlushQueue {
        FlushQueue::default()
    }

    /// A batch starts: from now on enqueued bytes wait for [`Self::finish`].
    pub fn begin(&self) {
        assert!(!self.deferring.get(), "batches do not nest");
        debug_assert!(self.noted.borrow().is_empty());
        self.deferring.set(true);
    }

    /// Whether a batch is being applied (enqueue must note, not wake).
    pub fn deferring(&self) -> bool {
        self.deferring.get()
    }

    /// Notes connection `id` (the caller notes each connection once).
    pub fn note(&self, id: u64) {
        debug_assert!(self.deferring.get(), "noted outside a batch");
        self.noted.borrow_mut().push(id);
    }

    /// The batch is applied: the connections to flush, in the order noted.
    pub fn finish(&self) -> Vec<u64> {
        self.deferring.set(false);
        std::mem::take(&mut *self.noted.borrow_mut())
    }
}

/// What one non-blocking send did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// The kernel took this many bytes (possibly fewer than offered).
    Bytes(usize),
    /// The socket buffer is full (EAGAIN) or the call was interrupted.
    WouldBlock,
    /// Any other error: left for the writer task to meet and report.
    Failed,
}

/// Offers `bytes` to socket `fd` without blocking (`MSG_DONTWAIT`, and
/// `MSG_NOSIGNAL` so a peer that went away gives EPIPE, not SIGPIPE).
pub fn send_nonblocking(fd: RawFd, bytes: &[u8]) -> Sent {
    if bytes.is_empty() {
        return Sent::Bytes(0);
    }
    // SAFETY: `bytes` is a live slice for the duration of the call; send
    // only reads `len` bytes from it.
    let n = unsafe {
        libc::send(
            fd,
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if n >= 0 {
        return Sent::Bytes(n as usize);
    }
    match std::io::Error::last_os_error().kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => Sent::WouldBlock,
        _ => Sent::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn queue_lists_each_noted_connection_in_order_and_empties() {
        let q = FlushQueue::new();
        assert!(!q.deferring());
        q.begin();
        assert!(q.deferring());
        q.note(7);
        q.note(3);
        assert_eq!(q.finish(), vec![7, 3]);
        assert!(!q.deferring());
        q.begin();
        assert_eq!(q.finish(), Vec::<u64>::new());
    }

    #[test]
    #[should_panic(expected = "batches do not nest")]
    fn batches_do_not_nest() {
        let q = FlushQueue::new();
        q.begin();
        q.begin();
    }

    #[test]
    fn full_socket_takes_a_prefix_then_would_block_and_order_is_kept() {
        let (a, mut b) = UnixStream::pair().unwrap();
        // Offer far more than a socket buffer holds, in numbered chunks.
        let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut offset = 0;
        let mut blocked = false;
        while offset < data.len() {
            match send_nonblocking(a.as_raw_fd(), &data[offset..]) {
                Sent::Bytes(n) => {
                    assert!(n > 0 && offset + n <= data.len());
                    offset += n;
                }
                Sent::WouldBlock => {
                    blocked = true;
                    break;
                }
                Sent::Failed => panic!("send failed"),
            }
        }
        assert!(blocked, "a 4 MB offer must fill the socket buffer");
        assert!(offset > 0 && offset < data.len());
        // The reader gets exactly the prefix the kernel took, in order.
        let mut got = vec![0u8; offset];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got[..], &data[..offset]);
        // With room again, the rest follows where the prefix ended.
        match send_nonblocking(a.as_raw_fd(), &data[offset..offset + 10]) {
            Sent::Bytes(10) => {}
            other => panic!("expected 10 bytes, got {other:?}"),
        }
        let mut next = [0u8; 10];
        b.read_exact(&mut next).unwrap();
        assert_eq!(&next[..], &data[offset..offset + 10]);
    }

    #[test]
    fn closed_peer_fails_without_a_signal() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        assert_eq!(send_nonblocking(a.as_raw_fd(), b"x"), Sent::Failed);
        assert_eq!(send_nonblocking(a.as_raw_fd(), b""), Sent::Bytes(0));
    }
}
