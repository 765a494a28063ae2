//! The provider's moves: ghost devices and impostors (devices the provider
//! makes with the same design and serves from the directory), dropped,
//! replayed and tampered envelopes; seizures of a device's state (export,
//! import, and a live copy that follows the device); and the design's
//! authorities, given targeting data to push and compelled to recover what
//! they can from the provider view. Each leaves a record for the oracles.

use super::readers::{envelope, fork, note, try_open};
use super::{matches, plaintext_of, Runner};
use super::{Access, Change, ChangeKind, Delivery, DeliveryResult, Failure, Read, Reader, Seizure};
use crate::adapter::{InEnvelope, TargetContent};
use crate::seed;
use crate::timings::{self, Phase};
use doormat_formats::vector::EVERY_BIT_HEAD;
use doormat_formats::{DeviceAddr, MessageId, Party, Tamper, TargetAim, UserId};
use std::collections::BTreeSet;

impl Runner<'_> {
    pub(super) fn ghost(&mut self, n: usize, addr: &DeviceAddr) -> Result<(), String> {
        let mut dev = self.new_device(addr, "ghost")?;
        let bundle =
            dev.publish().map_err(|e| format!("the provider's ghost device {addr} could not publish keys: {e}"))?;
        let identity = bundle.identity.clone();
        self.provider.add_ghost(n, addr, bundle);
        self.ghosts.insert(addr.clone(), dev);
        self.run.changes.push(Change { step: n, user: addr.user.clone(), kind: ChangeKind::Ghost(addr.clone()) });
        // Everyone but the owner is served the ghost.
        let others = self.others_than(&addr.user);
        self.lie(n, addr, &identity, others)
    }

    pub(super) fn substitute(&mut self, n: usize, addr: &DeviceAddr, requesters: Vec<UserId>) -> Result<(), String> {
        // Each substitution is a new impostor with keys of its own.
        let mut dev = self.new_device(addr, &format!("impostor@{n}"))?;
        let bundle =
            dev.publish().map_err(|e| format!("the provider's impostor for {addr} could not publish keys: {e}"))?;
        let identity = bundle.identity.clone();
        let served =
            if requesters.is_empty() { self.others_than(&addr.user) } else { requesters.iter().cloned().collect() };
        self.provider.substitute(n, addr, bundle, requesters);
        self.impostors.insert(addr.clone(), dev);
        self.run.changes.push(Change { step: n, user: addr.user.clone(), kind: ChangeKind::Substitute(addr.clone()) });
        self.lie(n, addr, &identity, served)
    }

    /// Every user of the vector but `owner`: whom the provider serves a
    /// ghost or, by default, an impostor.
    fn others_than(&self, owner: &UserId) -> BTreeSet<UserId> {
        self.run.scenario.users.iter().filter(|u| *u != owner).cloned().collect()
    }

    /// The impostor for `device` opens an envelope the sender meant for it.
    pub(super) fn divert(&mut self, n: usize, idx: usize, device: &DeviceAddr) {
        let Some(imp) = self.impostors.get_mut(device) else { return };
        if let Ok(found) = try_open(imp.as_mut(), &self.provider.envelopes[idx], &self.index) {
            note(&mut self.run.reads, n, Reader::Impostor(device.clone()), idx, found, Access::Delivered);
        }
    }

    pub(super) fn drop_held(&mut self, messages: &[MessageId], to: Option<&Party>) {
        for m in messages {
            let Some((mi, _)) = self.run.truth.message(m) else { continue };
            let envs = self.run.truth.messages[mi].envelopes.clone();
            for (_, d) in self.provider.take(|e, d| envs.contains(&e) && matches(to, d)) {
                self.run.interfered.insert((mi, d));
            }
        }
    }

    pub(super) fn tamper(
        &mut self,
        n: usize,
        m: &MessageId,
        to: Option<&Party>,
        how: Tamper,
        with: Option<&MessageId>,
    ) {
        let Some((mi, _)) = self.run.truth.message(m) else { return };
        let envs = self.run.truth.messages[mi].envelopes.clone();
        let partner: Vec<usize> =
            with.and_then(|w| self.run.truth.message(w)).map(|(_, t)| t.envelopes.clone()).unwrap_or_default();
        for idx in envs {
            // A replay goes only to devices that already received the envelope.
            let received = |d: &DeviceAddr| {
                how != Tamper::Replay
                    || self.run.deliveries.iter().any(|x| x.envelope == idx && x.device == *d && x.tamper.is_none())
            };
            let targets: Vec<DeviceAddr> = self.provider.envelopes[idx]
                .to
                .iter()
                .filter(|d| matches(to, d) && self.devices.contains_key(*d) && received(d))
                .cloned()
                .collect();
            for d in targets {
                if how == Tamper::EveryBit {
                    self.every_bit(n, idx, &d);
                    continue;
                }
                let body = self.provider.envelopes[idx].body.clone();
                let half = body.len() / 2;
                let copy = match how {
                    Tamper::Flip => {
                        let mut b = body;
                        if let Some(x) = b.get_mut(half) {
                            *x ^= 0x01;
                        }
                        b
                    }
                    Tamper::Truncate => body[..half].to_vec(),
                    Tamper::Splice => {
                        let other = partner
                            .iter()
                            .find(|&&p| self.provider.envelopes[p].to.contains(&d))
                            .or(partner.first())
                            .map(|&p| self.provider.envelopes[p].body.clone())
                            .unwrap_or_default();
                        let mut b = body[..half].to_vec();
                        b.extend_from_slice(&other[other.len() / 2..]);
                        b
                    }
                    Tamper::Forge => {
                        let s = seed::derive(self.seed, "forge", &[m.as_str(), &d.to_string(), &n.to_string()]);
                        (0..body.len()).map(|i| s[i % 32] ^ (i / 32) as u8).collect()
                    }
                    Tamper::Replay | Tamper::EveryBit => body,
                };
                // A splice that happens to rebuild a real envelope is no tampering.
                if how != Tamper::Replay && self.provider.envelopes.iter().any(|e| e.body == copy) {
                    continue;
                }
                self.deliver_one(n, idx, &d, &copy, Some(how));
            }
        }
    }

    /// Envelope `idx` with one bit flipped, for every bit of its first
    /// `EVERY_BIT_HEAD` bytes and one bit (cycling) of every eighth later byte,
    /// each tried on its own fork of `addr`: the device itself is left as
    /// it was. Each try is a delivery marked `EveryBit` with the bit it flipped.
    fn every_bit(&mut self, n: usize, idx: usize, addr: &DeviceAddr) {
        let Some(dev) = self.devices.get(addr) else { return };
        let env = &self.provider.envelopes[idx];
        let positions = (0..env.body.len().min(EVERY_BIT_HEAD) * 8)
            .chain((EVERY_BIT_HEAD..env.body.len()).step_by(8).map(|byte| byte * 8 + (byte / 8) % 8));
        for bit in positions {
            let mut copy = env.body.clone();
            copy[bit / 8] ^= 1 << (bit % 8);
            let what = || format!("{addr} to try {} with bit {bit} flipped", envelope(&self.run.truth, idx));
            let Some(mut probe) = fork(dev.as_ref(), &mut self.fork_failed, what) else { continue };
            let result =
                match probe.decrypt(&InEnvelope { from: &env.from, conversation: &env.conversation, body: &copy }) {
                    Err(e) => DeliveryResult::Error(e),
                    Ok(rcv) => {
                        let exact = rcv.plaintext.as_ref().and_then(|pt| {
                            let mi = *self.run.truth.envelope_message.get(&idx)?;
                            (self.run.truth.messages[mi].plaintext == *pt).then_some(mi)
                        });
                        DeliveryResult::Opened { exact, plaintext: rcv.plaintext.is_some(), sender: rcv.sender }
                    }
                };
            self.run.deliveries.push(Delivery {
                step: n,
                envelope: idx,
                device: addr.clone(),
                result,
                tamper: Some(Tamper::EveryBit),
                flipped: Some(bit),
            });
        }
    }

    pub(super) fn seize(&mut self, n: usize, addr: &DeviceAddr) {
        timings::phase(Phase::Seizure, || {
            let copy = match self.devices.get(addr) {
                None => Err("no such device".to_owned()),
                Some(dev) => dev
                    .export_state()
                    .map_err(|e| format!("the design cannot export a device's state ({e})"))
                    .and_then(|state| {
                        timings::design_call(|| self.design.import_device(addr, &state))
                            .map(|c| (timings::timed(c), state))
                            .map_err(|e| format!("the design cannot import an exported state ({e})"))
                    }),
            };
            let (clone, state, error) = match copy {
                Ok((c, state)) => (Some(c), state, None),
                Err(e) => (None, Vec::new(), Some(e)),
            };
            let what = || format!("the copy of {addr} seized at step {n}, to make the copy that follows it");
            self.live.push(clone.as_ref().and_then(|c| fork(c.as_ref(), &mut self.fork_failed, what)));
            self.followed.push(Vec::new());
            self.clones.push(clone);
            self.run.seizures.push(Seizure { step: n, device: addr.clone(), error, state });
        })
    }

    /// The live copy of the latest seizure of `device`, if any.
    pub(super) fn live_copy(&self, device: &DeviceAddr) -> Option<usize> {
        self.run
            .seizures
            .iter()
            .enumerate()
            .rev()
            .find(|(i, s)| s.device == *device && self.live[*i].is_some())
            .map(|(i, _)| i)
    }

    pub(super) fn target(&mut self, n: usize, content: &TargetAim) {
        let bytes = match content {
            TargetAim::Message(m) => plaintext_of(&self.run.scenario, m).unwrap_or_default(),
            TargetAim::Text(t) => t.clone().into_bytes(),
        };
        for (role, auth) in &mut self.authorities {
            let aim = match content {
                TargetAim::Message(_) => TargetContent::Exact(&bytes),
                TargetAim::Text(t) => TargetContent::Similar(t),
            };
            match auth.target(&aim) {
                Ok(Some(data)) => {
                    for (addr, dev) in self.devices.iter_mut().chain(self.ghosts.iter_mut()) {
                        if let Err(error) = dev.provider_push(role, &data) {
                            self.run.failures.push(Failure {
                                step: n,
                                device: addr.to_string(),
                                operation: "provider push",
                                error,
                            });
                        }
                    }
                    self.pushes.push((role.clone(), data));
                }
                Ok(None) => {}
                Err(error) => {
                    self.run.failures.push(Failure { step: n, device: role.clone(), operation: "target", error })
                }
            }
        }
    }

    pub(super) fn compel(&mut self, n: usize, role: Option<&str>) {
        let view: Vec<&[u8]> = self.provider.view.iter().map(|r| r.bytes.as_slice()).collect();
        for (r, auth) in &mut self.authorities {
            if role.is_some_and(|x| x != r) {
                continue;
            }
            self.run.compelled.push((n, r.clone()));
            match auth.recover(&view) {
                Ok(found) => {
                    let mut msgs = BTreeSet::new();
                    for pt in &found {
                        msgs.extend(self.index.find(pt));
                    }
                    if !msgs.is_empty() {
                        self.run.reads.push(Read {
                            step: n,
                            reader: Reader::Authority(r.clone()),
                            envelope: None,
                            messages: msgs.into_iter().collect(),
                            access: Access::Compelled,
                        });
                    }
                }
                Err(error) => {
                    self.run.failures.push(Failure { step: n, device: r.clone(), operation: "recover", error })
                }
            }
        }
    }
}
