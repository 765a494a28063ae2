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
//! **Sending** (`mls/send.rs`) and **receiving**, forensic open included
//! (`mls/receive.rs`), are described in their modules.
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
//! **State in memory:** openmls writes every change through to its storage
//! ([`storage`]: openmls_memory_storage's entries, copy-on-write), and the
//! device keeps each [`MlsGroup`] it works on live between operations
//! instead of loading it from that storage (JSON) every time: a group is
//! taken out, changed through openmls, and kept only once openmls has
//! accepted the change, so a live group always equals what its storage
//! would load. One openmls refused, or one of an operation that failed, is
//! dropped and loaded again when next needed; a fork starts with none.
//!
//! **Invariants:** every operation (`publish`, `encrypt`, `decrypt`,
//! `forensic_open`) keeps a checkpoint of the device (the storage, shared
//! copy-on-write, the generator position and the bookkeeping) and goes back
//! to it if it fails, dropping the live groups it took, so a refused
//! envelope leaves the device exactly as it was; nothing that fails to
//! authenticate is returned; no input makes this code panic (openmls is
//! called under `catch_unwind` as a last line of defence, and a panic there
//! is a refusal). [`Device::fork`] copies the openmls storage (sharing it
//! until either side writes), the generator position and the bookkeeping:
//! the fork and the device never see each other's writes.
//!
//! **What openmls (and MLS) do not let us control:** openmls deletes a used
//! KeyPackage when it *reads* a Welcome, even one that then fails (hence the
//! checkpoints); it refuses everything in a group once the device's removal is
//! merged (hence the removed device keeps the earlier epoch); it reads a
//! Commit only in the epoch it was made for. Two Commits made concurrently
//! for the same epoch therefore fork the group for good: RFC 9420 §14 leaves
//! choosing between them to the delivery service, and the harness's provider
//! does not choose.

mod engine;
mod frame;
mod hpke;
mod primitives;
mod receive;
mod send;
mod storage;

use crate::framing::rejected;
use crate::persist::{pairs, to_state, Peer, RngState};
use doormat_engine::adapter::Seed;
use doormat_engine::{
    Bundle, Design, Device, EncryptRequest, Event, EventKind, ImplError, InEnvelope, Received, Sent, UserAction,
};
use doormat_formats::DeviceAddr;
use engine::{MlsProvider, CIPHERSUITE};
use openmls::prelude::tls_codec::Serialize as TlsSerialize;
use openmls::prelude::{
    BasicCredential, Capabilities as LeafCapabilities, Credential, CredentialWithKey, ExtensionType, GroupId,
    KeyPackage, Lifetime, MlsGroup, MlsGroupCreateConfig, MlsGroupJoinConfig, SenderRatchetConfiguration,
    PURE_CIPHERTEXT_WIRE_FORMAT_POLICY,
};
use openmls_basic_credential::SignatureKeyPair;
use openmls_traits::types::SignatureScheme;
use openmls_traits::OpenMlsProvider;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    // Unseeded: openmls reads the wall clock (lifetime checks, time-stamped
    // past-epoch secrets); under load, identical runs have been seen to give
    // different envelope bytes of the same lengths, so byte-determinism is
    // not promised.
    exportable_design!(unseeded: NAME);

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
    live: Live,
}

/// The groups openmls works on, kept in memory between operations (see
/// [`MlsDevice::take_group`]).
#[derive(Debug, Default)]
struct Live {
    /// By MLS group id; each equal to what the storage would load.
    groups: HashMap<Vec<u8>, MlsGroup>,
    /// The groups taken (or replaced in storage) since the innermost
    /// [`MlsDevice::attempt`] began: those it drops if it fails.
    touched: BTreeSet<Vec<u8>>,
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
        self.atomic("publish", |device| device.make_bundle())
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        self.atomic("encrypt", |device| device.encrypt_all(req))
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        self.atomic("decrypt", |device| device.decrypt_one(env))
    }

    /// The storage shared copy-on-write, the bookkeeping copied, no live
    /// group (each is loaded when the fork first needs it).
    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(MlsDevice { provider: self.provider.duplicate(), st: self.st.clone(), live: Live::default() }))
    }

    /// What openmls opens with the secrets this state holds (see
    /// [`MlsDevice::forensic`]).
    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        self.atomic("forensic open", |device| device.forensic(env))
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        let export = Export {
            rng: self.provider.engine().rng_state(),
            state: self.st.clone(),
            storage: self.provider.entries().into_iter().map(|(k, v)| (hex::encode(&k), hex::encode(&v))).collect(),
        };
        to_state(&export)
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
            live: Live::default(),
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
        Ok(MlsDevice {
            provider: MlsProvider::from_entries(export.rng.restore(), entries),
            st: export.state,
            live: Live::default(),
        })
    }

    /// One operation of the [`Device`] trait: a panic in openmls is a
    /// refusal, and a failure leaves the device as it was ([`Self::attempt`]).
    fn atomic<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut MlsDevice) -> Result<T, ImplError>,
    ) -> Result<T, ImplError> {
        let result = self.attempt(|device| guarded(what, || f(device)));
        self.live.touched.clear();
        result
    }

    /// Runs `f`; if it fails, puts the device back as it was: the storage
    /// and the generator from a checkpoint (cheap: the storage is
    /// copy-on-write), the bookkeeping from a copy, and every live group `f`
    /// took or replaced dropped (it may have changed in memory; the storage
    /// loads it as it was). Attempts nest.
    fn attempt<T>(&mut self, f: impl FnOnce(&mut MlsDevice) -> Result<T, ImplError>) -> Result<T, ImplError> {
        let checkpoint = self.provider.checkpoint();
        let st = self.st.clone();
        let outer = std::mem::take(&mut self.live.touched);
        let result = f(self);
        if result.is_err() {
            self.provider.restore(checkpoint);
            self.st = st;
            for gid in &self.live.touched {
                self.live.groups.remove(gid);
            }
        }
        self.live.touched.extend(outer);
        result
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

    /// Group `gid`, taken out to work on: the live one, else loaded from
    /// storage. Give it back with [`Self::keep_group`] once openmls has
    /// accepted what was done to it (openmls has then written it through to
    /// storage, so the two agree); one not given back is loaded again when
    /// next needed.
    fn take_group(&mut self, gid: &[u8]) -> Result<MlsGroup, ImplError> {
        self.live.touched.insert(gid.to_vec());
        if let Some(group) = self.live.groups.remove(gid) {
            return Ok(group);
        }
        MlsGroup::load(self.provider.storage(), &GroupId::from_slice(gid))
            .map_err(|e| failed("cannot load a group", e))?
            .ok_or_else(|| rejected("not a member of this group"))
    }

    /// Keeps `group` live: it must be what the storage holds for `gid`.
    fn keep_group(&mut self, gid: &[u8], group: MlsGroup) {
        self.live.touched.insert(gid.to_vec());
        self.live.groups.insert(gid.to_vec(), group);
    }

    /// Drops the live group `gid`, before something other than the group
    /// itself rewrites its storage (a Welcome replacing it).
    fn forget_group(&mut self, gid: &[u8]) {
        self.live.touched.insert(gid.to_vec());
        self.live.groups.remove(gid);
    }

    fn meta(&self, gid: &[u8]) -> Result<&GroupMeta, ImplError> {
        self.st.groups.get(gid).ok_or_else(|| rejected("not a member of this group"))
    }

    fn meta_mut(&mut self, gid: &[u8]) -> Result<&mut GroupMeta, ImplError> {
        self.st.groups.get_mut(gid).ok_or_else(|| rejected("not a member of this group"))
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
