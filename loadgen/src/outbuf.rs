//! A session's bytes waiting for the kernel, handed over with non-blocking
//! sends.
//!
//! Why: the watch scenario's receive loop serves all of an executor's
//! sessions from one thread and must never wait inside a `send`. A send may
//! take only part of the bytes (a short write) or none (EAGAIN: the socket's
//! buffer is full); what is left must go out later, in order, when the
//! socket has room again.
//!
//! Guarantees:
//! - bytes reach the sender in the order they were pushed, each exactly
//!   once, however the sends split them;
//! - after a short write or EAGAIN nothing more is tried until the caller
//!   flushes again (it waits for the socket to be writable);
//! - bounded: a push that would hold more than `limit` unsent bytes fails
//!   (a server that stops reading is an error, not unbounded memory).

use crate::conn::ConnError;
use std::io;
use std::os::fd::RawFd;
use warden::shard::flush::{send_nonblocking, Sent};

/// See the module docs.
#[derive(Debug)]
pub struct OutBuf {
    bytes: Vec<u8>,
    /// Bytes at the front already taken by the kernel.
    sent: usize,
    limit: usize,
}

/// How far a flush got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flushed {
    /// Nothing is left to send.
    All,
    /// Bytes are left: send again once the socket is writable.
    Pending,
}

impl OutBuf {
    pub fn new(limit: usize) -> OutBuf {
        OutBuf {
            bytes: Vec::new(),
            sent: 0,
            limit,
        }
    }

    /// Bytes not yet taken by the kernel.
    pub fn unsent(&self) -> &[u8] {
        &self.bytes[self.sent..]
    }

    pub fn is_empty(&self) -> bool {
        self.sent == self.bytes.len()
    }

    /// Queues `b` behind what is unsent.
    pub fn push(&mut self, b: &[u8]) -> Result<(), ConnError> {
        if self.unsent().len() + b.len() > self.limit {
            return Err(ConnError::Io(format!(
                "more than {} bytes the server has not taken",
                self.limit
            )));
        }
        if self.sent > 0 {
            self.bytes.drain(..self.sent);
            self.sent = 0;
        }
        self.bytes.extend_from_slice(b);
        Ok(())
    }

    /// Offers the unsent bytes to `send` (which returns how many it took,
    /// or an error; `WouldBlock` means none, try later) until all are taken
    /// or it takes fewer than offered.
    pub fn flush(
        &mut self,
        mut send: impl FnMut(&[u8]) -> io::Result<usize>,
    ) -> Result<Flushed, ConnError> {
        while !self.is_empty() {
            let offered = self.unsent().len();
            match send(self.unsent()) {
                Ok(n) => {
                    assert!(n <= offered, "send took {n} of {offered} bytes");
                    self.sent += n;
                    if n < offered {
                        return Ok(Flushed::Pending);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Pending),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ConnError::Io(e.to_string())),
            }
        }
        // Keeps the allocation for the next requests.
        self.bytes.clear();
        self.sent = 0;
        Ok(Flushed::All)
    }
}

/// One non-blocking `send` on socket `fd`, as [`OutBuf::flush`] wants it.
pub fn send_now(fd: RawFd, bytes: &[u8]) -> io::Result<usize> {
    match send_nonblocking(fd, bytes) {
        Sent::Bytes(n) => Ok(n),
        Sent::WouldBlock => Err(io::ErrorKind::WouldBlock.into()),
        Sent::Failed => Err(io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a scripted send does with the bytes it is offered.
    #[derive(Clone, Copy, Debug)]
    enum Step {
        /// Takes at most this many.
        Take(usize),
        Block,
        Interrupt,
        Fail,
    }
    use Step::*;

    /// Pushes `pushes` (one flush after each), then flushes until done or
    /// the script ends; returns what reached the kernel, each flush's
    /// outcome, and the error if any.
    fn run(pushes: &[&[u8]], script: &[Step]) -> (Vec<u8>, Vec<Flushed>, Option<String>) {
        let mut out = OutBuf::new(1024);
        let mut kernel = Vec::new();
        let mut steps = script.iter();
        let mut outcomes = Vec::new();
        let mut flush = |out: &mut OutBuf, kernel: &mut Vec<u8>| {
            out.flush(|b| match steps.next().copied().unwrap_or(Block) {
                Take(n) => {
                    let n = n.min(b.len());
                    kernel.extend_from_slice(&b[..n]);
                    Ok(n)
                }
                Block => Err(io::ErrorKind::WouldBlock.into()),
                Interrupt => Err(io::ErrorKind::Interrupted.into()),
                Fail => Err(io::ErrorKind::BrokenPipe.into()),
            })
        };
        for p in pushes {
            out.push(p).unwrap();
            match flush(&mut out, &mut kernel) {
                Ok(f) => outcomes.push(f),
                Err(e) => return (kernel, outcomes, Some(e.to_string())),
            }
        }
        for _ in 0..script.len() {
            if out.is_empty() {
                break;
            }
            match flush(&mut out, &mut kernel) {
                Ok(f) => outcomes.push(f),
                Err(e) => return (kernel, outcomes, Some(e.to_string())),
            }
        }
        (kernel, outcomes, None)
    }

    #[test]
    fn partial_writes_and_eagain_keep_order_and_lose_nothing() {
        use Flushed::{All, Pending};
        // (name, pushes, script, outcomes of the flushes)
        type Case<'a> = (&'a str, Vec<&'a [u8]>, Vec<Step>, Vec<Flushed>);
        let cases: Vec<Case> = vec![
            ("all at once", vec![b"abcdef"], vec![Take(100)], vec![All]),
            (
                "short write, then the rest",
                vec![b"abcdef"],
                vec![Take(2), Take(100)],
                vec![Pending, All],
            ),
            (
                "EAGAIN first",
                vec![b"abcdef"],
                vec![Block, Take(100)],
                vec![Pending, All],
            ),
            (
                "interrupted is retried at once",
                vec![b"abcdef"],
                vec![Interrupt, Take(100)],
                vec![All],
            ),
            (
                "push behind unsent bytes",
                vec![b"abc", b"def"],
                vec![Take(1), Block, Take(3), Take(100)],
                vec![Pending, Pending, Pending, All],
            ),
            (
                "byte by byte",
                vec![b"abc", b"def"],
                vec![Take(1); 6],
                vec![Pending, Pending, Pending, Pending, Pending, All],
            ),
            (
                "zero taken counts as short",
                vec![b"abcdef"],
                vec![Take(0), Take(100)],
                vec![Pending, All],
            ),
        ];
        for (name, pushes, script, want) in cases {
            let (kernel, outcomes, err) = run(&pushes, &script);
            assert_eq!(err, None, "{name}");
            assert_eq!(kernel, b"abcdef", "{name}");
            assert_eq!(outcomes, want, "{name}");
        }
    }

    #[test]
    fn a_failed_send_is_an_error_and_keeps_the_bytes() {
        let (kernel, outcomes, err) = run(&[b"abcdef"], &[Take(2), Fail]);
        assert_eq!(kernel, b"ab");
        assert_eq!(outcomes, vec![Flushed::Pending]);
        assert!(err.is_some());
    }

    #[test]
    fn unsent_bytes_are_bounded() {
        let mut out = OutBuf::new(8);
        out.push(b"12345").unwrap();
        assert!(out.push(b"6789").is_err(), "9 bytes over a limit of 8");
        out.flush(|_| Ok(3)).unwrap();
        // 2 unsent + 6 new fits; the sent prefix no longer counts.
        out.push(b"abcdef").unwrap();
        assert_eq!(out.unsent(), b"45abcdef");
        assert_eq!(out.flush(|b| Ok(b.len())).unwrap(), Flushed::All);
        assert!(out.is_empty());
    }

    #[test]
    fn a_real_socket_takes_what_fits_and_the_rest_later() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        use std::os::unix::net::UnixStream;
        let (a, mut b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let big: Vec<u8> = (0..4 << 20).map(|i| (i % 251) as u8).collect();
        let mut out = OutBuf::new(big.len());
        out.push(&big).unwrap();
        assert_eq!(
            out.flush(|x| send_now(fd, x)).unwrap(),
            Flushed::Pending,
            "4 MiB does not fit a socket buffer"
        );
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            b.read_to_end(&mut got).unwrap();
            got
        });
        while out.flush(|x| send_now(fd, x)).unwrap() == Flushed::Pending {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        drop(a);
        assert_eq!(reader.join().unwrap(), big);
    }
}
