//! When the kernel received the bytes a read returns, as an `Instant`.
//!
//! Why: the watch scenario's receive loop reads a notification some time
//! after it arrived (the loop was busy with other sockets, or asleep until
//! its next tick). With `SO_TIMESTAMPNS` the kernel stamps every received
//! segment when it reaches the socket, and `recvmsg` hands the stamp back,
//! so the recorded arrival does not depend on when the loop got round to
//! the socket.
//!
//! Guarantees:
//! - [`recv_stamped`] is one non-blocking `recvmsg`; the stamp is that of
//!   the last segment the read took (for TCP the kernel reports the newest),
//!   so it is never earlier than the arrival of any byte read, and exact
//!   when the read took one segment;
//! - [`Clock::arrival`] turns a stamp (wall clock) into an `Instant` by its
//!   age against one pair of clock reads: never later than the clock pair,
//!   and that pair itself where there is no stamp or the stamp is not
//!   plausible (from the future, or older than [`MAX_AGE`], as after a wall
//!   clock step).

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A stamp older than this is not trusted (the wall clock may have moved).
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Asks the kernel to stamp what socket `fd` receives.
pub fn enable(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `on` lives for the call; the length is its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What one read returned: bytes (0 at end of stream) and the kernel's
/// receive stamp (wall clock since the epoch), if it gave one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamped {
    pub len: usize,
    pub stamp: Option<Duration>,
}

/// One non-blocking `recvmsg` into `buf`; `WouldBlock` when nothing waits.
pub fn recv_stamped(fd: RawFd, buf: &mut [u8]) -> io::Result<Stamped> {
    // Room for one timespec control message, aligned for cmsghdr.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is valid; the fields set below point at
    // live buffers of the stated lengths.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` describes `buf` and `control`, both alive for the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Stamped {
        len: n as usize,
        stamp: stamp_of(&msg),
    })
}

/// The `SCM_TIMESTAMPNS` message among `msg`'s control messages.
fn stamp_of(msg: &libc::msghdr) -> Option<Duration> {
    // SAFETY: the CMSG macros walk the control buffer `msg` describes, which
    // the kernel filled (msg_controllen is what it wrote).
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            let h = &*c;
            if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
                    return None;
                }
                return Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    None
}

/// One reading of both clocks, against which stamps are placed.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub now: Instant,
    wall: Duration,
}

impl Clock {
    pub fn read() -> Clock {
        let now = Instant::now();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Clock { now, wall }
    }

    /// The `Instant` at which a segment stamped `stamp` arrived.
    pub fn arrival(&self, stamp: Option<Duration>) -> Instant {
        let Some(stamp) = stamp else {
            return self.now;
        };
        match self.wall.checked_sub(stamp) {
            Some(age) if age <= MAX_AGE => self.now.checked_sub(age).unwrap_or(self.now),
            _ => self.now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    #[test]
    fn a_late_read_still_gets_the_arrival_time() {
        let (mut a, b) = pair();
        enable(b.as_raw_fd()).unwrap();
        // The kernel switches stamping on from a work queue, just after.
        std::thread::sleep(Duration::from_millis(50));
        let mut buf = [0u8; 64];
        let e = recv_stamped(b.as_raw_fd(), &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let sent = Instant::now();
        a.write_all(b"hello").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let r = recv_stamped(b.as_raw_fd(), &mut buf).unwrap();
        let clock = Clock::read();
        assert_eq!(&buf[..r.len], b"hello");
        assert!(r.stamp.is_some(), "the kernel stamps TCP reads");
        let arrived = clock.arrival(r.stamp);
        // Arrived right after the send, not when read 50 ms later.
        let after_send = arrived.saturating_duration_since(sent);
        assert!(after_send < Duration::from_millis(25), "{after_send:?}");
        assert!(clock.now.duration_since(arrived) >= Duration::from_millis(45));
        drop(a);
        let end = recv_stamped(b.as_raw_fd(), &mut buf).unwrap();
        assert_eq!(end.len, 0, "end of stream");
    }

    #[test]
    fn without_stamps_the_clock_reading_stands() {
        let (mut a, b) = pair();
        a.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let mut buf = [0u8; 8];
        let r = recv_stamped(b.as_raw_fd(), &mut buf).unwrap();
        assert_eq!(
            r,
            Stamped {
                len: 1,
                stamp: None
            }
        );
        let c = Clock::read();
        assert_eq!(c.arrival(None), c.now);
    }

    #[test]
    fn implausible_stamps_fall_back_to_the_clock_reading() {
        let c = Clock::read();
        // (name, stamp relative to the wall clock reading, expected age)
        let ms = Duration::from_millis;
        let cases = [
            ("10 ms old", Some(c.wall - ms(10)), ms(10)),
            ("just now", Some(c.wall), Duration::ZERO),
            ("from the future", Some(c.wall + ms(10)), Duration::ZERO),
            ("too old", Some(c.wall - MAX_AGE - ms(1)), Duration::ZERO),
            ("none", None, Duration::ZERO),
        ];
        for (name, stamp, age) in cases {
            assert_eq!(c.now.duration_since(c.arrival(stamp)), age, "{name}");
        }
    }
}
