//! `kt-ratchet`: the `ratchet` design with key transparency, the answer
//! deployed messengers give to the provider that serves false keys on first
//! contact. Every byte on the wire is `ratchet`'s (it wraps a
//! [`RatchetDevice`] made under the name `kt-ratchet`); what it adds is the
//! provider's key directory ([`crate::kt`], akd in WhatsApp's configuration)
//! and three checks, none of which asks anything of the users:
//!
//! - **Lookups.** A client encrypts only to served devices whose entry
//!   carries a lookup proof that holds against the directory head it holds
//!   and proves the served identity under the device's address
//!   ([`crate::kt::verify_lookup`]). An entry without a proof, or whose
//!   proof fails, gets nothing: a forged proof is refused.
//! - **Monitoring.** After every epoch each device checks the proof of its
//!   own address's key history ([`crate::kt::verify_history`]) and shows its
//!   user a notice ([`EventKind::KeyNotMine`]) for every key it never
//!   published: a false key the provider put in the directory is seen by
//!   its owner, from the epoch it appears in.
//! - **Gossip.** Given the heads an auditor holds (each epoch's append-only
//!   proof checked, [`crate::kt::verify_audit`]), a device compares the
//!   root of its own epoch and shows [`EventKind::ViewSplit`] when they
//!   differ: a provider that shows it a directory of its own is caught at
//!   the first comparison.
//!
//! What it does not do: detection needs the owner's device to receive the
//! heads (online), a split view needs a comparison with the auditor (a
//! `gossip` step), and a device the provider adds under a new address in
//! a user's account is published under that new address, which no device
//! of the user monitors (see the spec's limits).
//!
//! A head is the directory's VRF public key (32 bytes), the epoch (8 bytes,
//! little-endian) and the root (32 bytes); the auditor's answer is the VRF
//! key and every epoch's root from epoch 0.
//!
//! **Invariants:** all messaging cryptography, randomness, state handling
//! and refusal of bad envelopes are `ratchet`'s; this wrapper only removes
//! recipients whose proof fails and adds the directory's notices. A seized
//! state is ratchet's (the directory head is public).

use std::collections::BTreeSet;

use crate::kt::{verify_audit, verify_history, verify_lookup, Epoch, KeyDirectory, KtError, Root};
use crate::ratchet::RatchetDevice;
use doormat_engine::adapter::Seed;
use doormat_engine::{
    Bundle, Design, Device, DirectoryEntry, DirectoryUpdate, EncryptRequest, Event, EventKind, ImplError, InEnvelope,
    KeyService, Received, Sent, UserAction,
};
use doormat_formats::DeviceAddr;

const NAME: &str = "kt-ratchet";

/// The `kt-ratchet` design.
#[derive(Debug, Clone, Copy, Default)]
pub struct KtRatchet;

impl Design for KtRatchet {
    exportable_design!(NAME, crate::primitives::boxed());

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(KtDevice::new(addr, RatchetDevice::create(NAME, addr, seed)?)))
    }

    fn import_device(&self, addr: &DeviceAddr, state: &[u8]) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(KtDevice::new(addr, RatchetDevice::import(NAME, state)?)))
    }

    fn key_service(&self, seed: Seed) -> Result<Option<Box<dyn KeyService>>, ImplError> {
        let dir = KeyDirectory::new(seed).map_err(service_error)?;
        Ok(Some(Box::new(Directory { dir })))
    }
}

/// The provider's directory, as the design asks the provider to run it.
struct Directory {
    dir: KeyDirectory,
}

fn service_error(e: KtError) -> ImplError {
    ImplError::Failed(format!("key directory: {e}"))
}

fn label(device: &DeviceAddr) -> String {
    device.to_string()
}

impl Directory {
    fn roots(&self) -> Vec<Root> {
        (0..=self.dir.epoch()).filter_map(|e| self.dir.root(e)).collect()
    }
}

impl KeyService for Directory {
    fn publish(&mut self, keys: &[(DeviceAddr, Vec<u8>)]) -> Result<(), ImplError> {
        let updates: Vec<(String, Vec<u8>)> = keys.iter().map(|(d, k)| (label(d), k.clone())).collect();
        self.dir.publish(&updates).map(|_| ()).map_err(service_error)
    }

    fn head(&self) -> Vec<u8> {
        let epoch = self.dir.epoch();
        Head { vrf: self.dir.vrf_public_key(), epoch, root: self.dir.root(epoch).unwrap_or_default() }.to_bytes()
    }

    fn lookup(&self, device: &DeviceAddr) -> Result<Vec<u8>, ImplError> {
        self.dir.lookup(&label(device)).map(|a| a.proof).map_err(service_error)
    }

    fn history(&self, device: &DeviceAddr) -> Result<Vec<u8>, ImplError> {
        self.dir.key_history(&label(device)).map(|a| a.proof).map_err(service_error)
    }

    /// The auditor's heads: every epoch's root, each checked to extend the
    /// one before with the directory's append-only proof.
    fn audited(&self) -> Result<Vec<u8>, ImplError> {
        let roots = self.roots();
        for e in 1..roots.len() {
            let from = (e - 1) as Epoch;
            let proof = self.dir.audit(from, from + 1).map_err(service_error)?;
            verify_audit(&roots[e - 1..=e], &proof).map_err(service_error)?;
        }
        let mut out = self.dir.vrf_public_key().to_vec();
        for r in &roots {
            out.extend_from_slice(r);
        }
        Ok(out)
    }

    fn branch(&self) -> Result<Box<dyn KeyService>, ImplError> {
        let dir = self.dir.branch(self.dir.epoch()).map_err(service_error)?;
        Ok(Box::new(Directory { dir }))
    }
}

/// What a client holds of the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    vrf: [u8; 32],
    epoch: Epoch,
    root: Root,
}

impl Head {
    fn to_bytes(self) -> Vec<u8> {
        [&self.vrf[..], &self.epoch.to_le_bytes(), &self.root].concat()
    }

    fn parse(b: &[u8]) -> Result<Head, ImplError> {
        let (Some(vrf), Some(epoch), Some(root)) =
            (b.get(..32), b.get(32..40), b.get(40..72).filter(|_| b.len() == 72))
        else {
            return Err(ImplError::Rejected(format!("a directory head is 72 bytes, not {}", b.len())));
        };
        let array = |s: &[u8]| <[u8; 32]>::try_from(s).unwrap_or_default();
        Ok(Head { vrf: array(vrf), epoch: u64::from_le_bytes(epoch.try_into().unwrap_or_default()), root: array(root) })
    }
}

/// A ratchet device that checks the directory.
#[derive(Debug, Clone)]
struct KtDevice {
    inner: RatchetDevice,
    addr: DeviceAddr,
    /// The identity it published.
    own: Option<Vec<u8>>,
    /// The directory head it holds.
    head: Option<Head>,
    /// Keys under its name it already told its user about.
    told: BTreeSet<Vec<u8>>,
    /// Whether it already told its user its view differs from the auditor's.
    split_told: bool,
}

impl KtDevice {
    fn new(addr: &DeviceAddr, inner: RatchetDevice) -> Self {
        KtDevice { inner, addr: addr.clone(), own: None, head: None, told: BTreeSet::new(), split_told: false }
    }

    /// Whether `entry`'s proof holds against the head this device holds
    /// and proves the served identity.
    fn proven(&self, entry: &DirectoryEntry) -> bool {
        let (Some(head), Some(proof)) = (self.head, entry.proof.as_deref()) else { return false };
        verify_lookup(&head.vrf, &head.root, head.epoch, &label(&entry.device), proof)
            .is_ok_and(|found| found.value == entry.identity)
    }

    fn notice(&self, kind: EventKind) -> Event {
        Event { kind, user: self.addr.user.clone(), device: Some(self.addr.clone()) }
    }
}

impl Device for KtDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        let bundle = self.inner.publish()?;
        self.own = Some(bundle.identity.clone());
        Ok(bundle)
    }

    /// Encrypts to the served devices whose lookup proof holds; the others
    /// get nothing.
    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let proven: Vec<DirectoryEntry> = req.recipients.iter().filter(|e| self.proven(e)).cloned().collect();
        let checked = EncryptRequest {
            conversation: req.conversation,
            group: req.group,
            members: req.members,
            recipients: &proven,
            plaintext: req.plaintext,
        };
        self.inner.encrypt(&checked)
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        self.inner.decrypt(env)
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(self.clone()))
    }

    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        self.inner.forensic_open(env)
    }

    fn user_action(&mut self, action: &UserAction<'_>) -> Result<(), ImplError> {
        self.inner.user_action(action)
    }

    fn export_state(&self) -> Result<Vec<u8>, ImplError> {
        self.inner.export_state()
    }

    fn add_entropy(&mut self, entropy: &Seed) {
        self.inner.add_entropy(entropy);
    }

    fn verify(&mut self, contact: &DeviceAddr, identity: &[u8]) -> Result<Vec<Event>, ImplError> {
        self.inner.verify(contact, identity)
    }

    fn directory(&mut self, update: &DirectoryUpdate<'_>) -> Result<Vec<Event>, ImplError> {
        match *update {
            DirectoryUpdate::Head { head, own_history } => {
                let head = Head::parse(head)?;
                if let Some(held) = self.head {
                    if held.vrf != head.vrf {
                        return Err(ImplError::Rejected("the directory's VRF key changed".into()));
                    }
                }
                let history = verify_history(&head.vrf, &head.root, head.epoch, &label(&self.addr), own_history)
                    .map_err(|e| ImplError::Rejected(format!("own key history: {e}")))?;
                self.head = Some(head);
                let mut events = Vec::new();
                for entry in history {
                    if self.own.as_ref() != Some(&entry.value) && self.told.insert(entry.value) {
                        events.push(self.notice(EventKind::KeyNotMine));
                    }
                }
                Ok(events)
            }
            DirectoryUpdate::Gossip { auditor } => {
                let Some(head) = self.head else { return Ok(Vec::new()) };
                let roots = auditor.get(32..).unwrap_or_default();
                let at = usize::try_from(head.epoch).ok().and_then(|e| e.checked_mul(32));
                let theirs = at.and_then(|at| roots.get(at..at + 32));
                let differs = auditor.get(..32) != Some(&head.vrf[..]) || theirs != Some(&head.root[..]);
                if differs && !self.split_told {
                    self.split_told = true;
                    return Ok(vec![self.notice(EventKind::ViewSplit)]);
                }
                Ok(Vec::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use doormat_formats::UserId;

    fn addr(s: &str) -> DeviceAddr {
        DeviceAddr::parse(s).unwrap()
    }

    /// Alice's device with the head of a directory holding Alice's and
    /// Bob's keys, and Bob's served entry with its proof.
    fn setup() -> (KtDevice, Directory, DirectoryEntry) {
        let design = KtRatchet;
        let mut service = Directory { dir: KeyDirectory::new([7; 32]).unwrap() };
        let mut alice =
            KtDevice::new(&addr("alice/phone"), RatchetDevice::create(NAME, &addr("alice/phone"), [1; 32]).unwrap());
        let mut bob = design.create_device(&addr("bob/phone"), [2; 32]).unwrap();
        let (a, b) = (alice.publish().unwrap(), bob.publish().unwrap());
        service.publish(&[(addr("alice/phone"), a.identity), (addr("bob/phone"), b.identity.clone())]).unwrap();
        let history = service.history(&addr("alice/phone")).unwrap();
        let events = alice.directory(&DirectoryUpdate::Head { head: &service.head(), own_history: &history }).unwrap();
        assert!(events.is_empty());
        let mut entry = DirectoryEntry::first_contact(addr("bob/phone"), &b);
        entry.proof = Some(service.lookup(&addr("bob/phone")).unwrap());
        (alice, service, entry)
    }

    fn sent_to(alice: &mut KtDevice, entry: &DirectoryEntry) -> usize {
        let members = [UserId::from("alice"), UserId::from("bob")];
        let req = EncryptRequest {
            conversation: "alice+bob",
            group: false,
            members: &members,
            recipients: std::slice::from_ref(entry),
            plaintext: b"hi",
        };
        alice.encrypt(&req).unwrap().envelopes.iter().filter(|e| e.to.contains(&entry.device)).count()
    }

    /// An entry gets an envelope only with a proof that holds and proves
    /// the served identity under the served address: a missing proof, a
    /// proof for another address, or another identity get nothing.
    #[test]
    fn only_proven_entries_are_encrypted_to() {
        let (mut alice, service, entry) = setup();
        assert_eq!(sent_to(&mut alice.clone(), &entry), 1);
        let stripped = DirectoryEntry { proof: None, ..entry.clone() };
        assert_eq!(sent_to(&mut alice.clone(), &stripped), 0);
        let other = DirectoryEntry { proof: Some(service.lookup(&addr("alice/phone")).unwrap()), ..entry.clone() };
        assert_eq!(sent_to(&mut alice.clone(), &other), 0);
        let mut swapped = entry.clone();
        swapped.identity[0] ^= 1;
        assert_eq!(sent_to(&mut alice, &swapped), 0);
    }

    /// A key under the device's name that it never published is told once,
    /// however many epochs list it; a bad head or history is refused.
    #[test]
    fn a_key_not_mine_is_told_once_and_bad_heads_are_refused() {
        let (mut alice, mut service, _) = setup();
        service.publish(&[(addr("alice/phone"), vec![9; 64])]).unwrap();
        let tell = |alice: &mut KtDevice, service: &Directory| {
            let history = service.history(&addr("alice/phone")).unwrap();
            alice.directory(&DirectoryUpdate::Head { head: &service.head(), own_history: &history }).unwrap()
        };
        assert_eq!(tell(&mut alice, &service).iter().map(|e| e.kind).collect::<Vec<_>>(), [EventKind::KeyNotMine]);
        service.publish(&[(addr("bob/phone"), vec![8; 64])]).unwrap();
        assert!(tell(&mut alice, &service).is_empty());
        let history = service.history(&addr("alice/phone")).unwrap();
        assert!(alice.directory(&DirectoryUpdate::Head { head: &[0; 71], own_history: &history }).is_err());
        let mut head = service.head();
        head[40] ^= 1;
        assert!(alice.directory(&DirectoryUpdate::Head { head: &head, own_history: &history }).is_err());
    }
}
