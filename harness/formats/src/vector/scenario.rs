//! A checked vector: the [`Scenario`] the engine runs, with every name
//! resolved to an id, `repeat` expanded and each step numbered.

use super::{Outcome, Tamper};
use crate::ids::{DeviceAddr, GroupId, MessageId, UserId};

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
