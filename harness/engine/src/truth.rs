//! Ground truth: what really happened, kept apart from what the provider
//! serves. Oracles judge observations against this.
//!
//! **Invariant:** nothing here is ever shown to a device; a design cannot
//! learn which envelope carries which message or who the legitimate readers
//! are.

use doormat_formats::{DeviceAddr, GroupId, MessageId, UserId};
use std::collections::{BTreeMap, BTreeSet};

/// A device a user really enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// Step at which the user enrolled it.
    pub step: usize,
    /// The identity it published (what users compare when they verify).
    pub identity: Vec<u8>,
}

/// One message as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTruth {
    /// The vector's id for it.
    pub id: MessageId,
    /// Step of the send.
    pub step: usize,
    /// The sending device.
    pub from: DeviceAddr,
    /// The conversation.
    pub conversation: String,
    /// Members of the conversation at send time.
    pub members: Vec<UserId>,
    /// The exact plaintext handed to the sender.
    pub plaintext: Vec<u8>,
    /// Its canary.
    pub canary: [u8; crate::canary::LEN],
    /// Devices that must read it: every device enrolled, at send time, by a
    /// member, except the sending device.
    pub intended: BTreeSet<DeviceAddr>,
    /// Envelopes the sender emitted for it (indexes into `Run::envelopes`).
    pub envelopes: Vec<usize>,
    /// Set when the seized copy of `from` sent it (index into
    /// `Run::seizures`), not the device's owner: no delivery is owed, and
    /// a recipient that accepts it after the owner healed shows the copy
    /// can still speak as the device.
    pub forged_by: Option<usize>,
}

impl MessageTruth {
    /// Whether `d` may legitimately read this message: an intended reader or
    /// the sender itself.
    pub fn may_read(&self, d: &DeviceAddr) -> bool {
        self.intended.contains(d) || *d == self.from
    }
}

/// Everything the harness knows that the provider view does not show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Truth {
    /// Devices users really enrolled.
    pub enrolled: BTreeMap<DeviceAddr, Enrolled>,
    /// Group membership over time: (step, members after that step).
    pub groups: BTreeMap<GroupId, Vec<(usize, Vec<UserId>)>>,
    /// Messages in send order.
    pub messages: Vec<MessageTruth>,
    /// Which message each envelope was emitted for.
    pub envelope_message: BTreeMap<usize, usize>,
}

impl Truth {
    /// Devices `user` has enrolled so far.
    pub fn devices_of<'a>(&'a self, user: &'a UserId) -> impl Iterator<Item = &'a DeviceAddr> + 'a {
        self.enrolled.keys().filter(move |d| d.user == *user)
    }

    /// Current members of a group.
    pub fn members(&self, g: &GroupId) -> Vec<UserId> {
        self.groups.get(g).and_then(|h| h.last()).map(|(_, m)| m.clone()).unwrap_or_default()
    }

    /// The message with this id.
    pub fn message(&self, id: &MessageId) -> Option<(usize, &MessageTruth)> {
        self.messages.iter().enumerate().find(|(_, m)| m.id == *id)
    }
}
