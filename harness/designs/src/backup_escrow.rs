//! `backup-escrow`: end-to-end encrypted messaging whose chat history is
//! backed up to the provider under a key the provider can recover: here a
//! key derived from a short PIN with a fast key derivation and no hardware
//! rate limiting. It models the "keep the backups readable" position: Apple
//! kept iCloud backups under keys it holds (Advanced Data Protection is
//! opt-in), and the UK's 2025 order under the Investigatory Powers Act
//! sought access to the opt-in encrypted ones; messengers that do protect
//! backups with a PIN rely on an HSM or enclave refusing guesses (Signal's
//! SVR, WhatsApp's HSM-based backup vault), which is exactly what is left
//! out here. Messages stay end-to-end encrypted in transit, while the
//! provider, or whoever obtains its storage, reads the history.
//!
//! This implementation wraps the [`Ratchet`] design through the adapter
//! traits: the ratchet device encrypts and decrypts every message. Each
//! device draws a 4-digit PIN (0000–9999, uniform) and a 16-byte salt from
//! its generator when it is created, and keeps the history of the
//! plaintexts it sent and received. Every encryption adds the message to
//! the history and then uploads everything added since the last upload
//! (received messages included) as one more envelope, addressed to nobody
//! (`to` empty: stored by the provider, delivered to no device), after the
//! ratchet's; what a device receives after its last send waits for its next
//! one. The design's one authority, the `backup-operator` (no public key),
//! brute-forces the 10,000 PINs of each salt offline (once per salt, on its
//! shortest backups), decrypts every backup and returns the plaintexts of
//! the history entries.
//!
//! Message envelopes are the ratchet's, unchanged. Backup body: `"DBK1" ‖
//! salt (16) ‖ nonce (12) ‖ ChaCha20-Poly1305(key, nonce, aad = "DBK1" ‖
//! salt, history entries)`, key = HKDF-SHA256(salt, the PIN as 4 ASCII
//! digits, info "doormat backup-escrow v1 key") — deliberately fast. History
//! entries: `u32 count ‖ (kind (1 sent, 2 received) ‖ conversation ‖ sender
//! device address ‖ plaintext)*`, strings length-prefixed.
//!
//! A forensic open ([`Device::forensic_open`]) of a message envelope is
//! the ratchet's. Of a backup, it is what the device's own PIN opens: the
//! key is HKDF of the backup's salt (written in the clear) and the PIN, so
//! the state's PIN opens every backup the device uploaded, before and
//! after the state was taken (the PIN never changes), and the plaintext of
//! every history entry in it comes out; another device's backup opens only
//! if their PINs happen to be equal (one chance in 10,000). Guessing other
//! PINs is not a key the state holds: that is the backup operator's work.
//!
//! **Invariants:** all randomness comes from the device's seed (split by
//! label into the ratchet's seed and the wrapper's generator); `encrypt`
//! and `decrypt` are all-or-nothing; only what a real call delivered joins
//! the history (a forensic open adds nothing); no input from the provider
//! makes this code panic.

use crate::framing::{only_authority, rejected, Reader, Writer};
use crate::persist::{reseed, to_state, RngState};
use crate::ratchet::Ratchet;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use doormat_engine::adapter::Seed;
use doormat_engine::{
    Authority, Bundle, Design, Device, EncryptRequest, Event, ImplError, InEnvelope, OutEnvelope, Received, Sent,
};
use doormat_formats::DeviceAddr;
use hkdf::Hkdf;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const NAME: &str = "backup-escrow";
/// The one authority of the design.
const ROLE: &str = "backup-operator";
/// First bytes of every backup body.
const MAGIC: &[u8; 4] = b"DBK1";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// How many PINs there are.
const PINS: u16 = 10_000;
/// HKDF info of the backup key.
const KEY_INFO: &[u8] = b"doormat backup-escrow v1 key";
const INNER_SEED_LABEL: &[u8] = b"doormat backup-escrow v1 ratchet seed";
const RNG_SEED_LABEL: &[u8] = b"doormat backup-escrow v1 wrapper seed";
const ENTROPY_LABEL: &[u8] = b"doormat backup-escrow v1 entropy";
const KIND_SENT: u8 = 1;
const KIND_RECEIVED: u8 = 2;
/// Blobs of one salt the operator tries to crack in one `recover` call
/// before giving up on that salt (a blob may have been tampered with).
const CRACK_ATTEMPTS_PER_SALT: usize = 4;

/// The `backup-escrow` design.
#[derive(Debug, Clone, Copy, Default)]
pub struct BackupEscrow;

impl Design for BackupEscrow {
    exportable_design!(NAME, crate::primitives::boxed());

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        let mut rng = ChaCha20Rng::from_seed(labelled(RNG_SEED_LABEL, &seed));
        let pin = draw_pin(&mut rng);
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        Ok(Box::new(BackupDevice {
            inner: Ratchet.create_device(addr, labelled(INNER_SEED_LABEL, &seed))?,
            rng,
            st: State {
                design: NAME.to_owned(),
                addr: addr.to_string(),
                pin,
                salt,
                history: Arc::default(),
                backed_up: 0,
            },
        }))
    }

    fn import_device(&self, addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        let export: Export =
            serde_json::from_slice(state).map_err(|e| rejected(format!("{NAME} state is not valid: {e}")))?;
        if export.state.design != NAME {
            return Err(rejected(format!("state of design `{}`, expected `{NAME}`", export.state.design)));
        }
        if export.state.pin >= PINS || export.state.backed_up > export.state.history.len() {
            return Err(rejected(format!("{NAME} state is not valid: PIN or backup cursor out of range")));
        }
        Ok(Box::new(BackupDevice {
            inner: Ratchet.import_device(addr, &export.inner)?,
            rng: export.rng.restore(),
            st: export.state,
        }))
    }

    fn authorities(&self) -> Vec<String> {
        vec![ROLE.to_owned()]
    }

    fn create_authority(&self, role: &str, _seed: Seed) -> Result<Box<dyn Authority>, ImplError> {
        only_authority(role, ROLE)?;
        Ok(Box::new(BackupOperator::default()))
    }
}

/// SHA-256 of `label ‖ seed`: independent seeds for independent uses.
fn labelled(label: &[u8], seed: &[u8; 32]) -> [u8; 32] {
    Sha256::new().chain_update(label).chain_update(seed).finalize().into()
}

/// A uniform PIN in `0..PINS` (rejection sampling, no modulo bias).
fn draw_pin(rng: &mut ChaCha20Rng) -> u16 {
    let pins = u32::from(PINS);
    let limit = u32::MAX - u32::MAX % pins;
    loop {
        let x = rng.next_u32();
        if x < limit {
            // `x % pins` < 10,000 fits in a u16.
            return u16::try_from(x % pins).unwrap_or(0);
        }
    }
}

/// The backup key for `pin` under `salt`.
fn backup_key(salt: &[u8; SALT_LEN], pin: u16) -> Option<ChaCha20Poly1305> {
    let digits = format!("{pin:04}");
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(salt), digits.as_bytes()).expand(KEY_INFO, &mut key).ok()?;
    ChaCha20Poly1305::new_from_slice(&key).ok()
}

/// One message in a device's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    /// [`KIND_SENT`] or [`KIND_RECEIVED`].
    kind: u8,
    conversation: String,
    /// The sending device, `user/device`.
    sender: String,
    plaintext: Vec<u8>,
}

/// Serialises history entries (see the module documentation).
fn encode_entries(entries: &[Entry]) -> Result<Vec<u8>, ImplError> {
    let mut w = Writer::new();
    let count = u32::try_from(entries.len())
        .map_err(|_| ImplError::Failed("too many history entries to back up".to_owned()))?;
    w.u32(count);
    for e in entries {
        w.u8(e.kind);
        w.bytes(e.conversation.as_bytes())?;
        w.bytes(e.sender.as_bytes())?;
        w.bytes(&e.plaintext)?;
    }
    Ok(w.finish())
}

/// Reads what [`encode_entries`] wrote, and nothing more.
fn decode_entries(bytes: &[u8]) -> Result<Vec<Entry>, ImplError> {
    let mut r = Reader::new(bytes);
    let count = r.u32("history entry count")?;
    // No preallocation: `count` is untrusted.
    let mut out = Vec::new();
    for _ in 0..count {
        let kind = r.u8("history entry kind")?;
        if kind != KIND_SENT && kind != KIND_RECEIVED {
            return Err(rejected(format!("unknown history entry kind {kind}")));
        }
        let conversation = r.string("conversation")?;
        let sender = r.string("sender")?;
        let plaintext = r.bytes("plaintext")?.to_vec();
        out.push(Entry { kind, conversation, sender, plaintext });
    }
    r.end("history entries")?;
    Ok(out)
}

/// A backup body, split.
#[derive(Debug, Clone, Copy)]
struct Blob<'a> {
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
    /// Magic and salt: the associated data.
    aad: &'a [u8],
    sealed: &'a [u8],
}

impl<'a> Blob<'a> {
    /// Encrypts `entries` under `pin` and `salt` with a nonce from `rng`.
    fn seal(pin: u16, salt: &[u8; SALT_LEN], entries: &[Entry], rng: &mut ChaCha20Rng) -> Result<Vec<u8>, ImplError> {
        let cipher = backup_key(salt, pin).ok_or_else(|| ImplError::Failed("backup key derivation".to_owned()))?;
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let aad = [MAGIC.as_slice(), salt].concat();
        let sealed = cipher
            .encrypt(&nonce.into(), Payload { msg: &encode_entries(entries)?, aad: &aad })
            .map_err(|_| ImplError::Failed("backup encryption failed".to_owned()))?;
        Ok([aad.as_slice(), &nonce, &sealed].concat())
    }

    /// The parts of a backup body; `None` for anything else.
    fn parse(body: &'a [u8]) -> Option<Blob<'a>> {
        let mut r = Reader::new(body);
        if r.array::<4>("magic").ok()? != *MAGIC {
            return None;
        }
        let salt = r.array("salt").ok()?;
        let nonce = r.array("nonce").ok()?;
        let sealed = r.rest();
        if sealed.len() < TAG_LEN {
            return None;
        }
        Some(Blob { salt, nonce, aad: &body[..MAGIC.len() + SALT_LEN], sealed })
    }

    /// The serialised entries, if `cipher` is the right key.
    fn open(&self, cipher: &ChaCha20Poly1305) -> Option<Vec<u8>> {
        cipher.decrypt(&self.nonce.into(), Payload { msg: self.sealed, aad: self.aad }).ok()
    }

    /// Tries every PIN; the key that opens this blob.
    fn crack(&self) -> Option<ChaCha20Poly1305> {
        (0..PINS).filter_map(|pin| backup_key(&self.salt, pin)).find(|cipher| self.open(cipher).is_some())
    }
}

/// A device's state besides the ratchet and the generator.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    design: String,
    /// The device's own address, `user/device`.
    addr: String,
    pin: u16,
    salt: [u8; SALT_LEN],
    /// Everything sent and received, oldest first; shared with forks until
    /// one of them adds to it (copy on write), so a fork costs the same
    /// however long the history is.
    history: Arc<Vec<Entry>>,
    /// How many history entries have been uploaded.
    backed_up: usize,
}

/// What [`Device::export_state`] writes.
#[derive(Serialize, Deserialize)]
struct Export {
    rng: RngState,
    state: State,
    /// The ratchet device's own export.
    inner: Vec<u8>,
}

/// A client that backs its history up under its PIN.
struct BackupDevice {
    inner: Box<dyn Device>,
    /// The wrapper's generator (backup nonces); the ratchet has its own.
    rng: ChaCha20Rng,
    st: State,
}

impl std::fmt::Debug for BackupDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupDevice")
            .field("inner", &self.inner)
            .field("history", &self.st.history.len())
            .field("backed_up", &self.st.backed_up)
            .finish_non_exhaustive()
    }
}

impl Device for BackupDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        self.inner.publish()
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let mut rng = self.rng.clone();
        let entry = Entry {
            kind: KIND_SENT,
            conversation: req.conversation.to_owned(),
            sender: self.st.addr.clone(),
            plaintext: req.plaintext.to_vec(),
        };
        // What was added since the last upload, and this message.
        let mut pending = self.st.history.get(self.st.backed_up..).unwrap_or_default().to_vec();
        pending.push(entry.clone());
        let backup = Blob::seal(self.st.pin, &self.st.salt, &pending, &mut rng)?;
        let mut sent = self.inner.encrypt(req)?;
        sent.envelopes.push(OutEnvelope { to: Vec::new(), body: backup });
        let history = Arc::make_mut(&mut self.st.history);
        history.push(entry);
        self.st.backed_up = history.len();
        self.rng = rng;
        Ok(sent)
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let got = self.inner.decrypt(env)?;
        if let Some(plaintext) = &got.plaintext {
            Arc::make_mut(&mut self.st.history).push(Entry {
                kind: KIND_RECEIVED,
                conversation: env.conversation.to_owned(),
                sender: got.sender.as_ref().unwrap_or(env.from).to_string(),
                plaintext: plaintext.clone(),
            });
        }
        Ok(got)
    }

    /// A backup: the plaintext of every history entry in it, if this
    /// device's PIN opens it. Anything else: the ratchet's forensic open.
    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        let Some(blob) = Blob::parse(env.body) else {
            return self.inner.forensic_open(env);
        };
        let key =
            backup_key(&blob.salt, self.st.pin).ok_or_else(|| ImplError::Failed("backup key derivation".into()))?;
        let Some(sealed) = blob.open(&key) else {
            return Ok(Vec::new());
        };
        Ok(decode_entries(&sealed)?.into_iter().map(|e| e.plaintext).collect())
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(BackupDevice { inner: self.inner.fork()?, rng: self.rng.clone(), st: self.st.clone() }))
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        let export =
            Export { rng: RngState::save(&self.rng), state: self.st.clone(), inner: self.inner.export_state()? };
        to_state(&export)
    }

    fn add_entropy(&mut self, entropy: &Seed) {
        reseed(&mut self.rng, ENTROPY_LABEL, entropy);
        self.inner.add_entropy(entropy);
    }

    fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        self.inner.verify(contact, identity)
    }
}

/// The backup operator: cracks each device's PIN once and reads its
/// backups.
#[derive(Default)]
struct BackupOperator {
    /// The key each salt's PIN gives, once cracked.
    cracked: BTreeMap<[u8; SALT_LEN], ChaCha20Poly1305>,
}

impl std::fmt::Debug for BackupOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupOperator").field("cracked", &self.cracked.len()).finish()
    }
}

impl Authority for BackupOperator {
    fn public(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Finds the backups in the view, cracks each new salt's PIN on its
    /// shortest blobs, and returns the plaintext of every history entry of
    /// every backup that opens, each distinct plaintext once, in view order.
    fn recover(&mut self, view: &[&[u8]]) -> Result<Vec<Vec<u8>>, ImplError> {
        let blobs: Vec<Blob<'_>> = view.iter().filter_map(|b| Blob::parse(b)).collect();
        let mut by_salt: BTreeMap<[u8; SALT_LEN], Vec<&Blob<'_>>> = BTreeMap::new();
        for blob in blobs.iter().filter(|b| !self.cracked.contains_key(&b.salt)) {
            by_salt.entry(blob.salt).or_default().push(blob);
        }
        for (salt, mut candidates) in by_salt {
            candidates.sort_by_key(|b| b.sealed.len());
            if let Some(key) = candidates.iter().take(CRACK_ATTEMPTS_PER_SALT).find_map(|b| b.crack()) {
                self.cracked.insert(salt, key);
            }
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for blob in &blobs {
            let Some(key) = self.cracked.get(&blob.salt) else { continue };
            let Some(entries) = blob.open(key).and_then(|pt| decode_entries(&pt).ok()) else { continue };
            for entry in entries {
                if seen.insert(entry.plaintext.clone()) {
                    out.push(entry.plaintext);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entries() -> Vec<Entry> {
        vec![
            Entry { kind: KIND_SENT, conversation: "a+b".into(), sender: "a/phone".into(), plaintext: b"one".to_vec() },
            Entry {
                kind: KIND_RECEIVED,
                conversation: "a+b".into(),
                sender: "b/phone".into(),
                plaintext: b"2".to_vec(),
            },
        ]
    }

    #[test]
    fn a_backup_opens_with_its_pin_only() {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let salt = [7; SALT_LEN];
        let body = Blob::seal(1234, &salt, &entries(), &mut rng).unwrap();
        let blob = Blob::parse(&body).unwrap();
        let right = blob.open(&backup_key(&salt, 1234).unwrap()).unwrap();
        assert_eq!(decode_entries(&right).unwrap(), entries());
        for wrong in [0, 1233, 1235, 4321, 9999] {
            assert!(blob.open(&backup_key(&salt, wrong).unwrap()).is_none(), "PIN {wrong:04} opened it");
        }
        assert!(blob.open(&backup_key(&[8; SALT_LEN], 1234).unwrap()).is_none(), "another salt opened it");
    }

    #[test]
    fn cracking_finds_the_pin_and_refuses_tampering() {
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        let salt = [9; SALT_LEN];
        let body = Blob::seal(9876, &salt, &entries(), &mut rng).unwrap();
        let key = Blob::parse(&body).unwrap().crack().unwrap();
        assert_eq!(decode_entries(&Blob::parse(&body).unwrap().open(&key).unwrap()).unwrap(), entries());
        let mut bad = body.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(Blob::parse(&bad).unwrap().crack().is_none());
    }

    #[test]
    fn pins_are_uniform_enough_and_in_range() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let pins: Vec<u16> = (0..2000).map(|_| draw_pin(&mut rng)).collect();
        assert!(pins.iter().all(|&p| p < PINS));
        assert!(pins.iter().any(|&p| p < 1000) && pins.iter().any(|&p| p >= 9000));
    }

    #[test]
    fn entry_decoding_refuses_truncation_and_junk() {
        let bytes = encode_entries(&entries()).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode_entries(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_entries(&[0, 0, 0, 1, 3]).is_err());
        assert!(decode_entries(&[0xff; 9]).is_err());
        assert!(Blob::parse(b"DBK1short").is_none());
        assert!(Blob::parse(b"").is_none());
    }
}
