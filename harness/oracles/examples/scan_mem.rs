//! Builds the leak scanner for N messages (default 10,000) and scans 1 MiB
//! of random bytes, for measuring peak memory and build time:
//! `/usr/bin/time -v cargo run --release -p doormat-oracles --example scan_mem -- 10000`.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use doormat_oracles::scan::{Canary, Record, Scanner};
use std::time::Instant;

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

fn main() {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let raw = noise(n * 32, 0x5eed);
    let msgs: Vec<(Vec<u8>, Vec<u8>)> = raw
        .chunks(32)
        .enumerate()
        .map(|(i, c)| {
            let canary: Vec<u8> = c.iter().map(|b| ALPHABET[usize::from(b % 32)]).collect();
            let mut text = format!("message {i} of the bench ").into_bytes();
            text.extend_from_slice(&canary);
            (canary, text)
        })
        .collect();
    let cs: Vec<Canary<'_>> =
        msgs.iter().enumerate().map(|(id, (c, p))| Canary { id, bytes: c, plaintext: p }).collect();
    let t = Instant::now();
    let s = Scanner::new(&cs);
    let built = t.elapsed();
    let data = noise(1 << 20, 7);
    let t = Instant::now();
    let hits = s.scan(&[Record { id: 0, bytes: &data }]);
    println!("{n} messages: built in {built:?}, scanned 1 MiB in {:?}, {} hits", t.elapsed(), hits.len());
}
