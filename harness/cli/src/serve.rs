//! `doormat serve DESIGN`: a built-in design served over the exec protocol
//! on standard input and output, so the protocol can be tested against the
//! in-process audit (the reports must be identical) and benchmarked.
//!
//! A design that exposes its primitives offers all six in `hello` (and its
//! protocol as `kat_protocol`), and each known-answer operation is forwarded
//! to them as it is: an `Unsupported` answer stays `unsupported`, so the
//! known-answer results over the protocol equal those in process.

use crate::{Failure, EXIT_OK};
use anyhow::Context;
use doormat_engine::{
    AeadAlg, Authority, Device, DirectoryEntry, EncryptRequest, Event, ImplError, InEnvelope, Primitives, TargetContent,
};
use doormat_formats::wire::{
    AuthorityOk, DecryptOk, DeviceOk, EmptyOk, EncryptOk, ErrorKind, EventsOk, ForensicOk, HelloOk, MacOk, OkmOk, Op,
    OpenOk, OutputsOk, PublishOk, RecoverOk, Request, Response, SealOk, SharedOk, StateOk, TargetOk, ValidOk, WireAead,
    WireCapabilities, WireEnvelope, WireError, WireEvent, WirePrimitive, B64, PROTOCOL,
};
use doormat_formats::{DeviceAddr, UserId};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

struct Server {
    design: Box<dyn doormat_engine::Design>,
    primitives: Option<Box<dyn Primitives>>,
    devices: BTreeMap<u64, Box<dyn Device>>,
    authorities: BTreeMap<u64, Box<dyn Authority>>,
    next: u64,
}

fn addr(s: &str) -> Result<DeviceAddr, ImplError> {
    s.split_once('/')
        .map(|(u, d)| DeviceAddr::new(u, d))
        .ok_or_else(|| ImplError::Failed(format!("`{s}` is not a device address")))
}

fn seed(b: &B64) -> Result<[u8; 32], ImplError> {
    <[u8; 32]>::try_from(b.0.as_slice()).map_err(|_| ImplError::Failed("a seed must be 32 bytes".to_owned()))
}

fn wire_events(events: Vec<Event>) -> Vec<WireEvent> {
    events
        .into_iter()
        .map(|e| WireEvent {
            kind: e.kind.wire_name().to_owned(),
            user: e.user.0,
            device: e.device.map(|d| d.to_string()),
        })
        .collect()
}

fn ok<T: Serialize>(v: T) -> Result<serde_json::Value, ImplError> {
    serde_json::to_value(v).map_err(|e| ImplError::Failed(e.to_string()))
}

fn aead(alg: WireAead) -> Result<AeadAlg, ImplError> {
    match alg {
        WireAead::ChaCha20Poly1305 => Ok(AeadAlg::ChaCha20Poly1305),
        WireAead::Aes256Gcm => Ok(AeadAlg::Aes256Gcm),
        _ => Err(ImplError::Unsupported("this AEAD".to_owned())),
    }
}

impl Server {
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
            Op::CreateDevice { addr: a, seed: s } => {
                let d = self.design.create_device(&addr(&a)?, seed(&s)?)?;
                ok(DeviceOk { device: self.keep(d) })
            }
            Op::ImportDevice { addr: a, state } => {
                let d = self.design.import_device(&addr(&a)?, &state.0)?;
                ok(DeviceOk { device: self.keep(d) })
            }
            Op::Publish { device } => {
                let b = self.device(device)?.publish()?;
                ok(PublishOk {
                    identity: B64(b.identity),
                    prekey: B64(b.prekey),
                    one_time: b.one_time.into_iter().map(B64).collect(),
                })
            }
            Op::Encrypt { device, conversation, group, members, recipients, plaintext, acknowledged } => {
                let members: Vec<UserId> = members.into_iter().map(UserId).collect();
                let recipients = recipients
                    .into_iter()
                    .map(|e| {
                        Ok(DirectoryEntry {
                            device: addr(&e.device)?,
                            identity: e.identity.0,
                            prekey: e.prekey.0,
                            one_time: e.one_time.map(|o| o.0),
                        })
                    })
                    .collect::<Result<Vec<_>, ImplError>>()?;
                let req = EncryptRequest {
                    conversation: &conversation,
                    group,
                    members: &members,
                    recipients: &recipients,
                    plaintext: &plaintext.0,
                };
                let dev = self.device(device)?;
                if acknowledged {
                    dev.user_action(&doormat_engine::UserAction::Acknowledge)?;
                }
                let sent = dev.encrypt(&req)?;
                ok(EncryptOk {
                    blocked: sent.blocked,
                    envelopes: sent
                        .envelopes
                        .into_iter()
                        .map(|e| WireEnvelope { to: e.to.iter().map(ToString::to_string).collect(), body: B64(e.body) })
                        .collect(),
                    events: wire_events(sent.events),
                })
            }
            Op::Decrypt { device, from, conversation, body } => {
                let from = addr(&from)?;
                let r = self.device(device)?.decrypt(&InEnvelope {
                    from: &from,
                    conversation: &conversation,
                    body: &body.0,
                })?;
                ok(DecryptOk {
                    plaintext: r.plaintext.map(B64),
                    sender: r.sender.map(|s| s.to_string()),
                    events: wire_events(r.events),
                })
            }
            Op::ForensicOpen { device, from, conversation, body } => {
                let from = addr(&from)?;
                let pts = self.device(device)?.forensic_open(&InEnvelope {
                    from: &from,
                    conversation: &conversation,
                    body: &body.0,
                })?;
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
                let e = seed(&entropy)?;
                self.device(device)?.add_entropy(&e);
                ok(EmptyOk {})
            }
            Op::Verify { device, contact, identity } => {
                let c = addr(&contact)?;
                ok(EventsOk { events: wire_events(self.device(device)?.verify(&c, &identity.0)?) })
            }
            Op::ProviderPush { device, role, data } => {
                self.device(device)?.provider_push(&role, &data.0)?;
                ok(EmptyOk {})
            }
            Op::CreateAuthority { role, seed: s } => {
                let a = self.design.create_authority(&role, seed(&s)?)?;
                let public = B64(a.public());
                self.next += 1;
                self.authorities.insert(self.next, a);
                ok(AuthorityOk { authority: self.next, public })
            }
            Op::Target { authority, exact, similar } => {
                let a = self
                    .authorities
                    .get_mut(&authority)
                    .ok_or_else(|| no_authority(self.design.as_ref(), authority))?;
                let data = match (&exact, &similar) {
                    (Some(e), _) => a.target(&TargetContent::Exact(&e.0))?,
                    (None, Some(t)) => a.target(&TargetContent::Similar(t))?,
                    (None, None) => None,
                };
                ok(TargetOk { data: data.map(B64) })
            }
            Op::Recover { authority, view } => {
                let a = self
                    .authorities
                    .get_mut(&authority)
                    .ok_or_else(|| no_authority(self.design.as_ref(), authority))?;
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
}

/// Serves `design` until standard input ends.
pub fn run(design: &str) -> Result<u8, Failure> {
    let Some(design) = doormat_designs::builtin(design) else {
        return Err(Failure::Usage(format!(
            "unknown design `{design}`: expected one of {}",
            doormat_designs::names().join(", ")
        )));
    };
    let primitives = design.primitives();
    let mut server = Server { design, primitives, devices: BTreeMap::new(), authorities: BTreeMap::new(), next: 0 };
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        let line = line.context("reading standard input")?;
        let resp = match serde_json::from_str::<Request>(&line) {
            Ok(req) => {
                let (ok, error) = match server.handle(req.op) {
                    Ok(v) => (Some(v), None),
                    Err(e) => {
                        let (kind, message) = match e {
                            ImplError::Rejected(m) => (ErrorKind::Rejected, m),
                            ImplError::Unsupported(m) => (ErrorKind::Unsupported, m),
                            ImplError::Failed(m) => (ErrorKind::Failed, m),
                            other => (ErrorKind::Failed, other.to_string()),
                        };
                        (None, Some(WireError { kind, message }))
                    }
                };
                Response { id: req.id, ok, error }
            }
            Err(e) => {
                let value = serde_json::from_str::<serde_json::Value>(&line).ok();
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
        };
        serde_json::to_writer(&mut out, &resp).context("writing a response")?;
        out.write_all(b"\n").context("writing a response")?;
        out.flush().context("writing a response")?;
    }
    Ok(EXIT_OK)
}

/// The error for an authority handle that names none: `unsupported` when
/// the design has no authorities at all (as the protocol asks), `failed`
/// for a handle that was never given out.
fn no_authority(design: &dyn doormat_engine::Design, handle: u64) -> ImplError {
    if design.authorities().is_empty() {
        ImplError::Unsupported("authorities: this design has none".to_owned())
    } else {
        ImplError::Failed(format!("no authority has handle {handle}"))
    }
}
