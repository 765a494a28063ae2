//! Red team: the cheapest dishonest designs that would pass an oracle that
//! trusts client code, each otherwise honest, each caught by the oracle
//! named. These live here, not in the zoo: they exist to keep the oracles
//! honest.
//!
//! Every trick is one [`Trick`] of one small design (static X25519 keys
//! per device, ChaCha20-Poly1305; the envelope names the addressee and
//! carries the sender's public key):
//!
//! - `ReplayCache`: no forward secrecy (static keys), and a seized copy
//!   refuses old envelopes only because its "seen" set says so;
//! - `HistoryInState`: forward secrecy by keys, but the state keeps every
//!   plaintext it handled (as serde writes a `Vec<u8>`: numbers);
//! - `AppKey`: one key inside every copy of the app, behind a "not
//!   addressed to me" check;
//! - `LateWarning`: shows "device added" only in the encryption that
//!   already went to the new device;
//! - `NoSender`: decrypts but never says who sent it;
//! - `ProviderMember`: adds to a group whoever the provider lists, as an
//!   MLS client committing the provider's member list would, telling its
//!   user only in the send that already goes to the newcomer;
//! - `BrotliPreview`: encrypts properly, and puts a brotli-compressed
//!   "preview" of the text in front of the envelope, after a length field
//!   (brotli has no header, and the stream does not start the record).
//!
//! `Blocking` is no trick: it holds the message until its user acknowledges
//! the new device, which the oracle grades "blocked until acknowledged".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use doormat_engine::{
    Bundle, Capabilities, Design, Device, EncryptRequest, Event, EventKind, ImplError, InEnvelope, OutEnvelope,
    Received, Seed, Sent, UserAction,
};
use doormat_formats::{DeviceAddr, Parameters, Property, Vector};
use doormat_oracles::{VectorResult, Verdict};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[path = "support/brotli.rs"]
mod brotli_encoder;
use brotli_encoder::brotli;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Trick {
    /// Honest for the properties under test (the control).
    None,
    ReplayCache,
    HistoryInState,
    AppKey,
    LateWarning,
    NoSender,
    /// Adds any member the provider lists, telling only in the same send.
    ProviderMember,
    /// A brotli "preview" of the text in front of every envelope.
    BrotliPreview,
    /// Holds the message until the user acknowledges the new device, then
    /// sends to it: honest, and graded "blocked until acknowledged".
    Blocking,
}

#[derive(Debug)]
struct TrickDesign(Trick);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    trick: Trick,
    me: (String, String),
    secret: [u8; 32],
    /// Envelopes already opened (the replay cache).
    seen: BTreeSet<Vec<u8>>,
    /// Devices of each contact seen so far.
    known: BTreeMap<String, BTreeSet<String>>,
    /// Plaintexts handled (only `HistoryInState` keeps them).
    history: Vec<Vec<u8>>,
    counter: u64,
    /// Members of each group seen so far.
    members: BTreeMap<String, BTreeSet<String>>,
    /// The user acknowledged the notices of a held message (`Blocking`).
    acknowledged: bool,
}

#[derive(Debug, Clone)]
struct TrickDevice(State);

/// An envelope's parts: addressee, sender public key, sender address, nonce, ciphertext.
type Parsed = (Vec<u8>, [u8; 32], Vec<u8>, [u8; 12], Vec<u8>);

const APP_KEY: [u8; 32] = *b"the same key in every app copy!!";

fn public(secret: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*secret)).to_bytes()
}

fn key(trick: Trick, secret: &[u8; 32], peer: &[u8; 32]) -> [u8; 32] {
    if trick == Trick::AppKey {
        return APP_KEY;
    }
    let shared = x25519_dalek::StaticSecret::from(*secret).diffie_hellman(&x25519_dalek::PublicKey::from(*peer));
    Sha256::digest(shared.as_bytes()).into()
}

fn addr_bytes(a: &DeviceAddr) -> Vec<u8> {
    format!("{}/{}", a.user.0, a.device).into_bytes()
}

impl Design for TrickDesign {
    fn name(&self) -> &str {
        "trick"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::with_export(true)
    }

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(TrickDevice(State {
            trick: self.0,
            me: (addr.user.0.clone(), addr.device.clone()),
            secret: seed,
            seen: BTreeSet::new(),
            known: BTreeMap::new(),
            history: Vec::new(),
            counter: 0,
            members: BTreeMap::new(),
            acknowledged: false,
        })))
    }

    fn import_device(&self, _addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        serde_json::from_slice(state)
            .map(|s| Box::new(TrickDevice(s)) as Box<dyn Device>)
            .map_err(|e| ImplError::Rejected(e.to_string()))
    }
}

impl TrickDevice {
    fn me(&self) -> DeviceAddr {
        DeviceAddr::new(&self.0.me.0, &self.0.me.1)
    }

    /// `preview (u16-length-prefixed, empty but for BrotliPreview) ‖ to
    /// (len-prefixed) ‖ sender public ‖ sender address (len-prefixed) ‖
    /// nonce ‖ ciphertext`.
    fn parse(body: &[u8]) -> Option<Parsed> {
        let (len, rest) = body.split_first_chunk::<2>()?;
        let (_preview, rest) = rest.split_at_checked(usize::from(u16::from_be_bytes(*len)))?;
        let (&n, rest) = rest.split_first()?;
        let (to, rest) = rest.split_at_checked(n as usize)?;
        let (pk, rest) = rest.split_at_checked(32)?;
        let (&n, rest) = rest.split_first()?;
        let (from, rest) = rest.split_at_checked(n as usize)?;
        let (nonce, ct) = rest.split_at_checked(12)?;
        Some((to.to_vec(), pk.try_into().ok()?, from.to_vec(), nonce.try_into().ok()?, ct.to_vec()))
    }

    /// The plaintext, sender and the members the sender listed, with the
    /// keys alone. Inside the encryption: members (length-prefixed,
    /// comma-separated) then the plaintext.
    fn open(&self, body: &[u8]) -> Option<(Vec<u8>, DeviceAddr, Vec<String>)> {
        let (_, pk, from, nonce, ct) = Self::parse(body)?;
        let k = key(self.0.trick, &self.0.secret, &pk);
        let inner =
            ChaCha20Poly1305::new(Key::from_slice(&k)).decrypt(Nonce::from_slice(&nonce), ct.as_slice()).ok()?;
        let (&n, rest) = inner.split_first()?;
        let (members, pt) = rest.split_at_checked(n as usize)?;
        let members = String::from_utf8(members.to_vec()).ok()?;
        let members = members.split(',').filter(|m| !m.is_empty()).map(str::to_owned).collect();
        let from = String::from_utf8(from).ok()?;
        let (u, d) = from.split_once('/')?;
        Some((pt.to_vec(), DeviceAddr::new(u, d), members))
    }
}

impl Device for TrickDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        Ok(Bundle { identity: public(&self.0.secret).to_vec(), prekey: Vec::new(), one_time: Vec::new() })
    }

    fn user_action(&mut self, action: &UserAction<'_>) -> Result<(), ImplError> {
        if matches!(action, UserAction::Acknowledge) {
            self.0.acknowledged = true;
        }
        Ok(())
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let me = self.me();
        let mut out = Sent::default();
        if self.0.trick == Trick::Blocking && !std::mem::take(&mut self.0.acknowledged) {
            // Show every new device of a known contact, and send nothing yet.
            for r in req.recipients.iter().filter(|r| r.device != me) {
                let known = self.0.known.get(&r.device.user.0);
                if known.is_some_and(|k| !k.is_empty() && !k.contains(&r.device.device)) {
                    out.events.push(Event {
                        kind: EventKind::DeviceAdded,
                        user: r.device.user.clone(),
                        device: Some(r.device.clone()),
                    });
                }
            }
            if !out.events.is_empty() {
                out.blocked = true;
                return Ok(out);
            }
        }
        // Group members: a newcomer to a known group is shown; the honest
        // client leaves it out of this one message.
        let mut held: BTreeSet<String> = BTreeSet::new();
        if req.group {
            let known = self.0.members.entry(req.conversation.to_owned()).or_default();
            let first = known.is_empty();
            for u in req.members {
                if known.insert(u.0.clone()) && !first && *u != me.user {
                    out.events.push(Event { kind: EventKind::MemberAdded, user: u.clone(), device: None });
                    if self.0.trick != Trick::ProviderMember {
                        held.insert(u.0.clone());
                    }
                }
            }
        }
        let listed: Vec<&str> = if req.group { req.members.iter().map(|m| m.0.as_str()).collect() } else { Vec::new() };
        let listed = listed.join(",");
        let mut inner = vec![u8::try_from(listed.len()).map_err(|_| ImplError::Rejected("too many members".into()))?];
        inner.extend_from_slice(listed.as_bytes());
        inner.extend_from_slice(req.plaintext);
        for r in req.recipients.iter().filter(|r| r.device != me && !held.contains(&r.device.user.0)) {
            let user = r.device.user.0.clone();
            let known = self.0.known.entry(user.clone()).or_default();
            let first = known.is_empty();
            if known.insert(r.device.device.clone()) && !first {
                // The notice comes with the same operation that encrypts to it.
                if self.0.trick == Trick::Blocking {
                    // Shown when the message was held; acknowledged since.
                } else if self.0.trick == Trick::LateWarning {
                    out.events.push(Event {
                        kind: EventKind::DeviceAdded,
                        user: r.device.user.clone(),
                        device: Some(r.device.clone()),
                    });
                } else {
                    // Honest: told now, sent to it from the next message on.
                    out.events.push(Event {
                        kind: EventKind::DeviceAdded,
                        user: r.device.user.clone(),
                        device: Some(r.device.clone()),
                    });
                    continue;
                }
            }
            let pk: [u8; 32] =
                r.identity.as_slice().try_into().map_err(|_| ImplError::Rejected("bad identity".into()))?;
            let k = key(self.0.trick, &self.0.secret, &pk);
            self.0.counter += 1;
            let mut nonce = [0u8; 12];
            nonce[..8].copy_from_slice(&self.0.counter.to_be_bytes());
            nonce[8..].copy_from_slice(&Sha256::digest(addr_bytes(&r.device))[..4]);
            let ct = ChaCha20Poly1305::new(Key::from_slice(&k))
                .encrypt(Nonce::from_slice(&nonce), inner.as_slice())
                .map_err(|e| ImplError::Failed(e.to_string()))?;
            let (to, from) = (addr_bytes(&r.device), addr_bytes(&me));
            let preview = if self.0.trick == Trick::BrotliPreview {
                brotli([b"preview: ", req.plaintext].concat().as_slice(), 5, 22)
            } else {
                Vec::new()
            };
            let mut body = u16::try_from(preview.len()).expect("a short preview").to_be_bytes().to_vec();
            body.extend_from_slice(&preview);
            body.push(to.len() as u8);
            body.extend_from_slice(&to);
            body.extend_from_slice(&public(&self.0.secret));
            body.push(from.len() as u8);
            body.extend_from_slice(&from);
            body.extend_from_slice(&nonce);
            body.extend_from_slice(&ct);
            out.envelopes.push(OutEnvelope { to: vec![r.device.clone()], body });
        }
        if self.0.trick == Trick::HistoryInState {
            self.0.history.push(req.plaintext.to_vec());
        }
        Ok(out)
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let (to, ..) = Self::parse(env.body).ok_or_else(|| ImplError::Rejected("garbage".into()))?;
        // Courtesy: "not addressed to me".
        if to != addr_bytes(&self.me()) {
            return Err(ImplError::Rejected("not addressed to me".into()));
        }
        // Courtesy: the replay cache.
        if !self.0.seen.insert(env.body.to_vec()) {
            return Err(ImplError::Rejected("replay".into()));
        }
        let (pt, from, members) =
            self.open(env.body).ok_or_else(|| ImplError::Rejected("does not authenticate".into()))?;
        // First sight of a group's members, from a member's message.
        if !members.is_empty() {
            let known = self.0.members.entry(env.conversation.to_owned()).or_default();
            if known.is_empty() {
                known.extend(members);
            }
        }
        if self.0.trick == Trick::HistoryInState {
            self.0.history.push(pt.clone());
        }
        let known = self.0.known.entry(from.user.0.clone()).or_default();
        known.insert(from.device.clone());
        let sender = if self.0.trick == Trick::NoSender { None } else { Some(from) };
        Ok(Received { plaintext: Some(pt), sender, events: Vec::new() })
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(self.clone()))
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        serde_json::to_vec(&self.0).map_err(|e| ImplError::Failed(e.to_string()))
    }

    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        // Every key held, no cache, no address check. (The static key is
        // not forward secret, whatever `decrypt` says.)
        Ok(self.open(env.body).map(|(pt, ..)| vec![pt]).unwrap_or_default())
    }
}

fn vector(path: &str) -> doormat_formats::Scenario {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path);
    let src = std::fs::read_to_string(&p).unwrap();
    let id = p.file_stem().unwrap().to_string_lossy().into_owned();
    Vector::parse(&p.display().to_string(), &id, &src).unwrap()
}

fn judge(trick: Trick, path: &str) -> VectorResult {
    let design = TrickDesign(trick);
    doormat_oracles::judge(&doormat_engine::run(&design, &vector(path)), &Parameters::default())
}

fn verdict(r: &VectorResult, p: Property) -> Verdict {
    r.judgement(p).unwrap().verdict
}

fn evidence(r: &VectorResult, p: Property) -> String {
    let j = r.judgement(p).unwrap();
    j.findings.iter().flat_map(|f| f.evidence.iter().map(|e| e.text.clone())).collect::<Vec<_>>().join("\n")
}

const SEIZE: &str = "vectors/seizure/seize-and-heal.yaml";
const GHOST: &str = "vectors/provider-moves/ghost-one-to-one.yaml";
const BASIC: &str = "vectors/basic/one-to-one.yaml";
const ACTIVE: &str = "vectors/seizure/active-copy.yaml";
const MEMBER: &str = "vectors/provider-moves/provider-adds-member.yaml";

/// The control: the same design without a trick keeps the properties the
/// tricks break (it has static keys, so forward secrecy is not among them).
#[test]
fn the_control_keeps_what_the_tricks_break() {
    let r = judge(Trick::None, BASIC);
    assert_eq!(verdict(&r, Property::OutsiderBlind), Verdict::Pass, "{r:#?}");
    assert_eq!(verdict(&r, Property::Delivers), Verdict::Pass, "{r:#?}");
    let g = judge(Trick::None, GHOST);
    assert_eq!(
        verdict(&g, Property::ChangeVisible),
        Verdict::Pass,
        "{}",
        g.judgement(Property::ChangeVisible).unwrap().note
    );
    assert_eq!(verdict(&g, Property::RecipientsOnly), Verdict::Pass, "{}", evidence(&g, Property::RecipientsOnly));
}

/// A replay cache is not forward secrecy: the seized copy's own decrypt
/// refuses the old envelopes, its forensic open reads them.
#[test]
fn a_replay_cache_does_not_pass_for_forward_secrecy() {
    let r = judge(Trick::ReplayCache, SEIZE);
    assert_eq!(verdict(&r, Property::ForwardSecrecy), Verdict::Fail);
    let ev = evidence(&r, Property::ForwardSecrecy);
    assert!(ev.contains("opened the provider's copy with the keys the state holds"), "{ev}");
    assert!(ev.contains("a copy of bob/phone's state seized at step 7"), "{ev}");
}

/// Plaintext kept in the state (as JSON numbers) is found in the exported
/// state, although no key opens the old envelopes.
#[test]
fn plaintext_history_in_the_state_fails_forward_secrecy() {
    let r = judge(Trick::HistoryInState, SEIZE);
    assert_eq!(verdict(&r, Property::ForwardSecrecy), Verdict::Fail);
    let ev = evidence(&r, Property::ForwardSecrecy);
    // m2 is bob's own: no key of his opens it again, but his state kept it.
    assert!(ev.contains("holds the text of m2") && ev.contains("JSON array of byte numbers"), "{ev}");
    let control = judge(Trick::ReplayCache, SEIZE);
    assert!(!evidence(&control, Property::ForwardSecrecy).contains("holds the text"), "the control keeps no history");
}

/// One key in every copy of the app, behind an address check: the twin
/// (same names, never enrolled) reads.
#[test]
fn an_app_wide_key_behind_an_address_check_fails_outsider_blind() {
    let r = judge(Trick::AppKey, BASIC);
    assert_eq!(verdict(&r, Property::OutsiderBlind), Verdict::Fail);
    let ev = evidence(&r, Property::OutsiderBlind);
    assert!(ev.contains("a fresh install of the app calling itself bob/phone"), "{ev}");
}

/// A warning in the same operation that sends to the ghost is not "told".
#[test]
fn a_warning_while_sending_does_not_count_as_told() {
    let r = judge(Trick::LateWarning, GHOST);
    assert_eq!(verdict(&r, Property::ChangeVisible), Verdict::Fail);
    let ev = evidence(&r, Property::ChangeVisible);
    assert!(ev.contains("warned only while sending"), "{ev}");
    assert_eq!(verdict(&r, Property::RecipientsOnly), Verdict::Fail, "the ghost's reads are hidden access");
}

/// A design that names no sender has not delivered.
#[test]
fn a_null_sender_is_not_a_delivery() {
    let r = judge(Trick::NoSender, BASIC);
    assert_eq!(verdict(&r, Property::Delivers), Verdict::Fail);
    assert!(evidence(&r, Property::Delivers).contains("attributed to nobody"), "{}", evidence(&r, Property::Delivers));
}

/// Text compressed with brotli, which has no header, after a length field
/// at the start of every envelope: the provider reads it; the control,
/// the same design without the preview, keeps provider-blind.
#[test]
fn a_brotli_preview_behind_a_length_field_fails_provider_blind() {
    let r = judge(Trick::BrotliPreview, BASIC);
    assert_eq!(verdict(&r, Property::ProviderBlind), Verdict::Fail);
    let ev = evidence(&r, Property::ProviderBlind);
    assert!(ev.contains("brotli stream at offset 2"), "{ev}");
    let control = judge(Trick::None, BASIC);
    assert_eq!(
        verdict(&control, Property::ProviderBlind),
        Verdict::Pass,
        "{}",
        evidence(&control, Property::ProviderBlind)
    );
}

/// A seized copy that still speaks as the device after the owner healed:
/// static keys let it sign and seal as Bob, and Alice accepts.
#[test]
fn a_copy_still_speaking_as_the_device_fails_post_compromise() {
    let r = judge(Trick::None, ACTIVE);
    assert_eq!(verdict(&r, Property::PostCompromise), Verdict::Fail);
    let ev = evidence(&r, Property::PostCompromise);
    assert!(
        ev.contains("a copy of bob/phone's state seized at step 6 sent x1 as bob/phone at step 11")
            && ev.contains("alice/phone accepted it as bob/phone's"),
        "{ev}"
    );
    // The copy's own message is not counted as something it read.
    assert!(!ev.contains("still read x1"), "{ev}");
    // And the owner's messages were all delivered: the copy's is owed nothing.
    assert_eq!(verdict(&r, Property::Delivers), Verdict::Pass, "{}", evidence(&r, Property::Delivers));
}

/// A client that adds whoever the provider lists to a group, telling its
/// user only in the send that already reached the newcomer, is not "told";
/// the honest control tells first and leaves the newcomer out.
#[test]
fn a_provider_listed_member_told_while_sending_fails_change_visible() {
    let r = judge(Trick::ProviderMember, MEMBER);
    assert_eq!(verdict(&r, Property::ChangeVisible), Verdict::Fail);
    let ev = evidence(&r, Property::ChangeVisible);
    assert!(ev.contains("warned only while sending"), "{ev}");
    assert_eq!(verdict(&r, Property::RecipientsOnly), Verdict::Fail, "{}", evidence(&r, Property::RecipientsOnly));
    let control = judge(Trick::None, MEMBER);
    let j = control.judgement(Property::ChangeVisible).unwrap();
    assert_eq!(j.verdict, Verdict::Pass, "{}", j.note);
    assert_eq!(j.grade.as_deref(), Some("prevented"), "{}", j.note);
}

/// A client that holds the message until its user acknowledges the new
/// device passes change-visible with the grade "blocked until
/// acknowledged"; the ghost's reads are visible access, not hidden.
#[test]
fn holding_the_message_until_acknowledged_is_graded_so() {
    let r = judge(Trick::Blocking, GHOST);
    let j = r.judgement(Property::ChangeVisible).unwrap();
    assert_eq!(j.verdict, Verdict::Pass, "{}", j.note);
    assert_eq!(j.grade.as_deref(), Some("blocked until acknowledged"), "{}", j.note);
    assert!(j.note.contains("until its user acknowledged it"), "{}", j.note);
    assert_eq!(verdict(&r, Property::RecipientsOnly), Verdict::Pass, "{}", evidence(&r, Property::RecipientsOnly));
    assert_eq!(verdict(&r, Property::Delivers), Verdict::Pass, "{}", evidence(&r, Property::Delivers));
}
