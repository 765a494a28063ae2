//! Leak scanner: build time for 1,000 and 10,000 messages, and scan
//! throughput on 64 MiB of random bytes (64 records of 1 MiB) with 1,000
//! messages' canaries. `cargo bench -p doormat-oracles --bench scan`.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use doormat_oracles::scan::{Canary, Record, Scanner};
use std::hint::black_box;
use std::time::Duration;

/// Deterministic pseudo-random bytes (xorshift).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// Messages shaped like the engine's: `<body> <canary>`, the canary 32
/// characters of lowercase base32.
fn messages(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let raw = noise(n * 32, 0x5eed);
    raw.chunks(32)
        .enumerate()
        .map(|(i, c)| {
            let canary: Vec<u8> = c.iter().map(|b| ALPHABET[usize::from(b % 32)]).collect();
            let mut text = format!("message {i} of the bench ").into_bytes();
            text.extend_from_slice(&canary);
            (canary, text)
        })
        .collect()
}

fn canaries(msgs: &[(Vec<u8>, Vec<u8>)]) -> Vec<Canary<'_>> {
    msgs.iter().enumerate().map(|(id, (c, p))| Canary { id, bytes: c, plaintext: p }).collect()
}

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
}

criterion_group!(benches, build, throughput);
criterion_main!(benches);
