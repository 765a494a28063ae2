//! A real brotli encoder (the `brotli` crate) for the leak scanner's tests:
//! brotli has no header, so the scanner's checks are tried on what real
//! encoders write. Included with `#[path]` (not a test of its own).

/// The stream the encoder writes for `data` at `quality` (0 to 11) with a
/// window of `lgwin` bits (10 to 24).
pub fn brotli(data: &[u8], quality: i32, lgwin: i32) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality, lgwin, ..Default::default() };
    if let Err(e) = brotli::BrotliCompress(&mut &data[..], &mut out, &params) {
        panic!("the brotli encoder failed: {e}");
    }
    out
}
