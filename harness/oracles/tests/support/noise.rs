//! Deterministic pseudo-random bytes for the leak scanner's tests, bench and
//! memory example: filler around canaries, keys, records to scan. The same
//! seed gives the same bytes everywhere, so a case found in one can be
//! replayed in another. Included with `#[path]` (not a test of its own).

/// `len` pseudo-random bytes (xorshift64) from `seed`; a zero seed is taken
/// as one, since xorshift stays at zero.
pub fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    seed |= 1;
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}
