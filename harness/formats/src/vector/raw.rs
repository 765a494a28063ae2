//! The raw schema of a vector file: the types `serde` reads, field for
//! field as written, before any name is resolved. Unknown fields are
//! refused everywhere.
//!
//! The step list is an externally tagged enum (`- send: {...}`), so new moves
//! (provider attacks, state seizure) are new variants, never a format break.

use serde::{Deserialize, Serialize};

use super::scenario::StrategyChoice;

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
    /// Devices compare their view of the design's key directory with an
    /// auditor's.
    Gossip(GossipStep),
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
    /// With a design that declares a key service: `publish`, `forge`,
    /// `split-view` or `all`.
    #[serde(default)]
    pub strategy: Option<StrategyChoice>,
}

/// `gossip: {users}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GossipStep {
    /// Users whose devices compare their key directory with the auditor's
    /// (default: everyone's).
    #[serde(default)]
    pub users: Vec<String>,
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
