//! `plaintext-relay`: transport encryption only, the "easy to use" default.
//! The provider stores and forwards every message in the clear, and a client
//! believes whatever sender the provider names.
//!
//! Wire format of an envelope body: the magic `DMP1`, then the
//! [`Payload`](crate::framing::Payload) (conversation id, member list,
//! plaintext), nothing else. One envelope goes to all recipient devices.
//!
//! A forensic open ([`Device::forensic_open`]) returns the plaintext of any
//! envelope that parses, to whomever it was addressed: there is no key.
//!
//! **Invariant:** this design is a positive control: any device, and any
//! outsider, can read any envelope. Nothing here tries to hide that; the
//! audit has to find it on its own.

use crate::framing::{rejected, Payload, Reader};
use crate::persist::{to_state, Peer};
use doormat_engine::adapter::Seed;
use doormat_engine::{Bundle, Design, Device, EncryptRequest, ImplError, InEnvelope, OutEnvelope, Received, Sent};
use doormat_formats::DeviceAddr;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

const NAME: &str = "plaintext-relay";
const MAGIC: &[u8; 4] = b"DMP1";

/// The `plaintext-relay` design.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlaintextRelay;

impl Design for PlaintextRelay {
    exportable_design!(NAME, crate::primitives::boxed());

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        let mut identity = [0u8; 32];
        ChaCha20Rng::from_seed(seed).fill_bytes(&mut identity);
        Ok(Box::new(RelayDevice { state: State { design: NAME.to_owned(), addr: Peer::from(addr), identity } }))
    }

    /// Restores a device; the state carries its own address, which wins over
    /// `addr` (a seized state acts as the device it was taken from).
    fn import_device(&self, _addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        let state: State =
            serde_json::from_slice(state).map_err(|e| rejected(format!("{NAME} state is not valid: {e}")))?;
        if state.design != NAME {
            return Err(rejected(format!("state of design `{}`, expected `{NAME}`", state.design)));
        }
        Ok(Box::new(RelayDevice { state }))
    }
}

/// Everything a relay client keeps: who it is and a name tag to publish.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    design: String,
    addr: Peer,
    identity: [u8; 32],
}

#[derive(Debug, Clone)]
struct RelayDevice {
    state: State,
}

impl Device for RelayDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        Ok(Bundle { identity: self.state.identity.to_vec(), prekey: Vec::new(), one_time: Vec::new() })
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let me = self.state.addr.to_addr();
        let mut to: Vec<DeviceAddr> = Vec::new();
        for entry in req.recipients {
            if entry.device != me && !to.contains(&entry.device) {
                to.push(entry.device.clone());
            }
        }
        if to.is_empty() {
            return Ok(Sent::default());
        }
        let mut body = MAGIC.to_vec();
        body.extend(Payload::encode(req.conversation, req.members, req.plaintext)?);
        Ok(Sent { envelopes: vec![OutEnvelope { to, body }], events: Vec::new(), blocked: false })
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let payload = parse(env.body)?;
        Ok(Received { plaintext: Some(payload.plaintext), sender: Some(env.from.clone()), events: Vec::new() })
    }

    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        Ok(vec![parse(env.body)?.plaintext])
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(self.clone()))
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        to_state(&self.state)
    }
}

/// The payload of an envelope body.
fn parse(body: &[u8]) -> Result<Payload, ImplError> {
    let mut r = Reader::new(body);
    if &r.array::<4>("magic")? != MAGIC {
        return Err(rejected("not a plaintext-relay envelope"));
    }
    let payload = Payload::decode(&mut r)?;
    r.end("payload")?;
    Ok(payload)
}
