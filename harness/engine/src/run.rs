//! The runner: replays a scenario against a design, with the harness acting
//! as the provider, and records everything oracles need in a [`Run`].
//!
//! For every envelope submitted, every other device that exists (removed
//! members included) tries to decrypt it on a fork, so the attempt never
//! disturbs the device's real state. Held envelopes still pending at the end
//! are delivered; then every device tries, again on a fork of its final
//! state, every envelope not addressed to it (so devices linked and members
//! added later try what came before them), and a fresh, never-enrolled
//! device of the same design (the *outsider*) tries every envelope of the
//! provider view.
//!
//! **Invariants:** the runner never panics on anything a design returns; a
//! design error is recorded and the run goes on where it can, or stops with
//! [`Run::aborted`] set. Every order that reaches output is the order of the
//! scenario, the submission or a `BTreeMap`.

use crate::adapter::{Capabilities, Design, Device, EncryptRequest, Event, ImplError, InEnvelope};
use crate::canary::{self, Index};
use crate::provider::{Provider, Record, StoredEnvelope};
use crate::seed;
use crate::truth::{Enrolled, MessageTruth, Truth};
use doormat_formats::{Action, DeviceAddr, GroupId, Party, Scenario, ScenarioStep, Target, UserId};
use std::collections::{BTreeMap, BTreeSet};

/// Who recovered something.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reader {
    /// A device of the scenario.
    Device(DeviceAddr),
    /// A fresh device of the same design that no user enrolled.
    Outsider,
}

impl std::fmt::Display for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reader::Device(d) => write!(f, "{d}"),
            Reader::Outsider => f.write_str("an outsider"),
        }
    }
}

/// How the reader came by the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// The provider delivered it to the reader (it was addressed to it).
    Delivered,
    /// The reader tried an envelope addressed to someone else, on a fork.
    Attempt,
}

/// A party recovered one or more messages' canaries from an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// Step at which it happened.
    pub step: usize,
    /// Who.
    pub reader: Reader,
    /// From which envelope.
    pub envelope: usize,
    /// Messages (indexes into `truth.messages`) whose canaries it recovered.
    pub messages: Vec<usize>,
    /// How it got the envelope.
    pub access: Access,
}

/// The result of delivering one envelope to one addressee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    /// Decrypted; `exact` is the message whose plaintext it equals exactly.
    Opened {
        /// The message whose plaintext the result equals, if any.
        exact: Option<usize>,
        /// Whether a plaintext came out (false for handshakes).
        plaintext: bool,
        /// The sender the design reported.
        sender: Option<DeviceAddr>,
    },
    /// The device refused or failed.
    Error(ImplError),
    /// No such device exists.
    NoSuchDevice,
}

/// One delivery of an envelope to an addressee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Step of delivery.
    pub step: usize,
    /// The envelope.
    pub envelope: usize,
    /// The addressee.
    pub device: DeviceAddr,
    /// What happened.
    pub result: DeliveryResult,
}

/// A notice a client showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// Step.
    pub step: usize,
    /// The device that showed it.
    pub device: DeviceAddr,
    /// The notice.
    pub event: Event,
}

/// An operation a design failed at (other than a delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Step.
    pub step: usize,
    /// Which device.
    pub device: DeviceAddr,
    /// Which operation.
    pub operation: &'static str,
    /// The error.
    pub error: ImplError,
}

/// Everything that happened in one run of one scenario against one design.
#[derive(Debug, Clone)]
pub struct Run {
    /// The scenario.
    pub scenario: Scenario,
    /// The design's name.
    pub design: String,
    /// Its capabilities.
    pub capabilities: Capabilities,
    /// Ground truth.
    pub truth: Truth,
    /// The provider view, in order.
    pub view: Vec<Record>,
    /// Envelopes the provider stored.
    pub envelopes: Vec<StoredEnvelope>,
    /// Every recovery of a canary, by anyone.
    pub reads: Vec<Read>,
    /// Every delivery to an addressee.
    pub deliveries: Vec<Delivery>,
    /// Every notice shown.
    pub shown: Vec<Shown>,
    /// Operations that failed.
    pub failures: Vec<Failure>,
    /// Why the run stopped early, if it did.
    pub aborted: Option<String>,
    /// Decryptions tried by devices, on forks, of envelopes not addressed to them.
    pub attempts: usize,
}

struct Runner<'a> {
    design: &'a dyn Design,
    seed: u64,
    provider: Provider,
    devices: BTreeMap<DeviceAddr, Box<dyn Device>>,
    index: Index,
    run: Run,
}

/// Replays `scenario` against `design`.
pub fn run(design: &dyn Design, scenario: &Scenario) -> Run {
    let mut r = Runner {
        design,
        seed: scenario.seed,
        provider: Provider::default(),
        devices: BTreeMap::new(),
        index: Index::default(),
        run: Run {
            scenario: scenario.clone(),
            design: design.name().to_owned(),
            capabilities: design.capabilities(),
            truth: Truth::default(),
            view: Vec::new(),
            envelopes: Vec::new(),
            reads: Vec::new(),
            deliveries: Vec::new(),
            shown: Vec::new(),
            failures: Vec::new(),
            aborted: None,
            attempts: 0,
        },
    };
    for step in &scenario.steps {
        if let Err(why) = r.step(step) {
            r.run.aborted = Some(format!("step {}: {why}", step.number));
            break;
        }
    }
    let end = scenario.steps.len() + 1;
    if r.run.aborted.is_none() {
        r.deliver(end, |_, _| true);
        // Devices linked or members added later try what came before them.
        for idx in 0..r.provider.envelopes.len() {
            r.attempts(end, idx);
        }
        r.outsider(end);
    }
    r.run.view = std::mem::take(&mut r.provider.view);
    r.run.envelopes = std::mem::take(&mut r.provider.envelopes);
    r.run
}

/// The conversation id of a target as seen from `from`.
pub fn conversation_of(from: &UserId, to: &Target) -> String {
    match to {
        Target::Group(g) => g.0.clone(),
        Target::User(u) => {
            let (a, b) = if from <= u { (from, u) } else { (u, from) };
            format!("{a}+{b}")
        }
    }
}

impl Runner<'_> {
    fn step(&mut self, step: &ScenarioStep) -> Result<(), String> {
        let n = step.number;
        match &step.action {
            Action::Register { device } | Action::Link { device } => self.enroll(n, device),
            Action::CreateGroup { group, members, .. } => {
                self.set_members(n, group, members.clone());
                Ok(())
            }
            Action::AddMember { group, user, .. } => {
                let mut m = self.run.truth.members(group);
                m.push(user.clone());
                self.set_members(n, group, m);
                Ok(())
            }
            Action::RemoveMember { group, user, .. } => {
                let mut m = self.run.truth.members(group);
                m.retain(|x| x != user);
                self.set_members(n, group, m);
                Ok(())
            }
            Action::Send { message, from, to, body, hold } => {
                self.send(n, message, from, to, body.as_deref(), *hold);
                Ok(())
            }
            Action::Deliver { messages, to } => {
                self.deliver_selected(n, messages.as_deref(), to.as_ref());
                Ok(())
            }
            _ => Err("this step is not supported by this version of doormat".to_owned()),
        }
    }

    fn enroll(&mut self, n: usize, addr: &DeviceAddr) -> Result<(), String> {
        let seed = seed::derive(self.seed, "device", &[self.design.name(), &addr.user.0, &addr.device]);
        let mut dev = self
            .design
            .create_device(addr, seed)
            .map_err(|e| format!("{} could not create device {addr}: {e}", self.design.name()))?;
        let bundle = dev.publish().map_err(|e| format!("device {addr} could not publish its keys: {e}"))?;
        self.provider.publish(n, addr, bundle);
        self.devices.insert(addr.clone(), dev);
        self.run.truth.enrolled.insert(addr.clone(), Enrolled { step: n });
        Ok(())
    }

    fn set_members(&mut self, n: usize, g: &GroupId, members: Vec<UserId>) {
        self.run.truth.groups.entry(g.clone()).or_default().push((n, members));
    }

    fn send(
        &mut self,
        n: usize,
        message: &doormat_formats::MessageId,
        from: &DeviceAddr,
        to: &Target,
        body: Option<&str>,
        hold: bool,
    ) {
        let canary = canary::canary(self.seed, message);
        let mut plaintext = Vec::new();
        if let Some(b) = body {
            plaintext.extend_from_slice(b.as_bytes());
            plaintext.push(b' ');
        }
        plaintext.extend_from_slice(&canary);
        let conversation = conversation_of(&from.user, to);
        let mut members = match to {
            Target::Group(g) => self.run.truth.members(g),
            Target::User(u) => vec![from.user.clone(), u.clone()],
        };
        members.sort();
        let intended: BTreeSet<DeviceAddr> = members
            .iter()
            .flat_map(|u| self.run.truth.devices_of(u).cloned().collect::<Vec<_>>())
            .filter(|d| d != from)
            .collect();
        let mut recipients = Vec::new();
        for u in &members {
            recipients.extend(self.provider.serve(from, u));
        }
        let msg_index = self.run.truth.messages.len();
        self.index.insert(canary, msg_index);
        self.run.truth.messages.push(MessageTruth {
            id: message.clone(),
            step: n,
            from: from.clone(),
            conversation: conversation.clone(),
            members: members.clone(),
            plaintext: plaintext.clone(),
            canary,
            intended,
            envelopes: Vec::new(),
        });
        let req = EncryptRequest {
            conversation: &conversation,
            group: matches!(to, Target::Group(_)),
            members: &members,
            recipients: &recipients,
            plaintext: &plaintext,
        };
        let Some(dev) = self.devices.get_mut(from) else { return };
        let sent = match dev.encrypt(&req) {
            Ok(s) => s,
            Err(error) => {
                self.run.failures.push(Failure { step: n, device: from.clone(), operation: "encrypt", error });
                return;
            }
        };
        for event in sent.events {
            self.run.shown.push(Shown { step: n, device: from.clone(), event });
        }
        let mut mine = Vec::new();
        for out in sent.envelopes {
            let idx = self.provider.submit(StoredEnvelope {
                step: n,
                from: from.clone(),
                to: out.to,
                conversation: conversation.clone(),
                body: out.body,
            });
            self.run.truth.envelope_message.insert(idx, msg_index);
            self.run.truth.messages[msg_index].envelopes.push(idx);
            mine.push(idx);
            self.attempts(n, idx);
        }
        if !hold {
            self.deliver(n, |e, _| mine.contains(&e));
        }
    }

    /// Every existing device not addressed by envelope `idx` tries it on a fork.
    fn attempts(&mut self, n: usize, idx: usize) {
        let env = &self.provider.envelopes[idx];
        let (from, conversation, body, to) =
            (env.from.clone(), env.conversation.clone(), env.body.clone(), env.to.clone());
        for (addr, dev) in &self.devices {
            if to.contains(addr) {
                continue;
            }
            let mut fork = dev.fork();
            self.run.attempts += 1;
            if let Ok(rcv) = fork.decrypt(&InEnvelope { from: &from, conversation: &conversation, body: &body }) {
                if let Some(pt) = rcv.plaintext {
                    let found = self.index.find(&pt);
                    if !found.is_empty() {
                        self.run.reads.push(Read {
                            step: n,
                            reader: Reader::Device(addr.clone()),
                            envelope: idx,
                            messages: found,
                            access: Access::Attempt,
                        });
                    }
                }
            }
        }
    }

    fn deliver_selected(&mut self, n: usize, messages: Option<&[doormat_formats::MessageId]>, to: Option<&Party>) {
        let to_ok = |d: &DeviceAddr| match to {
            None => true,
            Some(Party::User(u)) => d.user == *u,
            Some(Party::Device(x)) => d == x,
        };
        match messages {
            None => self.deliver(n, |_, d| to_ok(d)),
            Some(list) => {
                for m in list {
                    let Some((mi, _)) = self.run.truth.message(m) else { continue };
                    let envs = self.run.truth.messages[mi].envelopes.clone();
                    self.deliver(n, |e, d| envs.contains(&e) && to_ok(d));
                }
            }
        }
    }

    fn deliver(&mut self, n: usize, select: impl FnMut(usize, &DeviceAddr) -> bool) {
        for (idx, addr) in self.provider.take(select) {
            let env = &self.provider.envelopes[idx];
            let result = match self.devices.get_mut(&addr) {
                None => DeliveryResult::NoSuchDevice,
                Some(dev) => {
                    match dev.decrypt(&InEnvelope { from: &env.from, conversation: &env.conversation, body: &env.body })
                    {
                        Err(e) => DeliveryResult::Error(e),
                        Ok(rcv) => {
                            for event in rcv.events {
                                self.run.shown.push(Shown { step: n, device: addr.clone(), event });
                            }
                            let exact = rcv.plaintext.as_ref().and_then(|pt| {
                                let mi = *self.run.truth.envelope_message.get(&idx)?;
                                (self.run.truth.messages[mi].plaintext == *pt).then_some(mi)
                            });
                            if let Some(pt) = &rcv.plaintext {
                                let found = self.index.find(pt);
                                if !found.is_empty() {
                                    self.run.reads.push(Read {
                                        step: n,
                                        reader: Reader::Device(addr.clone()),
                                        envelope: idx,
                                        messages: found,
                                        access: Access::Delivered,
                                    });
                                }
                            }
                            DeliveryResult::Opened { exact, plaintext: rcv.plaintext.is_some(), sender: rcv.sender }
                        }
                    }
                }
            };
            self.run.deliveries.push(Delivery { step: n, envelope: idx, device: addr, result });
        }
    }

    /// A never-enrolled device of the same design tries every envelope.
    fn outsider(&mut self, n: usize) {
        let addr = DeviceAddr::new("outsider", "device");
        let seed = seed::derive(self.seed, "outsider", &[self.design.name()]);
        let dev = match self.design.create_device(&addr, seed) {
            Ok(d) => d,
            Err(error) => {
                self.run.failures.push(Failure {
                    step: n,
                    device: addr,
                    operation: "create a fresh outsider device",
                    error,
                });
                return;
            }
        };
        for (idx, env) in self.provider.envelopes.iter().enumerate() {
            let mut fork = dev.fork();
            self.run.attempts += 1;
            if let Ok(rcv) =
                fork.decrypt(&InEnvelope { from: &env.from, conversation: &env.conversation, body: &env.body })
            {
                if let Some(pt) = rcv.plaintext {
                    let found = self.index.find(&pt);
                    if !found.is_empty() {
                        self.run.reads.push(Read {
                            step: n,
                            reader: Reader::Outsider,
                            envelope: idx,
                            messages: found,
                            access: Access::Attempt,
                        });
                    }
                }
            }
        }
    }
}
