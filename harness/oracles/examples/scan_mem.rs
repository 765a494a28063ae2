//! Builds the leak scanner for N messages (default 10,000) and scans M MiB
//! (default 1) of random bytes in records of K KiB (default 1024), for measuring peak memory,
//! build time and a rough throughput:
//! `/usr/bin/time -v cargo run --release -p doormat-oracles --example scan_mem -- 10000 1 1024`.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use doormat_oracles::scan::{Record, Scanner};
use std::time::Instant;

#[path = "../tests/support/messages.rs"]
mod messages;
#[path = "../tests/support/noise.rs"]
mod noise;
use messages::{canaries, messages};
use noise::noise;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let msgs = messages(n);
    let cs = canaries(&msgs);
    let t = Instant::now();
    let s = Scanner::new(&cs);
    let built = t.elapsed();
    let mib: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let data = noise(mib << 20, 7);
    let kib: usize = std::env::args().nth(3).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let records: Vec<Record<'_>> = data.chunks(kib << 10).enumerate().map(|(id, bytes)| Record { id, bytes }).collect();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let hits = s.scan(&records);
    let took = t.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let rate = (mib as f64) / took.as_secs_f64();
    let per_cpu = (mib as f64) / cpu;
    println!(
        "{n} messages: built in {built:?}, scanned {mib} MiB in {took:?} ({rate:.0} MiB/s wall; {cpu:.2} s CPU, {per_cpu:.0} MiB per CPU second), {} hits",
        hits.len()
    );
}

/// User and system time of this process so far (Linux, 10 ms ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}
