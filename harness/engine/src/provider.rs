//! The simulated provider: a directory of device lists and bundles, and a
//! mailbox of per-device queues. It records every byte that passes through
//! it, in order, as the provider view.
//!
//! **Invariant:** the provider view ([`Record`]s) holds exactly what a real
//! server would see: published bundles and submitted envelopes with their
//! routing metadata. It holds no ground truth.

use crate::adapter::{Bundle, DirectoryEntry};
use doormat_formats::{DeviceAddr, UserId};
use std::collections::{BTreeMap, BTreeSet};

/// What kind of bytes a record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKind {
    /// A device published its bundle (identity, prekey, one-time items, concatenated).
    Bundle {
        /// The publishing device.
        device: DeviceAddr,
    },
    /// A device submitted an envelope.
    Envelope {
        /// Index into the run's envelopes.
        envelope: usize,
    },
}

/// One entry of the provider view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the view, from 0.
    pub seq: usize,
    /// Step during which it arrived.
    pub step: usize,
    /// What it is.
    pub kind: RecordKind,
    /// The bytes the provider saw.
    pub bytes: Vec<u8>,
}

/// An envelope as the provider stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEnvelope {
    /// Step of submission.
    pub step: usize,
    /// Submitting device.
    pub from: DeviceAddr,
    /// Addressees, as the sender asked.
    pub to: Vec<DeviceAddr>,
    /// Conversation id.
    pub conversation: String,
    /// Bytes.
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Listing {
    device: DeviceAddr,
    bundle: Bundle,
    next_one_time: usize,
}

impl Listing {
    fn new(device: &DeviceAddr, bundle: Bundle) -> Self {
        Listing { device: device.clone(), bundle, next_one_time: 0 }
    }

    /// The entry served to `requester`; a one-time item on first contact.
    fn entry(&mut self, first_contact: bool) -> DirectoryEntry {
        let one_time = if first_contact && self.next_one_time < self.bundle.one_time.len() {
            self.next_one_time += 1;
            Some(self.bundle.one_time[self.next_one_time - 1].clone())
        } else {
            None
        };
        DirectoryEntry {
            device: self.device.clone(),
            identity: self.bundle.identity.clone(),
            prekey: self.bundle.prekey.clone(),
            one_time,
            proof: None,
        }
    }
}

/// Whether a served directory entry is what the user enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Served {
    /// The device's own keys.
    Genuine,
    /// A device the provider added to the user's list.
    Ghost,
    /// The provider's impostor in place of the device.
    Impostor,
}

#[derive(Debug, Clone)]
struct Substitution {
    listing: Listing,
    /// Users served the impostor; empty: everyone but the owner.
    requesters: Vec<UserId>,
}

impl Substitution {
    fn applies_to(&self, requester: &UserId) -> bool {
        if self.requesters.is_empty() {
            *requester != self.listing.device.user
        } else {
            self.requesters.contains(requester)
        }
    }
}

/// The provider's state.
#[derive(Debug, Default)]
pub struct Provider {
    directory: BTreeMap<UserId, Vec<Listing>>,
    ghosts: Vec<Listing>,
    substitutions: BTreeMap<DeviceAddr, Substitution>,
    first_contact: BTreeSet<(DeviceAddr, DeviceAddr, Served)>,
    /// Users whose devices are served without one-time items.
    withheld: BTreeSet<UserId>,
    /// (sender, device) pairs whose envelopes go to the impostor.
    diverted: BTreeSet<(DeviceAddr, DeviceAddr)>,
    /// Envelopes stored, in submission order.
    pub envelopes: Vec<StoredEnvelope>,
    /// Pending deliveries: (envelope, addressee), in arrival order.
    pub pending: Vec<(usize, DeviceAddr)>,
    /// The provider view.
    pub view: Vec<Record>,
}

fn bundle_bytes(bundle: &Bundle) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&bundle.identity);
    bytes.extend_from_slice(&bundle.prekey);
    for o in &bundle.one_time {
        bytes.extend_from_slice(o);
    }
    bytes
}

impl Provider {
    /// Stores a device's bundle in the directory and records it.
    pub fn publish(&mut self, step: usize, device: &DeviceAddr, bundle: Bundle) {
        self.record(step, RecordKind::Bundle { device: device.clone() }, bundle_bytes(&bundle));
        let list = self.directory.entry(device.user.clone()).or_default();
        let listing = Listing::new(device, bundle);
        match list.iter_mut().find(|l| l.device == *device) {
            Some(l) => *l = listing,
            None => list.push(listing),
        }
    }

    /// From now on, serves `device` (a device the provider made) in its
    /// user's list to everyone but that user's own devices.
    pub fn add_ghost(&mut self, step: usize, device: &DeviceAddr, bundle: Bundle) {
        self.record(step, RecordKind::Bundle { device: device.clone() }, bundle_bytes(&bundle));
        self.ghosts.push(Listing::new(device, bundle));
    }

    /// From now on, serves the impostor's `bundle` in place of `device`'s
    /// to `requesters` (everyone but the owner when empty).
    pub fn substitute(&mut self, step: usize, device: &DeviceAddr, bundle: Bundle, requesters: Vec<UserId>) {
        self.record(step, RecordKind::Bundle { device: device.clone() }, bundle_bytes(&bundle));
        self.substitutions.insert(device.clone(), Substitution { listing: Listing::new(device, bundle), requesters });
    }

    /// From now on, serves `user`'s devices without their one-time items,
    /// as when they ran out: sessions start on the prekey alone.
    pub fn withhold_one_time(&mut self, user: &UserId) {
        self.withheld.insert(user.clone());
    }

    /// The directory entries of `user`'s devices as served to `requester`,
    /// each marked genuine or not; a one-time item is handed out on the
    /// requester's first contact with each served key, while any last.
    pub fn serve(&mut self, requester: &DeviceAddr, user: &UserId) -> Vec<(DirectoryEntry, Served)> {
        let mut out = Vec::new();
        let devices: Vec<DeviceAddr> =
            self.directory.get(user).map(|l| l.iter().map(|x| x.device.clone()).collect()).unwrap_or_default();
        for device in devices {
            if device == *requester {
                continue;
            }
            if let Some(sub) = self.substitutions.get_mut(&device) {
                if sub.applies_to(&requester.user) {
                    let first = self.first_contact.insert((requester.clone(), device.clone(), Served::Impostor));
                    out.push((sub.listing.entry(first), Served::Impostor));
                    self.diverted.insert((requester.clone(), device));
                    continue;
                }
            }
            let first = self.first_contact.insert((requester.clone(), device.clone(), Served::Genuine));
            let one_time = first && !self.withheld.contains(user);
            if let Some(l) = self.directory.get_mut(user).and_then(|l| l.iter_mut().find(|l| l.device == device)) {
                out.push((l.entry(one_time), Served::Genuine));
            }
        }
        if requester.user != *user {
            for g in self.ghosts.iter_mut().filter(|g| g.device.user == *user) {
                let first = self.first_contact.insert((requester.clone(), g.device.clone(), Served::Ghost));
                out.push((g.entry(first), Served::Ghost));
            }
        }
        out
    }

    /// Whether envelopes from `sender` to `device` go to the impostor.
    pub fn is_diverted(&self, sender: &DeviceAddr, device: &DeviceAddr) -> bool {
        self.diverted.contains(&(sender.clone(), device.clone()))
    }

    /// Stores and records a submitted envelope and queues it for each
    /// addressee; returns its index.
    pub fn submit(&mut self, env: StoredEnvelope) -> usize {
        let idx = self.envelopes.len();
        self.record(env.step, RecordKind::Envelope { envelope: idx }, env.body.clone());
        for to in &env.to {
            self.pending.push((idx, to.clone()));
        }
        self.envelopes.push(env);
        idx
    }

    /// Removes and returns the pending deliveries `select` accepts, in
    /// queue order.
    pub fn take(&mut self, mut select: impl FnMut(usize, &DeviceAddr) -> bool) -> Vec<(usize, DeviceAddr)> {
        let (taken, kept) = std::mem::take(&mut self.pending).into_iter().partition(|(e, d)| select(*e, d));
        self.pending = kept;
        taken
    }

    fn record(&mut self, step: usize, kind: RecordKind, bytes: Vec<u8>) {
        let seq = self.view.len();
        self.view.push(Record { seq, step, kind, bytes });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_items_are_served_once_per_requester() {
        let mut p = Provider::default();
        let bob = DeviceAddr::new("bob", "phone");
        let alice = DeviceAddr::new("alice", "phone");
        let carol = DeviceAddr::new("carol", "phone");
        p.publish(1, &bob, Bundle { identity: vec![1], prekey: vec![2], one_time: vec![vec![3], vec![4]] });
        let first = p.serve(&alice, &bob.user);
        assert_eq!(first[0].0.one_time, Some(vec![3]));
        assert_eq!(p.serve(&alice, &bob.user)[0].0.one_time, None);
        assert_eq!(p.serve(&carol, &bob.user)[0].0.one_time, Some(vec![4]));
        assert!(p.serve(&bob, &bob.user).is_empty());
        assert_eq!(p.view.len(), 1);
        assert_eq!(p.view[0].bytes, vec![1, 2, 3, 4]);
    }

    #[test]
    fn ghosts_and_impostors_are_served_to_the_right_requesters() {
        let mut p = Provider::default();
        let bob = DeviceAddr::new("bob", "phone");
        let bob_laptop = DeviceAddr::new("bob", "laptop");
        let alice = DeviceAddr::new("alice", "phone");
        let carol = DeviceAddr::new("carol", "phone");
        p.publish(1, &bob, Bundle { identity: vec![1], ..Bundle::default() });
        p.publish(1, &bob_laptop, Bundle { identity: vec![2], ..Bundle::default() });
        p.add_ghost(2, &DeviceAddr::new("bob", "ghost"), Bundle { identity: vec![9], ..Bundle::default() });
        p.substitute(3, &bob, Bundle { identity: vec![7], ..Bundle::default() }, vec![UserId::from("alice")]);
        let to_alice: Vec<(Vec<u8>, Served)> =
            p.serve(&alice, &bob.user).into_iter().map(|(e, s)| (e.identity, s)).collect();
        assert_eq!(to_alice, vec![(vec![7], Served::Impostor), (vec![2], Served::Genuine), (vec![9], Served::Ghost)]);
        assert!(p.is_diverted(&alice, &bob));
        let to_carol: Vec<Served> = p.serve(&carol, &bob.user).into_iter().map(|(_, s)| s).collect();
        assert_eq!(to_carol, vec![Served::Genuine, Served::Genuine, Served::Ghost]);
        assert!(!p.is_diverted(&carol, &bob));
        // Bob's own devices see neither the ghost nor the impostor.
        let to_bob: Vec<Vec<u8>> = p.serve(&bob_laptop, &bob.user).into_iter().map(|(e, _)| e.identity).collect();
        assert_eq!(to_bob, vec![vec![1]]);
        assert_eq!(p.view.len(), 4);
    }
}
