//! Which of an executor's sockets have bytes to read (or room to write),
//! in one system call.
//!
//! Why: the open-loop pacing loop looks for replies once per tick, and the
//! watch scenario's receive loop sleeps until some session's notification
//! arrives. Asking each connection with a `recv` would cost a system call
//! per connection; one level-triggered epoll set answers for all of them.
//!
//! Guarantees: `poll` never blocks; `wait` blocks at most its timeout; a
//! socket with unread bytes (or at EOF, or in error) is reported at every
//! call until it is drained (level triggered), so a reader that takes one
//! chunk per call loses nothing; a socket registered for writing is
//! reported while its send buffer has room; at most `capacity` sockets are
//! reported per call, the rest at the next.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// An epoll set of sockets, each with a caller-chosen token.
pub struct Readiness {
    epoll: OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl Readiness {
    /// A set that reports up to `capacity` ready sockets per poll.
    pub fn new(capacity: usize) -> io::Result<Readiness> {
        // SAFETY: plain system call; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Readiness {
            // SAFETY: `fd` is a new descriptor that nothing else owns.
            epoll: unsafe { OwnedFd::from_raw_fd(fd) },
            events: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)],
        })
    }

    /// Watches `fd` for readable bytes, reported as `token`.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        self.ctl(libc::EPOLL_CTL_ADD, fd, &mut event)
    }

    /// Watches `fd` for readable bytes and, if `write`, for room to write.
    pub fn modify(&self, fd: RawFd, token: u64, write: bool) -> io::Result<()> {
        let out = if write { libc::EPOLLOUT as u32 } else { 0 };
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32 | out,
            u64: token,
        };
        self.ctl(libc::EPOLL_CTL_MOD, fd, &mut event)
    }

    /// Stops watching `fd` (before it is closed, or once it failed).
    pub fn remove(&self, fd: RawFd) -> io::Result<()> {
        let mut unused = libc::epoll_event { events: 0, u64: 0 };
        self.ctl(libc::EPOLL_CTL_DEL, fd, &mut unused)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, event: &mut libc::epoll_event) -> io::Result<()> {
        // SAFETY: `event` is a valid epoll_event for the call's duration.
        let r = unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, event) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// The tokens of the sockets readable now (without waiting).
    pub fn poll(&mut self) -> io::Result<impl Iterator<Item = u64> + '_> {
        Ok(self.wait(Duration::ZERO)?.map(|e| e.token))
    }

    /// The sockets ready now, waiting up to `timeout` (milliseconds, rounded
    /// up) for the first one.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<impl Iterator<Item = Ready> + '_> {
        let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `events` has room for `len` entries, which the kernel fills.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                ms,
            )
        };
        let n = if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
            0
        } else {
            n as usize
        };
        Ok(self.events[..n].iter().map(|e| {
            let bits = e.events;
            let readable = (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32;
            Ready {
                token: e.u64,
                readable: bits & readable != 0,
                writable: bits & libc::EPOLLOUT as u32 != 0,
            }
        }))
    }
}

/// One socket's readiness: errors and hang-ups count as readable (the read
/// then reports them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    pub token: u64,
    pub readable: bool,
    pub writable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    fn ready(r: &mut Readiness) -> Vec<u64> {
        let mut v: Vec<u64> = r.poll().unwrap().collect();
        v.sort();
        v
    }

    #[test]
    fn reports_readable_sockets_until_drained() {
        let (mut a1, mut b1) = UnixStream::pair().unwrap();
        let (mut a2, b2) = UnixStream::pair().unwrap();
        let mut r = Readiness::new(8).unwrap();
        r.add(b1.as_raw_fd(), 1).unwrap();
        r.add(b2.as_raw_fd(), 2).unwrap();
        assert_eq!(ready(&mut r), Vec::<u64>::new());
        a1.write_all(b"hello").unwrap();
        assert_eq!(ready(&mut r), vec![1]);
        // Level triggered: still reported until read.
        assert_eq!(ready(&mut r), vec![1]);
        let mut buf = [0u8; 16];
        assert_eq!(b1.read(&mut buf).unwrap(), 5);
        assert_eq!(ready(&mut r), Vec::<u64>::new());
        // EOF counts as readable (the reader then sees 0 bytes).
        a2.flush().unwrap();
        drop(a2);
        assert_eq!(ready(&mut r), vec![2]);
        r.remove(b2.as_raw_fd()).unwrap();
        assert_eq!(ready(&mut r), Vec::<u64>::new());
    }

    #[test]
    fn more_ready_sockets_than_capacity_come_at_the_next_poll() {
        let pairs: Vec<_> = (0..5).map(|_| UnixStream::pair().unwrap()).collect();
        let mut r = Readiness::new(2).unwrap();
        for (i, (a, b)) in pairs.iter().enumerate() {
            r.add(b.as_raw_fd(), i as u64).unwrap();
            (&*a).write_all(b"x").unwrap();
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut polls = 0;
        while seen.len() < 5 {
            let now = ready(&mut r);
            assert!(!now.is_empty() && now.len() <= 2, "{now:?}");
            for t in now {
                let mut buf = [0u8; 1];
                (&pairs[t as usize].1).read_exact(&mut buf).unwrap();
                assert!(seen.insert(t), "a drained socket is not reported again");
            }
            polls += 1;
        }
        assert_eq!(polls, 3);
        assert_eq!(ready(&mut r), Vec::<u64>::new());
    }

    #[test]
    fn wait_blocks_until_ready_and_reports_write_interest() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut r = Readiness::new(4).unwrap();
        r.add(b.as_raw_fd(), 7).unwrap();
        let t0 = std::time::Instant::now();
        assert_eq!(r.wait(Duration::from_millis(30)).unwrap().count(), 0);
        assert!(
            t0.elapsed() >= Duration::from_millis(25),
            "waited the timeout"
        );
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            (&a).write_all(b"x").unwrap();
            a
        });
        let got: Vec<Ready> = r.wait(Duration::from_secs(5)).unwrap().collect();
        let _a = writer.join().unwrap();
        let want = Ready {
            token: 7,
            readable: true,
            writable: false,
        };
        assert_eq!(got, vec![want]);
        // Asking for room to write: an empty send buffer has room.
        r.modify(b.as_raw_fd(), 7, true).unwrap();
        let got: Vec<Ready> = r.wait(Duration::ZERO).unwrap().collect();
        let both = Ready {
            writable: true,
            ..want
        };
        assert_eq!(got, vec![both]);
        r.modify(b.as_raw_fd(), 7, false).unwrap();
        let got: Vec<Ready> = r.wait(Duration::ZERO).unwrap().collect();
        assert_eq!(got, vec![want]);
    }
}
