//! The server end of the exec protocol: [`serve`] answers requests with an
//! in-process [`Design`], one response line per request line, so a built-in
//! design can be audited through the protocol (the reports must equal the
//! in-process audit's) and benchmarked (`doormat serve DESIGN`).
//!
//! A design that exposes its primitives offers all six in `hello` (and its
//! protocol as `kat_protocol`), and each known-answer operation is forwarded
//! to them as it is: an `Unsupported` answer stays `unsupported`, so the
//! known-answer results over the protocol equal those in process.
//!
//! **Invariant:** every request line gets exactly one response line, in
//! order: a line that is not a request is a `failed` error (an operation
//! this version does not know, `unsupported`), never the end of the loop.

use crate::convert;
use doormat_engine::{Authority, Design, Device, EncryptRequest, ImplError, InEnvelope, Primitives, UserAction};
use doormat_formats::wire::{
    AuthorityOk, DecryptOk, DeviceOk, EmptyOk, EncryptOk, ErrorKind, EventsOk, ForensicOk, HelloOk, MacOk, OkmOk, Op,
    OpenOk, OutputsOk, RecoverOk, Request, Response, SealOk, SharedOk, StateOk, TargetOk, ValidOk, WireCapabilities,
    WireError, WirePrimitive, B64, PROTOCOL,
};
use doormat_formats::UserId;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};

/// Serves `design` over the exec protocol: reads requests from `input`
/// until it ends and writes each response to `output`, flushed at once.
/// Only I/O errors end it early.
pub fn serve(design: Box<dyn Design>, input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    let primitives = design.primitives();
    let mut server = Server { design, primitives, devices: BTreeMap::new(), authorities: BTreeMap::new(), next: 0 };
    for line in input.lines() {
        let resp = server.answer(&line?);
        serde_json::to_writer(&mut output, &resp)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}

struct Server {
    design: Box<dyn Design>,
    primitives: Option<Box<dyn Primitives>>,
    devices: BTreeMap<u64, Box<dyn Device>>,
    authorities: BTreeMap<u64, Box<dyn Authority>>,
    next: u64,
}

fn ok<T: Serialize>(v: T) -> Result<serde_json::Value, ImplError> {
    serde_json::to_value(v).map_err(|e| ImplError::Failed(e.to_string()))
}

/// What part of a request means, by `meaning` (a function of
/// `convert.rs`); a refusal is the request's fault, so the answer is
/// `failed`.
fn read<W, T>(wire: W, meaning: impl FnOnce(W) -> Result<T, String>) -> Result<T, ImplError> {
    meaning(wire).map_err(ImplError::Failed)
}

impl Server {
    /// The response to one request line.
    fn answer(&mut self, line: &str) -> Response {
        match serde_json::from_str::<Request>(line) {
            Ok(req) => match self.handle(req.op) {
                Ok(v) => Response { id: req.id, ok: Some(v), error: None },
                Err(e) => Response { id: req.id, ok: None, error: Some(convert::error_to_wire(e)) },
            },
            Err(e) => {
                let value = serde_json::from_str::<serde_json::Value>(line).ok();
                let id = value.as_ref().and_then(|v| v.get("id")?.as_u64()).unwrap_or(0);
                // An operation this version does not know is `unsupported`
                // (PROTOCOL.md); anything else malformed is `failed`.
                let unknown_op = value
                    .as_ref()
                    .and_then(|v| v.get("op")?.as_str().map(str::to_owned))
                    .filter(|op| e.to_string().contains(&format!("unknown variant `{op}`")));
                let error = match unknown_op {
                    Some(op) => {
                        WireError { kind: ErrorKind::Unsupported, message: format!("unknown operation `{op}`") }
                    }
                    None => WireError { kind: ErrorKind::Failed, message: format!("bad request: {e}") },
                };
                Response { id, ok: None, error: Some(error) }
            }
        }
    }

    fn handle(&mut self, op: Op) -> Result<serde_json::Value, ImplError> {
        match op {
            Op::Hello { .. } => ok(HelloOk {
                protocol: PROTOCOL,
                name: self.design.name().to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                capabilities: WireCapabilities {
                    export_state: self.design.capabilities().export_state,
                    forensic_open: true,
                },
                authorities: self.design.authorities(),
                primitives: if self.primitives.is_some() { WirePrimitive::ALL.to_vec() } else { Vec::new() },
                kat_protocol: self.primitives.as_ref().and_then(|p| p.protocol()),
            }),
            Op::CreateDevice { addr, seed } => {
                let addr = read(addr.as_str(), convert::addr_from_wire)?;
                let d = self.design.create_device(&addr, read(&seed, convert::seed_from_wire)?)?;
                ok(DeviceOk { device: self.keep(d) })
            }
            Op::ImportDevice { addr, state } => {
                let d = self.design.import_device(&read(addr.as_str(), convert::addr_from_wire)?, &state.0)?;
                ok(DeviceOk { device: self.keep(d) })
            }
            Op::Publish { device } => ok(convert::bundle_to_wire(self.device(device)?.publish()?)),
            Op::Encrypt { device, conversation, group, members, recipients, plaintext, acknowledged } => {
                let members: Vec<UserId> = members.into_iter().map(UserId).collect();
                let recipients =
                    recipients.into_iter().map(|e| read(e, convert::entry_from_wire)).collect::<Result<Vec<_>, _>>()?;
                let req = EncryptRequest {
                    conversation: &conversation,
                    group,
                    members: &members,
                    recipients: &recipients,
                    plaintext: &plaintext.0,
                };
                let dev = self.device(device)?;
                if acknowledged {
                    dev.user_action(&UserAction::Acknowledge)?;
                }
                let sent = dev.encrypt(&req)?;
                ok(EncryptOk {
                    blocked: sent.blocked,
                    envelopes: sent.envelopes.into_iter().map(convert::envelope_to_wire).collect(),
                    events: convert::events_to_wire(sent.events),
                })
            }
            Op::Decrypt { device, from, conversation, body } => {
                let from = read(from.as_str(), convert::addr_from_wire)?;
                let env = InEnvelope { from: &from, conversation: &conversation, body: &body.0 };
                let r = self.device(device)?.decrypt(&env)?;
                ok(DecryptOk {
                    plaintext: r.plaintext.map(B64),
                    sender: r.sender.map(|s| s.to_string()),
                    events: convert::events_to_wire(r.events),
                })
            }
            Op::ForensicOpen { device, from, conversation, body } => {
                let from = read(from.as_str(), convert::addr_from_wire)?;
                let env = InEnvelope { from: &from, conversation: &conversation, body: &body.0 };
                let pts = self.device(device)?.forensic_open(&env)?;
                ok(ForensicOk { plaintexts: pts.into_iter().map(B64).collect() })
            }
            Op::Fork { device } => {
                let f = self.device(device)?.fork()?;
                ok(DeviceOk { device: self.keep(f) })
            }
            Op::DropDevice { device } => {
                self.devices.remove(&device);
                ok(EmptyOk {})
            }
            Op::ExportState { device } => ok(StateOk { state: B64(self.device(device)?.export_state()?) }),
            Op::AddEntropy { device, entropy } => {
                let e = read(&entropy, convert::seed_from_wire)?;
                self.device(device)?.add_entropy(&e);
                ok(EmptyOk {})
            }
            Op::Verify { device, contact, identity } => {
                let c = read(contact.as_str(), convert::addr_from_wire)?;
                ok(EventsOk { events: convert::events_to_wire(self.device(device)?.verify(&c, &identity.0)?) })
            }
            Op::ProviderPush { device, role, data } => {
                self.device(device)?.provider_push(&role, &data.0)?;
                ok(EmptyOk {})
            }
            Op::CreateAuthority { role, seed } => {
                let a = self.design.create_authority(&role, read(&seed, convert::seed_from_wire)?)?;
                let public = B64(a.public());
                self.next += 1;
                self.authorities.insert(self.next, a);
                ok(AuthorityOk { authority: self.next, public })
            }
            Op::Target { authority, exact, similar } => {
                let a = self.authority(authority)?;
                let data = match convert::target_from_wire(&exact, &similar) {
                    Some(content) => a.target(&content)?,
                    None => None,
                };
                ok(TargetOk { data: data.map(B64) })
            }
            Op::Recover { authority, view } => {
                let a = self.authority(authority)?;
                let view: Vec<&[u8]> = view.iter().map(|b| b.0.as_slice()).collect();
                ok(RecoverOk { found: a.recover(&view)?.into_iter().map(B64).collect() })
            }
            op @ (Op::KatX25519 { .. }
            | Op::KatEd25519Verify { .. }
            | Op::KatAeadSeal { .. }
            | Op::KatAeadOpen { .. }
            | Op::KatHkdfSha256 { .. }
            | Op::KatHmacSha256 { .. }
            | Op::KatProtocol { .. }) => self.known_answer(op),
            other => Err(ImplError::Unsupported(format!("`{}`", other.name()))),
        }
    }

    /// A known-answer operation, forwarded to the design's primitives.
    fn known_answer(&self, op: Op) -> Result<serde_json::Value, ImplError> {
        let Some(p) = self.primitives.as_deref() else {
            return Err(ImplError::Unsupported(format!("`{}`: the design exposes no primitives", op.name())));
        };
        let aead = |alg| convert::aead_from_wire(alg).ok_or_else(|| ImplError::Unsupported("this AEAD".to_owned()));
        match op {
            Op::KatX25519 { private, public } => ok(SharedOk { shared: B64(p.x25519(&private.0, &public.0)?) }),
            Op::KatEd25519Verify { public, msg, sig } => {
                ok(ValidOk { valid: p.ed25519_verify(&public.0, &msg.0, &sig.0)? })
            }
            Op::KatAeadSeal { alg, key, nonce, aad, msg } => {
                ok(SealOk { ct: B64(p.aead_seal(aead(alg)?, &key.0, &nonce.0, &aad.0, &msg.0)?) })
            }
            Op::KatAeadOpen { alg, key, nonce, aad, ct } => {
                ok(OpenOk { msg: B64(p.aead_open(aead(alg)?, &key.0, &nonce.0, &aad.0, &ct.0)?) })
            }
            Op::KatHkdfSha256 { ikm, salt, info, len } => {
                let len =
                    usize::try_from(len).map_err(|_| ImplError::Rejected(format!("HKDF output of {len} bytes")))?;
                ok(OkmOk { okm: B64(p.hkdf_sha256(&ikm.0, &salt.0, &info.0, len)?) })
            }
            Op::KatHmacSha256 { key, msg } => ok(MacOk { mac: B64(p.hmac_sha256(&key.0, &msg.0)?) }),
            Op::KatProtocol { function, inputs } => {
                let inputs = inputs.into_iter().map(|(k, v)| (k, v.0)).collect();
                let outputs = p.protocol_function(&function, &inputs)?;
                ok(OutputsOk { outputs: outputs.into_iter().map(|(k, v)| (k, B64(v))).collect() })
            }
            other => Err(ImplError::Unsupported(format!("`{}`", other.name()))),
        }
    }

    fn keep(&mut self, d: Box<dyn Device>) -> u64 {
        self.next += 1;
        self.devices.insert(self.next, d);
        self.next
    }

    fn device(&mut self, handle: u64) -> Result<&mut Box<dyn Device>, ImplError> {
        self.devices.get_mut(&handle).ok_or_else(|| ImplError::Failed(format!("no device with handle {handle}")))
    }

    /// The authority behind `handle`: `unsupported` when the design has no
    /// authorities at all (as the protocol asks), `failed` for a handle
    /// that was never given out.
    fn authority(&mut self, handle: u64) -> Result<&mut Box<dyn Authority>, ImplError> {
        if self.design.authorities().is_empty() {
            return Err(ImplError::Unsupported("authorities: this design has none".to_owned()));
        }
        self.authorities.get_mut(&handle).ok_or_else(|| ImplError::Failed(format!("no authority has handle {handle}")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Command, ExecDesign, Limits};
    use serde_json::{json, Value};

    /// The answers to `input` of a design that can make no device: an exec
    /// design whose program does not exist (nothing is started).
    fn answers(input: &str) -> Vec<Value> {
        let command = Command { program: "/nonexistent/doormat-test".to_owned(), args: Vec::new(), cwd: None };
        let design = ExecDesign::new("refuses", command, Limits::default());
        let mut out = Vec::new();
        serve(Box::new(design), input.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn every_line_gets_one_answer_in_order() {
        let seed = format!("\"{}\"", "A".repeat(43) + "=");
        let input = [
            r#"{"id":0,"op":"hello","protocol":1}"#.to_owned(),
            format!(r#"{{"id":1,"op":"create_device","addr":"alice","seed":{seed}}}"#),
            r#"{"id":2,"op":"create_device","addr":"alice/phone","seed":"AAEC"}"#.to_owned(),
            format!(r#"{{"id":3,"op":"create_device","addr":"alice/phone","seed":{seed}}}"#),
            r#"{"id":4,"op":"target","authority":1,"similar":"x"}"#.to_owned(),
            r#"{"id":5,"op":"teleport"}"#.to_owned(),
            "not json".to_owned(),
        ]
        .join("\n");
        let a = answers(&input);
        let hello = json!({"protocol": 1, "name": "refuses", "version": env!("CARGO_PKG_VERSION"),
            "capabilities": {"export_state": false, "forensic_open": true}, "authorities": []});
        assert_eq!(a[0], json!({"id": 0, "ok": hello}));
        let error = |id: u64, kind: &str, message: &str| json!({"id": id, "error": {"kind": kind, "message": message}});
        assert_eq!(a[1], error(1, "failed", "`alice` is not a device address: expected `user/device`"));
        assert_eq!(a[2], error(2, "failed", "a seed must be 32 bytes, not 3"));
        assert_eq!(a[3]["error"]["kind"], "failed", "the design's own error, passed on");
        assert!(a[3]["error"]["message"].as_str().unwrap().contains("cannot start `/nonexistent/doormat-test`"));
        assert_eq!(a[4], error(4, "unsupported", "authorities: this design has none"));
        assert_eq!(a[5], error(5, "unsupported", "unknown operation `teleport`"));
        assert_eq!(a[6]["id"], 0);
        assert_eq!(a[6]["error"]["kind"], "failed");
        assert_eq!(a.len(), 7);
    }
}
