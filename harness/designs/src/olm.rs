//! `olm`: pairwise end-to-end encryption with vodozemac's Olm (Matrix's
//! Double Ratchet, <https://gitlab.matrix.org/matrix-org/olm/-/blob/master/docs/olm.md>),
//! used the way Matrix clients send to-device messages. Each device has a
//! vodozemac `olm::Account`; each pair of devices an `olm::Session`; a
//! message goes out as one Olm envelope per recipient device, never to the
//! sending device itself. The account, the sessions, the bundle and the
//! envelope framing are the shared channel of [`crate::vodo`]; this module
//! puts a [`Payload`] (conversation id, member list, plaintext) inside it.
//!
//! Envelope body: `version (1) || kind (1) || vodozemac Olm message`, kind 0
//! a pre-key message (sent until the recipient has replied), kind 1 a normal
//! one; the Olm plaintext is content kind 1, the sender's and recipient's
//! addresses and keys, then the payload (see [`crate::vodo`]).
//!
//! Notices are the `ratchet` client's, trust on first use: nothing on the
//! first sight of a device, user or conversation; later a changed identity,
//! an added or removed device, an added or removed member is shown, on the
//! sender's side in the very [`Sent`] that encrypts to the new device or
//! key. [`Device::verify`] pins a contact device's identity: a mismatch is
//! shown, that device is skipped when encrypting under any other identity,
//! and its messages under another identity are refused.
//!
//! [`Device::forensic_open`] is the channel's (see [`crate::vodo`]): every
//! session and every key still held, no replay memory, no address,
//! identity or conversation check; it gives the payload's plaintext.
//!
//! What vodozemac does not let us control: randomness. vodozemac takes every
//! key from the operating system's generator and offers no way to pass a
//! seed or a generator, so the device seed and [`Device::add_entropy`] are
//! accepted and ignored; envelope bytes differ between runs while verdicts
//! and reports do not. vodozemac types are not `Clone`: a device keeps them
//! live and shares them with its forks until one changes them, which copies
//! that one through its typed pickle (see [`crate::vodo`]); an export writes
//! the pickles as JSON.
//!
//! **Invariants:** `publish`, `encrypt` and `decrypt` work on a copy and keep
//! it only on success, so a refused or failed call leaves the device exactly
//! as it was; nothing that fails to authenticate (Olm MAC, session, sender
//! and recipient binding, pinned identity) is returned, a replayed envelope
//! is refused, and no input makes this code panic.

use crate::framing::{rejected, Payload};
use crate::persist::{to_state, Peer};
use crate::vodo::{payload_text, Channel, VodozemacPrimitives, CONTENT_MESSAGE};
use doormat_engine::adapter::Seed;
use doormat_engine::{
    Design, Device, EncryptRequest, Event, ImplError, InEnvelope, OutEnvelope, Primitives, Received, Sent,
};
use doormat_formats::DeviceAddr;
use std::collections::BTreeSet;

const NAME: &str = "olm";

/// The `olm` design.
#[derive(Debug, Clone, Copy, Default)]
pub struct Olm;

impl Design for Olm {
    exportable_design!(unseeded: NAME);

    /// A new device; `seed` is ignored, since vodozemac draws its keys from
    /// the operating system.
    fn create_device(&self, addr: &DeviceAddr, _seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(OlmDevice { ch: Channel::create(NAME, addr)? }))
    }

    /// Restores a device; the state carries its own address, which wins over
    /// `addr` (a seized state acts as the device it was taken from).
    fn import_device(&self, _addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        let ch = serde_json::from_slice(state).map_err(|e| rejected(format!("olm state is not valid: {e}")))?;
        Ok(Box::new(OlmDevice { ch: Channel::restore(NAME, ch)? }))
    }

    /// vodozemac's X25519 and Ed25519 (see [`VodozemacPrimitives`]).
    fn primitives(&self) -> Option<Box<dyn Primitives>> {
        Some(Box::new(VodozemacPrimitives))
    }
}

/// One device of the `olm` design.
#[derive(Debug, Clone)]
struct OlmDevice {
    ch: Channel,
}

impl Device for OlmDevice {
    channel_device!();

    /// Every Olm session the state holds, and a new inbound session from a
    /// one-time or fallback key still held (see [`Channel::forensic_open`]);
    /// no replay memory, no address, identity or conversation checks. The
    /// plaintext of the payload, or the whole recovered content when it is
    /// not a payload.
    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        crate::persist::transactional(self, |next| {
            let Some(recovered) = next.ch.forensic_open(env.body)? else { return Ok(Vec::new()) };
            Ok(vec![payload_text(recovered.content)])
        })
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        to_state(&self.ch)
    }

    /// Ignored: vodozemac takes its randomness from the operating system.
    fn add_entropy(&mut self, _entropy: &Seed) {}

    fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        Ok(self.ch.verify(contact, identity))
    }
}

impl OlmDevice {
    fn encrypt_all(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let mut events = BTreeSet::new();
        let entries = self.ch.prepare(req, &mut events);
        let payload = Payload::encode(req.conversation, req.members, req.plaintext)?;
        let mut envelopes = Vec::new();
        for entry in entries {
            let body = self.ch.seal(entry, CONTENT_MESSAGE, &payload)?;
            envelopes.push(OutEnvelope { to: vec![entry.device.clone()], body });
        }
        Ok(Sent { envelopes, events: events.into_iter().collect(), blocked: false })
    }

    fn decrypt_one(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let from = Peer::from(env.from);
        let opened = self.ch.open(&from, env.body)?;
        if opened.kind != CONTENT_MESSAGE {
            return Err(rejected(format!("Olm content of kind {}, expected a message", opened.kind)));
        }
        let payload = Payload::open(&opened.content, env.conversation)?;
        let events = self.ch.received(&from, &opened.identity, Some((env.conversation, &payload.members)));
        Ok(Received { plaintext: Some(payload.plaintext), sender: Some(from.to_addr()), events })
    }
}
