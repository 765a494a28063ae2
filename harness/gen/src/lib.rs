//! Generated scenarios and the entry points of fuzzing.
//!
//! [`GenScenario`] is one `#[derive(Arbitrary)]` type that both the fuzzers
//! (`fuzz/`) and the property tests (proptest, through `arbitrary`'s
//! `Unstructured` over proptest's bytes) turn into a scenario: random
//! interleavings of sends, device links, member changes, delivery orders and
//! provider moves. It is rendered as vector YAML and loaded through the same
//! parser and checker as a vector file, so every generated scenario can be
//! kept as an ordinary vector.
//!
//! A scenario has three phases: set-up (users, devices, groups), warm-up
//! (every device writes to every other user and every group it is in, so no
//! client is on first contact any more), and the body (everything else).
//! The phases keep trust-on-first-use out of the property that the honest
//! design never fails: every provider move happens after warm-up.
//!
//! **Invariant:** every function here is total: any bytes give a scenario,
//! and running it must never panic.

pub mod fuzz;

use arbitrary::Arbitrary;
use doormat_formats::{Scenario, Vector};
use std::fmt::Write;

const NAMES: [&str; 4] = ["alice", "bob", "carol", "dave"];
const EXTRA: [&str; 2] = ["laptop", "tablet"];

/// One move of the scenario's body; indices are taken modulo what exists.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum Move {
    /// A device writes to a user or to a group.
    Send { from: u8, to: u8, group: bool, hold: bool },
    /// Held envelopes of one message (or all) to one user (or all).
    Deliver { message: Option<u8>, to: Option<u8> },
    /// The provider adds a ghost device to a user.
    Ghost { user: u8 },
    /// The provider serves impostor keys for a device.
    Substitute { device: u8 },
    /// The provider presents a non-member as a group member.
    ProviderAdd { group: u8, user: u8 },
    /// A held message is dropped.
    Drop { message: u8 },
    /// A message is replayed.
    Replay { message: u8 },
    /// A message is tampered with.
    Tamper { message: u8, how: u8 },
    /// Two users compare safety numbers.
    Verify { a: u8, b: u8 },
    /// A device is seized.
    Seize { device: u8 },
    /// A coming message's text is targeted.
    Target { ahead: u8 },
    /// The authorities are compelled.
    Compel,
}

/// A generated scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenScenario {
    /// The vector's seed.
    pub seed: u16,
    /// 2 + users % 3 users.
    pub users: u8,
    /// Users (indices) that link a second or third device; 255 links none.
    pub links: [u8; 3],
    /// Groups, as member bit masks (fewer than two members: no group).
    pub groups: [u8; 2],
    /// The body.
    pub body: Vec<Move>,
}

/// Most moves in a body.
pub const MAX_MOVES: usize = 40;

impl<'a> Arbitrary<'a> for GenScenario {
    /// A header, then moves until the bytes run out (at most [`MAX_MOVES`]).
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut g = GenScenario {
            seed: u.arbitrary()?,
            users: u.arbitrary()?,
            links: u.arbitrary()?,
            groups: u.arbitrary()?,
            body: Vec::new(),
        };
        while !u.is_empty() && g.body.len() < MAX_MOVES {
            g.body.push(Move::arbitrary(u)?);
        }
        Ok(g)
    }

    fn arbitrary_take_rest(mut u: arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Self::arbitrary(&mut u)
    }
}

/// What the body contains that should trigger a backdoor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Triggers {
    /// A ghost was served and then someone wrote to its user.
    pub ghost: bool,
    /// A message was sent before the authorities were compelled.
    pub compel_after_send: bool,
    /// A targeted message was sent before the authorities were compelled.
    pub targeted_then_compel: bool,
}

/// The generated vector, as YAML, and what it triggers.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Vector YAML (valid: it is what is run).
    pub yaml: String,
    /// Triggers present.
    pub triggers: Triggers,
}

#[derive(Default)]
struct State {
    users: usize,
    devices: Vec<(usize, String)>,
    groups: Vec<Vec<usize>>,
    sent: Vec<(String, usize, bool, bool)>, // (id, sender user, held, delivered-or-dropped)
    ghosts: Vec<usize>,
    added: Vec<(usize, usize)>,
    targets: Vec<String>,
    yaml: String,
    /// Messages sent before the body (set-up and warm-up).
    warm: usize,
    /// A targeted message was sent.
    targeted_sent: bool,
    triggers: Triggers,
}

impl State {
    fn step(&mut self, s: &str) {
        let _ = writeln!(self.yaml, "  - {s}");
    }

    fn send(&mut self, device: usize, to: &str, hold: bool) -> String {
        let id = format!("m{}", self.sent.len() + 1);
        let (user, name) = self.devices[device].clone();
        let hold_s = if hold { ", hold: true" } else { "" };
        self.step(&format!("send: {{id: {id}, from: {}/{name}, to: {to}{hold_s}}}", NAMES[user]));
        self.sent.push((id.clone(), user, hold, false));
        id
    }

    /// Warm-up: every device meets every other user and every group.
    fn warm_up(&mut self) {
        for d in 0..self.devices.len() {
            let u = self.devices[d].0;
            for v in (0..self.users).filter(|&v| v != u) {
                self.send(d, NAMES[v], false);
            }
            for g in 0..self.groups.len() {
                if self.groups[g].contains(&u) {
                    self.send(d, &format!("g{g}"), false);
                }
            }
        }
        self.warm = self.sent.len();
    }

    /// One move of the body; a move that does not fit what exists (a group
    /// when there is none, a held message when none is held) is left out.
    fn apply(&mut self, m: &Move) {
        match *m {
            Move::Send { from, to, group, hold } => self.send_move(from, to, group, hold),
            Move::Deliver { message, to } => self.deliver(message, to),
            Move::Ghost { user } => {
                let u = usize::from(user) % self.users;
                if !self.ghosts.contains(&u) {
                    self.step(&format!("ghost: {{user: {}}}", NAMES[u]));
                    self.ghosts.push(u);
                }
            }
            Move::Substitute { device } => {
                let (u, name) = self.devices[usize::from(device) % self.devices.len()].clone();
                self.step(&format!("substitute: {{device: {}/{name}}}", NAMES[u]));
            }
            Move::ProviderAdd { group, user } => self.provider_add(group, user),
            Move::Drop { message } => self.drop_held(message),
            Move::Replay { message } => self.replay_or_tamper(message, None),
            Move::Tamper { message, how } => self.replay_or_tamper(message, Some(how)),
            Move::Verify { a, b } => {
                let (a, b) = (usize::from(a) % self.users, usize::from(b) % self.users);
                if a != b {
                    self.step(&format!("verify: {{users: [{}, {}]}}", NAMES[a], NAMES[b]));
                }
            }
            Move::Seize { device } => {
                let (u, name) = self.devices[usize::from(device) % self.devices.len()].clone();
                self.step(&format!("seize: {{device: {}/{name}}}", NAMES[u]));
            }
            Move::Target { ahead } => {
                let id = format!("m{}", self.sent.len() + 1 + usize::from(ahead) % 3);
                self.targets.push(id.clone());
                self.step(&format!("target: {{message: {id}}}"));
            }
            Move::Compel => {
                self.step("compel: {}");
                if self.sent.len() > self.warm || self.warm > 0 {
                    self.triggers.compel_after_send = true;
                }
                if self.targeted_sent {
                    self.triggers.targeted_then_compel = true;
                }
            }
        }
    }

    fn send_move(&mut self, from: u8, to: u8, group: bool, hold: bool) {
        let d = usize::from(from) % self.devices.len();
        let u = self.devices[d].0;
        let target = if group && !self.groups.is_empty() {
            let g = usize::from(to) % self.groups.len();
            if !self.groups[g].contains(&u) {
                return;
            }
            format!("g{g}")
        } else {
            let v = (u + 1 + usize::from(to) % (self.users - 1)) % self.users;
            if self.ghosts.contains(&v) && !hold {
                self.triggers.ghost = true;
            }
            NAMES[v].to_owned()
        };
        if let Some(g) = target.strip_prefix('g') {
            let g: usize = g.parse().unwrap_or(0);
            if !hold && self.groups[g].iter().any(|x| self.ghosts.contains(x) && *x != u) {
                self.triggers.ghost = true;
            }
        }
        let id = self.send(d, &target, hold);
        if self.targets.contains(&id) {
            self.targeted_sent = true;
        }
    }

    fn deliver(&mut self, message: Option<u8>, to: Option<u8>) {
        let mut s = String::from("deliver: {");
        if let Some(mi) = message {
            // Only held messages can be delivered by name.
            let held: Vec<usize> = (self.warm..self.sent.len()).filter(|&i| self.sent[i].2).collect();
            if held.is_empty() {
                return;
            }
            let i = held[usize::from(mi) % held.len()];
            let _ = write!(s, "messages: [{}]", self.sent[i].0);
        }
        if let Some(u) = to {
            let sep = if message.is_some() { ", " } else { "" };
            let _ = write!(s, "{sep}to: {}", NAMES[usize::from(u) % self.users]);
        }
        s.push('}');
        self.step(&s);
    }

    fn provider_add(&mut self, group: u8, user: u8) {
        if self.groups.is_empty() {
            return;
        }
        let g = usize::from(group) % self.groups.len();
        let u = usize::from(user) % self.users;
        if self.groups[g].contains(&u) || self.added.contains(&(g, u)) {
            return;
        }
        self.step(&format!("provider_add: {{group: g{g}, user: {}}}", NAMES[u]));
        self.added.push((g, u));
    }

    fn drop_held(&mut self, message: u8) {
        let held: Vec<usize> = (self.warm..self.sent.len()).filter(|&i| self.sent[i].2 && !self.sent[i].3).collect();
        if held.is_empty() {
            return;
        }
        let i = held[usize::from(message) % held.len()];
        self.sent[i].3 = true;
        let id = self.sent[i].0.clone();
        self.step(&format!("drop: {{messages: [{id}]}}"));
    }

    /// A replay of a message of the body, or with `how`, a tampered copy.
    fn replay_or_tamper(&mut self, message: u8, how: Option<u8>) {
        if self.sent.len() == self.warm {
            return;
        }
        let id = self.sent[self.warm + usize::from(message) % (self.sent.len() - self.warm)].0.clone();
        match how {
            Some(how) => {
                let how = ["flip", "truncate", "forge"][usize::from(how) % 3];
                self.step(&format!("tamper: {{message: {id}, how: {how}}}"));
            }
            None => self.step(&format!("replay: {{message: {id}}}")),
        }
    }
}

impl GenScenario {
    /// The scenario as vector YAML, and its triggers.
    pub fn generate(&self) -> Generated {
        let mut st = State { users: 2 + usize::from(self.users) % 3, ..State::default() };
        self.set_up(&mut st);
        st.warm_up();
        for m in self.body.iter().take(MAX_MOVES) {
            st.apply(m);
        }
        // Targets of messages never sent are dropped (they would not validate).
        let sent: Vec<String> = st.sent.iter().map(|s| s.0.clone()).collect();
        let yaml = st
            .yaml
            .lines()
            .filter(|l| match l.trim().strip_prefix("- target: {message: ") {
                Some(rest) => sent.iter().any(|id| rest.trim_end_matches('}') == id),
                None => true,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        Generated { yaml, triggers: st.triggers }
    }

    /// Set-up: the header, every user's first device, the devices linked
    /// and the groups.
    fn set_up(&self, st: &mut State) {
        let users: Vec<&str> = NAMES[..st.users].to_vec();
        let _ = writeln!(
            st.yaml,
            "title: A generated scenario\nseed: {}\ntags: [generated]\nusers: [{}]\nsteps:",
            self.seed,
            users.join(", ")
        );
        for (u, name) in NAMES.iter().enumerate().take(st.users) {
            st.step(&format!("register: {{user: {name}}}"));
            st.devices.push((u, "phone".to_owned()));
        }
        for &l in self.links.iter().filter(|&&l| l % 4 != 3) {
            let u = usize::from(l) % st.users;
            let n = st.devices.iter().filter(|(x, _)| *x == u).count();
            if n <= EXTRA.len() {
                let name = EXTRA[n - 1];
                st.step(&format!("link: {{user: {}, device: {name}}}", NAMES[u]));
                st.devices.push((u, name.to_owned()));
            }
        }
        for &mask in &self.groups {
            let members: Vec<usize> = (0..st.users).filter(|u| mask & (1 << u) != 0).collect();
            if members.len() < 2 {
                continue;
            }
            let names: Vec<&str> = members.iter().map(|&u| NAMES[u]).collect();
            st.step(&format!("group: {{id: g{}, members: [{}]}}", st.groups.len(), names.join(", ")));
            st.groups.push(members);
        }
    }

    /// The scenario, loaded through the vector parser and checker.
    pub fn scenario(&self) -> Result<(Scenario, Generated), String> {
        let g = self.generate();
        Vector::parse("generated.yaml", "generated", &g.yaml)
            .map(|s| (s, g.clone()))
            .map_err(|e| format!("{e}\n---\n{}", g.yaml))
    }
}
