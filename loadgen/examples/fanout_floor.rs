//! The machine's floor for watch fan-out: how long the kernel alone needs
//! to carry one notification-sized segment to each of N loopback TCP
//! connections, with no server logic at all.
//!
//! Why: the `watch` scenario's fan-out time (setData sent to the last
//! session's notification) is bounded below by what the host's TCP stack,
//! its scheduler and its wake-ups cost per segment, on the cores the
//! generator and the server share. This program measures that bound with
//! the cheapest possible sender (a tight loop of `send(2)` over already
//! encoded frames, on `--senders` threads, each owning its share of the
//! connections, as a server's shards do) and a receiver shaped like the
//! generator's watcher loops (`--receivers` threads, each in `epoll_wait`
//! over its share, reading with the kernel's receive stamps, and looking
//! at most every `--tick-us` while frames keep coming). A server
//! whose fan-out is near this figure has nothing left to win in its own
//! code; a target below it cannot be met on this machine.
//!
//!     cargo run --release -p warden-loadgen --example fanout_floor -- \
//!         --connections 1000 --rounds 50 --senders 2 --receivers 2 --tick-us 300
//!
//! Per round: the senders start together (a barrier), each takes the wall
//! clock and sends one 48-byte frame to each of its connections; a round's
//! fan-out time is the newest receive stamp minus the earliest sender
//! start. Output: p50 / p99 / max over the rounds, and the process's CPU
//! time per segment (sender, receiver and the kernel work both cause).

#[path = "../src/rxstamp.rs"]
#[allow(dead_code)]
mod rxstamp;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes of one frame: about a ZooKeeper data-change notification for a
/// short path (length prefix, reply header, event type, state, path).
const FRAME: usize = 48;

struct Opts {
    connections: usize,
    rounds: usize,
    senders: usize,
    receivers: usize,
    /// Microseconds between two looks while frames keep coming (0: none).
    tick_us: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        connections: 1000,
        rounds: 50,
        senders: 2,
        receivers: 2,
        tick_us: 300,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse().ok());
        let slot = match pair[0].as_str() {
            "--connections" => &mut o.connections,
            "--rounds" => &mut o.rounds,
            "--senders" => &mut o.senders,
            "--receivers" => &mut o.receivers,
            "--tick-us" => &mut o.tick_us,
            other => usage(other),
        };
        let zero_ok = pair[0] == "--tick-us";
        *slot = value
            .filter(|&v| v > 0 || zero_ok)
            .unwrap_or_else(|| usage(&pair[0]));
    }
    o
}

fn usage(arg: &str) -> ! {
    eprintln!(
        "bad argument {arg}; options: --connections N --rounds N --senders N --receivers N \
         (positive) --tick-us N"
    );
    std::process::exit(2);
}

fn wall_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The process's user + system CPU time.
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// N connected pairs: (server side, client side), Nagle off on both.
fn pairs(n: usize) -> Vec<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().unwrap();
    (0..n)
        .map(|_| {
            let client = TcpStream::connect(addr).expect("connect over loopback");
            let (server, _) = listener.accept().expect("accept");
            for s in [&client, &server] {
                s.set_nodelay(true).unwrap();
            }
            rxstamp::enable(client.as_raw_fd()).expect("SO_TIMESTAMPNS");
            client.set_nonblocking(true).unwrap();
            (server, client)
        })
        .collect()
}

/// What the threads share.
struct Shared {
    /// Earliest sender start of the current round (wall clock, ns).
    start_ns: AtomicU64,
    /// Newest receive stamp of the current round (wall clock, ns).
    last_ns: AtomicU64,
    /// Frames received in the current round.
    received: AtomicUsize,
    round_start: Barrier,
}

fn sender(mut socks: Vec<TcpStream>, rounds: usize, sh: Arc<Shared>) {
    let frame = [7u8; FRAME];
    for _ in 0..rounds {
        sh.round_start.wait();
        sh.start_ns.fetch_min(wall_now().as_nanos() as u64, AcqRel);
        for s in &mut socks {
            s.write_all(&frame).expect("send");
        }
    }
}

fn receiver(socks: Vec<TcpStream>, tick: Duration, sh: Arc<Shared>, stop: Arc<AtomicUsize>) {
    // SAFETY: plain epoll calls on descriptors this thread keeps open.
    let ep = unsafe { libc::epoll_create1(0) };
    assert!(ep >= 0, "epoll_create1");
    for (i, s) in socks.iter().enumerate() {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        let r = unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s.as_raw_fd(), &mut ev) };
        assert!(r == 0, "epoll_ctl");
    }
    let fds: Vec<RawFd> = socks.iter().map(|s| s.as_raw_fd()).collect();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut buf = vec![0u8; 64 * 1024];
    while stop.load(Acquire) == 0 {
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, 50) };
        for ev in events.iter().take(n.max(0) as usize) {
            let fd = fds[ev.u64 as usize];
            while let Ok(got) = rxstamp::recv_stamped(fd, &mut buf) {
                if got.len == 0 {
                    break;
                }
                if let Some(stamp) = got.stamp {
                    sh.last_ns.fetch_max(stamp.as_nanos() as u64, AcqRel);
                }
                sh.received.fetch_add(got.len / FRAME, AcqRel);
            }
        }
        if n > 0 && !tick.is_zero() {
            // Let the next batch gather, as the generator's watcher loop
            // does with persistent watches (arrivals carry kernel stamps).
            std::thread::sleep(tick);
        }
    }
    unsafe { libc::close(ep) };
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let o = opts();
    let all = pairs(o.connections);
    let sh = Arc::new(Shared {
        start_ns: AtomicU64::new(u64::MAX),
        last_ns: AtomicU64::new(0),
        received: AtomicUsize::new(0),
        round_start: Barrier::new(o.senders + 1),
    });
    let stop = Arc::new(AtomicUsize::new(0));
    let mut send_sets: Vec<Vec<TcpStream>> = (0..o.senders).map(|_| Vec::new()).collect();
    let mut recv_sets: Vec<Vec<TcpStream>> = (0..o.receivers).map(|_| Vec::new()).collect();
    for (i, (server, client)) in all.into_iter().enumerate() {
        send_sets[i % o.senders].push(server);
        recv_sets[i % o.receivers].push(client);
    }
    let receivers: Vec<_> = recv_sets
        .into_iter()
        .map(|set| {
            let (sh, stop) = (sh.clone(), stop.clone());
            let tick = Duration::from_micros(o.tick_us as u64);
            std::thread::spawn(move || receiver(set, tick, sh, stop))
        })
        .collect();
    let senders: Vec<_> = send_sets
        .into_iter()
        .map(|set| {
            let sh = sh.clone();
            let rounds = o.rounds;
            std::thread::spawn(move || sender(set, rounds, sh))
        })
        .collect();
    let mut times_ms = Vec::with_capacity(o.rounds);
    let cpu_before = cpu_time();
    for _ in 0..o.rounds {
        sh.start_ns.store(u64::MAX, Release);
        sh.last_ns.store(0, Release);
        sh.received.store(0, Release);
        sh.round_start.wait();
        while sh.received.load(Acquire) < o.connections {
            std::thread::sleep(Duration::from_micros(200));
        }
        let took = sh
            .last_ns
            .load(Acquire)
            .saturating_sub(sh.start_ns.load(Acquire));
        times_ms.push(took as f64 / 1e6);
        // Let the ACKs and the threads settle between rounds.
        std::thread::sleep(Duration::from_millis(5));
    }
    let cpu = cpu_time() - cpu_before;
    stop.store(1, Release);
    for t in senders.into_iter().chain(receivers) {
        t.join().unwrap();
    }
    times_ms.sort_by(f64::total_cmp);
    let segments = (o.rounds * o.connections) as f64;
    println!(
        "{} connections, {} rounds, {} sender thread(s), {} receiver thread(s) \
         (gathering tick {} us), {FRAME}-byte frames",
        o.connections, o.rounds, o.senders, o.receivers, o.tick_us
    );
    println!(
        "fan-out ms (first send to last receive stamp): p50 {:.2}  p99 {:.2}  max {:.2}",
        percentile(&times_ms, 0.5),
        percentile(&times_ms, 0.99),
        times_ms[times_ms.len() - 1]
    );
    println!(
        "CPU per segment, both sides and the kernel: {:.2} us",
        cpu.as_secs_f64() * 1e6 / segments
    );
}
