//! `warden-loadgen`: the ZooKeeper-protocol load generator.
//!
//! Not built yet (its own issue). It exits with a clear message rather than
//! pretending to measure anything.

fn main() {
    eprintln!("warden-loadgen is not implemented yet; see the project's open issues");
    std::process::exit(2);
}
