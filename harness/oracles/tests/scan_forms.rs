//! One test per form the leak scanner knows: a record carrying a message in
//! that form is caught, and the hit names the chain. Plus: random and
//! honestly encrypted bytes give no hit.

#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use doormat_oracles::scan::{Canary, Hit, HitKind, Record, Scanner, FRAGMENT_ENCODING};
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;
use std::io::Write;

#[path = "support/noise.rs"]
mod noise;
use noise::noise;
#[path = "support/brotli.rs"]
mod brotli_encoder;
use brotli_encoder::brotli;

const C: &[u8] = b"k3j5mq2xra4vntbwz7hgdpcelfso6iyu";
const TEXT: &[u8] = b"the meeting moved to the old square at nine k3j5mq2xra4vntbwz7hgdpcelfso6iyu";
const OTHER: &[u8] = b"m2n7pq4rs5tu6vwxyzab3cdefghijk2l";

fn scanner() -> Scanner {
    Scanner::new(&[Canary { id: 3, bytes: C, plaintext: TEXT }])
}

fn scan_one(bytes: &[u8]) -> Vec<Hit> {
    scanner().scan(&[Record { id: 7, bytes }])
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Asserts some hit's encoding satisfies `want` and returns it.
#[track_caller]
fn caught(bytes: &[u8], want: impl Fn(&Hit) -> bool) -> Hit {
    let hits = scan_one(bytes);
    assert!(hits.iter().all(|h| h.record == 7 && h.canary == 3), "{hits:?}");
    match hits.iter().find(|h| want(h)) {
        Some(h) => h.clone(),
        None => panic!("not caught: {hits:?}\nin {:?}", String::from_utf8_lossy(bytes)),
    }
}

fn enc(h: &Hit, e: &str) -> bool {
    h.encoding == e && h.kind == HitKind::Text
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

#[test]
fn raw() {
    let h = caught(&cat(&[b"hello ", C, b" world"]), |h| enc(h, "raw"));
    assert_eq!((h.offset, h.len), (6, 32));
    // A full match is not also reported as fragments.
    assert_eq!(scan_one(&cat(&[b"hello ", C, b" world"])).len(), 1);
}

#[test]
fn ascii_case_changed() {
    let upper = String::from_utf8(TEXT.to_vec()).unwrap().to_uppercase();
    let h = caught(upper.as_bytes(), |h| enc(h, "raw, ASCII case changed"));
    assert_eq!(h.offset, TEXT.len() - C.len());
}

#[test]
fn reversed() {
    let rev: Vec<u8> = TEXT.iter().rev().copied().collect();
    let h = caught(&cat(&[b"..", &rev]), |h| enc(h, "reversed"));
    assert_eq!((h.offset, h.len), (2, 32));
}

#[test]
fn fragments_of_eight_bytes_or_more() {
    let h = caught(&cat(&[b"zzz ", &C[5..13], b" zzz"]), |h| enc(h, FRAGMENT_ENCODING));
    assert_eq!((h.offset, h.len), (4, 8));
    let h = caught(&cat(&[b"zzz ", &C[5..20], b" zzz"]), |h| enc(h, FRAGMENT_ENCODING));
    assert_eq!((h.offset, h.len), (4, 15));
    // Seven bytes are below the threshold.
    assert_eq!(scan_one(&cat(&[b"zzz ", &C[3..10], b" zzz"])), vec![]);
    // A fragment and then the full canary.
    let hits = scan_one(&cat(&[&C[..20], C]));
    let keys: Vec<_> = hits.iter().map(|h| (h.offset, h.len, h.encoding.as_str())).collect();
    assert_eq!(keys, vec![(0, 20, FRAGMENT_ENCODING), (20, 32, "raw")]);
}

fn wide(text: &[u8], w: usize, big: bool) -> Vec<u8> {
    text.iter()
        .flat_map(|&b| {
            let mut unit = vec![0u8; w];
            if big {
                unit[w - 1] = b;
            } else {
                unit[0] = b;
            }
            unit
        })
        .collect()
}

#[test]
fn utf16_and_utf32_both_byte_orders() {
    for (w, big, name) in [(2, false, "UTF-16LE"), (2, true, "UTF-16BE"), (4, false, "UTF-32LE"), (4, true, "UTF-32BE")]
    {
        let record = cat(&[b"\x01\x02hdr", &wide(TEXT, w, big), b"\xff\xfe"]);
        let h = caught(&record, |h| {
            h.encoding.starts_with(name) && h.encoding.ends_with(&format!("→ raw at {}", TEXT.len() - 32))
        });
        assert!(h.encoding.starts_with(&format!("{name} at offset ")), "{h:?}");
    }
}

#[test]
fn xor_with_a_constant_byte() {
    let x: Vec<u8> = TEXT.iter().map(|b| b ^ 0x5a).collect();
    let h = caught(&cat(&[b"\x00\x01", &x, b"\x02"]), |h| enc(h, "XOR with the constant byte 0x5a"));
    assert!(h.offset >= 2, "{h:?}");
}

/// The XOR search looks at 8-byte windows aligned in the record: the text
/// is found whatever its offset, for a short lag and a long one.
#[test]
fn xor_at_every_offset() {
    for pad in 0..20 {
        let x: Vec<u8> = TEXT.iter().map(|b| b ^ 0xa7).collect();
        caught(&cat(&[&noise(pad, 5), &x, &noise(3, 6)]), |h| enc(h, "XOR with the constant byte 0xa7"));
        let key = noise(19, 4);
        let x: Vec<u8> = TEXT.iter().enumerate().map(|(i, b)| b ^ key[i % 19]).collect();
        caught(&cat(&[&noise(pad, 7), &x]), |h| enc(h, "XOR with a repeating 19-byte key"));
    }
}

#[test]
fn xor_with_repeating_keys_up_to_32_bytes() {
    for k in [2usize, 5, 7, 13, 16, 17, 24, 32] {
        let key = noise(k, k as u64 * 77);
        // A key of k bytes needs the text to be at least (multiple of k used) + 16 long.
        let text = cat(&[b"a longer message body so that long keys repeat inside it, then ", C]);
        let s = Scanner::new(&[Canary { id: 3, bytes: C, plaintext: &text }]);
        let x: Vec<u8> = text.iter().enumerate().map(|(i, b)| b ^ key[i % k]).collect();
        let record = cat(&[&noise(9, 1), &x, &noise(5, 2)]);
        let hits = s.scan(&[Record { id: 7, bytes: &record }]);
        let want = format!("XOR with a repeating {k}-byte key");
        assert!(hits.iter().any(|h| h.encoding == want), "{k}: {hits:?}");
    }
}

#[test]
fn hex_any_case_any_alignment() {
    for text in [hex::encode(TEXT), hex::encode_upper(TEXT), format!("a{}", hex::encode(TEXT))] {
        let record = format!("x={text} y");
        caught(record.as_bytes(), |h| h.encoding.starts_with("hex at offset ") && h.encoding.ends_with("→ raw at 44"));
    }
}

#[test]
fn base64_standard_and_url_padded_or_not_any_alignment() {
    let engines: [(&str, &base64::engine::GeneralPurpose); 4] =
        [("base64", &STANDARD), ("base64", &STANDARD_NO_PAD), ("base64", &URL_SAFE), ("base64", &URL_SAFE_NO_PAD)];
    let prefix: &[u8] = b"\xfb\xff\xbfAB\xfe";
    for (name, engine) in engines {
        for p in 0..=prefix.len() {
            let message = cat(&[&prefix[..p], C, b"\xff\xfe"]);
            let record = format!("data:{}\n", engine.encode(&message));
            let h = caught(record.as_bytes(), |h| h.encoding.contains(&format!("→ raw at {p}")));
            assert!(h.encoding.starts_with(name) && h.offset == 5, "{h:?}");
        }
    }
}

#[test]
fn base64_line_wrapped() {
    let long = cat(&[&noise(50, 3), TEXT, &noise(50, 4)]);
    let b64 = STANDARD.encode(&long);
    let wrapped: Vec<String> = b64.as_bytes().chunks(19).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    let record = format!("-----BEGIN-----\r\n{}\r\n-----END-----", wrapped.join("\r\n"));
    caught(record.as_bytes(), |h| h.encoding.starts_with("base64") && h.encoding.ends_with(" → raw at 103"));
}

fn base32(data: &[u8], alphabet: &[u8; 32], pad: bool) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(alphabet[((v >> (35 - 5 * i)) & 31) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base32_rfc4648_and_hex_alphabet_any_case() {
    const RFC: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";
    for (alphabet, name) in [(RFC, "base32"), (HEX, "base32hex")] {
        for lower in [false, true] {
            for p in 0..5 {
                let data = cat(&[&b"\x00\x11\x22\x33\x44"[..p], TEXT]);
                let mut text = base32(&data, alphabet, true);
                if lower {
                    text = text.to_lowercase();
                }
                let record = format!("{{\"b\":\"{text}\"}}");
                caught(record.as_bytes(), |h| {
                    h.encoding.starts_with(&format!("{name} at offset 6 →"))
                        && h.encoding.ends_with(&format!("raw at {}", p + 44))
                });
            }
        }
    }
}

#[test]
fn percent_encoding() {
    let all: String = TEXT.iter().map(|b| format!("%{b:02X}")).collect();
    let record = format!("GET /log?q={all}&x=1 HTTP/1.1");
    caught(record.as_bytes(), |h| h.encoding.starts_with("percent-encoding at offset 9 → raw at 46"));
    // Percent-encoded base64 ('+', '/' and '=' escaped) is decoded in two steps.
    let b64 = STANDARD.encode(cat(&[b"\xff\xfe\xfd", TEXT]));
    let escaped = b64.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
    let record = format!("u={escaped}");
    caught(record.as_bytes(), |h| {
        h.encoding.contains("percent-encoding at offset") && h.encoding.contains("→ base64 at")
    });
}

#[test]
fn json_string_escapes() {
    let escaped: String = TEXT.iter().map(|b| format!("\\u{:04x}", b)).collect();
    let record = format!("{{\"preview\":\"{escaped}\"}}");
    caught(record.as_bytes(), |h| h.encoding.starts_with("JSON string escapes at offset 12 → raw at"));
    // Base64 with its slashes escaped, as some JSON writers do.
    let b64 = STANDARD.encode(cat(&[b"\xff\xff\xff\xff\xff", TEXT, b"\xff\xff\xff"]));
    assert!(b64.contains('/'), "{b64}");
    let record = format!("{{\"b\":\"{}\"}}", b64.replace('/', "\\/"));
    caught(record.as_bytes(), |h| {
        h.encoding.contains("JSON string escapes at offset") && h.encoding.contains("→ base64 at")
    });
}

/// JSON text is UTF-8: escapes inside non-ASCII UTF-8 text are decoded, and
/// so is an escaped string framed by bytes that are not UTF-8 (which end
/// the string instead of hiding it).
#[test]
fn json_escapes_in_utf8_text_and_in_binary_framing() {
    let record = cat(&["{\"note\":\"caf\u{e9} \\n ".as_bytes(), TEXT, b"\"}"]);
    caught(&record, |h| h.encoding.starts_with("JSON string escapes at offset 9 → raw at"));
    let escaped: String = TEXT.iter().map(|b| format!("\\u{:04x}", b)).collect();
    let record = cat(&[b"\xa5\xff\xfe", escaped.as_bytes(), b"\xff\x01"]);
    caught(&record, |h| h.encoding.starts_with("JSON string escapes at offset 3 → raw at"));
}

/// serde writes a `Vec<u8>` as a JSON array of numbers: a state that keeps
/// plaintext that way still holds it.
#[test]
fn json_arrays_of_byte_numbers() {
    let numbers: Vec<String> = cat(&[b"hi ", C]).iter().map(u8::to_string).collect();
    let hay = format!("{{\"history\":[[1,2],[{}]],\"n\":[300,1,2,3,4,5,6,7,8]}}", numbers.join(", "));
    let hits = scan_one(hay.as_bytes());
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].offset, hay.find("[104").unwrap());
    assert_eq!(hits[0].encoding, format!("JSON array of byte numbers at offset {} → raw at 3", hits[0].offset));
    // Numbers that are not bytes, and short arrays, give nothing.
    assert!(scan_one(b"[1,2,3] [256,1,2,3,4,5,6,7,8] [[[[").is_empty());
}

#[test]
fn zlib_gzip_zstd_at_any_offset() {
    let body = cat(&[b"message: ", TEXT, b" end"]);
    let record = cat(&[b"HDR:\x00\x01\x02\x03\x04\x05\x06\x07", &zlib(&body)]);
    let h = caught(&record, |h| h.encoding == "zlib stream at offset 12 → raw at 53");
    assert_eq!(h.offset, 12);
    let record = cat(&[b"abcde", &gzip(&body), b"trailer"]);
    caught(&record, |h| h.encoding == "gzip stream at offset 5 → raw at 53");
    let z = ruzstd::encoding::compress_to_vec(&body[..], ruzstd::encoding::CompressionLevel::Fastest);
    let record = cat(&[b"\x09\x08zz", &z, b"\x00"]);
    caught(&record, |h| h.encoding == "zstd stream at offset 4 → raw at 53");
    // A truncated stream still leaks its prefix.
    let long = cat(&[b"secret: ", TEXT, &noise(200_000, 99)]);
    let z = zlib(&long);
    caught(&cat(&[b"??", &z[..z.len() / 2]]), |h| h.encoding == "zlib stream at offset 2 → raw at 52");
}

/// zlib picks fixed Huffman codes for a short text and dynamic ones for a
/// long one; the header checks that spare the decoder on random bytes pass
/// both.
#[test]
fn zlib_fixed_and_dynamic_blocks() {
    let z = zlib(C);
    assert_eq!((z[2] >> 1) & 3, 1, "fixed block expected");
    caught(&cat(&[&noise(7, 1), &z]), |h| h.encoding == "zlib stream at offset 7 → raw at 0");
    // And a stored block (level 0).
    let mut e = ZlibEncoder::new(Vec::new(), Compression::new(0));
    e.write_all(TEXT).unwrap();
    let z = e.finish().unwrap();
    assert_eq!((z[2] >> 1) & 3, 0, "stored block expected");
    caught(&cat(&[&noise(7, 3), &z]), |h| h.encoding == "zlib stream at offset 7 → raw at 44");
    let mut long = Vec::new();
    for i in 0..200 {
        long.extend_from_slice(format!("line {i}: the quick brown fox jumps over {} lazy dogs; ", i * 7).as_bytes());
    }
    long.extend_from_slice(TEXT);
    let z = zlib(&long);
    assert_eq!((z[2] >> 1) & 3, 2, "dynamic block expected");
    caught(&cat(&[&noise(7, 2), &z]), |h| h.encoding.starts_with("zlib stream at offset 7 → raw at"));
    let d = deflate(&long);
    caught(&d, |h| h.encoding.starts_with("raw deflate stream at offset 0 → raw at"));
}

/// The header checks never refuse a stream a real encoder wrote: texts of
/// many lengths and contents, every level.
#[test]
fn zlib_of_every_level_and_many_texts_is_found() {
    let words: Vec<&[u8]> = vec![b"alpha ", b"bravo ", b"x", b"\n", b"0123", b"zz zz ", b"\xc3\xa9"];
    for i in 0..120u64 {
        let filler = noise(200, i);
        let mut text = Vec::new();
        for (k, &b) in filler.iter().take((i as usize * 37) % 200).enumerate() {
            if i % 3 == 0 {
                text.push(b);
            } else {
                text.extend_from_slice(words[(usize::from(b) + k) % words.len()]);
            }
        }
        text.extend_from_slice(C);
        let mut e = ZlibEncoder::new(Vec::new(), Compression::new((i % 10) as u32));
        e.write_all(&text).unwrap();
        let z = e.finish().unwrap();
        let hits = scan_one(&cat(&[b"\x01\x02\x03", &z]));
        assert!(hits.iter().any(|h| h.encoding.starts_with("zlib stream at offset 3 → raw at")), "text {i}: {hits:?}");
    }
}

/// Raw deflate has no header; in layers up to 64 KiB it is found at any
/// offset, with fixed codes (a short text) and dynamic ones (a long text),
/// and not reported twice inside a zlib stream.
#[test]
fn raw_deflate_at_any_offset() {
    let short = deflate(C);
    assert_eq!((short[0] >> 1) & 3, 1, "fixed block expected");
    caught(&cat(&[&noise(13, 8), &short, &noise(40, 9)]), |h| {
        h.encoding == "raw deflate stream at offset 13 → raw at 0"
    });
    let mut long = Vec::new();
    for i in 0..150 {
        long.extend_from_slice(format!("entry {i}: status ok, retries {}; ", i % 7).as_bytes());
    }
    long.extend_from_slice(TEXT);
    let d = deflate(&long);
    assert_eq!((d[0] >> 1) & 3, 2, "dynamic block expected");
    let record = cat(&[b"len=\x00\x00\x04\x81;", &d, &noise(100, 10)]);
    caught(&record, |h| h.encoding.starts_with("raw deflate stream at offset 9 → raw at"));
    let utf8 = deflate(&cat(&["Grüße aus Köln, Grüße aus Köln, Grüße aus Köln; ".as_bytes(), C]));
    assert_ne!((utf8[0] >> 1) & 3, 0, "a compressed block expected");
    caught(&cat(&[&noise(3, 12), &utf8]), |h| h.encoding.starts_with("raw deflate stream at offset 3 → raw at"));
    let hits = scan_one(&cat(&[&noise(5, 11), &zlib(&long)]));
    assert!(hits.iter().all(|h| !h.encoding.starts_with("raw deflate")), "{hits:?}");
    assert!(hits.iter().any(|h| h.encoding.starts_with("zlib stream at offset 5")), "{hits:?}");
}

#[test]
fn raw_deflate_at_offset_zero() {
    let body = cat(&[b"some text ", TEXT, b" more text"]);
    caught(&deflate(&body), |h| h.encoding == "raw deflate stream at offset 0 → raw at 54");
    // Inside base64: offset 0 of the decoded layer.
    let record = format!("p={}", STANDARD.encode(deflate(&body)));
    caught(record.as_bytes(), |h| h.encoding == "base64 at offset 2 → raw deflate stream at offset 0 → raw at 54");
}

/// A brotli stream of one uncompressed meta-block (brotli has no magic
/// number; built by hand, RFC 7932 section 9.2).
fn brotli_stored(data: &[u8]) -> Vec<u8> {
    assert!(!data.is_empty() && data.len() <= 1 << 16);
    let mut bits: Vec<bool> = Vec::new();
    let put = |v: u32, n: u32, bits: &mut Vec<bool>| (0..n).for_each(|i| bits.push(v >> i & 1 == 1));
    put(0, 1, &mut bits); // WBITS = 16
    put(0, 1, &mut bits); // ISLAST = 0
    put(0, 2, &mut bits); // MNIBBLES = 4
    put(data.len() as u32 - 1, 16, &mut bits); // MLEN - 1
    put(1, 1, &mut bits); // ISUNCOMPRESSED
    let to_bytes = |bits: &[bool]| -> Vec<u8> {
        bits.chunks(8).map(|c| c.iter().enumerate().fold(0u8, |a, (i, &b)| a | (u8::from(b) << i))).collect()
    };
    let mut out = to_bytes(&bits);
    out.extend_from_slice(data);
    out.push(0b11); // ISLAST = 1, ISLASTEMPTY = 1
    out
}

#[test]
fn brotli_at_offset_zero() {
    let body = cat(&[b"preview ", TEXT]);
    caught(&brotli_stored(&body), |h| h.encoding == "brotli stream at offset 0 → raw at 52");
}

/// Brotli has no header: a real encoder's stream is found after binary
/// framing and inside a decoded layer, at every quality and window size,
/// for a message shorter than the text check, a short one and a long log (several meta-blocks, context
/// modelling) that ends with the message.
#[test]
fn brotli_at_any_offset() {
    let short = cat(&[b"preview: ", TEXT]);
    let mut long = Vec::new();
    for i in 0..400 {
        long.extend_from_slice(format!("{{\"seq\":{i},\"state\":\"delivered\",\"retries\":{}}}\n", i % 5).as_bytes());
    }
    long.extend_from_slice(TEXT);
    // Output shorter than the text check's 64 bytes, then more record.
    let tiny = cat(&[b"hi ", C]);
    for (data, name) in [(&tiny, "tiny"), (&short, "short"), (&long, "long")] {
        for quality in 0..=11 {
            for lgwin in [16, 22, 24] {
                let stream = brotli(data, quality, lgwin);
                let what = format!("{name} text, quality {quality}, window {lgwin}");
                let record = cat(&[&noise(13, quality as u64), &stream, &noise(40, 9)]);
                let hits = scan_one(&record);
                // A stored meta-block holds the text as it is.
                let stored = stream.windows(C.len()).any(|w| w == C);
                let want = if stored { "raw" } else { "brotli stream at offset 13 → raw at" };
                assert!(hits.iter().any(|h| h.encoding.starts_with(want) && h.len == C.len()), "{what}: {hits:?}");
                if !stored {
                    caught(&stream, |h| h.encoding.starts_with("brotli stream at offset 0 → raw at"));
                }
            }
        }
    }
    let inner = cat(&[b"\x00\x01\x02\x03\x04\x05\x06", &brotli(&short, 9, 22)]);
    let record = format!("{{\"blob\":\"{}\"}}", STANDARD.encode(&inner));
    caught(record.as_bytes(), |h| h.encoding == "base64 at offset 9 → brotli stream at offset 7 → raw at 53");
}

/// A brotli stream cut short is not decoded past offset 0 (garbage that
/// passes the first-block checks stops the same way); at offset 0 its
/// prefix is still scanned.
#[test]
fn brotli_cut_short() {
    let stream = brotli(&cat(&[TEXT, b" and more text after it, to be cut away"]), 5, 22);
    let cut = &stream[..stream.len() - 3];
    let hits = scan_one(&cat(&[&noise(13, 1), cut]));
    assert!(hits.iter().all(|h| !h.encoding.starts_with("brotli")), "{hits:?}");
    caught(cut, |h| h.encoding.starts_with("brotli stream at offset 0 → raw at"));
}

#[test]
fn nested_chains() {
    // zlib inside hex.
    let z = zlib(&cat(&[b"x", TEXT]));
    let record = format!("debug={}", hex::encode(&z));
    caught(record.as_bytes(), |h| h.encoding == "hex at offset 6 → zlib stream at offset 0 → raw at 45");
    // Base64 of zlib, not at offset 0 of the decoded bytes.
    let inner = cat(&[b"\x00\x01\x02\x03\x04\x05\x06", &zlib(TEXT)]);
    let record = format!("{{\"blob\":\"{}\"}}", STANDARD.encode(&inner));
    caught(record.as_bytes(), |h| h.encoding == "base64 at offset 9 → zlib stream at offset 7 → raw at 44");
    // Base64 inside gzip inside base64.
    let gz = gzip(format!("{{\"t\":\"{}\"}}", STANDARD.encode(TEXT)).as_bytes());
    let record = format!("z:{}", STANDARD.encode(&gz));
    caught(record.as_bytes(), |h| {
        h.encoding.starts_with("base64 at offset 2 → gzip stream at offset 0 → base64 at 6 → raw at 44")
            || h.encoding.starts_with("base64 at offset 2 → gzip stream at offset 0 → base64 at offset 6 → raw at 44")
    });
}

fn digests(text: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    use sha2::Digest as _;
    vec![
        ("MD5", md5::Md5::digest(text).to_vec()),
        ("SHA-1", sha1::Sha1::digest(text).to_vec()),
        ("SHA-224", sha2::Sha224::digest(text).to_vec()),
        ("SHA-256", sha2::Sha256::digest(text).to_vec()),
        ("SHA-384", sha2::Sha384::digest(text).to_vec()),
        ("SHA-512", sha2::Sha512::digest(text).to_vec()),
        ("SHA3-256", sha3::Sha3_256::digest(text).to_vec()),
        ("SHA3-512", sha3::Sha3_512::digest(text).to_vec()),
        ("BLAKE2b-512", blake2::Blake2b512::digest(text).to_vec()),
        ("BLAKE2s-256", blake2::Blake2s256::digest(text).to_vec()),
        ("BLAKE3", blake3::hash(text).as_bytes().to_vec()),
    ]
}

#[test]
fn digests_of_the_whole_text_raw_hex_base64() {
    for (name, d) in digests(TEXT) {
        let whole = format!("{name} digest of the whole message");
        let forms: Vec<(Vec<u8>, String)> = vec![
            (cat(&[b"\x01\x02id:", &d, b"\x03"]), whole.clone()),
            (
                format!("{{\"dedupe\":\"{}\"}}", hex::encode(&d)).into_bytes(),
                format!("hex at offset 11 → {whole} at 0"),
            ),
            (
                format!("{{\"dedupe\":\"{}\"}}", STANDARD.encode(&d)).into_bytes(),
                format!("base64 at offset 11 → {whole} at 0"),
            ),
        ];
        for (record, want) in forms {
            let hits = scan_one(&record);
            assert!(hits.iter().any(|h| h.kind == HitKind::Digest && h.encoding == want), "{name}: {want}: {hits:?}");
            assert!(hits.iter().all(|h| h.kind == HitKind::Digest), "{hits:?}");
        }
    }
    // A digest of the canary alone, or of another text, is not the message's.
    let (_, d) = &digests(C)[3];
    assert_eq!(scan_one(d), vec![]);
    // Truncated to 16 bytes (a dedupe id): still a confirmation.
    let (_, d) = &digests(TEXT)[3];
    caught(&d[..16], |h| {
        h.kind == HitKind::Digest && h.encoding == "first 16 bytes of the SHA-256 digest of the whole message"
    });
}

#[test]
fn other_messages_and_noise_give_nothing() {
    let mut hay = noise(1 << 16, 0x9e37_79b9_7f4a_7c15);
    hay.extend_from_slice(OTHER);
    hay.extend_from_slice(hex::encode(OTHER).as_bytes());
    hay.extend_from_slice(STANDARD.encode(OTHER).as_bytes());
    hay.extend_from_slice(&zlib(OTHER));
    hay.extend_from_slice(&gzip(OTHER));
    let records = [Record { id: 0, bytes: &hay }, Record { id: 1, bytes: &deflate(&hay) }];
    assert_eq!(scanner().scan(&records), vec![]);
    let s = Scanner::new(&[Canary { id: 9, bytes: OTHER, plaintext: &[] }]);
    assert!(s.scan(&records).iter().any(|h| h.encoding == "raw"));
}

#[test]
fn degenerate_inputs_do_not_panic() {
    assert_eq!(Scanner::new(&[]).scan(&[Record { id: 0, bytes: C }]), vec![]);
    assert_eq!(scanner().scan(&[]), vec![]);
    assert_eq!(scan_one(b""), vec![]);
    let empty = Scanner::new(&[Canary { id: 0, bytes: b"", plaintext: b"" }]);
    assert_eq!(empty.scan(&[Record { id: 0, bytes: C }]), vec![]);
    // Short canary: found in full, raw.
    let short = Scanner::new(&[Canary { id: 1, bytes: b"\x00\xff", plaintext: b"" }]);
    let hits = short.scan(&[Record { id: 0, bytes: b"a\x00\xffb" }]);
    assert!(hits.iter().any(|h| h.encoding == "raw" && h.offset == 1));
    // Binary full of header look-alikes, zero chains and truncated streams.
    let mut junk: Vec<u8> = (0..=255u8).flat_map(|a| (0..=255u8).flat_map(move |b| [a, b])).collect();
    junk.extend_from_slice(&[0x1f, 0x8b, 0x08, 0x78, 0x9c, 0x28, 0xb5, 0x2f, 0xfd]);
    junk.extend_from_slice(&[0; 4096]);
    junk.extend_from_slice(b"%4%%41\\u12\\u00zz\\");
    let s = Scanner::new(&[Canary { id: 0, bytes: C, plaintext: TEXT }, Canary { id: 1, bytes: &[0], plaintext: &[] }]);
    for bytes in [&junk[..], &[0x1f, 0x8b], &[0x78], &noise(4096, 7), &[0x28, 0xb5, 0x2f, 0xfd]] {
        let _ = s.scan(&[Record { id: 0, bytes }]);
    }
    assert!(format!("{s:?}").contains("Scanner"));
    assert!(Scanner::try_new(&[]).is_ok());
}

#[test]
fn sorted_deduplicated_deterministic_with_ids() {
    let a = cat(&[C, b"--", C, b"--", hex::encode(OTHER).as_bytes()]);
    let b = cat(&[OTHER]);
    let s =
        Scanner::new(&[Canary { id: 10, bytes: OTHER, plaintext: &[] }, Canary { id: 20, bytes: C, plaintext: &[] }]);
    let records = [Record { id: 5, bytes: &b }, Record { id: 2, bytes: &a }];
    let hits = s.scan(&records);
    assert!(hits.windows(2).all(|w| w[0] < w[1]), "{hits:?}");
    assert_eq!(hits, s.scan(&records));
    let keys: Vec<_> = hits.iter().map(|h| (h.record, h.canary, h.offset, h.encoding.as_str())).collect();
    assert_eq!(
        keys,
        vec![(2, 10, 68, "hex at offset 68 → raw at 0"), (2, 20, 0, "raw"), (2, 20, 34, "raw"), (5, 10, 0, "raw")]
    );
}

// ---------------------------------------------------------------------------
// No false findings.

/// Messages shaped like the engine's, and a scanner over them.
fn many(n: usize, seed: u64) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let raw = noise(n * 32, seed);
    let canaries: Vec<Vec<u8>> =
        raw.chunks(32).map(|c| c.iter().map(|b| ALPHABET[usize::from(b % 32)]).collect()).collect();
    let texts =
        canaries.iter().enumerate().map(|(i, c)| cat(&[format!("message {i} says hello ").as_bytes(), c])).collect();
    (canaries, texts)
}

/// Random records of random lengths (1 byte to 4 KiB) and honest
/// ChaCha20-Poly1305 envelopes of every message (random key and nonce,
/// a header, base64 and hex renderings of some): returns (records, hits).
fn false_positives(records: usize, seed: u64) -> (usize, Vec<Hit>) {
    use chacha20poly1305::aead::{Aead, KeyInit};
    let (canaries, texts) = many(1_000, seed);
    let cs: Vec<Canary<'_>> =
        canaries.iter().zip(&texts).enumerate().map(|(id, (c, p))| Canary { id, bytes: c, plaintext: p }).collect();
    let s = Scanner::new(&cs);
    let mut hits = Vec::new();
    let mut state = seed | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let batch = 1_000;
    let mut done = 0;
    while done < records {
        let mut owned = Vec::with_capacity(batch);
        for i in 0..batch.min(records - done) {
            let r = next();
            let bytes = if i % 4 == 0 {
                let text = &texts[(r % 1_000) as usize];
                let key = chacha20poly1305::Key::from_slice(&noise(32, next()).clone()).to_owned();
                let nonce = noise(12, next());
                let ct = chacha20poly1305::ChaCha20Poly1305::new(&key)
                    .encrypt(chacha20poly1305::Nonce::from_slice(&nonce), &text[..])
                    .unwrap();
                let env = cat(&[b"\x01\x02", &nonce, &ct]);
                match r >> 60 {
                    0..=3 => STANDARD.encode(&env).into_bytes(),
                    4..=5 => hex::encode(&env).into_bytes(),
                    6 => zlib(&env),
                    _ => env,
                }
            } else {
                noise(1 + (r % 4096) as usize, next())
            };
            owned.push(bytes);
        }
        let recs: Vec<Record<'_>> = owned.iter().enumerate().map(|(i, b)| Record { id: done + i, bytes: b }).collect();
        hits.extend(s.scan(&recs));
        done += owned.len();
    }
    (done, hits)
}

/// Views of several MiB are scanned on every core; the hits are the same as
/// scanning each record alone.
#[test]
fn large_views_scan_in_parallel_with_the_same_hits() {
    use doormat_oracles::scan::PARALLEL_MIN_BYTES;
    let s = scanner();
    let z = zlib(&cat(&[b"m: ", TEXT]));
    let mut owned: Vec<Vec<u8>> = (0..40).map(|i| noise(PARALLEL_MIN_BYTES / 20, 100 + i)).collect();
    owned[0].splice(10..10, TEXT.iter().copied());
    owned[21].splice(1000..1000, z.iter().copied());
    owned[39].extend_from_slice(&TEXT.iter().map(|b| b ^ 0x11).collect::<Vec<u8>>());
    let recs: Vec<Record<'_>> = owned.iter().enumerate().map(|(id, bytes)| Record { id, bytes }).collect();
    let together = s.scan(&recs);
    let mut alone: Vec<Hit> = recs.iter().flat_map(|r| s.scan(std::slice::from_ref(r))).collect();
    alone.sort();
    alone.dedup();
    assert_eq!(together, alone);
    let records: Vec<usize> = together.iter().map(|h| h.record).collect();
    assert!(records.contains(&0) && records.contains(&21) && records.contains(&39), "{together:?}");
}

/// One scanner per set of canaries, shared by every caller.
#[test]
fn shared_scanner_is_built_once_per_canary_set() {
    let a = Scanner::shared(&[Canary { id: 3, bytes: C, plaintext: TEXT }]);
    let b = Scanner::shared(&[Canary { id: 3, bytes: C, plaintext: TEXT }]);
    let c = Scanner::shared(&[Canary { id: 4, bytes: C, plaintext: TEXT }]);
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert!(!std::sync::Arc::ptr_eq(&a, &c));
    assert_eq!(a.scan(&[Record { id: 1, bytes: TEXT }]).len(), 1);
}

#[test]
fn random_and_honest_ciphertext_give_no_finding() {
    let (n, hits) = false_positives(20_000, 0x00c0_ffee);
    assert_eq!(n, 20_000);
    assert_eq!(hits, vec![], "false findings");
}

/// The false-positive rate over a million random records:
/// `cargo test --release -p doormat-oracles --test scan_forms -- --ignored --nocapture`.
#[test]
#[ignore]
fn false_positive_rate_over_a_million_records() {
    let (n, hits) = false_positives(1_000_000, 0x5eed_0001);
    let records: std::collections::BTreeSet<usize> = hits.iter().map(|h| h.record).collect();
    #[allow(clippy::print_stdout)]
    {
        println!("false positives: {} records with a hit out of {n} ({} hits)", records.len(), hits.len());
    }
    assert_eq!(hits, vec![]);
}

/// Inputs built to make decoders work hard finish, within the byte budget.
/// The bound catches a hang or a quadratic blow-up (minutes), not speed:
/// release builds take well under a second per input, speed is in
/// `benches/scan.rs`.
#[test]
fn adversarial_inputs_finish() {
    let s = scanner();
    let mib = 1 << 20;
    let inputs: Vec<Vec<u8>> = vec![
        b"\\x\\n".repeat(mib / 4),
        b"%41".repeat(mib / 3),
        vec![b'A'; mib],
        b"a\x00".repeat(mib / 2),
        b"[1,2,3,4,5,6,7,8,".repeat(mib / 17),
        [0x78u8, 0x01].repeat(mib / 2),
    ];
    for bytes in &inputs {
        let t = std::time::Instant::now();
        let hits = s.scan(&[Record { id: 0, bytes }]);
        assert!(hits.is_empty(), "{hits:?}");
        assert!(t.elapsed() < std::time::Duration::from_secs(120), "{:?} on {:?}", t.elapsed(), &bytes[..8]);
    }
}
