//! What a run leaves for the oracles: the [`Run`] and its records (reads,
//! deliveries, notices shown, failed operations, the provider's changes
//! and the sends exposed to them, seizures). Plain data: the runner builds
//! it, everything after only reads it.

use crate::adapter::{Capabilities, Event, ImplError};
use crate::provider::{Record, StoredEnvelope};
use crate::truth::Truth;
use doormat_formats::{DeviceAddr, GroupId, Scenario, Tamper, UserId};
use std::collections::BTreeSet;

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
