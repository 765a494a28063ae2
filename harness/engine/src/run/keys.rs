//! The design's key service, run by the provider (key transparency): every
//! enrolled device's identity is published in it, each epoch's head goes to
//! every device with the proof of its own key history, served directory
//! entries carry the service's lookup proofs, and a provider move that
//! substitutes a key or adds a device lies with the service as the run's
//! [`Strategy`] says:
//!
//! - **publish**: the false key goes into the directory everyone sees;
//! - **forge**: the false key is served with a proof from a directory no
//!   client was shown (a private branch where the lie was published);
//! - **split view**: a second directory, branched from the honest one,
//!   holds the lie; the users served the false key are shown it (its heads
//!   and proofs), everyone else and the auditor the honest one.
//!
//! A `gossip` step hands devices the auditor's heads (the honest
//! directory's, each epoch's append-only proof checked by the service).

use super::{Failure, Runner, Shown};
use crate::adapter::{DirectoryUpdate, Event, ImplError, KeyService, Strategy};
use crate::timings;
use doormat_formats::{DeviceAddr, UserId};
use std::collections::{BTreeMap, BTreeSet};

/// The provider's key directories.
pub(super) struct Keys {
    /// The directory the auditor and, unless split, everyone sees.
    honest: Box<dyn KeyService>,
    /// The second directory of a split view, and the users shown it.
    split: Option<(Box<dyn KeyService>, BTreeSet<UserId>)>,
    /// For `forge`: the proof served beside each false key.
    forged: BTreeMap<DeviceAddr, Vec<u8>>,
    /// How this run lies.
    strategy: Strategy,
}

impl Keys {
    pub(super) fn new(honest: Box<dyn KeyService>, strategy: Strategy) -> Self {
        Keys { honest, split: None, forged: BTreeMap::new(), strategy }
    }

    /// The directory `user` is shown.
    fn view(&self, user: &UserId) -> &dyn KeyService {
        match &self.split {
            Some((other, shown)) if shown.contains(user) => other.as_ref(),
            _ => self.honest.as_ref(),
        }
    }
}

fn failed(what: &str, e: &ImplError) -> String {
    format!("the design's key service could not {what}: {e}")
}

impl Runner<'_> {
    /// Publishes a device's own identity (an enrolment) in every directory.
    pub(super) fn publish_key(&mut self, n: usize, device: &DeviceAddr, identity: &[u8]) -> Result<(), String> {
        let Some(keys) = self.keys.as_mut() else { return Ok(()) };
        let update = [(device.clone(), identity.to_vec())];
        timings::design_call(|| keys.honest.publish(&update)).map_err(|e| failed("publish a key", &e))?;
        if let Some((other, _)) = keys.split.as_mut() {
            timings::design_call(|| other.publish(&update)).map_err(|e| failed("publish a key", &e))?;
        }
        self.epoch(n)
    }

    /// The provider puts `identity` under `device`'s name for `requesters`
    /// (a substituted key or a ghost device), as the run's strategy says.
    pub(super) fn lie(
        &mut self,
        n: usize,
        device: &DeviceAddr,
        identity: &[u8],
        requesters: BTreeSet<UserId>,
    ) -> Result<(), String> {
        let Some(keys) = self.keys.as_mut() else { return Ok(()) };
        let update = [(device.clone(), identity.to_vec())];
        match keys.strategy {
            // Published like any key: in every directory, a new epoch.
            Strategy::Publish => self.publish_key(n, device, identity),
            Strategy::Forge => {
                let mut private =
                    timings::design_call(|| keys.honest.branch()).map_err(|e| failed("branch its directory", &e))?;
                timings::design_call(|| private.publish(&update)).map_err(|e| failed("publish a key", &e))?;
                let proof =
                    timings::design_call(|| private.lookup(device)).map_err(|e| failed("prove a lookup", &e))?;
                keys.forged.insert(device.clone(), proof);
                Ok(())
            }
            Strategy::SplitView => {
                if keys.split.is_none() {
                    let other = timings::design_call(|| keys.honest.branch())
                        .map_err(|e| failed("branch its directory", &e))?;
                    keys.split = Some((other, BTreeSet::new()));
                }
                if let Some((other, shown)) = keys.split.as_mut() {
                    timings::design_call(|| other.publish(&update)).map_err(|e| failed("publish a key", &e))?;
                    shown.extend(requesters);
                }
                self.epoch(n)
            }
        }
    }

    /// The proof served to `requester` beside `device`'s entry: a forged
    /// one for a key the provider forges, else a lookup in the directory
    /// the requester is shown. `None` without a key service.
    pub(super) fn proof_for(
        &mut self,
        n: usize,
        requester: &UserId,
        device: &DeviceAddr,
        lie: bool,
    ) -> Option<Vec<u8>> {
        let keys = self.keys.as_ref()?;
        if lie {
            if let Some(p) = keys.forged.get(device) {
                return Some(p.clone());
            }
        }
        let view = keys.view(requester);
        match timings::design_call(|| view.lookup(device)) {
            Ok(p) => Some(p),
            Err(error) => {
                self.run.failures.push(Failure {
                    step: n,
                    device: format!("the key service (lookup of {device})"),
                    operation: "key lookup",
                    error,
                });
                None
            }
        }
    }

    /// A new epoch: every device gets the head of the directory it is
    /// shown, with the proof of its own key history.
    fn epoch(&mut self, n: usize) -> Result<(), String> {
        let Some(keys) = self.keys.as_ref() else { return Ok(()) };
        let mut updates = Vec::new();
        for addr in self.devices.keys() {
            let view = keys.view(&addr.user);
            let head = timings::design_call(|| view.head());
            let history = timings::design_call(|| view.history(addr)).map_err(|e| failed("prove a history", &e))?;
            updates.push((addr.clone(), head, history));
        }
        for (addr, head, history) in updates {
            let update = DirectoryUpdate::Head { head: &head, own_history: &history };
            self.tell(n, &addr, &update, "directory head");
        }
        Ok(())
    }

    /// `users`' devices (everyone's when empty) compare their directory
    /// with the auditor's.
    pub(super) fn gossip(&mut self, n: usize, users: &[UserId]) -> Result<(), String> {
        let Some(keys) = self.keys.as_ref() else { return Ok(()) };
        let auditor = timings::design_call(|| keys.honest.audited()).map_err(|e| failed("audit its directory", &e))?;
        let devices: Vec<DeviceAddr> =
            self.devices.keys().filter(|d| users.is_empty() || users.contains(&d.user)).cloned().collect();
        for addr in devices {
            self.tell(n, &addr, &DirectoryUpdate::Gossip { auditor: &auditor }, "gossip");
        }
        Ok(())
    }

    fn tell(&mut self, n: usize, addr: &DeviceAddr, update: &DirectoryUpdate<'_>, operation: &'static str) {
        let Some(dev) = self.devices.get_mut(addr) else { return };
        match timings::design_call(|| dev.directory(update)) {
            Ok(events) => self.show(n, addr, events),
            Err(error) => self.run.failures.push(Failure { step: n, device: addr.to_string(), operation, error }),
        }
    }

    fn show(&mut self, n: usize, addr: &DeviceAddr, events: Vec<Event>) {
        for event in events {
            self.run.shown.push(Shown { step: n, device: addr.clone(), event, blocking: false });
        }
    }
}
