//! Scenario vectors: a seeded, deterministic script of steps with
//! expectations, and its checked, expanded form [`Scenario`].
//!
//! The step list is an externally tagged enum (`- send: {...}`), so new moves
//! (provider attacks, state seizure) are new variants, never a format break.
//!
//! **Invariant:** [`Vector::check`] resolves every name; a [`Scenario`]'s
//! steps are numbered 1.. after `repeat` expansion and remember their source
//! line, so evidence can point back to the file.

use crate::error::{LoadError, LoadErrors};
use crate::ids::{valid_name, DeviceAddr, GroupId, MessageId, UserId};
use crate::locate::{self, Span};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Expanded steps allowed in one vector (guards against `repeat` blow-ups).
pub const MAX_STEPS: usize = 200_000;

/// A parsed vector file, before cross-references are checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    /// What the scenario shows, in a few words.
    pub title: String,
    /// Longer explanation (optional).
    #[serde(default)]
    pub description: Option<String>,
    /// Seed of every random choice in the run.
    pub seed: u64,
    /// Free-form tags for selection and reports.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The users taking part.
    pub users: Vec<String>,
    /// The script.
    pub steps: Vec<Step>,
    /// What must hold afterwards.
    #[serde(default)]
    pub expect: Vec<ExpectationSrc>,
}

fn default_device() -> String {
    "phone".to_owned()
}

/// One step as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Step {
    /// A user's first device appears and publishes its keys.
    Register(RegisterStep),
    /// A user links another device.
    Link(LinkStep),
    /// A group conversation is created.
    Group(GroupStep),
    /// A member is added to a group.
    Add(MemberStep),
    /// A member is removed from a group.
    Remove(MemberStep),
    /// A device sends a message to a user or a group.
    Send(SendStep),
    /// Held envelopes are delivered.
    Deliver(DeliverStep),
    /// The nested steps run `times` times; `{i}` in names becomes 1, 2, ...
    Repeat(RepeatStep),
    /// Provider move: serve an extra device (a "ghost") in a user's device list.
    Ghost(GhostStep),
    /// Provider move: serve an impostor's keys in place of a real device's.
    Substitute(SubstituteStep),
    /// Provider move: tell senders a group has a member nobody added.
    ProviderAdd(ProviderAddStep),
    /// Provider move: serve a user's devices without one-time prekeys.
    WithholdPrekeys(WithholdStep),
    /// Provider move: throw held envelopes away.
    Drop(DropStep),
    /// Provider move: deliver copies of a message's envelopes again.
    Replay(ReplayStep),
    /// Provider move: deliver a tampered copy of a message's envelopes.
    Tamper(TamperStep),
    /// Users compare safety numbers out of band.
    Verify(VerifyStep),
    /// A device's state is copied (seized) at this step.
    Seize(SeizeStep),
    /// The provider pushes data that targets content (a scan-list entry).
    Target(TargetStep),
    /// The design's declared authorities are handed the provider view.
    Compel(CompelStep),
}

fn default_ghost() -> String {
    "ghost".to_owned()
}

/// `ghost: {user, device}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GhostStep {
    /// Whose device list gains the ghost.
    pub user: String,
    /// The ghost's device name (default `ghost`).
    #[serde(default = "default_ghost")]
    pub device: String,
}

/// `substitute: {device, for}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubstituteStep {
    /// The device whose keys are replaced: `user/device` or `user`.
    pub device: String,
    /// Users who are served the impostor (default: everyone but the owner).
    #[serde(default, rename = "for")]
    pub for_users: Vec<String>,
}

/// `provider_add: {group, user}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAddStep {
    /// The group.
    pub group: String,
    /// The user the provider claims is a member.
    pub user: String,
}

/// `drop: {messages, to}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropStep {
    /// Held messages whose envelopes are thrown away.
    pub messages: Vec<String>,
    /// Only those addressed to this user or device.
    #[serde(default)]
    pub to: Option<String>,
}

/// `replay: {message, to}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayStep {
    /// The message whose envelopes are delivered again.
    pub message: String,
    /// Only to this user or device.
    #[serde(default)]
    pub to: Option<String>,
}

/// How an envelope is tampered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tamper {
    /// One bit flipped in the middle of the envelope.
    Flip,
    /// The second half cut off.
    Truncate,
    /// The first half of this envelope joined to the second half of another.
    Splice,
    /// Random bytes of the same length, claiming the same sender.
    Forge,
    /// An exact copy delivered a second time (a replay).
    Replay,
    /// Many copies, one bit flipped in each: every bit of the first
    /// [`EVERY_BIT_HEAD`] bytes (where headers and encodings live) and one
    /// bit of every eighth later byte, each tried on its own copy of the device.
    EveryBit,
}

/// How many leading bytes `every-bit` tampering flips bit by bit.
pub const EVERY_BIT_HEAD: usize = 64;

impl std::fmt::Display for Tamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tamper::Flip => "a copy with one bit flipped",
            Tamper::Truncate => "a truncated copy",
            Tamper::Splice => "a copy spliced with another envelope",
            Tamper::Forge => "a forged envelope",
            Tamper::Replay => "a replayed copy",
            Tamper::EveryBit => {
                "a copy with one bit flipped (every bit of the first 64 bytes, one in every eighth later byte)"
            }
        })
    }
}

/// `tamper: {message, to, how, with}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TamperStep {
    /// The message whose envelopes are tampered with (the originals stay).
    pub message: String,
    /// Only those addressed to this user or device.
    #[serde(default)]
    pub to: Option<String>,
    /// What is done (`flip`, `truncate`, `splice`, `forge`).
    pub how: Tamper,
    /// For `splice`: the message whose envelope gives the second half.
    #[serde(default)]
    pub with: Option<String>,
}

/// `verify: {users}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyStep {
    /// Users who compare safety numbers with each other (at least two).
    pub users: Vec<String>,
}

/// `withhold_prekeys: {user}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithholdStep {
    /// Whose devices are served without one-time prekeys from now on.
    pub user: String,
}

/// `seize: {device}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeizeStep {
    /// The device whose state is copied.
    pub device: String,
}

/// `target: {message}` or `target: {text}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetStep {
    /// Target exactly this message's text (it may be sent later).
    #[serde(default)]
    pub message: Option<String>,
    /// Target text similar to this.
    #[serde(default)]
    pub text: Option<String>,
}

/// `compel: {role}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CompelStep {
    /// Only this role (default: every authority the design declares).
    #[serde(default)]
    pub role: Option<String>,
}

/// `register: {user, device}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterStep {
    /// The user.
    pub user: String,
    /// The device's name (default `phone`).
    #[serde(default = "default_device")]
    pub device: String,
}

/// `link: {user, device}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkStep {
    /// The user, already registered.
    pub user: String,
    /// The new device's name.
    pub device: String,
}

/// `group: {id, members, by}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupStep {
    /// The group's id (not a user's name).
    pub id: String,
    /// The first members.
    pub members: Vec<String>,
    /// Who creates it: a user or `user/device` (default: the first member).
    #[serde(default)]
    pub by: Option<String>,
}

/// `add: {group, user, by}` and `remove: {group, user, by}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberStep {
    /// The group.
    pub group: String,
    /// The member added or removed.
    pub user: String,
    /// The member who makes the change (default: the first remaining member).
    #[serde(default)]
    pub by: Option<String>,
}

/// `send: {id, from, to, body, hold}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// The message's id, unique in the vector.
    pub id: String,
    /// The sending device: `user/device`, or `user` for the user's first device.
    pub from: String,
    /// A user (a one-to-one conversation) or a group.
    pub to: String,
    /// Text to send; the harness appends the message's canary.
    #[serde(default)]
    pub body: Option<String>,
    /// Keep the envelopes at the provider until a `deliver` step.
    #[serde(default)]
    pub hold: bool,
    /// Sent by the seized copy of `from` (a `seize` step must come first),
    /// speaking as the device through the provider; its owner sends nothing.
    #[serde(default)]
    pub seized: bool,
}

/// `deliver: {messages, to}`: with no fields, everything held.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeliverStep {
    /// Only these messages, in this order (out-of-order delivery).
    #[serde(default)]
    pub messages: Option<Vec<String>>,
    /// Only to this user or device.
    #[serde(default)]
    pub to: Option<String>,
}

/// `repeat: {times, steps}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatStep {
    /// How many times.
    pub times: u32,
    /// The steps repeated.
    pub steps: Vec<Step>,
}

/// An expectation as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectationSrc {
    /// The message.
    pub message: String,
    /// Users or devices that must read it.
    #[serde(default)]
    pub read_by: Vec<String>,
    /// Users or devices that must not read it.
    #[serde(default)]
    pub not_read_by: Vec<String>,
    /// A functional outcome.
    #[serde(default)]
    pub outcome: Option<Outcome>,
}

/// Functional outcome of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every intended recipient device read exactly what was sent.
    Delivered,
    /// No intended recipient device read it.
    NotDelivered,
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// A one-to-one conversation with this user.
    User(UserId),
    /// A group conversation.
    Group(GroupId),
}

/// A user (all of their devices) or one device.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Party {
    /// Every device of the user.
    User(UserId),
    /// One device.
    Device(DeviceAddr),
}

impl std::fmt::Display for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Party::User(u) => write!(f, "{u}"),
            Party::Device(d) => write!(f, "{d}"),
        }
    }
}

/// A resolved step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// A user's first device.
    Register { device: DeviceAddr },
    /// Another device of a registered user.
    Link { device: DeviceAddr },
    /// A new group.
    CreateGroup { group: GroupId, members: Vec<UserId>, by: DeviceAddr },
    /// A member joins.
    AddMember { group: GroupId, user: UserId, by: DeviceAddr },
    /// A member leaves.
    RemoveMember { group: GroupId, user: UserId, by: DeviceAddr },
    /// A message is sent.
    Send { message: MessageId, from: DeviceAddr, to: Target, body: Option<String>, hold: bool, seized: bool },
    /// Held envelopes are delivered.
    Deliver { messages: Option<Vec<MessageId>>, to: Option<Party> },
    /// The provider serves an extra device in `device.user`'s list to everyone else.
    ServeGhost { device: DeviceAddr },
    /// The provider serves an impostor in place of `device` to `requesters`
    /// (all users but the owner when empty).
    Substitute { device: DeviceAddr, requesters: Vec<UserId> },
    /// The provider tells senders `user` is a member of `group`.
    ProviderAdd { group: GroupId, user: UserId },
    /// From now on the provider serves `user`'s devices without one-time
    /// prekeys (as when they ran out).
    WithholdOneTime { user: UserId },
    /// Held envelopes are thrown away.
    Drop { messages: Vec<MessageId>, to: Option<Party> },
    /// A tampered (or replayed) copy of a message's envelopes is delivered.
    Tamper { message: MessageId, to: Option<Party>, how: Tamper, with: Option<MessageId> },
    /// Users compare safety numbers.
    Verify { users: Vec<UserId> },
    /// A device's state is copied.
    Seize { device: DeviceAddr },
    /// The provider pushes data targeting content.
    Target { content: TargetAim },
    /// Authorities are handed the provider view.
    Compel { role: Option<String> },
}

/// What a `target` step aims at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetAim {
    /// Exactly this message's plaintext.
    Message(MessageId),
    /// Text similar to this.
    Text(String),
}

/// A step after expansion: its number (1-based) and source line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioStep {
    /// 1-based position after `repeat` expansion.
    pub number: usize,
    /// Source line of the step as written.
    pub line: Option<usize>,
    /// What happens.
    pub action: Action,
}

/// A resolved expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The message.
    pub message: MessageId,
    /// Must read it.
    pub read_by: Vec<Party>,
    /// Must not read it.
    pub not_read_by: Vec<Party>,
    /// Functional outcome.
    pub outcome: Option<Outcome>,
    /// Source line.
    pub line: Option<usize>,
}

/// A checked vector, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The vector's id (its file stem).
    pub id: String,
    /// The file it was read from, as named on the command line.
    pub file: String,
    /// Its title.
    pub title: String,
    /// Its seed.
    pub seed: u64,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its users.
    pub users: Vec<UserId>,
    /// Expanded steps.
    pub steps: Vec<ScenarioStep>,
    /// Expectations.
    pub expect: Vec<Expectation>,
}

impl Vector {
    /// Parses and checks a vector file. `id` is its file stem.
    pub fn parse(file: &str, id: &str, src: &str) -> Result<Scenario, LoadErrors> {
        let v: Vector = crate::yaml::parse(file, src)?;
        v.check(file, id, src)
    }

    /// Checks names and cross-references and expands `repeat`.
    pub fn check(&self, file: &str, id: &str, src: &str) -> Result<Scenario, LoadErrors> {
        let mut c = Checker {
            file,
            src,
            errors: Vec::new(),
            users: BTreeSet::new(),
            devices: BTreeMap::new(),
            groups: BTreeMap::new(),
            messages: BTreeSet::new(),
            held: BTreeSet::new(),
            seized: BTreeSet::new(),
            taken: BTreeSet::new(),
            provider_added: BTreeSet::new(),
            later: Vec::new(),
            steps: Vec::new(),
        };
        if !valid_name(id) {
            c.errors.push(LoadError::at(file, src, None, None, format!("vector id `{id}` (the file name) is not a valid name: expected lowercase letters, digits, `-` or `_`")));
        }
        let users_at = locate::top_key(src, "users");
        for u in &self.users {
            let (l, col) = users_at.map_or((None, None), |(l, _)| (Some(l), None));
            if !valid_name(u) {
                c.errors.push(LoadError::at(
                    file,
                    src,
                    l,
                    col,
                    format!("user name `{u}` is not valid: expected lowercase letters, digits, `-` or `_`"),
                ));
            } else if !c.users.insert(UserId(u.clone())) {
                c.errors.push(LoadError::at(file, src, l, col, format!("user `{u}` is listed twice")));
            }
        }
        if self.users.is_empty() {
            c.errors.push(c.top("users", "a vector needs at least one user"));
        }
        if self.steps.is_empty() {
            c.errors.push(c.top("steps", "a vector needs at least one step"));
        }
        c.walk(&self.steps, &mut Vec::new(), None);
        // `target` may name a message sent later.
        for (span, m) in std::mem::take(&mut c.later) {
            c.message(span, &m, "in the vector");
        }
        let mut expect = Vec::new();
        for (i, e) in self.expect.iter().enumerate() {
            let span = locate::item(src, &[("expect", i)]);
            if let Some(x) = c.expectation(e, span) {
                expect.push(x);
            }
        }
        if c.errors.is_empty() {
            Ok(Scenario {
                id: id.to_owned(),
                file: file.to_owned(),
                title: self.title.clone(),
                seed: self.seed,
                tags: self.tags.clone(),
                users: self.users.iter().map(|u| UserId(u.clone())).collect(),
                steps: c.steps,
                expect,
            })
        } else {
            Err(LoadErrors(c.errors))
        }
    }
}

struct Checker<'a> {
    file: &'a str,
    src: &'a str,
    errors: Vec<LoadError>,
    users: BTreeSet<UserId>,
    devices: BTreeMap<UserId, Vec<String>>,
    groups: BTreeMap<GroupId, Vec<UserId>>,
    messages: BTreeSet<MessageId>,
    held: BTreeSet<MessageId>,
    /// Devices a `seize` step has copied so far.
    seized: BTreeSet<DeviceAddr>,
    taken: BTreeSet<DeviceAddr>,
    provider_added: BTreeSet<(GroupId, UserId)>,
    later: Vec<(Option<Span>, String)>,
    steps: Vec<ScenarioStep>,
}

fn subst(s: &str, i: Option<u32>) -> String {
    match i {
        Some(i) => s.replace("{i}", &i.to_string()),
        None => s.to_owned(),
    }
}

impl Checker<'_> {
    fn top(&self, key: &str, msg: &str) -> LoadError {
        let (l, c) = locate::top_key(self.src, key).map_or((None, None), |(l, c)| (Some(l), Some(c)));
        LoadError::at(self.file, self.src, l, c, msg)
    }

    /// An error inside `span`, pointing at `word` when found.
    fn err(&mut self, span: Option<Span>, word: &str, msg: String) {
        let pos = span.and_then(|s| locate::word(self.src, s, word).or(Some((s.line, s.column))));
        let (l, c) = pos.map_or((None, None), |(l, c)| (Some(l), Some(c)));
        // Errors repeated by `repeat` are reported once.
        let e = LoadError::at(self.file, self.src, l, c, msg);
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    fn walk(&mut self, steps: &[Step], path: &mut Vec<usize>, iter: Option<u32>) {
        for (i, step) in steps.iter().enumerate() {
            if self.steps.len() > MAX_STEPS {
                return;
            }
            path.push(i);
            let p: Vec<(&str, usize)> = path.iter().map(|&k| ("steps", k)).collect();
            let span = locate::item(self.src, &p);
            if let Step::Repeat(r) = step {
                if r.times == 0 {
                    self.err(span, "times", "`times` must be at least 1".to_owned());
                }
                if iter.is_some() && r.steps.iter().any(|s| matches!(s, Step::Repeat(_))) {
                    self.err(span, "repeat", "`repeat` may be nested only one level deep".to_owned());
                }
                for k in 1..=r.times {
                    // Inner loops see the innermost counter.
                    self.walk(&r.steps, path, Some(k));
                    if self.steps.len() > MAX_STEPS {
                        self.err(span, "times", format!("the vector expands to more than {MAX_STEPS} steps"));
                        break;
                    }
                }
            } else if let Some(action) = self.action(step, span, iter) {
                let number = self.steps.len() + 1;
                self.steps.push(ScenarioStep { number, line: span.map(|s| s.line), action });
            }
            path.pop();
        }
    }

    fn user(&mut self, span: Option<Span>, name: &str) -> Option<UserId> {
        let u = UserId(name.to_owned());
        if self.users.contains(&u) {
            Some(u)
        } else {
            let known = self.users.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ");
            self.err(span, name, format!("unknown user `{name}`: expected one of the vector's users ({known})"));
            None
        }
    }

    fn device(&mut self, span: Option<Span>, name: &str) -> Option<DeviceAddr> {
        let (u, d) = match name.split_once('/') {
            Some((u, d)) => (u, Some(d)),
            None => (name, None),
        };
        let user = self.user(span, u)?;
        let devs = self.devices.get(&user).cloned().unwrap_or_default();
        match d {
            None => match devs.first() {
                Some(first) => Some(DeviceAddr { user, device: first.clone() }),
                None => {
                    self.err(
                        span,
                        u,
                        format!("user `{u}` has no device yet: expected a `register` step for `{u}` before this one"),
                    );
                    None
                }
            },
            Some(d) if devs.iter().any(|x| x == d) => Some(DeviceAddr { user, device: d.to_owned() }),
            Some(_) => {
                let known = devs.iter().map(|x| format!("`{u}/{x}`")).collect::<Vec<_>>().join(", ");
                let known = if known.is_empty() { "none yet".to_owned() } else { known };
                self.err(
                    span,
                    name,
                    format!(
                        "unknown device `{name}`: expected a device registered or linked before this step ({known})"
                    ),
                );
                None
            }
        }
    }

    fn party(&mut self, span: Option<Span>, name: &str) -> Option<Party> {
        if name.contains('/') {
            self.device(span, name).map(Party::Device)
        } else {
            self.user(span, name).map(Party::User)
        }
    }

    fn message(&mut self, span: Option<Span>, name: &str, what: &str) -> Option<MessageId> {
        let m = MessageId(name.to_owned());
        if self.messages.contains(&m) {
            Some(m)
        } else {
            self.err(span, name, format!("unknown message `{name}`: expected the id of a message sent {what}"));
            None
        }
    }

    fn group(&mut self, span: Option<Span>, name: &str) -> Option<GroupId> {
        let g = GroupId(name.to_owned());
        if self.groups.contains_key(&g) {
            Some(g)
        } else {
            self.err(
                span,
                name,
                format!("unknown group `{name}`: expected a group created by an earlier `group` step"),
            );
            None
        }
    }

    fn new_name(&mut self, span: Option<Span>, name: &str, what: &str) -> bool {
        if valid_name(name) {
            true
        } else {
            self.err(
                span,
                name,
                format!("{what} `{name}` is not a valid name: expected lowercase letters, digits, `-` or `_`"),
            );
            false
        }
    }

    fn by(
        &mut self,
        span: Option<Span>,
        by: &Option<String>,
        default_user: Option<&UserId>,
        group: &GroupId,
        members: &[UserId],
    ) -> Option<DeviceAddr> {
        let name = match (by, default_user) {
            (Some(b), _) => b.clone(),
            (None, Some(u)) => u.0.clone(),
            (None, None) => {
                self.err(
                    span,
                    group.as_str(),
                    format!("group `{group}` has no member left to make this change: expected `by`"),
                );
                return None;
            }
        };
        let dev = self.device(span, &name)?;
        if !members.contains(&dev.user) {
            self.err(
                span,
                &name,
                format!("`{name}` is not a member of group `{group}`: expected a member to make the change"),
            );
            return None;
        }
        Some(dev)
    }

    fn action(&mut self, step: &Step, span: Option<Span>, iter: Option<u32>) -> Option<Action> {
        match step {
            Step::Register(s) => {
                let user = self.user(span, &s.user)?;
                if !self.new_name(span, &s.device, "device name") {
                    return None;
                }
                if self.devices.get(&user).is_some_and(|d| !d.is_empty()) {
                    self.err(
                        span,
                        &s.user,
                        format!("user `{user}` is already registered: expected `link` to add another device"),
                    );
                    return None;
                }
                self.devices.entry(user.clone()).or_default().push(s.device.clone());
                Some(Action::Register { device: DeviceAddr { user, device: s.device.clone() } })
            }
            Step::Link(s) => {
                let user = self.user(span, &s.user)?;
                if !self.new_name(span, &s.device, "device name") {
                    return None;
                }
                let devs = self.devices.entry(user.clone()).or_default();
                if devs.is_empty() {
                    self.err(
                        span,
                        &s.user,
                        format!("user `{user}` has no device yet: expected `register` before `link`"),
                    );
                    return None;
                }
                if devs.contains(&s.device)
                    || self.taken.contains(&DeviceAddr { user: user.clone(), device: s.device.clone() })
                {
                    self.err(
                        span,
                        &s.device,
                        format!("device `{user}/{}` already exists: expected a new device name", s.device),
                    );
                    return None;
                }
                devs.push(s.device.clone());
                Some(Action::Link { device: DeviceAddr { user, device: s.device.clone() } })
            }
            Step::Group(s) => {
                let id = subst(&s.id, iter);
                if !self.new_name(span, &id, "group id") {
                    return None;
                }
                let g = GroupId(id.clone());
                if self.groups.contains_key(&g) || self.users.contains(&UserId(id.clone())) {
                    self.err(span, &id, format!("`{id}` is already a user or group: expected a new group id"));
                    return None;
                }
                let mut members = Vec::new();
                for m in &s.members {
                    let u = self.user(span, m)?;
                    if members.contains(&u) {
                        self.err(span, m, format!("`{m}` is listed twice in the group's members"));
                        return None;
                    }
                    members.push(u);
                }
                let by = self.by(span, &s.by, members.first(), &g, &members)?;
                self.groups.insert(g.clone(), members.clone());
                Some(Action::CreateGroup { group: g, members, by })
            }
            Step::Add(s) | Step::Remove(s) => {
                let adding = matches!(step, Step::Add(_));
                let g = self.group(span, &subst(&s.group, iter))?;
                let user = self.user(span, &s.user)?;
                let members = self.groups.get(&g).cloned().unwrap_or_default();
                if adding == members.contains(&user) {
                    let msg = if adding {
                        format!("`{user}` is already a member of group `{g}`: expected a user not in it yet")
                    } else {
                        format!("`{user}` is not a member of group `{g}`: expected a current member")
                    };
                    self.err(span, &s.user, msg);
                    return None;
                }
                let remaining: Vec<UserId> = members.iter().filter(|m| **m != user).cloned().collect();
                let by = self.by(span, &s.by, remaining.first(), &g, &remaining)?;
                let list = self.groups.entry(g.clone()).or_default();
                if adding {
                    list.push(user.clone());
                    Some(Action::AddMember { group: g, user, by })
                } else {
                    list.retain(|m| *m != user);
                    Some(Action::RemoveMember { group: g, user, by })
                }
            }
            Step::Send(s) => {
                let id = subst(&s.id, iter);
                if !self.new_name(span, &id, "message id") {
                    return None;
                }
                let m = MessageId(id.clone());
                if self.messages.contains(&m) {
                    self.err(
                        span,
                        &id,
                        format!("message id `{id}` is used twice: expected a unique id (use `{{i}}` inside `repeat`)"),
                    );
                    return None;
                }
                // Known from here on, even if the rest of the step is wrong,
                // so later references to it do not cascade into more errors.
                self.messages.insert(m.clone());
                let from = self.device(span, &s.from)?;
                let to = if self.groups.contains_key(&GroupId(s.to.clone())) {
                    let g = GroupId(s.to.clone());
                    if !self.groups[&g].contains(&from.user) {
                        self.err(
                            span,
                            &s.to,
                            format!("`{}` is not a member of group `{g}`: expected a member to send", from.user),
                        );
                        return None;
                    }
                    Target::Group(g)
                } else if self.users.contains(&UserId(s.to.clone())) {
                    if s.to == from.user.0 {
                        self.err(
                            span,
                            &s.to,
                            format!("`{}` sends a message to themself: expected another user or a group in `to`", s.to),
                        );
                        return None;
                    }
                    Target::User(UserId(s.to.clone()))
                } else {
                    self.err(
                        span,
                        &s.to,
                        format!("unknown recipient `{}`: expected a user or a group created earlier", s.to),
                    );
                    return None;
                };
                if s.seized && !self.seized.contains(&from) {
                    self.err(
                        span,
                        &s.from,
                        format!(
                            "no `seize` of `{from}` comes before this step: expected one before a `seized: true` send"
                        ),
                    );
                    return None;
                }
                if s.hold {
                    self.held.insert(m.clone());
                }
                let body = s.body.as_ref().map(|b| subst(b, iter));
                Some(Action::Send { message: m, from, to, body, hold: s.hold, seized: s.seized })
            }
            Step::Deliver(s) => {
                let messages = match &s.messages {
                    None => None,
                    Some(list) => {
                        let mut out = Vec::new();
                        for m in list {
                            let m = self.message(span, &subst(m, iter), "before this step")?;
                            if !self.held.contains(&m) {
                                self.err(
                                    span,
                                    m.as_str(),
                                    format!("message `{m}` was not held: expected a message sent with `hold: true` to deliver"),
                                );
                                return None;
                            }
                            out.push(m);
                        }
                        Some(out)
                    }
                };
                let to = match &s.to {
                    None => None,
                    Some(p) => Some(self.party(span, p)?),
                };
                Some(Action::Deliver { messages, to })
            }
            Step::Ghost(s) => {
                let user = self.user(span, &s.user)?;
                if !self.new_name(span, &s.device, "device name") {
                    return None;
                }
                let addr = DeviceAddr { user: user.clone(), device: s.device.clone() };
                let exists = self.devices.get(&user).is_some_and(|d| d.contains(&s.device));
                if exists || !self.taken.insert(addr.clone()) {
                    self.err(
                        span,
                        &s.device,
                        format!("device `{addr}` already exists: expected a new name for the ghost"),
                    );
                    return None;
                }
                Some(Action::ServeGhost { device: addr })
            }
            Step::Substitute(s) => {
                let device = self.device(span, &s.device)?;
                let mut requesters = Vec::new();
                for u in &s.for_users {
                    let u = self.user(span, u)?;
                    if u == device.user {
                        self.err(span, u.as_str(), format!("`{u}` owns `{device}`: expected other users in `for`"));
                        return None;
                    }
                    requesters.push(u);
                }
                Some(Action::Substitute { device, requesters })
            }
            Step::ProviderAdd(s) => {
                let g = self.group(span, &subst(&s.group, iter))?;
                let user = self.user(span, &s.user)?;
                let members = self.groups.get(&g).cloned().unwrap_or_default();
                if members.contains(&user) || !self.provider_added.insert((g.clone(), user.clone())) {
                    self.err(
                        span,
                        &s.user,
                        format!("`{user}` is already a member of group `{g}`: expected someone outside it"),
                    );
                    return None;
                }
                Some(Action::ProviderAdd { group: g, user })
            }
            Step::Drop(s) => {
                let mut messages = Vec::new();
                for m in &s.messages {
                    let m = self.message(span, &subst(m, iter), "before this step")?;
                    if !self.held.contains(&m) {
                        self.err(
                            span,
                            m.as_str(),
                            format!("message `{m}` was not held: expected a message sent with `hold: true`"),
                        );
                        return None;
                    }
                    messages.push(m);
                }
                let to = match &s.to {
                    None => None,
                    Some(p) => Some(self.party(span, p)?),
                };
                Some(Action::Drop { messages, to })
            }
            Step::Replay(s) => {
                let message = self.message(span, &subst(&s.message, iter), "before this step")?;
                let to = match &s.to {
                    None => None,
                    Some(p) => Some(self.party(span, p)?),
                };
                Some(Action::Tamper { message, to, how: Tamper::Replay, with: None })
            }
            Step::Tamper(s) => {
                let message = self.message(span, &subst(&s.message, iter), "before this step")?;
                let to = match &s.to {
                    None => None,
                    Some(p) => Some(self.party(span, p)?),
                };
                let with = match (&s.with, s.how) {
                    (Some(w), Tamper::Splice) => Some(self.message(span, &subst(w, iter), "before this step")?),
                    (None, Tamper::Splice) => {
                        self.err(
                            span,
                            "splice",
                            "`how: splice` needs `with`: expected the message whose envelope gives the second half"
                                .to_owned(),
                        );
                        return None;
                    }
                    (Some(_), _) => {
                        self.err(span, "with", "`with` is only for `how: splice`".to_owned());
                        return None;
                    }
                    (None, _) => None,
                };
                if s.how == Tamper::Replay {
                    self.err(
                        span,
                        "replay",
                        "to replay, use the `replay` step: expected `flip`, `truncate`, `splice` or `forge`".to_owned(),
                    );
                    return None;
                }
                Some(Action::Tamper { message, to, how: s.how, with })
            }
            Step::Verify(s) => {
                let mut users = Vec::new();
                for u in &s.users {
                    let user = self.user(span, u)?;
                    if self.devices.get(&user).is_none_or(Vec::is_empty) {
                        self.err(span, u, format!("user `{u}` has no device yet: expected `register` before `verify`"));
                        return None;
                    }
                    if !users.contains(&user) {
                        users.push(user);
                    }
                }
                if users.len() < 2 {
                    self.err(span, "users", "`verify` needs at least two different users".to_owned());
                    return None;
                }
                Some(Action::Verify { users })
            }
            Step::WithholdPrekeys(s) => Some(Action::WithholdOneTime { user: self.user(span, &s.user)? }),
            Step::Seize(s) => {
                let device = self.device(span, &s.device)?;
                self.seized.insert(device.clone());
                Some(Action::Seize { device })
            }
            Step::Target(s) => match (&s.message, &s.text) {
                (Some(m), None) => {
                    let m = subst(m, iter);
                    self.later.push((span, m.clone()));
                    Some(Action::Target { content: TargetAim::Message(MessageId(m)) })
                }
                (None, Some(t)) if !t.trim().is_empty() => {
                    Some(Action::Target { content: TargetAim::Text(subst(t, iter)) })
                }
                _ => {
                    self.err(
                        span,
                        "target",
                        "`target` needs exactly one of `message` (exact content) or `text` (similar content)"
                            .to_owned(),
                    );
                    None
                }
            },
            Step::Compel(s) => Some(Action::Compel { role: s.role.clone() }),
            Step::Repeat(_) => None,
        }
    }

    fn expectation(&mut self, e: &ExpectationSrc, span: Option<Span>) -> Option<Expectation> {
        let message = self.message(span, &e.message, "in the vector")?;
        let mut parties =
            |list: &[String]| -> Option<Vec<Party>> { list.iter().map(|p| self.party(span, p)).collect() };
        let read_by = parties(&e.read_by)?;
        let not_read_by = parties(&e.not_read_by)?;
        if read_by.is_empty() && not_read_by.is_empty() && e.outcome.is_none() {
            self.err(span, "message", "an expectation needs `read_by`, `not_read_by` or `outcome`".to_owned());
            return None;
        }
        Some(Expectation { message, read_by, not_read_by, outcome: e.outcome, line: span.map(|s| s.line) })
    }
}
