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
//!
//! The records a run leaves are in `record.rs`; the provider's moves,
//! seizures and authorities in `moves.rs`; the parties other than the
//! addressee trying envelopes (forks, the outsider, twins, seized copies)
//! in `readers.rs`.

mod keys;
mod moves;
mod readers;
mod record;

pub use record::{
    Access, Change, ChangeKind, Delivery, DeliveryResult, Exposure, Failure, Read, Reader, Run, Seizure, Shown,
};

use crate::adapter::{
    Authority, Design, Device, DirectoryEntry, EncryptRequest, Event, ImplError, InEnvelope, OutEnvelope, Sent,
    Strategy, UserAction,
};
use crate::canary::{self, Index};
use crate::provider::{Provider, Served, StoredEnvelope};
use crate::seed;
use crate::timings::{self, Phase};
use crate::truth::{Enrolled, MessageTruth, Truth};
use doormat_formats::{
    Action, DeviceAddr, GroupId, MessageId, Party, Scenario, ScenarioStep, StrategyChoice, Tamper, Target, UserId,
};
use std::collections::{BTreeMap, BTreeSet};

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
    /// The first fork that failed in the current step, in words: the run
    /// stops after the step (the probes the fork was for never ran).
    fork_failed: Option<String>,
    /// The design's key service, when it declares one, and how key moves
    /// lie with it in this run.
    keys: Option<keys::Keys>,
    run: Run,
}

/// Replays `scenario` against `design`. A design with a key service meets
/// key moves under the strategy the vector names, else `publish`.
pub fn run(design: &dyn Design, scenario: &Scenario) -> Run {
    run_with(design, scenario, None)
}

/// The strategy a vector names for its key moves, when it names one (not
/// `all`).
pub fn named_strategy(scenario: &Scenario) -> Option<Strategy> {
    scenario.steps.iter().find_map(|s| match &s.action {
        Action::Substitute { strategy: Some(StrategyChoice::One(st)), .. } => Some(*st),
        _ => None,
    })
}

/// Replays `scenario` against `design`, key moves under `strategy` (else
/// the one the vector names, else `publish`).
pub fn run_with(design: &dyn Design, scenario: &Scenario, strategy: Option<Strategy>) -> Run {
    let strategy = strategy.or_else(|| named_strategy(scenario)).unwrap_or(Strategy::Publish);
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
        fork_failed: None,
        keys: None,
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
            if let Err(why) = r.start(strategy) {
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
        if let Some(why) = r.fork_failed.take() {
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
        if let Some(why) = r.fork_failed.take() {
            r.run.aborted = Some(format!("after the last step: {why}"));
        }
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

fn matches(to: Option<&Party>, d: &DeviceAddr) -> bool {
    match to {
        None => true,
        Some(Party::User(u)) => d.user == *u,
        Some(Party::Device(x)) => d == x,
    }
}

/// Asks `dev` to encrypt `req`. A client may hold the message until its
/// user acknowledges what it shows: the harness acknowledges, once, and
/// asks again. Gives the answer and the notices shown while the message
/// was held.
fn encrypt_acknowledged(
    dev: &mut dyn Device,
    req: &EncryptRequest<'_>,
) -> (Result<Sent, ImplError>, Vec<(Event, bool)>) {
    let mut shown = Vec::new();
    let mut sent = dev.encrypt(req);
    if let Ok(s) = &mut sent {
        if s.blocked && !s.envelopes.is_empty() {
            sent = Err(ImplError::Failed(format!(
                "the client said it held the message for its user to acknowledge, yet emitted {} envelope(s)",
                s.envelopes.len()
            )));
        } else if s.blocked {
            shown.extend(std::mem::take(&mut s.events).into_iter().map(|e| (e, true)));
            sent = dev.user_action(&UserAction::Acknowledge).and_then(|()| dev.encrypt(req));
            if let Ok(s) = &sent {
                if s.blocked {
                    sent = Err(ImplError::Failed(
                        "the client still held the message after its user acknowledged the notices".to_owned(),
                    ));
                }
            }
        }
    }
    (sent, shown)
}

impl Runner<'_> {
    /// Creates the design's authorities and records what they publish.
    fn start(&mut self, strategy: Strategy) -> Result<(), String> {
        for role in self.design.authorities() {
            let seed = seed::derive(self.seed, "authority", &[self.design.name(), &role]);
            let a = timings::design_call(|| self.design.create_authority(&role, seed))
                .map(timings::timed_authority)
                .map_err(|e| format!("{} could not create its {role}: {e}", self.design.name()))?;
            self.pushes.push((role.clone(), a.public()));
            self.authorities.push((role, a));
        }
        let seed = seed::derive(self.seed, "key service", &[self.design.name()]);
        let service = timings::design_call(|| self.design.key_service(seed))
            .map_err(|e| format!("{} could not start its key service: {e}", self.design.name()))?;
        self.keys = service.map(|s| keys::Keys::new(s, strategy));
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
            Action::Substitute { device, requesters, .. } => self.substitute(n, device, requesters.clone()),
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
            Action::Gossip { users } => self.gossip(n, users),
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
        let mut dev = timings::design_call(|| self.design.create_device(addr, seed))
            .map(timings::timed)
            .map_err(|e| format!("{} could not create device {addr}: {e}", self.design.name()))?;
        for (role, data) in &self.pushes {
            dev.provider_push(role, data)
                .map_err(|e| format!("device {addr} refused the provider's {role} data: {e}"))?;
        }
        Ok(dev)
    }

    fn enroll(&mut self, n: usize, addr: &DeviceAddr) -> Result<(), String> {
        timings::phase(Phase::Enrol, || {
            let mut dev = self.new_device(addr, "device")?;
            let bundle = dev.publish().map_err(|e| format!("device {addr} could not publish its keys: {e}"))?;
            self.run.truth.enrolled.insert(addr.clone(), Enrolled { step: n, identity: bundle.identity.clone() });
            let identity = bundle.identity.clone();
            self.provider.publish(n, addr, bundle);
            self.devices.insert(addr.clone(), dev);
            self.publish_key(n, addr, &identity)
        })
    }

    fn set_members(&mut self, n: usize, g: &GroupId, members: Vec<UserId>) {
        self.run.truth.groups.entry(g.clone()).or_default().push((n, members));
    }

    fn fresh_entropy(&mut self) -> [u8; 32] {
        self.entropy += 1;
        seed::derive(self.seed, "entropy", &[self.design.name(), &self.entropy.to_string()])
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
        timings::phase(Phase::Send, || {
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
            let (served_members, recipients, changed) = self.serve(n, from, to, &members);
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
            let (sent, mut shown) = encrypt_acknowledged(dev.as_mut(), &req);
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
            let mine = self.submit(n, from, &conversation, msg_index, sent.envelopes);
            if !hold {
                self.deliver(n, |e, _| mine.contains(&e));
            }
        })
    }

    /// What the provider serves `from` for a send to `to`, whose true
    /// members are `members`: the member list as the provider states it
    /// (with the members nobody added), a directory entry for each device
    /// it serves, and the provider changes among them (indexes into
    /// `Run::changes`).
    fn serve(
        &mut self,
        n: usize,
        from: &DeviceAddr,
        to: &Target,
        members: &[UserId],
    ) -> (Vec<UserId>, Vec<DirectoryEntry>, Vec<usize>) {
        let mut served_members = members.to_vec();
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
            for (mut entry, served) in self.provider.serve(from, u) {
                entry.proof = self.proof_for(n, &from.user, &entry.device, served != Served::Genuine);
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
        (served_members, recipients, changed)
    }

    /// Stores the envelopes `from` sent for message `msg_index`; each is
    /// followed by live seized copies, tried by every other device, and
    /// opened by the impostor of any addressee the provider diverts.
    /// Gives their indexes.
    fn submit(
        &mut self,
        n: usize,
        from: &DeviceAddr,
        conversation: &str,
        msg_index: usize,
        envelopes: Vec<OutEnvelope>,
    ) -> Vec<usize> {
        let mut mine = Vec::new();
        for out in envelopes {
            let to_list = out.to.clone();
            let idx = self.provider.submit(StoredEnvelope {
                step: n,
                from: from.clone(),
                to: out.to,
                conversation: conversation.to_owned(),
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
        mine
    }

    fn change_index(&self, pred: impl Fn(&ChangeKind) -> bool) -> Option<usize> {
        self.run.changes.iter().rposition(|c| pred(&c.kind))
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
        timings::phase(Phase::Deliver, || {
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
                                    self.run.shown.push(Shown {
                                        step: n,
                                        device: addr.clone(),
                                        event,
                                        blocking: false,
                                    });
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
        })
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
}
