//! The exec protocol's messages (version 1), as documented in
//! `harness/exec/PROTOCOL.md`: JSON objects, one per line.
//!
//! **Invariants:** requests ignore unknown fields (forward compatible);
//! responses reject them (an implementation must say exactly what the
//! protocol defines). Binary values are standard padded base64 ([`B64`]);
//! decoding rejects anything else.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// The protocol version this crate speaks.
pub const PROTOCOL: u32 = 1;

/// Bytes, carried as standard padded base64.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct B64(pub Vec<u8>);

impl Serialize for B64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(B64)
            .map_err(|e| serde::de::Error::custom(format!("invalid base64 ({e}): expected standard padded base64")))
    }
}

/// A directory entry as sent in `encrypt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEntry {
    /// `user/device`.
    pub device: String,
    /// Identity.
    pub identity: B64,
    /// Prekey.
    pub prekey: B64,
    /// One-time item, if served.
    pub one_time: Option<B64>,
}

/// An operation with its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Op {
    /// Handshake.
    Hello { protocol: u32 },
    /// A new device.
    CreateDevice { addr: String, seed: B64 },
    /// A device from exported state.
    ImportDevice { addr: String, state: B64 },
    /// Its keys.
    Publish { device: u64 },
    /// Encrypt a message.
    Encrypt {
        device: u64,
        conversation: String,
        group: bool,
        members: Vec<String>,
        recipients: Vec<WireEntry>,
        plaintext: B64,
        /// The user acknowledged the notices of the previous `encrypt` of
        /// this message, which answered `blocked` (absent: false).
        #[serde(default, skip_serializing_if = "is_false")]
        acknowledged: bool,
    },
    /// Decrypt an envelope.
    Decrypt { device: u64, from: String, conversation: String, body: B64 },
    /// Everything the keys a device's state holds recover from an envelope,
    /// with no replay, duplicate, address, sender or conversation check
    /// (optional: only when `hello` offers `forensic_open`).
    ForensicOpen { device: u64, from: String, conversation: String, body: B64 },
    /// Copy a device.
    Fork { device: u64 },
    /// Free a device.
    DropDevice { device: u64 },
    /// Export a device's state.
    ExportState { device: u64 },
    /// Fresh randomness.
    AddEntropy { device: u64, entropy: B64 },
    /// Safety numbers compared.
    Verify { device: u64, contact: String, identity: B64 },
    /// Data pushed by the provider for a role.
    ProviderPush { device: u64, role: String, data: B64 },
    /// A new authority.
    CreateAuthority { role: String, seed: B64 },
    /// Data that targets content.
    Target {
        authority: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exact: Option<B64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        similar: Option<String>,
    },
    /// Recover from the provider view.
    Recover { authority: u64, view: Vec<B64> },
    /// Known answers: the X25519 shared secret of `private` and `public`.
    KatX25519 { private: B64, public: B64 },
    /// Known answers: whether `sig` is a valid Ed25519 signature of `msg` by `public`.
    KatEd25519Verify { public: B64, msg: B64, sig: B64 },
    /// Known answers: AEAD encryption (ciphertext followed by the tag).
    KatAeadSeal { alg: WireAead, key: B64, nonce: B64, aad: B64, msg: B64 },
    /// Known answers: AEAD decryption of ciphertext followed by the tag.
    KatAeadOpen { alg: WireAead, key: B64, nonce: B64, aad: B64, ct: B64 },
    /// Known answers: `len` bytes of HKDF-SHA-256.
    KatHkdfSha256 { ikm: B64, salt: B64, info: B64, len: u64 },
    /// Known answers: the HMAC-SHA-256 of `msg` under `key`.
    KatHmacSha256 { key: B64, msg: B64 },
    /// Known answers: one function of the design's protocol (`hello`'s
    /// `kat_protocol`) on named inputs.
    KatProtocol { function: String, inputs: BTreeMap<String, B64> },
}

impl Op {
    /// The operation's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Hello { .. } => "hello",
            Op::CreateDevice { .. } => "create_device",
            Op::ImportDevice { .. } => "import_device",
            Op::Publish { .. } => "publish",
            Op::Encrypt { .. } => "encrypt",
            Op::Decrypt { .. } => "decrypt",
            Op::ForensicOpen { .. } => "forensic_open",
            Op::Fork { .. } => "fork",
            Op::DropDevice { .. } => "drop_device",
            Op::ExportState { .. } => "export_state",
            Op::AddEntropy { .. } => "add_entropy",
            Op::Verify { .. } => "verify",
            Op::ProviderPush { .. } => "provider_push",
            Op::CreateAuthority { .. } => "create_authority",
            Op::Target { .. } => "target",
            Op::Recover { .. } => "recover",
            Op::KatX25519 { .. } => "kat_x25519",
            Op::KatEd25519Verify { .. } => "kat_ed25519_verify",
            Op::KatAeadSeal { .. } => "kat_aead_seal",
            Op::KatAeadOpen { .. } => "kat_aead_open",
            Op::KatHkdfSha256 { .. } => "kat_hkdf_sha256",
            Op::KatHmacSha256 { .. } => "kat_hmac_sha256",
            Op::KatProtocol { .. } => "kat_protocol",
        }
    }
}

/// An AEAD named in `kat_aead_seal` and `kat_aead_open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum WireAead {
    /// `chacha20-poly1305`.
    #[serde(rename = "chacha20-poly1305")]
    ChaCha20Poly1305,
    /// `aes-256-gcm`.
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
}

/// A primitive `hello` may offer for known-answer tests, with the
/// operations it enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum WirePrimitive {
    /// `x25519`: `kat_x25519`.
    #[serde(rename = "x25519")]
    X25519,
    /// `ed25519`: `kat_ed25519_verify`.
    #[serde(rename = "ed25519")]
    Ed25519,
    /// `chacha20-poly1305`: `kat_aead_seal` and `kat_aead_open` with this `alg`.
    #[serde(rename = "chacha20-poly1305")]
    ChaCha20Poly1305,
    /// `aes-256-gcm`: `kat_aead_seal` and `kat_aead_open` with this `alg`.
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    /// `hkdf-sha256`: `kat_hkdf_sha256`.
    #[serde(rename = "hkdf-sha256")]
    HkdfSha256,
    /// `hmac-sha256`: `kat_hmac_sha256`.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
}

impl WirePrimitive {
    /// Every primitive, in the protocol document's order.
    pub const ALL: [WirePrimitive; 6] = [
        WirePrimitive::X25519,
        WirePrimitive::Ed25519,
        WirePrimitive::ChaCha20Poly1305,
        WirePrimitive::Aes256Gcm,
        WirePrimitive::HkdfSha256,
        WirePrimitive::HmacSha256,
    ];

    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            WirePrimitive::X25519 => "x25519",
            WirePrimitive::Ed25519 => "ed25519",
            WirePrimitive::ChaCha20Poly1305 => "chacha20-poly1305",
            WirePrimitive::Aes256Gcm => "aes-256-gcm",
            WirePrimitive::HkdfSha256 => "hkdf-sha256",
            WirePrimitive::HmacSha256 => "hmac-sha256",
        }
    }
}

/// A request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Increasing from 0.
    pub id: u64,
    /// What to do.
    #[serde(flatten)]
    pub op: Op,
}

/// Error kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Input refused.
    Rejected,
    /// Operation not offered.
    Unsupported,
    /// Implementation failure.
    Failed,
}

/// The `error` member of a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireError {
    /// Who is at fault.
    pub kind: ErrorKind,
    /// Free text.
    pub message: String,
}

/// A response line, before its `ok` member is read for the operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// Echoes the request's id.
    pub id: u64,
    /// Results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<serde_json::Value>,
    /// Or an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

/// `hello` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelloOk {
    /// Must be [`PROTOCOL`].
    pub protocol: u32,
    /// The design's name.
    pub name: String,
    /// Free text.
    pub version: String,
    /// Capabilities.
    pub capabilities: WireCapabilities,
    /// Third-party roles.
    pub authorities: Vec<String>,
    /// Primitives offered for known-answer tests (optional; none when left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primitives: Vec<WirePrimitive>,
    /// The protocol whose functions `kat_protocol` computes (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kat_protocol: Option<String>,
}

/// Capabilities in `hello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireCapabilities {
    /// `export_state` / `import_device` work.
    pub export_state: bool,
    /// `forensic_open` works (optional; false when left out).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forensic_open: bool,
}

/// `create_device`, `import_device`, `fork` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceOk {
    /// The handle.
    pub device: u64,
}

/// `publish` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishOk {
    /// Identity.
    pub identity: B64,
    /// Prekey.
    pub prekey: B64,
    /// One-time items.
    pub one_time: Vec<B64>,
}

/// An event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireEvent {
    /// `identity-changed`, `device-added`, `device-removed`, `member-added`, `member-removed`.
    pub kind: String,
    /// Whose.
    pub user: String,
    /// Which device, if any.
    #[serde(default)]
    pub device: Option<String>,
}

/// An envelope in `encrypt` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireEnvelope {
    /// Addressees.
    pub to: Vec<String>,
    /// Bytes.
    pub body: B64,
}

/// `encrypt` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptOk {
    /// Envelopes.
    pub envelopes: Vec<WireEnvelope>,
    /// Notices.
    pub events: Vec<WireEvent>,
    /// Nothing was sent: the client holds the message until its user
    /// acknowledges `events` (absent: false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub blocked: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !*b
}

/// `decrypt` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecryptOk {
    /// Plaintext, or null.
    pub plaintext: Option<B64>,
    /// Authenticated sender, or null.
    pub sender: Option<String>,
    /// Notices.
    pub events: Vec<WireEvent>,
}

/// `forensic_open` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForensicOk {
    /// Every plaintext the state's keys recover (empty: none).
    pub plaintexts: Vec<B64>,
}

/// Empty results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyOk {}

/// `export_state` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateOk {
    /// The state.
    pub state: B64,
}

/// `verify` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsOk {
    /// Notices.
    pub events: Vec<WireEvent>,
}

/// `create_authority` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorityOk {
    /// The handle.
    pub authority: u64,
    /// Data pushed to devices.
    pub public: B64,
}

/// `target` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetOk {
    /// Data to push, or null.
    pub data: Option<B64>,
}

/// `recover` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoverOk {
    /// What was recovered.
    pub found: Vec<B64>,
}

/// `kat_x25519` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedOk {
    /// The shared secret.
    pub shared: B64,
}

/// `kat_ed25519_verify` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidOk {
    /// Whether the signature verifies.
    pub valid: bool,
}

/// `kat_aead_seal` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealOk {
    /// Ciphertext followed by the tag.
    pub ct: B64,
}

/// `kat_aead_open` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenOk {
    /// The plaintext.
    pub msg: B64,
}

/// `kat_hkdf_sha256` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OkmOk {
    /// Output keying material.
    pub okm: B64,
}

/// `kat_hmac_sha256` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacOk {
    /// The full 32-byte tag.
    pub mac: B64,
}

/// `kat_protocol` results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputsOk {
    /// Named outputs.
    pub outputs: BTreeMap<String, B64>,
}

/// Splits a command line into words like a shell (quotes group words, a
/// backslash escapes one character); no variables, pipes or globbing.
pub fn split_command(cmd: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => match chars.next() {
                Some(n) => cur.push(n),
                None => return Err("a backslash ends the command".to_owned()),
            },
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => match chars.next() {
                Some(n) => {
                    cur.push(n);
                    in_word = true;
                }
                None => return Err("a backslash ends the command".to_owned()),
            },
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unclosed {q} quote"));
    }
    if in_word {
        words.push(cur);
    }
    if words.is_empty() {
        return Err("the command is empty".to_owned());
    }
    Ok(words)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_ignore_unknown_fields() {
        let r = Request { id: 3, op: Op::Fork { device: 9 } };
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(line, r#"{"id":3,"op":"fork","device":9}"#);
        let back: Request = serde_json::from_str(r#"{"id":3,"op":"fork","device":9,"later":true}"#).unwrap();
        assert_eq!(back, r);
        let enc: Request = serde_json::from_str(r#"{"id":1,"op":"add_entropy","device":2,"entropy":"AAEC"}"#).unwrap();
        assert_eq!(enc.op, Op::AddEntropy { device: 2, entropy: B64(vec![0, 1, 2]) });
    }

    #[test]
    fn responses_reject_unknown_fields_and_bad_base64() {
        assert!(serde_json::from_str::<Response>(r#"{"id":1,"ok":{},"extra":1}"#).is_err());
        assert!(serde_json::from_value::<StateOk>(serde_json::json!({"state": "not base64!"})).is_err());
        assert!(serde_json::from_value::<StateOk>(serde_json::json!({"state": "AAE"})).is_err(), "padding is required");
        let d: DecryptOk =
            serde_json::from_value(serde_json::json!({"plaintext": null, "sender": null, "events": []})).unwrap();
        assert_eq!(d.plaintext, None);
    }

    #[test]
    fn known_answer_requests_round_trip_under_their_wire_names() {
        let b = |v: &[u8]| B64(v.to_vec());
        let ops = [
            (Op::KatX25519 { private: b(&[1]), public: b(&[2]) }, "kat_x25519"),
            (Op::KatEd25519Verify { public: b(&[1]), msg: b(&[]), sig: b(&[3]) }, "kat_ed25519_verify"),
            (
                Op::KatAeadSeal {
                    alg: WireAead::ChaCha20Poly1305,
                    key: b(&[1]),
                    nonce: b(&[2]),
                    aad: b(&[]),
                    msg: b(&[4]),
                },
                "kat_aead_seal",
            ),
            (
                Op::KatAeadOpen { alg: WireAead::Aes256Gcm, key: b(&[1]), nonce: b(&[2]), aad: b(&[3]), ct: b(&[4]) },
                "kat_aead_open",
            ),
            (Op::KatHkdfSha256 { ikm: b(&[1]), salt: b(&[]), info: b(&[2]), len: 42 }, "kat_hkdf_sha256"),
            (Op::KatHmacSha256 { key: b(&[1]), msg: b(&[2]) }, "kat_hmac_sha256"),
            (
                Op::KatProtocol { function: "kdf_root".to_owned(), inputs: [("rk".to_owned(), b(&[9]))].into() },
                "kat_protocol",
            ),
        ];
        for (op, name) in ops {
            assert_eq!(op.name(), name);
            let r = Request { id: 5, op };
            let v = serde_json::to_value(&r).unwrap();
            assert_eq!(v["op"], name, "{v}");
            assert_eq!(serde_json::from_value::<Request>(v).unwrap(), r);
        }
        let open: Request = serde_json::from_str(
            r#"{"id":1,"op":"kat_aead_open","alg":"aes-256-gcm","key":"AQ==","nonce":"Ag==","aad":"","ct":"BA==","later":1}"#,
        )
        .unwrap();
        assert_eq!(
            open.op,
            Op::KatAeadOpen { alg: WireAead::Aes256Gcm, key: b(&[1]), nonce: b(&[2]), aad: b(&[]), ct: b(&[4]) }
        );
        let line = serde_json::to_string(&Request {
            id: 2,
            op: Op::KatProtocol { function: "f".to_owned(), inputs: [("a".to_owned(), b(&[0, 1]))].into() },
        })
        .unwrap();
        assert_eq!(line, r#"{"id":2,"op":"kat_protocol","function":"f","inputs":{"a":"AAE="}}"#);
        assert!(serde_json::from_str::<Request>(
            r#"{"id":1,"op":"kat_aead_seal","alg":"aes-128-gcm","key":"","nonce":"","aad":"","msg":""}"#
        )
        .is_err());
    }

    #[test]
    fn hello_may_offer_primitives_and_older_hellos_still_parse() {
        let old: HelloOk = serde_json::from_value(serde_json::json!({
            "protocol": 1, "name": "x", "version": "1", "capabilities": {"export_state": false}, "authorities": []
        }))
        .unwrap();
        assert!(old.primitives.is_empty() && old.kat_protocol.is_none());
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"protocol":1,"name":"x","version":"1","capabilities":{"export_state":false},"authorities":[]}"#,
            "a hello that offers nothing is written as before"
        );
        let new: HelloOk = serde_json::from_value(serde_json::json!({
            "protocol": 1, "name": "x", "version": "1", "capabilities": {"export_state": false}, "authorities": [],
            "primitives": ["x25519", "ed25519", "chacha20-poly1305", "aes-256-gcm", "hkdf-sha256", "hmac-sha256"],
            "kat_protocol": "doormat-ratchet-v1"
        }))
        .unwrap();
        assert_eq!(new.primitives, WirePrimitive::ALL);
        assert_eq!(new.kat_protocol.as_deref(), Some("doormat-ratchet-v1"));
        for p in WirePrimitive::ALL {
            assert_eq!(serde_json::to_value(p).unwrap(), p.name());
        }
        let unknown = serde_json::from_value::<HelloOk>(serde_json::json!({
            "protocol": 1, "name": "x", "version": "1", "capabilities": {"export_state": false}, "authorities": [],
            "primitives": ["x448"]
        }))
        .unwrap_err();
        assert!(unknown.to_string().contains("unknown variant `x448`"), "{unknown}");
        assert!(
            serde_json::from_value::<HelloOk>(serde_json::json!({
                "protocol": 1, "name": "x", "version": "1", "capabilities": {"export_state": false}, "authorities": [],
                "primitves": ["x25519"]
            }))
            .is_err(),
            "a misspelt field is refused, not ignored"
        );
    }

    #[test]
    fn known_answer_results_are_parsed_strictly() {
        use serde_json::json;
        assert_eq!(serde_json::from_value::<SharedOk>(json!({"shared": "AAE="})).unwrap().shared, B64(vec![0, 1]));
        assert!(serde_json::from_value::<ValidOk>(json!({"valid": true})).unwrap().valid);
        assert!(serde_json::from_value::<ValidOk>(json!({"valid": "yes"})).is_err(), "a bool, not a string");
        assert!(serde_json::from_value::<ValidOk>(json!({"valid": 1})).is_err());
        assert!(serde_json::from_value::<SealOk>(json!({"ct": "AAE=", "tag": ""})).is_err(), "unknown field");
        assert!(serde_json::from_value::<OpenOk>(json!({})).is_err(), "missing field");
        assert!(serde_json::from_value::<OpenOk>(json!({"msg": null})).is_err(), "not null");
        assert!(serde_json::from_value::<OkmOk>(json!({"okm": "AAE"})).is_err(), "unpadded base64");
        assert!(serde_json::from_value::<MacOk>(json!({"mac": "!!!!"})).is_err());
        let out: OutputsOk = serde_json::from_value(json!({"outputs": {"ck": "AQ==", "mk": ""}})).unwrap();
        assert_eq!(out.outputs.len(), 2);
        assert!(serde_json::from_value::<OutputsOk>(json!({"outputs": {"ck": 1}})).is_err());
        assert!(serde_json::from_value::<OutputsOk>(json!({"outputs": {}, "extra": {}})).is_err());
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(split_command("python3 a.py").unwrap(), ["python3", "a.py"]);
        assert_eq!(split_command(r#"  "my prog" 'x y' z\ w "" "#).unwrap(), ["my prog", "x y", "z w", ""]);
        assert!(split_command("'open").is_err());
        assert!(split_command("   ").is_err());
    }
}
