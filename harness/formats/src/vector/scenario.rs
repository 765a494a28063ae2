//! A checked vector: the [`Scenario`] the engine runs, with every name
//! resolved to an id, `repeat` expanded and each step numbered.

use super::{Outcome, Tamper};
use crate::ids::{DeviceAddr, GroupId, MessageId, UserId};
use serde::Deserialize;

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
    /// With a design that declares a key service, `strategy` says how the
    /// provider lies with it (`None`: the vector names none).
    Substitute { device: DeviceAddr, requesters: Vec<UserId>, strategy: Option<StrategyChoice> },
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
    /// `users`' devices (everyone's when empty) compare their view of the
    /// design's key directory with an auditor's.
    Gossip { users: Vec<UserId> },
}

/// How a provider that runs a design's key service makes a move that
/// touches keys (see the vectors README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Put the false key in the directory, for everyone to see.
    Publish,
    /// Serve the false key with a proof made for a directory state no
    /// client was ever shown.
    Forge,
    /// Keep two directories: the one with the false key for the users
    /// served it, the honest one for everyone else and the auditor.
    SplitView,
}

impl Strategy {
    /// Every strategy, in the order of the enum.
    pub const ALL: [Strategy; 3] = [Strategy::Publish, Strategy::Forge, Strategy::SplitView];

    /// Its name in vectors and reports.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Publish => "publish",
            Strategy::Forge => "forge",
            Strategy::SplitView => "split-view",
        }
    }
}

/// A vector's `strategy`: one, or each as its own run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StrategyChoice {
    /// This one.
    One(Strategy),
    /// `all`: each strategy, as its own run.
    All(AllStrategies),
}

/// The word `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AllStrategies {
    /// `all`.
    All,
}

impl<'de> Deserialize<'de> for StrategyChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        if word == "all" {
            return Ok(StrategyChoice::All(AllStrategies::All));
        }
        Strategy::ALL.into_iter().find(|s| s.name() == word).map(StrategyChoice::One).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown strategy `{word}`: expected one of `publish`, `forge`, `split-view`, `all`"
            ))
        })
    }
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
