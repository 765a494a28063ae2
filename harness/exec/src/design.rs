//! [`ExecDesign`]: a design whose devices and authorities live in a child
//! process, reached through the exec protocol. Its primitives, when `hello`
//! offers any, live in a child process of their own
//! ([`ExecPrimitives`](crate::primitives::ExecPrimitives)). Both talk to
//! their process through a [`Session`]; what the answers mean is read with
//! `convert.rs`, and anything it refuses breaks the run.

use crate::convert;
use crate::primitives::ExecPrimitives;
use crate::process::{Command, Limits};
use crate::session::Session;
use doormat_engine::{
    Authority, Bundle, Capabilities, Design, Device, EncryptRequest, Event, ImplError, InEnvelope, Primitives,
    Received, Seed, Sent, TargetContent,
};
use doormat_formats::wire::{
    AuthorityOk, DecryptOk, DeviceOk, EmptyOk, EncryptOk, EventsOk, ForensicOk, Op, PublishOk, RecoverOk, StateOk,
    TargetOk, WireEvent, WirePrimitive, B64,
};
use doormat_formats::DeviceAddr;
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex, MutexGuard};

type Shared = Arc<Mutex<Session>>;

fn lock(s: &Shared) -> MutexGuard<'_, Session> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a handshake told about an implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its capabilities.
    pub capabilities: Capabilities,
    /// Its roles.
    pub authorities: Vec<String>,
    /// The primitives it offers for known-answer tests.
    pub primitives: Vec<WirePrimitive>,
    /// The protocol whose functions it computes for known-answer tests.
    pub kat_protocol: Option<String>,
}

/// A design run as an external program.
#[derive(Debug)]
pub struct ExecDesign {
    name: String,
    command: Command,
    limits: Limits,
    probe: Result<Probe, String>,
    session: Shared,
}

impl ExecDesign {
    /// A design called `name` (its spec's id) run by `command`. Runs a first
    /// handshake to learn its capabilities and roles; if that fails, every
    /// run will fail with the reason.
    pub fn new(name: &str, command: Command, limits: Limits) -> ExecDesign {
        let session: Shared = Arc::default();
        let probe = {
            let mut s = lock(&session);
            let r = s.restart(&command, limits).map_err(|e| match e {
                ImplError::Failed(m) | ImplError::Rejected(m) | ImplError::Unsupported(m) => m,
                other => other.to_string(),
            });
            if let Some(mut p) = s.process.take() {
                p.finish();
            }
            r.map(|h| Probe {
                name: h.name,
                version: h.version,
                capabilities: Capabilities::with_export(h.capabilities.export_state),
                authorities: h.authorities,
                primitives: h.primitives,
                kat_protocol: h.kat_protocol,
            })
        };
        ExecDesign { name: name.to_owned(), command, limits, probe, session }
    }

    /// The first handshake's answer, or why it failed.
    pub fn probe(&self) -> Result<&Probe, &str> {
        self.probe.as_ref().map_err(String::as_str)
    }

    /// The command line.
    pub fn command(&self) -> &Command {
        &self.command
    }
}

impl ExecDesign {
    /// A device of the current run, made by `op` (`create_device` or
    /// `import_device`).
    fn new_device(&self, op: Op) -> Result<Box<dyn Device>, ImplError> {
        let generation = lock(&self.session).generation;
        let ok: DeviceOk = device_op(&self.session, generation, op)?;
        let session = Arc::clone(&self.session);
        Ok(Box::new(ExecDevice { session, generation, handle: ok.device, acknowledged: false }))
    }
}

fn device_op<T: DeserializeOwned>(session: &Shared, generation: u64, op: Op) -> Result<T, ImplError> {
    let mut s = lock(session);
    if s.generation != generation {
        return Err(ImplError::Failed("this device belongs to an earlier run of the implementation".to_owned()));
    }
    s.call(op)
}

impl Design for ExecDesign {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.probe.as_ref().map(|p| p.capabilities).unwrap_or_default()
    }

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        self.new_device(Op::CreateDevice { addr: addr.to_string(), seed: B64(seed.to_vec()) })
    }

    fn import_device(&self, addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        self.new_device(Op::ImportDevice { addr: addr.to_string(), state: B64(state.to_vec()) })
    }

    fn authorities(&self) -> Vec<String> {
        self.probe.as_ref().map(|p| p.authorities.clone()).unwrap_or_default()
    }

    fn create_authority(&self, role: &str, seed: Seed) -> Result<Box<dyn Authority>, ImplError> {
        let generation = lock(&self.session).generation;
        let ok: AuthorityOk = device_op(
            &self.session,
            generation,
            Op::CreateAuthority { role: role.to_owned(), seed: B64(seed.to_vec()) },
        )?;
        Ok(Box::new(ExecAuthority {
            session: Arc::clone(&self.session),
            generation,
            handle: ok.authority,
            public: ok.public.0,
        }))
    }

    fn begin_run(&self) -> Result<(), ImplError> {
        if let Err(e) = &self.probe {
            return Err(ImplError::Failed(e.clone()));
        }
        let mut s = lock(&self.session);
        let hello = s.restart(&self.command, self.limits)?;
        let caps = Capabilities::with_export(hello.capabilities.export_state);
        if Ok(caps) != self.probe.as_ref().map(|p| p.capabilities)
            || Ok(&hello.authorities) != self.probe.as_ref().map(|p| &p.authorities)
        {
            return Err(s.fail("its `hello` changed between runs (capabilities or authorities)".to_owned()));
        }
        Ok(())
    }

    fn end_run(&self) {
        let mut s = lock(&self.session);
        if let Some(mut p) = s.process.take() {
            p.finish();
        }
    }

    /// The same program and first handshake, with a session (and so a
    /// child process per run) of its own.
    fn for_worker(&self) -> Option<Box<dyn Design>> {
        Some(Box::new(ExecDesign {
            name: self.name.clone(),
            command: self.command.clone(),
            limits: self.limits,
            probe: self.probe.clone(),
            session: Arc::default(),
        }))
    }

    /// The primitives `hello` offered, each call forwarded to a child
    /// process of their own, started on the first call; `None` when it
    /// offered none (or the handshake failed).
    fn primitives(&self) -> Option<Box<dyn Primitives>> {
        let p = self.probe.as_ref().ok()?;
        if p.primitives.is_empty() && p.kat_protocol.is_none() {
            return None;
        }
        Some(Box::new(ExecPrimitives::new(
            &self.name,
            self.command.clone(),
            self.limits,
            p.primitives.clone(),
            p.kat_protocol.clone(),
        )))
    }

    fn broken(&self) -> Option<String> {
        lock(&self.session).broken.clone()
    }
}

/// A device living in the child process.
struct ExecDevice {
    session: Shared,
    generation: u64,
    handle: u64,
    /// The user acknowledged a blocked `encrypt`: the next one says so.
    acknowledged: bool,
}

impl std::fmt::Debug for ExecDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecDevice").field("generation", &self.generation).field("handle", &self.handle).finish()
    }
}

/// What part of an answer means, by `meaning` (a function of `convert.rs`);
/// a refusal breaks the run.
fn read<W, T>(session: &Shared, wire: W, meaning: impl FnOnce(W) -> Result<T, String>) -> Result<T, ImplError> {
    meaning(wire).map_err(|why| lock(session).fail(why))
}

fn events(list: Vec<WireEvent>, session: &Shared) -> Result<Vec<Event>, ImplError> {
    read(session, list, convert::events_from_wire)
}

impl ExecDevice {
    fn op<T: DeserializeOwned>(&self, op: Op) -> Result<T, ImplError> {
        device_op(&self.session, self.generation, op)
    }
}

impl Device for ExecDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        let ok: PublishOk = self.op(Op::Publish { device: self.handle })?;
        lock(&self.session).charge("publish", ok.one_time.len())?;
        Ok(convert::bundle_from_wire(ok))
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let op = Op::Encrypt {
            device: self.handle,
            conversation: req.conversation.to_owned(),
            group: req.group,
            members: req.members.iter().map(|m| m.0.clone()).collect(),
            recipients: req.recipients.iter().map(convert::entry_to_wire).collect(),
            plaintext: B64(req.plaintext.to_vec()),
            acknowledged: std::mem::take(&mut self.acknowledged),
        };
        let ok: EncryptOk = self.op(op)?;
        {
            let mut s = lock(&self.session);
            s.check_envelopes(ok.envelopes.len())?;
            let addressees = ok.envelopes.iter().map(|e| e.to.len()).fold(0usize, usize::saturating_add);
            s.charge("encrypt", ok.envelopes.len().saturating_add(addressees).saturating_add(ok.events.len()))?;
        }
        let envelopes = ok
            .envelopes
            .into_iter()
            .map(|e| read(&self.session, e, convert::envelope_from_wire))
            .collect::<Result<_, _>>()?;
        Ok(Sent { envelopes, events: events(ok.events, &self.session)?, blocked: ok.blocked })
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let (from, conversation, body) = convert::in_envelope_to_wire(env);
        let ok: DecryptOk = self.op(Op::Decrypt { device: self.handle, from, conversation, body })?;
        lock(&self.session).charge("decrypt", ok.events.len())?;
        let sender = ok.sender.map(|s| read(&self.session, s.as_str(), convert::addr_from_wire)).transpose()?;
        Ok(Received { plaintext: ok.plaintext.map(|p| p.0), sender, events: events(ok.events, &self.session)? })
    }

    fn user_action(&mut self, action: &doormat_engine::UserAction<'_>) -> Result<(), ImplError> {
        // The protocol carries only acknowledgement, on the next `encrypt`.
        if matches!(action, doormat_engine::UserAction::Acknowledge) {
            self.acknowledged = true;
        }
        Ok(())
    }

    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        if !lock(&self.session).forensic {
            return Err(ImplError::Unsupported("forensic open (not offered in `hello`)".to_owned()));
        }
        let (from, conversation, body) = convert::in_envelope_to_wire(env);
        let ok: ForensicOk = self.op(Op::ForensicOpen { device: self.handle, from, conversation, body })?;
        lock(&self.session).charge("forensic_open", ok.plaintexts.len())?;
        Ok(ok.plaintexts.into_iter().map(|p| p.0).collect())
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        let ok: DeviceOk = self.op(Op::Fork { device: self.handle })?;
        Ok(Box::new(ExecDevice {
            session: Arc::clone(&self.session),
            generation: self.generation,
            handle: ok.device,
            acknowledged: false,
        }))
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        let ok: StateOk = self.op(Op::ExportState { device: self.handle })?;
        Ok(ok.state.0)
    }

    fn add_entropy(&mut self, entropy: &Seed) {
        let _ = self.op::<EmptyOk>(Op::AddEntropy { device: self.handle, entropy: B64(entropy.to_vec()) });
    }

    fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        let ok: EventsOk = self.op(Op::Verify {
            device: self.handle,
            contact: contact.to_string(),
            identity: B64(identity.to_vec()),
        })?;
        lock(&self.session).charge("verify", ok.events.len())?;
        events(ok.events, &self.session)
    }

    fn provider_push(&mut self, role: &str, data: &[u8]) -> Result<(), ImplError> {
        self.op::<EmptyOk>(Op::ProviderPush { device: self.handle, role: role.to_owned(), data: B64(data.to_vec()) })
            .map(|_| ())
    }
}

impl Drop for ExecDevice {
    fn drop(&mut self) {
        let mut s = lock(&self.session);
        if s.generation == self.generation && s.broken.is_none() && s.process.is_some() {
            let _ = s.call::<EmptyOk>(Op::DropDevice { device: self.handle });
        }
    }
}

/// An authority living in the child process.
#[derive(Debug)]
struct ExecAuthority {
    session: Shared,
    generation: u64,
    handle: u64,
    public: Vec<u8>,
}

impl Authority for ExecAuthority {
    fn public(&self) -> Vec<u8> {
        self.public.clone()
    }

    fn target(&mut self, content: &TargetContent<'_>) -> Result<Option<Vec<u8>>, ImplError> {
        let Some((exact, similar)) = convert::target_to_wire(content) else { return Ok(None) };
        let ok: TargetOk =
            device_op(&self.session, self.generation, Op::Target { authority: self.handle, exact, similar })?;
        Ok(ok.data.map(|d| d.0))
    }

    fn recover(&mut self, view: &[&[u8]]) -> Result<Vec<Vec<u8>>, ImplError> {
        let view = view.iter().map(|b| B64(b.to_vec())).collect();
        let ok: RecoverOk = device_op(&self.session, self.generation, Op::Recover { authority: self.handle, view })?;
        lock(&self.session).charge("recover", ok.found.len())?;
        Ok(ok.found.into_iter().map(|b| b.0).collect())
    }
}
