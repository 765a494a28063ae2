//! `mls`: RFC 9420 Messaging Layer Security on openmls, with the harness as
//! the delivery service. One MLS group per conversation (cipher suite 0x0003,
//! X25519 / ChaCha20-Poly1305 / SHA-256 / Ed25519); every device of every
//! member is a leaf whose credential is a `BasicCredential` naming the device
//! address (`user/device`).
//!
//! **Published bundle:** `identity` = the device's Ed25519 signature public
//! key (32 bytes, what users compare); `prekey` = a *last-resort* KeyPackage,
//! served to every requester and kept after use; `one_time` = ten ordinary
//! KeyPackages, each deleted by the Welcome that uses it. All are TLS
//! serializations of RFC 9420 `KeyPackage`s, with the lifetime fixed to
//! 2020-01-01..2100-01-01 so that no clock enters their bytes.
//!
//! **Who may change the group** (RFC 9420 as it means it: only members
//! add and remove, by Commit, and the delivery service can do neither):
//! a device commits what its own user did, which [`Device::user_action`]
//! tells it, and nothing the provider merely states. It creates the MLS
//! group of a group conversation only if its user created the conversation
//! on it; of a one-to-one conversation whenever its user writes to the one
//! contact the request names (that is the user's choice). It adds every
//! device the directory serves for a member its user put in (at creation, or
//! added later), its own user's devices when it creates the group, and a
//! device its user linked later; it removes the leaves of a member its user
//! removed. Each is done by its next Commit in that conversation, since a
//! device can only send a Commit with a message; a member cannot remove
//! itself. Everything else the provider lists is left out: a member or
//! device named in `EncryptRequest.members` or served in `recipients` that
//! nobody added is not in the group, so it gets nothing; the sender is told
//! once per conversation (`member added` for such a member, `device added`
//! for such a device of a member), a warning that the provider's list and
//! the group differ. A member the provider stops listing stays, until a
//! member's user removes it. Members and devices others add reach this
//! device through their Commits, like any change. So a device that no
//! Welcome has reached cannot write to a group conversation at all (it is
//! refused), and a new member, or a newly linked device, reads only from
//! the Commit that adds it: the next message of a device whose user added
//! it (or, for a linked device, of one of its user's devices already in the
//! group).
//!
//! **Sending** (`encrypt`): the device takes its group for the conversation
//! (creating one if it may) and commits the changes above. A device to add
//! needs a KeyPackage the provider served: the one-time one of this first
//! contact, one kept from an earlier first contact, or the last-resort one; a
//! device with no valid KeyPackage (signed by the served identity, naming
//! the served device) cannot be added and does not receive (its member
//! stays to be added). The device also updates its own leaf (a fresh
//! UpdatePath), which is what heals it after a compromise (RFC 9420 §16.6),
//! when it has received something since its last message and every member
//! that ever wrote in the conversation has written in the current epoch: the
//! traffic then shows the members are in step, so two of them rarely commit
//! for the same epoch at once. That counts on members who never wrote not
//! committing, so a device's first message in a conversation carries no
//! update (one held by the provider would otherwise meet the update of a
//! member who did not know it writes, and split the group). Adds, removals and the update go into one
//! Commit, merged at once; then the application message is encrypted.
//!
//! **Envelopes** (body format in [`frame`]: `"DMLS" || version || group id ||
//! MLSMessages`), in order: to the devices this send removes, the Commit that
//! removes them (after the Commits they may lack); to the members already in the group, the Commits they may
//! lack (every Commit since the oldest epoch any of them is known to have
//! reached, at most the last 16), if any; to each set of devices this device
//! added and has not heard from since, their Welcome and the Commits after
//! it; then the application message, to every other member. Repeating
//! Commits and Welcomes until the recipient is heard from is how a client
//! copes with a delivery service that delays and reorders: MLS needs every
//! Commit of an epoch processed before anything of the next (RFC 9420 §14).
//!
//! **Receiving** (`decrypt`): a Welcome is processed unless it is the one
//! the device joined by (recognised by its hash); a Welcome for a group the
//! device holds an older state of replaces it (the device was removed and
//! added again). A Commit for the current epoch is processed and merged; one
//! for an earlier epoch is skipped only if it is byte for byte one the device
//! applied, or older than the Welcome it joined by; one for a later epoch means an earlier one is missing (refused).
//! The application message must come last and be signed by the device the
//! provider names as sender. An envelope of nothing but what the device
//! already has is a duplicate, answered without plaintext. Application
//! messages of up to 8 past epochs are still read (openmls's
//! `max_past_epochs`; a message key is deleted once used, so what was read
//! stays unreadable). A device removed by a Commit keeps the group at the
//! epoch it was last a member of, so it still reads what was sent to it then.
//!
//! **Forensic open** ([`Device::forensic_open`]): what openmls itself
//! opens with the secrets the state holds, with none of this client's checks
//! (conversation, named sender, pinned keys, duplicate bookkeeping, message
//! order). A Welcome whose KeyPackage's private key is still held is joined
//! (a one-time KeyPackage is deleted by the Welcome that used it; the
//! last-resort one is kept), unless the group is held at that epoch or a
//! later one; a Commit for the held epoch is processed and merged; each
//! application message is left to openmls, which opens it with the current
//! or a kept past epoch's secret tree, and refuses one whose key it used
//! and deleted, and the device's own (its sending ratchet only moves on).
//!
//! **Groups per conversation:** two devices that both start a one-to-one
//! conversation before either hears from the other create two groups (and
//! so does a contact's device its user linked, writing before it was
//! added); all are kept, and
//! messages are accepted in any group the device is in. A device sends in the
//! group with the smallest id among those it is still in, so all converge.
//!
//! **Notices:** every add and remove of a Commit the device makes or
//! processes is shown: a leaf of a user who already had a leaf is `device
//! added`, of a user new to the group `member added`; removals likewise. A
//! device whose signature key differs from the one this device saw before
//! (served, in a Welcome, or added by a Commit) shows `identity changed`, and
//! so does every send while the directory serves a key for a device other
//! than the one its leaf in the group has: the group keeps that leaf (only
//! the member itself can change it). What the provider lists and nobody
//! added is shown once, as above.
//! The first sight of a conversation (creating its first group, or joining
//! one) shows no adds; a further group of the same conversation shows the
//! devices the others did not have. [`Device::verify`] pins a device's key:
//! the device is then never added with another key (every send served
//! another key shows `identity changed`), a leaf with another key is removed
//! at the next send (the user's own act; a member's device served under the
//! verified key is then added back), and messages signed by it under
//! another key are refused.
//!
//! **Randomness** ([`engine`]): the openmls provider draws every random byte
//! from a ChaCha20 generator seeded with the device seed and reseeded with
//! each [`Device::add_entropy`]; HPKE encryption and signature key
//! generation, which openmls_rust_crypto does with OS randomness, are done
//! here from the same generator ([`hpke`]). openmls still reads the wall
//! clock to check lifetimes and to time-stamp the past-epoch secrets it
//! keeps; neither reaches an envelope.
//!
//! **Primitives** ([`primitives`]): known-answer tests run through the
//! provider's `OpenMlsCrypto`, the cryptography openmls itself calls:
//! ChaCha20-Poly1305, HKDF and HMAC over SHA-256, Ed25519. X25519 (inside
//! HPKE only) and AES-256-GCM (not in the suite) are not exposed.
//!
//! **Invariants:** `encrypt` and `decrypt` work on a copy of the device and
//! keep it only on success, so a refused envelope leaves the device exactly
//! as it was; nothing that fails to authenticate is returned; no input makes
//! this code panic (openmls is called under `catch_unwind` as a last line of
//! defence, and a panic there is a refusal). [`Device::fork`] copies the
//! whole openmls storage, the generator position and the bookkeeping.
//!
//! **What openmls (and MLS) do not let us control:** openmls deletes a used
//! KeyPackage when it *reads* a Welcome, even one that then fails (hence the
//! copies); it refuses everything in a group once the device's removal is
//! merged (hence the removed device keeps the earlier epoch); it reads a
//! Commit only in the epoch it was made for. Two Commits made concurrently
//! for the same epoch therefore fork the group for good: RFC 9420 §14 leaves
//! choosing between them to the delivery service, and the harness's provider
//! does not choose.

mod engine;
mod frame;
mod hpke;
mod primitives;

use crate::framing::rejected;
use crate::persist::{pairs, Peer, RngState};
use doormat_engine::adapter::Seed;
use doormat_engine::{
    Bundle, Capabilities, Design, Device, DirectoryEntry, EncryptRequest, Event, EventKind, ImplError, InEnvelope,
    OutEnvelope, Received, Sent, UserAction,
};
use doormat_formats::{DeviceAddr, UserId};
use engine::{MlsProvider, CIPHERSUITE};
use openmls::prelude::tls_codec::{Deserialize as TlsDeserialize, Serialize as TlsSerialize};
use openmls::prelude::{
    BasicCredential, Capabilities as LeafCapabilities, ContentType, Credential, CredentialWithKey, ExtensionType,
    GroupId, KeyPackage, KeyPackageIn, Lifetime, MlsGroup, MlsGroupCreateConfig, MlsGroupJoinConfig, MlsMessageBodyIn,
    MlsMessageIn, ProcessedMessageContent, ProtocolMessage, ProtocolVersion, Sender, SenderRatchetConfiguration,
    StagedWelcome, Welcome, PURE_CIPHERTEXT_WIRE_FORMAT_POLICY,
};
use openmls_basic_credential::SignatureKeyPair;
use openmls_traits::types::SignatureScheme;
use openmls_traits::OpenMlsProvider;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

const NAME: &str = "mls";
/// Ordinary KeyPackages published per device.
const ONE_TIME_KEY_PACKAGES: usize = 10;
/// Served KeyPackages kept per device for a later add.
const MAX_CACHED_KEY_PACKAGES: usize = 4;
/// Past epochs whose application messages are still read.
const PAST_EPOCHS: usize = 8;
/// Message keys kept for messages of one sender arriving out of order.
const OUT_OF_ORDER_TOLERANCE: u32 = 32;
/// How far ahead of the last message of a sender a message may be.
const MAXIMUM_FORWARD_DISTANCE: u32 = 1000;
/// Commits kept per group to repeat to members who may lack them.
const MAX_LOGGED_COMMITS: usize = 16;
/// Application messages are padded to a multiple of this many bytes.
const PADDING: usize = 32;
/// KeyPackage and leaf lifetime: 2020-01-01 to 2100-01-01 (UTC).
const LIFETIME: (u64, u64) = (1_577_836_800, 4_102_444_800);

/// The `mls` design.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mls;

impl Design for Mls {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        // openmls reads the wall clock (lifetime checks, time-stamped past-epoch
        // secrets); under load, identical runs have been seen to give different
        // envelope bytes of the same lengths, so byte-determinism is not promised.
        Capabilities::with_export(true).unseeded()
    }

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(MlsDevice::create(addr, seed)))
    }

    /// Restores a device; the state carries its own address, which wins over
    /// `addr` (a seized state acts as the device it was taken from).
    fn import_device(&self, _addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(MlsDevice::import(state)?))
    }

    /// The cryptography of the design's openmls provider (see [`primitives`]).
    fn primitives(&self) -> Option<Box<dyn doormat_engine::Primitives>> {
        Some(Box::new(primitives::OpenMlsPrimitives::new()))
    }
}

/// What this device knows about one MLS group besides openmls's own state.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GroupMeta {
    conversation: String,
    /// The epoch of the state held.
    epoch: u64,
    /// Whether this device is (as far as it knows) still a member.
    active: bool,
    /// The leaves (device, signature key), this device included.
    members: Vec<(Peer, Vec<u8>)>,
    /// The last Commits processed or made: (epoch they left, MLSMessage).
    log: Vec<(u64, Vec<u8>)>,
    /// The latest epoch each other member is known to have reached.
    #[serde(with = "pairs")]
    acks: BTreeMap<Peer, u64>,
    /// Welcomes this device made for devices not heard from since: (epoch
    /// they join at, MLSMessage).
    #[serde(with = "pairs")]
    welcomes: BTreeMap<Peer, (u64, Vec<u8>)>,
    /// The latest epoch each other member was heard from in (a message it
    /// sent in that epoch, or a Commit it made to reach it).
    #[serde(with = "pairs")]
    heard: BTreeMap<Peer, u64>,
    /// Whether anything from another member arrived since this device last
    /// wrote (or updated its leaf).
    received: bool,
    /// SHA-256 of the Welcome this device joined by, to recognise it when
    /// it comes again.
    joined_with: Option<[u8; 32]>,
    /// The epoch this device joined at by that Welcome: Commits of earlier
    /// epochs are already in the state it joined with.
    #[serde(default)]
    joined_at: Option<u64>,
}

/// A device's state but its openmls storage and generator (no `Debug`: it
/// holds the signing key).
#[derive(Clone, Serialize, Deserialize)]
struct State {
    design: String,
    addr: Peer,
    /// Ed25519 secret key.
    signing_key: [u8; 32],
    /// Ed25519 public key: the published identity.
    identity: Vec<u8>,
    /// Groups by MLS group id.
    #[serde(with = "pairs")]
    groups: BTreeMap<Vec<u8>, GroupMeta>,
    /// The signature key last seen per device.
    #[serde(with = "pairs")]
    seen: BTreeMap<Peer, Vec<u8>>,
    /// Keys the user confirmed out of band.
    #[serde(with = "pairs")]
    pinned: BTreeMap<Peer, Vec<u8>>,
    /// KeyPackages served on first contact and not used yet.
    #[serde(with = "pairs")]
    cached: BTreeMap<Peer, Vec<Vec<u8>>>,
    /// Per conversation, the devices this device ever heard from in it, and
    /// itself once it wrote there.
    spoken: BTreeMap<String, BTreeSet<Peer>>,
    /// Per conversation, what this device's user did on it and this device
    /// has not committed yet.
    #[serde(default)]
    intents: BTreeMap<String, Intent>,
    /// Devices of this device's user that the user linked while this device
    /// existed: it adds them to every group it sends in.
    #[serde(default)]
    linked: BTreeSet<Peer>,
    /// Per conversation, the members (device `""`) and devices the provider
    /// listed that the group lacked and this device did not add, already
    /// shown to the user.
    #[serde(default)]
    listed: BTreeMap<String, BTreeSet<Peer>>,
}

/// What a device's own user did in one conversation, on this device, that
/// its next Commit there carries out (see [`Device::user_action`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Intent {
    /// The user created the conversation here: this device may create its
    /// group.
    create: bool,
    /// Users to add: every device the directory serves for them at that
    /// Commit (trust on first use, as for any first contact).
    add: BTreeSet<String>,
    /// Users to remove: every leaf of theirs.
    remove: BTreeSet<String>,
}

/// What [`Device::export_state`] writes.
#[derive(Serialize, Deserialize)]
struct Export {
    rng: RngState,
    state: State,
    /// openmls storage entries (key, value), hex, in key order.
    storage: Vec<(String, String)>,
}

/// One device.
struct MlsDevice {
    provider: MlsProvider,
    st: State,
}

impl std::fmt::Debug for MlsDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlsDevice")
            .field("addr", &self.st.addr)
            .field("groups", &self.st.groups.len())
            .finish_non_exhaustive()
    }
}

/// The leaves of a group: (device, signature key), in leaf order.
type Leaves = Vec<(Peer, Vec<u8>)>;

impl Device for MlsDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        let next = self.duplicate();
        let bundle = guarded("publish", || next.make_bundle())?;
        *self = next;
        Ok(bundle)
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let mut next = self.duplicate();
        let sent = guarded("encrypt", || next.encrypt_all(req))?;
        *self = next;
        Ok(sent)
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let mut next = self.duplicate();
        let received = guarded("decrypt", || next.decrypt_one(env))?;
        *self = next;
        Ok(received)
    }

    fn fork(&self) -> Box<dyn Device> {
        Box::new(self.duplicate())
    }

    /// What openmls opens with the secrets this state holds (see
    /// [`MlsDevice::forensic`]).
    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        let mut next = self.duplicate();
        let recovered = guarded("forensic open", || next.forensic(env))?;
        *self = next;
        Ok(recovered)
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        let export = Export {
            rng: self.provider.engine().rng_state(),
            state: self.st.clone(),
            storage: self.provider.entries().into_iter().map(|(k, v)| (hex::encode(&k), hex::encode(&v))).collect(),
        };
        serde_json::to_vec(&export).map_err(|e| ImplError::Failed(format!("cannot serialize state: {e}")))
    }

    fn add_entropy(&mut self, entropy: &Seed) {
        self.provider.engine().add_entropy(entropy);
    }

    /// Pins `contact`'s signature key; shows `identity changed` if the key
    /// this device last saw for it is another one.
    fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        let peer = Peer::from(contact);
        let mut events = Vec::new();
        if self.st.seen.get(&peer).is_some_and(|known| known.as_slice() != identity) {
            events.push(event(EventKind::IdentityChanged, &peer));
        }
        self.st.pinned.insert(peer, identity.to_vec());
        Ok(events)
    }

    /// Records what the user did, for this device's next Commit in the
    /// conversation (a device can only send a Commit with a message): the
    /// group it created and its members, a member added or removed, a new
    /// device of the user's own (added to every group this device sends
    /// in). A member cannot commit its own removal in MLS, so removing the
    /// user's own account is ignored here; so is an action about another
    /// user's device.
    fn user_action(&mut self, action: &UserAction<'_>) -> Result<(), ImplError> {
        let me = self.st.addr.user.clone();
        match *action {
            UserAction::CreateGroup { conversation, members } => {
                let intent = self.st.intents.entry(conversation.to_owned()).or_default();
                intent.create = true;
                for user in members.iter().filter(|u| u.as_str() != me) {
                    intent.remove.remove(user.as_str());
                    intent.add.insert(user.as_str().to_owned());
                }
            }
            UserAction::AddMember { conversation, user } if user.as_str() != me => {
                let intent = self.st.intents.entry(conversation.to_owned()).or_default();
                intent.remove.remove(user.as_str());
                intent.add.insert(user.as_str().to_owned());
            }
            UserAction::RemoveMember { conversation, user } if user.as_str() != me => {
                let intent = self.st.intents.entry(conversation.to_owned()).or_default();
                intent.add.remove(user.as_str());
                intent.remove.insert(user.as_str().to_owned());
            }
            UserAction::LinkDevice { device } => {
                let peer = Peer::from(device);
                if peer.user == me && peer != self.st.addr {
                    self.st.linked.insert(peer);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl MlsDevice {
    fn create(addr: &DeviceAddr, seed: Seed) -> MlsDevice {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut signing_key = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rng, &mut signing_key);
        let identity = ed25519_dalek::SigningKey::from_bytes(&signing_key).verifying_key().to_bytes().to_vec();
        MlsDevice {
            provider: MlsProvider::new(rng),
            st: State {
                design: NAME.to_owned(),
                addr: Peer::from(addr),
                signing_key,
                identity,
                groups: BTreeMap::new(),
                seen: BTreeMap::new(),
                pinned: BTreeMap::new(),
                cached: BTreeMap::new(),
                spoken: BTreeMap::new(),
                intents: BTreeMap::new(),
                linked: BTreeSet::new(),
                listed: BTreeMap::new(),
            },
        }
    }

    fn import(state: &[u8]) -> Result<MlsDevice, ImplError> {
        let export: Export =
            serde_json::from_slice(state).map_err(|e| rejected(format!("mls state is not valid: {e}")))?;
        if export.state.design != NAME {
            return Err(rejected(format!("state of design `{}`, expected `{NAME}`", export.state.design)));
        }
        let mut entries = Vec::with_capacity(export.storage.len());
        for (k, v) in &export.storage {
            entries.push((unhex(k)?, unhex(v)?));
        }
        Ok(MlsDevice { provider: MlsProvider::from_entries(export.rng.restore(), entries), st: export.state })
    }

    /// An independent copy of the whole device.
    fn duplicate(&self) -> MlsDevice {
        MlsDevice { provider: self.provider.duplicate(), st: self.st.clone() }
    }

    fn signer(&self) -> SignatureKeyPair {
        SignatureKeyPair::from_raw(SignatureScheme::ED25519, self.st.signing_key.to_vec(), self.st.identity.clone())
    }

    fn credential(&self) -> CredentialWithKey {
        CredentialWithKey {
            credential: BasicCredential::new(self.st.addr.to_addr().to_string().into_bytes()).into(),
            signature_key: self.st.identity.clone().into(),
        }
    }

    fn make_bundle(&self) -> Result<Bundle, ImplError> {
        let mut one_time = Vec::with_capacity(ONE_TIME_KEY_PACKAGES);
        for _ in 0..ONE_TIME_KEY_PACKAGES {
            one_time.push(self.key_package(false)?);
        }
        let prekey = self.key_package(true)?;
        Ok(Bundle { identity: self.st.identity.clone(), prekey, one_time })
    }

    /// A new KeyPackage (kept in storage for the Welcome that uses it),
    /// serialized.
    fn key_package(&self, last_resort: bool) -> Result<Vec<u8>, ImplError> {
        let mut builder = KeyPackage::builder().key_package_lifetime(lifetime()).leaf_node_capabilities(capabilities());
        if last_resort {
            builder = builder.mark_as_last_resort();
        }
        let bundle = builder
            .build(CIPHERSUITE, &self.provider, &self.signer(), self.credential())
            .map_err(|e| failed("cannot make a KeyPackage", e))?;
        bundle.key_package().tls_serialize_detached().map_err(|e| failed("cannot serialize a KeyPackage", e))
    }

    // ---- sending ----

    fn encrypt_all(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let me = self.st.addr.clone();
        let mut events = BTreeSet::new();
        let mut served: BTreeMap<Peer, &DirectoryEntry> = BTreeMap::new();
        for entry in req.recipients {
            let peer = Peer::from(&entry.device);
            if peer != me {
                served.entry(peer).or_insert(entry);
            }
        }
        for (peer, entry) in &served {
            self.see(peer, &entry.identity, &mut events);
            if self.st.pinned.get(peer).is_some_and(|k| *k != entry.identity) {
                // A verified contact shows another key: warn at every send
                // (it is not added, and a leaf under another key is removed).
                events.insert(event(EventKind::IdentityChanged, peer));
            }
            if let Some(kp) = &entry.one_time {
                let list = self.st.cached.entry(peer.clone()).or_default();
                list.push(kp.clone());
                if list.len() > MAX_CACHED_KEY_PACKAGES {
                    list.remove(0);
                }
            }
        }
        // What the notices of this send compare with: the group as it was,
        // or, for a new group, the other groups of the conversation (none on
        // the first sight of a conversation: nothing to show).
        let (gid, baseline) = match self.canonical(req.conversation) {
            Some(gid) => (gid, None),
            None => {
                self.may_create(req)?;
                if served.is_empty() {
                    return Ok(Sent { envelopes: Vec::new(), events: events.into_iter().collect(), blocked: false });
                }
                let known = self.known(req.conversation, &[]);
                (self.create_group(req.conversation)?, Some(known))
            }
        };
        let creating = baseline.is_some();
        let mut group = self.load(&gid)?;
        let before = leaves(&group);
        let intent = self.st.intents.get(req.conversation).cloned().unwrap_or_default();

        // Removals: only of members this device's user removed, of leaves
        // under a key other than the one the user verified, and of leaves
        // that name no device. A device the provider stops listing stays:
        // only a member can remove another (RFC 9420 §12.1.3).
        let mut removals = Vec::new();
        for member in group.members() {
            let Some(peer) = device_of(&member.credential) else {
                removals.push(member.index);
                continue;
            };
            if peer == me {
                continue;
            }
            let removed = intent.remove.contains(&peer.user);
            let unpinned = self.st.pinned.get(&peer).is_some_and(|k| *k != member.signature_key);
            if removed || unpinned {
                removals.push(member.index);
            } else if let Some(entry) = served.get(&peer) {
                if entry.identity != member.signature_key {
                    // The directory disagrees with the group about this
                    // device's key: the group's leaf stays (only the member
                    // itself can change it), and the user is warned at every
                    // send while the disagreement lasts.
                    events.insert(event(EventKind::IdentityChanged, &peer));
                }
            }
        }
        // Adds: only devices this device's user vouches for (every device
        // the directory serves for a member the user added, or put in the
        // group or one-to-one conversation it created; its own devices when
        // it creates the group, and those it linked later). Whatever else
        // the provider lists is not added, and so gets nothing.
        let mut adds = Vec::new();
        for (peer, entry) in &served {
            if has(&before, peer) {
                continue;
            }
            let vouched = intent.add.contains(&peer.user)
                || self.st.linked.contains(peer)
                || (creating && peer.user == me.user)
                || (self.st.pinned.get(peer) == Some(&entry.identity)
                    && before.iter().any(|(p, _)| p.user == peer.user));
            if !vouched {
                continue;
            }
            if self.st.pinned.get(peer).is_some_and(|k| *k != entry.identity) {
                continue;
            }
            if let Some(kp) = self.key_package_for(peer, entry) {
                adds.push(kp);
            }
        }

        let signer = self.signer();
        // Devices this send removes get the Commit that removes them, so they
        // know (RFC 9420 §12.4.2: a removed member learns it from the Commit).
        let mut farewell: Option<OutEnvelope> = None;
        let meta = self.meta(&gid)?;
        // Update this device's leaf (healing it, should it have been
        // compromised) once it has heard from the others: when something
        // arrived since its last message and every other member that ever
        // wrote in this conversation has written in the current epoch. Both
        // keep two members from committing for the same epoch at once
        // whenever the traffic itself shows they are in step: an answer is
        // what makes it a device's turn, so two devices never take their turn
        // on the same message. It counts on members that never wrote not
        // committing, so a device's first message in a conversation carries
        // no update: the others do not know yet that it writes, and would not
        // wait for it.
        let epoch = group.epoch().as_u64();
        let spoken = self.st.spoken.get(req.conversation);
        let written = spoken.is_some_and(|s| s.contains(&me));
        let turn = meta.received
            && written
            && before.iter().all(|(p, _)| {
                *p == me || !spoken.is_some_and(|s| s.contains(p)) || meta.heard.get(p).is_some_and(|e| *e >= epoch)
            });
        if !adds.is_empty() || !removals.is_empty() || turn {
            let from = group.epoch().as_u64();
            let bundle = group
                .commit_builder()
                .propose_adds(adds)
                .propose_removals(removals)
                .force_self_update(true)
                .load_psks(self.provider.storage())
                .map_err(|e| failed("cannot load PSKs", e))?
                .build(self.provider.rand(), self.provider.crypto(), &signer, |_| true)
                .map_err(|e| failed("cannot build the commit", e))?
                .stage_commit(&self.provider)
                .map_err(|e| failed("cannot stage the commit", e))?;
            let (commit, welcome, _) = bundle.into_messages();
            group.merge_pending_commit(&self.provider).map_err(|e| failed("cannot merge the commit", e))?;
            let after = leaves(&group);
            let to = group.epoch().as_u64();
            match &baseline {
                None => diff(&before, &after, true, &mut events),
                Some(known) if !known.is_empty() => diff(known, &after, false, &mut events),
                Some(_) => {}
            }
            let commit = commit.to_bytes().map_err(|e| failed("cannot serialize the commit", e))?;
            let welcome = match welcome {
                Some(w) => Some(w.to_bytes().map_err(|e| failed("cannot serialize the Welcome", e))?),
                None => None,
            };
            let meta = self.meta_mut(&gid)?;
            meta.log.push((from, commit));
            trim(&mut meta.log);
            meta.received = false;
            let gone: Vec<Peer> = before.iter().map(|(p, _)| p.clone()).filter(|p| !has(&after, p)).collect();
            if let Some(oldest) = gone.iter().map(|p| meta.acks.get(p).copied().unwrap_or(from)).min() {
                // With the Commits before it they may lack.
                let commits: Vec<&[u8]> =
                    meta.log.iter().filter(|(e, _)| *e >= oldest).map(|(_, c)| c.as_slice()).collect();
                let to = gone.iter().map(Peer::to_addr).collect();
                farewell = Some(OutEnvelope { to, body: frame::encode(&gid, &commits)? });
            }
            for p in &gone {
                meta.acks.remove(p);
                meta.welcomes.remove(p);
                meta.heard.remove(p);
            }
            for (p, _) in after.iter().filter(|l| !before.contains(l)) {
                meta.acks.insert(p.clone(), to);
                if let Some(w) = &welcome {
                    meta.welcomes.insert(p.clone(), (to, w.clone()));
                }
            }
            meta.epoch = to;
            meta.members = after;
        }
        self.st.spoken.entry(req.conversation.to_owned()).or_default().insert(me);
        self.meta_mut(&gid)?.received = false;
        let now = leaves(&group);
        self.settle(req.conversation, &now);
        self.listed(req, &served, &now, &mut events);

        let app = group
            .create_message(&self.provider, &signer, req.plaintext)
            .map_err(|e| failed("cannot encrypt the message", e))?
            .to_bytes()
            .map_err(|e| failed("cannot serialize the message", e))?;
        let mut envelopes: Vec<OutEnvelope> = farewell.into_iter().collect();
        envelopes.extend(self.envelopes(&gid, &app)?);
        Ok(Sent { envelopes, events: events.into_iter().collect(), blocked: false })
    }

    /// Whether this device may create a group for the conversation of
    /// `req`, of which it holds none. A group conversation: only if its user
    /// created it on this device (told by [`Device::user_action`]); any other
    /// device waits for a member's Welcome (the provider saying it is a
    /// member is not enough). A one-to-one conversation: its user is writing
    /// to the one contact the request names, which is the user's choice;
    /// that contact becomes the member to add.
    fn may_create(&mut self, req: &EncryptRequest<'_>) -> Result<(), ImplError> {
        let conversation = req.conversation;
        if req.group {
            if self.st.intents.get(conversation).is_some_and(|i| i.create) {
                return Ok(());
            }
            return Err(rejected(format!(
                "this device is in no MLS group of `{conversation}`: its user did not create it here, and no member's Welcome has reached it"
            )));
        }
        let me = self.st.addr.user.as_str();
        let contacts: BTreeSet<&str> = req.members.iter().map(UserId::as_str).filter(|u| *u != me).collect();
        let contact = match (contacts.len(), req.members.iter().any(|u| u.as_str() == me)) {
            (1, true) => contacts.into_iter().next().unwrap_or_default().to_owned(),
            _ => {
                return Err(rejected(format!(
                    "a one-to-one conversation must name this device's user and one contact, not {} users",
                    req.members.len()
                )))
            }
        };
        let intent = self.st.intents.entry(conversation.to_owned()).or_default();
        intent.create = true;
        intent.remove.remove(&contact);
        intent.add.insert(contact);
        Ok(())
    }

    /// Drops what this device's user asked for in `conversation` that the
    /// group's leaves `now` show done: members added that have a leaf,
    /// members removed that have none, the creation.
    fn settle(&mut self, conversation: &str, now: &Leaves) {
        let Some(intent) = self.st.intents.get_mut(conversation) else { return };
        let member = |user: &String| now.iter().any(|(p, _)| p.user == *user);
        intent.create = false;
        intent.add.retain(|u| !member(u));
        intent.remove.retain(member);
        if intent.add.is_empty() && intent.remove.is_empty() {
            self.st.intents.remove(conversation);
        }
    }

    /// The notices for what the provider lists and the group (leaves `now`)
    /// does not have, which this device's user did not vouch for and which
    /// it therefore did not add: `member added` for a member the provider
    /// names who is not in the group, `device added` for a device of a
    /// member who is. Each is shown once per conversation; it gets nothing.
    fn listed(
        &mut self,
        req: &EncryptRequest<'_>,
        served: &BTreeMap<Peer, &DirectoryEntry>,
        now: &Leaves,
        events: &mut BTreeSet<Event>,
    ) {
        let me = self.st.addr.user.clone();
        let pending: BTreeSet<String> =
            self.st.intents.get(req.conversation).map(|i| i.add.clone()).unwrap_or_default();
        let in_group = |user: &str| now.iter().any(|(p, _)| p.user == user);
        let told = self.st.listed.entry(req.conversation.to_owned()).or_default();
        for user in req.members {
            let user = user.as_str();
            if user == me || in_group(user) || pending.contains(user) {
                continue;
            }
            if told.insert(Peer { user: user.to_owned(), device: String::new() }) {
                events.insert(Event { kind: EventKind::MemberAdded, user: UserId::from(user), device: None });
            }
        }
        for peer in served.keys() {
            if has(now, peer) || !in_group(&peer.user) || self.st.linked.contains(peer) {
                continue;
            }
            if told.insert(peer.clone()) {
                events.insert(event(EventKind::DeviceAdded, peer));
            }
        }
    }

    /// The envelopes of one application message: the Commits the members
    /// already in the group may lack, to them; to the devices still owed a
    /// Welcome, the Welcome and the Commits since; then the application
    /// message, to everyone.
    fn envelopes(&self, gid: &[u8], app: &[u8]) -> Result<Vec<OutEnvelope>, ImplError> {
        let meta = self.meta(gid)?;
        let me = &self.st.addr;
        let mut everyone: Vec<&Peer> = Vec::new();
        let mut current: Vec<&Peer> = Vec::new();
        let mut joining: BTreeMap<(u64, &[u8]), Vec<&Peer>> = BTreeMap::new();
        for (peer, _) in &meta.members {
            if peer == me || everyone.contains(&peer) {
                continue;
            }
            everyone.push(peer);
            match meta.welcomes.get(peer) {
                Some((epoch, w)) => joining.entry((*epoch, w.as_slice())).or_default().push(peer),
                None => current.push(peer),
            }
        }
        let commits_since = |epoch: u64| -> Vec<&[u8]> {
            meta.log.iter().filter(|(e, _)| *e >= epoch).map(|(_, c)| c.as_slice()).collect()
        };
        let addrs = |peers: &[&Peer]| -> Vec<DeviceAddr> { peers.iter().map(|p| p.to_addr()).collect() };
        let mut out = Vec::new();
        if let Some(oldest) = current.iter().map(|p| meta.acks.get(*p).copied().unwrap_or(meta.epoch)).min() {
            let commits = commits_since(oldest);
            if !commits.is_empty() {
                out.push(OutEnvelope { to: addrs(&current), body: frame::encode(gid, &commits)? });
            }
        }
        for ((epoch, welcome), to) in &joining {
            let mut messages = vec![*welcome];
            messages.extend(commits_since(*epoch));
            out.push(OutEnvelope { to: addrs(to), body: frame::encode(gid, &messages)? });
        }
        if !everyone.is_empty() {
            out.push(OutEnvelope { to: addrs(&everyone), body: frame::encode(gid, &[app])? });
        }
        Ok(out)
    }

    /// A valid KeyPackage for `peer` as served in `entry`: one kept from a
    /// first contact, else the last-resort one.
    fn key_package_for(&mut self, peer: &Peer, entry: &DirectoryEntry) -> Option<KeyPackage> {
        while let Some(bytes) = self.st.cached.get_mut(peer).and_then(|l| (!l.is_empty()).then(|| l.remove(0))) {
            if let Some(kp) = self.valid_key_package(&bytes, peer, &entry.identity) {
                return Some(kp);
            }
        }
        self.valid_key_package(&entry.prekey, peer, &entry.identity)
    }

    /// `bytes` as a KeyPackage of `peer` under `identity`, if it is one.
    fn valid_key_package(&self, bytes: &[u8], peer: &Peer, identity: &[u8]) -> Option<KeyPackage> {
        let kp = KeyPackageIn::tls_deserialize_exact(bytes).ok()?;
        let kp = kp.validate(self.provider.crypto(), ProtocolVersion::Mls10).ok()?;
        let leaf = kp.leaf_node();
        let ok = kp.ciphersuite() == CIPHERSUITE
            && leaf.signature_key().as_slice() == identity
            && device_of(leaf.credential()).as_ref() == Some(peer);
        ok.then_some(kp)
    }

    /// Records the key seen for `peer`; `identity changed` if it differs.
    fn see(&mut self, peer: &Peer, key: &[u8], events: &mut BTreeSet<Event>) {
        if *peer == self.st.addr {
            return;
        }
        if let Some(old) = self.st.seen.insert(peer.clone(), key.to_vec()) {
            if old != key {
                events.insert(event(EventKind::IdentityChanged, peer));
            }
        }
    }

    /// The group this device sends in for `conversation`: the smallest id
    /// among the groups it is in.
    fn canonical(&self, conversation: &str) -> Option<Vec<u8>> {
        self.st.groups.iter().find(|(_, g)| g.active && g.conversation == conversation).map(|(id, _)| id.clone())
    }

    fn create_group(&mut self, conversation: &str) -> Result<Vec<u8>, ImplError> {
        let mut random = [0u8; frame::GROUP_ID_RANDOM];
        self.provider.engine().fill(&mut random);
        let gid = frame::group_id(conversation, &random)?;
        let group = MlsGroup::new_with_group_id(
            &self.provider,
            &self.signer(),
            &create_config(),
            GroupId::from_slice(&gid),
            self.credential(),
        )
        .map_err(|e| failed("cannot create a group", e))?;
        let members = leaves(&group);
        self.st.groups.insert(
            gid.clone(),
            GroupMeta {
                conversation: conversation.to_owned(),
                epoch: group.epoch().as_u64(),
                active: true,
                members,
                log: Vec::new(),
                acks: BTreeMap::new(),
                welcomes: BTreeMap::new(),
                heard: BTreeMap::new(),
                received: false,
                joined_with: None,
                joined_at: None,
            },
        );
        Ok(gid)
    }

    fn load(&self, gid: &[u8]) -> Result<MlsGroup, ImplError> {
        MlsGroup::load(self.provider.storage(), &GroupId::from_slice(gid))
            .map_err(|e| failed("cannot load a group", e))?
            .ok_or_else(|| rejected("not a member of this group"))
    }

    fn meta(&self, gid: &[u8]) -> Result<&GroupMeta, ImplError> {
        self.st.groups.get(gid).ok_or_else(|| rejected("not a member of this group"))
    }

    fn meta_mut(&mut self, gid: &[u8]) -> Result<&mut GroupMeta, ImplError> {
        self.st.groups.get_mut(gid).ok_or_else(|| rejected("not a member of this group"))
    }

    // ---- receiving ----

    fn decrypt_one(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let body = frame::decode(env.body)?;
        if frame::conversation_of(body.group_id) != Some(env.conversation) {
            return Err(rejected("the envelope's group is not of this conversation"));
        }
        let gid = body.group_id.to_vec();
        let mut welcome = None;
        let mut protocol = Vec::with_capacity(body.messages.len());
        for (i, bytes) in body.messages.iter().enumerate() {
            let message = MlsMessageIn::tls_deserialize_exact(bytes).map_err(|_| rejected("malformed MLS message"))?;
            match message.extract() {
                MlsMessageBodyIn::Welcome(w) if i == 0 => welcome = Some((w, digest(bytes))),
                MlsMessageBodyIn::PrivateMessage(m) => protocol.push((ProtocolMessage::from(m), *bytes)),
                _ => return Err(rejected("unexpected kind of MLS message in an mls envelope")),
            }
        }
        let mut events = BTreeSet::new();
        if let Some((welcome, hash)) = welcome {
            let held = self.st.groups.get(&gid);
            if held.is_none_or(|meta| meta.joined_with != Some(hash)) {
                if held.is_some() {
                    // Already in this group, by another Welcome: unless this
                    // device's state is stale (it was removed and added
                    // again), what follows reads without it.
                    let mut attempt = self.duplicate();
                    if let Ok(received) = attempt.process(env, &gid, protocol.clone(), BTreeSet::new(), true) {
                        *self = attempt;
                        return Ok(received);
                    }
                }
                self.join(env.conversation, &gid, welcome, hash, &mut events)?;
            }
        }
        self.process(env, &gid, protocol, events, false)
    }

    // ---- forensic open ----

    /// Forensic open: what openmls recovers from `env` with the secrets this
    /// state holds, with none of this client's checks (the conversation the
    /// provider names, the sender it names, pinned keys, the duplicate and
    /// "already applied" bookkeeping, the application message being last).
    /// A Welcome the state can open (its KeyPackage's private key is still
    /// held) is joined, unless the state already holds that group at the
    /// same or a later epoch (openmls keeps one state per group); a Commit
    /// for the epoch the state holds is processed and merged, as a thief's
    /// copy of the app would; every application message is handed to
    /// openmls, which opens it with the current epoch's secret tree or with
    /// one of the past epochs it keeps (`max_past_epochs`), and refuses a
    /// message whose key it already used and deleted (RFC 9420 §9.2), or one
    /// this device sent itself (its own sending ratchet only moves forward).
    /// Whatever openmls refuses is skipped, so the rest is still tried.
    fn forensic(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        let body = frame::decode(env.body)?;
        let gid = body.group_id.to_vec();
        let conversation = frame::conversation_of(body.group_id).unwrap_or(env.conversation).to_owned();
        let mut recovered = Vec::new();
        for (i, bytes) in body.messages.iter().enumerate() {
            let Ok(message) = MlsMessageIn::tls_deserialize_exact(bytes) else { continue };
            match message.extract() {
                MlsMessageBodyIn::Welcome(welcome) if i == 0 => {
                    let hash = digest(bytes);
                    if self.st.groups.get(&gid).is_some_and(|meta| meta.joined_with == Some(hash)) {
                        continue;
                    }
                    let mut attempt = self.duplicate();
                    if attempt.join(&conversation, &gid, welcome, hash, &mut BTreeSet::new()).is_ok() {
                        *self = attempt;
                    }
                }
                MlsMessageBodyIn::PrivateMessage(m) => {
                    let message = ProtocolMessage::from(m);
                    let Ok(mut group) = self.load(&gid) else { continue };
                    if message.group_id().as_slice() != gid.as_slice() {
                        continue;
                    }
                    match message.content_type() {
                        ContentType::Commit => {
                            let active = self.meta(&gid).is_ok_and(|meta| meta.active);
                            if !active || message.epoch() != group.epoch() {
                                continue;
                            }
                            let mut attempt = self.duplicate();
                            let Ok(mut group) = attempt.load(&gid) else { continue };
                            if attempt.commit(&mut group, &gid, message, bytes, &mut BTreeSet::new()).is_ok() {
                                *self = attempt;
                            }
                        }
                        ContentType::Application => {
                            if let Ok(processed) = group.process_message(&self.provider, message) {
                                if let ProcessedMessageContent::ApplicationMessage(m) = processed.into_content() {
                                    recovered.push(m.into_bytes());
                                }
                            }
                        }
                        ContentType::Proposal => {}
                    }
                }
                _ => {}
            }
        }
        Ok(recovered)
    }

    /// Joins the group `gid` from a Welcome, replacing an older state of the
    /// same group.
    fn join(
        &mut self,
        conversation: &str,
        gid: &[u8],
        welcome: Welcome,
        hash: [u8; 32],
        events: &mut BTreeSet<Event>,
    ) -> Result<(), ImplError> {
        let held = self.st.groups.get(gid).map(|m| m.epoch);
        let builder = StagedWelcome::build_from_welcome(&self.provider, &join_config(), welcome)
            .map_err(|e| rejected(format!("welcome refused: {e}")))?;
        let builder = if held.is_some() { builder.replace_old_group() } else { builder };
        let staged = builder.build().map_err(|e| rejected(format!("welcome refused: {e}")))?;
        if staged.group_context().group_id().as_slice() != gid {
            return Err(rejected("the welcome is for another group than its envelope names"));
        }
        let epoch = staged.group_context().epoch().as_u64();
        if held.is_some_and(|held| held >= epoch) {
            return Err(rejected("a welcome to an epoch this device has already reached"));
        }
        let group = staged.into_group(&self.provider).map_err(|e| rejected(format!("welcome refused: {e}")))?;
        let members = leaves(&group);
        for (peer, key) in &members {
            self.see(peer, key, events);
        }
        // The first sight of a conversation shows no adds; a further group
        // of it shows the devices the others did not have.
        let known = self.known(conversation, gid);
        if !known.is_empty() {
            diff(&known, &members, false, events);
        }
        let me = self.st.addr.clone();
        self.st.groups.insert(
            gid.to_vec(),
            GroupMeta {
                conversation: conversation.to_owned(),
                epoch,
                active: true,
                acks: members.iter().filter(|(p, _)| *p != me).map(|(p, _)| (p.clone(), epoch)).collect(),
                members,
                log: Vec::new(),
                welcomes: BTreeMap::new(),
                heard: BTreeMap::new(),
                received: false,
                joined_with: Some(hash),
                joined_at: Some(epoch),
            },
        );
        Ok(())
    }

    /// The leaves of every other group of `conversation` this device has.
    fn known(&self, conversation: &str, except: &[u8]) -> Leaves {
        let mut known: Leaves = Vec::new();
        for (id, meta) in &self.st.groups {
            if id.as_slice() != except && meta.conversation == conversation {
                for leaf in &meta.members {
                    if !known.contains(leaf) {
                        known.push(leaf.clone());
                    }
                }
            }
        }
        known
    }

    /// Processes the Commits and the application message of an envelope in
    /// group `gid`. Commits this device already applied are recognised (by
    /// their bytes) and skipped; an envelope of nothing but those is a
    /// duplicate, answered without plaintext. `progress`: refuse unless
    /// something new was processed.
    fn process(
        &mut self,
        env: &InEnvelope<'_>,
        gid: &[u8],
        messages: Vec<(ProtocolMessage, &[u8])>,
        mut events: BTreeSet<Event>,
        progress: bool,
    ) -> Result<Received, ImplError> {
        let mut group = self.load(gid)?;
        let count = messages.len();
        let mut handled = false;
        let mut read = None;
        for (i, (message, bytes)) in messages.into_iter().enumerate() {
            if message.group_id().as_slice() != gid {
                return Err(rejected("an MLS message of another group than its envelope names"));
            }
            let epoch = message.epoch().as_u64();
            match message.content_type() {
                ContentType::Commit => {
                    let meta = self.meta(gid)?;
                    let mine = group.epoch().as_u64();
                    if epoch < mine {
                        if meta.log.iter().any(|(e, c)| *e == epoch && c.as_slice() == bytes) {
                            continue;
                        }
                        if meta.joined_at.is_some_and(|joined| epoch < joined) {
                            // Made before this device joined: the Welcome's
                            // state already holds its effect.
                            continue;
                        }
                        return Err(rejected(format!(
                            "a commit of epoch {epoch}, which this device left by another commit (or too long ago to tell)"
                        )));
                    }
                    if !meta.active {
                        return Err(rejected("a commit in a group this device was removed from"));
                    }
                    if epoch > mine {
                        return Err(rejected(format!(
                            "a commit of epoch {epoch} while this device is at epoch {mine}: an earlier commit is missing"
                        )));
                    }
                    self.commit(&mut group, gid, message, bytes, &mut events)?;
                    handled = true;
                }
                ContentType::Application if i + 1 == count => {
                    read = Some(self.application(&mut group, gid, message, epoch)?);
                }
                _ => return Err(rejected("unexpected MLS message in an mls envelope")),
            }
        }
        let Some((plaintext, sender)) = read else {
            if progress && !handled {
                return Err(rejected("nothing new in this envelope"));
            }
            return Ok(Received { plaintext: None, sender: None, events: events.into_iter().collect() });
        };
        let sender = sender.to_addr();
        if sender != *env.from {
            return Err(rejected(format!("the message is signed by {sender}, not by {}", env.from)));
        }
        Ok(Received { plaintext: Some(plaintext), sender: Some(sender), events: events.into_iter().collect() })
    }

    /// Processes and merges a Commit for the current epoch.
    fn commit(
        &mut self,
        group: &mut MlsGroup,
        gid: &[u8],
        message: ProtocolMessage,
        bytes: &[u8],
        events: &mut BTreeSet<Event>,
    ) -> Result<(), ImplError> {
        let before = leaves(group);
        let from = group.epoch().as_u64();
        let processed =
            group.process_message(&self.provider, message).map_err(|e| rejected(format!("commit refused: {e}")))?;
        let committer = device_of(processed.credential()).ok_or_else(|| rejected("a commit by an unknown sender"))?;
        let staged = match processed.into_content() {
            ProcessedMessageContent::StagedCommitMessage(staged) => *staged,
            _ => return Err(rejected("a commit this device cannot process (its own, or not a commit)")),
        };
        if staged.self_removed() {
            // Removed: the group is left at the epoch this device was last a
            // member of, where it can still read messages sent while it was
            // one (openmls refuses everything once the removal is merged).
            let me = self.st.addr.clone();
            let remaining: Leaves = before.iter().filter(|(p, _)| *p != me).cloned().collect();
            diff(&before, &remaining, true, events);
            let meta = self.meta_mut(gid)?;
            meta.active = false;
            meta.welcomes.clear();
            return Ok(());
        }
        group.merge_staged_commit(&self.provider, staged).map_err(|e| failed("cannot merge a commit", e))?;
        let after = leaves(group);
        for (peer, key) in after.iter().filter(|l| !before.contains(l)) {
            self.see(peer, key, events);
        }
        diff(&before, &after, true, events);
        let to = group.epoch().as_u64();
        let meta = self.meta_mut(gid)?;
        meta.log.push((from, bytes.to_vec()));
        trim(&mut meta.log);
        for (p, _) in before.iter().filter(|(p, _)| !has(&after, p)) {
            meta.acks.remove(p);
            meta.welcomes.remove(p);
            meta.heard.remove(p);
        }
        for (p, _) in after.iter().filter(|l| !before.contains(l)) {
            meta.acks.insert(p.clone(), to);
        }
        for map in [&mut meta.acks, &mut meta.heard] {
            let seen = map.entry(committer.clone()).or_insert(to);
            *seen = (*seen).max(to);
        }
        meta.welcomes.remove(&committer);
        meta.received = true;
        meta.epoch = to;
        meta.members = after;
        let conversation = meta.conversation.clone();
        self.st.spoken.entry(conversation).or_default().insert(committer);
        Ok(())
    }

    /// Decrypts the application message; its plaintext and sender.
    fn application(
        &mut self,
        group: &mut MlsGroup,
        gid: &[u8],
        message: ProtocolMessage,
        epoch: u64,
    ) -> Result<(Vec<u8>, Peer), ImplError> {
        let processed = group
            .process_message(&self.provider, message)
            .map_err(|e| rejected(format!("application message refused: {e}")))?;
        let sender = device_of(processed.credential()).ok_or_else(|| rejected("a message by an unknown sender"))?;
        if let Sender::Member(index) = processed.sender() {
            let key = group.member_at(*index).filter(|m| device_of(&m.credential).as_ref() == Some(&sender));
            if let (Some(member), Some(pinned)) = (key, self.st.pinned.get(&sender)) {
                if member.signature_key != *pinned {
                    return Err(rejected(format!("{} signs with a key its user did not verify", sender.to_addr())));
                }
            }
        }
        let plaintext = match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(m) => m.into_bytes(),
            _ => return Err(rejected("not an application message this device can read (its own?)")),
        };
        let meta = self.meta_mut(gid)?;
        for map in [&mut meta.acks, &mut meta.heard] {
            let seen = map.entry(sender.clone()).or_insert(epoch);
            *seen = (*seen).max(epoch);
        }
        meta.welcomes.remove(&sender);
        meta.received = true;
        let conversation = meta.conversation.clone();
        self.st.spoken.entry(conversation).or_default().insert(sender.clone());
        Ok((plaintext, sender))
    }
}

/// The group configuration every device uses.
fn create_config() -> MlsGroupCreateConfig {
    MlsGroupCreateConfig::builder()
        .ciphersuite(CIPHERSUITE)
        .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .max_past_epochs(PAST_EPOCHS)
        .padding_size(PADDING)
        .sender_ratchet_configuration(SenderRatchetConfiguration::new(OUT_OF_ORDER_TOLERANCE, MAXIMUM_FORWARD_DISTANCE))
        .lifetime(lifetime())
        .capabilities(capabilities())
        .build()
}

/// The same, for joining by Welcome.
fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(PURE_CIPHERTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .max_past_epochs(PAST_EPOCHS)
        .padding_size(PADDING)
        .sender_ratchet_configuration(SenderRatchetConfiguration::new(OUT_OF_ORDER_TOLERANCE, MAXIMUM_FORWARD_DISTANCE))
        .build()
}

/// What every leaf supports: this design's cipher suite, last-resort
/// KeyPackages, and openmls's defaults otherwise.
fn capabilities() -> LeafCapabilities {
    LeafCapabilities::new(None, Some(&[CIPHERSUITE]), Some(&[ExtensionType::LastResort]), None, None)
}

fn lifetime() -> Lifetime {
    Lifetime::init(LIFETIME.0, LIFETIME.1)
}

/// The device a credential names, if it is a basic credential holding a
/// device address.
fn device_of(credential: &Credential) -> Option<Peer> {
    let basic = BasicCredential::try_from(credential.clone()).ok()?;
    let text = std::str::from_utf8(basic.identity()).ok()?;
    let (user, device) = text.split_once('/')?;
    (!user.is_empty() && !device.is_empty()).then(|| Peer { user: user.to_owned(), device: device.to_owned() })
}

/// The leaves of a group that name a device.
fn leaves(group: &MlsGroup) -> Leaves {
    group.members().filter_map(|m| Some((device_of(&m.credential)?, m.signature_key))).collect()
}

fn has(leaves: &Leaves, peer: &Peer) -> bool {
    leaves.iter().any(|(p, _)| p == peer)
}

/// The notices for going from `before` to `after`: adds always, removals if
/// `removals`.
fn diff(before: &Leaves, after: &Leaves, removals: bool, events: &mut BTreeSet<Event>) {
    for (peer, _) in after.iter().filter(|l| !before.contains(l)) {
        if before.iter().any(|(p, _)| p.user == peer.user) {
            events.insert(event(EventKind::DeviceAdded, peer));
        } else {
            events.insert(Event { kind: EventKind::MemberAdded, user: peer.user_id(), device: None });
        }
    }
    if !removals {
        return;
    }
    for (peer, _) in before.iter().filter(|l| !after.contains(l)) {
        if after.iter().any(|(p, _)| p.user == peer.user) {
            events.insert(event(EventKind::DeviceRemoved, peer));
        } else {
            events.insert(Event { kind: EventKind::MemberRemoved, user: peer.user_id(), device: None });
        }
    }
}

/// Keeps the last [`MAX_LOGGED_COMMITS`] commits.
fn trim(log: &mut Vec<(u64, Vec<u8>)>) {
    if log.len() > MAX_LOGGED_COMMITS {
        log.drain(..log.len() - MAX_LOGGED_COMMITS);
    }
}

/// A notice about one device.
fn event(kind: EventKind, peer: &Peer) -> Event {
    Event { kind, user: peer.user_id(), device: Some(peer.to_addr()) }
}

/// Runs `f`, turning a panic inside it (in openmls, on hostile input) into a
/// refusal.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, ImplError>) -> Result<T, ImplError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(ImplError::Rejected(format!("{what}: openmls panicked on this input"))))
}

/// SHA-256 of `bytes`.
fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn failed(what: &str, e: impl std::fmt::Display) -> ImplError {
    ImplError::Failed(format!("{what}: {e}"))
}

fn unhex(s: &str) -> Result<Vec<u8>, ImplError> {
    hex::decode(s).map_err(|e| rejected(format!("mls state holds a malformed hex string ({e})")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex::encode(&bytes)).unwrap(), bytes);
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
    }

    #[test]
    fn credentials_name_devices() {
        let c: Credential = BasicCredential::new(b"alice/phone".to_vec()).into();
        assert_eq!(device_of(&c), Some(Peer { user: "alice".into(), device: "phone".into() }));
        for bad in [b"alice".as_slice(), b"/phone", b"alice/", b"\xff/x"] {
            let c: Credential = BasicCredential::new(bad.to_vec()).into();
            assert_eq!(device_of(&c), None);
        }
    }
}
