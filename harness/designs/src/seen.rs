//! What a client has seen of its contacts, for the notices a careful
//! client shows (identity changed, device added or removed, member added or
//! removed). Shared by the pairwise designs (`ratchet` and its family,
//! `olm`, `megolm`), so they judge changes by the same rules.

use crate::persist::{pairs, Peer};
use doormat_engine::{DirectoryEntry, Event, EventKind};
use doormat_formats::UserId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a client remembers to tell its user about changes: identities per
/// device, devices per user, members per conversation. The first sighting
/// of a device, user or conversation is recorded silently (trust on first
/// use); every later difference is reported once.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Seen {
    #[serde(with = "pairs")]
    pub(crate) identities: BTreeMap<Peer, Vec<u8>>,
    devices: BTreeMap<String, BTreeSet<String>>,
    conversations: BTreeMap<String, BTreeSet<String>>,
    /// Users whose whole device list this client has been served; until
    /// then it knows only devices that wrote to it, and the first list it
    /// is served is first sight (trust on first use), not a change.
    #[serde(default)]
    listed: BTreeSet<String>,
}

impl Seen {
    pub(crate) fn identity(&mut self, peer: &Peer, identity: &[u8], events: &mut BTreeSet<Event>) {
        if let Some(old) = self.identities.insert(peer.clone(), identity.to_vec()) {
            if old != identity {
                events.insert(event(EventKind::IdentityChanged, peer));
            }
        }
    }

    /// The devices a directory served for an encryption.
    pub(crate) fn directory(&mut self, me: &Peer, entries: &[DirectoryEntry], events: &mut BTreeSet<Event>) {
        let mut served: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for e in entries {
            let peer = Peer::from(&e.device);
            if peer != *me {
                self.identity(&peer, &e.identity, events);
            }
            served.entry(peer.user).or_default().insert(peer.device);
        }
        if let Some(mine) = served.get_mut(&me.user) {
            mine.insert(me.device.clone());
        }
        for (user, now) in served {
            let first_list = self.listed.insert(user.clone());
            let Some(known) = self.devices.get(&user) else {
                self.devices.insert(user, now);
                continue;
            };
            if first_list {
                // Devices that wrote before the first list stay known.
                let mut all = now;
                all.extend(known.iter().cloned());
                self.devices.insert(user, all);
                continue;
            }
            for device in now.difference(known) {
                events.insert(event(EventKind::DeviceAdded, &Peer { user: user.clone(), device: device.clone() }));
            }
            for device in known.difference(&now) {
                let peer = Peer { user: user.clone(), device: device.clone() };
                events.insert(event(EventKind::DeviceRemoved, &peer));
            }
            self.devices.insert(user, now);
        }
    }

    /// The device a message authenticated as coming from.
    pub(crate) fn sender(&mut self, me: &Peer, peer: &Peer, identity: &[u8], events: &mut BTreeSet<Event>) {
        self.identity(peer, identity, events);
        match self.devices.get_mut(&peer.user) {
            Some(known) => {
                if known.insert(peer.device.clone()) {
                    events.insert(event(EventKind::DeviceAdded, peer));
                }
            }
            None => {
                let mut first = BTreeSet::from([peer.device.clone()]);
                if peer.user == me.user {
                    first.insert(me.device.clone());
                }
                self.devices.insert(peer.user.clone(), first);
            }
        }
    }

    /// A conversation's member list, as a request or a message states it.
    pub(crate) fn members(&mut self, conversation: &str, members: &[UserId], events: &mut BTreeSet<Event>) {
        let now: BTreeSet<String> = members.iter().map(|m| m.0.clone()).collect();
        if let Some(known) = self.conversations.get(conversation) {
            for user in now.difference(known) {
                events.insert(Event { kind: EventKind::MemberAdded, user: UserId(user.clone()), device: None });
            }
            for user in known.difference(&now) {
                events.insert(Event { kind: EventKind::MemberRemoved, user: UserId(user.clone()), device: None });
            }
        }
        self.conversations.insert(conversation.to_owned(), now);
    }
}

/// What an encryption holds back because its user is only now being told
/// about it: devices named by a "device added" or "identity changed"
/// notice, and every device of a user named by "member added", in the
/// notices `events` of this same operation. A notice shown while a message
/// goes out is too late to protect that message; the user sees it now, and
/// the next message (after the user has been told) goes to them.
#[derive(Debug, Default)]
pub(crate) struct Withheld {
    devices: BTreeSet<Peer>,
    users: BTreeSet<String>,
}

impl Withheld {
    pub(crate) fn from_events(events: &BTreeSet<Event>) -> Withheld {
        let mut w = Withheld::default();
        for e in events {
            match (e.kind, &e.device) {
                (EventKind::DeviceAdded | EventKind::IdentityChanged, Some(d)) => {
                    w.devices.insert(Peer::from(d));
                }
                (EventKind::MemberAdded, _) => {
                    w.users.insert(e.user.0.clone());
                }
                _ => {}
            }
        }
        w
    }

    /// Whether this operation must not encrypt to `peer`.
    pub(crate) fn holds(&self, peer: &Peer) -> bool {
        self.devices.contains(peer) || self.users.contains(&peer.user)
    }
}

/// A notice about one device.
pub(crate) fn event(kind: EventKind, peer: &Peer) -> Event {
    Event { kind, user: peer.user_id(), device: Some(peer.to_addr()) }
}
