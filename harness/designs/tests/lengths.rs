//! Lengths that come from a file or a request reach no allocation
//! unchecked: every built-in design's primitives refuse an HKDF output
//! longer than HKDF-SHA-256 can give, however long, and never panic or
//! abort on it (a known-answer file or an exec `kat_hkdf_sha256` request
//! to `doormat serve` can ask for anything).
#![allow(clippy::unwrap_used)]

use doormat_designs::{builtin, names};

#[test]
fn huge_hkdf_lengths_are_refused_before_anything_is_allocated() {
    for name in names() {
        let Some(prims) = builtin(name).unwrap().primitives() else { continue };
        for len in [8161, 65_537, 1_000_000_000_000, usize::MAX] {
            let got = prims.hkdf_sha256(b"ikm", b"salt", b"info", len);
            assert!(got.is_err(), "{name}: an HKDF output of {len} bytes must be refused, got {got:?}");
        }
        if let Ok(okm) = prims.hkdf_sha256(b"ikm", b"salt", b"info", 8160) {
            assert_eq!(okm.len(), 8160, "{name}");
        }
    }
}
