//! `escrow`: key escrow in the tradition of the Clipper chip (1993), whose
//! every session carried a Law Enforcement Access Field (LEAF) holding the
//! session key encrypted for the government's escrow agents; later
//! proposals ("exceptional access", key recovery) keep the shape: encrypt
//! end to end, and also wrap every message key to an authority.
//!
//! Here the end-to-end part is `ratchet` (this design wraps a
//! [`RatchetDevice`] made under the name `escrow`; bundles, sessions and
//! notices are ratchet's). For each message the sender draws a fresh 32-byte
//! content key `K` from its generator, encrypts the plaintext under `K`
//! once, sends `K` to every recipient device through its ratchet session,
//! and attaches to every envelope a LEAF: `K` encrypted to the escrow agent's
//! X25519 public key, which the provider pushes to every device under the
//! role `escrow-agent` (see [`crate::leaf`] for the cryptography). The agent
//! ([`EscrowAgent`]) reads every message from the provider view alone.
//!
//! Envelope body (one per recipient device):
//! `"DME1" || ratchet body (u32 length-prefixed) || LEAF (80) || content
//! ciphertext (the rest, at least 16)`. The ratchet body is a `ratchet`
//! envelope whose plaintext is `K (32) || SHA-256 digest (32)` of the LEAF
//! and the content ciphertext; the content is ChaCha20-Poly1305 under a key
//! derived from `K`, with the LEAF in its associated data. A receiver
//! refuses the message unless the digest matches, the content
//! authenticates, and the LEAF is the one `K` gives for the escrow key it
//! was pushed (so neither the provider nor a rogue sender can strip or
//! forge the escrow field, the flaw Blaze found in Clipper).
//!
//! A forensic open ([`Device::forensic_open`]) uses the device's keys only:
//! ratchet's forensic open of the ratchet body gives `K`, and `K` opens the
//! content; the digest and the LEAF are not checked (they protect the
//! escrow, not the content). The device holds the agent's public key, never
//! its secret, so it cannot open a LEAF: a copy of a device's state reads
//! what ratchet's would, no more.
//!
//! **Invariants:** a device without an escrow key refuses to encrypt
//! ([`ImplError::Failed`]) and to decrypt; `encrypt` and `decrypt` are
//! all-or-nothing like ratchet's; no input makes this code panic, and
//! [`EscrowAgent::recover`] skips every record that is not an escrow
//! envelope for its key. Apart from the escrow, the design is honest: it
//! shows ratchet's notices.

use crate::framing::{rejected, Reader, Writer};
use crate::leaf::{self, LEAF_LEN, TAG_LEN};
use crate::persist::to_state;
use crate::ratchet::{self, RatchetDevice};
use doormat_engine::adapter::Seed;
use doormat_engine::{
    Authority, Bundle, Design, Device, EncryptRequest, Event, ImplError, InEnvelope, OutEnvelope, Received, Sent,
};
use doormat_formats::DeviceAddr;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

const NAME: &str = "escrow";
/// The escrow agent's role, as the spec declares it.
pub(crate) const ROLE: &str = "escrow-agent";
const MAGIC: &[u8; 4] = b"DME1";
/// Bytes of what the ratchet carries: `K` and the digest.
const KEY_BLOCK_LEN: usize = 64;

/// The `escrow` design.
#[derive(Debug, Clone, Copy, Default)]
pub struct Escrow;

impl Design for Escrow {
    exportable_design!(NAME, crate::primitives::boxed());

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(EscrowDevice { inner: RatchetDevice::create(NAME, addr, seed)?, escrow_key: None }))
    }

    /// Restores a device, pushed escrow key included; the state carries its
    /// own address, which wins over `addr`.
    fn import_device(&self, _addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        let export: Export =
            serde_json::from_slice(state).map_err(|e| rejected(format!("{NAME} state is not valid: {e}")))?;
        Ok(Box::new(EscrowDevice {
            inner: RatchetDevice::from_export(NAME, export.ratchet)?,
            escrow_key: export.escrow_key,
        }))
    }

    fn authorities(&self) -> Vec<String> {
        vec![ROLE.to_owned()]
    }

    fn create_authority(&self, role: &str, seed: Seed) -> Result<Box<dyn Authority>, ImplError> {
        if role != ROLE {
            return Err(ImplError::Unsupported(format!("authority `{role}`: {NAME} has only `{ROLE}`")));
        }
        let mut secret = [0u8; 32];
        ChaCha20Rng::from_seed(seed).fill_bytes(&mut secret);
        Ok(Box::new(EscrowAgent { secret }))
    }
}

/// What [`Device::export_state`] writes.
#[derive(Serialize, Deserialize)]
struct Export {
    escrow_key: Option<[u8; 32]>,
    ratchet: ratchet::Export,
}

/// A ratchet device that escrows every message key.
#[derive(Debug, Clone)]
struct EscrowDevice {
    inner: RatchetDevice,
    /// The escrow agent's X25519 public key, as the provider pushed it.
    escrow_key: Option<[u8; 32]>,
}

impl Device for EscrowDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        self.inner.publish()
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let agent = self
            .escrow_key
            .ok_or_else(|| ImplError::Failed(format!("no escrow key: the provider never pushed `{ROLE}`")))?;
        let mut inner = self.inner.clone();
        let k = inner.random_secret();
        let leaf = leaf::wrap(&agent, &k)?;
        let content = leaf::seal_content(&k, &leaf, req.plaintext)?;
        let key_block = [k, leaf::digest(&leaf, &content)].concat();
        let sent = inner.encrypt(&EncryptRequest { plaintext: &key_block, ..*req })?;
        let envelopes = sent
            .envelopes
            .into_iter()
            .map(|e| Ok(OutEnvelope { to: e.to, body: Framed { ratchet: &e.body, leaf, content: &content }.encode()? }))
            .collect::<Result<Vec<_>, ImplError>>()?;
        self.inner = inner;
        Ok(Sent { envelopes, events: sent.events, blocked: sent.blocked })
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let framed = Framed::parse(env.body)?;
        let mut inner = self.inner.clone();
        let received = inner.decrypt(&InEnvelope { body: framed.ratchet, ..*env })?;
        let block = received.plaintext.as_deref().unwrap_or_default();
        if block.len() != KEY_BLOCK_LEN {
            return Err(rejected(format!("key block of {} bytes, expected {KEY_BLOCK_LEN}", block.len())));
        }
        let (k, digest) = block.split_at(32);
        let k: [u8; 32] = k.try_into().map_err(|_| rejected("content key"))?;
        if digest != leaf::digest(&framed.leaf, framed.content) {
            return Err(rejected("the LEAF or the content is not the one the sender sent"));
        }
        let agent = self.escrow_key.ok_or_else(|| rejected(format!("no `{ROLE}` key to check the LEAF against")))?;
        if leaf::wrap(&agent, &k)? != framed.leaf {
            return Err(rejected("the LEAF does not hold the content key for the escrow key"));
        }
        let plaintext = leaf::open_content(&k, &framed.leaf, framed.content)?;
        self.inner = inner;
        Ok(Received { plaintext: Some(plaintext), ..received })
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(self.clone()))
    }

    /// The content of every key block ratchet's forensic open finds in the
    /// ratchet body, with no check of the digest or the LEAF.
    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        let framed = Framed::parse(env.body)?;
        let blocks = self.inner.forensic_open(&InEnvelope { body: framed.ratchet, ..*env })?;
        let mut out = Vec::new();
        for block in blocks {
            let Some(k) = block.first_chunk::<32>() else { continue };
            if let Ok(plaintext) = leaf::open_content(k, &framed.leaf, framed.content) {
                if !out.contains(&plaintext) {
                    out.push(plaintext);
                }
            }
        }
        Ok(out)
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        to_state(&Export { escrow_key: self.escrow_key, ratchet: self.inner.export() })
    }

    fn add_entropy(&mut self, entropy: &Seed) {
        self.inner.add_entropy(entropy);
    }

    fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        self.inner.verify(contact, identity)
    }

    /// Keeps the escrow agent's public key (the latest push wins); other
    /// roles are ignored.
    fn provider_push(&mut self, role: &str, data: &[u8]) -> Result<(), ImplError> {
        if role != ROLE {
            return Ok(());
        }
        let key: [u8; 32] =
            data.try_into().map_err(|_| rejected(format!("`{ROLE}` key of {} bytes, expected 32", data.len())))?;
        leaf::check_public(&key)?;
        self.escrow_key = Some(key);
        Ok(())
    }
}

/// An envelope body, split into its three parts.
struct Framed<'a> {
    ratchet: &'a [u8],
    leaf: [u8; LEAF_LEN],
    content: &'a [u8],
}

impl<'a> Framed<'a> {
    fn encode(&self) -> Result<Vec<u8>, ImplError> {
        let mut w = Writer::new();
        w.raw(MAGIC);
        w.bytes(self.ratchet)?;
        w.raw(&self.leaf);
        w.raw(self.content);
        Ok(w.finish())
    }

    fn parse(body: &'a [u8]) -> Result<Framed<'a>, ImplError> {
        let mut r = Reader::new(body);
        if r.array::<4>("escrow magic")? != *MAGIC {
            return Err(rejected("not an escrow envelope (magic is not DME1)"));
        }
        let ratchet = r.bytes("ratchet body")?;
        let leaf = r.array("LEAF")?;
        let content = r.rest();
        if content.len() < TAG_LEN {
            return Err(rejected(format!("content of {} bytes, shorter than its tag", content.len())));
        }
        Ok(Framed { ratchet, leaf, content })
    }
}

/// The escrow agent: an X25519 key pair from its seed. It opens the LEAF of
/// every escrow envelope in the provider view and decrypts the content.
pub(crate) struct EscrowAgent {
    secret: [u8; 32],
}

impl std::fmt::Debug for EscrowAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscrowAgent").field("public", &leaf::public(&self.secret)).finish_non_exhaustive()
    }
}

impl Authority for EscrowAgent {
    fn public(&self) -> Vec<u8> {
        leaf::public(&self.secret).to_vec()
    }

    /// The plaintext of every distinct message whose LEAF opens with the
    /// agent's key, in the order of first appearance; other records, and
    /// envelopes that do not authenticate, are skipped.
    fn recover(&mut self, view: &[&[u8]]) -> Result<Vec<Vec<u8>>, ImplError> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for record in view {
            let Ok(framed) = Framed::parse(record) else { continue };
            if !seen.insert((framed.leaf, framed.content)) {
                continue;
            }
            let Ok(k) = leaf::unwrap(&self.secret, &framed.leaf) else { continue };
            if let Ok(plaintext) = leaf::open_content(&k, &framed.leaf, framed.content) {
                out.push(plaintext);
            }
        }
        Ok(out)
    }
}
