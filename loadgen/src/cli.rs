//! The command line: one subcommand per scenario, shared options, and the
//! validation clap cannot express (mixes that add up, rates, sizes).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// ZooKeeper-protocol load generator (works against Warden and Apache ZooKeeper).
#[derive(Parser, Debug, Clone)]
#[command(name = "warden-loadgen", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub scenario: Scenario,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Scenario {
    /// Write pipeline: a create / setData / delete mix.
    Write(WriteArgs),
    /// Reads: a getData / exists / getChildren mix over prepopulated keys.
    Read(ReadArgs),
    /// getData/setData with a given percentage of reads.
    Mixed(MixedArgs),
    /// The read-ratio curve: `mixed` at each ratio in turn.
    Sweep(SweepArgs),
    /// Watch fan-out: W watchers over S sessions on one znode, T changes.
    Watch(WatchArgs),
    /// Session churn: connect, create an ephemeral, close, repeat.
    Churn(ChurnArgs),
    /// Capacity planning: ramp an open-loop rate until p99 passes the SLO.
    Capacity(CapacityArgs),
}

/// Options every scenario takes.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Server address host:port.
    #[arg(long, short = 's', default_value = "127.0.0.1:2181")]
    pub server: String,
    /// Client connections (one session each).
    #[arg(long, short = 'c', default_value_t = 16)]
    pub connections: usize,
    /// Requests in flight per connection (pipelining depth).
    #[arg(long, short = 'd', default_value_t = 64)]
    pub depth: usize,
    /// Measured duration in seconds (ignored when --ops is given).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many measured operations instead of a duration.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Seconds of load before measuring starts (not counted).
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Payload bytes for create/setData (and prepopulated nodes).
    #[arg(long, default_value_t = 1024)]
    pub payload: usize,
    /// Number of keys the run touches.
    #[arg(long, default_value_t = 10_000)]
    pub keys: u64,
    /// Seed for key and operation choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Parent znode of everything the run creates (default /loadgen-SEED).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Generator executor threads (not pinned to cores).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Session timeout asked for, milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub session_timeout: i32,
    /// Seconds without a reply after which a connection counts as failed.
    #[arg(long, default_value_t = 10.0)]
    pub request_timeout: f64,
    /// Open-loop: offered total rate in requests/s (latency from intended send time).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open-loop: the pacing loop wakes at most every this many microseconds
    /// (a request goes out at most one tick late; its reply is seen at most
    /// one tick late).
    #[arg(long, default_value_t = pacing_tick_default())]
    pub tick_us: u64,
    /// Server process id: report its CPU time per operation from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Write the result as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write latency percentiles and throughput over time as SVG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// No live progress line even on a terminal.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn pacing_tick_default() -> u64 {
    crate::pacing::DEFAULT_TICK.as_micros() as u64
}

#[derive(Args, Debug, Clone)]
pub struct WriteArgs {
    #[command(flatten)]
    pub common: Common,
    /// Percent creates (new nodes under the prefix).
    #[arg(long, default_value_t = 0)]
    pub create: u32,
    /// Percent setData (on prepopulated keys).
    #[arg(long, default_value_t = 100)]
    pub set: u32,
    /// Percent deletes (of nodes this run created; a create when there are none).
    #[arg(long, default_value_t = 0)]
    pub delete: u32,
}

#[derive(Args, Debug, Clone)]
pub struct ReadArgs {
    #[command(flatten)]
    pub common: Common,
    /// Percent getData.
    #[arg(long, default_value_t = 100)]
    pub get: u32,
    /// Percent exists.
    #[arg(long, default_value_t = 0)]
    pub exists: u32,
    /// Percent getChildren (of a key: a leaf node).
    #[arg(long, default_value_t = 0)]
    pub children: u32,
}

#[derive(Args, Debug, Clone)]
pub struct MixedArgs {
    #[command(flatten)]
    pub common: Common,
    /// Percent of requests that are getData (the rest setData).
    #[arg(long, default_value_t = 90)]
    pub read_ratio: u32,
}

#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    #[command(flatten)]
    pub common: Common,
    /// Read percentages to run, in order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0,10,20,30,40,50,60,70,80,90,100"
    )]
    pub ratios: Vec<u32>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WatchMode {
    /// getData with watch=true, re-armed after every notification.
    Oneshot,
    /// addWatch PERSISTENT, set once.
    Persistent,
}

#[derive(Args, Debug, Clone)]
pub struct WatchArgs {
    #[command(flatten)]
    pub common: Common,
    /// Watchers (spread over the sessions; ZooKeeper keeps one watch per session and path).
    #[arg(long, short = 'w', default_value_t = 1000)]
    pub watchers: usize,
    /// Changes (setData on the watched znode), one after the other.
    #[arg(long, short = 't', default_value_t = 100)]
    pub changes: u64,
    #[arg(long, value_enum, default_value_t = WatchMode::Oneshot)]
    pub mode: WatchMode,
}

#[derive(Args, Debug, Clone)]
pub struct ChurnArgs {
    #[command(flatten)]
    pub common: Common,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityWorkload {
    Read,
    Write,
    Mixed,
}

#[derive(Args, Debug, Clone)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub common: Common,
    /// p99 latency objective in milliseconds.
    #[arg(long, default_value_t = 10.0)]
    pub slo_p99_ms: f64,
    /// First offered rate (requests/s).
    #[arg(long, default_value_t = 5_000.0)]
    pub start_rate: f64,
    /// Multiply the rate by this after each sustained step.
    #[arg(long, default_value_t = 1.5)]
    pub factor: f64,
    /// Bisection steps between the last good and first bad rate.
    #[arg(long, default_value_t = 3)]
    pub refine: u32,
    /// Highest rate tried.
    #[arg(long, default_value_t = 2_000_000.0)]
    pub max_rate: f64,
    /// Workload offered at each step.
    #[arg(long, value_enum, default_value_t = CapacityWorkload::Read)]
    pub workload: CapacityWorkload,
    /// Read percent for --workload mixed.
    #[arg(long, default_value_t = 90)]
    pub read_ratio: u32,
}

impl Scenario {
    pub fn common(&self) -> &Common {
        match self {
            Scenario::Write(a) => &a.common,
            Scenario::Read(a) => &a.common,
            Scenario::Mixed(a) => &a.common,
            Scenario::Sweep(a) => &a.common,
            Scenario::Watch(a) => &a.common,
            Scenario::Churn(a) => &a.common,
            Scenario::Capacity(a) => &a.common,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Write(_) => "write",
            Scenario::Read(_) => "read",
            Scenario::Mixed(_) => "mixed",
            Scenario::Sweep(_) => "sweep",
            Scenario::Watch(_) => "watch",
            Scenario::Churn(_) => "churn",
            Scenario::Capacity(_) => "capacity",
        }
    }

    /// Checks what clap cannot; the message is for the user.
    pub fn validate(&self) -> Result<(), String> {
        self.common().validate()?;
        match self {
            Scenario::Write(a) => check_mix("write", &[a.create, a.set, a.delete]),
            Scenario::Read(a) => check_mix("read", &[a.get, a.exists, a.children]),
            Scenario::Mixed(a) => check_ratio(a.read_ratio),
            Scenario::Sweep(a) => {
                if a.ratios.is_empty() {
                    return Err("--ratios needs at least one value".into());
                }
                a.ratios.iter().try_for_each(|r| check_ratio(*r))
            }
            Scenario::Watch(a) => {
                if a.watchers < a.common.connections {
                    return Err(format!(
                        "--watchers ({}) must be at least --connections ({}): each session watches",
                        a.watchers, a.common.connections
                    ));
                }
                if a.changes == 0 {
                    return Err("--changes must be at least 1".into());
                }
                Ok(())
            }
            Scenario::Churn(_) => Ok(()),
            Scenario::Capacity(a) => {
                if a.common.rate.is_some() {
                    return Err("capacity chooses the rate itself; drop --rate".into());
                }
                if !(a.slo_p99_ms > 0.0 && a.slo_p99_ms.is_finite()) {
                    return Err("--slo-p99-ms must be a positive number".into());
                }
                if !(a.start_rate > 0.0 && a.start_rate <= a.max_rate) {
                    return Err("--start-rate must be positive and at most --max-rate".into());
                }
                if !(a.factor > 1.0 && a.factor.is_finite()) {
                    return Err("--factor must be greater than 1".into());
                }
                check_ratio(a.read_ratio)
            }
        }
    }
}

impl Common {
    pub fn validate(&self) -> Result<(), String> {
        if self.connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        if self.depth == 0 {
            return Err("--depth must be at least 1".into());
        }
        if self.threads == 0 {
            return Err("--threads must be at least 1".into());
        }
        if !(1..=100_000).contains(&self.tick_us) {
            return Err("--tick-us must be from 1 to 100000".into());
        }
        if self.ops.is_none() && !(self.duration > 0.0 && self.duration.is_finite()) {
            return Err("--duration must be a positive number of seconds".into());
        }
        if self.ops == Some(0) {
            return Err("--ops must be at least 1".into());
        }
        if !(self.warmup >= 0.0 && self.warmup.is_finite()) {
            return Err("--warmup must be zero or more seconds".into());
        }
        if !(self.request_timeout > 0.0 && self.request_timeout.is_finite()) {
            return Err("--request-timeout must be positive".into());
        }
        if self.keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        // jute.maxbuffer is 0xfffff; leave room for the path and header.
        if self.payload > 1_000_000 {
            return Err("--payload must be at most 1000000 bytes (jute.maxbuffer)".into());
        }
        if self.session_timeout <= 0 {
            return Err("--session-timeout must be positive".into());
        }
        if let Some(rate) = self.rate {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err("--rate must be a positive number of requests/s".into());
            }
        }
        if let Some(p) = &self.prefix {
            if !p.starts_with('/') || p.len() < 2 || p.ends_with('/') || p.contains("//") {
                return Err(format!("--prefix {p:?} is not a znode path like /bench"));
            }
        }
        if self.server.rsplit_once(':').is_none() {
            return Err(format!("--server {:?} is not host:port", self.server));
        }
        Ok(())
    }

    pub fn prefix(&self) -> String {
        self.prefix
            .clone()
            .unwrap_or_else(|| format!("/loadgen-{}", self.seed))
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration)
    }
}

fn check_mix(what: &str, parts: &[u32]) -> Result<(), String> {
    let sum: u32 = parts.iter().sum();
    if sum != 100 {
        return Err(format!("the {what} mix adds up to {sum}%, not 100%"));
    }
    Ok(())
}

fn check_ratio(r: u32) -> Result<(), String> {
    if r > 100 {
        return Err(format!("read ratio {r} is above 100"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Scenario, String> {
        let mut full = vec!["warden-loadgen"];
        full.extend_from_slice(args);
        let cli = Cli::try_parse_from(full).map_err(|e| e.to_string())?;
        cli.scenario.validate()?;
        Ok(cli.scenario)
    }

    #[test]
    fn defaults_are_valid() {
        for s in ["write", "read", "mixed", "sweep", "churn", "capacity"] {
            parse(&[s]).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        parse(&["watch", "-c", "10", "-w", "100"]).unwrap();
    }

    #[test]
    fn mixes_must_add_up() {
        let e = parse(&["write", "--create", "50", "--set", "40"]).unwrap_err();
        assert!(e.contains("90%"), "{e}");
        parse(&["write", "--create", "50", "--set", "0", "--delete", "50"]).unwrap();
        assert!(parse(&["read", "--exists", "10"]).is_err());
        parse(&["read", "--get", "80", "--exists", "10", "--children", "10"]).unwrap();
    }

    #[test]
    fn zero_and_nonsense_values_are_refused() {
        assert!(parse(&["read", "-c", "0"]).is_err());
        assert!(parse(&["read", "-d", "0"]).is_err());
        assert!(parse(&["read", "--duration", "0"]).is_err());
        assert!(parse(&["read", "--duration", "nan"]).is_err());
        assert!(parse(&["read", "--ops", "0"]).is_err());
        assert!(parse(&["read", "--rate", "-5"]).is_err());
        assert!(parse(&["read", "--threads", "0"]).is_err());
        assert!(parse(&["read", "--prefix", "bench"]).is_err());
        assert!(parse(&["read", "--prefix", "/a/"]).is_err());
        assert!(parse(&["read", "--server", "localhost"]).is_err());
        assert!(parse(&["read", "--payload", "2000000"]).is_err());
        assert!(parse(&["mixed", "--read-ratio", "101"]).is_err());
        assert!(parse(&["sweep", "--ratios", "0,50,120"]).is_err());
        assert!(parse(&["read", "--connections", "abc"]).is_err());
    }

    #[test]
    fn duration_is_ignored_with_ops() {
        parse(&["read", "--duration", "0", "--ops", "100"]).unwrap();
    }

    #[test]
    fn watch_and_capacity_rules() {
        assert!(parse(&["watch", "-c", "10", "-w", "5"]).is_err());
        assert!(parse(&["watch", "-c", "1", "-w", "1", "-t", "0"]).is_err());
        let s = parse(&["watch", "-c", "4", "-w", "8", "--mode", "persistent"]).unwrap();
        match s {
            Scenario::Watch(w) => assert_eq!(w.mode, WatchMode::Persistent),
            _ => unreachable!(),
        }
        assert!(parse(&["capacity", "--rate", "100"]).is_err());
        assert!(parse(&["capacity", "--factor", "1"]).is_err());
        assert!(parse(&["capacity", "--slo-p99-ms", "0"]).is_err());
        assert!(parse(&["capacity", "--start-rate", "10", "--max-rate", "5"]).is_err());
    }

    #[test]
    fn sweep_ratios_parse_as_a_list() {
        match parse(&["sweep", "--ratios", "0,50,100"]).unwrap() {
            Scenario::Sweep(s) => assert_eq!(s.ratios, vec![0, 50, 100]),
            _ => unreachable!(),
        }
    }

    #[test]
    fn default_prefix_follows_the_seed() {
        match parse(&["read", "--seed", "7"]).unwrap() {
            Scenario::Read(r) => assert_eq!(r.common.prefix(), "/loadgen-7"),
            _ => unreachable!(),
        }
    }
}
