//! The checker: turns a [`Vector`] into a [`Scenario`], resolving every
//! name (users, devices, groups, messages) against the steps before it,
//! expanding `repeat` and numbering the steps. Every error found is
//! reported, each with its file, line and column; a vector with any error
//! gives no scenario.

use super::{
    Action, DeliverStep, DropStep, Expectation, ExpectationSrc, GhostStep, GroupStep, LinkStep, MemberStep, Party,
    ProviderAddStep, RegisterStep, Scenario, ScenarioStep, SendStep, Step, SubstituteStep, Tamper, TamperStep, Target,
    TargetAim, TargetStep, Vector, VerifyStep,
};
use crate::error::{LoadError, LoadErrors};
use crate::ids::{valid_name, DeviceAddr, GroupId, MessageId, UserId};
use crate::locate::{self, Span};
use std::collections::{BTreeMap, BTreeSet};

/// Expanded steps allowed in one vector (guards against `repeat` blow-ups).
pub const MAX_STEPS: usize = 200_000;

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
            spans: BTreeMap::new(),
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
        let spans = if self.expect.is_empty() { None } else { locate::items(src, &[], "expect") };
        for (i, e) in self.expect.iter().enumerate() {
            let span = spans.as_ref().and_then(|s| s.get(i).copied());
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
    /// The items of each `steps:` list located so far, by the path of the
    /// step that holds it (empty: the top level), each list read once.
    spans: BTreeMap<Vec<usize>, Option<Vec<Span>>>,
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

    /// Where item `i` of the `steps:` list inside the step at `parent` is.
    fn step_span(&mut self, parent: &[usize], i: usize) -> Option<Span> {
        let src = self.src;
        let spans = self.spans.entry(parent.to_vec()).or_insert_with(|| {
            let p: Vec<(&str, usize)> = parent.iter().map(|&k| ("steps", k)).collect();
            locate::items(src, &p, "steps")
        });
        spans.as_ref().and_then(|s| s.get(i).copied())
    }

    fn walk(&mut self, steps: &[Step], path: &mut Vec<usize>, iter: Option<u32>) {
        for (i, step) in steps.iter().enumerate() {
            if self.steps.len() > MAX_STEPS {
                return;
            }
            let span = self.step_span(path, i);
            path.push(i);
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
            Step::Register(s) => self.register(s, span),
            Step::Link(s) => self.link(s, span),
            Step::Group(s) => self.create_group(s, span, iter),
            Step::Add(s) => self.change_member(s, true, span, iter),
            Step::Remove(s) => self.change_member(s, false, span, iter),
            Step::Send(s) => self.send(s, span, iter),
            Step::Deliver(s) => self.deliver(s, span, iter),
            Step::Ghost(s) => self.ghost(s, span),
            Step::Substitute(s) => self.substitute(s, span),
            Step::ProviderAdd(s) => self.provider_add(s, span, iter),
            Step::Drop(s) => self.drop_held(s, span, iter),
            Step::Replay(s) => {
                let message = self.message(span, &subst(&s.message, iter), "before this step")?;
                let to = self.recipient(span, &s.to)?;
                Some(Action::Tamper { message, to, how: Tamper::Replay, with: None })
            }
            Step::Tamper(s) => self.tamper(s, span, iter),
            Step::Verify(s) => self.verify(s, span),
            Step::Gossip(s) => {
                let mut users = Vec::new();
                for u in &s.users {
                    let user = self.user(span, u)?;
                    if !users.contains(&user) {
                        users.push(user);
                    }
                }
                Some(Action::Gossip { users })
            }
            Step::WithholdPrekeys(s) => Some(Action::WithholdOneTime { user: self.user(span, &s.user)? }),
            Step::Seize(s) => {
                let device = self.device(span, &s.device)?;
                self.seized.insert(device.clone());
                Some(Action::Seize { device })
            }
            Step::Target(s) => self.target(s, span, iter),
            Step::Compel(s) => Some(Action::Compel { role: s.role.clone() }),
            Step::Repeat(_) => None,
        }
    }

    /// `to` of a step that may be limited to a user or a device: `Some(None)`
    /// when it is not, `None` when the name does not resolve.
    fn recipient(&mut self, span: Option<Span>, to: &Option<String>) -> Option<Option<Party>> {
        match to {
            None => Some(None),
            Some(p) => Some(Some(self.party(span, p)?)),
        }
    }

    fn register(&mut self, s: &RegisterStep, span: Option<Span>) -> Option<Action> {
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

    fn link(&mut self, s: &LinkStep, span: Option<Span>) -> Option<Action> {
        let user = self.user(span, &s.user)?;
        if !self.new_name(span, &s.device, "device name") {
            return None;
        }
        let devs = self.devices.entry(user.clone()).or_default();
        if devs.is_empty() {
            self.err(span, &s.user, format!("user `{user}` has no device yet: expected `register` before `link`"));
            return None;
        }
        if devs.contains(&s.device) || self.taken.contains(&DeviceAddr { user: user.clone(), device: s.device.clone() })
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

    fn create_group(&mut self, s: &GroupStep, span: Option<Span>, iter: Option<u32>) -> Option<Action> {
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

    /// `add` (`adding`) or `remove`.
    fn change_member(&mut self, s: &MemberStep, adding: bool, span: Option<Span>, iter: Option<u32>) -> Option<Action> {
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

    fn send(&mut self, s: &SendStep, span: Option<Span>, iter: Option<u32>) -> Option<Action> {
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
        let to = self.send_target(s, span, &from)?;
        if s.seized && !self.seized.contains(&from) {
            self.err(
                span,
                &s.from,
                format!("no `seize` of `{from}` comes before this step: expected one before a `seized: true` send"),
            );
            return None;
        }
        if s.hold {
            self.held.insert(m.clone());
        }
        let body = s.body.as_ref().map(|b| subst(b, iter));
        Some(Action::Send { message: m, from, to, body, hold: s.hold, seized: s.seized })
    }

    /// Where a `send` from `from` goes: a group it is in, or another user.
    fn send_target(&mut self, s: &SendStep, span: Option<Span>, from: &DeviceAddr) -> Option<Target> {
        if self.groups.contains_key(&GroupId(s.to.clone())) {
            let g = GroupId(s.to.clone());
            if !self.groups[&g].contains(&from.user) {
                self.err(
                    span,
                    &s.to,
                    format!("`{}` is not a member of group `{g}`: expected a member to send", from.user),
                );
                return None;
            }
            Some(Target::Group(g))
        } else if self.users.contains(&UserId(s.to.clone())) {
            if s.to == from.user.0 {
                self.err(
                    span,
                    &s.to,
                    format!("`{}` sends a message to themself: expected another user or a group in `to`", s.to),
                );
                return None;
            }
            Some(Target::User(UserId(s.to.clone())))
        } else {
            self.err(span, &s.to, format!("unknown recipient `{}`: expected a user or a group created earlier", s.to));
            None
        }
    }

    fn deliver(&mut self, s: &DeliverStep, span: Option<Span>, iter: Option<u32>) -> Option<Action> {
        let messages = match &s.messages {
            None => None,
            Some(list) => {
                Some(list.iter().map(|m| self.held_message(span, m, iter, " to deliver")).collect::<Option<_>>()?)
            }
        };
        let to = self.recipient(span, &s.to)?;
        Some(Action::Deliver { messages, to })
    }

    fn ghost(&mut self, s: &GhostStep, span: Option<Span>) -> Option<Action> {
        let user = self.user(span, &s.user)?;
        if !self.new_name(span, &s.device, "device name") {
            return None;
        }
        let addr = DeviceAddr { user: user.clone(), device: s.device.clone() };
        let exists = self.devices.get(&user).is_some_and(|d| d.contains(&s.device));
        if exists || !self.taken.insert(addr.clone()) {
            self.err(span, &s.device, format!("device `{addr}` already exists: expected a new name for the ghost"));
            return None;
        }
        Some(Action::ServeGhost { device: addr })
    }

    fn substitute(&mut self, s: &SubstituteStep, span: Option<Span>) -> Option<Action> {
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
        Some(Action::Substitute { device, requesters, strategy: s.strategy })
    }

    fn provider_add(&mut self, s: &ProviderAddStep, span: Option<Span>, iter: Option<u32>) -> Option<Action> {
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

    fn drop_held(&mut self, s: &DropStep, span: Option<Span>, iter: Option<u32>) -> Option<Action> {
        let messages = s.messages.iter().map(|m| self.held_message(span, m, iter, "")).collect::<Option<_>>()?;
        let to = self.recipient(span, &s.to)?;
        Some(Action::Drop { messages, to })
    }

    /// Message `name` as a step that acts on held envelopes names it: one
    /// sent earlier with `hold: true`; `purpose` ends the error's
    /// expectation.
    fn held_message(&mut self, span: Option<Span>, name: &str, iter: Option<u32>, purpose: &str) -> Option<MessageId> {
        let m = self.message(span, &subst(name, iter), "before this step")?;
        if !self.held.contains(&m) {
            self.err(
                span,
                m.as_str(),
                format!("message `{m}` was not held: expected a message sent with `hold: true`{purpose}"),
            );
            return None;
        }
        Some(m)
    }

    fn tamper(&mut self, s: &TamperStep, span: Option<Span>, iter: Option<u32>) -> Option<Action> {
        let message = self.message(span, &subst(&s.message, iter), "before this step")?;
        let to = self.recipient(span, &s.to)?;
        let with = match (&s.with, s.how) {
            (Some(w), Tamper::Splice) => Some(self.message(span, &subst(w, iter), "before this step")?),
            (None, Tamper::Splice) => {
                self.err(
                    span,
                    "splice",
                    "`how: splice` needs `with`: expected the message whose envelope gives the second half".to_owned(),
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

    fn verify(&mut self, s: &VerifyStep, span: Option<Span>) -> Option<Action> {
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

    fn target(&mut self, s: &TargetStep, span: Option<Span>, iter: Option<u32>) -> Option<Action> {
        match (&s.message, &s.text) {
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
                    "`target` needs exactly one of `message` (exact content) or `text` (similar content)".to_owned(),
                );
                None
            }
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
