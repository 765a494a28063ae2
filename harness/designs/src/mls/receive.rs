//! Receiving in the `mls` design: [`MlsDevice::decrypt_one`] (Welcomes,
//! Commits, the application message) and [`MlsDevice::forensic`].
//!
//! **Receiving** (`decrypt`): a Welcome is processed unless it is the one
//! the device joined by (recognised by its hash); a Welcome for a group the
//! device holds an older state of replaces it (the device was removed and
//! added again). A Commit for the current epoch is processed and merged; one
//! for an earlier epoch is skipped only if it is byte for byte one the device
//! applied, or older than the Welcome it joined by; one for a later epoch means an earlier one is missing (refused).
//! The application message must come last and be signed by the device the
//! provider names as sender. An envelope of nothing but what the device
//! already has is a duplicate, answered without plaintext. Application
//! messages of up to 8 past epochs are still read (openmls's
//! `max_past_epochs`; a message key is deleted once used, so what was read
//! stays unreadable). A device removed by a Commit keeps the group at the
//! epoch it was last a member of, so it still reads what was sent to it then.
//!
//! **Forensic open** ([`Device::forensic_open`]): what openmls itself
//! opens with the secrets the state holds, with none of this client's checks
//! (conversation, named sender, pinned keys, duplicate bookkeeping, message
//! order). A Welcome whose KeyPackage's private key is still held is joined
//! (a one-time KeyPackage is deleted by the Welcome that used it; the
//! last-resort one is kept), unless the group is held at that epoch or a
//! later one; a Commit for the held epoch is processed and merged; each
//! application message is left to openmls, which opens it with the current
//! or a kept past epoch's secret tree, and refuses one whose key it used
//! and deleted, and the device's own (its sending ratchet only moves on).

use super::{device_of, diff, digest, failed, frame, has, join_config, leaves, trim, GroupMeta, Leaves, MlsDevice};
use crate::framing::rejected;
use crate::persist::Peer;
use doormat_engine::{Event, ImplError, InEnvelope, Received};
use openmls::prelude::tls_codec::Deserialize as TlsDeserialize;
use openmls::prelude::{
    ContentType, MlsGroup, MlsMessageBodyIn, MlsMessageIn, ProcessedMessageContent, ProtocolMessage, Sender,
    StagedWelcome, Welcome,
};
use std::collections::{BTreeMap, BTreeSet};

impl MlsDevice {
    pub(super) fn decrypt_one(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let body = frame::decode(env.body)?;
        if frame::conversation_of(body.group_id) != Some(env.conversation) {
            return Err(rejected("the envelope's group is not of this conversation"));
        }
        let gid = body.group_id.to_vec();
        let mut welcome = None;
        let mut protocol = Vec::with_capacity(body.messages.len());
        for (i, bytes) in body.messages.iter().enumerate() {
            let message = MlsMessageIn::tls_deserialize_exact(bytes).map_err(|_| rejected("malformed MLS message"))?;
            match message.extract() {
                MlsMessageBodyIn::Welcome(w) if i == 0 => welcome = Some((w, digest(bytes))),
                MlsMessageBodyIn::PrivateMessage(m) => protocol.push((ProtocolMessage::from(m), *bytes)),
                _ => return Err(rejected("unexpected kind of MLS message in an mls envelope")),
            }
        }
        let mut events = BTreeSet::new();
        if let Some((welcome, hash)) = welcome {
            let held = self.st.groups.get(&gid);
            if held.is_none_or(|meta| meta.joined_with != Some(hash)) {
                if held.is_some() {
                    // Already in this group, by another Welcome: unless this
                    // device's state is stale (it was removed and added
                    // again), what follows reads without it.
                    let attempt = self.attempt(|d| d.process(env, &gid, protocol.clone(), BTreeSet::new(), true));
                    if let Ok(received) = attempt {
                        return Ok(received);
                    }
                }
                self.join(env.conversation, &gid, welcome, hash, &mut events)?;
            }
        }
        self.process(env, &gid, protocol, events, false)
    }

    /// Forensic open: what openmls recovers from `env` with the secrets this
    /// state holds, with none of this client's checks (the conversation the
    /// provider names, the sender it names, pinned keys, the duplicate and
    /// "already applied" bookkeeping, the application message being last).
    /// A Welcome the state can open (its KeyPackage's private key is still
    /// held) is joined, unless the state already holds that group at the
    /// same or a later epoch (openmls keeps one state per group); a Commit
    /// for the epoch the state holds is processed and merged, as a thief's
    /// copy of the app would; every application message is handed to
    /// openmls, which opens it with the current epoch's secret tree or with
    /// one of the past epochs it keeps (`max_past_epochs`), and refuses a
    /// message whose key it already used and deleted (RFC 9420 §9.2), or one
    /// this device sent itself (its own sending ratchet only moves forward).
    /// Whatever openmls refuses is skipped, so the rest is still tried.
    pub(super) fn forensic(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        let body = frame::decode(env.body)?;
        let gid = body.group_id.to_vec();
        let conversation = frame::conversation_of(body.group_id).unwrap_or(env.conversation).to_owned();
        let mut recovered = Vec::new();
        for (i, bytes) in body.messages.iter().enumerate() {
            let Ok(message) = MlsMessageIn::tls_deserialize_exact(bytes) else { continue };
            match message.extract() {
                MlsMessageBodyIn::Welcome(welcome) if i == 0 => {
                    let hash = digest(bytes);
                    if self.st.groups.get(&gid).is_some_and(|meta| meta.joined_with == Some(hash)) {
                        continue;
                    }
                    // A Welcome this state cannot open changes nothing.
                    let _ = self.attempt(|d| d.join(&conversation, &gid, welcome, hash, &mut BTreeSet::new()));
                }
                MlsMessageBodyIn::PrivateMessage(m) => {
                    let message = ProtocolMessage::from(m);
                    if message.group_id().as_slice() != gid.as_slice() {
                        continue;
                    }
                    let Ok(mut group) = self.take_group(&gid) else { continue };
                    // Each arm gives the group back unless openmls refused
                    // what was done to it.
                    match message.content_type() {
                        ContentType::Commit => {
                            let active = self.meta(&gid).is_ok_and(|meta| meta.active);
                            if !active || message.epoch() != group.epoch() {
                                self.keep_group(&gid, group);
                                continue;
                            }
                            let merged =
                                self.attempt(|d| d.commit(&mut group, &gid, message, bytes, &mut BTreeSet::new()));
                            if merged.is_ok() {
                                self.keep_group(&gid, group);
                            }
                        }
                        ContentType::Application => {
                            if let Ok(processed) = group.process_message(&self.provider, message) {
                                self.keep_group(&gid, group);
                                if let ProcessedMessageContent::ApplicationMessage(m) = processed.into_content() {
                                    recovered.push(m.into_bytes());
                                }
                            }
                        }
                        ContentType::Proposal => self.keep_group(&gid, group),
                    }
                }
                _ => {}
            }
        }
        Ok(recovered)
    }

    /// Joins the group `gid` from a Welcome, replacing an older state of the
    /// same group.
    fn join(
        &mut self,
        conversation: &str,
        gid: &[u8],
        welcome: Welcome,
        hash: [u8; 32],
        events: &mut BTreeSet<Event>,
    ) -> Result<(), ImplError> {
        let held = self.st.groups.get(gid).map(|m| m.epoch);
        let builder = StagedWelcome::build_from_welcome(&self.provider, &join_config(), welcome)
            .map_err(|e| rejected(format!("welcome refused: {e}")))?;
        let builder = if held.is_some() { builder.replace_old_group() } else { builder };
        let staged = builder.build().map_err(|e| rejected(format!("welcome refused: {e}")))?;
        if staged.group_context().group_id().as_slice() != gid {
            return Err(rejected("the welcome is for another group than its envelope names"));
        }
        let epoch = staged.group_context().epoch().as_u64();
        if held.is_some_and(|held| held >= epoch) {
            return Err(rejected("a welcome to an epoch this device has already reached"));
        }
        self.forget_group(gid);
        let group = staged.into_group(&self.provider).map_err(|e| rejected(format!("welcome refused: {e}")))?;
        let members = leaves(&group);
        for (peer, key) in &members {
            self.see(peer, key, events);
        }
        // The first sight of a conversation shows no adds; a further group
        // of it shows the devices the others did not have.
        let known = self.known(conversation, gid);
        if !known.is_empty() {
            diff(&known, &members, false, events);
        }
        let me = self.st.addr.clone();
        self.st.groups.insert(
            gid.to_vec(),
            GroupMeta {
                conversation: conversation.to_owned(),
                epoch,
                active: true,
                acks: members.iter().filter(|(p, _)| *p != me).map(|(p, _)| (p.clone(), epoch)).collect(),
                members,
                log: Vec::new(),
                welcomes: BTreeMap::new(),
                heard: BTreeMap::new(),
                received: false,
                joined_with: Some(hash),
                joined_at: Some(epoch),
            },
        );
        self.keep_group(gid, group);
        Ok(())
    }

    /// Processes the Commits and the application message of an envelope in
    /// group `gid`. Commits this device already applied are recognised (by
    /// their bytes) and skipped; an envelope of nothing but those is a
    /// duplicate, answered without plaintext. `progress`: refuse unless
    /// something new was processed.
    fn process(
        &mut self,
        env: &InEnvelope<'_>,
        gid: &[u8],
        messages: Vec<(ProtocolMessage, &[u8])>,
        mut events: BTreeSet<Event>,
        progress: bool,
    ) -> Result<Received, ImplError> {
        let mut group = self.take_group(gid)?;
        let count = messages.len();
        let mut handled = false;
        let mut read = None;
        for (i, (message, bytes)) in messages.into_iter().enumerate() {
            if message.group_id().as_slice() != gid {
                return Err(rejected("an MLS message of another group than its envelope names"));
            }
            let epoch = message.epoch().as_u64();
            match message.content_type() {
                ContentType::Commit => {
                    let meta = self.meta(gid)?;
                    let mine = group.epoch().as_u64();
                    if epoch < mine {
                        if meta.log.iter().any(|(e, c)| *e == epoch && c.as_slice() == bytes) {
                            continue;
                        }
                        if meta.joined_at.is_some_and(|joined| epoch < joined) {
                            // Made before this device joined: the Welcome's
                            // state already holds its effect.
                            continue;
                        }
                        return Err(rejected(format!(
                            "a commit of epoch {epoch}, which this device left by another commit (or too long ago to tell)"
                        )));
                    }
                    if !meta.active {
                        return Err(rejected("a commit in a group this device was removed from"));
                    }
                    if epoch > mine {
                        return Err(rejected(format!(
                            "a commit of epoch {epoch} while this device is at epoch {mine}: an earlier commit is missing"
                        )));
                    }
                    self.commit(&mut group, gid, message, bytes, &mut events)?;
                    handled = true;
                }
                ContentType::Application if i + 1 == count => {
                    read = Some(self.application(&mut group, gid, message, epoch)?);
                }
                _ => return Err(rejected("unexpected MLS message in an mls envelope")),
            }
        }
        self.keep_group(gid, group);
        let Some((plaintext, sender)) = read else {
            if progress && !handled {
                return Err(rejected("nothing new in this envelope"));
            }
            return Ok(Received { plaintext: None, sender: None, events: events.into_iter().collect() });
        };
        let sender = sender.to_addr();
        if sender != *env.from {
            return Err(rejected(format!("the message is signed by {sender}, not by {}", env.from)));
        }
        Ok(Received { plaintext: Some(plaintext), sender: Some(sender), events: events.into_iter().collect() })
    }

    /// Processes and merges a Commit for the current epoch.
    fn commit(
        &mut self,
        group: &mut MlsGroup,
        gid: &[u8],
        message: ProtocolMessage,
        bytes: &[u8],
        events: &mut BTreeSet<Event>,
    ) -> Result<(), ImplError> {
        let before = leaves(group);
        let from = group.epoch().as_u64();
        let processed =
            group.process_message(&self.provider, message).map_err(|e| rejected(format!("commit refused: {e}")))?;
        let committer = device_of(processed.credential()).ok_or_else(|| rejected("a commit by an unknown sender"))?;
        let staged = match processed.into_content() {
            ProcessedMessageContent::StagedCommitMessage(staged) => *staged,
            _ => return Err(rejected("a commit this device cannot process (its own, or not a commit)")),
        };
        if staged.self_removed() {
            // Removed: the group is left at the epoch this device was last a
            // member of, where it can still read messages sent while it was
            // one (openmls refuses everything once the removal is merged).
            let me = self.st.addr.clone();
            let remaining: Leaves = before.iter().filter(|(p, _)| *p != me).cloned().collect();
            diff(&before, &remaining, true, events);
            let meta = self.meta_mut(gid)?;
            meta.active = false;
            meta.welcomes.clear();
            return Ok(());
        }
        group.merge_staged_commit(&self.provider, staged).map_err(|e| failed("cannot merge a commit", e))?;
        let after = leaves(group);
        for (peer, key) in after.iter().filter(|l| !before.contains(l)) {
            self.see(peer, key, events);
        }
        diff(&before, &after, true, events);
        let to = group.epoch().as_u64();
        let meta = self.meta_mut(gid)?;
        meta.log.push((from, bytes.to_vec()));
        trim(&mut meta.log);
        for (p, _) in before.iter().filter(|(p, _)| !has(&after, p)) {
            meta.acks.remove(p);
            meta.welcomes.remove(p);
            meta.heard.remove(p);
        }
        for (p, _) in after.iter().filter(|l| !before.contains(l)) {
            meta.acks.insert(p.clone(), to);
        }
        for map in [&mut meta.acks, &mut meta.heard] {
            let seen = map.entry(committer.clone()).or_insert(to);
            *seen = (*seen).max(to);
        }
        meta.welcomes.remove(&committer);
        meta.received = true;
        meta.epoch = to;
        meta.members = after;
        let conversation = meta.conversation.clone();
        self.st.spoken.entry(conversation).or_default().insert(committer);
        Ok(())
    }

    /// Decrypts the application message; its plaintext and sender.
    fn application(
        &mut self,
        group: &mut MlsGroup,
        gid: &[u8],
        message: ProtocolMessage,
        epoch: u64,
    ) -> Result<(Vec<u8>, Peer), ImplError> {
        let processed = group
            .process_message(&self.provider, message)
            .map_err(|e| rejected(format!("application message refused: {e}")))?;
        let sender = device_of(processed.credential()).ok_or_else(|| rejected("a message by an unknown sender"))?;
        if let Sender::Member(index) = processed.sender() {
            let key = group.member_at(*index).filter(|m| device_of(&m.credential).as_ref() == Some(&sender));
            if let (Some(member), Some(pinned)) = (key, self.st.pinned.get(&sender)) {
                if member.signature_key != *pinned {
                    return Err(rejected(format!("{} signs with a key its user did not verify", sender.to_addr())));
                }
            }
        }
        let plaintext = match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(m) => m.into_bytes(),
            _ => return Err(rejected("not an application message this device can read (its own?)")),
        };
        let meta = self.meta_mut(gid)?;
        for map in [&mut meta.acks, &mut meta.heard] {
            let seen = map.entry(sender.clone()).or_insert(epoch);
            *seen = (*seen).max(epoch);
        }
        meta.welcomes.remove(&sender);
        meta.received = true;
        let conversation = meta.conversation.clone();
        self.st.spoken.entry(conversation).or_default().insert(sender.clone());
        Ok((plaintext, sender))
    }
}
