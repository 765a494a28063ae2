//! The pairwise Olm channel that the `olm` and `megolm` designs share: one
//! vodozemac [`Account`] per device and vodozemac Olm [`Session`]s per pair
//! of devices (the Double Ratchet of the Olm specification,
//! <https://gitlab.matrix.org/matrix-org/olm/-/blob/master/docs/olm.md>),
//! plus the trust-on-first-use notices a Matrix-style client shows.
//!
//! Published bundle: `identity` = Curve25519 identity key (32) || Ed25519
//! fingerprint key (32); `prekey` = the account's fallback key (32) || its
//! Ed25519 signature (64) || the Ed25519 signature of the device keys (64),
//! which binds both identity keys to the device's user and device name (as
//! Matrix signs a device's keys); each `one_time` item = a Curve25519
//! one-time key (32) || its Ed25519 signature (64). The account keeps
//! vodozemac's recommended number of one-time keys published
//! ([`Account::max_number_of_one_time_keys`], 50). vodozemac needs a
//! one-time key for every outbound session: a sender uses the one-time key
//! the directory served, or the fallback key when none was served (the
//! directory serves one per requester, on first contact). Every served
//! signature is checked before a session is started.
//!
//! Envelope body: `version (1) || kind (1) || vodozemac message`. Kind 0 is
//! an Olm pre-key message, kind 1 a normal Olm message (vodozemac's
//! `OlmMessage::to_parts` types); `megolm` adds kind 2. Inside the Olm
//! encryption: `content kind (1) || sender user || sender device (length-
//! prefixed) || sender identity (64) || device-keys signature (64) ||
//! recipient user || recipient device (length-prefixed) || recipient
//! identity (64) || content (length-prefixed)`. The Olm specification asks
//! for exactly this ("the application must include identifying data for the
//! sending and receiving user in the plain-text"): a receiver checks that
//! the sender is the device the provider named and the Curve25519 key the
//! session authenticated, that the device-keys signature binds its Ed25519
//! key, and that it is itself the recipient, under its own keys.
//!
//! Sessions: up to [`MAX_SESSIONS`] per remote device, most recently used
//! first. A sender uses the newest session with the identity the directory
//! serves, and starts one when there is none; vodozemac sends pre-key
//! messages until the session has received a reply. A receiver tries a
//! normal message on every session with the sender; a pre-key message goes
//! to the session it names, and only a pre-key message for a session never
//! seen before creates one, so both devices writing first at once end up
//! with two sessions each that both work, and a replayed pre-key message
//! never makes a second session.
//!
//! What vodozemac does not let the caller control: it draws every key
//! (identity, one-time, fallback, base and ratchet keys) from the operating
//! system's generator (`rand::rng()`), and no API takes a caller's random
//! generator or seed. So these designs cannot honour the engine's "all
//! randomness from the device seed" contract: the seed and the entropy
//! handed to [`Device::add_entropy`](doormat_engine::Device::add_entropy)
//! are accepted and ignored. Envelope bytes differ from run to run; their
//! lengths, the verdicts and the reports do not (reports never quote bytes a
//! design's randomness chose). Olm heals after a seizure all the same: each
//! new ratchet key comes from the operating system, which a seized copy
//! does not share.
//!
//! Forensic open ([`Channel::forensic_open`], for
//! [`Device::forensic_open`](doormat_engine::Device::forensic_open)): what
//! the keys themselves recover, with none of the client's checks. Every
//! session the state holds, with any peer, tries the message; a pre-key
//! message also tries a new inbound session on whichever one-time or
//! fallback key the account still holds. vodozemac deletes a message key
//! once used and a one-time key once a session is made from it, so what the
//! device read stays unreadable; the fallback key is kept (Matrix replaces
//! it only now and then, and this channel never does), so a pre-key message
//! made on it opens again, however often the replay memory refused it.
//!
//! Primitives ([`VodozemacPrimitives`], both designs): known-answer tests
//! run through vodozemac's public X25519 and Ed25519; the HKDF, HMAC and
//! AES-256-CBC inside Olm and Megolm are not reachable from its API.
//!
//! State: the account and the sessions are kept as live vodozemac objects
//! ([`Live`]), shared by a device's clones until one of them changes one,
//! which then copies it through its typed pickle. Reading or trying a
//! message never re-derives the account: it changes (and so is copied) only
//! when one-time keys are topped up or an inbound session is made on a key
//! it holds; a pre-key message on a key it does not hold fails before the
//! account is touched, so a trial decrypt costs what a decrypt costs.
//!
//! **Invariants:** cloning the channel is a fork (a clone's change never
//! reaches another clone) and serialising it an export (each vodozemac
//! object as its pickle's JSON value); callers work on a clone and keep it
//! only on success, so a refused or failed operation leaves a device as it
//! was. Nothing that fails to authenticate
//! is returned, no input makes this code panic, and a pinned identity is
//! never encrypted to or accepted under another one.

mod live;
mod primitives;

pub(crate) use live::Live;
pub(crate) use primitives::VodozemacPrimitives;

use crate::framing::{rejected, Payload, Reader, Writer};
use crate::persist::{pairs, Peer};
use crate::seen::{event, Seen, Withheld};
use doormat_engine::{Bundle, DirectoryEntry, EncryptRequest, Event, EventKind, ImplError};
use doormat_formats::{DeviceAddr, UserId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use vodozemac::olm::{
    Account, DecryptionError, InboundCreationResult, OlmMessage, PreKeyMessage, Session, SessionConfig,
    SessionCreationError,
};
use vodozemac::{Curve25519PublicKey, Ed25519PublicKey, Ed25519Signature};

/// First byte of every envelope body.
pub(crate) const VERSION: u8 = 1;
/// Envelope kind: an Olm pre-key message.
pub(crate) const KIND_PREKEY: u8 = 0;
/// Envelope kind: a normal Olm message.
pub(crate) const KIND_NORMAL: u8 = 1;
/// Content kind inside Olm: a message payload (`olm`).
pub(crate) const CONTENT_MESSAGE: u8 = 1;
/// Content kind inside Olm: a Megolm room key (`megolm`).
pub(crate) const CONTENT_ROOM_KEY: u8 = 2;
/// Sessions kept per remote device, most recently used first.
const MAX_SESSIONS: usize = 5;
/// Ids of sessions created from pre-key messages, remembered so that a
/// pre-key message replayed after its session was dropped is still refused.
const MAX_INBOUND_IDS: usize = 1000;
/// The message version of Olm v1 (`SessionConfig::version_1`, truncated
/// MACs), the only one these designs speak.
const OLM_V1_VERSION: u8 = 3;
/// Length of a published identity: Curve25519 || Ed25519.
const IDENTITY_LEN: usize = 64;
const DEVICE_KEYS_LABEL: &[u8] = b"doormat vodozemac v1 device keys";
const ONE_TIME_LABEL: &[u8] = b"doormat vodozemac v1 one-time key";
const FALLBACK_LABEL: &[u8] = b"doormat vodozemac v1 fallback key";

/// A Curve25519 key and the account's Ed25519 signature over it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SignedKey {
    key: [u8; 32],
    signature: Vec<u8>,
}

impl SignedKey {
    fn sign(account: &Account, label: &[u8], key: Curve25519PublicKey) -> SignedKey {
        let signature = account.sign([label, key.as_bytes()].concat()).to_bytes().to_vec();
        SignedKey { key: key.to_bytes(), signature }
    }

    fn bytes(&self) -> Vec<u8> {
        [self.key.as_slice(), &self.signature].concat()
    }
}

/// One Olm session with a remote device.
#[derive(Clone, Serialize, Deserialize)]
struct Stored {
    /// vodozemac's session id.
    id: String,
    /// The remote device's identity (Curve25519 || Ed25519).
    peer_identity: Vec<u8>,
    /// The vodozemac session (stored as its pickle).
    #[serde(rename = "pickle")]
    session: Live<Session>,
}

/// What a received Olm message carried, once authenticated.
#[derive(Debug)]
pub(crate) struct Opened {
    /// [`CONTENT_MESSAGE`] or [`CONTENT_ROOM_KEY`].
    pub(crate) kind: u8,
    /// The content.
    pub(crate) content: Vec<u8>,
    /// The sender's identity, as the session authenticated it.
    pub(crate) identity: Vec<u8>,
}

/// What a forensic open recovered from an Olm message: the content and
/// what the plaintext claims, unchecked.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// The content kind ([`CONTENT_MESSAGE`], [`CONTENT_ROOM_KEY`]), when
    /// the plaintext has the layout this channel writes.
    pub(crate) kind: Option<u8>,
    /// The content, or the whole decrypted plaintext when it has another
    /// layout (still recovered text).
    pub(crate) content: Vec<u8>,
    /// The sender the plaintext names.
    pub(crate) sender: Option<Peer>,
    /// The sender identity the plaintext names.
    pub(crate) sender_identity: Option<Vec<u8>>,
}

impl Recovered {
    fn of(plaintext: Vec<u8>) -> Recovered {
        match Inner::parse(&plaintext) {
            Ok(inner) => Recovered {
                kind: Some(inner.kind),
                content: inner.content,
                sender: Some(inner.sender),
                sender_identity: Some(inner.identity.to_vec()),
            },
            Err(_) => Recovered { kind: None, content: plaintext, sender: None, sender_identity: None },
        }
    }
}

/// A device's pairwise Olm state: account, sessions, what it has seen.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Channel {
    /// The design whose device this is (`olm` or `megolm`).
    design: String,
    addr: Peer,
    /// The vodozemac account (stored as its pickle).
    account: Live<Account>,
    /// Curve25519 identity key || Ed25519 fingerprint key.
    identity: Vec<u8>,
    /// Ed25519 signature over the device keys and address.
    device_signature: Vec<u8>,
    fallback: SignedKey,
    /// Published one-time keys not used yet, in publication order.
    published: Vec<SignedKey>,
    #[serde(with = "pairs")]
    sessions: BTreeMap<Peer, Vec<Stored>>,
    inbound_ids: VecDeque<String>,
    seen: Seen,
    /// Identities the user confirmed out of band, per contact device.
    #[serde(with = "pairs")]
    verified: BTreeMap<Peer, Vec<u8>>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sessions: BTreeMap<String, usize> =
            self.sessions.iter().map(|(p, l)| (p.to_addr().to_string(), l.len())).collect();
        f.debug_struct("Channel")
            .field("design", &self.design)
            .field("addr", &self.addr)
            .field("one_time_keys", &self.published.len())
            .field("sessions", &sessions)
            .finish_non_exhaustive()
    }
}

fn failed(what: impl std::fmt::Display) -> ImplError {
    ImplError::Failed(what.to_string())
}

/// What the device-keys signature covers.
fn device_keys_message(peer: &Peer, identity: &[u8]) -> Result<Vec<u8>, ImplError> {
    let mut w = Writer::new();
    w.raw(DEVICE_KEYS_LABEL);
    w.bytes(peer.user.as_bytes())?;
    w.bytes(peer.device.as_bytes())?;
    w.bytes(identity)?;
    Ok(w.finish())
}

/// The two keys of a published identity.
fn parse_identity(identity: &[u8]) -> Result<(Curve25519PublicKey, Ed25519PublicKey), ImplError> {
    let mut r = Reader::new(identity);
    let curve: [u8; 32] = r.array("Curve25519 identity key")?;
    let ed: [u8; 32] = r.array("Ed25519 fingerprint key")?;
    r.end("identity")?;
    let ed = Ed25519PublicKey::from_slice(&ed).map_err(|_| rejected("Ed25519 fingerprint key is not a valid point"))?;
    Ok((Curve25519PublicKey::from_bytes(curve), ed))
}

fn check_signature(key: &Ed25519PublicKey, message: &[u8], signature: &[u8], what: &str) -> Result<(), ImplError> {
    let signature = Ed25519Signature::from_slice(signature).map_err(|_| rejected(format!("{what} is malformed")))?;
    key.verify(message, &signature).map_err(|_| rejected(format!("{what} does not verify")))
}

/// The keys to start an outbound session with a served directory entry:
/// its Curve25519 identity key and a one-time key (the served one, else the
/// fallback key), every signature checked.
fn session_keys_of(entry: &DirectoryEntry) -> Result<(Curve25519PublicKey, Curve25519PublicKey), ImplError> {
    let (curve, ed) = parse_identity(&entry.identity)?;
    let mut r = Reader::new(&entry.prekey);
    let fallback: [u8; 32] = r.array("fallback key")?;
    let fallback_signature: [u8; 64] = r.array("fallback key signature")?;
    let device_signature: [u8; 64] = r.array("device keys signature")?;
    r.end("prekey")?;
    let peer = Peer::from(&entry.device);
    check_signature(&ed, &device_keys_message(&peer, &entry.identity)?, &device_signature, "device keys signature")?;
    let one_time = match &entry.one_time {
        Some(item) => {
            let mut r = Reader::new(item);
            let key: [u8; 32] = r.array("one-time key")?;
            let signature: [u8; 64] = r.array("one-time key signature")?;
            r.end("one-time key")?;
            check_signature(&ed, &[ONE_TIME_LABEL, &key].concat(), &signature, "one-time key signature")?;
            key
        }
        None => {
            check_signature(&ed, &[FALLBACK_LABEL, &fallback].concat(), &fallback_signature, "fallback key signature")?;
            fallback
        }
    };
    Ok((curve, Curve25519PublicKey::from_bytes(one_time)))
}

/// Why vodozemac refused a message's encoding, in fixed words: error texts
/// can reach reports, which never quote bytes a design's randomness chose
/// (vodozemac's own texts embed keys and lengths).
pub(crate) fn decode_error(e: &vodozemac::DecodeError) -> &'static str {
    use vodozemac::DecodeError as E;
    match e {
        E::MessageType(_) => "unknown message type",
        E::MissingVersion => "no version",
        E::MessageTooShort(_) => "too short",
        E::InvalidVersion(..) => "unsupported version",
        E::InvalidKey(_) => "an invalid public key",
        E::InvalidMacLength(..) => "a MAC of the wrong length",
        E::Signature(_) => "an invalid signature",
        E::ProtoBufError(_) => "malformed fields",
        E::Base64(_) => "not base64",
    }
}

/// Why an Olm session refused a message, in fixed words.
fn decryption_error(e: &DecryptionError) -> &'static str {
    match e {
        DecryptionError::InvalidMAC(_) | DecryptionError::InvalidMACLength(..) => "its MAC does not verify",
        DecryptionError::InvalidPadding(_) => "bad padding",
        DecryptionError::NonContributoryKey => "a ratchet key without contributory behaviour",
        DecryptionError::MissingMessageKey(_) => "its message key was used already (a replay) or dropped",
        DecryptionError::TooBigMessageGap(..) => "too many skipped messages",
    }
}

/// Why vodozemac would not create an Olm session, in fixed words.
fn creation_error(e: &SessionCreationError) -> &'static str {
    match e {
        SessionCreationError::MissingOneTimeKey(_) => "unknown or already used one-time key",
        SessionCreationError::MismatchedIdentityKey(..) => "mismatched identity key",
        SessionCreationError::MismatchedSessionConfig { .. } => "unsupported Olm version",
        SessionCreationError::Decryption(d) => decryption_error(d),
        SessionCreationError::NonContributoryKey => "a key without contributory behaviour",
    }
}

/// The plaintext of a [`Payload`], or the bytes as they are when they are
/// not one (what a forensic open recovered is returned either way).
pub(crate) fn payload_text(content: Vec<u8>) -> Vec<u8> {
    let mut r = Reader::new(&content);
    match Payload::decode(&mut r) {
        Ok(payload) if r.remaining() == 0 => payload.plaintext,
        _ => content,
    }
}

/// Puts the recipient's address into an error about its directory entry.
fn in_entry(e: ImplError, device: &DeviceAddr) -> ImplError {
    match e {
        ImplError::Rejected(s) => ImplError::Rejected(format!("directory entry of {device}: {s}")),
        ImplError::Failed(s) => ImplError::Failed(format!("directory entry of {device}: {s}")),
        other => other,
    }
}

/// The plaintext inside an Olm message.
struct Inner {
    kind: u8,
    sender: Peer,
    identity: [u8; IDENTITY_LEN],
    device_signature: [u8; 64],
    recipient: Peer,
    recipient_identity: [u8; IDENTITY_LEN],
    content: Vec<u8>,
}

impl Inner {
    fn parse(bytes: &[u8]) -> Result<Inner, ImplError> {
        let mut r = Reader::new(bytes);
        let kind = r.u8("content kind")?;
        let sender = Peer { user: r.string("sender user")?, device: r.string("sender device")? };
        let identity = r.array("sender identity")?;
        let device_signature = r.array("device keys signature")?;
        let recipient = Peer { user: r.string("recipient user")?, device: r.string("recipient device")? };
        let recipient_identity = r.array("recipient identity")?;
        let content = r.bytes("content")?.to_vec();
        r.end("Olm plaintext")?;
        Ok(Inner { kind, sender, identity, device_signature, recipient, recipient_identity, content })
    }
}

impl Channel {
    /// A new device of design `design` at `addr`: a fresh vodozemac account
    /// with a fallback key and a full set of one-time keys.
    pub(crate) fn create(design: &str, addr: &DeviceAddr) -> Result<Channel, ImplError> {
        let mut account = Account::new();
        account.generate_fallback_key();
        let fallback =
            account.fallback_key().into_values().next().ok_or_else(|| failed("vodozemac made no fallback key"))?;
        let keys = account.identity_keys();
        let identity = [keys.curve25519.as_bytes().as_slice(), keys.ed25519.as_bytes()].concat();
        let peer = Peer::from(addr);
        let device_signature = account.sign(device_keys_message(&peer, &identity)?).to_bytes().to_vec();
        let fallback = SignedKey::sign(&account, FALLBACK_LABEL, fallback);
        account.mark_keys_as_published();
        let mut channel = Channel {
            design: design.to_owned(),
            addr: peer,
            account: Live::new(account),
            identity,
            device_signature,
            fallback,
            published: Vec::new(),
            sessions: BTreeMap::new(),
            inbound_ids: VecDeque::new(),
            seen: Seen::default(),
            verified: BTreeMap::new(),
        };
        channel.top_up();
        Ok(channel)
    }

    /// A channel read back from its serialised form, refused unless it
    /// belongs to design `design`.
    pub(crate) fn restore(design: &str, channel: Channel) -> Result<Channel, ImplError> {
        if channel.design != design {
            return Err(rejected(format!("state of design `{}`, expected `{design}`", channel.design)));
        }
        Ok(channel)
    }

    /// This device's address.
    pub(crate) fn addr(&self) -> &Peer {
        &self.addr
    }

    /// This device's identity (Curve25519 || Ed25519).
    pub(crate) fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// Generates and signs one-time keys until the recommended number is
    /// published, and marks them published.
    fn top_up(&mut self) {
        let missing = self.account.max_number_of_one_time_keys().saturating_sub(self.published.len());
        if missing == 0 {
            return;
        }
        let account = self.account.make_mut();
        account.generate_one_time_keys(missing);
        let mut fresh: Vec<_> = account.one_time_keys().into_iter().collect();
        fresh.sort_by_key(|(id, _)| *id);
        for (_, key) in fresh {
            self.published.push(SignedKey::sign(account, ONE_TIME_LABEL, key));
        }
        account.mark_keys_as_published();
    }

    /// The bundle to publish, one-time keys topped up.
    pub(crate) fn publish(&mut self) -> Result<Bundle, ImplError> {
        self.top_up();
        let prekey = [self.fallback.bytes(), self.device_signature.clone()].concat();
        Ok(Bundle {
            identity: self.identity.clone(),
            prekey,
            one_time: self.published.iter().map(SignedKey::bytes).collect(),
        })
    }

    /// The notices for an encryption (member list and served devices, trust
    /// on first use) and the directory entries to encrypt to: each device
    /// once, never this one, and no device pinned to another identity than
    /// the one served (that one gets `identity changed` and nothing else).
    pub(crate) fn prepare<'r>(
        &mut self,
        req: &EncryptRequest<'r>,
        events: &mut BTreeSet<Event>,
    ) -> Vec<&'r DirectoryEntry> {
        self.seen.members(req.conversation, req.members, events);
        self.seen.directory(&self.addr, req.recipients, events);
        // What the user is only now told about gets this message not.
        let withheld = Withheld::from_events(events);
        let mut done = BTreeSet::new();
        let mut out = Vec::new();
        for entry in req.recipients {
            let peer = Peer::from(&entry.device);
            if peer == self.addr || !done.insert(peer.clone()) || withheld.holds(&peer) {
                continue;
            }
            if self.verified.get(&peer).is_some_and(|pinned| *pinned != entry.identity) {
                // A verified contact's safety number changed: warn, and send
                // this device nothing until the user verifies again.
                events.insert(event(EventKind::IdentityChanged, &peer));
                continue;
            }
            out.push(entry);
        }
        out
    }

    /// One envelope body for `entry`'s device carrying `content` of `kind`,
    /// on the newest session with the served identity, or a new one.
    pub(crate) fn seal(&mut self, entry: &DirectoryEntry, kind: u8, content: &[u8]) -> Result<Vec<u8>, ImplError> {
        let peer = Peer::from(&entry.device);
        let recipient_identity: [u8; IDENTITY_LEN] =
            entry.identity.as_slice().try_into().map_err(|_| {
                in_entry(rejected(format!("identity of {} bytes", entry.identity.len())), &entry.device)
            })?;
        let inner = self.inner(kind, &peer, &recipient_identity, content)?;
        let existing = self
            .sessions
            .get_mut(&peer)
            .and_then(|list| list.iter().position(|s| s.peer_identity == entry.identity).map(|i| list.remove(i)));
        let mut stored = match existing {
            Some(s) => s,
            None => self.start_session(entry).map_err(|e| in_entry(e, &entry.device))?,
        };
        let message = stored.session.make_mut().encrypt(&inner).map_err(|_| {
            failed(format!("Olm encryption to {}: a ratchet key without contributory behaviour", entry.device))
        })?;
        self.keep(&peer, stored);
        let (kind, bytes) = match message {
            OlmMessage::PreKey(m) => (KIND_PREKEY, m.to_bytes()),
            OlmMessage::Normal(m) => (KIND_NORMAL, m.to_bytes()),
        };
        Ok([[VERSION, kind].as_slice(), &bytes].concat())
    }

    /// An outbound Olm session with a served directory entry.
    fn start_session(&self, entry: &DirectoryEntry) -> Result<Stored, ImplError> {
        let (identity_key, one_time_key) = session_keys_of(entry)?;
        let session = self
            .account
            .create_outbound_session(SessionConfig::version_1(), identity_key, one_time_key)
            .map_err(|e| rejected(format!("cannot start an Olm session: {}", creation_error(&e))))?;
        Ok(Stored { id: session.session_id(), peer_identity: entry.identity.clone(), session: Live::new(session) })
    }

    /// Stores a session as the most recently used one with `peer`.
    fn keep(&mut self, peer: &Peer, stored: Stored) {
        let list = self.sessions.entry(peer.clone()).or_default();
        list.retain(|s| s.id != stored.id);
        list.insert(0, stored);
        list.truncate(MAX_SESSIONS);
    }

    fn inner(
        &self,
        kind: u8,
        recipient: &Peer,
        recipient_identity: &[u8; IDENTITY_LEN],
        content: &[u8],
    ) -> Result<Vec<u8>, ImplError> {
        let mut w = Writer::new();
        w.u8(kind);
        w.bytes(self.addr.user.as_bytes())?;
        w.bytes(self.addr.device.as_bytes())?;
        w.raw(&self.identity);
        w.raw(&self.device_signature);
        w.bytes(recipient.user.as_bytes())?;
        w.bytes(recipient.device.as_bytes())?;
        w.raw(recipient_identity);
        w.bytes(content)?;
        Ok(w.finish())
    }

    /// Opens an Olm envelope body (kind 0 or 1) that the provider says
    /// `from` sent, and authenticates what it carries.
    pub(crate) fn open(&mut self, from: &Peer, body: &[u8]) -> Result<Opened, ImplError> {
        let message = olm_message(body)?;
        let opened = match &message {
            OlmMessage::PreKey(m) => self.open_prekey(from, m, &message)?,
            OlmMessage::Normal(_) => self.open_normal(from, &message)?,
        };
        if self.verified.get(from).is_some_and(|pinned| *pinned != opened.identity) {
            return Err(rejected(format!("{} is verified with another identity", from.to_addr())));
        }
        Ok(opened)
    }

    /// A normal message: tries every session with the sender, most recently
    /// used first.
    fn open_normal(&mut self, from: &Peer, message: &OlmMessage) -> Result<Opened, ImplError> {
        let mut found = None;
        for (i, stored) in self.sessions.get(from).map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
            let mut session = stored.session.copy();
            if let Ok(plaintext) = session.decrypt(message) {
                found = Some((i, session, plaintext));
                break;
            }
        }
        let Some((i, session, plaintext)) = found else {
            return Err(rejected(format!("no Olm session with {} opens this message", from.to_addr())));
        };
        self.advanced(from, i, session, &plaintext)
    }

    /// Authenticates what session `i` with `from` decrypted, and keeps the
    /// advanced session as the most recently used one.
    fn advanced(&mut self, from: &Peer, i: usize, session: Session, plaintext: &[u8]) -> Result<Opened, ImplError> {
        let mut stored = self
            .sessions
            .get(from)
            .and_then(|list| list.get(i))
            .cloned()
            .ok_or_else(|| failed(format!("Olm session {i} with {} vanished", from.to_addr())))?;
        let opened = self.authenticate(from, &stored.peer_identity, plaintext)?;
        stored.session = Live::new(session);
        self.keep(from, stored);
        Ok(opened)
    }

    /// A pre-key message: opens it in the session it names if that session
    /// is kept; otherwise, unless that session was seen before, creates the
    /// inbound session (which uses up the one-time key).
    fn open_prekey(&mut self, from: &Peer, m: &PreKeyMessage, message: &OlmMessage) -> Result<Opened, ImplError> {
        let id = m.session_id();
        let known = self.sessions.get(from).and_then(|list| list.iter().position(|s| s.id == id));
        if let Some(i) = known {
            let stored = self.sessions.get(from).and_then(|list| list.get(i));
            let mut session = stored.ok_or_else(|| failed("Olm session vanished"))?.session.copy();
            let plaintext = session.decrypt(message).map_err(|e| {
                rejected(format!("pre-key message of a known session does not open: {}", decryption_error(&e)))
            })?;
            return self.advanced(from, i, session, &plaintext);
        }
        if self.inbound_ids.contains(&id) {
            return Err(rejected("pre-key message of a session seen before (a replay)"));
        }
        let created = self
            .create_inbound_session(m)
            .map_err(|e| rejected(format!("no Olm session from this pre-key message: {}", creation_error(&e))))?;
        let inner = Inner::parse(&created.plaintext)?;
        if inner.identity[..32] != *m.identity_key().as_bytes() {
            return Err(rejected("the Olm plaintext names another Curve25519 key than the session's"));
        }
        let (_, ed) = parse_identity(&inner.identity)?;
        check_signature(
            &ed,
            &device_keys_message(&inner.sender, &inner.identity)?,
            &inner.device_signature,
            "sender's device keys signature",
        )?;
        let opened = self.authenticate(from, &inner.identity, &created.plaintext)?;
        let used = m.one_time_key().to_bytes();
        self.published.retain(|k| k.key != used);
        self.inbound_ids.push_back(id.clone());
        if self.inbound_ids.len() > MAX_INBOUND_IDS {
            self.inbound_ids.pop_front();
        }
        self.keep(from, Stored { id, peer_identity: inner.identity.to_vec(), session: Live::new(created.session) });
        Ok(opened)
    }

    /// **Forensic open** of an Olm envelope body (kind 0 or 1), as a thief
    /// holding this state would (see
    /// [`Device::forensic_open`](doormat_engine::Device::forensic_open)):
    /// every Olm session the state holds, with every peer, tries the message
    /// (on a copy, the one that opens it is kept advanced); a pre-key message
    /// also tries to make a new inbound session from whichever one-time or
    /// fallback key the account still holds (vodozemac removes a one-time key
    /// once used, so an already used one fails: that key is gone). None of
    /// the client's checks apply: no replay memory (`inbound_ids`), no
    /// sender, recipient or pinned-identity binding. A session it makes is
    /// absorbed, as the thief's copy of the app would keep it. `None` when no
    /// key the state holds opens it.
    pub(crate) fn forensic_open(&mut self, body: &[u8]) -> Result<Option<Recovered>, ImplError> {
        let message = olm_message(body)?;
        for list in self.sessions.values_mut() {
            for stored in list.iter_mut() {
                let mut session = stored.session.copy();
                if let Ok(plaintext) = session.decrypt(&message) {
                    stored.session = Live::new(session);
                    return Ok(Some(Recovered::of(plaintext)));
                }
            }
        }
        let OlmMessage::PreKey(m) = &message else { return Ok(None) };
        let Ok(created) = self.create_inbound_session(m) else { return Ok(None) };
        let used = m.one_time_key().to_bytes();
        self.published.retain(|k| k.key != used);
        let recovered = Recovered::of(created.plaintext);
        let stored = Stored {
            id: m.session_id(),
            peer_identity: recovered.sender_identity.clone().unwrap_or_default(),
            session: Live::new(created.session),
        };
        // Kept under the sender its plaintext names (else under a peer no
        // real device has), and never evicted: a thief keeps everything.
        let peer = recovered.sender.clone().unwrap_or_else(|| Peer { user: String::new(), device: m.session_id() });
        self.sessions.entry(peer).or_default().insert(0, stored);
        Ok(Some(recovered))
    }

    /// vodozemac's inbound session from a pre-key message, which uses up the
    /// one-time key the message names. Every key the account holds is in
    /// `published` or is `fallback`, so a message on any other key fails
    /// here as vodozemac would fail it (its version checked first, then the
    /// key), without touching the account: only a message on a key this
    /// device holds changes (and so copies, when shared) the account. Keys
    /// compare as vodozemac compares them, as Curve25519 field elements (a
    /// key with its unused top bit flipped is the same key).
    fn create_inbound_session(&mut self, m: &PreKeyMessage) -> Result<InboundCreationResult, SessionCreationError> {
        let key = m.one_time_key();
        let held = |k: &SignedKey| Curve25519PublicKey::from_bytes(k.key) == key;
        if !held(&self.fallback) && !self.published.iter().any(held) {
            return Err(if m.message().version() == OLM_V1_VERSION {
                SessionCreationError::MissingOneTimeKey(m.one_time_key())
            } else {
                SessionCreationError::MismatchedSessionConfig { expected: SessionConfig::version_1(), got: None }
            });
        }
        self.account.make_mut().create_inbound_session(SessionConfig::version_1(), m.identity_key(), m)
    }

    /// Checks the plaintext of an Olm message from `from` on a session with
    /// `identity`: sender, sender keys, recipient, recipient keys.
    fn authenticate(&self, from: &Peer, identity: &[u8], plaintext: &[u8]) -> Result<Opened, ImplError> {
        let inner = Inner::parse(plaintext)?;
        if inner.sender != *from {
            return Err(rejected(format!(
                "Olm message from {} says it is from {}",
                from.to_addr(),
                inner.sender.to_addr()
            )));
        }
        if inner.identity.as_slice() != identity {
            return Err(rejected("the Olm plaintext names other sender keys than the session's"));
        }
        if inner.recipient != self.addr || inner.recipient_identity.as_slice() != self.identity {
            return Err(rejected(format!("Olm message meant for {} under other keys", inner.recipient.to_addr())));
        }
        Ok(Opened { kind: inner.kind, content: inner.content, identity: identity.to_vec() })
    }

    /// Whether `peer` is pinned to another identity than `identity`.
    pub(crate) fn pinned_elsewhere(&self, peer: &Peer, identity: &[u8]) -> bool {
        self.verified.get(peer).is_some_and(|pinned| pinned.as_slice() != identity)
    }

    /// The notices for a message `from` sent under `identity` (none about
    /// this device itself), with the member list it states when it carries
    /// one.
    pub(crate) fn received(&mut self, from: &Peer, identity: &[u8], members: Option<(&str, &[UserId])>) -> Vec<Event> {
        let mut events = BTreeSet::new();
        if *from != self.addr {
            self.seen.sender(&self.addr, from, identity, &mut events);
        }
        if let Some((conversation, members)) = members {
            self.seen.members(conversation, members, &mut events);
        }
        events.into_iter().collect()
    }

    /// Pins `contact`'s identity; `identity changed` if the identity this
    /// device last saw for it (served or authenticated) is another one.
    pub(crate) fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Vec<Event> {
        let peer = Peer::from(contact);
        let mut events = Vec::new();
        if self.seen.identities.get(&peer).is_some_and(|known| known.as_slice() != identity) {
            events.push(event(EventKind::IdentityChanged, &peer));
        }
        self.verified.insert(peer, identity.to_vec());
        events
    }
}

/// The Olm message an envelope body (`version ‖ kind ‖ message`, kind 0 or
/// 1) carries.
fn olm_message(body: &[u8]) -> Result<OlmMessage, ImplError> {
    let mut r = Reader::new(body);
    let version = r.u8("version")?;
    if version != VERSION {
        return Err(rejected(format!("unknown envelope version {version}")));
    }
    let kind = r.u8("message kind")?;
    match kind {
        KIND_PREKEY | KIND_NORMAL => OlmMessage::from_parts(usize::from(kind), r.rest())
            .map_err(|e| rejected(format!("not an Olm message: {}", decode_error(&e)))),
        other => Err(rejected(format!("unknown Olm message kind {other}"))),
    }
}
