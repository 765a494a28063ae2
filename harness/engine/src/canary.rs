//! Canaries: the unique, high-entropy marker each message body carries, so
//! that any copy of it can be found in any byte stream.
//!
//! A canary is 32 characters of lowercase RFC 4648 base32 (160 bits) derived
//! from the vector's seed and the message id. Message bodies are
//! `<body> <canary>` or the canary alone.

use crate::seed;
use doormat_formats::MessageId;
use std::collections::HashMap;

/// Length of a canary in bytes.
pub const LEN: usize = 32;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The canary of message `m` in a vector with `vector_seed`.
pub fn canary(vector_seed: u64, m: &MessageId) -> [u8; LEN] {
    let s = seed::derive(vector_seed, "canary", &[m.as_str()]);
    let mut out = [0u8; LEN];
    // 20 bytes = 160 bits = 32 five-bit symbols.
    let mut acc: u64 = 0;
    let mut bits = 0;
    let mut i = 0;
    for &b in &s[..20] {
        acc = (acc << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out[i] = ALPHABET[((acc >> bits) & 31) as usize];
            i += 1;
        }
    }
    out
}

/// Finds which canaries occur in recovered bytes.
#[derive(Debug, Default, Clone)]
pub struct Index {
    by_canary: HashMap<[u8; LEN], usize>,
}

impl Index {
    /// Registers canary number `n`.
    pub fn insert(&mut self, canary: [u8; LEN], n: usize) {
        self.by_canary.insert(canary, n);
    }

    /// The numbers of every canary in `bytes`, sorted, without repeats.
    pub fn find(&self, bytes: &[u8]) -> Vec<usize> {
        let mut out: Vec<usize> = bytes
            .windows(LEN)
            .filter_map(|w| <[u8; LEN]>::try_from(w).ok())
            .filter_map(|w| self.by_canary.get(&w).copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canaries_are_distinct_and_found() {
        let a = canary(1, &MessageId::from("m1"));
        let b = canary(1, &MessageId::from("m2"));
        assert_ne!(a, b);
        assert_ne!(a, canary(2, &MessageId::from("m1")));
        assert!(a.iter().all(|c| ALPHABET.contains(c)));
        let mut idx = Index::default();
        idx.insert(a, 0);
        idx.insert(b, 1);
        let mut text = b"hello ".to_vec();
        text.extend_from_slice(&b);
        text.extend_from_slice(b" and ");
        text.extend_from_slice(&a);
        assert_eq!(idx.find(&text), vec![0, 1]);
        assert_eq!(idx.find(&a[1..]), Vec::<usize>::new());
    }
}
