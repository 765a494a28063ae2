//! `megolm`: group encryption as Matrix clients do it with vodozemac. Each
//! sending device keeps one outbound `megolm::GroupSession` per
//! conversation; its `megolm::SessionKey` (ratchet at the current index and
//! the session's Ed25519 public key, signed by it) is shared with every
//! recipient device over the pairwise Olm channel of [`crate::vodo`] (an
//! `m.room_key`), and the message itself goes out once, Megolm-encrypted,
//! in one envelope addressed to all recipient devices. Receivers keep an
//! `megolm::InboundGroupSession` per (sharing device, session id), at the
//! first index they were given, as Matrix clients do.
//!
//! Envelope bodies, in the order a [`Sent`] lists them: first the room-key
//! shares, each `version (1) || kind (0 or 1) || vodozemac Olm message` to
//! one device, whose Olm plaintext (content kind 2) carries the conversation
//! id and the session key (length-prefixed each); then the message,
//! `version (1) || kind 2 || session id (32, the session's Ed25519 key) ||
//! vodozemac Megolm message` to every recipient device, the Megolm
//! plaintext being a [`Payload`] (conversation id, member list, plaintext).
//! The Megolm message carries its index, a MAC and the session's Ed25519
//! signature, which vodozemac checks on decryption.
//!
//! Rotation, as Element does it: a new outbound session when a device the
//! current one was shared with is no longer a recipient (a member or device
//! removed, or its identity changed), and after 100 messages (the Matrix
//! default `rotation_period_msgs`). A device that joins gets the current
//! session from its current index, so it cannot read earlier messages.
//!
//! Receiving: a Megolm message is opened only with the session that the
//! device the provider names as sender shared over Olm (a message whose
//! sender is not bound to the session's sharer is refused), in the
//! conversation it was shared for; an index already decrypted is refused
//! as a replay, as the Megolm specification recommends ("track the ratchet
//! indices they have received and ... reject messages with a ratchet index
//! that they have already decrypted"). A device keeps an inbound session for
//! its own outbound one, to read its own messages, as Matrix clients do.
//!
//! What Megolm does not give, by design (Megolm specification,
//! <https://gitlab.matrix.org/matrix-org/olm/-/blob/master/docs/megolm.md>,
//! "Lack of Backward Secrecy" and "Partial Forward Secrecy"): whoever holds
//! a session at index i derives every later key of it, so a seized device
//! keeps reading a sender's messages until that sender rotates; and a kept
//! inbound session at its first index opens every message of it from that
//! index on. A seized copy refuses to re-read indices the device had already
//! decrypted only because of the replay bookkeeping; the keys are there,
//! and [`Device::forensic_open`] uses them: every inbound session the state
//! holds tries a Megolm message at its own index, whatever the replay
//! memory, the sharer binding or the conversation say; a room-key share is
//! opened by the Olm channel's forensic open and its session kept.
//!
//! What vodozemac does not let us control: randomness (see [`crate::vodo`]);
//! the device seed and [`Device::add_entropy`] are ignored.
//!
//! **Invariants:** `publish`, `encrypt` and `decrypt` work on a copy and keep
//! it only on success; nothing that fails to authenticate is returned; an
//! outbound session is never shared with a device after one of the devices
//! it was shared with stopped being a recipient; no input makes this code
//! panic.

use crate::framing::{rejected, Payload, Reader, Writer};
use crate::persist::{pairs, to_state, Peer};
use crate::vodo::{
    decode_error, payload_text, Channel, Live, VodozemacPrimitives, CONTENT_ROOM_KEY, KIND_NORMAL, KIND_PREKEY, VERSION,
};
use doormat_engine::adapter::Seed;
use doormat_engine::{
    Design, Device, EncryptRequest, Event, ImplError, InEnvelope, OutEnvelope, Primitives, Received, Sent,
};
use doormat_formats::DeviceAddr;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use vodozemac::megolm::{DecryptionError, GroupSession, InboundGroupSession, MegolmMessage, SessionConfig, SessionKey};

const NAME: &str = "megolm";
/// Envelope kind of a Megolm message.
const KIND_GROUP: u8 = 2;
/// Messages after which an outbound session is replaced (Matrix's default
/// `rotation_period_msgs`).
const ROTATE_AFTER: u32 = 100;

/// The `megolm` design.
#[derive(Debug, Clone, Copy, Default)]
pub struct Megolm;

impl Design for Megolm {
    exportable_design!(unseeded: NAME);

    /// A new device; `seed` is ignored, since vodozemac draws its keys from
    /// the operating system.
    fn create_device(&self, addr: &DeviceAddr, _seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(MegolmDevice {
            ch: Channel::create(NAME, addr)?,
            outbound: BTreeMap::new(),
            inbound: BTreeMap::new(),
        }))
    }

    /// Restores a device; the state carries its own address, which wins over
    /// `addr` (a seized state acts as the device it was taken from).
    fn import_device(&self, _addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        let mut device: MegolmDevice =
            serde_json::from_slice(state).map_err(|e| rejected(format!("megolm state is not valid: {e}")))?;
        device.ch = Channel::restore(NAME, device.ch)?;
        Ok(Box::new(device))
    }

    /// vodozemac's X25519 and Ed25519, the same as `olm`'s (see
    /// [`VodozemacPrimitives`]): Megolm's own HKDF, HMAC and AES-256-CBC are
    /// not reachable through vodozemac's API.
    fn primitives(&self) -> Option<Box<dyn Primitives>> {
        Some(Box::new(VodozemacPrimitives))
    }
}

/// An outbound session of one conversation.
#[derive(Clone, Serialize, Deserialize)]
struct Outbound {
    /// vodozemac's session id (base64 of its Ed25519 key).
    id: String,
    /// The vodozemac group session (stored as its pickle).
    #[serde(rename = "pickle")]
    session: Live<GroupSession>,
    /// The devices it was shared with, and the identity each had then.
    #[serde(with = "pairs")]
    shared: BTreeMap<Peer, Vec<u8>>,
    /// Messages encrypted with it.
    sent: u32,
}

/// An inbound session, from one sharing device.
#[derive(Clone, Serialize, Deserialize)]
struct Inbound {
    /// The conversation it was shared for.
    conversation: String,
    /// The sharing device's identity, as its Olm session authenticated it.
    sharer_identity: Vec<u8>,
    /// The vodozemac inbound group session (stored as its pickle).
    #[serde(rename = "pickle")]
    session: Live<InboundGroupSession>,
    /// Message indices already decrypted (replay protection).
    indices: BTreeSet<u32>,
}

/// One device of the `megolm` design.
#[derive(Clone, Serialize, Deserialize)]
struct MegolmDevice {
    ch: Channel,
    /// Outbound sessions by conversation.
    outbound: BTreeMap<String, Outbound>,
    /// Inbound sessions by (sharing device, session id).
    #[serde(with = "pairs")]
    inbound: BTreeMap<(Peer, String), Inbound>,
}

impl std::fmt::Debug for MegolmDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MegolmDevice")
            .field("channel", &self.ch)
            .field("outbound_sessions", &self.outbound.len())
            .field("inbound_sessions", &self.inbound.len())
            .finish_non_exhaustive()
    }
}

impl Device for MegolmDevice {
    channel_device!();

    /// A room-key share is opened by the Olm layer's forensic open (every
    /// session, every key still held) and its session absorbed; a Megolm
    /// message is tried with every inbound session the state holds, at the
    /// message's own index, whatever `indices` remembers (see
    /// [`MegolmDevice::forensic`]).
    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        crate::persist::transactional(self, |next| next.forensic(env))
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        to_state(self)
    }

    /// Ignored: vodozemac takes its randomness from the operating system.
    fn add_entropy(&mut self, _entropy: &Seed) {}

    fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        Ok(self.ch.verify(contact, identity))
    }
}

fn failed(what: impl std::fmt::Display) -> ImplError {
    ImplError::Failed(what.to_string())
}

/// The session id carried in clear before a Megolm message: the raw bytes
/// of the session's Ed25519 key, whose base64 is vodozemac's session id.
fn session_id_bytes(id: &str) -> Result<[u8; 32], ImplError> {
    let raw = vodozemac::base64_decode(id).map_err(|_| failed("a Megolm session id is not base64"))?;
    raw.as_slice().try_into().map_err(|_| failed(format!("session id of {} bytes", raw.len())))
}

impl MegolmDevice {
    fn encrypt_all(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let mut events = BTreeSet::new();
        let entries = self.ch.prepare(req, &mut events);
        let current: BTreeMap<Peer, Vec<u8>> =
            entries.iter().map(|e| (Peer::from(&e.device), e.identity.clone())).collect();
        let rotate = match self.outbound.get(req.conversation) {
            None => true,
            Some(out) => out.sent >= ROTATE_AFTER || out.shared.iter().any(|(peer, id)| current.get(peer) != Some(id)),
        };
        let mut out = match self.outbound.remove(req.conversation) {
            Some(out) if !rotate => out,
            _ => self.new_outbound(req.conversation)?,
        };
        let group = out.session.make_mut();
        let mut envelopes = Vec::new();
        let fresh: Vec<_> = entries.iter().filter(|e| !out.shared.contains_key(&Peer::from(&e.device))).collect();
        if !fresh.is_empty() {
            let mut w = Writer::new();
            w.bytes(req.conversation.as_bytes())?;
            w.bytes(&group.session_key().to_bytes())?;
            let room_key = w.finish();
            for entry in fresh {
                let body = self.ch.seal(entry, CONTENT_ROOM_KEY, &room_key)?;
                envelopes.push(OutEnvelope { to: vec![entry.device.clone()], body });
                out.shared.insert(Peer::from(&entry.device), entry.identity.clone());
            }
        }
        if !entries.is_empty() {
            let payload = Payload::encode(req.conversation, req.members, req.plaintext)?;
            let message = group.encrypt(&payload);
            let body = [[VERSION, KIND_GROUP].as_slice(), &session_id_bytes(&out.id)?, &message.to_bytes()].concat();
            envelopes.push(OutEnvelope { to: entries.iter().map(|e| e.device.clone()).collect(), body });
            out.sent = out.sent.saturating_add(1);
        }
        self.outbound.insert(req.conversation.to_owned(), out);
        Ok(Sent { envelopes, events: events.into_iter().collect(), blocked: false })
    }

    /// A new outbound session for `conversation`, and the inbound session
    /// this device keeps to read its own messages.
    fn new_outbound(&mut self, conversation: &str) -> Result<Outbound, ImplError> {
        let group = GroupSession::new(SessionConfig::version_1());
        let id = group.session_id();
        let own = InboundGroupSession::new(&group.session_key(), SessionConfig::version_1());
        self.inbound.insert(
            (self.ch.addr().clone(), id.clone()),
            Inbound {
                conversation: conversation.to_owned(),
                sharer_identity: self.ch.identity().to_vec(),
                session: Live::new(own),
                indices: BTreeSet::new(),
            },
        );
        Ok(Outbound { id, session: Live::new(group), shared: BTreeMap::new(), sent: 0 })
    }

    fn decrypt_one(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let from = Peer::from(env.from);
        match env.body.get(..2) {
            Some([VERSION, KIND_PREKEY | KIND_NORMAL]) => self.room_key(&from, env),
            Some([VERSION, KIND_GROUP]) => self.group_message(&from, env),
            Some([VERSION, kind]) => Err(rejected(format!("unknown envelope kind {kind}"))),
            Some([version, _]) => Err(rejected(format!("unknown envelope version {version}"))),
            _ => Err(rejected(format!("envelope of {} bytes", env.body.len()))),
        }
    }

    /// A room key shared over Olm: stores the inbound session, keeping the
    /// one with the lower first index if it is known already.
    fn room_key(&mut self, from: &Peer, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let opened = self.ch.open(from, env.body)?;
        if opened.kind != CONTENT_ROOM_KEY {
            return Err(rejected(format!("Olm content of kind {}, expected a room key", opened.kind)));
        }
        let mut r = Reader::new(&opened.content);
        let conversation = r.string("conversation id")?;
        let key = r.bytes("session key")?;
        r.end("room key")?;
        if conversation != env.conversation {
            return Err(rejected(format!(
                "room key of conversation `{conversation}` delivered in `{}`",
                env.conversation
            )));
        }
        let key = SessionKey::from_bytes(key).map_err(|_| rejected("not a validly signed Megolm session key"))?;
        let session = InboundGroupSession::new(&key, SessionConfig::version_1());
        let slot = (from.clone(), session.session_id());
        let indices = match self.inbound.get(&slot) {
            Some(known) => {
                if known.conversation != conversation || known.sharer_identity != opened.identity {
                    return Err(rejected("a known Megolm session shared again for another conversation or key"));
                }
                if known.session.first_known_index() <= session.first_known_index() {
                    None
                } else {
                    Some(known.indices.clone())
                }
            }
            None => Some(BTreeSet::new()),
        };
        if let Some(indices) = indices {
            let inbound = Inbound {
                conversation,
                sharer_identity: opened.identity.clone(),
                session: Live::new(session),
                indices,
            };
            self.inbound.insert(slot, inbound);
        }
        let events = self.ch.received(from, &opened.identity, None);
        Ok(Received { plaintext: None, sender: Some(from.to_addr()), events })
    }

    /// A Megolm message: opened only with the session `from` shared.
    fn group_message(&mut self, from: &Peer, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let mut r = Reader::new(env.body);
        r.array::<2>("version and kind")?;
        let id: [u8; 32] = r.array("session id")?;
        let message = MegolmMessage::from_bytes(r.rest())
            .map_err(|e| rejected(format!("not a Megolm message: {}", decode_error(&e))))?;
        let slot = (from.clone(), vodozemac::base64_encode(id));
        let inbound = self
            .inbound
            .get(&slot)
            .ok_or_else(|| rejected(format!("no such Megolm session shared by {}", from.to_addr())))?;
        if inbound.conversation != env.conversation {
            return Err(rejected(format!(
                "Megolm session of conversation `{}` used in `{}`",
                inbound.conversation, env.conversation
            )));
        }
        if self.ch.pinned_elsewhere(from, &inbound.sharer_identity) {
            return Err(rejected(format!("{} is verified with another identity", from.to_addr())));
        }
        let decrypted = inbound
            .session
            .copy()
            .decrypt(&message)
            .map_err(|e| rejected(format!("Megolm message does not open: {}", megolm_error(&e))))?;
        if inbound.indices.contains(&decrypted.message_index) {
            return Err(rejected(format!("Megolm index {} already decrypted (a replay)", decrypted.message_index)));
        }
        let payload = Payload::open(&decrypted.plaintext, env.conversation)?;
        let identity = inbound.sharer_identity.clone();
        if let Some(inbound) = self.inbound.get_mut(&slot) {
            inbound.indices.insert(decrypted.message_index);
        }
        let events = self.ch.received(from, &identity, Some((env.conversation, &payload.members)));
        Ok(Received { plaintext: Some(payload.plaintext), sender: Some(from.to_addr()), events })
    }
}

impl MegolmDevice {
    /// Forensic open: what the keys this state holds recover from `env`,
    /// with none of the client's checks (the replay memory of decrypted
    /// indices, the binding of a session to the device that shared it and
    /// to its conversation, pinned identities). A room key it opens is kept,
    /// as a thief's copy of the app would keep it; the lower first index
    /// wins, as in [`MegolmDevice::room_key`].
    fn forensic(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        match env.body.get(..2) {
            Some([VERSION, KIND_PREKEY | KIND_NORMAL]) => {
                let Some(recovered) = self.ch.forensic_open(env.body)? else { return Ok(Vec::new()) };
                if recovered.kind != Some(CONTENT_ROOM_KEY) {
                    return Ok(vec![recovered.content]);
                }
                self.absorb_room_key(recovered.sender, recovered.sender_identity, &recovered.content)?;
                Ok(Vec::new())
            }
            Some([VERSION, KIND_GROUP]) => {
                let mut r = Reader::new(env.body);
                r.array::<2>("version and kind")?;
                r.array::<32>("session id")?;
                let message = MegolmMessage::from_bytes(r.rest())
                    .map_err(|e| rejected(format!("not a Megolm message: {}", decode_error(&e))))?;
                for inbound in self.inbound.values() {
                    if let Ok(decrypted) = inbound.session.copy().decrypt(&message) {
                        return Ok(vec![payload_text(decrypted.plaintext)]);
                    }
                }
                Ok(Vec::new())
            }
            Some([VERSION, kind]) => Err(rejected(format!("unknown envelope kind {kind}"))),
            Some([version, _]) => Err(rejected(format!("unknown envelope version {version}"))),
            _ => Err(rejected(format!("envelope of {} bytes", env.body.len()))),
        }
    }

    /// Keeps the Megolm session of a room key a forensic open recovered,
    /// under the sharer its Olm plaintext names; content that is not a
    /// validly signed session key is ignored (nothing to keep).
    fn absorb_room_key(
        &mut self,
        sharer: Option<Peer>,
        sharer_identity: Option<Vec<u8>>,
        content: &[u8],
    ) -> Result<(), ImplError> {
        let mut r = Reader::new(content);
        let (Ok(conversation), Ok(key)) = (r.string("conversation id"), r.bytes("session key")) else {
            return Ok(());
        };
        let Ok(key) = SessionKey::from_bytes(key) else { return Ok(()) };
        let session = InboundGroupSession::new(&key, SessionConfig::version_1());
        let sharer = sharer.unwrap_or_else(|| Peer { user: String::new(), device: session.session_id() });
        let slot = (sharer, session.session_id());
        if let Some(known) = self.inbound.get(&slot) {
            if known.session.first_known_index() <= session.first_known_index() {
                return Ok(());
            }
        }
        let indices = self.inbound.get(&slot).map(|k| k.indices.clone()).unwrap_or_default();
        let sharer_identity = sharer_identity.unwrap_or_default();
        self.inbound.insert(slot, Inbound { conversation, sharer_identity, session: Live::new(session), indices });
        Ok(())
    }
}

/// Why a Megolm session refused a message, in fixed words (see
/// [`decode_error`]).
fn megolm_error(e: &DecryptionError) -> &'static str {
    match e {
        DecryptionError::Signature(_) => "its signature does not verify",
        DecryptionError::InvalidMAC(_) | DecryptionError::InvalidMACLength(..) => "its MAC does not verify",
        DecryptionError::InvalidPadding(_) => "bad padding",
        DecryptionError::UnknownMessageIndex(..) => "its index is before the first one this device was given",
    }
}
