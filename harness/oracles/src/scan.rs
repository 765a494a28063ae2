//! Leak scanner for the provider-blind oracle: searches every byte string the
//! provider saw ("records") for every message, in every form a careless
//! client writes it.
//!
//! # What is searched
//!
//! Each record is a *layer* of depth 0. In every layer the scanner looks for:
//!
//! - **Text**: each canary (the random marker a message's text ends with) and
//!   its byte-reversed form, with ASCII letters compared case-insensitively,
//!   in full or as a run of [`FRAGMENT_MIN_LEN`] bytes or more.
//! - **XOR**: the canary XORed with a constant byte or with a repeating key of
//!   1 to [`MAX_XOR_KEY`] bytes. No key is tried: for a key of length `k`,
//!   `r[j] ^ r[j + K] == p[i] ^ p[i + K]` for every multiple `K` of `k`, so
//!   the record's differences at lag `K` are searched for the message's.
//!   Lags 1 and 17..=32 cover every key length up to 32 (each `k <= 16` has a
//!   multiple in 17..=32); a match needs [`MIN_XOR_RUN`] differences that
//!   each involve a canary byte, so a key of `k` bytes is found when the
//!   message's text has at least `m + 16` bytes for the lag `m` used. The
//!   key, read back from the match, must not be all zero (that is raw text).
//! - **Digests** (confirmation leaks): MD5, SHA-1, SHA-224/256/384/512,
//!   SHA3-256/512, BLAKE2b-512, BLAKE2s-256 and BLAKE3 of each message's whole
//!   text, as [`MIN_DIGEST_LEN`] or more leading bytes of the raw digest (hex
//!   and base64 forms are found through decoding, below).
//!
//! While the depth is below [`MAX_DEPTH`], every decodable region of the layer
//! is decoded and the output scanned as a layer one deeper: base64 (standard
//! and URL alphabets, padded or not, line breaks inside, at each of the four
//! character phases), base32 (RFC 4648 and base32hex, any case, each of the
//! eight phases), hex (any case, both phases), all as runs of at least
//! [`MIN_ENCODED_RUN`] characters; percent-encoding; JSON string escapes (in UTF-8 text);
//! JSON arrays of byte numbers; UTF-16 and UTF-32 in both byte orders
//! (zero-byte chains of [`MIN_WIDE_UNITS`] units); zlib, gzip and zstd
//! streams at any offset (found by their headers); raw deflate and brotli
//! (which have none) at offset 0 of every binary layer, and at every offset
//! of binary layers up to [`MAX_HEADERLESS_LAYER`] bytes where the first
//! block reads as a real encoder's (a deflate block giving text or with a
//! valid dynamic header; a brotli meta-block whose whole header is valid
//! and whose first command starts text).
//!
//! # Bounds
//!
//! Depth: a record is layer 0; decoded output is scanned down to layer
//! [`MAX_DEPTH`] (so a chain of four decodings, e.g. hex → zlib → base64 →
//! UTF-16). Bytes: each record may produce at most [`DECODE_BUDGET`] bytes of
//! decoded output over all its layers, and one stream at most
//! [`MAX_INFLATE_OUTPUT`]; past the budget, decoding stops (what was already
//! scanned stays scanned). Compressed-stream candidates are rejected cheaply
//! by decoding a few bytes first.
//!
//! # Cost
//!
//! Building is linear in the number of canaries: gram tables are bucketed
//! by a counting sort on a hashed directory, beside bit-set filters. A
//! scanner is built once per set of canaries and shared
//! ([`Scanner::shared`]): every design audited against one vector uses one.
//!
//! Scanning first computes the top bit of every byte as a bit string, 64
//! bytes to a word, and uses it twice. Text: every canary byte is ASCII, so
//! a fragment needs 8 bytes with the top bit clear (on random input, 1 place
//! in 256); only there is a 4-byte gram probed, at the multiple of 5 inside
//! the fragment, and only when its 4 bytes all occur in some canary is the
//! filter asked. XOR: text XOR text is 7-bit, so at each lag a run needs an
//! aligned byte of the bit string equal to the one `lag` bits on (found 8
//! at a time with the SWAR zero-byte test); its difference gram goes to the
//! filter (on text every place gets this far), and only a filter hit is
//! widened to a run of 16 bytes, on the bit string. Digests are probed every
//! 13 bytes with a 4-byte gram. Runs of encoded characters are found by
//! skipping (a byte outside every alphabet rules out the 16 positions before
//! it); stream headers by a SIMD multi-pattern search over every valid zlib
//! header, gzip's and zstd's; deflate candidates pass a hand-read first
//! block (a complete code-length code for dynamic blocks, 8 bytes decoded
//! without a reference before the start for fixed ones) before a 64-byte
//! trial decode; JSON escapes only inside UTF-8. The streams found in a
//! decoded binary layer do not depend on the canaries: they are kept per
//! process by a BLAKE3 hash of the layer, so a layer seen again (the same
//! group state in every seized copy, the same misaligned decoding of it) is
//! not searched again; records themselves are always searched. Views of
//! [`PARALLEL_MIN_BYTES`] or more are split into contiguous groups of
//! records, one per core. `benches/scan.rs` measures build time and
//! throughput.
//!
//! # Output
//!
//! A hit's `encoding` names its chain, outermost first, e.g.
//! `"base64 at offset 40 → zlib stream at offset 0 → raw at 12"`; its
//! `offset` is where the outermost layer starts in the record (for a hit in
//! the record itself, where the hit starts). `scan` never panics and returns
//! hits sorted and deduplicated, so equal input gives equal output.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use aho_corasick::{AhoCorasick, BuildError, MatchKind};
use serde::Serialize;

mod streams;
use streams::streams;

/// Shortest run of canary bytes reported as a partial leak.
pub const FRAGMENT_MIN_LEN: usize = 8;

/// Cap on the decompressed output of any one embedded stream.
pub const MAX_INFLATE_OUTPUT: usize = 16 * 1024 * 1024;

/// Cap on all decoded output of one record, over all its layers.
pub const DECODE_BUDGET: usize = 64 * 1024 * 1024;

/// Deepest layer scanned: a record is layer 0.
pub const MAX_DEPTH: usize = 4;

/// Fewest characters of one alphabet (hex, base32, base64) decoded as a run.
pub const MIN_ENCODED_RUN: usize = 16;

/// Fewest UTF-16/UTF-32 units read as wide text.
pub const MIN_WIDE_UNITS: usize = 8;

/// Longest repeating XOR key found.
pub const MAX_XOR_KEY: usize = 32;

/// Records adding up to at least this many bytes are scanned on every core,
/// in contiguous groups (a provider view of the default vectors is far
/// smaller and is scanned on the caller's thread).
pub const PARALLEL_MIN_BYTES: usize = 4 << 20;

/// Largest binary layer searched for raw deflate and brotli at every offset
/// (neither has a header, so each offset costs a trial read of a first
/// block); larger layers are tried at offset 0 only.
pub const MAX_HEADERLESS_LAYER: usize = 64 * 1024;

/// Fewest matching XOR differences (each involving a canary byte).
pub const MIN_XOR_RUN: usize = 16;

/// Fewest leading bytes of a digest reported as a confirmation leak.
pub const MIN_DIGEST_LEN: usize = 16;

/// Encoding name reported for partial raw leaks.
pub const FRAGMENT_ENCODING: &str = "raw fragment (8+ bytes)";

/// A message that must never reach the provider; `id` is the caller's index.
///
/// `bytes` is its canary; `plaintext` its whole text (empty when unknown),
/// used for digests and for XOR with long keys.
#[derive(Debug, Clone, Copy)]
pub struct Canary<'a> {
    pub id: usize,
    pub bytes: &'a [u8],
    pub plaintext: &'a [u8],
}

/// A byte string the provider saw; `id` is the caller's index.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub id: usize,
    pub bytes: &'a [u8],
}

/// What a hit shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    /// The message's text (its canary), in some form.
    Text,
    /// An unkeyed digest of the message's whole text: anyone holding it can
    /// confirm a guess of the text.
    Digest,
}

/// One occurrence of a message in a record.
///
/// `offset`/`len` locate the match: for a match in the record itself,
/// `offset` is where it starts; for a match inside decoded output, `offset`
/// is where the outermost decoded region starts in the record and `len` is
/// the match length in the innermost output. `encoding` names the chain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Hit {
    pub record: usize,
    pub canary: usize,
    pub offset: usize,
    pub len: usize,
    pub encoding: String,
    pub kind: HitKind,
}

impl Hit {
    /// Number of decodings between the record and the match.
    pub fn depth(&self) -> usize {
        self.encoding.matches(" → ").count()
    }
}

/// Digest algorithms searched for, with their names.
const DIGESTS: [&str; 11] = [
    "MD5",
    "SHA-1",
    "SHA-224",
    "SHA-256",
    "SHA-384",
    "SHA-512",
    "SHA3-256",
    "SHA3-512",
    "BLAKE2b-512",
    "BLAKE2s-256",
    "BLAKE3",
];

fn digests_of(text: &[u8]) -> [Vec<u8>; 11] {
    use sha2::Digest as _;
    [
        md5::Md5::digest(text).to_vec(),
        sha1::Sha1::digest(text).to_vec(),
        sha2::Sha224::digest(text).to_vec(),
        sha2::Sha256::digest(text).to_vec(),
        sha2::Sha384::digest(text).to_vec(),
        sha2::Sha512::digest(text).to_vec(),
        sha3::Sha3_256::digest(text).to_vec(),
        sha3::Sha3_512::digest(text).to_vec(),
        blake2::Blake2b512::digest(text).to_vec(),
        blake2::Blake2s256::digest(text).to_vec(),
        blake3::hash(text).as_bytes().to_vec(),
    ]
}

/// Calls `$m!` with every lag at which XOR differences are taken: 1 (a
/// constant byte) and 17-32 (every key period up to [`MAX_XOR_KEY`] divides
/// one of them).
macro_rules! with_xor_lags {
    ($m:ident) => {
        $m!(1, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32)
    };
}

macro_rules! lag_array {
    ($($l:literal),*) => {
        [$($l),*]
    };
}

const XOR_LAGS: [usize; 17] = with_xor_lags!(lag_array);

/// Text is probed every `TEXT_STEP` bytes with a 4-byte gram.
const TEXT_STEP: usize = FRAGMENT_MIN_LEN - 4 + 1;
/// Digests are probed every `DIGEST_STEP` bytes with a 4-byte gram.
const DIGEST_STEP: usize = MIN_DIGEST_LEN - 4 + 1;
/// The top bit of every byte of a `u64`.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// ASCII upper case to lower case in every byte of `x`, branch-free.
#[inline]
fn fold(x: u64) -> u64 {
    const H: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let a = x | H;
    let ge_a = a.wrapping_sub(ONES * 0x41);
    let gt_z = a.wrapping_sub(ONES * 0x5b);
    let m = ge_a & !gt_z & !x & H;
    x | (m >> 2)
}

#[inline]
fn fold_byte(b: u8) -> u8 {
    b.to_ascii_lowercase()
}

#[inline]
fn load8(b: &[u8], at: usize) -> u64 {
    match b.get(at..at + 8) {
        Some(s) => u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]),
        None => 0,
    }
}

#[inline]
fn load4(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

#[inline]
fn mix(x: u64) -> u64 {
    let x = (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^ (x >> 32)
}

/// A blocked Bloom filter: each item sets two bits of one 64-bit word, so a
/// test reads one word (one cache line) and errs about `(1 - e^(-2/b))^2`
/// of the time for `b` bits per item (0.4% at 32).
struct Bloom {
    words: Vec<u64>,
    shift: u32,
}

impl Bloom {
    fn new(items: usize, bits_per_item: usize) -> Bloom {
        let want = (items.max(1) * bits_per_item).next_power_of_two().clamp(1 << 12, 1 << 28);
        let log = want.trailing_zeros() - 6;
        Bloom { words: vec![0; 1 << log], shift: 64 - log }
    }
    #[inline]
    fn place(&self, h: u64) -> (usize, u64) {
        let x = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let x = x ^ (x >> 29);
        let bits = 1u64 << (x & 63) | 1u64 << ((x >> 6) & 63);
        ((x.wrapping_mul(0xbf58_476d_1ce4_e5b9) >> self.shift) as usize, bits)
    }
    fn insert(&mut self, h: u64) {
        let (i, bits) = self.place(h);
        if let Some(w) = self.words.get_mut(i) {
            *w |= bits;
        }
    }
    #[inline]
    fn test(&self, h: u64) -> bool {
        let (i, bits) = self.place(h);
        self.words.get(i).is_some_and(|w| w & bits == bits)
    }
}

/// Entries sorted by a bijective hash of their key, with a directory on the
/// hash's top bits: a lookup reads one directory slot and about one entry.
struct Table<T> {
    entries: Vec<(u64, T)>,
    dir: Vec<u32>,
    shift: u32,
}

impl<T: Copy> Table<T> {
    /// Buckets the entries by the top bits of their hash (a counting sort:
    /// linear in the number of entries, insertion order kept in a bucket).
    fn new(items: Vec<(u64, T)>) -> Table<T> {
        let bits = items.len().max(1).next_power_of_two().trailing_zeros().clamp(4, 24);
        let shift = 64 - bits;
        let mut dir = vec![0u32; (1 << bits) + 1];
        let hashed: Vec<(u64, T)> = items.into_iter().map(|(k, v)| (mix(k), v)).collect();
        for e in &hashed {
            dir[(e.0 >> shift) as usize + 1] += 1;
        }
        for b in 0..1usize << bits {
            dir[b + 1] += dir[b];
        }
        let mut next = dir.clone();
        let mut entries = hashed.clone();
        for e in hashed {
            let b = (e.0 >> shift) as usize;
            entries[next[b] as usize] = e;
            next[b] += 1;
        }
        Table { entries, dir, shift }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn get(&self, key: u64) -> impl Iterator<Item = &T> {
        let h = mix(key);
        let b = (h >> self.shift) as usize;
        let lo = self.dir.get(b).copied().unwrap_or(0) as usize;
        let hi = self.dir.get(b + 1).copied().unwrap_or(0) as usize;
        self.entries.get(lo..hi).unwrap_or(&[]).iter().filter(move |e| e.0 == h).map(|e| &e.1)
    }
}

/// What an 8-byte gram of the text table stands for.
#[derive(Debug, Clone, Copy)]
enum Gram {
    /// Canary `ci` (reversed or not) has this gram at `pos`.
    Canary { ci: u32, pos: u32, reversed: bool },
    /// Digest `algo` of message `ci` starts with this gram.
    /// Digest `algo` of message `ci` has this 4-byte gram at `pos`.
    Digest { ci: u32, algo: u8, pos: u8 },
}

/// XOR-difference gram: message `ci`'s differences at lag `lag` have it at `pos`.
#[derive(Debug, Clone, Copy)]
struct XorGram {
    ci: u32,
    lag: u8,
    pos: u32,
}

/// One message as the scanner keeps it.
#[derive(Debug)]
struct Msg {
    id: usize,
    /// Folded canary, and folded reversed canary.
    canary: Vec<u8>,
    reversed: Vec<u8>,
    /// Exact canary (to tell raw from case-changed).
    exact: Vec<u8>,
    /// Text used for XOR differences, and where the canary starts in it.
    text: Vec<u8>,
    canary_at: usize,
    digests: Vec<Vec<u8>>,
}

/// Canaries the process-wide cache of [`Scanner::shared`] holds at most.
pub const CACHE_CANARIES: usize = 200_000;

#[derive(Default)]
struct Cache {
    map: HashMap<[u8; 32], Arc<OnceLock<Arc<Scanner>>>>,
    held: usize,
}

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(Mutex::default);

/// Multi-message leak scanner; build once from all canaries, then reuse.
pub struct Scanner {
    msgs: Vec<Msg>,
    /// Folded 4-byte grams of canaries, reversed canaries and digest heads.
    text_filter: Bloom,
    /// 1 for every byte of a folded canary.
    canary_bytes: [u8; 256],
    /// Every canary byte is 7-bit ASCII: text is only probed inside runs of
    /// 8 or more bytes with the top bit clear.
    ascii: bool,
    /// 4-byte grams of the first [`DIGEST_STEP`] positions of every digest.
    digest_filter: Bloom,
    /// Sorted by key: those grams (raw, not folded).
    digest_grams: Table<Gram>,
    /// Sorted by key: folded 8-byte grams.
    text_grams: Table<Gram>,
    /// Hashes of (lag, 8 differences).
    xor_filter: Bloom,
    /// Sorted by key: hash of (lag, 8 differences).
    xor_grams: Table<XorGram>,
    /// Canaries shorter than a gram: found in full, raw, by an automaton.
    short: Option<AhoCorasick>,
    short_ids: Vec<usize>,
    /// Set when the automaton for short canaries could not be built.
    error: Option<String>,
}

impl fmt::Debug for Scanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scanner")
            .field("canaries", &self.msgs.len())
            .field("text_grams", &self.text_grams.len())
            .field("xor_grams", &self.xor_grams.len())
            .field("short", &self.short_ids.len())
            .field("error", &self.error)
            .finish()
    }
}

fn xor_key(lag: usize, d: u64) -> u64 {
    mix(d ^ (lag as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

impl Scanner {
    /// Builds the scanner, in time linear in the total canary and text
    /// length (plus one sort). Building only fails if the automaton for
    /// canaries shorter than 8 bytes cannot be built; the scanner then fails
    /// closed: `scan` reports every (record, canary) pair with offset 0,
    /// len 0 and encoding `"scanner unavailable: …"`.
    pub fn new(canaries: &[Canary<'_>]) -> Scanner {
        let (mut s, short) = Self::plan(canaries);
        match Self::build_short(&short) {
            Ok(ac) => s.short = ac,
            Err(e) => s.error = Some(e.to_string()),
        }
        s
    }

    /// The scanner for these canaries, built once per process and shared:
    /// canaries depend on the vector's seed and message ids, not on the
    /// design, so every design audited against one vector scans with one
    /// scanner. Keyed by a SHA-256 of the canaries; the cache forgets
    /// everything when it holds [`CACHE_CANARIES`] canaries.
    pub fn shared(canaries: &[Canary<'_>]) -> Arc<Scanner> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for c in canaries {
            for part in [&(c.id as u64).to_le_bytes()[..], c.bytes, c.plaintext] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part);
            }
        }
        let key: [u8; 32] = h.finalize().into();
        let slot = {
            let mut cache = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.held + canaries.len() > CACHE_CANARIES && !cache.map.contains_key(&key) {
                cache.map.clear();
                cache.held = 0;
            }
            if !cache.map.contains_key(&key) {
                cache.held += canaries.len();
            }
            Arc::clone(cache.map.entry(key).or_default())
        };
        // Built outside the lock: other vectors' scanners are not held up.
        Arc::clone(slot.get_or_init(|| Arc::new(Scanner::new(canaries))))
    }

    /// Like [`Scanner::new`] but returns the build error instead of failing closed.
    pub fn try_new(canaries: &[Canary<'_>]) -> Result<Scanner, BuildError> {
        let (mut s, short) = Self::plan(canaries);
        s.short = Self::build_short(&short)?;
        Ok(s)
    }

    fn build_short(patterns: &[Vec<u8>]) -> Result<Option<AhoCorasick>, BuildError> {
        if patterns.is_empty() {
            return Ok(None);
        }
        AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(patterns).map(Some)
    }

    fn plan(canaries: &[Canary<'_>]) -> (Scanner, Vec<Vec<u8>>) {
        let mut msgs = Vec::new();
        let mut short = Vec::new();
        let mut short_ids = Vec::new();
        for c in canaries.iter().filter(|c| !c.bytes.is_empty()) {
            if c.bytes.len() < FRAGMENT_MIN_LEN {
                short.push(c.bytes.to_vec());
                short_ids.push(c.id);
                continue;
            }
            let canary: Vec<u8> = c.bytes.iter().map(|&b| fold_byte(b)).collect();
            let reversed: Vec<u8> = canary.iter().rev().copied().collect();
            let found = memchr::memmem::rfind(c.plaintext, c.bytes);
            let (text, canary_at) = match found {
                Some(at) => (c.plaintext.to_vec(), at),
                None => (c.bytes.to_vec(), 0),
            };
            let digests = if c.plaintext.is_empty() { Vec::new() } else { digests_of(c.plaintext).to_vec() };
            msgs.push(Msg { id: c.id, canary, reversed, exact: c.bytes.to_vec(), text, canary_at, digests });
        }
        let mut text_grams = Vec::new();
        let mut fours = Vec::new();
        let mut xor_grams = Vec::new();
        let mut digest_grams = Vec::new();
        let mut canary_bytes = [0u8; 256];
        for (ci, m) in msgs.iter().enumerate() {
            let ci = ci as u32;
            for (reversed, t) in [(false, &m.canary), (true, &m.reversed)] {
                for pos in 0..=t.len() - 8 {
                    text_grams.push((load8(t, pos), Gram::Canary { ci, pos: pos as u32, reversed }));
                }
                for pos in 0..=t.len() - 4 {
                    fours.push(load4(t, pos));
                }
                for &b in t.iter() {
                    canary_bytes[usize::from(b)] = 1;
                }
            }
            for (algo, d) in m.digests.iter().enumerate() {
                for pos in 0..DIGEST_STEP {
                    digest_grams
                        .push((u64::from(load4(d, pos)), Gram::Digest { ci, algo: algo as u8, pos: pos as u8 }));
                }
            }
            let n = m.text.len();
            for &lag in &XOR_LAGS {
                if n < lag + 8 {
                    continue;
                }
                let lo = m.canary_at.saturating_sub(lag);
                let hi = n - lag; // differences lo..hi all involve a canary byte
                if hi < lo + MIN_XOR_RUN {
                    continue;
                }
                let diffs: Vec<u8> = (0..n - lag).map(|i| m.text[i] ^ m.text[i + lag]).collect();
                for pos in lo..=hi - 8 {
                    let d = load8(&diffs, pos);
                    // Only differences of 7-bit text are searched (see `xor`).
                    if d & HIGH_BITS == 0 {
                        xor_grams.push((xor_key(lag, d), XorGram { ci, lag: lag as u8, pos: pos as u32 }));
                    }
                }
            }
        }
        let mut text_filter = Bloom::new(fours.len(), 32);
        let mut digest_filter = Bloom::new(digest_grams.len(), 32);
        for (g, _) in &digest_grams {
            digest_filter.insert(*g);
        }
        let digest_grams = Table::new(digest_grams);
        for g in fours {
            text_filter.insert(u64::from(g));
        }
        let mut xor_filter = Bloom::new(xor_grams.len(), 16);
        for (k, _) in &xor_grams {
            xor_filter.insert(*k);
        }
        let text_grams = Table::new(text_grams);
        let xor_grams = Table::new(xor_grams);
        let ascii = canary_bytes[128..].iter().all(|&b| b == 0);
        let s = Scanner {
            msgs,
            canary_bytes,
            ascii,
            text_filter,
            text_grams,
            digest_filter,
            digest_grams,
            xor_filter,
            xor_grams,
            short: None,
            short_ids,
            error: None,
        };
        (s, short)
    }

    /// Scans every record (and everything decoded from it) for every
    /// message. Output is sorted and deduplicated.
    pub fn scan(&self, records: &[Record<'_>]) -> Vec<Hit> {
        if let Some(e) = &self.error {
            return self.fail_closed(records, e);
        }
        if self.msgs.is_empty() && self.short.is_none() {
            return Vec::new();
        }
        let mut hits: Vec<Hit>;
        let total: usize = records.iter().map(|r| r.bytes.len()).sum();
        let workers = if total >= PARALLEL_MIN_BYTES {
            std::thread::available_parallelism().map_or(1, usize::from).min(records.len())
        } else {
            1
        };
        if workers > 1 {
            // Contiguous groups of records of about equal size, one per
            // worker; hits are sorted below, so the split never shows.
            let share = total.div_ceil(workers);
            let mut groups: Vec<&[Record<'_>]> = Vec::new();
            let (mut from, mut size) = (0, 0);
            for (i, r) in records.iter().enumerate() {
                size += r.bytes.len();
                if size >= share {
                    groups.push(&records[from..=i]);
                    (from, size) = (i + 1, 0);
                }
            }
            if from < records.len() {
                groups.push(&records[from..]);
            }
            let parts: Vec<Vec<Hit>> = std::thread::scope(|scope| {
                let handles: Vec<_> = groups.iter().map(|g| scope.spawn(move || self.scan_group(g))).collect();
                handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
            });
            hits = parts.into_iter().flatten().collect();
        } else {
            hits = self.scan_group(records);
        }
        hits.sort();
        hits.dedup();
        hits
    }

    fn scan_group(&self, records: &[Record<'_>]) -> Vec<Hit> {
        let mut hits = Vec::new();
        let mut probe = miniz_oxide::inflate::core::DecompressorOxide::new();
        for record in records {
            let mut ctx = Ctx {
                record: record.id,
                hits: &mut hits,
                budget: DECODE_BUDGET,
                chain: Vec::new(),
                origin: 0,
                probe: &mut probe,
            };
            self.layer(&mut ctx, record.bytes, 0, true);
        }
        hits
    }

    fn fail_closed(&self, records: &[Record<'_>], error: &str) -> Vec<Hit> {
        let ids: Vec<usize> = self.msgs.iter().map(|m| m.id).chain(self.short_ids.iter().copied()).collect();
        let mut hits: Vec<Hit> = records
            .iter()
            .flat_map(|r| {
                ids.iter().map(move |&id| Hit {
                    record: r.id,
                    canary: id,
                    offset: 0,
                    len: 0,
                    encoding: format!("scanner unavailable: {error}"),
                    kind: HitKind::Text,
                })
            })
            .collect();
        hits.sort();
        hits.dedup();
        hits
    }

    /// Scans one layer, then decodes what it can and scans that one deeper.
    /// `binary`: the layer may hold binary data (a record, or what base64,
    /// base32, hex, a byte array or a stream decoded), rather than text.
    fn layer(&self, ctx: &mut Ctx<'_>, hay: &[u8], depth: usize, binary: bool) {
        let top = top_bits(hay);
        self.text(ctx, hay, &top);
        self.digests(ctx, hay);
        self.xor(ctx, hay, &top);
        if let Some(ac) = &self.short {
            for m in ac.find_iter(hay) {
                if let Some(&id) = self.short_ids.get(m.pattern().as_usize()) {
                    ctx.emit(id, m.start(), m.len(), "raw", HitKind::Text);
                }
            }
        }
        if depth >= MAX_DEPTH || ctx.budget == 0 {
            return;
        }
        let mut found: Vec<(String, usize, Vec<u8>)> = Vec::new();
        decode_all(hay, &top, ctx, binary, &mut found);
        for (name, start, out) in found {
            if ctx.budget == 0 {
                break;
            }
            let out = if out.len() > ctx.budget { &out[..ctx.budget] } else { &out[..] };
            ctx.budget -= out.len();
            if ctx.chain.is_empty() {
                ctx.origin = start;
            }
            let binary = !["percent-encoding", "JSON string", "UTF-"].iter().any(|t| name.starts_with(t));
            ctx.chain.push(name);
            self.layer(ctx, out, depth + 1, binary);
            ctx.chain.pop();
        }
    }

    /// Canaries (raw, case-changed, reversed, fragments). A fragment of 8
    /// or more bytes `[s, s + 8)` holds the 4-byte gram at the first
    /// multiple `j` of [`TEXT_STEP`] at or after `s`; only those `j` are
    /// probed, and when every canary is ASCII only for `s` where the 8 bytes
    /// have their top bit clear (on random bytes: 1 place in 256).
    fn text(&self, ctx: &mut Ctx<'_>, hay: &[u8], top: &[u64]) {
        let n = hay.len();
        if n < FRAGMENT_MIN_LEN || self.text_grams.len() == 0 {
            return;
        }
        // (message, reversed) -> end of furthest span reported.
        let mut covered: HashMap<(u32, u8), usize> = HashMap::new();
        let cb = &self.canary_bytes;
        let mut last = usize::MAX;
        for w in 0..n.div_ceil(64) {
            let mut starts = if self.ascii {
                let clear = !(u128::from(top[w]) | u128::from(top[w + 1]) << 64);
                let mut run = clear & (clear >> 1);
                run &= run >> 2;
                run &= run >> 4;
                run as u64
            } else {
                u64::MAX
            };
            while starts != 0 {
                let s = w * 64 + starts.trailing_zeros() as usize;
                starts &= starts - 1;
                let j = s.div_ceil(TEXT_STEP) * TEXT_STEP;
                if j == last || j + 4 > n || s + FRAGMENT_MIN_LEN > n {
                    continue;
                }
                last = j;
                let g = fold(u64::from(load4(hay, j))) & 0xffff_ffff;
                // Every byte must occur in some canary before the filter is asked.
                let bytes = g.to_le_bytes();
                let all = cb[usize::from(bytes[0])]
                    & cb[usize::from(bytes[1])]
                    & cb[usize::from(bytes[2])]
                    & cb[usize::from(bytes[3])];
                if all != 0 && self.text_filter.test(g) {
                    self.text_at(ctx, hay, j, &mut covered);
                }
            }
        }
    }

    /// Digest heads: 16 or more bytes of a digest hold a 4-byte gram at a
    /// multiple of [`DIGEST_STEP`].
    fn digests(&self, ctx: &mut Ctx<'_>, hay: &[u8]) {
        let n = hay.len();
        if self.digest_grams.len() == 0 || n < MIN_DIGEST_LEN {
            return;
        }
        let mut covered: HashMap<(u32, u8), usize> = HashMap::new();
        let mut j = 0;
        while j + 4 <= n {
            let g = u64::from(load4(hay, j));
            if self.digest_filter.test(g) {
                self.digest_at(ctx, hay, j, g, &mut covered);
            }
            j += DIGEST_STEP;
        }
    }

    fn digest_at(&self, ctx: &mut Ctx<'_>, hay: &[u8], j: usize, g: u64, covered: &mut HashMap<(u32, u8), usize>) {
        for gram in self.digest_grams.get(g) {
            let Gram::Digest { ci, algo, pos } = *gram else { continue };
            let Some(s) = j.checked_sub(usize::from(pos)) else { continue };
            let Some(m) = self.msgs.get(ci as usize) else { continue };
            let Some(d) = m.digests.get(usize::from(algo)) else { continue };
            let len = hay[s..].iter().zip(d).take_while(|(a, b)| a == b).count();
            let end = covered.entry((ci, 2 + algo)).or_insert(0);
            if len < MIN_DIGEST_LEN || s + len <= *end {
                continue;
            }
            *end = s + len;
            let name = DIGESTS.get(usize::from(algo)).copied().unwrap_or("digest");
            let what = if len == d.len() {
                format!("{name} digest of the whole message")
            } else {
                format!("first {len} bytes of the {name} digest of the whole message")
            };
            ctx.emit(m.id, s, len, &what, HitKind::Digest);
        }
    }

    fn text_at(&self, ctx: &mut Ctx<'_>, hay: &[u8], j: usize, covered: &mut HashMap<(u32, u8), usize>) {
        let n = hay.len();
        for s in j.saturating_sub(4)..=j {
            if s + 8 > n {
                break;
            }
            let key = fold(load8(hay, s));
            for gram in self.text_grams.get(key) {
                match *gram {
                    Gram::Canary { ci, pos, reversed } => {
                        let Some(m) = self.msgs.get(ci as usize) else { continue };
                        let t = if reversed { &m.reversed } else { &m.canary };
                        let pos = pos as usize;
                        let back = (1..=pos.min(s)).take_while(|&k| fold_byte(hay[s - k]) == t[pos - k]).count();
                        let fwd = hay[s..].iter().zip(&t[pos..]).take_while(|(a, b)| fold_byte(**a) == **b).count();
                        let (start, len) = (s - back, back + fwd);
                        let end = covered.entry((ci, u8::from(reversed))).or_insert(0);
                        if start + len <= *end || len < FRAGMENT_MIN_LEN {
                            continue;
                        }
                        *end = start + len;
                        let name = if len == t.len() {
                            let exact = if reversed {
                                hay[start..start + len].iter().rev().eq(m.exact.iter())
                            } else {
                                hay[start..start + len] == m.exact[..]
                            };
                            match (reversed, exact) {
                                (false, true) => "raw",
                                (false, false) => "raw, ASCII case changed",
                                (true, true) => "reversed",
                                (true, false) => "reversed, ASCII case changed",
                            }
                        } else if reversed {
                            "reversed fragment (8+ bytes)"
                        } else {
                            FRAGMENT_ENCODING
                        };
                        ctx.emit(m.id, start, len, name, HitKind::Text);
                    }
                    Gram::Digest { .. } => {}
                }
            }
        }
    }

    /// XOR with a constant or a repeating key, through differences.
    ///
    /// Text is 7-bit, so text XOR text has no top bit set: a run of
    /// [`MIN_XOR_RUN`] differences at lag `lag` holds 8 differences with
    /// clear top bits starting at a multiple of 8. On the bit string of top
    /// bits those are zero bytes of `top ^ (top >> lag)`, found 8 at a time
    /// (random bytes: 1 place in 256 per lag); each is widened to 16 on the
    /// bytes, and only then is the 8-byte difference gram looked up.
    fn xor(&self, ctx: &mut Ctx<'_>, hay: &[u8], top: &[u64]) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let n = hay.len();
        if self.xor_grams.len() == 0 || n < MIN_XOR_RUN + 1 {
            return;
        }
        let mut covered: HashMap<(u32, u8), usize> = HashMap::new();
        let mut found: Vec<(usize, usize)> = Vec::new();
        for w in 0..n.div_ceil(64) {
            let base = w * 64;
            let cur = u128::from(top[w]) | u128::from(top[w + 1]) << 64;
            let here = top[w];
            macro_rules! lag {
                ($($l:literal),*) => {$(
                    let y = here ^ (cur >> $l) as u64;
                    let mut zero = y.wrapping_sub(ONES) & !y & HIGH_BITS;
                    while zero != 0 {
                        found.push((base + (zero.trailing_zeros() as usize & !7), $l));
                        zero &= zero - 1;
                    }
                )*};
            }
            with_xor_lags!(lag);
            for (s, lag) in found.drain(..) {
                if s + lag + 8 > n {
                    continue;
                }
                let d = load8(hay, s) ^ load8(hay, s + lag);
                // On text every difference has a clear top bit: the
                // filter of canary differences decides, before the run.
                if d != 0 && d & HIGH_BITS == 0 {
                    let key = xor_key(lag, d);
                    if self.xor_filter.test(key) && xor_run(top, n, s, lag) {
                        self.xor_at(ctx, hay, s, lag, key, &mut covered);
                    }
                }
            }
        }
    }

    fn xor_at(
        &self,
        ctx: &mut Ctx<'_>,
        hay: &[u8],
        j: usize,
        lag: usize,
        key: u64,
        covered: &mut HashMap<(u32, u8), usize>,
    ) {
        for g in self.xor_grams.get(key) {
            if usize::from(g.lag) != lag {
                continue;
            }
            let Some(m) = self.msgs.get(g.ci as usize) else { continue };
            let p = &m.text;
            let lo = m.canary_at.saturating_sub(lag);
            let hi = p.len() - lag;
            let pos = g.pos as usize;
            let dh = |k: usize| hay[k] ^ hay[k + lag];
            let dp = |i: usize| p[i] ^ p[i + lag];
            let back = (1..=(pos - lo).min(j)).take_while(|&k| dh(j - k) == dp(pos - k)).count();
            let fwd = (0..(hi - pos).min(hay.len() - lag - j)).take_while(|&k| dh(j + k) == dp(pos + k)).count();
            if back + fwd < MIN_XOR_RUN {
                continue;
            }
            let (hs, ps) = (j - back, pos - back);
            // The key, read back from the first `lag` bytes of the match.
            let key: Vec<u8> = (0..lag).map(|t| hay[hs + t] ^ p[ps + t]).collect();
            if key.iter().all(|&b| b == 0) {
                continue;
            }
            let period = (1..=lag).find(|&k| lag % k == 0 && key.iter().enumerate().all(|(i, &b)| b == key[i % k]));
            let period = period.unwrap_or(lag);
            let len = back + fwd + lag;
            let end = covered.entry((g.ci, period as u8)).or_insert(0);
            if hs + len <= *end {
                continue;
            }
            *end = hs + len;
            let name = if period == 1 {
                format!("XOR with the constant byte 0x{:02x}", key[0])
            } else {
                format!("XOR with a repeating {period}-byte key")
            };
            ctx.emit(m.id, hs, len, &name, HitKind::Text);
        }
    }
}

/// Whether the 8 clear-top-bit differences at `s` lie in a run of
/// [`MIN_XOR_RUN`]: up to 8 more before or after them. Read off the top
/// bits (`top`, from [`top_bits`]) of the `n` bytes, 64 at a time: the
/// top bit of a difference is the difference of the top bits.
fn xor_run(top: &[u64], n: usize, s: usize, lag: usize) -> bool {
    const NEED: usize = MIN_XOR_RUN - 8;
    let b0 = NEED.min(s);
    let start = s - b0;
    // Bit i: whether the difference at `start + i` has its top bit set.
    let d = top_window(top, start) ^ top_window(top, start + lag);
    let before = d & ((1u64 << b0) - 1);
    let back = if before == 0 { b0 } else { b0 - 1 - (63 - before.leading_zeros() as usize) };
    // Forward, only differences whose both bytes are inside the layer.
    let room = n.saturating_sub(s + 8 + lag);
    let fwd = ((d >> (b0 + 8)).trailing_zeros() as usize).min(NEED - back).min(room);
    back + fwd >= NEED
}

/// The 64 top bits from bit `p` of `top` (zeros past its end).
fn top_window(top: &[u64], p: usize) -> u64 {
    let (w, r) = (p / 64, p % 64);
    let lo = top.get(w).copied().unwrap_or(0) >> r;
    let hi = if r == 0 { 0 } else { top.get(w + 1).copied().unwrap_or(0) << (64 - r) };
    lo | hi
}

/// The top bit of every byte of `hay`, 64 bytes to a word, with two zero
/// words after the last (so a 128-bit window can always be read).
fn top_bits(hay: &[u8]) -> Vec<u64> {
    let blocks = hay.len().div_ceil(64);
    let mut top = vec![0u64; blocks + 2];
    let mut chunks = hay.chunks_exact(8);
    for (k, chunk) in chunks.by_ref().enumerate() {
        let x = u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]);
        let bits = (x & HIGH_BITS).wrapping_mul(0x0002_0408_1020_4081) >> 56;
        top[k / 8] |= bits << (8 * (k % 8));
    }
    let done = hay.len() / 8;
    for (i, &b) in chunks.remainder().iter().enumerate() {
        let at = done * 8 + i;
        top[at / 64] |= u64::from(b >> 7) << (at % 64);
    }
    top
}

/// Where hits go, and the decoding chain that led to the current layer.
struct Ctx<'a> {
    record: usize,
    hits: &'a mut Vec<Hit>,
    budget: usize,
    chain: Vec<String>,
    origin: usize,
    probe: &'a mut miniz_oxide::inflate::core::DecompressorOxide,
}

impl Ctx<'_> {
    fn emit(&mut self, canary: usize, at: usize, len: usize, form: &str, kind: HitKind) {
        let (offset, encoding) = if self.chain.is_empty() {
            (at, form.to_owned())
        } else {
            (self.origin, format!("{} → {form} at {at}", self.chain.join(" → ")))
        };
        self.hits.push(Hit { record: self.record, canary, offset, len, encoding, kind });
    }
}

// ---------------------------------------------------------------------------
// Decoders. Each finds candidate regions in one linear pass and pushes
// `(layer name, offset in this layer, decoded bytes)`.

const C_B64: u8 = 1;
const C_HEX: u8 = 2;
const C_B32: u8 = 4;
const C_B32H: u8 = 8;
const C_WS: u8 = 16;
const C_PAD: u8 = 32;
const C_URLISH: u8 = 64;
const C_ANY: u8 = C_B64 | C_WS | C_PAD;

const fn class_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'-' || b == b'_' {
            c |= C_B64;
        }
        if b.is_ascii_hexdigit() {
            c |= C_HEX;
        }
        if b.is_ascii_alphabetic() || (b >= b'2' && b <= b'7') {
            c |= C_B32;
        }
        if b.is_ascii_digit() || (b >= b'a' && b <= b'v') || (b >= b'A' && b <= b'V') {
            c |= C_B32H;
        }
        if b == b'\r' || b == b'\n' {
            c |= C_WS;
        }
        if b == b'=' {
            c |= C_PAD;
        }
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'+'
                    | b'/'
                    | b'='
                    | b'%'
                    | b'!'
                    | b'*'
                    | b'\''
                    | b'('
                    | b')'
                    | b','
                    | b';'
                    | b':'
                    | b'@'
                    | b'&'
                    | b'$'
            )
        {
            c |= C_URLISH;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = class_table();

fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

fn decode_all(hay: &[u8], top: &[u64], ctx: &mut Ctx<'_>, binary: bool, out: &mut Vec<(String, usize, Vec<u8>)>) {
    // Encoded runs, byte arrays and percent-encoding are ASCII: they lie in
    // ASCII regions (16 bytes for a run or an array of 8 numbers, 10 for 8
    // bytes of percent-encoding).
    let mut marks: [Vec<usize>; 2] = Default::default();
    for (a, b) in ascii_regions(hay, top, PERCENT_MIN_CHARS) {
        if b - a >= MIN_ENCODED_RUN {
            encoded_runs_in(hay, a, b, out);
        }
        for p in memchr::memchr2_iter(b'[', b'%', &hay[a..b]) {
            marks[usize::from(hay[a + p] == b'%')].push(a + p);
        }
    }
    for_each_byte_array(hay, &marks[0], |start, bytes| {
        out.push((format!("JSON array of byte numbers at offset {start}"), start, bytes.to_vec()));
    });
    percent_regions(hay, &marks[1], out);
    let backslashes: Vec<usize> = memchr::memchr_iter(b'\\', hay).collect();
    json_escapes(hay, &backslashes, out);
    wide_text(hay, out);
    streams(hay, ctx, binary, out);
}

/// Base64, base32, base32hex and hex runs of at least [`MIN_ENCODED_RUN`]
/// characters, decoded at every character phase.
/// Maximal regions of at least `min` bytes (1 to 64) with the top bit
/// clear, found on the bit string of top bits (random input has almost none).
fn ascii_regions(hay: &[u8], top: &[u64], min: usize) -> Vec<(usize, usize)> {
    let n = hay.len();
    let mut regions = Vec::new();
    let mut from = 0;
    let mut w = 0;
    while w < n.div_ceil(64) {
        let mut run = !(u128::from(top[w]) | u128::from(top[w + 1]) << 64);
        let mut have = 1;
        while have * 2 <= min {
            run &= run >> have;
            have *= 2;
        }
        if have < min {
            run &= run >> (min - have);
        }
        let mut starts = run as u64;
        if from > w * 64 {
            starts &= !0u64 << (from - w * 64);
        }
        if starts == 0 {
            w += 1;
            continue;
        }
        let s = w * 64 + starts.trailing_zeros() as usize;
        if s + min > n {
            break;
        }
        let mut a = s;
        while a > from && hay[a - 1] < 0x80 {
            a -= 1;
        }
        let mut b = s + min;
        while b < n && hay[b] < 0x80 {
            b += 1;
        }
        regions.push((a, b));
        from = b + 1;
        w = from / 64;
    }
    regions
}

/// Encoded runs inside `hay[start..end]` (where `start` is 0 or follows a
/// byte outside every alphabet).
fn encoded_runs_in(hay: &[u8], start: usize, n: usize, out: &mut Vec<(String, usize, Vec<u8>)>) {
    let inside = |k: usize| class(hay[k]) & C_ANY != 0;
    // `i` is always where a run could start (`i == start` or `hay[i - 1]`
    // is outside every alphabet). A byte outside at `i + MIN - 1` rules out
    // every run starting at or before it: the scan skips ahead by up to
    // MIN bytes per byte read.
    let mut i = start;
    while i + MIN_ENCODED_RUN <= n {
        let last = i + MIN_ENCODED_RUN - 1;
        if !inside(last) {
            i = last + 1;
            continue;
        }
        let mut k = last;
        while k > i && inside(k - 1) {
            k -= 1;
        }
        if k > i {
            i = k;
            continue;
        }
        let mut end = last + 1;
        while end < n && inside(end) {
            end += 1;
        }
        decode_run(hay, i, end, out);
        i = end + 1;
    }
}

fn decode_run(hay: &[u8], start: usize, end: usize, out: &mut Vec<(String, usize, Vec<u8>)>) {
    // Base64: characters and line breaks, up to padding.
    for_sub_runs(hay, start, end, C_B64, C_WS, |s, e| {
        let url = hay[s..e].iter().any(|&b| b == b'-' || b == b'_');
        let name = if url { "base64url" } else { "base64" };
        for phase in 0..4 {
            if let Some(d) = skip_chars(hay, s, e, phase) {
                let bytes = decode_bits(&hay[d..e], 6, b64_value);
                if bytes.len() >= FRAGMENT_MIN_LEN {
                    out.push((format!("{name} at offset {d}"), d, bytes));
                }
            }
        }
    });
    for (cls, name, bits, phases, value) in [
        (C_B32, "base32", 5u32, 8usize, b32_value as fn(u8) -> Option<u8>),
        (C_B32H, "base32hex", 5, 8, b32hex_value),
        (C_HEX, "hex", 4, 2, hex_value),
    ] {
        for_sub_runs(hay, start, end, cls, 0, |s, e| {
            for phase in 0..phases {
                let d = s + phase;
                if e < d + MIN_ENCODED_RUN {
                    break;
                }
                let bytes = decode_bits(&hay[d..e], bits, value);
                if bytes.len() >= FRAGMENT_MIN_LEN {
                    out.push((format!("{name} at offset {d}"), d, bytes));
                }
            }
        });
    }
}

/// Maximal runs of `cls` characters (with `skip` characters allowed inside)
/// of at least [`MIN_ENCODED_RUN`] `cls` characters, within `start..end`.
fn for_sub_runs(hay: &[u8], start: usize, end: usize, cls: u8, skip: u8, mut f: impl FnMut(usize, usize)) {
    let mut i = start;
    while i < end {
        if class(hay[i]) & cls == 0 {
            i += 1;
            continue;
        }
        let s = i;
        let mut count = 0;
        let mut last = i;
        while i < end {
            let c = class(hay[i]);
            if c & cls != 0 {
                count += 1;
                last = i + 1;
            } else if c & skip == 0 {
                break;
            }
            i += 1;
        }
        if count >= MIN_ENCODED_RUN {
            f(s, last);
        }
        i = i.max(last);
    }
}

/// Position after skipping `phase` non-whitespace characters from `s`, if a
/// full run still follows.
fn skip_chars(hay: &[u8], s: usize, e: usize, phase: usize) -> Option<usize> {
    let mut d = s;
    let mut left = phase;
    while left > 0 && d < e {
        if class(hay[d]) & C_WS == 0 {
            left -= 1;
        }
        d += 1;
    }
    while d < e && class(hay[d]) & C_WS != 0 {
        d += 1;
    }
    (e >= d + MIN_ENCODED_RUN).then_some(d)
}

/// Decodes a bit stream of `bits`-bit characters; characters without a
/// value (line breaks) are skipped; trailing bits are dropped.
fn decode_bits(chars: &[u8], bits: u32, value: fn(u8) -> Option<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(chars.len() * bits as usize / 8 + 1);
    let mut acc: u32 = 0;
    let mut have = 0u32;
    for &c in chars {
        let Some(v) = value(c) else { continue };
        acc = (acc << bits) | u32::from(v);
        have += bits;
        if have >= 8 {
            have -= 8;
            out.push((acc >> have) as u8);
            acc &= (1 << have) - 1;
        }
    }
    out
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

fn b32_value(c: u8) -> Option<u8> {
    match c.to_ascii_uppercase() {
        u @ b'A'..=b'Z' => Some(u - b'A'),
        d @ b'2'..=b'7' => Some(d - b'2' + 26),
        _ => None,
    }
}

fn b32hex_value(c: u8) -> Option<u8> {
    match c.to_ascii_uppercase() {
        d @ b'0'..=b'9' => Some(d - b'0'),
        u @ b'A'..=b'V' => Some(u - b'A' + 10),
        _ => None,
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Fewest characters of percent-encoding that decode to a fragment: one
/// escape and 7 more bytes.
const PERCENT_MIN_CHARS: usize = FRAGMENT_MIN_LEN + 2;

/// Regions of URL characters holding at least one `%XX` escape.
fn percent_regions(hay: &[u8], percents: &[usize], out: &mut Vec<(String, usize, Vec<u8>)>) {
    let mut from = 0;
    for &p in percents {
        if p < from {
            continue;
        }
        from = p + 1;
        let escape = |i: usize| {
            hay.get(i) == Some(&b'%')
                && hay.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && hay.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        };
        if !escape(p) {
            continue;
        }
        let mut s = p;
        while s > 0 && class(hay[s - 1]) & C_URLISH != 0 {
            s -= 1;
        }
        let mut e = p;
        while e < hay.len() && class(hay[e]) & C_URLISH != 0 {
            e += 1;
        }
        let mut bytes = Vec::with_capacity(e - s);
        let mut i = s;
        while i < e {
            if escape(i) && i + 2 < e {
                let v = (hex_value(hay[i + 1]).unwrap_or(0) << 4) | hex_value(hay[i + 2]).unwrap_or(0);
                bytes.push(v);
                i += 3;
            } else {
                bytes.push(hay[i]);
                i += 1;
            }
        }
        if bytes.len() >= FRAGMENT_MIN_LEN {
            out.push((format!("percent-encoding at offset {s}"), s, bytes));
        }
        from = e.max(from);
    }
}

/// Regions of JSON string characters holding at least one valid escape.
fn json_escapes(hay: &[u8], backslashes: &[usize], out: &mut Vec<(String, usize, Vec<u8>)>) {
    let inside = |b: u8| b >= 0x20 && b != b'"';
    let mut from = 0;
    let mut floor = 0;
    for &p in backslashes {
        if p < from {
            continue;
        }
        from = p + 1;
        let valid = match hay.get(p + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => true,
            Some(b'u') => hay.get(p + 2..p + 6).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
            _ => false,
        };
        if !valid {
            continue;
        }
        // JSON text is UTF-8 (RFC 8259 8.1): the string is the UTF-8 text
        // around the escape; bytes that are not UTF-8 end it (binary framing,
        // or random bytes that merely hold a backslash). Never back into a
        // region already decoded: linear on any input.
        let mut s = p;
        while s > floor && inside(hay[s - 1]) {
            if hay[s - 1] < 0x80 {
                s -= 1;
                continue;
            }
            // A multi-byte character ending at `s`: step back to its lead byte.
            let lead = (1..=4.min(s - floor)).map(|w| s - w).find(|&k| hay[k] >= 0xc0);
            match lead {
                Some(k) if utf8_len_at(hay, k) == Some(s - k) => s = k,
                _ => break,
            }
        }
        let mut bytes = Vec::new();
        let mut i = s;
        let mut pending_high: Option<u16> = None;
        while i < hay.len() {
            let b = hay[i];
            if b == b'\\' {
                let Some(&e) = hay.get(i + 1) else { break };
                let simple = match e {
                    b'"' => Some(b'"'),
                    b'\\' => Some(b'\\'),
                    b'/' => Some(b'/'),
                    b'b' => Some(8),
                    b'f' => Some(12),
                    b'n' => Some(b'\n'),
                    b'r' => Some(b'\r'),
                    b't' => Some(b'\t'),
                    _ => None,
                };
                if let Some(v) = simple {
                    bytes.push(v);
                    i += 2;
                    continue;
                }
                let unit = hay
                    .get(i + 2..i + 6)
                    .filter(|h| e == b'u' && h.iter().all(u8::is_ascii_hexdigit))
                    .map(|h| h.iter().fold(0u16, |a, &d| (a << 4) | u16::from(hex_value(d).unwrap_or(0))));
                let Some(u) = unit else { break };
                i += 6;
                match (pending_high.take(), u) {
                    (None, 0xd800..=0xdbff) => pending_high = Some(u),
                    (Some(h), 0xdc00..=0xdfff) => push_units(&mut bytes, &[h, u]),
                    (_, u) => push_units(&mut bytes, &[u]),
                }
                continue;
            }
            if !inside(b) {
                break;
            }
            let width = if b < 0x80 { 1 } else { utf8_len_at(hay, i).unwrap_or(0) };
            if width == 0 {
                break;
            }
            bytes.extend_from_slice(&hay[i..i + width]);
            i += width;
        }
        if bytes.len() >= FRAGMENT_MIN_LEN {
            out.push((format!("JSON string escapes at offset {s}"), s, bytes));
        }
        from = i.max(from);
        floor = from;
    }
}

/// The length of the UTF-8 character starting at `i`, if one does.
fn utf8_len_at(hay: &[u8], i: usize) -> Option<usize> {
    let w = match hay.get(i)? {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    hay.get(i..i + w).filter(|c| std::str::from_utf8(c).is_ok()).map(|_| w)
}

fn push_units(bytes: &mut Vec<u8>, units: &[u16]) {
    for c in char::decode_utf16(units.iter().copied()) {
        let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
        let mut buf = [0u8; 4];
        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
}

/// UTF-16 and UTF-32 text: chains of zero bytes every 2 or 4 bytes.
fn wide_text(hay: &[u8], out: &mut Vec<(String, usize, Vec<u8>)>) {
    let n = hay.len();
    let mut done = [0usize; 2];
    let mut from = 0;
    while let Some(k) = memchr::memchr(0, &hay[from..]) {
        let z = from + k;
        from = z + 1;
        // Zeros inside chains already decoded start nothing new.
        if z < done[0].min(done[1]) {
            from = done[0].min(done[1]).min(hay.len());
            continue;
        }
        for (wi, w) in [2usize, 4].into_iter().enumerate() {
            if z < done[wi] || hay.get(z + w) != Some(&0) || hay.get(z + 2 * w) != Some(&0) {
                continue;
            }
            let mut units = 0;
            while z + units * w < n && hay[z + units * w] == 0 {
                units += 1;
            }
            done[wi] = z + units * w;
            // Units that carry something: zero-filled regions are not text.
            let live =
                (0..units).filter(|u| hay[z + u * w + 1..(z + u * w + w).min(n)].iter().any(|&b| b != 0)).count();
            if units < MIN_WIDE_UNITS || live < MIN_WIDE_UNITS {
                continue;
            }
            let bits = w * 8;
            // Little-endian units start one byte before the zero, big-endian
            // ones at it (the zero is their high byte).
            if z > 0 {
                let s = z - 1;
                let bytes = wide_decode(&hay[s..(z + units * w).min(n)], w, false);
                out.push((format!("UTF-{bits}LE at offset {s}"), s, bytes));
            }
            {
                let s = z;
                let bytes = wide_decode(&hay[s..(z + units * w).min(n)], w, true);
                out.push((format!("UTF-{bits}BE at offset {s}"), s, bytes));
            }
        }
    }
}

fn wide_decode(b: &[u8], w: usize, big: bool) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(b.len() / w);
    if w == 2 {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| if big { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) })
            .collect();
        push_units(&mut bytes, &units);
    } else {
        for c in b.chunks_exact(4) {
            let v = if big {
                u32::from_be_bytes([c[0], c[1], c[2], c[3]])
            } else {
                u32::from_le_bytes([c[0], c[1], c[2], c[3]])
            };
            let ch = char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER);
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }
    bytes
}

/// Fewest numbers in a JSON array read as bytes: shorter arrays are too
/// common to mean anything.
const MIN_BYTE_ARRAY: usize = 8;

/// Calls `f(offset of '[', bytes)` for every JSON array of numbers 0-255
/// (`[104, 105, ...]`, as serde writes a `Vec<u8>`) of at least
/// [`MIN_BYTE_ARRAY`] numbers. Linear: each byte is looked at a bounded
/// number of times.
fn for_each_byte_array(bytes: &[u8], brackets: &[usize], mut f: impl FnMut(usize, &[u8])) {
    let mut i = 0;
    for &start in brackets {
        if start < i {
            continue;
        }
        let mut out = Vec::new();
        let mut j = start + 1;
        let mut ok = false;
        loop {
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            let digits = bytes[j.min(bytes.len())..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 || digits > 3 {
                break;
            }
            let n: u32 = bytes[j..j + digits].iter().fold(0, |a, &d| a * 10 + u32::from(d - b'0'));
            let Ok(b) = u8::try_from(n) else { break };
            out.push(b);
            j += digits;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            match bytes.get(j) {
                Some(b',') => j += 1,
                Some(b']') => {
                    ok = true;
                    j += 1;
                    break;
                }
                _ => break,
            }
        }
        if ok && out.len() >= MIN_BYTE_ARRAY {
            f(start, &out);
        }
        i = if j > start + 1 { j } else { start + 1 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`xor_run`] on the top bits agrees with counting byte by byte, on
    /// text, random bytes and their mixtures, at every lag and position.
    #[test]
    fn xor_run_on_top_bits_matches_the_bytes() {
        fn by_bytes(hay: &[u8], s: usize, lag: usize) -> bool {
            let clear = |k: usize| (hay[k] ^ hay[k + lag]) & 0x80 == 0;
            let need = MIN_XOR_RUN - 8;
            let back = (1..=need.min(s)).take_while(|&k| clear(s - k)).count();
            let end = s + 8;
            let fwd = (0..need - back).take_while(|&k| end + k + lag < hay.len() && clear(end + k)).count();
            back + fwd >= need
        }
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut checked = 0;
        for case in 0..200 {
            let n = 40 + (next() % 300) as usize;
            // Runs of text and of random bytes, of random lengths.
            let mut hay = Vec::with_capacity(n);
            while hay.len() < n {
                let run = 1 + (next() % 40) as usize;
                let text = next() % 2 == 0;
                for _ in 0..run.min(n - hay.len()) {
                    let b = next() as u8;
                    hay.push(if text { b & 0x7f } else { b });
                }
            }
            let top = top_bits(&hay);
            for lag in XOR_LAGS {
                for s in (0..n).step_by(if case % 2 == 0 { 8 } else { 1 }) {
                    if s + lag + 8 > n {
                        break;
                    }
                    assert_eq!(xor_run(&top, n, s, lag), by_bytes(&hay, s, lag), "case {case}, s {s}, lag {lag}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 100_000, "{checked}");
    }
}
