//! Leak scanner: build time for 1,000 and 10,000 messages, and scan
//! throughput with 1,000 messages' canaries on 64 MiB of random bytes in
//! records of 1 MiB, and on 16 MiB in records of 4 KiB (where raw deflate
//! and brotli, which have no header, are looked for at every offset).
//! `cargo bench -p doormat-oracles --bench scan`.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use doormat_oracles::scan::{Record, Scanner};
use std::hint::black_box;
use std::time::Duration;

#[path = "../tests/support/messages.rs"]
mod messages;
#[path = "../tests/support/noise.rs"]
mod noise;
use messages::{canaries, messages};
use noise::noise;

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("scan_build");
    g.sample_size(10);
    for n in [1_000usize, 10_000] {
        let msgs = messages(n);
        let cs = canaries(&msgs);
        g.bench_with_input(BenchmarkId::from_parameter(n), &cs, |b, cs| b.iter(|| black_box(Scanner::new(cs))));
    }
    g.finish();
}

fn throughput(c: &mut Criterion) {
    let msgs = messages(1_000);
    let cs = canaries(&msgs);
    let scanner = Scanner::new(&cs);
    let data = noise(64 << 20, 0xfeed_beef);
    let records: Vec<Record<'_>> = data.chunks(1 << 20).enumerate().map(|(id, bytes)| Record { id, bytes }).collect();
    let mut g = c.benchmark_group("scan_random_64MiB");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("1000_messages", |b| b.iter(|| black_box(scanner.scan(&records))));
    g.finish();
    let small: Vec<Record<'_>> =
        data[..16 << 20].chunks(4 << 10).enumerate().map(|(id, bytes)| Record { id, bytes }).collect();
    let mut g = c.benchmark_group("scan_random_16MiB_in_4KiB_records");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(16 << 20));
    g.bench_function("1000_messages", |b| b.iter(|| black_box(scanner.scan(&small))));
    g.finish();
}

criterion_group!(benches, build, throughput);
criterion_main!(benches);
