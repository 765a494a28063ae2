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

/// The provider's state.
#[derive(Debug, Default)]
pub struct Provider {
    directory: BTreeMap<UserId, Vec<Listing>>,
    first_contact: BTreeSet<(DeviceAddr, DeviceAddr)>,
    /// Envelopes stored, in submission order.
    pub envelopes: Vec<StoredEnvelope>,
    /// Pending deliveries: (envelope, addressee), in arrival order.
    pub pending: Vec<(usize, DeviceAddr)>,
    /// The provider view.
    pub view: Vec<Record>,
}

impl Provider {
    /// Stores a device's bundle in the directory and records it.
    pub fn publish(&mut self, step: usize, device: &DeviceAddr, bundle: Bundle) {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&bundle.identity);
        bytes.extend_from_slice(&bundle.prekey);
        for o in &bundle.one_time {
            bytes.extend_from_slice(o);
        }
        self.record(step, RecordKind::Bundle { device: device.clone() }, bytes);
        let list = self.directory.entry(device.user.clone()).or_default();
        let listing = Listing { device: device.clone(), bundle, next_one_time: 0 };
        match list.iter_mut().find(|l| l.device == *device) {
            Some(l) => *l = listing,
            None => list.push(listing),
        }
    }

    /// The directory entries of `user`'s devices as served to `requester`;
    /// a one-time item is handed out on the requester's first contact with
    /// each device, while any last.
    pub fn serve(&mut self, requester: &DeviceAddr, user: &UserId) -> Vec<DirectoryEntry> {
        let Some(list) = self.directory.get_mut(user) else { return Vec::new() };
        let mut out = Vec::new();
        for l in list.iter_mut() {
            if l.device == *requester {
                continue;
            }
            let first = self.first_contact.insert((requester.clone(), l.device.clone()));
            let one_time = if first && l.next_one_time < l.bundle.one_time.len() {
                l.next_one_time += 1;
                Some(l.bundle.one_time[l.next_one_time - 1].clone())
            } else {
                None
            };
            out.push(DirectoryEntry {
                device: l.device.clone(),
                identity: l.bundle.identity.clone(),
                prekey: l.bundle.prekey.clone(),
                one_time,
            });
        }
        out
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
        assert_eq!(first[0].one_time, Some(vec![3]));
        assert_eq!(p.serve(&alice, &bob.user)[0].one_time, None);
        assert_eq!(p.serve(&carol, &bob.user)[0].one_time, Some(vec![4]));
        assert!(p.serve(&bob, &bob.user).is_empty());
        assert_eq!(p.view.len(), 1);
        assert_eq!(p.view[0].bytes, vec![1, 2, 3, 4]);
    }
}
