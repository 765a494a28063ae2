//! Leak scanner for the provider-blind oracle: searches every byte string the
//! provider saw ("records") for every message canary, raw and encoded.
//!
//! Invariants:
//! - One [`aho_corasick::AhoCorasick`] automaton (`MatchKind::LeftmostLongest`)
//!   holds every pattern of every canary; each haystack is searched in one
//!   left-to-right pass with it, so a full match always beats a partial one
//!   starting at the same place.
//! - Patterns per non-empty canary: raw, hex (lower/upper), base64 standard and
//!   URL-safe at each of the three alignments (only the stable middle of the
//!   encoding, so padding and neighbouring bytes do not matter), UTF-16LE/BE, and
//!   every 12-byte window of the raw canary (fragments; extended greedily to the
//!   real length of the leaked run). Empty canaries contribute no patterns.
//! - Embedded zlib/gzip streams (and a raw deflate stream at offset 0) are
//!   decompressed (at most 16 MiB each, one level deep, truncated or corrupt
//!   streams still yield what decoded) and the output is scanned the same way.
//! - `scan` never panics, and returns hits sorted and deduplicated, so equal
//!   input gives equal output.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use aho_corasick::{AhoCorasick, BuildError, Input, MatchKind};
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use flate2::read::{DeflateDecoder, GzDecoder, ZlibDecoder};
use serde::Serialize;

/// Shortest run of raw canary bytes reported as a partial leak.
pub const FRAGMENT_MIN_LEN: usize = 12;

/// Cap on the decompressed output of any one embedded stream.
pub const MAX_INFLATE_OUTPUT: usize = 16 * 1024 * 1024;

/// Encoding name reported for partial raw leaks.
pub const FRAGMENT_ENCODING: &str = "raw fragment (12+ bytes)";

/// A secret that must never reach the provider; `id` is the caller's index.
#[derive(Debug, Clone, Copy)]
pub struct Canary<'a> {
    pub id: usize,
    pub bytes: &'a [u8],
}

/// A byte string the provider saw; `id` is the caller's index.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub id: usize,
    pub bytes: &'a [u8],
}

/// One occurrence of a canary in a record.
///
/// `offset`/`len` locate the match in the record. For a match inside a
/// decompressed stream, `offset` is where the stream starts in the record,
/// `len` is the match length in the decompressed output, and `encoding` names
/// the stream, e.g. `"zlib stream at offset 12 → base64-std (alignment 0)"`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Hit {
    pub record: usize,
    pub canary: usize,
    pub offset: usize,
    pub len: usize,
    pub encoding: String,
}

/// Every full encoding of `canary` the scanner looks for, as
/// `(encoding name, pattern bytes)`. Fragments are not included. Base64 entries
/// are the stable middle only: the characters that depend on the canary alone
/// when it starts at byte 0, 1 or 2 of a 3-byte group.
pub fn encodings_of(canary: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if canary.is_empty() {
        return out;
    }
    out.push(("raw".to_owned(), canary.to_vec()));
    out.push(("hex-lower".to_owned(), hex::encode(canary).into_bytes()));
    out.push(("hex-upper".to_owned(), hex::encode_upper(canary).into_bytes()));
    for (name, engine) in [("base64-std", &STANDARD), ("base64-url", &URL_SAFE)] {
        for align in 0..3usize {
            let mut shifted = vec![0u8; align];
            shifted.extend_from_slice(canary);
            let encoded = engine.encode(&shifted);
            // Char i covers bits [6i, 6i+6). Skip chars touching the prefix
            // bytes and the char (if any) running past the last canary bit.
            let start = (8 * align).div_ceil(6);
            let end = (8 * shifted.len()) / 6;
            if let Some(middle) = encoded.as_bytes().get(start..end) {
                if !middle.is_empty() {
                    out.push((format!("{name} (alignment {align})"), middle.to_vec()));
                }
            }
        }
    }
    let units: Vec<u16> = match std::str::from_utf8(canary) {
        Ok(s) => s.encode_utf16().collect(),
        Err(_) => canary.iter().map(|&b| u16::from(b)).collect(),
    };
    out.push(("utf-16le".to_owned(), units.iter().flat_map(|u| u.to_le_bytes()).collect()));
    out.push(("utf-16be".to_owned(), units.iter().flat_map(|u| u.to_be_bytes()).collect()));
    out
}

#[derive(Debug)]
enum Meaning {
    /// A full encoding; the string is its name.
    Encoded(String),
    /// The 12-byte window of the raw canary starting at `window`.
    Fragment { window: usize },
}

#[derive(Debug)]
struct PatternMeta {
    /// Index into `Scanner::canaries`.
    canary: usize,
    meaning: Meaning,
}

/// Canary table plus deduplicated patterns; identical pattern bytes share one
/// automaton pattern and carry every meaning they have.
struct Plan {
    canaries: Vec<(usize, Vec<u8>)>,
    patterns: Vec<Vec<u8>>,
    metas: Vec<Vec<PatternMeta>>,
}

impl Plan {
    fn new(canaries: &[Canary<'_>]) -> Plan {
        let mut plan = Plan { canaries: Vec::new(), patterns: Vec::new(), metas: Vec::new() };
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        for canary in canaries.iter().filter(|c| !c.bytes.is_empty()) {
            let ci = plan.canaries.len();
            plan.canaries.push((canary.id, canary.bytes.to_vec()));
            let fragments = canary
                .bytes
                .windows(FRAGMENT_MIN_LEN)
                .enumerate()
                .map(|(window, w)| (w.to_vec(), Meaning::Fragment { window }));
            let encoded = encodings_of(canary.bytes).into_iter().map(|(name, bytes)| (bytes, Meaning::Encoded(name)));
            for (bytes, meaning) in encoded.chain(fragments) {
                let meta = PatternMeta { canary: ci, meaning };
                match index.get(&bytes) {
                    Some(&pi) => {
                        if let Some(metas) = plan.metas.get_mut(pi) {
                            metas.push(meta);
                        }
                    }
                    None => {
                        index.insert(bytes.clone(), plan.patterns.len());
                        plan.patterns.push(bytes);
                        plan.metas.push(vec![meta]);
                    }
                }
            }
        }
        plan
    }
}

/// Multi-canary leak scanner; build once from all canaries, then reuse.
pub struct Scanner {
    canaries: Vec<(usize, Vec<u8>)>,
    metas: Vec<Vec<PatternMeta>>,
    /// `Ok(None)`: no patterns at all. `Err`: the automaton could not be built
    /// (see [`Scanner::new`]).
    automaton: Result<Option<AhoCorasick>, String>,
}

impl fmt::Debug for Scanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Scanner");
        d.field("canaries", &self.canaries.len()).field("patterns", &self.metas.len());
        match &self.automaton {
            Ok(Some(ac)) => d.field("automaton_bytes", &ac.memory_usage()),
            Ok(None) => d.field("automaton", &"empty"),
            Err(e) => d.field("build_error", e),
        };
        d.finish()
    }
}

impl Scanner {
    /// Builds the scanner. Building only fails if the automaton exceeds
    /// aho-corasick's internal id limits (billions of states); in that case the
    /// scanner fails closed: `scan` reports every (record, canary) pair with
    /// offset 0, len 0 and encoding `"scanner unavailable: …"`.
    pub fn new(canaries: &[Canary<'_>]) -> Scanner {
        let plan = Plan::new(canaries);
        let automaton = Self::build(&plan.patterns).map_err(|e| e.to_string());
        Scanner { canaries: plan.canaries, metas: plan.metas, automaton }
    }

    /// Like [`Scanner::new`] but returns the build error instead of failing closed.
    pub fn try_new(canaries: &[Canary<'_>]) -> Result<Scanner, BuildError> {
        let plan = Plan::new(canaries);
        let automaton = Self::build(&plan.patterns)?;
        Ok(Scanner { canaries: plan.canaries, metas: plan.metas, automaton: Ok(automaton) })
    }

    fn build(patterns: &[Vec<u8>]) -> Result<Option<AhoCorasick>, BuildError> {
        if patterns.is_empty() {
            return Ok(None);
        }
        AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(patterns).map(Some)
    }

    /// Scans every record (and the streams compressed inside it) for every
    /// canary. Output is sorted and deduplicated.
    pub fn scan(&self, records: &[Record<'_>]) -> Vec<Hit> {
        let ac = match &self.automaton {
            Ok(Some(ac)) => ac,
            Ok(None) => return Vec::new(),
            Err(e) => return self.fail_closed(records, e),
        };
        let mut hits = Vec::new();
        for record in records {
            self.scan_haystack(ac, record.bytes, |canary, offset, len, encoding| {
                hits.push(Hit { record: record.id, canary, offset, len, encoding: encoding.to_owned() });
            });
            // Decoded views: what the scanner finds inside names the view.
            let mut decoded = |view: String, start: usize, output: &[u8]| {
                self.scan_haystack(ac, output, |canary, _, len, encoding| {
                    hits.push(Hit {
                        record: record.id,
                        canary,
                        offset: start,
                        len,
                        encoding: format!("{view} → {encoding}"),
                    });
                });
            };
            for_each_byte_array(record.bytes, |start, output| {
                decoded(format!("JSON array of byte numbers at offset {start}"), start, output);
            });
            for_each_stream(record.bytes, |kind, start, output| {
                decoded(format!("{kind} stream at offset {start}"), start, output);
            });
        }
        hits.sort();
        hits.dedup();
        hits
    }

    fn fail_closed(&self, records: &[Record<'_>], error: &str) -> Vec<Hit> {
        let mut hits: Vec<Hit> = records
            .iter()
            .flat_map(|r| {
                self.canaries.iter().map(move |(id, _)| Hit {
                    record: r.id,
                    canary: *id,
                    offset: 0,
                    len: 0,
                    encoding: format!("scanner unavailable: {error}"),
                })
            })
            .collect();
        hits.sort();
        hits.dedup();
        hits
    }

    /// Leftmost-longest search over `hay`; calls
    /// `emit(canary id, offset, len, encoding)` per hit.
    ///
    /// After a full-encoding match the search resumes one byte after its start,
    /// so overlapping readings of the same bytes are all reported (e.g. ASCII
    /// UTF-16LE text also reads as UTF-16BE shifted by one byte). Fragments are
    /// extended to the real run length, the search resumes after the run, and a
    /// fragment lying inside an already reported span of the same canary is
    /// dropped, so a full match is never also reported as fragments.
    fn scan_haystack(&self, ac: &AhoCorasick, hay: &[u8], mut emit: impl FnMut(usize, usize, usize, &str)) {
        // Canary index -> end of the furthest span reported for it.
        let mut covered: HashMap<usize, usize> = HashMap::new();
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut pos = 0;
        while pos < hay.len() {
            let m = match ac.try_find(Input::new(hay).range(pos..)) {
                Ok(Some(m)) => m,
                Ok(None) | Err(_) => break,
            };
            let Some(metas) = self.metas.get(m.pattern().as_usize()) else {
                break;
            };
            let mut next = m.start() + 1;
            for meta in metas {
                if let (Meaning::Encoded(name), Some((id, _))) = (&meta.meaning, self.canaries.get(meta.canary)) {
                    emit(*id, m.start(), m.len(), name);
                    let end = covered.entry(meta.canary).or_insert(0);
                    *end = (*end).max(m.end());
                }
            }
            runs.clear();
            for meta in metas {
                if let (Meaning::Fragment { window }, Some((_, canary))) =
                    (&meta.meaning, self.canaries.get(meta.canary))
                {
                    let run = run_len(hay, m.start(), canary, *window);
                    next = next.max(m.start() + run);
                    match runs.iter_mut().find(|(c, _)| *c == meta.canary) {
                        Some((_, best)) => *best = (*best).max(run),
                        None => runs.push((meta.canary, run)),
                    }
                }
            }
            for &(ci, run) in &runs {
                let end = covered.entry(ci).or_insert(0);
                if m.start() + run <= *end {
                    continue;
                }
                *end = m.start() + run;
                if let Some((id, _)) = self.canaries.get(ci) {
                    emit(*id, m.start(), run, FRAGMENT_ENCODING);
                }
            }
            pos = next;
        }
    }
}

/// Length of the common run of `hay[start..]` and `canary[window..]`.
fn run_len(hay: &[u8], start: usize, canary: &[u8], window: usize) -> usize {
    match (hay.get(start..), canary.get(window..)) {
        (Some(h), Some(c)) => h.iter().zip(c).take_while(|(a, b)| a == b).count(),
        _ => 0,
    }
}

/// Fewest numbers in a JSON array read as bytes: shorter arrays are too
/// common to mean anything.
const MIN_BYTE_ARRAY: usize = 8;

/// Calls `f(offset of '[', bytes)` for every JSON array of numbers 0-255
/// (`[104, 105, ...]`, as serde writes a `Vec<u8>`) of at least
/// [`MIN_BYTE_ARRAY`] numbers. Linear: each byte is looked at a bounded
/// number of times.
fn for_each_byte_array(bytes: &[u8], mut f: impl FnMut(usize, &[u8])) {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'[' {
            i += 1;
            continue;
        }
        let start = i;
        let mut out = Vec::new();
        let mut j = i + 1;
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

/// Calls `f(kind, stream offset, decompressed output)` for a raw deflate stream
/// at offset 0 and for every gzip or zlib stream starting anywhere in `bytes`.
fn for_each_stream(bytes: &[u8], mut f: impl FnMut(&str, usize, &[u8])) {
    let raw = inflate_capped(DeflateDecoder::new(bytes));
    if !raw.is_empty() {
        f("raw deflate", 0, &raw);
    }
    for start in 0..bytes.len() {
        let Some(rest) = bytes.get(start..) else {
            break;
        };
        if rest.starts_with(&[0x1f, 0x8b, 0x08]) {
            let out = inflate_capped(GzDecoder::new(rest));
            if !out.is_empty() {
                f("gzip", start, &out);
            }
        }
        if looks_like_zlib(rest) {
            let out = inflate_capped(ZlibDecoder::new(rest));
            if !out.is_empty() {
                f("zlib", start, &out);
            }
        }
    }
}

/// CM = 8 (deflate), window ≤ 32 KiB, no preset dictionary, valid FCHECK.
fn looks_like_zlib(bytes: &[u8]) -> bool {
    match bytes {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && flg & 0x20 == 0 && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// Reads up to [`MAX_INFLATE_OUTPUT`] bytes, keeping whatever decoded before an
/// error (truncated or corrupt streams still leak their prefix).
fn inflate_capped(reader: impl Read) -> Vec<u8> {
    let mut limited = reader.take(MAX_INFLATE_OUTPUT as u64);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8 * 1024];
    while let Ok(n) = limited.read(&mut buf) {
        match buf.get(..n) {
            Some(chunk) if n > 0 => out.extend_from_slice(chunk),
            _ => break,
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use base64::engine::GeneralPurpose;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

    const C: &[u8] = b"k3j5mq2xra4vntbwz7hgdpcelfso6iyu";
    const OTHER: &[u8] = b"m2n7pq4rs5tu6vwxyzab3cdefghijk2l";

    fn scanner() -> Scanner {
        Scanner::new(&[Canary { id: 3, bytes: C }])
    }

    fn scan_one(bytes: &[u8]) -> Vec<Hit> {
        scanner().scan(&[Record { id: 7, bytes }])
    }

    fn hit(offset: usize, len: usize, encoding: &str) -> Hit {
        Hit { record: 7, canary: 3, offset, len, encoding: encoding.to_owned() }
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

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

    /// serde writes a `Vec<u8>` as a JSON array of numbers: a state that
    /// keeps plaintext that way still holds it.
    #[test]
    fn json_arrays_of_byte_numbers_are_read_as_bytes() {
        let numbers: Vec<String> = cat(&[b"hi ", C]).iter().map(u8::to_string).collect();
        let hay = format!("{{\"history\":[[1,2],[{}]],\"n\":[300,1,2,3,4,5,6,7,8]}}", numbers.join(", "));
        let hits = scan_one(hay.as_bytes());
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].offset, hay.find("[104").unwrap());
        assert!(hits[0].encoding.starts_with("JSON array of byte numbers at offset"), "{hits:?}");
        // Numbers that are not bytes, and short arrays, give nothing.
        assert!(scan_one(b"[1,2,3] [256,1,2,3,4,5,6,7,8] [[[[").is_empty());
    }

    #[test]
    fn raw_full_match_only_no_fragments() {
        let hay = cat(&[b"hello ", C, b" world"]);
        assert_eq!(scan_one(&hay), vec![hit(6, 32, "raw")]);
    }

    #[test]
    fn hex_lower_and_upper() {
        let lower = format!("x={} y", hex::encode(C));
        assert_eq!(scan_one(lower.as_bytes()), vec![hit(2, 64, "hex-lower")]);
        let upper = format!("x={} y", hex::encode_upper(C));
        assert_eq!(scan_one(upper.as_bytes()), vec![hit(2, 64, "hex-upper")]);
    }

    #[test]
    fn base64_every_alignment_padded_and_unpadded() {
        let engines: [(&str, &GeneralPurpose); 4] = [
            ("base64-std", &STANDARD),
            ("base64-std", &STANDARD_NO_PAD),
            ("base64-url", &URL_SAFE),
            ("base64-url", &URL_SAFE_NO_PAD),
        ];
        let prefix: &[u8] = b"\xfb\xff\xbfAB\xfe";
        let suffix: &[u8] = b"\xff\xfe";
        let s = scanner();
        for (name, engine) in engines {
            for p in 0..=prefix.len() {
                for q in 0..=suffix.len() {
                    let message = cat(&[&prefix[..p], C, &suffix[..q]]);
                    let encoded = engine.encode(&message);
                    let hay = format!("data:{encoded}\n");
                    let hits = s.scan(&[Record { id: 7, bytes: hay.as_bytes() }]);
                    let align = p % 3;
                    let offset = 5 + 4 * (p / 3) + (8 * align).div_ceil(6);
                    let expected = format!("{name} (alignment {align})");
                    assert!(
                        hits.iter().any(|h| h.encoding == expected && h.offset == offset && h.len >= 40),
                        "{expected} p={p} q={q}: {hits:?} in {hay}"
                    );
                    assert!(hits.iter().all(|h| h.canary == 3 && h.record == 7));
                }
            }
        }
    }

    #[test]
    fn utf16_le_and_be() {
        let text = format!("note: {}!", std::str::from_utf8(C).unwrap());
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        // ASCII UTF-16 is ambiguous by one byte: both readings are reported.
        assert_eq!(scan_one(&le), vec![hit(11, 64, "utf-16be"), hit(12, 64, "utf-16le")]);
        assert_eq!(scan_one(&be), vec![hit(12, 64, "utf-16be"), hit(13, 64, "utf-16le")]);
    }

    #[test]
    fn fragment_reports_real_length() {
        let hay = cat(&[b"zzz ", &C[5..20], b" zzz"]);
        assert_eq!(scan_one(&hay), vec![hit(4, 15, FRAGMENT_ENCODING)]);
        // Run ending at the end of the canary and of the haystack.
        let hay = cat(&[b"..", &C[20..]]);
        assert_eq!(scan_one(&hay), vec![hit(2, 12, FRAGMENT_ENCODING)]);
        // 11 bytes is below the threshold.
        assert_eq!(scan_one(&C[3..14]), vec![]);
    }

    #[test]
    fn fragment_then_full_canary() {
        let hay = cat(&[&C[..20], C]);
        assert_eq!(scan_one(&hay), vec![hit(0, 20, FRAGMENT_ENCODING), hit(20, 32, "raw")]);
        let hay = cat(&[C, &C[..15]]);
        assert_eq!(scan_one(&hay), vec![hit(0, 32, "raw"), hit(32, 15, FRAGMENT_ENCODING)]);
    }

    #[test]
    fn canary_of_exactly_twelve_bytes_is_not_a_fragment() {
        let s = Scanner::new(&[Canary { id: 0, bytes: &C[..12] }]);
        let hay = cat(&[b"ab", &C[..12], b"cd"]);
        let hits = s.scan(&[Record { id: 1, bytes: &hay }]);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].encoding, "raw");
        assert_eq!((hits[0].offset, hits[0].len), (2, 12));
    }

    #[test]
    fn zlib_stream_inside_record() {
        let body = cat(&[b"message: ", C, b" end"]);
        let record = cat(&[b"HDR:\x00\x01\x02\x03\x04\x05\x06\x07", &zlib(&body)]);
        let hits = scan_one(&record);
        assert!(hits.contains(&hit(12, 32, "zlib stream at offset 12 → raw")), "{hits:?}");
    }

    #[test]
    fn zlib_of_base64_reports_inner_encoding() {
        let body = format!("{{\"b\":\"{}\"}}", STANDARD.encode(cat(&[b"hi", C])));
        let record = cat(&[b"xyz", &zlib(body.as_bytes())]);
        let hits = scan_one(&record);
        assert!(
            hits.iter().any(|h| h.offset == 3 && h.encoding == "zlib stream at offset 3 → base64-std (alignment 2)"),
            "{hits:?}"
        );
    }

    #[test]
    fn gzip_stream_inside_record() {
        let body = cat(&[b"hex ", hex::encode(C).as_bytes()]);
        let record = cat(&[b"abcde", &gzip(&body), b"trailer"]);
        let hits = scan_one(&record);
        assert!(hits.contains(&hit(5, 64, "gzip stream at offset 5 → hex-lower")), "{hits:?}");
    }

    #[test]
    fn raw_deflate_whole_record() {
        let body = cat(&[b"some text ", C, b" more text"]);
        let hits = scan_one(&deflate(&body));
        assert!(hits.contains(&hit(0, 32, "raw deflate stream at offset 0 → raw")), "{hits:?}");
    }

    #[test]
    fn truncated_zlib_stream_still_leaks_prefix() {
        let body = cat(&[b"secret: ", C, &noise(200_000, 99)]);
        let z = zlib(&body);
        let record = cat(&[b"??", &z[..z.len() / 2]]);
        let hits = scan_one(&record);
        assert!(hits.contains(&hit(2, 32, "zlib stream at offset 2 → raw")), "{hits:?}");
    }

    #[test]
    fn negative_other_canary_and_noise() {
        let other_text = std::str::from_utf8(OTHER).unwrap();
        let mut hay = noise(1 << 16, 0x9e37_79b9_7f4a_7c15);
        hay.extend_from_slice(OTHER);
        hay.extend_from_slice(hex::encode(OTHER).as_bytes());
        hay.extend_from_slice(STANDARD.encode(OTHER).as_bytes());
        hay.extend_from_slice(&zlib(OTHER));
        hay.extend_from_slice(&gzip(other_text.as_bytes()));
        let records = [Record { id: 0, bytes: &hay }, Record { id: 1, bytes: &deflate(&hay) }];
        assert_eq!(scanner().scan(&records), vec![]);
        // Sanity: the other canary is found by its own scanner.
        let s = Scanner::new(&[Canary { id: 9, bytes: OTHER }]);
        assert!(s.scan(&records).iter().any(|h| h.encoding == "raw"));
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert_eq!(Scanner::new(&[]).scan(&[Record { id: 0, bytes: C }]), vec![]);
        assert_eq!(scanner().scan(&[]), vec![]);
        assert_eq!(scan_one(b""), vec![]);
        let empty = Scanner::new(&[Canary { id: 0, bytes: b"" }]);
        assert_eq!(empty.scan(&[Record { id: 0, bytes: C }]), vec![]);
        // Short canary: full encodings only, no fragments.
        let short = Scanner::new(&[Canary { id: 1, bytes: b"\x00\xff" }]);
        let hits = short.scan(&[Record { id: 0, bytes: b"a\x00\xffb" }]);
        assert!(hits.iter().any(|h| h.encoding == "raw" && h.offset == 1));
        // Binary full of header lookalikes and truncated streams.
        let mut junk: Vec<u8> = (0..=255u8).flat_map(|a| (0..=255u8).flat_map(move |b| [a, b])).collect();
        junk.extend_from_slice(&[0x1f, 0x8b, 0x08]);
        junk.extend_from_slice(&[0x78, 0x9c]);
        let s = Scanner::new(&[Canary { id: 0, bytes: C }, Canary { id: 1, bytes: &[0] }]);
        for bytes in [&junk[..], &[0x1f, 0x8b], &[0x78], &noise(4096, 7)] {
            let _ = s.scan(&[Record { id: 0, bytes }]);
        }
        assert!(format!("{s:?}").contains("Scanner"));
        assert!(Scanner::try_new(&[]).is_ok());
    }

    #[test]
    fn sorted_deduplicated_deterministic_with_ids() {
        let a = cat(&[C, b"--", C, b"--", hex::encode(OTHER).as_bytes()]);
        let b = cat(&[OTHER]);
        let s = Scanner::new(&[Canary { id: 10, bytes: OTHER }, Canary { id: 20, bytes: C }]);
        let records = [Record { id: 5, bytes: &b }, Record { id: 2, bytes: &a }];
        let hits = s.scan(&records);
        assert!(hits.windows(2).all(|w| w[0] < w[1]), "{hits:?}");
        assert_eq!(hits, s.scan(&records));
        let keys: Vec<_> = hits.iter().map(|h| (h.record, h.canary, h.offset, h.encoding.as_str())).collect();
        assert_eq!(keys, vec![(2, 10, 68, "hex-lower"), (2, 20, 0, "raw"), (2, 20, 34, "raw"), (5, 10, 0, "raw"),]);
    }

    #[test]
    fn encodings_of_shapes() {
        let enc = encodings_of(C);
        let names: Vec<_> = enc.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 11, "{names:?}");
        assert!(names.contains(&"base64-url (alignment 1)"));
        assert!(enc.iter().all(|(_, b)| !b.is_empty()));
        assert!(encodings_of(b"").is_empty());
    }
}
