//! Known-answer vectors for primitives (`vectors/kat/*.yaml`), in the shape
//! of Project Wycheproof's JSON files, which are accepted as they are.
//!
//! A file names its `algorithm` and holds `testGroups`, each with its
//! parameters (`keySize`, `ivSize`, `tagSize`, `curve`, `publicKey`) and its
//! `tests`. A test has a `tcId`, a `comment`, `flags`, an expected `result`
//! (`valid`, `invalid`, `acceptable`) and the algorithm's fields in hex.
//!
//! **Unknown fields are accepted and ignored**, unlike in specs and
//! vectors: upstream Wycheproof files carry many fields doormat does not use
//! (`schema`, `numberOfTests`, `source`, `publicKeyDer`, `publicKeyPem`,
//! `publicKeyJwk`, ...) and add more between versions, and a file that
//! parses today must parse after an update. A typo cannot hide a case's
//! data: every field an algorithm needs is required, so `tga:` for `tag:`
//! is still an error. The names of the ignored keys are kept in
//! [`KatFile::ignored`] so a tool can show them.
//!
//! **Sizes are bounded before anything is allocated.** An HKDF case's
//! `size` is at most [`MAX_OUTPUT_SIZE`] bytes (HKDF-SHA-256 itself gives
//! at most [`HKDF_SHA256_MAX`], 255 × 32; a size between the two is for an
//! `invalid` case, which the primitive must refuse), and a group's
//! `keySize`, `ivSize` and `tagSize` are at most [`MAX_SIZE_BITS`] bits; a
//! file asking for more is an input error naming the case or group. Byte
//! strings are bounded by the file, whose size the reader caps.
//!
//! **Invariant:** parsing goes through [`crate::yaml::parse`] (YAML is a
//! superset of JSON); hex is decoded here, so a [`KatFile`] holds bytes only.

use crate::error::LoadError;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The most output HKDF-SHA-256 can give, in bytes: 255 blocks of 32
/// (RFC 5869, section 2.3).
pub const HKDF_SHA256_MAX: usize = 255 * 32;

/// The largest `size` (bytes) an HKDF case may ask for. Above
/// [`HKDF_SHA256_MAX`] the primitive must refuse, so sizes up to this
/// bound check that it does (upstream Wycheproof asks for 8161); a larger
/// `size` is refused when the file is read, and never reaches a primitive.
pub const MAX_OUTPUT_SIZE: usize = 65_536;

/// The largest `keySize`, `ivSize` or `tagSize` (bits) a group may give
/// (upstream Wycheproof goes up to 2056).
pub const MAX_SIZE_BITS: u32 = 65_536;

/// The algorithm families doormat has primitives for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KatAlgorithm {
    /// `XDH` (the group's `curve` says which; doormat runs `curve25519`).
    Xdh,
    /// `EDDSA` (the group's `publicKey.curve` says which; doormat runs `edwards25519`).
    EdDsa,
    /// `CHACHA20-POLY1305`.
    ChaCha20Poly1305,
    /// `AES-GCM` (the group's `keySize` says which; doormat runs 256).
    AesGcm,
    /// `HKDF-SHA-256`.
    HkdfSha256,
    /// `HMACSHA256`.
    HmacSha256,
    /// `PROTOCOL`: functions of one design's protocol (the file's
    /// `protocol`, each group's `function`), with named inputs and outputs.
    Protocol,
}

impl KatAlgorithm {
    /// Every family, with the name files use.
    pub const ALL: &'static [(KatAlgorithm, &'static str)] = &[
        (KatAlgorithm::Xdh, "XDH"),
        (KatAlgorithm::EdDsa, "EDDSA"),
        (KatAlgorithm::ChaCha20Poly1305, "CHACHA20-POLY1305"),
        (KatAlgorithm::AesGcm, "AES-GCM"),
        (KatAlgorithm::HkdfSha256, "HKDF-SHA-256"),
        (KatAlgorithm::HmacSha256, "HMACSHA256"),
        (KatAlgorithm::Protocol, "PROTOCOL"),
    ];

    /// The name files use for it (Wycheproof's `algorithm`).
    pub fn name(self) -> &'static str {
        KatAlgorithm::ALL.iter().find(|(a, _)| *a == self).map_or("?", |(_, n)| n)
    }
}

impl fmt::Display for KatAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a case expects of a correct implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expected {
    /// Must give the expected output (or verify).
    Valid,
    /// Must be rejected.
    Invalid,
    /// May be accepted or rejected; judged by the case's flags.
    Acceptable,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Valid => "valid",
            Expected::Invalid => "invalid",
            Expected::Acceptable => "acceptable",
        })
    }
}

/// A parsed known-answer file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KatFile {
    /// The file as the user named it.
    pub file: String,
    /// The algorithm family.
    pub algorithm: KatAlgorithm,
    /// The protocol whose functions a `PROTOCOL` file tests (e.g.
    /// `doormat-ratchet-v1`); `None` for primitive files.
    pub protocol: Option<String>,
    /// The header lines.
    pub header: Vec<String>,
    /// What each flag means (`notes`: flag → description).
    pub notes: BTreeMap<String, String>,
    /// The groups, in file order.
    pub groups: Vec<KatGroup>,
    /// Keys the file has that doormat ignores (sorted, without repeats).
    pub ignored: BTreeSet<String>,
}

/// A group of cases sharing parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KatGroup {
    /// `keySize` in bits.
    pub key_size: Option<u32>,
    /// `ivSize` in bits.
    pub iv_size: Option<u32>,
    /// `tagSize` in bits.
    pub tag_size: Option<u32>,
    /// `curve` (XDH) or `publicKey.curve` (EdDSA).
    pub curve: Option<String>,
    /// `publicKey.pk` (EdDSA).
    pub public_key: Option<Vec<u8>>,
    /// `function` (PROTOCOL): the protocol function every test of the group runs.
    pub function: Option<String>,
    /// The cases.
    pub tests: Vec<KatCase>,
}

/// One case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KatCase {
    /// `tcId`, unique in the file.
    pub tc_id: u64,
    /// What the case tests.
    pub comment: String,
    /// Flags (keys of the file's `notes`).
    pub flags: Vec<String>,
    /// The expected result.
    pub result: Expected,
    /// The algorithm's inputs and outputs.
    pub data: CaseData,
}

/// A case's bytes, per algorithm family.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaseData {
    /// AEAD: `key`, `iv`, `aad`, `msg`, `ct`, `tag`.
    Aead { key: Vec<u8>, iv: Vec<u8>, aad: Vec<u8>, msg: Vec<u8>, ct: Vec<u8>, tag: Vec<u8> },
    /// XDH: `public`, `private`, `shared`.
    Xdh { public: Vec<u8>, private: Vec<u8>, shared: Vec<u8> },
    /// EdDSA verification (the key is the group's): `msg`, `sig`.
    EdDsa { msg: Vec<u8>, sig: Vec<u8> },
    /// HKDF: `ikm`, `salt`, `info`, `size` (bytes), `okm`.
    Hkdf { ikm: Vec<u8>, salt: Vec<u8>, info: Vec<u8>, size: usize, okm: Vec<u8> },
    /// MAC: `key`, `msg`, `tag`.
    Mac { key: Vec<u8>, msg: Vec<u8>, tag: Vec<u8> },
    /// A protocol function (the group's `function`): named `inputs`, and
    /// the named `outputs` a `valid` case must give exactly.
    Protocol { inputs: BTreeMap<String, Vec<u8>>, outputs: BTreeMap<String, Vec<u8>> },
}

#[derive(Deserialize)]
struct RawFile {
    algorithm: String,
    #[serde(default)]
    header: Header,
    #[serde(default)]
    notes: BTreeMap<String, RawNote>,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(rename = "testGroups")]
    test_groups: Vec<RawGroup>,
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

/// Wycheproof writes the header as a list of lines; a single string is
/// accepted too.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Header {
    #[default]
    None,
    One(String),
    Lines(Vec<String>),
}

#[derive(Deserialize)]
struct RawNote {
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct RawGroup {
    #[serde(rename = "keySize", default)]
    key_size: Option<u32>,
    #[serde(rename = "ivSize", default)]
    iv_size: Option<u32>,
    #[serde(rename = "tagSize", default)]
    tag_size: Option<u32>,
    #[serde(default)]
    curve: Option<String>,
    #[serde(rename = "publicKey", default)]
    public_key: Option<RawPublicKey>,
    #[serde(default)]
    function: Option<String>,
    tests: Vec<RawTest>,
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
struct RawPublicKey {
    #[serde(default)]
    curve: Option<String>,
    pk: String,
}

#[derive(Deserialize)]
struct RawTest {
    #[serde(rename = "tcId")]
    tc_id: u64,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    flags: Vec<String>,
    result: Expected,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    iv: Option<String>,
    #[serde(default)]
    aad: Option<String>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    ct: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    public: Option<String>,
    #[serde(default)]
    private: Option<String>,
    #[serde(default)]
    shared: Option<String>,
    #[serde(default)]
    sig: Option<String>,
    #[serde(default)]
    ikm: Option<String>,
    #[serde(default)]
    salt: Option<String>,
    #[serde(default)]
    info: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    okm: Option<String>,
    #[serde(default)]
    inputs: Option<BTreeMap<String, String>>,
    #[serde(default)]
    outputs: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

impl KatFile {
    /// Parses a known-answer file (our YAML or an upstream Wycheproof JSON
    /// file); `file` names it in messages.
    pub fn parse(file: &str, src: &str) -> Result<KatFile, LoadError> {
        let raw: RawFile = crate::yaml::parse(file, src)?;
        let err = |line: Option<usize>, msg: String| LoadError::at(file, src, line, None, msg);
        let Some(algorithm) = KatAlgorithm::ALL.iter().find(|(_, n)| *n == raw.algorithm).map(|(a, _)| *a) else {
            let names: Vec<&str> = KatAlgorithm::ALL.iter().map(|(_, n)| *n).collect();
            return Err(err(
                line_of(src, "algorithm"),
                format!("unknown algorithm `{}`: expected one of {}", raw.algorithm, names.join(", ")),
            ));
        };
        let protocol = match (algorithm, raw.protocol) {
            (KatAlgorithm::Protocol, Some(p)) if !p.trim().is_empty() => Some(p),
            (KatAlgorithm::Protocol, _) => {
                return Err(err(
                    line_of(src, "algorithm"),
                    "a PROTOCOL file needs `protocol: NAME`: the protocol whose functions it tests".to_owned(),
                ))
            }
            (_, Some(_)) => {
                return Err(err(
                    line_of(src, "protocol"),
                    format!("`protocol` is for PROTOCOL files only: expected no `protocol` in a {algorithm} file"),
                ))
            }
            (_, None) => None,
        };
        let mut ignored: BTreeSet<String> = raw.other.into_keys().collect();
        let mut ids = BTreeSet::new();
        let mut groups = Vec::new();
        for g in raw.test_groups {
            ignored.extend(g.other.into_keys());
            let (curve, public_key) = match g.public_key {
                Some(pk) => {
                    (pk.curve.or(g.curve), Some(hex_field(&pk.pk, "publicKey.pk", None).map_err(|m| err(None, m))?))
                }
                None => (g.curve, None),
            };
            if algorithm == KatAlgorithm::EdDsa && public_key.is_none() {
                return Err(err(None, "an EDDSA test group needs `publicKey: {pk: HEX}`".to_owned()));
            }
            if algorithm == KatAlgorithm::Protocol && g.function.as_deref().is_none_or(|f| f.trim().is_empty()) {
                let line = g.tests.first().and_then(|t| tc_line(src, t.tc_id));
                return Err(err(line, "a PROTOCOL test group needs `function: NAME`".to_owned()));
            }
            for (name, bits) in [("keySize", g.key_size), ("ivSize", g.iv_size), ("tagSize", g.tag_size)] {
                if let Some(b) = bits.filter(|b| *b > MAX_SIZE_BITS) {
                    let (l, c) = value_at(src, 1, name, u64::from(b)).map_or((None, None), |(l, c)| (Some(l), Some(c)));
                    return Err(LoadError::at(
                        file,
                        src,
                        l,
                        c,
                        format!("the test group's `{name}` is {b} bits: expected at most {MAX_SIZE_BITS}"),
                    ));
                }
            }
            let mut tests = Vec::new();
            for t in g.tests {
                let line = tc_line(src, t.tc_id);
                if !ids.insert(t.tc_id) {
                    return Err(err(line, format!("tcId {} is used twice: expected unique tcIds", t.tc_id)));
                }
                ignored.extend(t.other.keys().cloned());
                // Checked before anything is allocated for the case.
                if let Some(n) = t.size.filter(|n| algorithm == KatAlgorithm::HkdfSha256 && *n > MAX_OUTPUT_SIZE as u64)
                {
                    let (l, c) =
                        value_at(src, line.unwrap_or(1), "size", n).map_or((line, None), |(l, c)| (Some(l), Some(c)));
                    return Err(LoadError::at(
                        file,
                        src,
                        l,
                        c,
                        format!("tcId {}: `size` is {n} bytes: expected at most {MAX_OUTPUT_SIZE} (HKDF-SHA-256 gives at most {HKDF_SHA256_MAX}; a larger size is for an `invalid` case)", t.tc_id),
                    ));
                }
                let data = case_data(algorithm, &t).map_err(|m| err(line, m))?;
                tests.push(KatCase { tc_id: t.tc_id, comment: t.comment, flags: t.flags, result: t.result, data });
            }
            groups.push(KatGroup {
                key_size: g.key_size,
                iv_size: g.iv_size,
                tag_size: g.tag_size,
                curve,
                public_key,
                function: g.function,
                tests,
            });
        }
        let header = match raw.header {
            Header::None => Vec::new(),
            Header::One(s) => vec![s],
            Header::Lines(l) => l,
        };
        let notes = raw.notes.into_iter().map(|(k, n)| (k, n.description.unwrap_or_default())).collect();
        Ok(KatFile { file: file.to_owned(), algorithm, protocol, header, notes, groups, ignored })
    }

    /// Every case with its group.
    pub fn cases(&self) -> impl Iterator<Item = (&KatGroup, &KatCase)> {
        self.groups.iter().flat_map(|g| g.tests.iter().map(move |t| (g, t)))
    }
}

/// A known-answer entry that points to a file kept elsewhere (a checkout
/// of upstream Wycheproof, say), instead of a copy of it:
///
/// ```yaml
/// include: ../../wycheproof/testvectors_v1/x25519_test.json   # relative to this entry
/// sha256: "..."                                               # optional: the file's SHA-256
/// comment: upstream X25519 vectors                            # optional
/// ```
///
/// The file pointed to is read as it is ([`KatFile::parse`]); it may not be
/// a pointer itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KatPointer {
    /// The path, as written (relative to the entry's folder unless absolute).
    pub include: String,
    /// The SHA-256 the file must have, if pinned.
    pub sha256: Option<Vec<u8>>,
    /// The line of `include` in the entry.
    pub line: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPointer {
    include: String,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    comment: Option<String>,
}

impl KatPointer {
    /// The pointer `src` holds, or `None` when it is a known-answer file
    /// itself (its top level has no `include`).
    pub fn parse(file: &str, src: &str) -> Result<Option<KatPointer>, LoadError> {
        let keys: Result<BTreeMap<String, IgnoredAny>, _> = crate::yaml::parse(file, src);
        if !keys.is_ok_and(|k| k.contains_key("include")) {
            return Ok(None);
        }
        let raw: RawPointer = crate::yaml::parse(file, src)?;
        let line = line_of(src, "include");
        if raw.include.trim().is_empty() {
            return Err(LoadError::at(
                file,
                src,
                line,
                None,
                "`include` is empty: expected the path of a known-answer file".to_owned(),
            ));
        }
        let sha256 = match raw.sha256 {
            Some(h) => {
                let b = hex_field(&h, "sha256", None)
                    .map_err(|m| LoadError::at(file, src, line_of(src, "sha256"), None, m))?;
                if b.len() != 32 {
                    return Err(LoadError::at(
                        file,
                        src,
                        line_of(src, "sha256"),
                        None,
                        format!("`sha256` has {} bytes: expected 32 (64 hex digits)", b.len()),
                    ));
                }
                Some(b)
            }
            None => None,
        };
        Ok(Some(KatPointer { include: raw.include, sha256, line }))
    }
}

/// The case's bytes for its family, or what is missing.
fn case_data(algorithm: KatAlgorithm, t: &RawTest) -> Result<CaseData, String> {
    let id = t.tc_id;
    let need = |v: &Option<String>, name: &str| -> Result<Vec<u8>, String> {
        match v {
            Some(s) => hex_field(s, name, Some(id)),
            None => Err(format!("tcId {id}: missing field `{name}`: expected it in every {algorithm} test")),
        }
    };
    Ok(match algorithm {
        KatAlgorithm::ChaCha20Poly1305 | KatAlgorithm::AesGcm => CaseData::Aead {
            key: need(&t.key, "key")?,
            iv: need(&t.iv, "iv")?,
            aad: need(&t.aad, "aad")?,
            msg: need(&t.msg, "msg")?,
            ct: need(&t.ct, "ct")?,
            tag: need(&t.tag, "tag")?,
        },
        KatAlgorithm::Xdh => CaseData::Xdh {
            public: need(&t.public, "public")?,
            private: need(&t.private, "private")?,
            shared: need(&t.shared, "shared")?,
        },
        KatAlgorithm::EdDsa => CaseData::EdDsa { msg: need(&t.msg, "msg")?, sig: need(&t.sig, "sig")? },
        KatAlgorithm::HkdfSha256 => CaseData::Hkdf {
            ikm: need(&t.ikm, "ikm")?,
            salt: need(&t.salt, "salt")?,
            info: need(&t.info, "info")?,
            size: t
                .size
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| format!("tcId {id}: missing field `size`: expected the output length in bytes"))?,
            okm: need(&t.okm, "okm")?,
        },
        KatAlgorithm::HmacSha256 => {
            CaseData::Mac { key: need(&t.key, "key")?, msg: need(&t.msg, "msg")?, tag: need(&t.tag, "tag")? }
        }
        KatAlgorithm::Protocol => {
            let named =
                |m: &Option<BTreeMap<String, String>>, what: &str| -> Result<BTreeMap<String, Vec<u8>>, String> {
                    let Some(m) = m else {
                        return Err(format!(
                            "tcId {id}: missing field `{what}`: expected a map of names to hex in every PROTOCOL test"
                        ));
                    };
                    m.iter().map(|(k, v)| Ok((k.clone(), hex_field(v, &format!("{what}.{k}"), Some(id))?))).collect()
                };
            let outputs = match (&t.outputs, t.result) {
                (None, Expected::Invalid) => BTreeMap::new(),
                _ => named(&t.outputs, "outputs")?,
            };
            CaseData::Protocol { inputs: named(&t.inputs, "inputs")?, outputs }
        }
    })
}

/// Decodes hex (whitespace inside is allowed, so long values can be folded).
fn hex_field(s: &str, name: &str, tc_id: Option<u64>) -> Result<Vec<u8>, String> {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&compact).map_err(|e| {
        let at = tc_id.map(|i| format!("tcId {i}: ")).unwrap_or_default();
        format!("{at}field `{name}` is not hex ({e}): expected an even number of hex digits")
    })
}

/// The line of the first top-level `key:` (YAML) or `"key":` (JSON).
fn line_of(src: &str, key: &str) -> Option<usize> {
    let (yaml, json) = (format!("{key}:"), format!("\"{key}\""));
    src.lines().position(|l| l.trim_start().starts_with(&yaml) || l.trim_start().starts_with(&json)).map(|i| i + 1)
}

/// The line and column of the number `value` given to `key` (`key: N`,
/// `"key": N`), on line `from` or after.
fn value_at(src: &str, from: usize, key: &str, value: u64) -> Option<(usize, usize)> {
    let value = value.to_string();
    src.lines().enumerate().skip(from.saturating_sub(1)).find_map(|(n, l)| {
        [format!("{key}:"), format!("\"{key}\":"), format!("\"{key}\" :")].iter().find_map(|k| {
            let at = l.find(k.as_str())?;
            let rest = &l[at + k.len()..];
            let spaces = rest.len() - rest.trim_start().len();
            let tail = &rest[spaces..];
            let whole = tail.starts_with(&value) && !tail[value.len()..].starts_with(|c: char| c.is_ascii_digit());
            whole.then(|| (n + 1, l[..at + k.len() + spaces].chars().count() + 1))
        })
    })
}

/// The line where the case with this tcId starts, when it can be found.
fn tc_line(src: &str, id: u64) -> Option<usize> {
    let forms = [format!("tcId: {id}"), format!("\"tcId\": {id}"), format!("\"tcId\" : {id}")];
    src.lines()
        .position(|l| {
            forms.iter().any(|f| {
                l.find(f.as_str()).is_some_and(|i| {
                    let rest = &l[i + f.len()..];
                    !rest.starts_with(|c: char| c.is_ascii_digit())
                })
            })
        })
        .map(|i| i + 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_yaml_and_json_and_keeps_ignored_keys() {
        let yaml = "algorithm: HMACSHA256\nschema: x.json\ntestGroups:\n  - keySize: 64\n    tagSize: 256\n    tests:\n      - {tcId: 1, comment: c, flags: [A], result: valid, key: '00ff', msg: '', tag: 'ab'}\n";
        let f = KatFile::parse("a.yaml", yaml).unwrap();
        assert_eq!(f.algorithm, KatAlgorithm::HmacSha256);
        assert_eq!(f.ignored.iter().collect::<Vec<_>>(), ["schema"]);
        assert_eq!(f.groups[0].tests[0].data, CaseData::Mac { key: vec![0, 255], msg: vec![], tag: vec![0xab] });
        let json = r#"{"algorithm": "XDH", "numberOfTests": 1, "testGroups": [{"curve": "curve25519", "type": "XdhComp",
            "tests": [{"tcId": 7, "comment": "", "public": "01", "private": "02", "shared": "03", "result": "acceptable", "flags": ["Twist"]}]}]}"#;
        let f = KatFile::parse("b.json", json).unwrap();
        assert_eq!(f.groups[0].curve.as_deref(), Some("curve25519"));
        assert_eq!(f.groups[0].tests[0].result, Expected::Acceptable);
        assert_eq!(f.ignored.iter().collect::<Vec<_>>(), ["numberOfTests", "type"]);
    }

    #[test]
    fn protocol_files_need_a_protocol_a_function_and_named_hex() {
        let ok = "algorithm: PROTOCOL\nprotocol: p-v1\ntestGroups:\n  - function: f\n    tests:\n      - tcId: 1\n        result: valid\n        inputs: {a: '01'}\n        outputs: {b: '02 03'}\n      - tcId: 2\n        result: invalid\n        inputs: {a: ''}\n";
        let f = KatFile::parse("p.yaml", ok).unwrap();
        assert_eq!(f.protocol.as_deref(), Some("p-v1"));
        assert_eq!(f.groups[0].function.as_deref(), Some("f"));
        let CaseData::Protocol { inputs, outputs } = &f.groups[0].tests[0].data else { panic!() };
        assert_eq!((inputs["a"].as_slice(), outputs["b"].as_slice()), (&[1u8][..], &[2u8, 3][..]));
        let CaseData::Protocol { outputs, .. } = &f.groups[0].tests[1].data else { panic!() };
        assert!(outputs.is_empty(), "an invalid case needs no outputs");
        let e = KatFile::parse("p.yaml", &ok.replace("protocol: p-v1\n", "")).unwrap_err();
        assert!(e.message.contains("needs `protocol: NAME`"), "{}", e.message);
        let e = KatFile::parse("p.yaml", &ok.replace("  - function: f\n", "  - curve: x\n")).unwrap_err();
        assert!(e.message.contains("needs `function: NAME`") && e.line == Some(6), "{e:?}");
        let e = KatFile::parse("p.yaml", &ok.replace("outputs: {b: '02 03'}", "outputs: {b: 'zz'}")).unwrap_err();
        assert!(e.message.contains("tcId 1: field `outputs.b` is not hex"), "{}", e.message);
        let e = KatFile::parse("p.yaml", &ok.replace("        outputs: {b: '02 03'}\n", "")).unwrap_err();
        assert!(e.message.contains("tcId 1: missing field `outputs`"), "{}", e.message);
        let e = KatFile::parse("p.yaml", &ok.replace("algorithm: PROTOCOL", "algorithm: XDH")).unwrap_err();
        assert!(e.message.contains("`protocol` is for PROTOCOL files only") && e.line == Some(2), "{e:?}");
    }

    #[test]
    fn pointers_are_told_apart_and_checked() {
        assert_eq!(KatPointer::parse("a.yaml", "algorithm: XDH\ntestGroups: []\n").unwrap(), None);
        assert_eq!(KatPointer::parse("a.json", "{\"algorithm\": \"XDH\"}").unwrap(), None);
        let p = KatPointer::parse("a.yaml", "comment: c\ninclude: x.json\n").unwrap().unwrap();
        assert_eq!((p.include.as_str(), p.sha256, p.line), ("x.json", None, Some(2)));
        let sha = "ab".repeat(32);
        let p = KatPointer::parse("a.yaml", &format!("include: x.json\nsha256: '{sha}'\n")).unwrap().unwrap();
        assert_eq!(p.sha256, Some(vec![0xab; 32]));
        let e = KatPointer::parse("a.yaml", "include: x.json\nsha256: 'abcd'\n").unwrap_err();
        assert!(e.message.contains("expected 32") && e.line == Some(2), "{e:?}");
        let e = KatPointer::parse("a.yaml", "include: x.json\nalgorithm: XDH\n").unwrap_err();
        assert!(e.message.contains("algorithm"), "{}", e.message);
        let e = KatPointer::parse("a.yaml", "include: ' '\n").unwrap_err();
        assert!(e.message.contains("`include` is empty"), "{}", e.message);
    }

    #[test]
    fn sizes_are_bounded_before_anything_is_allocated() {
        let hkdf = |size: &str| {
            format!("algorithm: HKDF-SHA-256\ntestGroups:\n  - tests:\n      - {{tcId: 1, result: invalid, ikm: '00', salt: '', info: '', size: {size}, okm: ''}}\n")
        };
        for ok in ["8160", "8161", "65536"] {
            assert!(KatFile::parse("h.yaml", &hkdf(ok)).is_ok(), "{ok}");
        }
        for (big, column) in [("65537", 73), ("1000000000000", 73), ("18446744073709551615", 73)] {
            let e = KatFile::parse("h.yaml", &hkdf(big)).unwrap_err();
            assert_eq!((e.line, e.column), (Some(4), Some(column)), "{e}");
            assert!(e.message.starts_with(&format!("tcId 1: `size` is {big} bytes: expected at most 65536")), "{e}");
        }
        let json = r#"{"algorithm": "HKDF-SHA-256", "testGroups": [{"tests": [
          {"tcId": 9, "result": "valid", "ikm": "", "salt": "", "info": "", "okm": "",
           "size" : 99999999}]}]}"#;
        let e = KatFile::parse("h.json", json).unwrap_err();
        assert_eq!((e.line, e.column), (Some(3), Some(21)), "{e}");
        let aead = "algorithm: AES-GCM\ntestGroups:\n  - keySize: 256\n    tagSize: 4294967295\n    tests: []\n";
        let e = KatFile::parse("a.yaml", aead).unwrap_err();
        assert_eq!((e.line, e.column), (Some(4), Some(14)), "{e}");
        assert_eq!(e.message, "the test group's `tagSize` is 4294967295 bits: expected at most 65536");
    }

    #[test]
    fn a_missing_field_or_bad_hex_names_the_case_and_line() {
        let yaml = "algorithm: HMACSHA256\ntestGroups:\n  - tests:\n      - tcId: 3\n        result: valid\n        key: '00'\n        msg: ''\n        tga: '00'\n";
        let e = KatFile::parse("a.yaml", yaml).unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("tcId 3: missing field `tag`"), "{}", e.message);
        let e = KatFile::parse("a.yaml", &yaml.replace("tga", "tag").replace("key: '00'", "key: '0g'")).unwrap_err();
        assert!(e.message.contains("field `key` is not hex"), "{}", e.message);
        let e = KatFile::parse("a.yaml", "algorithm: ECDH\ntestGroups: []\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.message.starts_with("unknown algorithm `ECDH`"), "{}", e.message);
    }
}
