//! Everyone but the addressee: every device tries, on a fork, each
//! envelope not addressed to it; live seized copies follow their device's
//! traffic; at the end a never-enrolled outsider tries the whole provider
//! view, a twin of every enrolled device what was addressed to it, and each
//! seized copy what its device had, with forensic open where the design
//! offers it. A real device's state is only ever tried on a fork, so
//! probing never disturbs the device.

use super::{Access, DeliveryResult, Failure, Read, Reader, Runner};
use crate::adapter::{Device, ImplError, InEnvelope};
use crate::canary::Index;
use crate::provider::StoredEnvelope;
use crate::timings::{self, Phase};
use crate::truth::Truth;
use doormat_formats::DeviceAddr;
use std::collections::BTreeSet;

/// Hands envelope `env` to `dev`: the messages whose canaries the result
/// holds (often none) if it opened, the refusal otherwise.
pub(super) fn try_open(dev: &mut dyn Device, env: &StoredEnvelope, index: &Index) -> Result<Vec<usize>, ImplError> {
    let rcv = dev.decrypt(&InEnvelope { from: &env.from, conversation: &env.conversation, body: &env.body })?;
    Ok(rcv.plaintext.map(|pt| index.find(&pt)).unwrap_or_default())
}

/// A copy of `dev` ([`Device::fork`]). A copy that cannot be made is kept
/// in `failed` as "could not fork {what}: {error}" (the first one only),
/// which stops the run after the step; `what` names the device and what the
/// copy was for.
pub(super) fn fork(
    dev: &dyn Device,
    failed: &mut Option<String>,
    what: impl FnOnce() -> String,
) -> Option<Box<dyn Device>> {
    match dev.fork() {
        Ok(copy) => Some(copy),
        Err(e) => {
            if failed.is_none() {
                *failed = Some(format!("could not fork {}: {e}", what()));
            }
            None
        }
    }
}

/// Envelope `idx` in words, for messages about it.
pub(super) fn envelope(truth: &Truth, idx: usize) -> String {
    match truth.envelope_message.get(&idx).and_then(|&mi| truth.messages.get(mi)) {
        Some(m) => format!("envelope {idx} (of message {})", m.id),
        None => format!("envelope {idx}"),
    }
}

/// Opens `env` on `dev` with every key it holds ([`Device::forensic_open`]);
/// where the design offers no forensic open, with its own decrypt on a fork
/// ([`fork`], `failed` and `what` as there), and the reason is kept in
/// `unsupported`. Gives the messages found and how.
pub(super) fn forensic(
    dev: &mut dyn Device,
    env: &StoredEnvelope,
    index: &Index,
    unsupported: &mut Option<String>,
    failed: &mut Option<String>,
    what: impl FnOnce() -> String,
) -> (Vec<usize>, Access) {
    if unsupported.is_none() {
        match dev.forensic_open(&InEnvelope { from: &env.from, conversation: &env.conversation, body: &env.body }) {
            Ok(pts) => {
                let mut found: Vec<usize> = pts.iter().flat_map(|pt| index.find(pt)).collect();
                found.sort_unstable();
                found.dedup();
                return (found, Access::Forensic);
            }
            Err(ImplError::Unsupported(why)) => *unsupported = Some(why),
            Err(_) => return (Vec::new(), Access::Forensic),
        }
    }
    let found = fork(dev, failed, what).and_then(|mut copy| try_open(copy.as_mut(), env, index).ok());
    (found.unwrap_or_default(), Access::Attempt)
}

/// Records a read when `found` is not empty.
pub(super) fn note(
    reads: &mut Vec<Read>,
    step: usize,
    reader: Reader,
    envelope: usize,
    found: Vec<usize>,
    access: Access,
) {
    if !found.is_empty() {
        reads.push(Read { step, reader, envelope: Some(envelope), messages: found, access });
    }
}

impl Runner<'_> {
    /// Every existing device not addressed by envelope `idx` tries it on a fork.
    pub(super) fn attempts(&mut self, n: usize, idx: usize) {
        timings::phase(Phase::Trials, || {
            let env = &self.provider.envelopes[idx];
            for (addr, dev) in &self.devices {
                if env.to.contains(addr) {
                    continue;
                }
                self.run.attempts += 1;
                let what = || format!("{addr} to try {}", envelope(&self.run.truth, idx));
                let Some(mut copy) = fork(dev.as_ref(), &mut self.fork_failed, what) else { continue };
                if let Ok(found) = try_open(copy.as_mut(), env, &self.index) {
                    note(&mut self.run.reads, n, Reader::Device(addr.clone()), idx, found, Access::Attempt);
                }
            }
        })
    }

    /// Every live seized copy whose device envelope `idx` is to or from
    /// tries it, as a thief following the device's traffic at the provider
    /// would, keeping what it absorbs from envelopes addressed to the device.
    pub(super) fn follow(&mut self, idx: usize) {
        timings::phase(Phase::Seizure, || {
            let end = self.run.scenario.steps.len() + 1;
            let forged_by =
                self.run.truth.envelope_message.get(&idx).and_then(|&mi| self.run.truth.messages[mi].forged_by);
            for i in 0..self.live.len() {
                let env = &self.provider.envelopes[idx];
                let device = &self.run.seizures[i].device;
                if forged_by == Some(i) || !(env.to.contains(device) || env.from == *device) {
                    continue;
                }
                let addressed = env.to.contains(device);
                let Some(live) = self.live[i].as_ref() else { continue };
                let what = || format!("seized copy #{i} of {device} to follow {}", envelope(&self.run.truth, idx));
                let Some(mut copy) = fork(live.as_ref(), &mut self.fork_failed, what) else { continue };
                if let Ok(found) = try_open(copy.as_mut(), env, &self.index) {
                    if addressed {
                        self.live[i] = Some(copy);
                    }
                    note(&mut self.followed[i], end, Reader::Seized(i), idx, found, Access::Seized);
                }
            }
        })
    }

    /// A new device of the design for `addr` that is never enrolled
    /// (`purpose` picks its seed); when the design cannot make one, a
    /// failure of `operation` at step `n`.
    fn fresh_reader(
        &mut self,
        n: usize,
        addr: &DeviceAddr,
        purpose: &str,
        operation: &'static str,
    ) -> Option<Box<dyn Device>> {
        match self.new_device(addr, purpose) {
            Ok(dev) => Some(dev),
            Err(why) => {
                let error = ImplError::Failed(why);
                self.run.failures.push(Failure { step: n, device: addr.to_string(), operation, error });
                None
            }
        }
    }

    /// A never-enrolled device of the same design tries every envelope.
    pub(super) fn outsider(&mut self, n: usize) {
        timings::phase(Phase::Outsider, || {
            let addr = DeviceAddr::new("outsider", "device");
            let Some(mut dev) = self.fresh_reader(n, &addr, "outsider", "create a fresh outsider device") else {
                return;
            };
            for (idx, env) in self.provider.envelopes.iter().enumerate() {
                let what = || format!("the outsider to try {}", envelope(&self.run.truth, idx));
                let unsupported = &mut self.run.forensic_unsupported;
                let (found, how) = forensic(dev.as_mut(), env, &self.index, unsupported, &mut self.fork_failed, what);
                note(&mut self.run.reads, n, Reader::Outsider, idx, found, how);
            }
        })
    }

    /// For every enrolled device, a twin (a fresh install with the same
    /// user and device names and randomness of its own, never enrolled)
    /// tries, in order, every envelope addressed to the device: a design
    /// whose keys come from names or from the app itself is read by anyone
    /// who installs it, whatever its address checks say.
    pub(super) fn twins(&mut self, n: usize) {
        timings::phase(Phase::Outsider, || {
            let imitated: Vec<DeviceAddr> = self.devices.keys().cloned().collect();
            for addr in imitated {
                let operation = "create a twin (a fresh install with the same names)";
                let Some(mut twin) = self.fresh_reader(n, &addr, "twin", operation) else { continue };
                for (idx, env) in self.provider.envelopes.iter().enumerate().filter(|(_, e)| e.to.contains(&addr)) {
                    let what = || format!("the twin of {addr} to try {}", envelope(&self.run.truth, idx));
                    let unsupported = &mut self.run.forensic_unsupported;
                    let (found, how) =
                        forensic(twin.as_mut(), env, &self.index, unsupported, &mut self.fork_failed, what);
                    note(&mut self.run.reads, n, Reader::Twin(addr.clone()), idx, found, how);
                }
            }
        })
    }

    /// Each seized copy tries what its device received before the seizure
    /// (forward secrecy) and, forensically, everything the provider holds;
    /// what its live copy read while following the device's traffic after
    /// the seizure ([`Runner::follow`], post-compromise security) is
    /// recorded after those.
    pub(super) fn seized_copies(&mut self, n: usize) {
        timings::phase(Phase::Seizure, || {
            for (i, clone) in std::mem::take(&mut self.clones).into_iter().enumerate() {
                let Some(clone) = clone else { continue };
                let (t, device) = (self.run.seizures[i].step, self.run.seizures[i].device.clone());
                let before: BTreeSet<usize> = self
                    .run
                    .deliveries
                    .iter()
                    .filter(|d| d.device == device && d.step < t && d.tamper.is_none())
                    .filter(|d| matches!(d.result, DeliveryResult::Opened { .. }))
                    .map(|d| d.envelope)
                    .collect();
                for idx in before {
                    let what = || format!("seized copy #{i} of {device} to try {}", envelope(&self.run.truth, idx));
                    let Some(mut copy) = fork(clone.as_ref(), &mut self.fork_failed, what) else { continue };
                    if let Ok(found) = try_open(copy.as_mut(), &self.provider.envelopes[idx], &self.index) {
                        note(&mut self.run.reads, n, Reader::Seized(i), idx, found, Access::Seized);
                    }
                }
                // The thief's forensic copy: every key the state holds, tried on
                // everything the provider holds (the provider's records and the
                // copy together), in order, absorbing what it can.
                let what = || format!("seized copy #{i} of {device} for forensic open");
                let Some(mut thief) = fork(clone.as_ref(), &mut self.fork_failed, what) else { continue };
                for (idx, env) in self.provider.envelopes.iter().enumerate() {
                    let what = || format!("seized copy #{i} of {device} to try {}", envelope(&self.run.truth, idx));
                    let unsupported = &mut self.run.forensic_unsupported;
                    let (found, how) =
                        forensic(thief.as_mut(), env, &self.index, unsupported, &mut self.fork_failed, what);
                    if how == Access::Forensic {
                        note(&mut self.run.reads, n, Reader::Seized(i), idx, found, how);
                    }
                }
                // Then what the live copy read while following the device.
                self.run.reads.append(&mut self.followed[i]);
            }
        })
    }
}
