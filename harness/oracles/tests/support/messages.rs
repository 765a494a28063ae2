//! The messages the leak scanner's bench and memory example scan for,
//! shaped like the engine's: `<body> <canary>`, the canary 32 characters of
//! lowercase base32 drawn from [`noise`]. Included with `#[path]`, beside
//! `noise.rs` (which the including crate mounts as `noise`).

use crate::noise::noise;
use doormat_oracles::scan::Canary;

/// `n` messages as (canary, text) pairs, the same for the same `n`.
pub fn messages(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
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

/// The scanner's canaries of `msgs`, numbered in order.
pub fn canaries(msgs: &[(Vec<u8>, Vec<u8>)]) -> Vec<Canary<'_>> {
    msgs.iter().enumerate().map(|(id, (c, p))| Canary { id, bytes: c, plaintext: p }).collect()
}
