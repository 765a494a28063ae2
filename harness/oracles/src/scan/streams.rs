//! Compressed streams inside a layer: zlib, gzip and zstd found by their
//! headers, and the two formats without one (raw deflate, brotli) found by
//! reading whether a real encoder's first block starts there. See the
//! module documentation of `scan` for where each is looked for.

use std::io::Read;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use flate2::read::{DeflateDecoder, GzDecoder, ZlibDecoder};

use super::{Ctx, FRAGMENT_MIN_LEN, MAX_BROTLI_LAYER, MAX_HEADERLESS_LAYER, MAX_INFLATE_OUTPUT};

/// Compressed streams: zlib, gzip and zstd wherever their header is; raw
/// deflate and brotli at offset 0.
pub(super) fn streams(hay: &[u8], ctx: &mut Ctx<'_>, binary: bool, out: &mut Vec<(String, usize, Vec<u8>)>) {
    let cap = MAX_INFLATE_OUTPUT.min(ctx.budget);
    let mut push = |kind: &str, start: usize, bytes: Vec<u8>| {
        if bytes.len() >= FRAGMENT_MIN_LEN {
            out.push((format!("{kind} stream at offset {start}"), start, bytes));
        }
    };
    // Deflate output is binary: text layers (percent, JSON, UTF-16/32
    // decoding) are not tried as raw deflate.
    if binary && probe_deflate(ctx.probe, hay, false) {
        push("raw deflate", 0, read_capped(DeflateDecoder::new(hay), cap));
    }
    // Raw deflate has no header: elsewhere in binary layers of at most
    // [`MAX_HEADERLESS_LAYER`] bytes, every offset whose first block reads
    // as a real encoder's (a valid dynamic header, or fixed codes giving
    // text) is decoded. The body of a zlib or gzip stream is left to them.
    if binary && hay.len() <= MAX_HEADERLESS_LAYER {
        for j in 1..hay.len().saturating_sub(FRAGMENT_MIN_LEN) {
            let rest = &hay[j..];
            if headerless_deflate_ok(rest) && !inside_container(hay, j) && probe_deflate(ctx.probe, rest, false) {
                push("raw deflate", j, read_capped(DeflateDecoder::new(rest), cap));
            }
        }
    }
    // A brotli decoder sets up its window before it can refuse anything, so
    // it is only tried on binary layers of at most [`MAX_BROTLI_LAYER`]
    // bytes (not on what percent, JSON or UTF-16/32 decoding gave).
    if binary && hay.len() >= 8 && hay.len() <= MAX_BROTLI_LAYER && brotli_plausible(hay) {
        let bytes = read_capped(brotli_decompressor::Decompressor::new(hay, 4096), cap);
        push("brotli", 0, bytes);
    }
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

/// Whether `b` starts like a brotli stream worth decoding (RFC 7932 9.1,
/// 9.2): a valid window size, then a first meta-block that is not empty nor
/// metadata, of at least a fragment's length; a stored block must fit in the
/// input, and a compressed one must be the last (the decoder then sizes its
/// window to the block) or have a window of at most 256 KiB; the block may
/// expand the input at most 64 times. Random bytes mostly fail this, so the
/// decoder does not set up a window of up to 16 MiB for them.
fn brotli_plausible(b: &[u8]) -> bool {
    brotli_header(b).unwrap_or(false)
}

fn brotli_header(b: &[u8]) -> Option<bool> {
    let mut r = BitReader { b, at: 0 };
    let wbits = if r.bits(1)? == 0 {
        16
    } else {
        match r.bits(3)? {
            0 => match r.bits(3)? {
                1 => return Some(false),
                0 => 17,
                m => 8 + m,
            },
            n => 17 + n,
        }
    };
    let last = r.bits(1)? == 1;
    if last && r.bits(1)? == 1 {
        return Some(false);
    }
    let nibbles = match r.bits(2)? {
        3 => return Some(false),
        m => 4 + m as usize,
    };
    let mlen_1 = r.bits(4 * nibbles)?;
    if nibbles > 4 && mlen_1 >> (4 * (nibbles - 1)) == 0 {
        return Some(false);
    }
    let mlen = mlen_1 as usize + 1;
    if mlen < FRAGMENT_MIN_LEN || mlen > 64 * b.len() {
        return Some(false);
    }
    if !last && r.bits(1)? == 1 {
        return Some(r.at.div_ceil(8) + mlen <= b.len());
    }
    Some(last || wbits <= 18)
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
    // Compressed bytes look random: 16 of them with the top bit clear are
    // text, not a stream (1 chance in 65,536 for a real one).
    if load16(b) & 0x8080_8080_8080_8080_8080_8080_8080_8080 == 0 {
        return false;
    }
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
