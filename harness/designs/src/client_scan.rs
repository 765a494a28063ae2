//! `client-scan`: end-to-end encryption with client-side scanning, the
//! design of Apple's NeuralHash / CSAM-detection proposal (2021) and of the
//! EU "chat control" regulation (CSA Regulation, proposed 2022). Its
//! promoters say encryption stays intact because the content is checked on
//! the device, before it is encrypted, against a list of known material,
//! and only matches are reported. The list is opaque (hashes), so nobody
//! but the list's owner knows what it targets: whoever controls the list
//! can target any content, and the scanning service then reads it.
//!
//! This implementation wraps the [`Ratchet`] design through the adapter
//! traits: the ratchet device does all the end-to-end encryption, and the
//! wrapper adds the scanning. The design has one authority, the
//! `scanning-service`, holding an X25519 key pair drawn from its seed. Its
//! public key (32 bytes) is pushed to every device; each call of
//! [`Authority::target`] adds an entry to its scan list (see [`list`] for the
//! exact and fuzzy rules) and returns the whole list, which the provider
//! pushes to every device; a device keeps the latest list and key it was
//! pushed. On every encryption the client checks the plaintext against its
//! list and makes one voucher for the message (see [`voucher`]): on a match
//! (the first matching entry; there is no threshold, one match opens), ECIES
//! to the service key of the entry id and the plaintext; otherwise a dummy
//! of the same length, so the provider cannot tell which messages matched.
//!
//! Envelope body (one per recipient device, the same voucher in each):
//! `"DCS1" ‖ u32 voucher length ‖ voucher ‖ ratchet body`. The ratchet
//! encrypts `SHA-256("doormat client-scan voucher binding v1" ‖ voucher) ‖
//! plaintext`; a receiver opens the ratchet body, checks that hash against
//! the voucher it was handed and returns the plaintext after it, so a
//! changed voucher or framing is refused like a changed ciphertext.
//!
//! A forensic open ([`Device::forensic_open`]) uses the device's keys only:
//! ratchet's forensic open of the ratchet body, the voucher binding cut off
//! and not checked. A voucher is sealed to the service's key, of which the
//! device holds the public half only, so no voucher opens.
//!
//! **Invariants:** all randomness comes from the device's seed (split by
//! label into the ratchet's seed and the wrapper's generator); `encrypt`
//! and `decrypt` are all-or-nothing like the ratchet's; without a pushed
//! list entry and key nothing opens; no input from the provider (envelopes,
//! pushes, the view given to `recover`) makes this code panic.

mod list;
mod voucher;

use crate::framing::{only_authority, rejected, Reader, Writer};
use crate::persist::{reseed, to_state, RngState};
use crate::ratchet::Ratchet;
use doormat_engine::adapter::Seed;
use doormat_engine::{
    Authority, Bundle, Design, Device, EncryptRequest, Event, ImplError, InEnvelope, Received, Sent, TargetContent,
};
use doormat_formats::DeviceAddr;
use list::{Entry, ScanList};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use x25519_dalek::{PublicKey, StaticSecret};

const NAME: &str = "client-scan";
/// The one authority of the design.
const ROLE: &str = "scanning-service";
/// First bytes of every envelope body.
const MAGIC: &[u8; 4] = b"DCS1";
/// Label of the hash of the voucher the ratchet plaintext starts with.
const BINDING_LABEL: &[u8] = b"doormat client-scan voucher binding v1";
const INNER_SEED_LABEL: &[u8] = b"doormat client-scan v1 ratchet seed";
const RNG_SEED_LABEL: &[u8] = b"doormat client-scan v1 wrapper seed";
const SERVICE_SEED_LABEL: &[u8] = b"doormat client-scan v1 service key";
const ENTROPY_LABEL: &[u8] = b"doormat client-scan v1 entropy";

/// The `client-scan` design.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientScan;

impl Design for ClientScan {
    exportable_design!(NAME, crate::primitives::boxed());

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(ScanDevice {
            inner: Ratchet.create_device(addr, labelled(INNER_SEED_LABEL, &seed))?,
            rng: ChaCha20Rng::from_seed(labelled(RNG_SEED_LABEL, &seed)),
            list: ScanList::default(),
            service_key: None,
        }))
    }

    fn import_device(&self, addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        let export: Export =
            serde_json::from_slice(state).map_err(|e| rejected(format!("{NAME} state is not valid: {e}")))?;
        if export.design != NAME {
            return Err(rejected(format!("state of design `{}`, expected `{NAME}`", export.design)));
        }
        Ok(Box::new(ScanDevice {
            inner: Ratchet.import_device(addr, &export.inner)?,
            rng: export.rng.restore(),
            list: ScanList::decode(&export.list)?,
            service_key: export.service_key,
        }))
    }

    fn authorities(&self) -> Vec<String> {
        vec![ROLE.to_owned()]
    }

    fn create_authority(&self, role: &str, seed: Seed) -> Result<Box<dyn Authority>, ImplError> {
        only_authority(role, ROLE)?;
        Ok(Box::new(ScanningService {
            secret: StaticSecret::from(labelled(SERVICE_SEED_LABEL, &seed)),
            list: ScanList::default(),
        }))
    }
}

/// SHA-256 of `label ‖ seed`: independent seeds for independent uses.
fn labelled(label: &[u8], seed: &[u8; 32]) -> [u8; 32] {
    Sha256::new().chain_update(label).chain_update(seed).finalize().into()
}

/// What [`Device::export_state`] writes.
#[derive(Serialize, Deserialize)]
struct Export {
    design: String,
    rng: RngState,
    /// The encoded scan list.
    list: Vec<u8>,
    service_key: Option<[u8; 32]>,
    /// The ratchet device's own export.
    inner: Vec<u8>,
}

/// A client that scans what it sends.
struct ScanDevice {
    inner: Box<dyn Device>,
    /// The wrapper's generator (vouchers); the ratchet has its own.
    rng: ChaCha20Rng,
    list: ScanList,
    service_key: Option<[u8; 32]>,
}

impl std::fmt::Debug for ScanDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanDevice")
            .field("inner", &self.inner)
            .field("scan_list_empty", &self.list.is_empty())
            .field("service_key", &self.service_key.is_some())
            .finish_non_exhaustive()
    }
}

impl ScanDevice {
    /// The voucher for `plaintext`, drawn from `rng`.
    fn voucher(&self, plaintext: &[u8], rng: &mut ChaCha20Rng) -> Result<Vec<u8>, ImplError> {
        if let (Some(key), Some(entry)) = (&self.service_key, self.list.first_match(plaintext)) {
            if let Some(real) = voucher::seal(key, entry, plaintext, rng)? {
                return Ok(real);
            }
        }
        Ok(voucher::dummy(plaintext.len(), rng))
    }
}

impl Device for ScanDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        self.inner.publish()
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let mut rng = self.rng.clone();
        let voucher = self.voucher(req.plaintext, &mut rng)?;
        let bound = [binding(&voucher).as_slice(), req.plaintext].concat();
        let mut sent = self.inner.encrypt(&EncryptRequest { plaintext: &bound, ..*req })?;
        for env in &mut sent.envelopes {
            let mut w = Writer::new();
            w.raw(MAGIC);
            w.bytes(&voucher)?;
            w.raw(&env.body);
            env.body = w.finish();
        }
        self.rng = rng;
        Ok(sent)
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let (voucher, body) = split(env.body)?;
        let mut next = self.inner.fork()?;
        let mut got = next.decrypt(&InEnvelope { body, ..*env })?;
        if let Some(bound) = got.plaintext.take() {
            let Some((hash, plaintext)) = bound.split_first_chunk::<32>() else {
                return Err(rejected("client-scan plaintext lacks its voucher binding"));
            };
            if *hash != binding(voucher) {
                return Err(rejected("voucher does not match the one the sender bound"));
            }
            got.plaintext = Some(plaintext.to_vec());
        }
        self.inner = next;
        Ok(got)
    }

    /// What the ratchet's forensic open finds in the ratchet body, each
    /// without its voucher binding (not compared with the voucher).
    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        let (_, body) = split(env.body)?;
        let bound = self.inner.forensic_open(&InEnvelope { body, ..*env })?;
        Ok(bound
            .into_iter()
            .map(|b| match b.split_first_chunk::<32>() {
                Some((_, plaintext)) => plaintext.to_vec(),
                // Too short to carry a binding: what the key opened, as it is.
                None => b,
            })
            .collect())
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(ScanDevice {
            inner: self.inner.fork()?,
            rng: self.rng.clone(),
            list: self.list.clone(),
            service_key: self.service_key,
        }))
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        let export = Export {
            design: NAME.to_owned(),
            rng: RngState::save(&self.rng),
            list: self.list.encode()?,
            service_key: self.service_key,
            inner: self.inner.export_state()?,
        };
        to_state(&export)
    }

    fn add_entropy(&mut self, entropy: &Seed) {
        reseed(&mut self.rng, ENTROPY_LABEL, entropy);
        self.inner.add_entropy(entropy);
    }

    fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        self.inner.verify(contact, identity)
    }

    /// A 32-byte push for the scanning service is its public key; anything
    /// else for it must be a whole scan list, which replaces the old one.
    /// Pushes for other roles are ignored.
    fn provider_push(&mut self, role: &str, data: &[u8]) -> Result<(), ImplError> {
        if role != ROLE {
            return Ok(());
        }
        match <[u8; 32]>::try_from(data) {
            Ok(key) => self.service_key = Some(key),
            Err(_) => self.list = ScanList::decode(data)?,
        }
        Ok(())
    }
}

/// The hash of a voucher that the ratchet plaintext starts with.
fn binding(voucher: &[u8]) -> [u8; 32] {
    Sha256::new().chain_update(BINDING_LABEL).chain_update(voucher).finalize().into()
}

/// An envelope body's voucher and ratchet body.
fn split(body: &[u8]) -> Result<(&[u8], &[u8]), ImplError> {
    let mut r = Reader::new(body);
    if r.array::<4>("client-scan magic")? != *MAGIC {
        return Err(rejected("not a client-scan envelope"));
    }
    let voucher = r.bytes("voucher")?;
    Ok((voucher, r.rest()))
}

/// The scanning service: owns the scan list and the key vouchers open with.
struct ScanningService {
    secret: StaticSecret,
    list: ScanList,
}

impl std::fmt::Debug for ScanningService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanningService").field("list", &self.list).finish_non_exhaustive()
    }
}

impl Authority for ScanningService {
    fn public(&self) -> Vec<u8> {
        PublicKey::from(&self.secret).as_bytes().to_vec()
    }

    fn target(&mut self, content: &TargetContent<'_>) -> Result<Option<Vec<u8>>, ImplError> {
        let entry = match content {
            TargetContent::Exact(bytes) => Entry::exact(bytes),
            TargetContent::Similar(text) => Entry::similar(text)?,
            _ => return Err(ImplError::Unsupported("this kind of target content".to_owned())),
        };
        self.list.push(entry);
        self.list.encode().map(Some)
    }

    /// Opens every voucher of every client-scan envelope in the view (each
    /// message's voucher once, though it travels in one envelope per
    /// recipient device) and returns the plaintexts of those that open.
    fn recover(&mut self, view: &[&[u8]]) -> Result<Vec<Vec<u8>>, ImplError> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for record in view {
            let Ok((v, _)) = split(record) else { continue };
            if !seen.insert(v) {
                continue;
            }
            if let Some((_, plaintext)) = voucher::open(&self.secret, v) {
                out.push(plaintext);
            }
        }
        Ok(out)
    }
}
