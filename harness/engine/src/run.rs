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
//! Provider moves (ghost devices, impostor keys, members nobody added,
//! dropped, replayed and tampered envelopes), state seizure and compelled
//! authorities are performed here too; each leaves a record ([`Change`],
//! [`Exposure`], [`Seizure`], [`Delivery::tamper`]) for the oracles.
//!
//! **Invariants:** the runner never panics on anything a design returns; a
//! design error is recorded and the run goes on where it can, or stops with
//! [`Run::aborted`] set. Every order that reaches output is the order of the
//! scenario, the submission or a `BTreeMap`. Only real devices get fresh
//! entropy ([`Device::add_entropy`]); forks, seized copies and the outsider
//! never do.

use crate::adapter::{
    Authority, Capabilities, Design, Device, EncryptRequest, Event, ImplError, InEnvelope, TargetContent, UserAction,
};
use crate::canary::{self, Index};
use crate::provider::{Provider, Record, Served, StoredEnvelope};
use crate::seed;
use crate::truth::{Enrolled, MessageTruth, Truth};
use doormat_formats::vector::EVERY_BIT_HEAD;
use doormat_formats::{
    Action, DeviceAddr, GroupId, MessageId, Party, Scenario, ScenarioStep, Tamper, Target, TargetAim, UserId,
};
use std::collections::{BTreeMap, BTreeSet};

/// Who recovered something.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reader {
    /// A device: a user's own, or one the provider made (a ghost).
    Device(DeviceAddr),
    /// A fresh device of the same design that no user enrolled.
    Outsider,
    /// The provider's impostor for this device (key substitution).
    Impostor(DeviceAddr),
    /// A declared third party (escrow agent, scanning service, ...).
    Authority(String),
    /// A copy of a device's state seized at a step (index into `Run::seizures`).
    Seized(usize),
    /// A *twin*: a fresh install of the same design with this device's user
    /// and device names and randomness of its own, never enrolled and never
    /// served by the directory, trying what was addressed to the device.
    Twin(DeviceAddr),
}

impl std::fmt::Display for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reader::Device(d) => write!(f, "{d}"),
            Reader::Outsider => f.write_str("an outsider"),
            Reader::Impostor(d) => write!(f, "the provider's impostor for {d}"),
            Reader::Authority(r) => write!(f, "the {r}"),
            Reader::Seized(i) => write!(f, "seized copy #{i}"),
            Reader::Twin(d) => write!(f, "a fresh install calling itself {d}"),
        }
    }
}

/// How the reader came by the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// The provider delivered it to the reader (it was addressed to it).
    Delivered,
    /// The reader tried an envelope addressed to someone else, on a fork.
    Attempt,
    /// An authority was handed the provider view.
    Compelled,
    /// A seized copy of a device tried it.
    Seized,
    /// The reader opened it with every key its state holds
    /// ([`Device::forensic_open`]): no replay cache, "already seen" set or
    /// address check stood in the way.
    Forensic,
}

/// A party recovered one or more messages' canaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// Step at which it happened.
    pub step: usize,
    /// Who.
    pub reader: Reader,
    /// From which envelope, when one.
    pub envelope: Option<usize>,
    /// Messages (indexes into `truth.messages`) whose canaries it recovered.
    pub messages: Vec<usize>,
    /// How it got the bytes.
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
    /// Set when the provider delivered a tampered or replayed copy.
    pub tamper: Option<Tamper>,
    /// For `every-bit` tampering: the bit flipped (byte * 8 + bit).
    pub flipped: Option<usize>,
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
    /// Shown by an `encrypt` that sent nothing until the user acknowledged it.
    pub blocking: bool,
}

/// An operation a design failed at (other than a delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Step.
    pub step: usize,
    /// Which device (or role).
    pub device: String,
    /// Which operation.
    pub operation: &'static str,
    /// The error.
    pub error: ImplError,
}

/// A change the provider made that no user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// An extra device in the user's list.
    Ghost(DeviceAddr),
    /// An impostor's keys served in place of this device's.
    Substitute(DeviceAddr),
    /// The user presented as a member of the group.
    Member(GroupId),
}

/// A provider change, made at a step, concerning a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Step.
    pub step: usize,
    /// Whose account or membership it concerns.
    pub user: UserId,
    /// What.
    pub kind: ChangeKind,
}

/// A sender was served a change when it encrypted a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// Index into `Run::changes`.
    pub change: usize,
    /// The message (index into `truth.messages`).
    pub message: usize,
    /// The sending device.
    pub sender: DeviceAddr,
}

/// A seizure of a device's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seizure {
    /// Step.
    pub step: usize,
    /// The device.
    pub device: DeviceAddr,
    /// Why no copy could be made, if none could.
    pub error: Option<String>,
    /// The exported state, as the thief holds it (empty when none could be
    /// made): searched for the text of earlier messages.
    pub state: Vec<u8>,
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
    /// Its declared authorities.
    pub authorities: Vec<String>,
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
    /// Changes the provider made.
    pub changes: Vec<Change>,
    /// Sends that went to a changed entry.
    pub exposures: Vec<Exposure>,
    /// Seizures.
    pub seizures: Vec<Seizure>,
    /// Steps at which authorities were compelled, with the roles.
    pub compelled: Vec<(usize, String)>,
    /// (message, device) deliveries the provider interfered with (dropped,
    /// or diverted to an impostor): not judged by *delivers*.
    pub interfered: BTreeSet<(usize, DeviceAddr)>,
    /// Why the run stopped early, if it did.
    pub aborted: Option<String>,
    /// Decryptions tried by devices, on forks, of envelopes not addressed to them.
    pub attempts: usize,
    /// Why the design offers no forensic open, if it does not: the readers
    /// that needed one (seized copies, outsider, twins) then fell back to the
    /// design's own decrypt, so what they could not read is a client-level
    /// result only.
    pub forensic_unsupported: Option<String>,
}

struct Runner<'a> {
    design: &'a dyn Design,
    seed: u64,
    provider: Provider,
    devices: BTreeMap<DeviceAddr, Box<dyn Device>>,
    ghosts: BTreeMap<DeviceAddr, Box<dyn Device>>,
    impostors: BTreeMap<DeviceAddr, Box<dyn Device>>,
    authorities: Vec<(String, Box<dyn Authority>)>,
    pushes: Vec<(String, Vec<u8>)>,
    /// The state of each seizure, as taken (forward secrecy, forensic reads).
    clones: Vec<Option<Box<dyn Device>>>,
    /// Each seized copy as the thief runs it: it follows every envelope to
    /// and from its device as the provider stores it, and sends as the
    /// device when a step says so.
    live: Vec<Option<Box<dyn Device>>>,
    /// What each live copy read while following, recorded after the
    /// seizure's other reads at the end of the run.
    followed: Vec<Vec<Read>>,
    provider_added: BTreeMap<GroupId, Vec<UserId>>,
    index: Index,
    entropy: u64,
    run: Run,
}

/// Replays `scenario` against `design`.
pub fn run(design: &dyn Design, scenario: &Scenario) -> Run {
    let mut r = Runner {
        design,
        seed: scenario.seed,
        provider: Provider::default(),
        devices: BTreeMap::new(),
        ghosts: BTreeMap::new(),
        impostors: BTreeMap::new(),
        authorities: Vec::new(),
        pushes: Vec::new(),
        clones: Vec::new(),
        live: Vec::new(),
        followed: Vec::new(),
        provider_added: BTreeMap::new(),
        index: Index::default(),
        entropy: 0,
        run: Run {
            scenario: scenario.clone(),
            design: design.name().to_owned(),
            capabilities: design.capabilities(),
            authorities: design.authorities(),
            truth: Truth::default(),
            view: Vec::new(),
            envelopes: Vec::new(),
            reads: Vec::new(),
            deliveries: Vec::new(),
            shown: Vec::new(),
            failures: Vec::new(),
            changes: Vec::new(),
            exposures: Vec::new(),
            seizures: Vec::new(),
            compelled: Vec::new(),
            interfered: BTreeSet::new(),
            aborted: None,
            attempts: 0,
            forensic_unsupported: None,
        },
    };
    match design.begin_run() {
        Err(e) => r.run.aborted = Some(format!("{} could not start: {e}", design.name())),
        Ok(()) => {
            if let Err(why) = r.start() {
                r.run.aborted = Some(why);
            }
        }
    }
    for step in &scenario.steps {
        if r.run.aborted.is_some() {
            break;
        }
        if let Err(why) = r.step(step) {
            r.run.aborted = Some(format!("step {}: {why}", step.number));
        }
        if let Some(why) = design.broken() {
            r.run.aborted = Some(format!("step {}: {why}", step.number));
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
        r.twins(end);
        r.seized_copies(end);
        if let Some(why) = design.broken() {
            r.run.aborted = Some(format!("after the last step: {why}"));
        }
    }
    // Devices and authorities go before the implementation stops.
    drop(std::mem::take(&mut r.devices));
    drop(std::mem::take(&mut r.ghosts));
    drop(std::mem::take(&mut r.impostors));
    drop(std::mem::take(&mut r.authorities));
    drop(std::mem::take(&mut r.clones));
    drop(std::mem::take(&mut r.live));
    design.end_run();
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

/// The exact plaintext of message `m` of `scenario`: the vector's body, a
/// space, and the canary; or the canary alone.
pub fn plaintext_of(scenario: &Scenario, m: &MessageId) -> Option<Vec<u8>> {
    scenario.steps.iter().find_map(|s| match &s.action {
        Action::Send { message, body, .. } if message == m => Some(compose(scenario.seed, m, body.as_deref())),
        _ => None,
    })
}

fn compose(seed: u64, m: &MessageId, body: Option<&str>) -> Vec<u8> {
    let mut plaintext = Vec::new();
    if let Some(b) = body {
        plaintext.extend_from_slice(b.as_bytes());
        plaintext.push(b' ');
    }
    plaintext.extend_from_slice(&canary::canary(seed, m));
    plaintext
}

/// Hands envelope `env` to `dev`: the messages whose canaries the result
/// holds (often none) if it opened, the refusal otherwise.
fn try_open(dev: &mut dyn Device, env: &StoredEnvelope, index: &Index) -> Result<Vec<usize>, ImplError> {
    let rcv = dev.decrypt(&InEnvelope { from: &env.from, conversation: &env.conversation, body: &env.body })?;
    Ok(rcv.plaintext.map(|pt| index.find(&pt)).unwrap_or_default())
}

/// Opens `env` on `dev` with every key it holds ([`Device::forensic_open`]);
/// where the design offers no forensic open, with its own decrypt on a fork,
/// and the reason is kept in `unsupported`. Gives the messages found and how.
fn forensic(
    dev: &mut dyn Device,
    env: &StoredEnvelope,
    index: &Index,
    unsupported: &mut Option<String>,
) -> (Vec<usize>, Access) {
    if unsupported.is_none() {
        match dev.forensic_open(&InEnvelope { from: &env.from, conversation: &env.conversation, body: &env.body }) {
            Ok(pts) => {
                let mut found: Vec<usize> = pts.iter().flat_map(|pt| index.find(pt)).collect();
                found.sort_unstable();
                found.dedup();
                return (found, Access::Forensic);
            }
            Err(ImplError::Unsupported(why)) => *unsupported = Some(why),
            Err(_) => return (Vec::new(), Access::Forensic),
        }
    }
    (try_open(dev.fork().as_mut(), env, index).unwrap_or_default(), Access::Attempt)
}

/// Records a read when `found` is not empty.
fn note(reads: &mut Vec<Read>, step: usize, reader: Reader, envelope: usize, found: Vec<usize>, access: Access) {
    if !found.is_empty() {
        reads.push(Read { step, reader, envelope: Some(envelope), messages: found, access });
    }
}

fn matches(to: Option<&Party>, d: &DeviceAddr) -> bool {
    match to {
        None => true,
        Some(Party::User(u)) => d.user == *u,
        Some(Party::Device(x)) => d == x,
    }
}

impl Runner<'_> {
    /// Creates the design's authorities and records what they publish.
    fn start(&mut self) -> Result<(), String> {
        for role in self.design.authorities() {
            let seed = seed::derive(self.seed, "authority", &[self.design.name(), &role]);
            let a = self
                .design
                .create_authority(&role, seed)
                .map_err(|e| format!("{} could not create its {role}: {e}", self.design.name()))?;
            self.pushes.push((role.clone(), a.public()));
            self.authorities.push((role, a));
        }
        Ok(())
    }

    fn step(&mut self, step: &ScenarioStep) -> Result<(), String> {
        let n = step.number;
        match &step.action {
            Action::Register { device } => self.enroll(n, device),
            Action::Link { device } => {
                let own: Vec<DeviceAddr> = self.devices.keys().filter(|d| d.user == device.user).cloned().collect();
                for d in &own {
                    self.user_action(n, d, &UserAction::LinkDevice { device });
                }
                self.enroll(n, device)
            }
            Action::CreateGroup { group, members, by } => {
                self.user_action(n, by, &UserAction::CreateGroup { conversation: &group.0, members });
                self.set_members(n, group, members.clone());
                Ok(())
            }
            Action::AddMember { group, user, by } => {
                self.user_action(n, by, &UserAction::AddMember { conversation: &group.0, user });
                let mut m = self.run.truth.members(group);
                m.push(user.clone());
                self.set_members(n, group, m);
                Ok(())
            }
            Action::RemoveMember { group, user, by } => {
                self.user_action(n, by, &UserAction::RemoveMember { conversation: &group.0, user });
                let mut m = self.run.truth.members(group);
                m.retain(|x| x != user);
                self.set_members(n, group, m);
                Ok(())
            }
            Action::Send { message, from, to, body, hold, seized } => {
                let by = if *seized { self.live_copy(from) } else { None };
                // Without a copy (the design could not export the state, and
                // the seizure says why) there is no one to send.
                if *seized == by.is_some() {
                    self.send(n, message, from, to, body.as_deref(), *hold, by);
                }
                Ok(())
            }
            Action::Deliver { messages, to } => {
                self.deliver_selected(n, messages.as_deref(), to.as_ref());
                Ok(())
            }
            Action::ServeGhost { device } => self.ghost(n, device),
            Action::Substitute { device, requesters } => self.substitute(n, device, requesters.clone()),
            Action::ProviderAdd { group, user } => {
                self.provider_added.entry(group.clone()).or_default().push(user.clone());
                self.run.changes.push(Change { step: n, user: user.clone(), kind: ChangeKind::Member(group.clone()) });
                Ok(())
            }
            Action::WithholdOneTime { user } => {
                self.provider.withhold_one_time(user);
                Ok(())
            }
            Action::Drop { messages, to } => {
                self.drop_held(messages, to.as_ref());
                Ok(())
            }
            Action::Tamper { message, to, how, with } => {
                self.tamper(n, message, to.as_ref(), *how, with.as_ref());
                Ok(())
            }
            Action::Verify { users } => {
                self.verify(n, users);
                Ok(())
            }
            Action::Seize { device } => {
                self.seize(n, device);
                Ok(())
            }
            Action::Target { content } => {
                self.target(n, content);
                Ok(())
            }
            Action::Compel { role } => {
                self.compel(n, role.as_deref());
                Ok(())
            }
            _ => Err("this step is not supported by this version of doormat".to_owned()),
        }
    }

    /// Tells device `addr` what its user did on it; a refusal is a failure
    /// of the design, recorded like any other.
    fn user_action(&mut self, n: usize, addr: &DeviceAddr, action: &UserAction<'_>) {
        if let Some(dev) = self.devices.get_mut(addr) {
            if let Err(error) = dev.user_action(action) {
                self.run.failures.push(Failure { step: n, device: addr.to_string(), operation: "user action", error });
            }
        }
    }

    /// A new device of the design, with every provider push so far.
    fn new_device(&self, addr: &DeviceAddr, purpose: &str) -> Result<Box<dyn Device>, String> {
        let seed = seed::derive(self.seed, purpose, &[self.design.name(), &addr.user.0, &addr.device]);
        let mut dev = self
            .design
            .create_device(addr, seed)
            .map_err(|e| format!("{} could not create device {addr}: {e}", self.design.name()))?;
        for (role, data) in &self.pushes {
            dev.provider_push(role, data)
                .map_err(|e| format!("device {addr} refused the provider's {role} data: {e}"))?;
        }
        Ok(dev)
    }

    fn enroll(&mut self, n: usize, addr: &DeviceAddr) -> Result<(), String> {
        let mut dev = self.new_device(addr, "device")?;
        let bundle = dev.publish().map_err(|e| format!("device {addr} could not publish its keys: {e}"))?;
        self.run.truth.enrolled.insert(addr.clone(), Enrolled { step: n, identity: bundle.identity.clone() });
        self.provider.publish(n, addr, bundle);
        self.devices.insert(addr.clone(), dev);
        Ok(())
    }

    fn ghost(&mut self, n: usize, addr: &DeviceAddr) -> Result<(), String> {
        let mut dev = self.new_device(addr, "ghost")?;
        let bundle =
            dev.publish().map_err(|e| format!("the provider's ghost device {addr} could not publish keys: {e}"))?;
        self.provider.add_ghost(n, addr, bundle);
        self.ghosts.insert(addr.clone(), dev);
        self.run.changes.push(Change { step: n, user: addr.user.clone(), kind: ChangeKind::Ghost(addr.clone()) });
        Ok(())
    }

    fn substitute(&mut self, n: usize, addr: &DeviceAddr, requesters: Vec<UserId>) -> Result<(), String> {
        // Each substitution is a new impostor with keys of its own.
        let mut dev = self.new_device(addr, &format!("impostor@{n}"))?;
        let bundle =
            dev.publish().map_err(|e| format!("the provider's impostor for {addr} could not publish keys: {e}"))?;
        self.provider.substitute(n, addr, bundle, requesters);
        self.impostors.insert(addr.clone(), dev);
        self.run.changes.push(Change { step: n, user: addr.user.clone(), kind: ChangeKind::Substitute(addr.clone()) });
        Ok(())
    }

    fn set_members(&mut self, n: usize, g: &GroupId, members: Vec<UserId>) {
        self.run.truth.groups.entry(g.clone()).or_default().push((n, members));
    }

    fn fresh_entropy(&mut self) -> [u8; 32] {
        self.entropy += 1;
        seed::derive(self.seed, "entropy", &[self.design.name(), &self.entropy.to_string()])
    }

    /// The live copy of the latest seizure of `device`, if any.
    fn live_copy(&self, device: &DeviceAddr) -> Option<usize> {
        self.run
            .seizures
            .iter()
            .enumerate()
            .rev()
            .find(|(i, s)| s.device == *device && self.live[*i].is_some())
            .map(|(i, _)| i)
    }

    /// Every live seized copy whose device envelope `idx` is to or from
    /// tries it, as a thief following the device's traffic at the provider
    /// would, keeping what it absorbs from envelopes addressed to the device.
    fn follow(&mut self, idx: usize) {
        let end = self.run.scenario.steps.len() + 1;
        let forged_by = self.run.truth.envelope_message.get(&idx).and_then(|&mi| self.run.truth.messages[mi].forged_by);
        for i in 0..self.live.len() {
            let env = &self.provider.envelopes[idx];
            let device = &self.run.seizures[i].device;
            if forged_by == Some(i) || !(env.to.contains(device) || env.from == *device) {
                continue;
            }
            let addressed = env.to.contains(device);
            let Some(copy) = self.live[i].as_ref() else { continue };
            let mut fork = copy.fork();
            if let Ok(found) = try_open(fork.as_mut(), env, &self.index) {
                if addressed {
                    self.live[i] = Some(fork);
                }
                note(&mut self.followed[i], end, Reader::Seized(i), idx, found, Access::Seized);
            }
        }
    }

    /// Sends a message from `from`, or, with `by`, from the live seized copy
    /// `by` of `from` (the thief speaking as the device).
    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        n: usize,
        message: &MessageId,
        from: &DeviceAddr,
        to: &Target,
        body: Option<&str>,
        hold: bool,
        by: Option<usize>,
    ) {
        let canary = canary::canary(self.seed, message);
        let plaintext = compose(self.seed, message, body);
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
        // The member list as the provider states it.
        let mut served_members = members.clone();
        let mut added_changes = Vec::new();
        if let Target::Group(g) = to {
            for u in self.provider_added.get(g).cloned().unwrap_or_default() {
                if !served_members.contains(&u) {
                    served_members.push(u.clone());
                    added_changes.push(u);
                }
            }
            served_members.sort();
        }
        let mut recipients = Vec::new();
        let mut changed = Vec::new();
        for u in &served_members {
            for (entry, served) in self.provider.serve(from, u) {
                let change = match served {
                    Served::Genuine => None,
                    Served::Ghost => self.change_index(|k| *k == ChangeKind::Ghost(entry.device.clone())),
                    Served::Impostor => {
                        // The real device cannot get this message now.
                        self.run.interfered.insert((self.run.truth.messages.len(), entry.device.clone()));
                        self.change_index(|k| *k == ChangeKind::Substitute(entry.device.clone()))
                    }
                };
                changed.extend(change);
                recipients.push(entry);
            }
        }
        if let Target::Group(g) = to {
            for u in &added_changes {
                let c = self.run.changes.iter().rposition(|c| c.user == *u && c.kind == ChangeKind::Member(g.clone()));
                changed.extend(c);
            }
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
            forged_by: by,
        });
        // A thief's copy is not a sender the design owes a notice to.
        if by.is_none() {
            for change in changed {
                self.run.exposures.push(Exposure { change, message: msg_index, sender: from.clone() });
            }
        }
        let entropy = self.fresh_entropy();
        let req = EncryptRequest {
            conversation: &conversation,
            group: matches!(to, Target::Group(_)),
            members: &served_members,
            recipients: &recipients,
            plaintext: &plaintext,
        };
        let dev = match by {
            Some(i) => self.live[i].as_mut(),
            None => self.devices.get_mut(from),
        };
        let Some(dev) = dev else { return };
        dev.add_entropy(&entropy);
        // A client may hold the message until its user acknowledges what it
        // shows: the harness acknowledges, once, and asks again.
        let mut shown = Vec::new();
        let mut sent = dev.encrypt(&req);
        if let Ok(s) = &mut sent {
            if s.blocked && !s.envelopes.is_empty() {
                sent = Err(ImplError::Failed(format!(
                    "the client said it held the message for its user to acknowledge, yet emitted {} envelope(s)",
                    s.envelopes.len()
                )));
            } else if s.blocked {
                shown.extend(std::mem::take(&mut s.events).into_iter().map(|e| (e, true)));
                sent = dev.user_action(&UserAction::Acknowledge).and_then(|()| dev.encrypt(&req));
                if let Ok(s) = &sent {
                    if s.blocked {
                        sent = Err(ImplError::Failed(
                            "the client still held the message after its user acknowledged the notices".to_owned(),
                        ));
                    }
                }
            }
        }
        let sent = match sent {
            Ok(s) => s,
            Err(error) => {
                let device = match by {
                    Some(_) => format!("the seized copy of {from}"),
                    None => from.to_string(),
                };
                self.run.failures.push(Failure { step: n, device, operation: "encrypt", error });
                return;
            }
        };
        shown.extend(sent.events.into_iter().map(|e| (e, false)));
        // What the thief's copy shows nobody sees.
        if by.is_none() {
            for (event, blocking) in shown {
                self.run.shown.push(Shown { step: n, device: from.clone(), event, blocking });
            }
        }
        let mut mine = Vec::new();
        for out in sent.envelopes {
            let to_list = out.to.clone();
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
            self.follow(idx);
            self.attempts(n, idx);
            for d in to_list {
                if self.provider.is_diverted(from, &d) {
                    self.divert(n, idx, &d);
                    self.run.interfered.insert((msg_index, d));
                }
            }
        }
        if !hold {
            self.deliver(n, |e, _| mine.contains(&e));
        }
    }

    fn change_index(&self, pred: impl Fn(&ChangeKind) -> bool) -> Option<usize> {
        self.run.changes.iter().rposition(|c| pred(&c.kind))
    }

    /// The impostor for `device` opens an envelope the sender meant for it.
    fn divert(&mut self, n: usize, idx: usize, device: &DeviceAddr) {
        let Some(imp) = self.impostors.get_mut(device) else { return };
        if let Ok(found) = try_open(imp.as_mut(), &self.provider.envelopes[idx], &self.index) {
            note(&mut self.run.reads, n, Reader::Impostor(device.clone()), idx, found, Access::Delivered);
        }
    }

    /// Every existing device not addressed by envelope `idx` tries it on a fork.
    fn attempts(&mut self, n: usize, idx: usize) {
        let env = &self.provider.envelopes[idx];
        for (addr, dev) in &self.devices {
            if env.to.contains(addr) {
                continue;
            }
            self.run.attempts += 1;
            if let Ok(found) = try_open(dev.fork().as_mut(), env, &self.index) {
                note(&mut self.run.reads, n, Reader::Device(addr.clone()), idx, found, Access::Attempt);
            }
        }
    }

    fn deliver_selected(&mut self, n: usize, messages: Option<&[MessageId]>, to: Option<&Party>) {
        match messages {
            None => self.deliver(n, |_, d| matches(to, d)),
            Some(list) => {
                for m in list {
                    let Some((mi, _)) = self.run.truth.message(m) else { continue };
                    let envs = self.run.truth.messages[mi].envelopes.clone();
                    self.deliver(n, |e, d| envs.contains(&e) && matches(to, d));
                }
            }
        }
    }

    fn deliver(&mut self, n: usize, select: impl FnMut(usize, &DeviceAddr) -> bool) {
        for (idx, addr) in self.provider.take(select) {
            let body = self.provider.envelopes[idx].body.clone();
            self.deliver_one(n, idx, &addr, &body, None);
        }
    }

    /// Hands `body` (envelope `idx`'s, or a tampered copy) to `addr`.
    fn deliver_one(&mut self, n: usize, idx: usize, addr: &DeviceAddr, body: &[u8], tamper: Option<Tamper>) {
        let entropy = self.fresh_entropy();
        let env = &self.provider.envelopes[idx];
        let ghost = !self.devices.contains_key(addr) && self.ghosts.contains_key(addr);
        let real = !ghost;
        let dev = match self.devices.get_mut(addr) {
            Some(d) => Some(d),
            None => self.ghosts.get_mut(addr),
        };
        let result = match dev {
            None => DeliveryResult::NoSuchDevice,
            Some(dev) => {
                dev.add_entropy(&entropy);
                match dev.decrypt(&InEnvelope { from: &env.from, conversation: &env.conversation, body }) {
                    Err(e) => DeliveryResult::Error(e),
                    Ok(rcv) => {
                        if real {
                            for event in rcv.events {
                                self.run.shown.push(Shown { step: n, device: addr.clone(), event, blocking: false });
                            }
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
                                    envelope: Some(idx),
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
        // Deliveries to the provider's own ghosts are reads, not deliveries.
        if real {
            self.run.deliveries.push(Delivery {
                step: n,
                envelope: idx,
                device: addr.clone(),
                result,
                tamper,
                flipped: None,
            });
        }
    }

    fn drop_held(&mut self, messages: &[MessageId], to: Option<&Party>) {
        for m in messages {
            let Some((mi, _)) = self.run.truth.message(m) else { continue };
            let envs = self.run.truth.messages[mi].envelopes.clone();
            for (_, d) in self.provider.take(|e, d| envs.contains(&e) && matches(to, d)) {
                self.run.interfered.insert((mi, d));
            }
        }
    }

    fn tamper(&mut self, n: usize, m: &MessageId, to: Option<&Party>, how: Tamper, with: Option<&MessageId>) {
        let Some((mi, _)) = self.run.truth.message(m) else { return };
        let envs = self.run.truth.messages[mi].envelopes.clone();
        let partner: Vec<usize> =
            with.and_then(|w| self.run.truth.message(w)).map(|(_, t)| t.envelopes.clone()).unwrap_or_default();
        for idx in envs {
            // A replay goes only to devices that already received the envelope.
            let received = |d: &DeviceAddr| {
                how != Tamper::Replay
                    || self.run.deliveries.iter().any(|x| x.envelope == idx && x.device == *d && x.tamper.is_none())
            };
            let targets: Vec<DeviceAddr> = self.provider.envelopes[idx]
                .to
                .iter()
                .filter(|d| matches(to, d) && self.devices.contains_key(*d) && received(d))
                .cloned()
                .collect();
            for d in targets {
                if how == Tamper::EveryBit {
                    self.every_bit(n, idx, &d);
                    continue;
                }
                let body = self.provider.envelopes[idx].body.clone();
                let half = body.len() / 2;
                let copy = match how {
                    Tamper::Flip => {
                        let mut b = body;
                        if let Some(x) = b.get_mut(half) {
                            *x ^= 0x01;
                        }
                        b
                    }
                    Tamper::Truncate => body[..half].to_vec(),
                    Tamper::Splice => {
                        let other = partner
                            .iter()
                            .find(|&&p| self.provider.envelopes[p].to.contains(&d))
                            .or(partner.first())
                            .map(|&p| self.provider.envelopes[p].body.clone())
                            .unwrap_or_default();
                        let mut b = body[..half].to_vec();
                        b.extend_from_slice(&other[other.len() / 2..]);
                        b
                    }
                    Tamper::Forge => {
                        let s = seed::derive(self.seed, "forge", &[m.as_str(), &d.to_string(), &n.to_string()]);
                        (0..body.len()).map(|i| s[i % 32] ^ (i / 32) as u8).collect()
                    }
                    Tamper::Replay | Tamper::EveryBit => body,
                };
                // A splice that happens to rebuild a real envelope is no tampering.
                if how != Tamper::Replay && self.provider.envelopes.iter().any(|e| e.body == copy) {
                    continue;
                }
                self.deliver_one(n, idx, &d, &copy, Some(how));
            }
        }
    }

    /// Envelope `idx` with one bit flipped, for every bit of its first
    /// `EVERY_BIT_HEAD` bytes and one bit (cycling) of every eighth later byte,
    /// each tried on its own fork of `addr`: the device itself is left as
    /// it was. Each try is a delivery marked `EveryBit` with the bit it flipped.
    fn every_bit(&mut self, n: usize, idx: usize, addr: &DeviceAddr) {
        let Some(dev) = self.devices.get(addr) else { return };
        let env = &self.provider.envelopes[idx];
        let positions = (0..env.body.len().min(EVERY_BIT_HEAD) * 8)
            .chain((EVERY_BIT_HEAD..env.body.len()).step_by(8).map(|byte| byte * 8 + (byte / 8) % 8));
        for bit in positions {
            let mut copy = env.body.clone();
            copy[bit / 8] ^= 1 << (bit % 8);
            let mut fork = dev.fork();
            let result =
                match fork.decrypt(&InEnvelope { from: &env.from, conversation: &env.conversation, body: &copy }) {
                    Err(e) => DeliveryResult::Error(e),
                    Ok(rcv) => {
                        let exact = rcv.plaintext.as_ref().and_then(|pt| {
                            let mi = *self.run.truth.envelope_message.get(&idx)?;
                            (self.run.truth.messages[mi].plaintext == *pt).then_some(mi)
                        });
                        DeliveryResult::Opened { exact, plaintext: rcv.plaintext.is_some(), sender: rcv.sender }
                    }
                };
            self.run.deliveries.push(Delivery {
                step: n,
                envelope: idx,
                device: addr.clone(),
                result,
                tamper: Some(Tamper::EveryBit),
                flipped: Some(bit),
            });
        }
    }

    fn verify(&mut self, n: usize, users: &[UserId]) {
        let enrolled: Vec<(DeviceAddr, Vec<u8>)> =
            self.run.truth.enrolled.iter().map(|(d, e)| (d.clone(), e.identity.clone())).collect();
        for a in users {
            for (addr, dev) in self.devices.iter_mut().filter(|(d, _)| d.user == *a) {
                for (contact, identity) in enrolled.iter().filter(|(d, _)| d.user != *a && users.contains(&d.user)) {
                    match dev.verify(contact, identity) {
                        Ok(events) => {
                            for event in events {
                                self.run.shown.push(Shown { step: n, device: addr.clone(), event, blocking: false });
                            }
                        }
                        Err(error) => self.run.failures.push(Failure {
                            step: n,
                            device: addr.to_string(),
                            operation: "verify",
                            error,
                        }),
                    }
                }
            }
        }
    }

    fn seize(&mut self, n: usize, addr: &DeviceAddr) {
        let copy = match self.devices.get(addr) {
            None => Err("no such device".to_owned()),
            Some(dev) => dev
                .export_state()
                .map_err(|e| format!("the design cannot export a device's state ({e})"))
                .and_then(|state| {
                    self.design
                        .import_device(addr, &state)
                        .map(|c| (c, state))
                        .map_err(|e| format!("the design cannot import an exported state ({e})"))
                }),
        };
        let (clone, state, error) = match copy {
            Ok((c, state)) => (Some(c), state, None),
            Err(e) => (None, Vec::new(), Some(e)),
        };
        self.live.push(clone.as_ref().map(|c| c.fork()));
        self.followed.push(Vec::new());
        self.clones.push(clone);
        self.run.seizures.push(Seizure { step: n, device: addr.clone(), error, state });
    }

    fn target(&mut self, n: usize, content: &TargetAim) {
        let bytes = match content {
            TargetAim::Message(m) => plaintext_of(&self.run.scenario, m).unwrap_or_default(),
            TargetAim::Text(t) => t.clone().into_bytes(),
        };
        for (role, auth) in &mut self.authorities {
            let aim = match content {
                TargetAim::Message(_) => TargetContent::Exact(&bytes),
                TargetAim::Text(t) => TargetContent::Similar(t),
            };
            match auth.target(&aim) {
                Ok(Some(data)) => {
                    for (addr, dev) in self.devices.iter_mut().chain(self.ghosts.iter_mut()) {
                        if let Err(error) = dev.provider_push(role, &data) {
                            self.run.failures.push(Failure {
                                step: n,
                                device: addr.to_string(),
                                operation: "provider push",
                                error,
                            });
                        }
                    }
                    self.pushes.push((role.clone(), data));
                }
                Ok(None) => {}
                Err(error) => {
                    self.run.failures.push(Failure { step: n, device: role.clone(), operation: "target", error })
                }
            }
        }
    }

    fn compel(&mut self, n: usize, role: Option<&str>) {
        let view: Vec<&[u8]> = self.provider.view.iter().map(|r| r.bytes.as_slice()).collect();
        for (r, auth) in &mut self.authorities {
            if role.is_some_and(|x| x != r) {
                continue;
            }
            self.run.compelled.push((n, r.clone()));
            match auth.recover(&view) {
                Ok(found) => {
                    let mut msgs = BTreeSet::new();
                    for pt in &found {
                        msgs.extend(self.index.find(pt));
                    }
                    if !msgs.is_empty() {
                        self.run.reads.push(Read {
                            step: n,
                            reader: Reader::Authority(r.clone()),
                            envelope: None,
                            messages: msgs.into_iter().collect(),
                            access: Access::Compelled,
                        });
                    }
                }
                Err(error) => {
                    self.run.failures.push(Failure { step: n, device: r.clone(), operation: "recover", error })
                }
            }
        }
    }

    /// A never-enrolled device of the same design tries every envelope.
    fn outsider(&mut self, n: usize) {
        let addr = DeviceAddr::new("outsider", "device");
        let dev = match self.new_device(&addr, "outsider") {
            Ok(d) => d,
            Err(why) => {
                self.run.failures.push(Failure {
                    step: n,
                    device: addr.to_string(),
                    operation: "create a fresh outsider device",
                    error: ImplError::Failed(why),
                });
                return;
            }
        };
        let mut dev = dev;
        for (idx, env) in self.provider.envelopes.iter().enumerate() {
            let (found, how) = forensic(dev.as_mut(), env, &self.index, &mut self.run.forensic_unsupported);
            note(&mut self.run.reads, n, Reader::Outsider, idx, found, how);
        }
    }

    /// For every enrolled device, a twin (a fresh install with the same
    /// user and device names and randomness of its own, never enrolled)
    /// tries, in order, every envelope addressed to the device: a design
    /// whose keys come from names or from the app itself is read by anyone
    /// who installs it, whatever its address checks say.
    fn twins(&mut self, n: usize) {
        let imitated: Vec<DeviceAddr> = self.devices.keys().cloned().collect();
        for addr in imitated {
            let mut twin = match self.new_device(&addr, "twin") {
                Ok(d) => d,
                Err(why) => {
                    self.run.failures.push(Failure {
                        step: n,
                        device: addr.to_string(),
                        operation: "create a twin (a fresh install with the same names)",
                        error: ImplError::Failed(why),
                    });
                    continue;
                }
            };
            for (idx, env) in self.provider.envelopes.iter().enumerate().filter(|(_, e)| e.to.contains(&addr)) {
                let (found, how) = forensic(twin.as_mut(), env, &self.index, &mut self.run.forensic_unsupported);
                note(&mut self.run.reads, n, Reader::Twin(addr.clone()), idx, found, how);
            }
        }
    }

    /// Each seized copy tries what its device received before the seizure
    /// (forward secrecy) and, forensically, everything the provider holds;
    /// what its live copy read while following the device's traffic after
    /// the seizure ([`Runner::follow`], post-compromise security) is
    /// recorded after those.
    fn seized_copies(&mut self, n: usize) {
        for (i, clone) in std::mem::take(&mut self.clones).into_iter().enumerate() {
            let Some(clone) = clone else { continue };
            let (t, device) = (self.run.seizures[i].step, self.run.seizures[i].device.clone());
            let before: BTreeSet<usize> = self
                .run
                .deliveries
                .iter()
                .filter(|d| d.device == device && d.step < t && d.tamper.is_none())
                .filter(|d| matches!(d.result, DeliveryResult::Opened { .. }))
                .map(|d| d.envelope)
                .collect();
            for idx in before {
                if let Ok(found) = try_open(clone.fork().as_mut(), &self.provider.envelopes[idx], &self.index) {
                    note(&mut self.run.reads, n, Reader::Seized(i), idx, found, Access::Seized);
                }
            }
            // The thief's forensic copy: every key the state holds, tried on
            // everything the provider holds (the provider's records and the
            // copy together), in order, absorbing what it can.
            let mut thief = clone.fork();
            for (idx, env) in self.provider.envelopes.iter().enumerate() {
                let (found, how) = forensic(thief.as_mut(), env, &self.index, &mut self.run.forensic_unsupported);
                if how == Access::Forensic {
                    note(&mut self.run.reads, n, Reader::Seized(i), idx, found, how);
                }
            }
            // Then what the live copy read while following the device.
            self.run.reads.append(&mut self.followed[i]);
        }
    }
}
