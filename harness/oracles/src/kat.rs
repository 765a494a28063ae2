//! Known-answer tests: runs Wycheproof-shaped vectors ([`KatFile`]) against a
//! design's [`Primitives`] and judges every case.
//!
//! - `valid`: the primitive must give the expected output (an AEAD must both
//!   seal to `ct‖tag` and open it back to `msg`; Ed25519 must verify).
//! - `invalid`: the primitive must refuse: an error, or a signature or MAC
//!   that does not verify. Any output at all is an acceptance, and **an
//!   all-zero X25519 shared secret is an output**: a design that does not
//!   check for low-order points accepts them, so doormat's own files mark
//!   such cases `invalid` (flag `ZeroSharedSecret`), while Wycheproof marks
//!   them `acceptable` and leaves the choice to the design's `kat_accepts`.
//! - `acceptable`: either answer is fine when one of the case's flags is in
//!   the spec's `kat_accepts` (with its reason); otherwise the case is
//!   *unlisted* and reported with what the primitive did, never silently
//!   passed. A wrong output is a failure whatever the flags.
//!
//! A `PROTOCOL` file checks functions of one design's protocol (the file's
//! `protocol`, each group's `function`) through
//! [`Primitives::protocol_function`]: a `valid` case must give exactly the
//! named outputs, an `invalid` one must be refused. It applies only to a
//! design whose [`Primitives::protocol`] is the file's; for any other
//! design the file is left out (not counted, not listed).
//!
//! An implementation that can break (an external process that crashed, hung
//! or broke its protocol) says so through [`Primitives::broken`]; its
//! errors are then not refusals: the case during which it broke fails with
//! the reason, every later case it is asked fails as not run, and the
//! summary keeps the reason ([`KatSummary::broken`]).
//!
//! A case is *skipped*, and counted, when the primitive answers
//! `Unsupported`, when it asks for more HKDF output than any file may
//! (`doormat_formats::kat::MAX_OUTPUT_SIZE`: the parser refuses such a
//! file, so only a [`KatFile`] made in code can), or when its group lies
//! outside the profile the designs use
//! (X448, Ed448, AES with 128- or 192-bit keys; for `valid` and `acceptable`
//! cases also an AEAD nonce other than 96 bits or a tag other than 128 bits,
//! whose `invalid` cases still run and must be refused).
//!
//! **Invariant:** like every oracle, this never knows a design's name: it
//! sees a [`Primitives`] and the accepted flags.

use doormat_engine::{AeadAlg, ImplError, Primitives, ProtocolBytes};
use doormat_formats::kat::{CaseData, Expected, KatAlgorithm, KatCase, KatFile, KatGroup};
use doormat_formats::KatAccept;
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts for one algorithm and one expected result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KatCount {
    /// The algorithm, e.g. `X25519`, `AES-256-GCM`.
    pub algorithm: String,
    /// The expected result: `valid`, `invalid`, `acceptable`.
    pub result: String,
    /// Cases judged correct.
    pub passed: usize,
    /// Cases judged wrong.
    pub failed: usize,
    /// Acceptable cases whose flags the spec does not list.
    pub unlisted: usize,
    /// Cases not run (unsupported, or outside the design's profile).
    pub skipped: usize,
}

/// One case worth a reader's attention (a failure or an unlisted case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KatIssue {
    /// The file, as named.
    pub file: String,
    /// The algorithm.
    pub algorithm: String,
    /// The case's tcId.
    pub tc_id: u64,
    /// The case's comment.
    pub comment: String,
    /// The case's flags.
    pub flags: Vec<String>,
    /// What the case expected.
    pub expected: String,
    /// What the primitive did.
    pub got: String,
}

/// Every case of every file, judged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KatSummary {
    /// The files run, in order.
    pub files: Vec<String>,
    /// The protocol whose functions were checked (a `PROTOCOL` file for
    /// the design's [`Primitives::protocol`] ran), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Counts per algorithm and expected result, sorted.
    pub counts: Vec<KatCount>,
    /// Every failed case.
    pub failures: Vec<KatIssue>,
    /// Every acceptable case whose flags the spec does not list.
    pub unlisted: Vec<KatIssue>,
    /// Algorithms the design does not offer, with the reason it gave
    /// (its first `Unsupported` answer for the algorithm).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub not_offered: BTreeMap<String, String>,
    /// Why the implementation broke during the tests ([`Primitives::broken`]),
    /// if it did; the case where it broke and every later one it would have
    /// answered are failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken: Option<String>,
}

impl KatSummary {
    /// Whether no case failed and the implementation did not break
    /// (unlisted cases are reported, not failed).
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.broken.is_none()
    }

    /// Sum of the counts for one expected result (all algorithms), as
    /// (passed, failed, unlisted, skipped).
    pub fn totals(&self, result: Expected) -> (usize, usize, usize, usize) {
        let r = result.to_string();
        self.counts
            .iter()
            .filter(|c| c.result == r)
            .fold((0, 0, 0, 0), |t, c| (t.0 + c.passed, t.1 + c.failed, t.2 + c.unlisted, t.3 + c.skipped))
    }

    /// The counts as text, a line each: `algorithm result
    /// passed/failed/unlisted/skipped`, in the order of
    /// [`counts`](KatSummary::counts) (what tests compare whole).
    pub fn table(&self) -> String {
        self.counts
            .iter()
            .map(|c| format!("{} {} {}/{}/{}/{}\n", c.algorithm, c.result, c.passed, c.failed, c.unlisted, c.skipped))
            .collect()
    }
}

/// What a primitive did with one case.
#[derive(Debug)]
enum Outcome {
    /// It gave the expected output, or verified.
    Accepted,
    /// It gave an output, not the expected one.
    Wrong(String),
    /// It refused (an error, or a signature or MAC that does not verify).
    Rejected(String),
    /// It failed on input it should handle (`ImplError::Failed`).
    Broken(String),
    /// It does not offer the operation (why, in its words).
    Unsupported(String),
}

/// Runs every case of `files` against `prims`; `accepts` are the spec's
/// `kat_accepts`.
pub fn run(prims: &dyn Primitives, files: &[KatFile], accepts: &[KatAccept]) -> KatSummary {
    let mut counts: BTreeMap<(String, Expected), KatCount> = BTreeMap::new();
    let mut summary = KatSummary::default();
    let protocol = prims.protocol();
    // Where the implementation broke (file and tcId), once it has.
    let mut broke_at: Option<String> = None;
    for file in files {
        if file.algorithm == KatAlgorithm::Protocol && file.protocol != protocol {
            // Another protocol's functions: the file does not apply.
            continue;
        }
        summary.files.push(file.file.clone());
        if file.algorithm == KatAlgorithm::Protocol {
            summary.protocol.clone_from(&file.protocol);
        }
        for (group, case) in file.cases() {
            let (algorithm, in_profile) = profile(file, group);
            let count = counts.entry((algorithm.clone(), case.result)).or_insert_with(|| KatCount {
                algorithm: algorithm.clone(),
                result: case.result.to_string(),
                ..KatCount::default()
            });
            // A size no file may ask for (see `doormat_formats::kat`) never
            // reaches a primitive, which would allocate it.
            let oversized =
                matches!(case.data, CaseData::Hkdf { size, .. } if size > doormat_formats::kat::MAX_OUTPUT_SIZE);
            let runs = match in_profile {
                _ if oversized => false,
                Profile::Outside => false,
                Profile::InvalidOnly => case.result == Expected::Invalid,
                Profile::Inside => true,
            };
            if !runs {
                count.skipped += 1;
                continue;
            }
            let outcome = outcome(prims, file.algorithm, group, case);
            let issue = |got: String| KatIssue {
                file: file.file.clone(),
                algorithm: algorithm.clone(),
                tc_id: case.tc_id,
                comment: case.comment.clone(),
                flags: case.flags.clone(),
                expected: case.result.to_string(),
                got,
            };
            // A broken implementation's answers are not refusals: the case
            // where it broke, and every later one it was asked, fail.
            let broken = match outcome {
                Outcome::Unsupported(_) => None,
                _ => prims.broken(),
            };
            if let Some(why) = broken {
                count.failed += 1;
                let got = match &broke_at {
                    Some(at) => format!("not run: the implementation broke earlier ({at})"),
                    None => why.lines().map(str::trim).collect::<Vec<_>>().join(" "),
                };
                broke_at.get_or_insert_with(|| format!("{} tcId {}", file.file, case.tc_id));
                summary.broken.get_or_insert(why);
                summary.failures.push(issue(got));
                continue;
            }
            match (case.result, outcome) {
                (_, Outcome::Unsupported(why)) => {
                    count.skipped += 1;
                    summary.not_offered.entry(algorithm.clone()).or_insert(why);
                }
                (Expected::Valid, Outcome::Accepted) => count.passed += 1,
                (Expected::Invalid, Outcome::Rejected(_) | Outcome::Broken(_)) => count.passed += 1,
                (Expected::Invalid, Outcome::Accepted) => {
                    count.failed += 1;
                    summary.failures.push(issue("accepted: gave the case's output".to_owned()));
                }
                (Expected::Acceptable, o @ (Outcome::Accepted | Outcome::Rejected(_))) => {
                    if case.flags.iter().any(|f| accepts.iter().any(|a| &a.flag == f)) {
                        count.passed += 1;
                    } else {
                        count.unlisted += 1;
                        summary.unlisted.push(issue(match o {
                            Outcome::Rejected(why) => format!("rejected: {why}"),
                            _ => "accepted".to_owned(),
                        }));
                    }
                }
                (_, Outcome::Wrong(why)) => {
                    count.failed += 1;
                    summary.failures.push(issue(format!("accepted with a different output: {why}")));
                }
                (_, Outcome::Rejected(why) | Outcome::Broken(why)) => {
                    count.failed += 1;
                    summary.failures.push(issue(format!("rejected: {why}")));
                }
            }
        }
    }
    summary.counts = counts.into_values().collect();
    summary
}

/// Whether a group is inside the profile the designs use.
enum Profile {
    Inside,
    /// Only its `invalid` cases run (odd nonce or tag sizes).
    InvalidOnly,
    Outside,
}

/// The algorithm's name for reports and whether the group is in profile.
fn profile(file: &KatFile, g: &KatGroup) -> (String, Profile) {
    let algorithm = file.algorithm;
    let curve = g.curve.as_deref().unwrap_or("");
    match algorithm {
        KatAlgorithm::Protocol => (
            format!("{} {}", file.protocol.as_deref().unwrap_or("?"), g.function.as_deref().unwrap_or("?")),
            Profile::Inside,
        ),
        KatAlgorithm::Xdh if curve == "curve25519" => ("X25519".to_owned(), Profile::Inside),
        KatAlgorithm::Xdh => (format!("XDH ({curve})"), Profile::Outside),
        KatAlgorithm::EdDsa if curve == "edwards25519" => ("Ed25519".to_owned(), Profile::Inside),
        KatAlgorithm::EdDsa => (format!("EdDSA ({curve})"), Profile::Outside),
        KatAlgorithm::ChaCha20Poly1305 | KatAlgorithm::AesGcm => {
            let name = if algorithm == KatAlgorithm::AesGcm { "AES-256-GCM" } else { "ChaCha20-Poly1305" };
            match g.key_size {
                Some(256) | None => {}
                Some(k) if algorithm == KatAlgorithm::AesGcm => return (format!("AES-{k}-GCM"), Profile::Outside),
                Some(_) => return (name.to_owned(), Profile::InvalidOnly),
            }
            let standard = g.iv_size.is_none_or(|n| n == 96) && g.tag_size.is_none_or(|n| n == 128);
            (name.to_owned(), if standard { Profile::Inside } else { Profile::InvalidOnly })
        }
        KatAlgorithm::HkdfSha256 => ("HKDF-SHA-256".to_owned(), Profile::Inside),
        KatAlgorithm::HmacSha256 => ("HMAC-SHA-256".to_owned(), Profile::Inside),
        _ => (algorithm.name().to_owned(), Profile::Outside),
    }
}

/// An error's outcome.
fn refused(e: ImplError) -> Outcome {
    match e {
        ImplError::Unsupported(why) => Outcome::Unsupported(why),
        ImplError::Failed(s) => Outcome::Broken(s),
        other => Outcome::Rejected(other.to_string()),
    }
}

/// An output compared with the expected bytes.
fn compare(got: Result<Vec<u8>, ImplError>, want: &[u8]) -> Outcome {
    match got {
        Ok(g) if g == want => Outcome::Accepted,
        Ok(g) => Outcome::Wrong(format!("got {}, expected {}", hex::encode(g), hex::encode(want))),
        Err(e) => refused(e),
    }
}

/// How a protocol function's outputs differ from the expected ones: every
/// output named by one side only or with other bytes.
fn protocol_difference(got: &ProtocolBytes, want: &ProtocolBytes) -> String {
    let mut parts = Vec::new();
    for (k, w) in want {
        match got.get(k) {
            None => parts.push(format!("no output `{k}`")),
            Some(g) if g != w => parts.push(format!("`{k}` is {}, expected {}", hex::encode(g), hex::encode(w))),
            Some(_) => {}
        }
    }
    parts.extend(got.keys().filter(|k| !want.contains_key(*k)).map(|k| format!("unexpected output `{k}`")));
    parts.join("; ")
}

fn outcome(p: &dyn Primitives, algorithm: KatAlgorithm, g: &KatGroup, case: &KatCase) -> Outcome {
    match &case.data {
        CaseData::Xdh { public, private, shared } => compare(p.x25519(private, public), shared),
        CaseData::EdDsa { msg, sig } => match p.ed25519_verify(g.public_key.as_deref().unwrap_or_default(), msg, sig) {
            Ok(true) => Outcome::Accepted,
            Ok(false) => Outcome::Rejected("signature does not verify".to_owned()),
            Err(e) => refused(e),
        },
        CaseData::Aead { key, iv, aad, msg, ct, tag } => {
            let alg = if algorithm == KatAlgorithm::AesGcm { AeadAlg::Aes256Gcm } else { AeadAlg::ChaCha20Poly1305 };
            let sealed = [ct.as_slice(), tag.as_slice()].concat();
            if case.result == Expected::Valid {
                match compare(p.aead_seal(alg, key, iv, aad, msg), &sealed) {
                    Outcome::Accepted => {}
                    other => return other,
                }
            }
            compare(p.aead_open(alg, key, iv, aad, &sealed), msg)
        }
        CaseData::Hkdf { ikm, salt, info, size, okm } => compare(p.hkdf_sha256(ikm, salt, info, *size), okm),
        CaseData::Protocol { inputs, outputs } => {
            match p.protocol_function(g.function.as_deref().unwrap_or_default(), inputs) {
                Ok(got) if got == *outputs || (case.result != Expected::Valid && outputs.is_empty()) => {
                    Outcome::Accepted
                }
                Ok(got) => Outcome::Wrong(protocol_difference(&got, outputs)),
                Err(e) => refused(e),
            }
        }
        CaseData::Mac { key, msg, tag } => match p.hmac_sha256(key, msg) {
            Ok(full) => {
                let want = g.tag_size.map_or(full.len(), |bits| bits as usize / 8);
                if !tag.is_empty() && tag.len() == want && full.starts_with(tag) {
                    Outcome::Accepted
                } else {
                    Outcome::Rejected(format!("tag does not verify (computed {})", hex::encode(&full)))
                }
            }
            Err(e) => refused(e),
        },
        _ => Outcome::Unsupported("not a family doormat runs".to_owned()),
    }
}
