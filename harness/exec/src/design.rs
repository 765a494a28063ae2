//! [`ExecDesign`]: a design whose devices and authorities live in a child
//! process, reached through the exec protocol. Its primitives, when `hello`
//! offers any, live in a child process of their own
//! ([`ExecPrimitives`](crate::primitives::ExecPrimitives)).

use crate::primitives::ExecPrimitives;
use crate::process::{Command, Limits, Process};
use doormat_engine::{
    Authority, Bundle, Capabilities, Design, Device, EncryptRequest, Event, EventKind, ImplError, InEnvelope,
    OutEnvelope, Primitives, Received, Seed, Sent, TargetContent,
};
use doormat_formats::wire::{
    self, AuthorityOk, DecryptOk, DeviceOk, EmptyOk, EncryptOk, ErrorKind, EventsOk, ForensicOk, HelloOk, Op,
    PublishOk, RecoverOk, Request, StateOk, TargetOk, WireEntry, WireError, WireEvent, WirePrimitive, B64,
};
use doormat_formats::{DeviceAddr, UserId};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use std::sync::{Arc, Mutex, MutexGuard};

/// A response line with its `ok` member checked for syntax only: the first
/// reading, which allocates nothing for `ok` (the shape of
/// [`wire::Response`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    id: u64,
    #[serde(default)]
    ok: Option<IgnoredAny>,
    #[serde(default)]
    error: Option<WireError>,
}

/// A response line's `ok` member read straight into the operation's type:
/// the second reading (no untyped tree, so a line costs a few times its
/// length at most).
#[derive(Deserialize)]
struct OkOf<T> {
    ok: T,
}

/// The child process of the current run and what is known about it.
#[derive(Debug, Default)]
pub(crate) struct Session {
    pub(crate) process: Option<Process>,
    next_id: u64,
    /// Why the implementation broke in this run.
    pub(crate) broken: Option<String>,
    /// Bumped at every restart; handles of older generations are dead.
    generation: u64,
    /// The limits of the current run.
    limits: Limits,
    /// List items (envelopes, addressees, events, keys, records) the
    /// answers of the current run carried.
    items: usize,
    /// Whether the current process's `hello` offered `forensic_open`.
    forensic: bool,
}

type Shared = Arc<Mutex<Session>>;

fn lock(s: &Shared) -> MutexGuard<'_, Session> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Session {
    /// Marks the run broken, with the child's last standard-error lines,
    /// and kills the child.
    pub(crate) fn fail(&mut self, why: String) -> ImplError {
        let mut msg = why;
        if let Some(p) = &self.process {
            let tail = p.stderr_tail();
            if !tail.is_empty() {
                msg.push_str("; last lines of its standard error:\n");
                for l in tail {
                    msg.push_str("    ");
                    msg.push_str(&l);
                    msg.push('\n');
                }
                msg.pop();
            }
        }
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
        self.broken.get_or_insert(msg.clone());
        ImplError::Failed(format!("the implementation broke: {msg}"))
    }

    /// One request and its response's `ok` member, read as `T`.
    pub(crate) fn call<T: DeserializeOwned>(&mut self, op: Op) -> Result<T, ImplError> {
        if let Some(b) = &self.broken {
            return Err(ImplError::Failed(format!("the implementation broke earlier in this run: {b}")));
        }
        let name = op.name();
        let id = self.next_id;
        self.next_id += 1;
        let line = match serde_json::to_vec(&Request { id, op }) {
            Ok(l) => l,
            Err(e) => return Err(ImplError::Failed(format!("cannot encode a `{name}` request: {e}"))),
        };
        let Some(p) = self.process.as_mut() else {
            return Err(self.fail("no implementation process is running".to_owned()));
        };
        let sent = p.send(line).and_then(|()| p.recv());
        let reply = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.fail(format!("request {id} (`{name}`): {e}"))),
        };
        let head: Head = match serde_json::from_slice(&reply) {
            Ok(r) => r,
            Err(e) => {
                let shown: String = String::from_utf8_lossy(&reply).chars().take(200).collect();
                return Err(self.fail(format!(
                    "request {id} (`{name}`): the response is not a valid response object ({e}): {shown}"
                )));
            }
        };
        if head.id != id {
            return Err(self.fail(format!(
                "request {id} (`{name}`): the response has id {}: expected {id} (answers must come in order)",
                head.id
            )));
        }
        match (head.ok, head.error) {
            (Some(_), None) => serde_json::from_slice::<OkOf<T>>(&reply)
                .map(|o| o.ok)
                .map_err(|e| self.fail(format!("request {id} (`{name}`): malformed `ok`: {e}"))),
            (None, Some(err)) => Err(match err.kind {
                ErrorKind::Rejected => ImplError::Rejected(err.message),
                ErrorKind::Unsupported => ImplError::Unsupported(err.message),
                ErrorKind::Failed => ImplError::Failed(err.message),
            }),
            _ => Err(self.fail(format!("request {id} (`{name}`): a response needs exactly one of `ok` and `error`"))),
        }
    }

    /// Breaks the run if the last answer, an `encrypt`, has more envelopes
    /// than the envelope limit allows.
    fn check_envelopes(&mut self, n: usize) -> Result<(), ImplError> {
        let max = self.limits.max_envelopes;
        if n <= max {
            return Ok(());
        }
        let id = self.next_id.saturating_sub(1);
        Err(self.fail(format!(
            "request {id} (`encrypt`): {n} envelopes in one answer: expected at most {max} (the envelope limit)"
        )))
    }

    /// Counts the `n` list items of the last answer (an `op`) toward the
    /// run's item limit, and breaks the run past it. Each item costs doormat
    /// memory for the rest of the run, whatever its size on the wire.
    fn charge(&mut self, op: &str, n: usize) -> Result<(), ImplError> {
        self.items = self.items.saturating_add(n);
        let max = self.limits.max_items;
        if self.items <= max {
            return Ok(());
        }
        let id = self.next_id.saturating_sub(1);
        Err(self.fail(format!(
            "request {id} (`{op}`): the answers of this run carry more than {max} envelopes, addressees, events, keys and records in all (the item limit)"
        )))
    }

    /// Stops any old child and starts a new one, with the handshake (whose
    /// answer is checked beyond its shape: the protocol version, and each
    /// offered primitive named once).
    pub(crate) fn restart(&mut self, cmd: &Command, limits: Limits) -> Result<HelloOk, ImplError> {
        if let Some(mut p) = self.process.take() {
            p.finish();
        }
        self.broken = None;
        self.next_id = 0;
        self.generation += 1;
        self.limits = limits;
        self.items = 0;
        match Process::spawn(cmd, limits) {
            Ok(p) => self.process = Some(p),
            Err(e) => return Err(self.fail(e)),
        }
        let hello: HelloOk = self.call(Op::Hello { protocol: wire::PROTOCOL })?;
        self.forensic = hello.capabilities.forensic_open;
        if hello.protocol != wire::PROTOCOL {
            return Err(self.fail(format!("it speaks protocol {}: expected {}", hello.protocol, wire::PROTOCOL)));
        }
        if let Some(p) =
            hello.primitives.iter().enumerate().find_map(|(i, p)| hello.primitives[..i].contains(p).then_some(p))
        {
            return Err(self.fail(format!("its `hello` lists the primitive `{}` twice: expected each once", p.name())));
        }
        if hello.kat_protocol.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(self.fail(
                "its `hello` has an empty `kat_protocol`: expected the protocol's name, or no field".to_owned(),
            ));
        }
        Ok(hello)
    }
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
        let generation = lock(&self.session).generation;
        let ok: DeviceOk = device_op(
            &self.session,
            generation,
            Op::CreateDevice { addr: addr.to_string(), seed: B64(seed.to_vec()) },
        )?;
        Ok(Box::new(ExecDevice {
            session: Arc::clone(&self.session),
            generation,
            handle: ok.device,
            acknowledged: false,
        }))
    }

    fn import_device(&self, addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        let generation = lock(&self.session).generation;
        let ok: DeviceOk = device_op(
            &self.session,
            generation,
            Op::ImportDevice { addr: addr.to_string(), state: B64(state.to_vec()) },
        )?;
        Ok(Box::new(ExecDevice {
            session: Arc::clone(&self.session),
            generation,
            handle: ok.device,
            acknowledged: false,
        }))
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

fn addr(s: &str, session: &Shared) -> Result<DeviceAddr, ImplError> {
    match s.split_once('/') {
        Some((u, d)) if doormat_formats::ids::valid_name(u) && doormat_formats::ids::valid_name(d) => {
            Ok(DeviceAddr::new(u, d))
        }
        _ => Err(lock(session).fail(format!("`{s}` is not a device address: expected `user/device`"))),
    }
}

fn events(list: Vec<WireEvent>, session: &Shared) -> Result<Vec<Event>, ImplError> {
    list.into_iter()
        .map(|e| {
            let Some(kind) = EventKind::from_wire_name(&e.kind) else {
                return Err(lock(session).fail(format!("unknown event kind `{}`", e.kind)));
            };
            if !doormat_formats::ids::valid_name(&e.user) {
                return Err(lock(session).fail(format!("`{}` is not a user name", e.user)));
            }
            let device = match e.device {
                Some(d) => Some(addr(&d, session)?),
                None => None,
            };
            Ok(Event { kind, user: UserId(e.user), device })
        })
        .collect()
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
        Ok(Bundle {
            identity: ok.identity.0,
            prekey: ok.prekey.0,
            one_time: ok.one_time.into_iter().map(|b| b.0).collect(),
        })
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let op = Op::Encrypt {
            device: self.handle,
            conversation: req.conversation.to_owned(),
            group: req.group,
            members: req.members.iter().map(|m| m.0.clone()).collect(),
            recipients: req
                .recipients
                .iter()
                .map(|e| WireEntry {
                    device: e.device.to_string(),
                    identity: B64(e.identity.clone()),
                    prekey: B64(e.prekey.clone()),
                    one_time: e.one_time.clone().map(B64),
                })
                .collect(),
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
        let mut envelopes = Vec::new();
        for e in ok.envelopes {
            let to = e.to.iter().map(|t| addr(t, &self.session)).collect::<Result<_, _>>()?;
            envelopes.push(OutEnvelope { to, body: e.body.0 });
        }
        Ok(Sent { envelopes, events: events(ok.events, &self.session)?, blocked: ok.blocked })
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let op = Op::Decrypt {
            device: self.handle,
            from: env.from.to_string(),
            conversation: env.conversation.to_owned(),
            body: B64(env.body.to_vec()),
        };
        let ok: DecryptOk = self.op(op)?;
        lock(&self.session).charge("decrypt", ok.events.len())?;
        let sender = match ok.sender {
            Some(s) => Some(addr(&s, &self.session)?),
            None => None,
        };
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
        let op = Op::ForensicOpen {
            device: self.handle,
            from: env.from.to_string(),
            conversation: env.conversation.to_owned(),
            body: B64(env.body.to_vec()),
        };
        let ok: ForensicOk = self.op(op)?;
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
        let (exact, similar) = match content {
            TargetContent::Exact(b) => (Some(B64(b.to_vec())), None),
            TargetContent::Similar(t) => (None, Some((*t).to_owned())),
            _ => return Ok(None),
        };
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
