//! The exec protocol's messages (version 1), as documented in
//! `harness/exec/PROTOCOL.md`: JSON objects, one per line.
//!
//! **Invariants:** requests ignore unknown fields (forward compatible);
//! responses reject them (an implementation must say exactly what the
//! protocol defines). Binary values are standard padded base64 ([`B64`]);
//! decoding rejects anything else.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    },
    /// Decrypt an envelope.
    Decrypt { device: u64, from: String, conversation: String, body: B64 },
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
            Op::Fork { .. } => "fork",
            Op::DropDevice { .. } => "drop_device",
            Op::ExportState { .. } => "export_state",
            Op::AddEntropy { .. } => "add_entropy",
            Op::Verify { .. } => "verify",
            Op::ProviderPush { .. } => "provider_push",
            Op::CreateAuthority { .. } => "create_authority",
            Op::Target { .. } => "target",
            Op::Recover { .. } => "recover",
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
}

/// Capabilities in `hello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireCapabilities {
    /// `export_state` / `import_device` work.
    pub export_state: bool,
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
    fn commands_split_like_a_shell() {
        assert_eq!(split_command("python3 a.py").unwrap(), ["python3", "a.py"]);
        assert_eq!(split_command(r#"  "my prog" 'x y' z\ w "" "#).unwrap(), ["my prog", "x y", "z w", ""]);
        assert!(split_command("'open").is_err());
        assert!(split_command("   ").is_err());
    }
}
