//! The adapter trait: what a messaging design must do to be audited.
//!
//! A [`Design`] makes [`Device`]s. A device publishes a key [`Bundle`],
//! encrypts a plaintext for the directory entries the provider served
//! ([`EncryptRequest`]) into envelopes, and decrypts envelopes it is handed.
//! Every byte a design emits leaves it as an [`OutEnvelope`] that the provider
//! routes: a pairwise design emits one envelope per recipient device, a group
//! design (MLS, Megolm) may emit a handshake (commit, welcome, room-key share)
//! addressed to several devices before the application message.
//!
//! **Invariants:** both traits are object-safe (designs are chosen by name at
//! run time); devices draw randomness only from the seed they were created
//! with; [`Device::fork`] gives an independent copy, so decryption attempts
//! by parties that are not recipients never disturb a device's real state.

use doormat_formats::{DeviceAddr, UserId};
use std::fmt;

/// 32 bytes from which a device derives all of its randomness.
pub type Seed = [u8; 32];

/// What a design can do beyond the required operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// [`Device::export_state`] and [`Design::import_device`] work, so state
    /// seizure (forward secrecy, post-compromise security) can be tested.
    pub export_state: bool,
    /// All randomness comes from the device seed (and `add_entropy`), so the
    /// same seed gives the same bytes. Libraries that draw from the operating
    /// system cannot promise it; their reports stay deterministic because
    /// reports never quote random bytes.
    pub seeded: bool,
}

impl Capabilities {
    /// Capabilities of a seeded design, with state export on or off.
    pub fn with_export(export_state: bool) -> Self {
        Capabilities { export_state, seeded: true }
    }

    /// The same capabilities for a design that draws its own randomness.
    pub fn unseeded(self) -> Self {
        Capabilities { seeded: false, ..self }
    }
}

/// A device's published keys, as the directory stores them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundle {
    /// Long-term identity (what users compare to verify each other).
    pub identity: Vec<u8>,
    /// Medium-term material served to every requester (e.g. a signed prekey).
    pub prekey: Vec<u8>,
    /// Single-use items (one-time prekeys, MLS key packages); the provider
    /// serves each one to one requester only.
    pub one_time: Vec<Vec<u8>>,
}

/// What the provider serves about one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// The device.
    pub device: DeviceAddr,
    /// Its identity.
    pub identity: Vec<u8>,
    /// Its prekey.
    pub prekey: Vec<u8>,
    /// One single-use item, on the requester's first contact, while any last.
    pub one_time: Option<Vec<u8>>,
    /// For a design with a [`KeyService`]: the service's proof that
    /// `identity` is `device`'s key, as the provider chose to serve it.
    pub proof: Option<Vec<u8>>,
}

impl DirectoryEntry {
    /// What the provider serves of `device`, which published `bundle`, on
    /// a requester's first contact: its keys and its first single-use item,
    /// if it has any.
    pub fn first_contact(device: DeviceAddr, bundle: &Bundle) -> Self {
        DirectoryEntry {
            device,
            identity: bundle.identity.clone(),
            prekey: bundle.prekey.clone(),
            one_time: bundle.one_time.first().cloned(),
            proof: None,
        }
    }
}

/// One encryption: a message into a conversation.
#[derive(Debug, Clone, Copy)]
pub struct EncryptRequest<'a> {
    /// Stable id of the conversation (`alice+bob` or the group id).
    pub conversation: &'a str,
    /// Whether the conversation is a group.
    pub group: bool,
    /// Members of the conversation, as the provider states them.
    pub members: &'a [UserId],
    /// Every device to encrypt for, as served by the directory: all devices
    /// of all members, the sender's own other devices included.
    pub recipients: &'a [DirectoryEntry],
    /// The message.
    pub plaintext: &'a [u8],
}

/// An envelope a device emits; the provider routes it to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutEnvelope {
    /// The devices to deliver it to.
    pub to: Vec<DeviceAddr>,
    /// The bytes, opaque to the provider.
    pub body: Vec<u8>,
}

/// An envelope handed to a device.
#[derive(Debug, Clone, Copy)]
pub struct InEnvelope<'a> {
    /// Who the provider says sent it.
    pub from: &'a DeviceAddr,
    /// The conversation it belongs to.
    pub conversation: &'a str,
    /// The bytes.
    pub body: &'a [u8],
}

/// Something a device's own user did on it (see [`Device::user_action`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserAction<'a> {
    /// The user created the group `conversation` with these members.
    CreateGroup {
        /// The conversation id.
        conversation: &'a str,
        /// Its members, the creator included.
        members: &'a [UserId],
    },
    /// The user added `user` to the group `conversation`.
    AddMember {
        /// The conversation id.
        conversation: &'a str,
        /// Who joins.
        user: &'a UserId,
    },
    /// The user removed `user` from the group `conversation`.
    RemoveMember {
        /// The conversation id.
        conversation: &'a str,
        /// Who leaves.
        user: &'a UserId,
    },
    /// The user linked a new device of theirs (told to every device the
    /// user already had).
    LinkDevice {
        /// The new device.
        device: &'a DeviceAddr,
    },
    /// The user acknowledged the notices of an `encrypt` that came back
    /// [`Sent::blocked`]; the same message is asked for again next.
    Acknowledge,
}

/// A user-visible notice a client shows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    /// What changed.
    pub kind: EventKind,
    /// Whose account or which conversation member it concerns.
    pub user: UserId,
    /// The device concerned, when one is.
    pub device: Option<DeviceAddr>,
}

/// Kinds of user-visible notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventKind {
    /// A contact's identity key changed ("safety number changed").
    IdentityChanged,
    /// A contact has a new device.
    DeviceAdded,
    /// A contact's device went away.
    DeviceRemoved,
    /// Someone joined the conversation.
    MemberAdded,
    /// Someone left the conversation.
    MemberRemoved,
    /// The key directory holds a key under the device's own name that it
    /// never published.
    KeyNotMine,
    /// The device's view of the key directory differs from the auditor's.
    ViewSplit,
}

impl EventKind {
    /// Every kind, in the order of the enum.
    pub const ALL: [EventKind; 7] = [
        EventKind::IdentityChanged,
        EventKind::DeviceAdded,
        EventKind::DeviceRemoved,
        EventKind::MemberAdded,
        EventKind::MemberRemoved,
        EventKind::KeyNotMine,
        EventKind::ViewSplit,
    ];

    /// The kind's name on the exec protocol's wire (`device-added`, ...).
    pub fn wire_name(self) -> &'static str {
        match self {
            EventKind::IdentityChanged => "identity-changed",
            EventKind::DeviceAdded => "device-added",
            EventKind::DeviceRemoved => "device-removed",
            EventKind::MemberAdded => "member-added",
            EventKind::MemberRemoved => "member-removed",
            EventKind::KeyNotMine => "key-not-mine",
            EventKind::ViewSplit => "view-split",
        }
    }

    /// The kind a wire name stands for; `None` for a name no kind has.
    pub fn from_wire_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.wire_name() == name)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventKind::IdentityChanged => "identity changed",
            EventKind::DeviceAdded => "device added",
            EventKind::DeviceRemoved => "device removed",
            EventKind::MemberAdded => "member added",
            EventKind::MemberRemoved => "member removed",
            EventKind::KeyNotMine => "a key it never published under its name",
            EventKind::ViewSplit => "its key directory differs from the auditor's",
        })
    }
}

/// The result of an encryption.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// Envelopes for the provider to route, in order.
    pub envelopes: Vec<OutEnvelope>,
    /// Notices the sender's client showed before sending.
    pub events: Vec<Event>,
    /// The client sent nothing: it holds the message until its user
    /// acknowledges the notices in `events`. The harness, as the user,
    /// acknowledges ([`UserAction::Acknowledge`]) and asks again.
    pub blocked: bool,
}

/// The result of a decryption.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// The plaintext, or `None` for a handshake-only envelope.
    pub plaintext: Option<Vec<u8>>,
    /// The sender the envelope authenticates, if any.
    pub sender: Option<DeviceAddr>,
    /// Notices the client showed.
    pub events: Vec<Event>,
}

/// Why an operation failed; who is at fault decides how it is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImplError {
    /// The input was refused (bad authentication tag, unknown session,
    /// replay): the expected answer to a tampered or foreign envelope.
    Rejected(String),
    /// The design does not offer this operation.
    Unsupported(String),
    /// The implementation failed on input it should handle.
    Failed(String),
}

impl fmt::Display for ImplError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImplError::Rejected(s) => write!(f, "rejected: {s}"),
            ImplError::Unsupported(s) => write!(f, "unsupported: {s}"),
            ImplError::Failed(s) => write!(f, "failed: {s}"),
        }
    }
}

impl std::error::Error for ImplError {}

/// Content the provider asks a targeting authority (a scanning service) to
/// look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetContent<'a> {
    /// Exactly these bytes (an exact-hash list entry).
    Exact(&'a [u8]),
    /// Text like this one (a fuzzy-hash list entry).
    Similar(&'a str),
}

/// A third party a design gives data to (escrow agent, scanning service,
/// backup operator), declared in the design's spec. The harness creates it,
/// gives it only the provider view, and judges whatever it recovers like
/// any other reader.
pub trait Authority: Send + fmt::Debug {
    /// What the provider distributes to every device of the design for this
    /// role (an escrow public key, a service key); may be empty. The harness
    /// hands it to each new device with [`Device::provider_push`].
    fn public(&self) -> Vec<u8>;

    /// Data the provider pushes to every device so that this content is
    /// targeted (a scan-list entry); `None` when the role targets nothing.
    fn target(&mut self, content: &TargetContent<'_>) -> Result<Option<Vec<u8>>, ImplError> {
        let _ = content;
        Ok(None)
    }

    /// Everything the authority can recover, given the provider view (the
    /// bytes of every record, in order): plaintexts or any bytes containing
    /// them.
    fn recover(&mut self, view: &[&[u8]]) -> Result<Vec<Vec<u8>>, ImplError>;
}

/// A messaging design: a factory of devices.
pub trait Design: Send + Sync + fmt::Debug {
    /// The design's name (matches its spec's `implementation`).
    fn name(&self) -> &str;

    /// What the design can do beyond the required operations.
    fn capabilities(&self) -> Capabilities;

    /// A new device for `addr`, drawing all randomness from `seed`.
    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError>;

    /// A device restored from [`Device::export_state`] output.
    fn import_device(&self, addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        let _ = (addr, state);
        Err(ImplError::Unsupported("state import".to_owned()))
    }

    /// The third-party roles this design has (ids such as `escrow-agent`,
    /// `scanning-service`, `backup-operator`); its spec must declare the same.
    fn authorities(&self) -> Vec<String> {
        Vec::new()
    }

    /// The authority for `role`, drawing all randomness from `seed`.
    fn create_authority(&self, role: &str, seed: Seed) -> Result<Box<dyn Authority>, ImplError> {
        let _ = seed;
        Err(ImplError::Unsupported(format!("authority `{role}`")))
    }

    /// Called before each run (vector): an external implementation starts a
    /// fresh process here.
    fn begin_run(&self) -> Result<(), ImplError> {
        Ok(())
    }

    /// Called after each run: an external implementation stops its process.
    fn end_run(&self) {}

    /// An instance of this design for another worker of an audit, where
    /// one instance cannot run two vectors at once (an external
    /// implementation keeps one child process for the run under way);
    /// `None`, the default: this instance serves every worker at once.
    fn for_worker(&self) -> Option<Box<dyn Design>> {
        None
    }

    /// The design's cryptographic primitives, for known-answer tests
    /// (`vectors/kat/`); `None` when it does not expose them.
    fn primitives(&self) -> Option<Box<dyn Primitives>> {
        None
    }

    /// Why the implementation can no longer be trusted in this run (it broke
    /// the protocol, crashed, hung), if it cannot; the run then stops with an
    /// ERROR verdict.
    /// The key service the provider is supposed to run honestly for this
    /// design's clients (a key-transparency directory), made from `seed`;
    /// `None` (the default) for a design that declares none. The harness,
    /// as the provider, runs it: publishes every enrolled device's identity
    /// in it, serves its proofs beside directory entries, and hands every
    /// device the new head after each epoch ([`Device::directory`]). A
    /// provider move that touches keys then follows a [`Strategy`].
    fn key_service(&self, seed: Seed) -> Result<Option<Box<dyn KeyService>>, ImplError> {
        let _ = seed;
        Ok(None)
    }

    fn broken(&self) -> Option<String> {
        None
    }
}

/// One device of a design: a client's full state.
pub trait Device: Send + fmt::Debug {
    /// The keys to publish in the directory.
    fn publish(&mut self) -> Result<Bundle, ImplError>;

    /// Encrypts a message for the served recipients.
    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError>;

    /// Decrypts an envelope addressed to this device (or, on a fork, one that
    /// was not). `Err(Rejected)` is the right answer to anything it cannot
    /// authenticate.
    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError>;

    /// An independent copy of this device's whole state. A copy that cannot
    /// be made is an error (`Failed`): the runner stops the run, naming the
    /// device and the step, rather than take a probe that never ran for a
    /// refusal.
    fn fork(&self) -> Result<Box<dyn Device>, ImplError>;

    /// **Forensic open**: every plaintext that the keys this state holds can
    /// recover from `env`, judged as an attacker holding the state would,
    /// with no courtesy from the client code. It must skip every check that
    /// is a client's choice rather than a missing key: replay and duplicate
    /// detection, "already seen" sets, "not addressed to me" and sender or
    /// conversation checks, and it must try every key the state holds
    /// (every session, every retained chain or message key, every prekey
    /// still held, a backup or escrow key, a group epoch's secrets). It may
    /// absorb what the envelope carries (a session it sets up, a room key
    /// it shares), as a thief's copy of the app would, so that later
    /// envelopes can be opened too; callers that must not disturb a device
    /// open on a [`Device::fork`].
    ///
    /// `Ok(vec![])` means the state holds no key that opens it (or it is a
    /// handshake with no plaintext); `Err(Rejected)` means the same.
    /// [`ImplError::Unsupported`] (the default) means the design offers no
    /// forensic open: its forward-secrecy and post-compromise verdicts are
    /// then client-level only, never a plain "yes".
    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        let _ = env;
        Err(ImplError::Unsupported("forensic open".to_owned()))
    }

    /// The device's whole state as bytes (see [`Capabilities::export_state`]).
    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        Err(ImplError::Unsupported("state export".to_owned()))
    }

    /// Fresh randomness from the device's environment, handed over before
    /// every encryption and decryption of the real device. A design should
    /// mix it into its generator: a copy of the state seized earlier does not
    /// get it, which is what lets a design heal after a compromise.
    fn add_entropy(&mut self, entropy: &Seed) {
        let _ = entropy;
    }

    /// The user compared safety numbers out of band and confirmed that
    /// `contact`'s identity is `identity`. A design that supports
    /// verification remembers it, shows a notice if it differs from what it
    /// saw, and must not encrypt to any other identity for `contact` later.
    fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        let _ = (contact, identity);
        Ok(Vec::new())
    }

    /// This device's own user acted: created a group, added or removed a
    /// member (on this device), or linked a new device of theirs. A design
    /// whose protocol lets only members change membership (MLS) acts on
    /// these and on nothing the provider merely states; others may ignore
    /// them (the default), since the provider's member list and directory
    /// reach them anyway with the next [`EncryptRequest`].
    fn user_action(&mut self, action: &UserAction<'_>) -> Result<(), ImplError> {
        let _ = action;
        Ok(())
    }

    /// Data the provider pushes to the device for a declared role (an
    /// escrow key, a scan list). Designs without such roles ignore it.
    fn provider_push(&mut self, role: &str, data: &[u8]) -> Result<(), ImplError> {
        let _ = (role, data);
        Ok(())
    }

    /// What the design's [`KeyService`] tells the device (only designs that
    /// declare one are asked): a new head with the proof of the device's
    /// own key history, or the head an auditor holds. Returns the notices
    /// the device shows its user (a key it never published under its name,
    /// a head that differs from the auditor's).
    fn directory(&mut self, update: &DirectoryUpdate<'_>) -> Result<Vec<Event>, ImplError> {
        let _ = update;
        Err(ImplError::Unsupported("no key service".into()))
    }
}

/// What a provider-side key service hands a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryUpdate<'a> {
    /// The head of a new epoch, and the proof of every key the device's
    /// own address had up to it (what it monitors).
    Head {
        /// The head, opaque to the harness.
        head: &'a [u8],
        /// The device's own key history, proven against `head`.
        own_history: &'a [u8],
    },
    /// The heads an auditor holds, having checked that each epoch only
    /// adds to the one before (the device compares its own with them).
    Gossip {
        /// The auditor's heads, opaque to the harness.
        auditor: &'a [u8],
    },
}

/// A service the provider is supposed to run honestly for a design's
/// clients: a key directory that answers with proofs (key transparency).
/// Its heads and proofs are bytes the design defines; the harness only
/// carries them, and lies with them as a [`Strategy`] says.
pub trait KeyService: Send {
    /// Sets each device's identity, in one new epoch.
    fn publish(&mut self, keys: &[(DeviceAddr, Vec<u8>)]) -> Result<(), ImplError>;
    /// The latest epoch's head, as clients hold it.
    fn head(&self) -> Vec<u8>;
    /// A proof that `device`'s current identity is the one the directory
    /// holds, against [`KeyService::head`].
    fn lookup(&self, device: &DeviceAddr) -> Result<Vec<u8>, ImplError>;
    /// A proof of every identity `device` ever had, against the head.
    fn history(&self, device: &DeviceAddr) -> Result<Vec<u8>, ImplError>;
    /// What an auditor holds after checking every epoch's append-only
    /// proof: its heads, for devices to compare theirs with.
    fn audited(&self) -> Result<Vec<u8>, ImplError>;
    /// A second directory equal to this one so far, which goes on
    /// separately: how a provider shows different clients different views.
    fn branch(&self) -> Result<Box<dyn KeyService>, ImplError>;
}

pub use doormat_formats::Strategy;

/// An AEAD a design uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AeadAlg {
    /// ChaCha20-Poly1305 (RFC 8439): 256-bit key, 96-bit nonce, 128-bit tag.
    ChaCha20Poly1305,
    /// AES-256-GCM: 256-bit key, 96-bit nonce, 128-bit tag.
    Aes256Gcm,
}

impl AeadAlg {
    /// The name used in reports: `chacha20-poly1305`, `aes-256-gcm`.
    pub fn name(self) -> &'static str {
        match self {
            AeadAlg::ChaCha20Poly1305 => "chacha20-poly1305",
            AeadAlg::Aes256Gcm => "aes-256-gcm",
        }
    }
}

/// The primitives a design is built on, exposed so that known-answer
/// vectors can check them one by one (see `doormat_oracles::kat`).
///
/// Every method defaults to [`ImplError::Unsupported`]: a design exposes what
/// it uses. A refused input is [`ImplError::Rejected`] (a bad tag, a key of
/// the wrong length, a non-contributory X25519 exchange); an all-zero X25519
/// output is taken as *accepted*, so a design that means to refuse
/// low-order points must return an error.
pub trait Primitives: Send + Sync + fmt::Debug {
    /// X25519 (RFC 7748): the shared secret of `private` and `public`.
    fn x25519(&self, private: &[u8], public: &[u8]) -> Result<Vec<u8>, ImplError> {
        let _ = (private, public);
        Err(ImplError::Unsupported("x25519".to_owned()))
    }

    /// Ed25519 (RFC 8032): whether `sig` is a valid signature of `msg` by
    /// `public`. `Ok(false)` and `Err(Rejected)` both mean "does not verify".
    fn ed25519_verify(&self, public: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, ImplError> {
        let _ = (public, msg, sig);
        Err(ImplError::Unsupported("ed25519".to_owned()))
    }

    /// AEAD encryption: ciphertext followed by the tag.
    fn aead_seal(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        let _ = (key, nonce, aad, msg);
        Err(ImplError::Unsupported(alg.name().to_owned()))
    }

    /// AEAD decryption of ciphertext followed by the tag; an error when it
    /// does not authenticate.
    fn aead_open(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8]) -> Result<Vec<u8>, ImplError> {
        let _ = (key, nonce, aad, ct);
        Err(ImplError::Unsupported(alg.name().to_owned()))
    }

    /// HKDF-SHA-256 (RFC 5869): `len` bytes of output keying material.
    /// `len` comes from a file or a request and can be anything: an
    /// implementation refuses one over 255 × 32 before allocating it.
    fn hkdf_sha256(&self, ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Vec<u8>, ImplError> {
        let _ = (ikm, salt, info, len);
        Err(ImplError::Unsupported("hkdf-sha256".to_owned()))
    }

    /// HMAC-SHA-256 (RFC 2104): the full 32-byte tag.
    fn hmac_sha256(&self, key: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        let _ = (key, msg);
        Err(ImplError::Unsupported("hmac-sha256".to_owned()))
    }

    /// The protocol whose functions [`Primitives::protocol_function`]
    /// computes (a protocol known-answer file's `protocol`, e.g.
    /// `doormat-ratchet-v1`); `None` when the design exposes none. Protocol
    /// files for another protocol do not apply to the design.
    fn protocol(&self) -> Option<String> {
        None
    }

    /// One function of the design's protocol (a key schedule step, a key
    /// agreement) on named byte-string inputs, giving its named outputs. An
    /// input the protocol refuses (a bad signature, a low-order key) is
    /// [`ImplError::Rejected`]; a function it does not have is
    /// [`ImplError::Unsupported`].
    fn protocol_function(&self, function: &str, inputs: &ProtocolBytes) -> Result<ProtocolBytes, ImplError> {
        let _ = inputs;
        Err(ImplError::Unsupported(format!("protocol function `{function}`")))
    }

    /// Why the implementation can no longer be trusted (an external one
    /// broke the protocol, crashed, hung), if it cannot. Its answers from
    /// then on mean nothing: an error is not a refusal, so a caller judging
    /// known answers counts the case during which it broke, and every later
    /// one, as failed.
    fn broken(&self) -> Option<String> {
        None
    }
}

/// Named byte strings: the inputs and outputs of a protocol function.
pub type ProtocolBytes = std::collections::BTreeMap<String, Vec<u8>>;
