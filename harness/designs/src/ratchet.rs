//! `ratchet`: the honest end-to-end encrypted baseline, Signal-style. Each
//! pair of devices runs X3DH from the served directory entry, then a Double
//! Ratchet ([`session`]); a message goes out as one envelope per recipient
//! device. Clients surface what they can see change: a contact's identity
//! key, a new or vanished device of a user they know, members joining or
//! leaving a conversation they know.
//!
//! Published bundle: `identity` = Ed25519 public key (32) || X25519
//! identity public key (32); `prekey` = X25519 signed prekey (32) || Ed25519
//! signature over it (64); each `one_time` item = id (`u32`, big-endian) ||
//! X25519 public key (32).
//!
//! Envelope body: `version (1) || kind (1) || [initiation] || header (40) ||
//! ciphertext`. Kind 1 is an ordinary message, kind 2 a prekey message whose
//! initiation is the sender's identity (64), the X3DH base key (32), the
//! signed prekey used (32), a flag byte and the one-time prekey id (`u32`) if
//! the flag is 1, and the sender's user and device names (length-prefixed).
//! The header is the ratchet public key (32), the previous chain length and
//! the message number (`u32` each). The ciphertext is ChaCha20-Poly1305 of
//! the [`Payload`]; its associated data binds both identities, both device
//! addresses, the conversation id and every byte of the body before it.
//!
//! Healing: [`Device::add_entropy`] reseeds the device's generator with
//! SHA-256 of 32 bytes drawn from it and the fresh entropy, so a copy of
//! the state seized earlier (which misses that entropy) draws different
//! ratchet keys from the next DH ratchet step on and falls out of the
//! conversation (post-compromise security).
//!
//! Verification: [`Device::verify`] pins a contact device's identity. From
//! then on the device neither encrypts to that device under any other
//! identity (the recipient is skipped and `identity changed` shown, the rest
//! of the message still goes out) nor accepts a message from it under any
//! other identity.
//!
//! Forensic open: [`Device::forensic_open`] tries every key the state
//! holds and checks nothing else (not the sender the provider or the
//! message names, the conversation inside the payload, replays, used base
//! keys, pinned identities, nor whether the envelope was addressed to this
//! device). For every session with every contact it tries the skipped
//! message keys still kept, the receiving chain from its position on, the
//! chain a DH ratchet step from the session's root key and ratchet secret
//! would start, and the sending chain from its position on (so a copy of a
//! state reads what the device itself sends next, until its next DH ratchet
//! step); for a prekey message it runs X3DH again with the signed prekey and
//! the one-time prekey the message names, if that one is still held. The
//! associated data is rebuilt from the envelope's conversation and every
//! sender address the state or the envelope names. A message key is deleted
//! when it is used (the chain moves past it, a skipped key is removed), so
//! a message once read does not open again: the refusal of a replay is the
//! keys', not a check's. A forensic open that finds something also absorbs
//! what an ordinary decryption of the envelope would (a new session, a
//! ratchet step), when the client would accept it, as a thief's copy of the
//! app would.
//!
//! Without a one-time prekey (the directory ran out, or the provider
//! withheld it), X3DH runs on the identity keys and the signed prekey
//! alone, and this design keeps its signed prekey for the device's whole
//! life (it never rotates it). A copy of the responder's state taken at
//! *any later time* therefore runs X3DH again and reads every message the
//! initiator sent in that session before the responder's first reply
//! reached it (the initiator's first sending chain), however long ago they
//! were read, though the client refuses to decrypt them again. Forward
//! secrecy for those messages rests only on deleting the signed prekey:
//! Signal rotates it and deletes the old one after a grace period for this
//! reason; here the window never closes. When a one-time prekey was used,
//! it is deleted as its first message is read, and the same copy reads
//! none of them.
//!
//! Known answers: [`kat`] exposes the protocol's functions (`doormat-ratchet-v1`,
//! described in `vectors/README.md`) for `vectors/kat/ratchet-protocol.yaml`.
//!
//! The design is also the engine of `ghost` and `escrow`, which wrap a
//! [`RatchetDevice`] (made with their own design name) instead of copying it.
//!
//! **Invariants:** every random byte comes from the generator seeded with
//! the device's seed and the entropy handed to it, in order; `encrypt` and
//! `decrypt` are all-or-nothing (they work on a copy and keep it only on
//! success), so a refused or failed call leaves the device exactly as it
//! was; nothing that fails to authenticate is returned, and no input makes
//! this code panic. A pinned identity is never encrypted to or accepted
//! under another one. A forensic open returns only what authenticates under
//! a key the state holds or derives, and changes the state only as an
//! accepted decryption of the same envelope would.

pub(crate) mod kat;
mod keys;
mod session;

use crate::framing::{rejected, Payload, Reader, Writer};
use crate::persist::{pairs, to_state, Peer, RngState};
use crate::seen::{event, Seen, Withheld};
use doormat_engine::adapter::Seed;
use doormat_engine::{
    Bundle, Design, Device, DirectoryEntry, EncryptRequest, Event, EventKind, ImplError, InEnvelope, OutEnvelope,
    Received, Sent,
};
use doormat_formats::DeviceAddr;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use session::{Header, Initiation, Session};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const NAME: &str = "ratchet";
const VERSION: u8 = 1;
const KIND_MESSAGE: u8 = 1;
const KIND_PREKEY: u8 = 2;
/// One-time prekeys a device keeps published.
const ONE_TIME_PREKEYS: usize = 100;
/// Sessions kept per remote device, newest (active) first.
const MAX_SESSIONS: usize = 5;
/// X3DH base keys remembered after their session is dropped, so an old
/// prekey message cannot be replayed into a fresh session.
const MAX_USED_BASE_KEYS: usize = 1000;
/// First bytes of every message's associated data.
const AD_LABEL: &[u8] = b"doormat ratchet v1 message";
/// First bytes of what a reseed hashes.
const RESEED_LABEL: &[u8] = b"doormat ratchet v1 reseed";

/// The `ratchet` design.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ratchet;

impl Design for Ratchet {
    exportable_design!(NAME, kat::boxed());

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(RatchetDevice::create(NAME, addr, seed)?))
    }

    /// Restores a device; the state carries its own address, which wins over
    /// `addr` (a seized state acts as the device it was taken from).
    fn import_device(&self, _addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(RatchetDevice::import(NAME, state)?))
    }
}

/// A device's whole state but its random generator.
#[derive(Clone, Serialize, Deserialize)]
struct State {
    design: String,
    addr: Peer,
    /// Ed25519 secret key.
    signing_key: [u8; 32],
    /// X25519 identity secret key.
    identity_key: [u8; 32],
    /// The published identity: Ed25519 public || X25519 identity public.
    identity: Vec<u8>,
    signed_prekey: [u8; 32],
    signed_prekey_signature: Vec<u8>,
    /// Unused one-time prekeys by id.
    one_time: BTreeMap<u32, [u8; 32]>,
    next_one_time_id: u32,
    /// Sessions per remote device, active first.
    #[serde(with = "pairs")]
    sessions: BTreeMap<Peer, Vec<Session>>,
    used_base_keys: VecDeque<[u8; 32]>,
    seen: Seen,
    /// Identities the user confirmed out of band, per contact device.
    #[serde(default, with = "pairs")]
    verified: BTreeMap<Peer, Vec<u8>>,
}

/// What [`Device::export_state`] writes; designs that wrap a
/// [`RatchetDevice`] embed it in their own export.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Export {
    rng: RngState,
    state: State,
}

/// One device of the ratchet engine, under the name of the design using it
/// (`ratchet` itself, or a design that wraps it).
#[derive(Clone)]
pub(crate) struct RatchetDevice {
    rng: ChaCha20Rng,
    st: State,
}

impl std::fmt::Debug for RatchetDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RatchetDevice")
            .field("addr", &self.st.addr)
            .field("one_time_prekeys", &self.st.one_time.len())
            .field("sessions", &self.st.sessions)
            .finish_non_exhaustive()
    }
}

impl Device for RatchetDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        crate::persist::transactional(self, |next| next.top_up())?;
        let prekey = [keys::x_public(&self.st.signed_prekey).as_slice(), &self.st.signed_prekey_signature].concat();
        let one_time = self
            .st
            .one_time
            .iter()
            .map(|(id, sk)| [id.to_be_bytes().as_slice(), &keys::x_public(sk)].concat())
            .collect();
        Ok(Bundle { identity: self.st.identity.clone(), prekey, one_time })
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        crate::persist::transactional(self, |next| next.encrypt_all(req, true))
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        crate::persist::transactional(self, |next| next.decrypt_one(env))
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(self.clone()))
    }

    /// Every plaintext the keys this state holds open in `env`, checking
    /// nothing else (see the module documentation); `Ok` and empty when no
    /// key opens it, [`ImplError::Rejected`] when it is not a ratchet
    /// message at all.
    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        let opened = self.forensic(env)?;
        if !opened.is_empty() {
            // Absorb what the app would: an ordinary decryption's state
            // change, if the client accepts the envelope at all.
            let _refused = crate::persist::transactional(self, |next| next.decrypt_one(env));
        }
        Ok(opened)
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        to_state(&self.export())
    }

    fn add_entropy(&mut self, entropy: &Seed) {
        let mut drawn = [0u8; 32];
        self.rng.fill_bytes(&mut drawn);
        let seed: [u8; 32] =
            Sha256::new().chain_update(RESEED_LABEL).chain_update(drawn).chain_update(entropy).finalize().into();
        self.rng = ChaCha20Rng::from_seed(seed);
    }

    /// Pins `contact`'s identity; shows `identity changed` if the identity
    /// this device last saw for it (served or authenticated) is another one.
    fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        let peer = Peer::from(contact);
        let mut events = Vec::new();
        if self.st.seen.identities.get(&peer).is_some_and(|known| known.as_slice() != identity) {
            events.push(event(EventKind::IdentityChanged, &peer));
        }
        self.st.verified.insert(peer, identity.to_vec());
        Ok(events)
    }
}

impl RatchetDevice {
    /// Encrypts to every device the directory serves, newcomers included,
    /// in the same operation that notices them (the `ghost` design's client).
    pub(crate) fn encrypt_accepting_all(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        crate::persist::transactional(self, |next| next.encrypt_all(req, false))
    }

    /// A new device of design `design` (the name its exported state carries).
    pub(crate) fn create(design: &str, addr: &DeviceAddr, seed: Seed) -> Result<RatchetDevice, ImplError> {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let signing_key = keys::random_secret(&mut rng);
        let identity_key = keys::random_secret(&mut rng);
        let signed_prekey = keys::random_secret(&mut rng);
        let identity = [keys::ed_public(&signing_key), keys::x_public(&identity_key)].concat();
        let signature = keys::sign_prekey(&signing_key, &keys::x_public(&signed_prekey));
        let mut device = RatchetDevice {
            rng,
            st: State {
                design: design.to_owned(),
                addr: Peer::from(addr),
                signing_key,
                identity_key,
                identity,
                signed_prekey,
                signed_prekey_signature: signature.to_vec(),
                one_time: BTreeMap::new(),
                next_one_time_id: 1,
                sessions: BTreeMap::new(),
                used_base_keys: VecDeque::new(),
                seen: Seen::default(),
                verified: BTreeMap::new(),
            },
        };
        device.top_up()?;
        Ok(device)
    }

    /// A device restored from [`Device::export_state`] bytes of design `design`.
    pub(crate) fn import(design: &str, state: &[u8]) -> Result<RatchetDevice, ImplError> {
        let export: Export =
            serde_json::from_slice(state).map_err(|e| rejected(format!("{design} state is not valid: {e}")))?;
        RatchetDevice::from_export(design, export)
    }

    /// The whole state, generator position included.
    pub(crate) fn export(&self) -> Export {
        Export { rng: RngState::save(&self.rng), state: self.st.clone() }
    }

    /// A device restored from [`RatchetDevice::export`], refused unless it was
    /// exported by design `design`.
    pub(crate) fn from_export(design: &str, export: Export) -> Result<RatchetDevice, ImplError> {
        if export.state.design != design {
            return Err(rejected(format!("state of design `{}`, expected `{design}`", export.state.design)));
        }
        Ok(RatchetDevice { rng: export.rng.restore(), st: export.state })
    }

    /// 32 bytes from the device's generator, for a wrapping design's own keys.
    pub(crate) fn random_secret(&mut self) -> [u8; 32] {
        keys::random_secret(&mut self.rng)
    }

    /// Generates one-time prekeys until [`ONE_TIME_PREKEYS`] are unused.
    fn top_up(&mut self) -> Result<(), ImplError> {
        while self.st.one_time.len() < ONE_TIME_PREKEYS {
            let id = self.st.next_one_time_id;
            self.st.next_one_time_id =
                id.checked_add(1).ok_or_else(|| ImplError::Failed("one-time prekey ids exhausted".to_owned()))?;
            self.st.one_time.insert(id, keys::random_secret(&mut self.rng));
        }
        Ok(())
    }

    /// Encrypts for every served device but those the user is only now told
    /// about (see [`Withheld`]), unless `hold_back` is false (a client that
    /// accepts whatever the directory serves, as the `ghost` design does).
    fn encrypt_all(&mut self, req: &EncryptRequest<'_>, hold_back: bool) -> Result<Sent, ImplError> {
        let me = self.st.addr.clone();
        let mut events = BTreeSet::new();
        self.st.seen.members(req.conversation, req.members, &mut events);
        self.st.seen.directory(&me, req.recipients, &mut events);
        let payload = Payload::encode(req.conversation, req.members, req.plaintext)?;
        let withheld = if hold_back { Withheld::from_events(&events) } else { Withheld::default() };
        let mut done = BTreeSet::new();
        let mut envelopes = Vec::new();
        for entry in req.recipients {
            let peer = Peer::from(&entry.device);
            if peer == me || !done.insert(peer.clone()) || withheld.holds(&peer) {
                continue;
            }
            if self.st.verified.get(&peer).is_some_and(|pinned| *pinned != entry.identity) {
                // A verified contact's safety number changed: warn, and send
                // this device nothing until the user verifies again.
                events.insert(event(EventKind::IdentityChanged, &peer));
                continue;
            }
            let body = self.seal_for(&peer, entry, req.conversation, &payload)?;
            envelopes.push(OutEnvelope { to: vec![entry.device.clone()], body });
        }
        Ok(Sent { envelopes, events: events.into_iter().collect(), blocked: false })
    }

    /// One envelope body for one recipient device, starting a session from
    /// its directory entry if there is none with the identity it shows.
    fn seal_for(
        &mut self,
        peer: &Peer,
        entry: &DirectoryEntry,
        conversation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, ImplError> {
        let active = self.st.sessions.get(peer).and_then(|l| l.first());
        if !active.is_some_and(|s| s.peer_identity == entry.identity && s.can_send()) {
            let session = self.start_session(entry).map_err(|e| in_entry(e, &entry.device))?;
            let list = self.st.sessions.entry(peer.clone()).or_default();
            list.insert(0, session);
            list.truncate(MAX_SESSIONS);
        }
        let session = self
            .st
            .sessions
            .get_mut(peer)
            .and_then(|l| l.first_mut())
            .ok_or_else(|| ImplError::Failed(format!("no session with {}", entry.device)))?;
        let (header, key) = session.next_send()?;
        let mut w = Writer::new();
        w.u8(VERSION);
        match &session.initiation {
            Some(init) => {
                w.u8(KIND_PREKEY);
                w.raw(&self.st.identity);
                w.raw(&init.base_key);
                w.raw(&init.signed_prekey);
                match init.one_time {
                    Some(id) => {
                        w.u8(1);
                        w.u32(id);
                    }
                    None => w.u8(0),
                }
                w.bytes(self.st.addr.user.as_bytes())?;
                w.bytes(self.st.addr.device.as_bytes())?;
            }
            None => w.u8(KIND_MESSAGE),
        }
        header.encode(&mut w);
        let mut body = w.finish();
        let ad = associated_data(&self.st.identity, &session.peer_identity, &self.st.addr, peer, conversation, &body)?;
        body.extend(keys::seal(&key, &ad, payload)?);
        Ok(body)
    }

    /// X3DH as the initiator against a served directory entry.
    fn start_session(&mut self, entry: &DirectoryEntry) -> Result<Session, ImplError> {
        let bundle = PeerBundle::parse(entry)?;
        let ephemeral = keys::random_secret(&mut self.rng);
        let secret = x3dh_initiator(&self.st.identity_key, &ephemeral, &bundle)?;
        let initiation = Initiation {
            base_key: keys::x_public(&ephemeral),
            signed_prekey: bundle.signed_prekey,
            one_time: bundle.one_time.map(|(id, _)| id),
        };
        Session::initiator(secret, entry.identity.clone(), initiation, &mut self.rng)
    }

    fn decrypt_one(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let from = Peer::from(env.from);
        let msg = Incoming::parse(env.body)?;
        let (plaintext, peer_identity) = match &msg.initiation {
            Some(init) => self.open_prekey(&from, init, &msg, env.conversation)?,
            None => self.open_message(&from, &msg, env.conversation)?,
        };
        if self.st.verified.get(&from).is_some_and(|pinned| *pinned != peer_identity) {
            return Err(rejected(format!("{} is verified with another identity", env.from)));
        }
        let payload = Payload::open(&plaintext, env.conversation)?;
        let mut events = BTreeSet::new();
        let me = self.st.addr.clone();
        self.st.seen.sender(&me, &from, &peer_identity, &mut events);
        self.st.seen.members(env.conversation, &payload.members, &mut events);
        Ok(Received {
            plaintext: Some(payload.plaintext),
            sender: Some(from.to_addr()),
            events: events.into_iter().collect(),
        })
    }

    /// An ordinary message: tries every session with the sender, newest
    /// first, and makes the one that opens it active.
    fn open_message(
        &mut self,
        from: &Peer,
        msg: &Incoming<'_>,
        conversation: &str,
    ) -> Result<(Vec<u8>, Vec<u8>), ImplError> {
        let sessions = self.st.sessions.get(from).map(Vec::as_slice).unwrap_or_default();
        let mut opened = None;
        for (i, s) in sessions.iter().enumerate() {
            let ad =
                associated_data(&s.peer_identity, &self.st.identity, from, &self.st.addr, conversation, msg.prefix)?;
            if let Ok(result) = s.open(&msg.header, &ad, msg.ciphertext, &self.rng) {
                opened = Some((i, result));
                break;
            }
        }
        let Some((i, (session, rng, plaintext))) = opened else {
            return Err(rejected(format!("no session with {} opens this message", from.to_addr())));
        };
        let identity = session.peer_identity.clone();
        self.keep_session(from, Some(i), session, rng);
        Ok((plaintext, identity))
    }

    /// A prekey message: opens it in the session it started if that session
    /// is kept, otherwise runs X3DH as the responder and starts the session.
    fn open_prekey(
        &mut self,
        from: &Peer,
        init: &IncomingInitiation,
        msg: &Incoming<'_>,
        conversation: &str,
    ) -> Result<(Vec<u8>, Vec<u8>), ImplError> {
        if init.sender != *from {
            return Err(rejected(format!(
                "prekey message from {} claims to be from {}",
                from.to_addr(),
                init.sender.to_addr()
            )));
        }
        let identity = init.identity.to_vec();
        let base_key = init.initiation.base_key;
        let ad = associated_data(&identity, &self.st.identity, from, &self.st.addr, conversation, msg.prefix)?;
        let sessions = self.st.sessions.get(from).map(Vec::as_slice).unwrap_or_default();
        if let Some(i) = sessions.iter().position(|s| s.base_key == base_key && s.peer_identity == identity) {
            let (session, rng, plaintext) = sessions[i].open(&msg.header, &ad, msg.ciphertext, &self.rng)?;
            self.keep_session(from, Some(i), session, rng);
            return Ok((plaintext, identity));
        }
        if self.st.used_base_keys.contains(&base_key) {
            return Err(rejected("prekey message replayed after its session was dropped"));
        }
        let fresh = self.responder_session(init)?;
        let (session, rng, plaintext) = fresh.open(&msg.header, &ad, msg.ciphertext, &self.rng)?;
        if let Some(id) = init.initiation.one_time {
            self.st.one_time.remove(&id);
        }
        self.st.used_base_keys.push_back(base_key);
        if self.st.used_base_keys.len() > MAX_USED_BASE_KEYS {
            self.st.used_base_keys.pop_front();
        }
        self.keep_session(from, None, session, rng);
        Ok((plaintext, identity))
    }

    /// X3DH as the responder to `init` with the prekeys this state holds: its
    /// signed prekey, and the one-time prekey `init` names if it is still
    /// held (it is deleted once its session is set up). Nothing else is
    /// checked here: not whether a session with this base key is kept or
    /// was dropped.
    fn responder_session(&self, init: &IncomingInitiation) -> Result<Session, ImplError> {
        if init.initiation.signed_prekey != keys::x_public(&self.st.signed_prekey) {
            return Err(rejected("prekey message for an unknown signed prekey"));
        }
        let one_time = match init.initiation.one_time {
            Some(id) => {
                Some(*self.st.one_time.get(&id).ok_or_else(|| rejected(format!("unknown one-time prekey {id}")))?)
            }
            None => None,
        };
        let mut peer_key = [0u8; 32];
        peer_key.copy_from_slice(&init.identity[32..]);
        let base_key = init.initiation.base_key;
        let secret = x3dh_responder(&self.st.identity_key, &self.st.signed_prekey, one_time, &peer_key, &base_key)?;
        Ok(Session::responder(secret, init.identity.to_vec(), base_key, self.st.signed_prekey))
    }

    /// Every plaintext the keys this state holds open in `env`, distinct,
    /// in the order found; changes nothing. Each candidate key is one the
    /// state holds or derives for the header (see [`Session::received_key`]
    /// and [`Session::sent_key`]); the associated data is rebuilt with every
    /// address that could be the sender's, since the provider's claim and
    /// the message's are not checked.
    fn forensic(&self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        let msg = Incoming::parse(env.body)?;
        let me = &self.st.addr;
        let from = Peer::from(env.from);
        let named = msg.initiation.as_ref().map(|init| &init.sender);
        let conversation = env.conversation;
        let mut opened = Vec::new();
        // Tries `key` under each sender address; keeps the first plaintext.
        let mut try_key = |key: &[u8; 32], identities: (&[u8], &[u8]), senders: &[&Peer], receiver: &Peer| {
            for sender in senders {
                let ad = associated_data(identities.0, identities.1, sender, receiver, conversation, msg.prefix)?;
                if let Ok(plaintext) = keys::open(key, &ad, msg.ciphertext) {
                    opened.push(plaintext);
                    break;
                }
            }
            Ok::<(), ImplError>(())
        };
        for (peer, list) in &self.st.sessions {
            let senders = distinct(&[peer, &from], named);
            for s in list {
                if let Some(key) = s.received_key(&msg.header) {
                    try_key(&key, (&s.peer_identity, &self.st.identity), &senders, me)?;
                }
                if let Some(key) = s.sent_key(&msg.header) {
                    try_key(&key, (&self.st.identity, &s.peer_identity), &[me], peer)?;
                }
            }
        }
        if let Some(init) = &msg.initiation {
            if let Ok(session) = self.responder_session(init) {
                if let Some(key) = session.received_key(&msg.header) {
                    try_key(&key, (&init.identity, &self.st.identity), &distinct(&[&init.sender], Some(&from)), me)?;
                }
            }
        }
        let mut out: Vec<Vec<u8>> = Vec::new();
        for plaintext in opened {
            let mut r = Reader::new(&plaintext);
            let message = match Payload::decode(&mut r).and_then(|p| r.end("payload").map(|()| p)) {
                Ok(payload) => payload.plaintext,
                // Authentic bytes that are not a payload are still read.
                Err(_) => plaintext,
            };
            if !out.contains(&message) {
                out.push(message);
            }
        }
        Ok(out)
    }

    /// Stores an advanced session (replacing the one at `replaces`) as the
    /// active one, and the generator it advanced.
    fn keep_session(&mut self, peer: &Peer, replaces: Option<usize>, session: Session, rng: ChaCha20Rng) {
        let list = self.st.sessions.entry(peer.clone()).or_default();
        if let Some(i) = replaces.filter(|&i| i < list.len()) {
            list.remove(i);
        }
        list.insert(0, session);
        list.truncate(MAX_SESSIONS);
        self.rng = rng;
    }
}

/// X3DH as the initiator: `DH(IK_a, SPK_b) || DH(EK_a, IK_b) || DH(EK_a,
/// SPK_b) [|| DH(EK_a, OPK_b)]` into [`keys::x3dh_secret`].
fn x3dh_initiator(identity_key: &[u8; 32], ephemeral: &[u8; 32], peer: &PeerBundle) -> Result<[u8; 32], ImplError> {
    let mut dhs = vec![
        keys::dh(identity_key, &peer.signed_prekey)?,
        keys::dh(ephemeral, &peer.identity_key)?,
        keys::dh(ephemeral, &peer.signed_prekey)?,
    ];
    if let Some((_, one_time)) = peer.one_time {
        dhs.push(keys::dh(ephemeral, &one_time)?);
    }
    keys::x3dh_secret(&dhs)
}

/// X3DH as the responder, the same secret from the other side:
/// `DH(SPK_b, IK_a) || DH(IK_b, EK_a) || DH(SPK_b, EK_a) [|| DH(OPK_b, EK_a)]`.
fn x3dh_responder(
    identity_key: &[u8; 32],
    signed_prekey: &[u8; 32],
    one_time: Option<[u8; 32]>,
    peer_identity_key: &[u8; 32],
    base_key: &[u8; 32],
) -> Result<[u8; 32], ImplError> {
    let mut dhs = vec![
        keys::dh(signed_prekey, peer_identity_key)?,
        keys::dh(identity_key, base_key)?,
        keys::dh(signed_prekey, base_key)?,
    ];
    if let Some(sk) = one_time {
        dhs.push(keys::dh(&sk, base_key)?);
    }
    keys::x3dh_secret(&dhs)
}

/// `peers` and `extra`, each once, in order.
fn distinct<'a>(peers: &[&'a Peer], extra: Option<&'a Peer>) -> Vec<&'a Peer> {
    let mut out: Vec<&Peer> = Vec::new();
    for p in peers.iter().copied().chain(extra) {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Puts the recipient's address into an error about its directory entry.
fn in_entry(e: ImplError, device: &DeviceAddr) -> ImplError {
    match e {
        ImplError::Rejected(s) => ImplError::Rejected(format!("directory entry of {device}: {s}")),
        ImplError::Failed(s) => ImplError::Failed(format!("directory entry of {device}: {s}")),
        other => other,
    }
}

/// The associated data of a message: the label, then length-prefixed the
/// sender's and receiver's identities, the sender's and receiver's
/// addresses (user, device), the conversation id and the body prefix.
fn associated_data(
    sender_identity: &[u8],
    receiver_identity: &[u8],
    sender: &Peer,
    receiver: &Peer,
    conversation: &str,
    prefix: &[u8],
) -> Result<Vec<u8>, ImplError> {
    let mut w = Writer::new();
    w.raw(AD_LABEL);
    for field in [
        sender_identity,
        receiver_identity,
        sender.user.as_bytes(),
        sender.device.as_bytes(),
        receiver.user.as_bytes(),
        receiver.device.as_bytes(),
        conversation.as_bytes(),
        prefix,
    ] {
        w.bytes(field)?;
    }
    Ok(w.finish())
}

/// A recipient's directory entry, parsed and its prekey signature checked.
struct PeerBundle {
    identity_key: [u8; 32],
    signed_prekey: [u8; 32],
    one_time: Option<(u32, [u8; 32])>,
}

impl PeerBundle {
    fn parse(entry: &DirectoryEntry) -> Result<PeerBundle, ImplError> {
        let mut r = Reader::new(&entry.identity);
        let signing: [u8; 32] = r.array("identity signing key")?;
        let identity_key = r.array("identity key")?;
        r.end("identity")?;
        let mut r = Reader::new(&entry.prekey);
        let signed_prekey = r.array("signed prekey")?;
        let signature = r.array("signed prekey signature")?;
        r.end("signed prekey")?;
        keys::verify_prekey(&signing, &signed_prekey, &signature)?;
        let one_time = match &entry.one_time {
            Some(item) => {
                let mut r = Reader::new(item);
                let id = r.u32("one-time prekey id")?;
                let key = r.array("one-time prekey")?;
                r.end("one-time prekey")?;
                Some((id, key))
            }
            None => None,
        };
        Ok(PeerBundle { identity_key, signed_prekey, one_time })
    }
}

/// The X3DH data of a prekey message.
struct IncomingInitiation {
    identity: [u8; 64],
    initiation: Initiation,
    sender: Peer,
}

/// An envelope body, split.
struct Incoming<'a> {
    initiation: Option<IncomingInitiation>,
    header: Header,
    /// Everything before the ciphertext (authenticated as associated data).
    prefix: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> Incoming<'a> {
    fn parse(body: &'a [u8]) -> Result<Incoming<'a>, ImplError> {
        let mut r = Reader::new(body);
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(rejected(format!("unknown ratchet message version {version}")));
        }
        let initiation = match r.u8("message kind")? {
            KIND_MESSAGE => None,
            KIND_PREKEY => {
                let identity = r.array("sender identity")?;
                let base_key = r.array("base key")?;
                let signed_prekey = r.array("signed prekey")?;
                let one_time = match r.u8("one-time prekey flag")? {
                    0 => None,
                    1 => Some(r.u32("one-time prekey id")?),
                    other => return Err(rejected(format!("one-time prekey flag {other}, expected 0 or 1"))),
                };
                let sender = Peer { user: r.string("sender user")?, device: r.string("sender device")? };
                Some(IncomingInitiation {
                    identity,
                    initiation: Initiation { base_key, signed_prekey, one_time },
                    sender,
                })
            }
            other => return Err(rejected(format!("unknown ratchet message kind {other}"))),
        };
        let header = Header::decode(&mut r)?;
        let split = body.len() - r.remaining();
        let ciphertext = r.rest();
        Ok(Incoming { initiation, header, prefix: &body[..split], ciphertext })
    }
}
