//! `ghost`: the "ghost user" proposal of Ian Levy and Crispin Robinson
//! (GCHQ, "Principles for a More Informed Exceptional Access Debate",
//! Lawfare, 2018). The cryptography stays end-to-end; instead the provider,
//! which already controls the directory, is asked to "silently add a law
//! enforcement participant to a group chat or call" and to suppress the
//! notification that would tell the users. The authors' claim is that this
//! "doesn't break encryption".
//!
//! This implementation is exactly that: every byte on the wire is
//! `ratchet`'s (it wraps a [`RatchetDevice`] made under the name `ghost`;
//! see [`crate::ratchet`] for bundles and envelopes), but the client
//! encrypts to whatever devices and keys the provider serves and shows no
//! notice at all: the `events` of every encryption and decryption are
//! dropped, and [`Device::verify`] is accepted and ignored (no notice, no
//! pinning), because a verified safety number that blocked the ghost would
//! defeat the proposal.
//!
//! A forensic open ([`Device::forensic_open`]) is ratchet's: what a copy of
//! a ghost device's state can read is exactly what a ratchet device's can.
//!
//! **Invariants:** all cryptography, randomness, state handling and refusal
//! of bad input are `ratchet`'s (nothing is duplicated here); this wrapper
//! never returns an event and never refuses a served device or key that
//! `ratchet` would accept.

use crate::ratchet::RatchetDevice;
use doormat_engine::adapter::Seed;
use doormat_engine::{Bundle, Design, Device, EncryptRequest, Event, ImplError, InEnvelope, Received, Sent};
use doormat_formats::DeviceAddr;

const NAME: &str = "ghost";

/// The `ghost` design.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ghost;

impl Design for Ghost {
    exportable_design!(NAME, crate::primitives::boxed());

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(GhostDevice { inner: RatchetDevice::create(NAME, addr, seed)? }))
    }

    /// Restores a device; the state carries its own address, which wins over
    /// `addr` (a seized state acts as the device it was taken from).
    fn import_device(&self, _addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(GhostDevice { inner: RatchetDevice::import(NAME, state)? }))
    }
}

/// A ratchet device whose notices the provider suppresses.
#[derive(Debug, Clone)]
struct GhostDevice {
    inner: RatchetDevice,
}

impl Device for GhostDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        self.inner.publish()
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let sent = self.inner.encrypt_accepting_all(req)?;
        Ok(Sent { envelopes: sent.envelopes, events: Vec::new(), blocked: false })
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let received = self.inner.decrypt(env)?;
        Ok(Received { events: Vec::new(), ..received })
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(self.clone()))
    }

    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        self.inner.forensic_open(env)
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        self.inner.export_state()
    }

    fn add_entropy(&mut self, entropy: &Seed) {
        self.inner.add_entropy(entropy);
    }

    /// Accepted and ignored: the client neither warns nor pins.
    fn verify(&mut self, _contact: &DeviceAddr, _identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        Ok(Vec::new())
    }
}
