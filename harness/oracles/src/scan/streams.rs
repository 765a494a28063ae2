//! Compressed streams inside a layer: zlib, gzip and zstd found by their
//! headers, and the two formats without one (raw deflate, brotli) found by
//! reading whether a real encoder's first block starts there. See the
//! module documentation of `scan` for where each is looked for.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{LazyLock, Mutex};

use aho_corasick::AhoCorasick;
use flate2::read::{DeflateDecoder, GzDecoder, ZlibDecoder};

use super::{Ctx, FRAGMENT_MIN_LEN, MAX_HEADERLESS_LAYER, MAX_INFLATE_OUTPUT};

/// Compressed streams: zlib, gzip and zstd wherever their header is; raw
/// deflate and brotli (no header) at offset 0, and at every offset of a
/// binary layer of at most [`MAX_HEADERLESS_LAYER`] bytes where a real
/// encoder's first block reads.
pub(super) fn streams(hay: &[u8], ctx: &mut Ctx<'_>, binary: bool, out: &mut Vec<(String, usize, Vec<u8>)>) {
    let cap = MAX_INFLATE_OUTPUT.min(ctx.budget);
    // Compressed output is binary: text layers (percent, JSON, UTF-16/32
    // decoding) are not tried as raw deflate or brotli.
    if !binary {
        return headed_streams(hay, cap, ctx, &mut push_to(out));
    }
    // The same bytes give the same streams: a decoded layer seen before
    // (the same key package or ratchet tree in every seized copy of a
    // group, the same misaligned decoding of it) is not searched again. A
    // record itself (no decoding before it) is searched afresh: records
    // rarely repeat, and a benchmark that scans the same records again
    // measures the search, not the cache.
    if ctx.chain.is_empty() {
        return binary_streams(hay, cap, ctx, &mut push_to(out));
    }
    let key = FOUND.key(hay, cap);
    if let Some(found) = FOUND.get(&key) {
        out.extend(found);
        return;
    }
    let before = out.len();
    binary_streams(hay, cap, ctx, &mut push_to(out));
    FOUND.put(key, &out[before..]);
}

/// Adds a stream's output of at least a fragment's length to `out`, named
/// by its kind and offset.
fn push_to(out: &mut Vec<(String, usize, Vec<u8>)>) -> impl FnMut(&str, usize, Vec<u8>) + '_ {
    move |kind: &str, start: usize, bytes: Vec<u8>| {
        if bytes.len() >= FRAGMENT_MIN_LEN {
            out.push((format!("{kind} stream at offset {start}"), start, bytes));
        }
    }
}

/// What [`streams`] finds in a binary layer.
fn binary_streams(hay: &[u8], cap: usize, ctx: &mut Ctx<'_>, push: &mut impl FnMut(&str, usize, Vec<u8>)) {
    if probe_deflate(ctx.probe, hay, false) {
        push("raw deflate", 0, read_capped(DeflateDecoder::new(hay), cap));
    }
    // At offset 0, a compressed first meta-block whose whole header is
    // valid is decoded as far as it goes (a stream cut short still leaks
    // its start). A stored one holds its bytes as they are, already
    // scanned: it is decoded only where the whole stream is valid, for
    // what compressed blocks after it hold (random bytes read as a stored
    // block at about one offset in ten).
    match brotli_start(hay) {
        Some(BrotliStart { stored: true, .. }) => {
            if let Some(bytes) = read_whole(brotli_decompressor::Decompressor::new(hay, 4096), cap, false) {
                push("brotli", 0, bytes);
            }
        }
        Some(BrotliStart { stored: false, .. }) if brotli_plausible(hay) => {
            push("brotli", 0, read_capped(brotli_decompressor::Decompressor::new(hay, 4096), cap));
        }
        _ => {}
    }
    // Elsewhere, every offset where the first block reads as a real
    // encoder's: for deflate, a valid dynamic header or fixed codes giving
    // text; for brotli, a compressed meta-block with a whole valid header
    // whose first command starts text, decoded in full only where its first
    // bytes are text and it ends as a whole stream (a stored one holds its
    // text as it is). Compressed bytes look random: where 16 bytes are ASCII, no
    // stream starts (1 chance in 65,536 for a real one). The body of a
    // zlib or gzip stream is left to them.
    if hay.len() <= MAX_HEADERLESS_LAYER {
        for j in 1..hay.len().saturating_sub(FRAGMENT_MIN_LEN) {
            let rest = &hay[j..];
            if load16(rest) & 0x8080_8080_8080_8080_8080_8080_8080_8080 == 0 {
                continue;
            }
            if headerless_deflate_ok(rest) && !inside_container(hay, j) && probe_deflate(ctx.probe, rest, false) {
                push("raw deflate", j, read_capped(DeflateDecoder::new(rest), cap));
            }
            if brotli_text_start(rest) {
                if let Some(bytes) = read_whole(brotli_decompressor::Decompressor::new(rest, 4096), cap, true) {
                    push("brotli", j, bytes);
                }
            }
        }
    }
    headed_streams(hay, cap, ctx, push);
}

/// Streams found in decoded binary layers, by a BLAKE3 hash of the layer and the
/// output cap. A pure cache: [`streams`] gives the same output with or
/// without it. It keeps at most [`FOUND_ENTRIES`] layers and
/// [`FOUND_BYTES`] bytes of output, and forgets everything past that.
static FOUND: Found = Found { map: LazyLock::new(Mutex::default) };

const FOUND_ENTRIES: usize = 1 << 18;
const FOUND_BYTES: usize = 64 << 20;

type Streams = Vec<(String, usize, Vec<u8>)>;

/// The layers' streams, and the bytes they hold (output and overhead).
type FoundMap = (HashMap<[u8; 32], Streams>, usize);

struct Found {
    map: LazyLock<Mutex<FoundMap>>,
}

impl Found {
    fn key(&self, hay: &[u8], cap: usize) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(&(cap as u64).to_le_bytes());
        h.update(hay);
        *h.finalize().as_bytes()
    }

    fn get(&self, key: &[u8; 32]) -> Option<Streams> {
        let map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.0.get(key).cloned()
    }

    fn put(&self, key: [u8; 32], found: &[(String, usize, Vec<u8>)]) {
        let bytes: usize = found.iter().map(|(_, _, b)| b.len() + 64).sum::<usize>() + 96;
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.0.len() >= FOUND_ENTRIES || map.1 + bytes > FOUND_BYTES {
            map.0.clear();
            map.1 = 0;
        }
        if bytes <= FOUND_BYTES / 4 && map.0.insert(key, found.to_vec()).is_none() {
            map.1 += bytes;
        }
    }
}

/// zlib, gzip and zstd streams, wherever their header is.
fn headed_streams(hay: &[u8], cap: usize, ctx: &mut Ctx<'_>, push: &mut impl FnMut(&str, usize, Vec<u8>)) {
    let mut from = 0;
    while let Some(m) = HEADERS.find_in(hay, aho_corasick::Span::from(from..hay.len())) {
        let start = m.start();
        // Headers may overlap: look again one byte on.
        from = start + 1;
        let rest = &hay[start..];
        if looks_like_zlib(rest) && probe_deflate(ctx.probe, rest, true) {
            push("zlib", start, read_capped(ZlibDecoder::new(rest), cap));
        } else if rest.starts_with(&[0x1f, 0x8b, 0x08]) {
            push("gzip", start, read_capped(GzDecoder::new(rest), cap));
        } else if rest.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            if let Ok(d) = ruzstd::decoding::StreamingDecoder::new(rest) {
                push("zstd", start, read_capped(d, cap));
            }
        }
    }
}

/// The first bytes of every stream with a header: a zlib header (CM = 8,
/// window up to 32 KiB, no preset dictionary, valid FCHECK), gzip, zstd.
static HEADERS: LazyLock<HeaderSearch> = LazyLock::new(HeaderSearch::new);

/// Finds stream headers: a SIMD packed searcher where the CPU has one, else
/// an automaton.
enum HeaderSearch {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

impl HeaderSearch {
    fn new() -> HeaderSearch {
        let mut patterns: Vec<Vec<u8>> = (0..=0xffffu32)
            .filter_map(|pair| {
                let b = [(pair >> 8) as u8, pair as u8];
                looks_like_zlib(&b).then(|| b.to_vec())
            })
            .collect();
        patterns.push(vec![0x1f, 0x8b, 0x08]);
        patterns.push(vec![0x28, 0xb5, 0x2f, 0xfd]);
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(&patterns)
            .build();
        match packed {
            Some(p) => HeaderSearch::Packed(p),
            None => HeaderSearch::Automaton(
                #[allow(clippy::expect_used)]
                AhoCorasick::new(&patterns).expect("a few two-byte patterns always build"),
            ),
        }
    }

    fn find_in(&self, hay: &[u8], span: aho_corasick::Span) -> Option<aho_corasick::Match> {
        match self {
            HeaderSearch::Packed(p) => p.find_in(hay, span),
            HeaderSearch::Automaton(a) => a.find(aho_corasick::Input::new(hay).span(span)),
        }
    }
}

/// The first meta-block of what may be a brotli stream (RFC 7932 9.1, 9.2):
/// a valid window size, then a meta-block that is neither empty nor
/// metadata, of at least a fragment's length, expanding the input at most
/// 64 times; a stored block must fit in the input. `at` is the bit where
/// the header of a compressed block goes on.
struct BrotliStart {
    stored: bool,
    at: usize,
}

fn brotli_start(b: &[u8]) -> Option<BrotliStart> {
    // At most 36 bits: read them as one word (zeros past a short input).
    let w = match b.first_chunk::<8>() {
        Some(head) => u64::from_le_bytes(*head),
        None => {
            let mut padded = [0u8; 8];
            padded[..b.len()].copy_from_slice(b);
            u64::from_le_bytes(padded)
        }
    };
    // The window size, ISLAST, ISLASTEMPTY and MNIBBLES take at most 11
    // bits: a table says where MLEN starts, its nibbles and ISLAST. The
    // window size (10 to 24 bits) sizes the decoder's buffer only: a
    // compressed block is decoded only where its whole header is valid.
    let fields = BROTLI_FIELDS[(w & 0x7ff) as usize];
    if fields == 0 {
        return None;
    }
    let (mut at, nibbles, last) = (usize::from(fields & 0xf), usize::from(fields >> 4 & 7), fields >> 7 == 1);
    let mlen_1 = (w >> at) & ((1 << (4 * nibbles)) - 1);
    at += 4 * nibbles;
    if nibbles > 4 && mlen_1 >> (4 * (nibbles - 1)) == 0 {
        return None;
    }
    let mlen = mlen_1 as usize + 1;
    if mlen < FRAGMENT_MIN_LEN || mlen > 64 * b.len() {
        return None;
    }
    let stored = !last && (w >> at) & 1 == 1;
    at += usize::from(!last);
    if at > 8 * b.len() || (stored && at.div_ceil(8) + mlen > b.len()) {
        return None;
    }
    Some(BrotliStart { stored, at })
}

/// For each value of a stream's first 11 bits: 0 where the window size is
/// invalid, the first meta-block is the empty last one, or its length is
/// in metadata form; else the bit where MLEN starts (low 4 bits), its
/// nibbles (next 3) and ISLAST (top bit).
static BROTLI_FIELDS: [u8; 2048] = brotli_fields();

const fn brotli_fields() -> [u8; 2048] {
    let mut table = [0u8; 2048];
    let mut v = 0;
    while v < 2048 {
        // WBITS: 1, 4 or 7 bits; 0b0010001 is the one invalid value.
        let at = if v & 1 == 0 {
            1
        } else if (v >> 1) & 7 != 0 {
            4
        } else if (v >> 4) & 7 == 1 {
            0
        } else {
            7
        };
        if at != 0 {
            let last = (v >> at) & 1;
            let at = at + 1;
            let empty = last == 1 && (v >> at) & 1 == 1;
            let at = at + last;
            let nibbles = (v >> at) & 3;
            if !empty && nibbles != 3 {
                table[v] = ((at + 2) | (4 + nibbles) << 4 | last << 7) as u8;
            }
        }
        v += 1;
    }
    table
}

/// Whether `b` starts with a brotli meta-block worth decoding: a stored
/// one, or a compressed one whose whole header is valid (RFC 7932 9.2:
/// block type and block count codes, context maps, and every literal,
/// insert-and-copy and distance prefix code, each a valid simple code or a
/// complete complex one). Random bytes pass about 5 times in 10^5, so the
/// decoder, which sets up its window before it can refuse anything, is
/// rarely started for nothing.
fn brotli_plausible(b: &[u8]) -> bool {
    match brotli_start(b) {
        Some(BrotliStart { stored: true, .. }) => true,
        Some(BrotliStart { stored: false, at }) => brotli_codes(&mut BitReader { b, at }).is_some(),
        None => false,
    }
}

/// Whether a brotli stream whose first meta-block is compressed, and which
/// starts with text, starts at `b`: the whole header is valid (as for
/// [`brotli_plausible`]), and the first command either inserts at least 4
/// literals, whose first (up to) 8 decode to text with at least 3 distinct
/// bytes, or copies a word of the built-in dictionary. Random bytes pass
/// fewer than 3 times in 10^6 (a test measures it).
fn brotli_text_start(b: &[u8]) -> bool {
    match brotli_start(b) {
        Some(BrotliStart { stored: false, at }) => {
            let mut r = BitReader { b, at };
            brotli_codes(&mut r).and_then(|head| head.starts_with_text(&mut r)).unwrap_or(false)
        }
        _ => false,
    }
}

/// Extra bits of the 26 block count symbols (RFC 7932 6); each base is the
/// previous one plus the range of its extra bits, from 1.
const BLOCK_COUNT_EXTRA: [u8; 26] = [2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 7, 8, 9, 10, 11, 12, 13, 24];
/// Extra bits of the 24 insert length codes (RFC 7932 5), bases from 0.
const INSERT_EXTRA: [u8; 24] = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 12, 14, 24];
/// Extra bits of the 24 copy length codes (RFC 7932 5).
const COPY_EXTRA: [u8; 24] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 10, 24];

/// A value in one of brotli's prefix-plus-extra-bits codes: the base of
/// `symbol` (`first` plus the ranges of the symbols before it) and its
/// extra bits.
fn brotli_value(r: &mut BitReader<'_>, extra: &[u8], first: usize, symbol: usize) -> Option<usize> {
    let base = first + extra.get(..symbol)?.iter().map(|&e| 1usize << e).sum::<usize>();
    Some(base + r.bits(usize::from(*extra.get(symbol)?))? as usize)
}

/// What the first command of a meta-block needs from its header.
struct BrotliHead {
    /// Literals before the first literal block switch.
    literal_count: usize,
    /// Context mode of literal block type 0.
    mode: u32,
    /// Literal tree of each of block type 0's 64 contexts (empty: one tree).
    literal_map: Vec<u8>,
    literal_trees: Vec<BrotliCode>,
    /// Insert-and-copy tree of block type 0.
    command: BrotliCode,
}

/// Reads the rest of a compressed meta-block header; `None` where it is not
/// valid (or the input ends first).
fn brotli_codes(r: &mut BitReader<'_>) -> Option<BrotliHead> {
    let mut types = [0usize; 3];
    let mut counts = [usize::MAX; 3];
    for (t, count) in types.iter_mut().zip(&mut counts) {
        *t = brotli_count(r)?;
        if *t >= 2 {
            BrotliCode::read(r, *t + 2, false)?;
            let code = BrotliCode::read(r, 26, true)?;
            let symbol = usize::from(code.decode(r)?);
            *count = brotli_value(r, &BLOCK_COUNT_EXTRA, 1, symbol)?;
        }
    }
    let [literal_types, command_types, distance_types] = types;
    let postfix = r.bits(2)? as usize;
    let direct = (r.bits(4)? as usize) << postfix;
    let mut mode = 0;
    for k in 0..literal_types {
        let m = r.bits(2)?;
        if k == 0 {
            mode = m;
        }
    }
    let literal_tree_count = brotli_count(r)?;
    let mut literal_map = Vec::new();
    if literal_tree_count >= 2 {
        literal_map = brotli_context_map(r, 64 * literal_types, literal_tree_count)?;
        literal_map.truncate(64);
    }
    let distance_trees = brotli_count(r)?;
    if distance_trees >= 2 {
        brotli_context_map(r, 4 * distance_types, distance_trees)?;
    }
    let literal_trees = (0..literal_tree_count).map(|_| BrotliCode::read(r, 256, true)).collect::<Option<Vec<_>>>()?;
    let command = BrotliCode::read(r, BROTLI_MAX_ALPHABET, true)?;
    for _ in 1..command_types {
        BrotliCode::read(r, BROTLI_MAX_ALPHABET, false)?;
    }
    for _ in 0..distance_trees {
        BrotliCode::read(r, 16 + direct + (48 << postfix), false)?;
    }
    Some(BrotliHead { literal_count: counts[0], mode, literal_map, literal_trees, command })
}

impl BrotliHead {
    /// Whether the first command starts the text a real encoder writes
    /// (RFC 7932 5, 7.1, 9.3): its insert-and-copy symbol and the extra
    /// bits of both lengths, then its literals (up to 8, each in the tree
    /// its context picks) are text, and either there are at least 4 of them
    /// with 3 distinct bytes, or fewer before a block switch, or fewer
    /// before a copy of 4 to 24 bytes (with almost nothing written yet, a
    /// word of the built-in dictionary).
    fn starts_with_text(&self, r: &mut BitReader<'_>) -> Option<bool> {
        let symbol = usize::from(self.command.decode(r)?);
        // Cells of 64 symbols: which eighth of the insert and copy codes.
        const INSERT_CELL: [usize; 11] = [0, 0, 0, 0, 8, 8, 0, 16, 8, 16, 16];
        const COPY_CELL: [usize; 11] = [0, 8, 0, 8, 0, 8, 16, 0, 16, 8, 16];
        let cell = symbol >> 6;
        let insert_code = INSERT_CELL.get(cell)? + ((symbol >> 3) & 7);
        let copy_code = COPY_CELL.get(cell)? + (symbol & 7);
        let insert = brotli_value(r, &INSERT_EXTRA, 0, insert_code)?;
        let copy = brotli_value(r, &COPY_EXTRA, 2, copy_code)?;
        let n = insert.min(self.literal_count).min(8);
        if n < 4 && n != self.literal_count && !(n == insert && (4..=24).contains(&copy)) {
            return Some(false);
        }
        let (mut p1, mut p2) = (0u8, 0u8);
        let mut seen = [0u8; 8];
        for slot in &mut seen[..n] {
            let tree = match self.literal_map.get(literal_context(self.mode, p1, p2)) {
                Some(&t) => usize::from(t),
                None => 0,
            };
            let byte = u8::try_from(self.literal_trees.get(tree)?.decode(r)?).ok()?;
            if !matches!(byte, 0x09 | 0x0a | 0x0d | 0x20..=0x7e | 0x80..=0xbf | 0xc2..=0xf4) {
                return Some(false);
            }
            *slot = byte;
            (p2, p1) = (p1, byte);
        }
        let seen = &mut seen[..n];
        seen.sort_unstable();
        Some(n < 4 || seen.windows(2).filter(|w| w[0] != w[1]).count() >= 2)
    }
}

/// The context of a literal after bytes `p1` (last) and `p2` in each of the
/// four context modes (RFC 7932 7.1: LSB6, MSB6, UTF8, signed).
fn literal_context(mode: u32, p1: u8, p2: u8) -> usize {
    match mode {
        0 => usize::from(p1 & 0x3f),
        1 => usize::from(p1 >> 2),
        2 => usize::from(utf8_last(p1) | utf8_second_last(p2)),
        _ => usize::from(signed_class(p1) << 3 | signed_class(p2)),
    }
}

/// RFC 7932 7.1 Lut0 (UTF8 context, last byte).
fn utf8_last(p: u8) -> u8 {
    const ASCII: [u8; 128] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
        8, 12, 16, 12, 12, 20, 12, 16, 24, 28, 12, 12, 32, 12, 36, 12, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 32, 32,
        24, 40, 28, 12, 12, 48, 52, 52, 52, 48, 52, 52, 52, 48, 52, 52, 52, 52, 52, 48, 52, 52, 52, 52, 52, 48, 52, 52,
        52, 52, 52, 24, 12, 28, 12, 12, 12, 56, 60, 60, 60, 56, 60, 60, 60, 56, 60, 60, 60, 60, 60, 56, 60, 60, 60, 60,
        60, 56, 60, 60, 60, 60, 60, 24, 12, 28, 12, 0,
    ];
    match p {
        0..=127 => ASCII[usize::from(p)],
        128..=191 => p & 1,
        _ => 2 + (p & 1),
    }
}

/// RFC 7932 7.1 Lut1 (UTF8 context, second last byte).
fn utf8_second_last(p: u8) -> u8 {
    match p {
        b'0'..=b'9' | b'A'..=b'Z' | 224..=255 => 2,
        b'a'..=b'z' => 3,
        33..=126 => 1,
        _ => 0,
    }
}

/// RFC 7932 7.1 Lut2 (signed context): a class of the byte's value.
fn signed_class(p: u8) -> u8 {
    match p {
        0 => 0,
        1..=15 => 1,
        16..=63 => 2,
        64..=127 => 3,
        128..=191 => 4,
        192..=239 => 5,
        240..=254 => 6,
        255 => 7,
    }
}

/// A count from 1 to 256 in brotli's variable-length code (RFC 7932 9.2).
fn brotli_count(r: &mut BitReader<'_>) -> Option<usize> {
    if r.bit()? == 0 {
        return Some(1);
    }
    match r.bits(3)? as usize {
        0 => Some(2),
        n => Some((1 << n) + 1 + r.bits(n)? as usize),
    }
}

/// A context map of `size` entries over `trees` trees (RFC 7932 7.3): run
/// lengths of zeros within the map, then the inverse move-to-front bit.
fn brotli_context_map(r: &mut BitReader<'_>, size: usize, trees: usize) -> Option<Vec<u8>> {
    let rle_max = if r.bit()? == 0 { 0 } else { r.bits(4)? as usize + 1 };
    let code = BrotliCode::read(r, trees + rle_max, true)?;
    let mut map = Vec::with_capacity(size);
    while map.len() < size {
        let symbol = usize::from(code.decode(r)?);
        if symbol == 0 || symbol > rle_max {
            map.push(u8::try_from(symbol.saturating_sub(rle_max)).ok()?);
        } else {
            let run = (1 << symbol) + r.bits(symbol)? as usize;
            if map.len() + run > size {
                return None;
            }
            map.resize(map.len() + run, 0);
        }
    }
    if r.bit()? == 1 {
        let mut order: Vec<u8> = (0..=255).collect();
        for v in &mut map {
            let k = usize::from(*v);
            let value = order[k];
            order.copy_within(0..k, 1);
            order[0] = value;
            *v = value;
        }
    }
    Some(map)
}

/// A brotli prefix code (RFC 7932 3.4, 3.5): one symbol that takes no bits,
/// or a canonical code; `Checked` where the code was only checked, not
/// kept for decoding.
enum BrotliCode {
    One(u16),
    Tree(Huffman),
    Checked,
}

/// The lengths of a code length code (RFC 7932 3.5) are read in a fixed
/// code of 2 to 4 bits: for the next 4 bits, the length and the bits it
/// takes.
const CODE_LENGTH_LENGTH: [(u8, u8); 16] = {
    let mut table = [(0u8, 0u8); 16];
    let mut i = 0;
    while i < 16 {
        table[i] = match (i & 3, i >> 2 & 1, i >> 3) {
            (0, _, _) => (0, 2),
            (1, _, _) => (4, 2),
            (2, _, _) => (3, 2),
            (_, 0, _) => (2, 3),
            (_, _, 0) => (1, 4),
            _ => (5, 4),
        };
        i += 1;
    }
    table
};

/// Largest brotli alphabet: insert-and-copy lengths.
const BROTLI_MAX_ALPHABET: usize = 704;

impl BrotliCode {
    /// Reads a simple or complex prefix code over `alphabet` symbols;
    /// `None` where it is not valid (a symbol out of range or repeated, a
    /// code that is not complete, lengths past the alphabet). Unless `keep`,
    /// the code is checked and skipped, not built.
    fn read(r: &mut BitReader<'_>, alphabet: usize, keep: bool) -> Option<BrotliCode> {
        let skip = r.bits(2)? as usize;
        if skip == 1 {
            return BrotliCode::simple(r, alphabet, keep);
        }
        // The code length code: lengths in this order, each in a fixed
        // variable-length code, until the code is full.
        const ORDER: [usize; 18] = [1, 2, 3, 4, 0, 5, 17, 6, 16, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        let mut lengths = [0u8; 18];
        let (mut space, mut used) = (32i32, 0);
        for &i in &ORDER[skip..] {
            let (len, bits) = CODE_LENGTH_LENGTH[r.peek(4) as usize];
            r.skip(usize::from(bits))?;
            lengths[i] = len;
            space -= (32 >> len) & -i32::from(len != 0);
            used += i32::from(len != 0);
            if space <= 0 {
                break;
            }
        }
        if used != 1 && space != 0 {
            return None;
        }
        let length_code = ShortCode::new(&lengths);
        // Lengths are kept only for a code that is kept.
        let mut stack = [0u8; BROTLI_MAX_ALPHABET];
        let code = stack.get_mut(..if keep { alphabet } else { 0 })?;
        let (mut symbol, mut previous, mut space) = (0usize, 8u8, 32768i32);
        let (mut repeat, mut repeat_len) = (0usize, 0u8);
        while symbol < alphabet && space > 0 {
            let len = length_code.decode(r)?;
            if len < 16 {
                repeat = 0;
                if let Some(slot) = code.get_mut(symbol) {
                    *slot = len;
                }
                if len != 0 {
                    previous = len;
                    space -= 32768 >> len;
                }
                symbol += 1;
                continue;
            }
            // 16 repeats the previous non-zero length, 17 a zero; a run of
            // them extends the count the previous one gave.
            let (extra, value) = if len == 16 { (2, previous) } else { (3, 0) };
            if repeat_len != value {
                repeat = 0;
                repeat_len = value;
            }
            let old = repeat;
            if repeat > 0 {
                repeat = (repeat - 2) << extra;
            }
            repeat += r.bits(extra)? as usize + 3;
            let added = repeat - old;
            if symbol + added > alphabet {
                return None;
            }
            if let Some(run) = code.get_mut(symbol..symbol + added) {
                run.fill(value);
            }
            if value != 0 {
                space -= (added as i32) << (15 - value);
            }
            symbol += added;
        }
        if space != 0 {
            return None;
        }
        Some(if keep { BrotliCode::Tree(Huffman::new(code).0) } else { BrotliCode::Checked })
    }

    /// A simple code: one to four distinct symbols with fixed lengths.
    fn simple(r: &mut BitReader<'_>, alphabet: usize, keep: bool) -> Option<BrotliCode> {
        let count = r.bits(2)? as usize + 1;
        let width = (usize::BITS - (alphabet - 1).leading_zeros()) as usize;
        let mut symbols = [0u16; 4];
        for k in 0..count {
            let s = r.bits(width)? as u16;
            if usize::from(s) >= alphabet || symbols[..k].contains(&s) {
                return None;
            }
            symbols[k] = s;
        }
        let lengths: &[u8] = match count {
            1 => return Some(BrotliCode::One(symbols[0])),
            2 => &[1, 1],
            3 => &[1, 2, 2],
            _ if r.bit()? == 0 => &[2, 2, 2, 2],
            _ => &[1, 2, 3, 3],
        };
        if !keep {
            return Some(BrotliCode::Checked);
        }
        let mut code = vec![0u8; alphabet];
        for (&s, &l) in symbols.iter().zip(lengths) {
            code[usize::from(s)] = l;
        }
        Some(BrotliCode::Tree(Huffman::new(&code).0))
    }

    fn decode(&self, r: &mut BitReader<'_>) -> Option<u16> {
        match self {
            BrotliCode::One(s) => Some(*s),
            BrotliCode::Tree(h) => h.decode(r),
            BrotliCode::Checked => None,
        }
    }
}

/// The code length code of a brotli prefix code (lengths of at most 5
/// bits over 18 symbols) as a table: the next 5 bits give the symbol and
/// its length.
struct ShortCode {
    table: [(u8, u8); 32],
}

impl ShortCode {
    /// The canonical code of `lengths` (complete, or a single symbol that
    /// takes no bits), as [`BrotliCode::read`] checked it.
    fn new(lengths: &[u8; 18]) -> ShortCode {
        let mut count = [0u8; 6];
        for &l in lengths {
            count[usize::from(l.min(5))] += 1;
        }
        if count[0] == 17 {
            let only = lengths.iter().position(|&l| l != 0).unwrap_or(0) as u8;
            return ShortCode { table: [(only, 0); 32] };
        }
        // The first code of each length (RFC 1951 3.2.2), then each
        // symbol's code, reversed (bits are read first bit first) and
        // repeated over the bits after it.
        let mut next = [0u32; 6];
        let mut code = 0u32;
        for l in 1..6 {
            code = (code + u32::from(count[l - 1]) * u32::from(l > 1)) << 1;
            next[l] = code;
        }
        let mut table = [(0u8, 0u8); 32];
        for (s, &l) in lengths.iter().enumerate() {
            if l != 0 {
                let len = usize::from(l.min(5));
                let reversed = next[len].reverse_bits() >> (32 - len);
                next[len] += 1;
                let mut k = reversed as usize;
                while k < 32 {
                    table[k] = (s as u8, len as u8);
                    k += 1 << len;
                }
            }
        }
        ShortCode { table }
    }

    fn decode(&self, r: &mut BitReader<'_>) -> Option<u8> {
        let (symbol, len) = self.table[r.peek(5) as usize];
        r.skip(usize::from(len))?;
        Some(symbol)
    }
}

/// Whether a deflate (or zlib) stream at the start of `bytes` yields at least
/// a fragment's worth of output: decodes into a small buffer only.
fn probe_deflate(r: &mut miniz_oxide::inflate::core::DecompressorOxide, bytes: &[u8], zlib: bool) -> bool {
    use miniz_oxide::inflate::core::{decompress, inflate_flags};
    // The first block header, read by hand: reserved block types and
    // stored blocks whose length check fails are refused without decoding.
    let body = if zlib { bytes.get(2..) } else { Some(bytes) };
    let Some(&b0) = body.and_then(|b| b.first()) else { return false };
    match (b0 >> 1) & 3 {
        3 => return false,
        0 => match body.and_then(|b| b.get(1..5)) {
            Some(&[l0, l1, n0, n1]) if l0 == !n0 && l1 == !n1 => {}
            Some(_) => return false,
            None => {}
        },
        // Dynamic: at most 286 literal/length and 30 distance codes, and
        // the code-length code must be a complete prefix code.
        2 if b0 >> 3 > 29 || body.is_some_and(|b| !dynamic_header_ok(b)) => return false,
        1 if body.is_some_and(|b| !fixed_start_ok(b)) => return false,
        _ => {}
    }
    r.init();
    let mut buf = [0u8; 64];
    let mut flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF | inflate_flags::TINFL_FLAG_IGNORE_ADLER32;
    if zlib {
        flags |= inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER;
    }
    let (status, read, produced) = decompress(r, bytes, &mut buf, 0, flags);
    // Random bytes rarely get far: a stream must fill the buffer, end
    // cleanly, or run out of input (a truncated stream), with a fragment's
    // worth of output.
    let done = matches!(status, miniz_oxide::inflate::TINFLStatus::Done) || read == bytes.len();
    produced == buf.len() || (done && produced >= FRAGMENT_MIN_LEN)
}

/// Whether a dynamic deflate block header at the start of `b` (BFINAL and
/// BTYPE already read) gives a complete code-length code (RFC 1951 3.2.7):
/// random bytes almost never do, so the decoder is rarely set up for them.
fn dynamic_header_ok(b: &[u8]) -> bool {
    // 3 bits BFINAL/BTYPE, 5 HLIT, 5 HDIST, 4 HCLEN, then up to 19 3-bit
    // lengths: 74 bits, read from one 128-bit load.
    let x = load16(b);
    let field = |at: usize, n: usize| ((x >> at) as u32) & ((1 << n) - 1);
    if field(3, 5) > 29 || field(8, 5) > 29 {
        return false;
    }
    let count = field(13, 4) as usize + 4;
    // Kraft sum in units of 2^-7 (code lengths are 1..=7).
    let mut sum = 0u32;
    let mut used = 0;
    for k in 0..count {
        let len = field(17 + 3 * k, 3);
        if len > 0 {
            sum += 1 << (7 - len);
            used += 1;
            if sum > 128 {
                return false;
            }
        }
    }
    // A single code of length 1 is allowed (zlib writes it); otherwise complete.
    sum == 128 || (used == 1 && sum == 64)
}

/// How reading the start of a fixed-Huffman block ended.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// The wanted number of bytes was decoded.
    Done,
    /// The input ended first.
    Truncated,
    /// An invalid code, a reference before the start, or the block's end.
    Invalid,
}

/// Decodes the start of a fixed-Huffman deflate block at `b` (BFINAL and
/// BTYPE already read) into `out` until it holds `want` bytes (RFC 1951
/// 3.2.5-3.2.6); a back-reference before `literals` bytes is invalid.
fn fixed_head(b: &[u8], want: usize, literals: usize, out: &mut Vec<u8>) -> Head {
    const LEN_BASE: [u16; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ];
    const DIST_BASE: [u32; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ];
    let mut r = BitReader { b, at: 3 };
    // Huffman codes are read most significant bit first.
    let code = |r: &mut BitReader<'_>, n: usize| -> Option<u32> { (0..n).try_fold(0, |v, _| Some(v << 1 | r.bit()?)) };
    while out.len() < want {
        let Some(c7) = code(&mut r, 7) else { return Head::Truncated };
        let sym = if c7 <= 0b001_0111 {
            256 + c7
        } else {
            let Some(c8) = code(&mut r, 1).map(|b| c7 << 1 | b) else { return Head::Truncated };
            match c8 {
                0x30..=0xbf => c8 - 0x30,
                0xc0..=0xc7 => 280 + c8 - 0xc0,
                _ => match code(&mut r, 1) {
                    Some(b) => 144 + (c8 << 1 | b) - 0x190,
                    None => return Head::Truncated,
                },
            }
        };
        match sym {
            0..=255 => out.push(sym as u8),
            257..=285 => {
                let i = (sym - 257) as usize;
                let n = if (8..28).contains(&i) { (i - 4) / 4 } else { 0 };
                let Some(e) = r.bits(n) else { return Head::Truncated };
                let len = usize::from(LEN_BASE[i]) + e as usize;
                let Some(d) = code(&mut r, 5) else { return Head::Truncated };
                let Some(&base) = DIST_BASE.get(d as usize) else { return Head::Invalid };
                let n = if d >= 4 { (d as usize - 2) / 2 } else { 0 };
                let Some(e) = r.bits(n) else { return Head::Truncated };
                let dist = (base + e) as usize;
                if dist > out.len() || out.len() < literals {
                    return Head::Invalid;
                }
                for _ in 0..len.min(want + 8 - out.len().min(want)) {
                    out.push(out[out.len() - dist]);
                }
            }
            _ => return Head::Invalid,
        }
    }
    Head::Done
}

/// Whether a fixed-Huffman deflate block at the start of `b` decodes to a
/// fragment's worth of bytes (or runs out of input first) without a
/// back-reference before its start: the decoder's tables are only built for
/// places that pass.
fn fixed_start_ok(b: &[u8]) -> bool {
    fixed_head(b, FRAGMENT_MIN_LEN, 0, &mut Vec::with_capacity(16)) != Head::Invalid
}

/// Whether offset `j` of `hay` is where the deflate body of a zlib stream
/// (2 header bytes) or of a gzip stream without optional fields (10) starts.
fn inside_container(hay: &[u8], j: usize) -> bool {
    (j >= 2 && looks_like_zlib(&hay[j - 2..])) || (j >= 10 && hay[j - 10..].starts_with(&[0x1f, 0x8b, 0x08, 0]))
}

/// Whether a raw deflate stream with no header can start at `b`: a dynamic
/// block whose whole header is valid (complete codes, an end-of-block code),
/// or a fixed block whose first 16 bytes are text. Random bytes pass about
/// once in 10^6 offsets.
fn headerless_deflate_ok(b: &[u8]) -> bool {
    match (b[0] >> 1) & 3 {
        1 => {
            // A real encoder starts with literals: the first 8 bytes are
            // literals (checked 9 bits at a time first), and 16 bytes with at
            // least 4 distinct values are text.
            let bits = load16(b);
            let mut at = 3;
            for _ in 0..8 {
                let len = FIXED_TEXT[((bits >> at) & 0x1ff) as usize];
                if len == 0 {
                    return false;
                }
                at += u32::from(len);
            }
            let mut out = Vec::with_capacity(32);
            if fixed_head(b, 16, 8, &mut out) != Head::Done || !text_like(&out[..16]) {
                return false;
            }
            out.truncate(8);
            out.sort_unstable();
            out.dedup();
            out.len() >= 4
        }
        2 => dynamic_header_valid(b),
        _ => false,
    }
}

/// Up to 16 bytes of `b` as a little-endian number, zeros after its end.
fn load16(b: &[u8]) -> u128 {
    if let Some(&head) = b.first_chunk::<16>() {
        return u128::from_le_bytes(head);
    }
    let mut buf = [0u8; 16];
    let n = b.len().min(16);
    buf[..n].copy_from_slice(&b[..n]);
    u128::from_le_bytes(buf)
}

/// For the next 9 bits of a fixed-Huffman block (first bit lowest): the
/// length of the code if it is a literal that text can hold (tab, line
/// breaks, printable ASCII, UTF-8 lead and continuation bytes), else 0.
static FIXED_TEXT: [u8; 512] = fixed_text_table();

const fn fixed_text_table() -> [u8; 512] {
    const fn text(v: u32) -> bool {
        matches!(v, 0x09 | 0x0a | 0x0d | 0x20..=0x7e | 0x80..=0xbf | 0xc2..=0xf4)
    }
    const fn rev(x: u32, n: u32) -> u32 {
        let mut r = 0;
        let mut i = 0;
        while i < n {
            r |= ((x >> i) & 1) << (n - 1 - i);
            i += 1;
        }
        r
    }
    let mut t = [0u8; 512];
    let mut idx = 0u32;
    while idx < 512 {
        let c7 = rev(idx & 0x7f, 7);
        let c8 = rev(idx & 0xff, 8);
        let c9 = rev(idx, 9);
        t[idx as usize] = if c7 <= 0b001_0111 {
            0
        } else if c8 >= 0x30 && c8 <= 0xbf {
            if text(c8 - 0x30) {
                8
            } else {
                0
            }
        } else if c8 >= 0xc0 && c8 <= 0xc7 {
            0
        } else if text(144 + c9 - 0x190) {
            9
        } else {
            0
        };
        idx += 1;
    }
    t
}

/// Text: UTF-8 without control characters other than tab and line breaks
/// (a character cut at the end is allowed), or UTF-16 (every other byte zero).
fn text_like(b: &[u8]) -> bool {
    let valid = match std::str::from_utf8(b) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
        Err(_) => return false,
    };
    let utf8 = !valid.is_empty() && valid.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'));
    let wide = |phase: usize| b.iter().skip(phase).step_by(2).all(|&x| x == 0);
    utf8 || wide(0) || wide(1)
}

/// Bits of `b` from `at`, least significant first (deflate's order).
struct BitReader<'a> {
    b: &'a [u8],
    at: usize,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Option<u32> {
        let v = self.b.get(self.at / 8).map(|&x| u32::from(x >> (self.at % 8)) & 1);
        self.at += 1;
        v
    }
    /// The next `n` bits (at most 32) without reading them, zeros past the end.
    fn peek(&self, n: usize) -> u32 {
        if let Some(word) = self.b.get(self.at / 8..).and_then(|b| b.first_chunk::<8>()) {
            return ((u64::from_le_bytes(*word) >> (self.at % 8)) & ((1u64 << n) - 1)) as u32;
        }
        let mut word = [0u8; 8];
        if let Some(rest) = self.b.get(self.at / 8..) {
            let k = rest.len().min(8);
            word[..k].copy_from_slice(&rest[..k]);
        }
        ((u64::from_le_bytes(word) >> (self.at % 8)) & ((1u64 << n) - 1)) as u32
    }
    /// Moves on `n` bits; `None` past the end.
    fn skip(&mut self, n: usize) -> Option<()> {
        self.at += n;
        (self.at <= 8 * self.b.len()).then_some(())
    }
    /// `n` bits (at most 32) as a number, first bit least significant.
    fn bits(&mut self, n: usize) -> Option<u32> {
        if let Some(word) = self.b.get(self.at / 8..).and_then(|b| b.first_chunk::<8>()) {
            // 8 bytes hold the at most 7 bits skipped and the 32 wanted.
            let v = (u64::from_le_bytes(*word) >> (self.at % 8)) & ((1u64 << n) - 1);
            self.at += n;
            return Some(v as u32);
        }
        (0..n).try_fold(0, |v, k| Some(v | self.bit()? << k))
    }
}

/// A canonical Huffman code read from code lengths (RFC 1951 3.2.2): how
/// many codes of each length, and the symbols in code order.
struct Huffman {
    count: [u16; 16],
    symbol: Vec<u16>,
}

impl Huffman {
    /// The code, and how many codes short of complete it is (negative when
    /// over-subscribed), in units of the longest code.
    fn new(lengths: &[u8]) -> (Huffman, i32) {
        let mut count = [0u16; 16];
        for &l in lengths {
            count[usize::from(l.min(15))] += 1;
        }
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = left * 2 - i32::from(c);
            if left < 0 {
                break;
            }
        }
        let mut offs = [0u16; 16];
        for l in 1..15 {
            offs[l + 1] = offs[l] + count[l];
        }
        let mut symbol = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                let l = usize::from(l.min(15));
                if let Some(slot) = symbol.get_mut(usize::from(offs[l])) {
                    *slot = sym as u16;
                }
                offs[l] += 1;
            }
        }
        (Huffman { count, symbol }, left)
    }

    fn decode(&self, r: &mut BitReader<'_>) -> Option<u16> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= r.bit()? as i32;
            let count = i32::from(self.count[len]);
            if code - count < first {
                return self.symbol.get((index + code - first) as usize).copied();
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        None
    }
}

/// Whether the whole header of a dynamic deflate block at the start of `b`
/// is valid: counts in range, a complete code-length code, lengths that
/// stay in range, complete literal/length and distance codes (or a single
/// code), and an end-of-block code.
fn dynamic_header_valid(b: &[u8]) -> bool {
    const ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
    if !dynamic_header_ok(b) {
        return false;
    }
    let mut r = BitReader { b, at: 3 };
    let (Some(hlit), Some(hdist), Some(hclen)) = (r.bits(5), r.bits(5), r.bits(4)) else { return false };
    let (nlen, ndist) = (hlit as usize + 257, hdist as usize + 1);
    let mut cl = [0u8; 19];
    for &i in ORDER.iter().take(hclen as usize + 4) {
        let Some(l) = r.bits(3) else { return false };
        cl[i] = l as u8;
    }
    let (code, left) = Huffman::new(&cl);
    if left != 0 {
        return false;
    }
    let mut lengths = vec![0u8; nlen + ndist];
    let mut i = 0;
    while i < nlen + ndist {
        let Some(sym) = code.decode(&mut r) else { return false };
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 if i > 0 => (lengths[i - 1], 3 + r.bits(2).unwrap_or(0) as usize),
            17 => (0, 3 + r.bits(3).unwrap_or(0) as usize),
            18 => (0, 11 + r.bits(7).unwrap_or(0) as usize),
            _ => return false,
        };
        if i + repeat > nlen + ndist {
            return false;
        }
        lengths[i..i + repeat].fill(value);
        i += repeat;
    }
    let single_or_complete = |l: &[u8]| {
        let (_, left) = Huffman::new(l);
        left == 0 || (left > 0 && l.iter().filter(|&&x| x != 0).count() <= 1)
    };
    lengths[256] != 0 && single_or_complete(&lengths[..nlen]) && single_or_complete(&lengths[nlen..])
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

/// The whole output of a stream found without a header, if it ends as a
/// stream should (its last block complete, not cut short, no invalid code)
/// within `cap` bytes, and, when `text_first`, its first [`TEXT_HEAD`]
/// bytes (or all of it, if shorter) are text. Random bytes that pass a
/// first-block check decode to garbage (often words of brotli's dictionary
/// among bytes that are not text, or a stored block of random bytes) until
/// an invalid code or the end of the input stops them; that garbage is
/// neither worth decoding far nor scanning deeper.
fn read_whole(mut reader: impl Read, cap: usize, text_first: bool) -> Option<Vec<u8>> {
    let mut head = [0u8; TEXT_HEAD];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            // The end: a decoder is not read again once it said so (brotli's
            // then refuses the bytes after the stream).
            Ok(0) => return (!text_first || text_like(&head[..n])).then(|| head[..n].to_vec()),
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    if text_first && !text_like(&head) {
        return None;
    }
    let mut out = head.to_vec();
    let mut limited = reader.take(cap.saturating_sub(n) as u64 + 1);
    let mut buf = [0u8; 8 * 1024];
    loop {
        match limited.read(&mut buf) {
            Ok(0) => return (out.len() <= cap).then_some(out),
            Ok(k) => out.extend_from_slice(buf.get(..k)?),
            Err(_) => return None,
        }
    }
}

/// How much of a headerless stream's output must be text before the rest
/// is decoded.
const TEXT_HEAD: usize = 64;

/// Reads up to `cap` bytes, keeping whatever decoded before an error
/// (truncated or corrupt streams still leak their prefix).
fn read_capped(reader: impl Read, cap: usize) -> Vec<u8> {
    let mut limited = reader.take(cap as u64);
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
#[path = "../../tests/support"]
mod test_support {
    mod brotli;
    mod noise;
    pub(super) use brotli::brotli;
    pub(super) use noise::noise;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    use super::test_support::{brotli, noise};

    /// Every compressed first meta-block a real encoder writes has a valid
    /// header, and passes the whole check where it starts with text: each
    /// quality, windows from 16 to 24 bits, short and long texts, text
    /// starting with a word of the dictionary, and text with random bytes
    /// in it (whose header is still valid).
    #[test]
    fn real_brotli_headers_are_valid() {
        let short = b"meet me at the north gate at nine, bring the documents".to_vec();
        let word = b"preview: the meeting moved to the old square".to_vec();
        let long: Vec<u8> =
            (0..4000).flat_map(|i| format!("line {i}: the quick brown fox {}\n", i * 7 % 13).into_bytes()).collect();
        let mixed: Vec<u8> = long.iter().zip(noise(long.len(), 3)).map(|(&a, b)| if b < 40 { b } else { a }).collect();
        let mut compressed = 0;
        for (data, text) in [(&short, true), (&word, true), (&long, true), (&mixed, false)] {
            for quality in 0..=11 {
                for lgwin in [16, 18, 22, 24] {
                    let stream = brotli(data, quality, lgwin);
                    let what = format!("quality {quality}, window {lgwin}, {} bytes", data.len());
                    assert!(brotli_plausible(&stream), "{what}");
                    if let Some(BrotliStart { stored: false, .. }) = brotli_start(&stream) {
                        compressed += 1;
                        assert!(!text || brotli_text_start(&stream), "{what}");
                    }
                }
            }
        }
        assert!(compressed >= 150, "{compressed}");
    }

    /// The cache of streams found in binary layers changes nothing: the
    /// second search of a layer (cached) gives what the first gave, a
    /// smaller output cap is a different entry, and a layer one byte
    /// different is searched again.
    #[test]
    fn cached_streams_are_the_streams() {
        let text: Vec<u8> = (0..40).flat_map(|i| format!("the canary sings at dawn {i}; ").into_bytes()).collect();
        let mut layer = noise(300, 0x5ca1e);
        layer.extend(brotli(&text, 5, 18));
        layer.extend(noise(200, 0xfade));
        // A decoded layer (here, the output of a base64 decoding).
        let find_in = |hay: &[u8], budget: usize, chain: Vec<String>| {
            let mut hits = Vec::new();
            let mut probe = miniz_oxide::inflate::core::DecompressorOxide::new();
            let mut ctx = Ctx { record: 0, hits: &mut hits, budget, chain, origin: 0, probe: &mut probe };
            let mut out = Vec::new();
            streams(hay, &mut ctx, true, &mut out);
            out
        };
        let find = |hay: &[u8], budget: usize| find_in(hay, budget, vec!["base64 at offset 0".to_string()]);
        let first = find(&layer, MAX_INFLATE_OUTPUT);
        assert!(
            first.iter().any(|(name, at, bytes)| name.starts_with("brotli") && *at == 300 && bytes == &text),
            "{first:?}"
        );
        assert_eq!(FOUND.get(&FOUND.key(&layer, MAX_INFLATE_OUTPUT)), Some(first.clone()), "kept");
        assert_eq!(find(&layer, MAX_INFLATE_OUTPUT), first);
        // A record itself is searched afresh, and finds the same.
        let record = [&b"record"[..], &layer].concat();
        let whole = find_in(&record, MAX_INFLATE_OUTPUT, Vec::new());
        assert!(whole.iter().any(|(name, at, bytes)| name.starts_with("brotli") && *at == 306 && bytes == &text));
        assert!(FOUND.get(&FOUND.key(&record, MAX_INFLATE_OUTPUT)).is_none(), "a record is not kept");
        let capped = find(&layer, 100);
        assert!(capped.iter().all(|(_, _, bytes)| bytes.len() <= 100), "{capped:?}");
        assert_ne!(capped, first);
        // The stream's first byte broken: no brotli stream at 300 any more.
        layer[300] ^= 0xff;
        assert!(!find(&layer, MAX_INFLATE_OUTPUT).iter().any(|(name, at, _)| name.starts_with("brotli") && *at == 300));
    }

    /// Random bytes rarely pass: over 2^20 offsets, the whole header of a
    /// compressed meta-block fewer than 1 in 10^4, and with a text start fewer than 3 in 10^5; and none
    /// of those decodes to a whole stream.
    #[test]
    fn random_offsets_rarely_pass_the_brotli_check() {
        let data = noise(1 << 20, 0xb0b);
        let offsets = 1..data.len() - 64;
        let compressed =
            |b: &[u8]| matches!(brotli_start(b), Some(BrotliStart { stored: false, .. })) && brotli_plausible(b);
        let headers = offsets.clone().filter(|&j| compressed(&data[j..])).count();
        let passed: Vec<usize> = offsets.filter(|&j| brotli_text_start(&data[j..])).collect();
        assert!(headers < 100, "{headers} headers");
        assert!(passed.len() < 30, "{} passed", passed.len());
        for j in passed {
            assert!(
                read_whole(brotli_decompressor::Decompressor::new(&data[j..], 4096), 1 << 24, true).is_none(),
                "at {j}"
            );
        }
    }
}
