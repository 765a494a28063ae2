//! Sending in the `mls` design: [`MlsDevice::encrypt_all`] and what it
//! needs (the group of a conversation, the Commit of this device's own
//! changes, the envelopes of one send).
//!
//! **Sending** (`encrypt`): the device takes its group for the conversation
//! (creating one if it may) and commits the changes above. A device to add
//! needs a KeyPackage the provider served: the one-time one of this first
//! contact, one kept from an earlier first contact, or the last-resort one; a
//! device with no valid KeyPackage (signed by the served identity, naming
//! the served device) cannot be added and does not receive (its member
//! stays to be added). The device also updates its own leaf (a fresh
//! UpdatePath), which is what heals it after a compromise (RFC 9420 §16.6),
//! when it has received something since its last message and every member
//! that ever wrote in the conversation has written in the current epoch: the
//! traffic then shows the members are in step, so two of them rarely commit
//! for the same epoch at once. That counts on members who never wrote not
//! committing, so a device's first message in a conversation carries no
//! update (one held by the provider would otherwise meet the update of a
//! member who did not know it writes, and split the group). Adds, removals and the update go into one
//! Commit, merged at once; then the application message is encrypted.
//!
//! **Envelopes** (body format in [`frame`]: `"DMLS" || version || group id ||
//! MLSMessages`), in order: to the devices this send removes, the Commit that
//! removes them (after the Commits they may lack); to the members already in the group, the Commits they may
//! lack (every Commit since the oldest epoch any of them is known to have
//! reached, at most the last 16), if any; to each set of devices this device
//! added and has not heard from since, their Welcome and the Commits after
//! it; then the application message, to every other member. Repeating
//! Commits and Welcomes until the recipient is heard from is how a client
//! copes with a delivery service that delays and reorders: MLS needs every
//! Commit of an epoch processed before anything of the next (RFC 9420 §14).

use super::{
    create_config, device_of, diff, event, failed, frame, has, leaves, trim, GroupMeta, Intent, Leaves, MlsDevice,
    CIPHERSUITE, MAX_CACHED_KEY_PACKAGES,
};
use crate::framing::rejected;
use crate::persist::Peer;
use doormat_engine::{DirectoryEntry, EncryptRequest, Event, EventKind, ImplError, OutEnvelope, Sent};
use doormat_formats::{DeviceAddr, UserId};
use openmls::prelude::tls_codec::Deserialize as TlsDeserialize;
use openmls::prelude::{GroupId, KeyPackage, KeyPackageIn, LeafNodeIndex, MlsGroup, ProtocolVersion};
use openmls_traits::OpenMlsProvider;
use std::collections::{BTreeMap, BTreeSet};

impl MlsDevice {
    /// One send (see the module's doc): the conversation's group, created
    /// if this device may; the changes its user made and the update of its
    /// own leaf, when its turn, in one Commit; then the application message.
    pub(super) fn encrypt_all(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let me = self.st.addr.clone();
        let mut events = BTreeSet::new();
        let served = self.take_served(req, &mut events);
        // What the notices of this send compare with: the group as it was,
        // or, for a new group, the other groups of the conversation (none on
        // the first sight of a conversation: nothing to show).
        let (gid, baseline) = match self.canonical(req.conversation) {
            Some(gid) => (gid, None),
            None => {
                self.may_create(req)?;
                if served.is_empty() {
                    return Ok(Sent { envelopes: Vec::new(), events: events.into_iter().collect(), blocked: false });
                }
                let known = self.known(req.conversation, &[]);
                (self.create_group(req.conversation)?, Some(known))
            }
        };
        let creating = baseline.is_some();
        let mut group = self.take_group(&gid)?;
        let before = leaves(&group);
        let intent = self.st.intents.get(req.conversation).cloned().unwrap_or_default();
        let removals = self.removals(&group, &intent, &served, &mut events);
        let adds = self.adds(&before, &intent, &served, creating);
        let signer = self.signer();
        let turn = self.turn(&gid, &group, &before, req.conversation)?;
        let farewell = if !adds.is_empty() || !removals.is_empty() || turn {
            self.commit_own(&mut group, &gid, adds, removals, baseline.as_ref(), &mut events)?
        } else {
            None
        };
        self.st.spoken.entry(req.conversation.to_owned()).or_default().insert(me);
        self.meta_mut(&gid)?.received = false;
        let now = leaves(&group);
        self.settle(req.conversation, &now);
        self.listed(req, &served, &now, &mut events);

        let app = group
            .create_message(&self.provider, &signer, req.plaintext)
            .map_err(|e| failed("cannot encrypt the message", e))?;
        self.keep_group(&gid, group);
        let app = app.to_bytes().map_err(|e| failed("cannot serialize the message", e))?;
        let mut envelopes: Vec<OutEnvelope> = farewell.into_iter().collect();
        envelopes.extend(self.envelopes(&gid, &app)?);
        Ok(Sent { envelopes, events: events.into_iter().collect(), blocked: false })
    }

    /// The directory entries `req` serves for other devices, one per device:
    /// each key is recorded as seen (`identity changed` if it differs, and at
    /// every send for a verified contact shown another key), and each
    /// one-time KeyPackage kept for a later add.
    fn take_served<'r>(
        &mut self,
        req: &EncryptRequest<'r>,
        events: &mut BTreeSet<Event>,
    ) -> BTreeMap<Peer, &'r DirectoryEntry> {
        let me = self.st.addr.clone();
        let mut served: BTreeMap<Peer, &DirectoryEntry> = BTreeMap::new();
        for entry in req.recipients {
            let peer = Peer::from(&entry.device);
            if peer != me {
                served.entry(peer).or_insert(entry);
            }
        }
        for (peer, entry) in &served {
            self.see(peer, &entry.identity, events);
            if self.st.pinned.get(peer).is_some_and(|k| *k != entry.identity) {
                // A verified contact shows another key: warn at every send
                // (it is not added, and a leaf under another key is removed).
                events.insert(event(EventKind::IdentityChanged, peer));
            }
            if let Some(kp) = &entry.one_time {
                let list = self.st.cached.entry(peer.clone()).or_default();
                list.push(kp.clone());
                if list.len() > MAX_CACHED_KEY_PACKAGES {
                    list.remove(0);
                }
            }
        }
        served
    }

    /// Removals: only of members this device's user removed, of leaves
    /// under a key other than the one the user verified, and of leaves
    /// that name no device. A device the provider stops listing stays:
    /// only a member can remove another (RFC 9420 §12.1.3).
    fn removals(
        &self,
        group: &MlsGroup,
        intent: &Intent,
        served: &BTreeMap<Peer, &DirectoryEntry>,
        events: &mut BTreeSet<Event>,
    ) -> Vec<LeafNodeIndex> {
        let me = &self.st.addr;
        let mut removals = Vec::new();
        for member in group.members() {
            let Some(peer) = device_of(&member.credential) else {
                removals.push(member.index);
                continue;
            };
            if peer == *me {
                continue;
            }
            let removed = intent.remove.contains(&peer.user);
            let unpinned = self.st.pinned.get(&peer).is_some_and(|k| *k != member.signature_key);
            if removed || unpinned {
                removals.push(member.index);
            } else if let Some(entry) = served.get(&peer) {
                if entry.identity != member.signature_key {
                    // The directory disagrees with the group about this
                    // device's key: the group's leaf stays (only the member
                    // itself can change it), and the user is warned at every
                    // send while the disagreement lasts.
                    events.insert(event(EventKind::IdentityChanged, &peer));
                }
            }
        }
        removals
    }

    /// Adds: only devices this device's user vouches for (every device
    /// the directory serves for a member the user added, or put in the
    /// group or one-to-one conversation it created; its own devices when
    /// it creates the group, and those it linked later), each with a valid
    /// KeyPackage. Whatever else the provider lists is not added, and so
    /// gets nothing.
    fn adds(
        &mut self,
        before: &Leaves,
        intent: &Intent,
        served: &BTreeMap<Peer, &DirectoryEntry>,
        creating: bool,
    ) -> Vec<KeyPackage> {
        let me = self.st.addr.clone();
        let mut adds = Vec::new();
        for (peer, entry) in served {
            if has(before, peer) {
                continue;
            }
            let vouched = intent.add.contains(&peer.user)
                || self.st.linked.contains(peer)
                || (creating && peer.user == me.user)
                || (self.st.pinned.get(peer) == Some(&entry.identity)
                    && before.iter().any(|(p, _)| p.user == peer.user));
            if !vouched {
                continue;
            }
            if self.st.pinned.get(peer).is_some_and(|k| *k != entry.identity) {
                continue;
            }
            if let Some(kp) = self.key_package_for(peer, entry) {
                adds.push(kp);
            }
        }
        adds
    }

    /// Whether this send updates this device's leaf (healing it, should it
    /// have been compromised): once it has heard from the others, when
    /// something arrived since its last message and every other member
    /// that ever wrote in this conversation has written in the current
    /// epoch. Both keep two members from committing for the same epoch at
    /// once whenever the traffic itself shows they are in step: an answer
    /// is what makes it a device's turn, so two devices never take their
    /// turn on the same message. It counts on members that never wrote not
    /// committing, so a device's first message in a conversation carries
    /// no update: the others do not know yet that it writes, and would not
    /// wait for it.
    fn turn(&self, gid: &[u8], group: &MlsGroup, before: &Leaves, conversation: &str) -> Result<bool, ImplError> {
        let me = &self.st.addr;
        let meta = self.meta(gid)?;
        let epoch = group.epoch().as_u64();
        let spoken = self.st.spoken.get(conversation);
        let written = spoken.is_some_and(|s| s.contains(me));
        Ok(meta.received
            && written
            && before.iter().all(|(p, _)| {
                *p == *me || !spoken.is_some_and(|s| s.contains(p)) || meta.heard.get(p).is_some_and(|e| *e >= epoch)
            }))
    }

    /// Commits `adds`, `removals` and an update of this device's leaf, and
    /// merges the Commit at once; its notices compare with `baseline` (the
    /// other groups of the conversation) for a new group, else with the
    /// group as it was. Devices the Commit removes get it, with the Commits
    /// before it they may lack, in the envelope this gives (RFC 9420
    /// §12.4.2: a removed member learns it from the Commit).
    fn commit_own(
        &mut self,
        group: &mut MlsGroup,
        gid: &[u8],
        adds: Vec<KeyPackage>,
        removals: Vec<LeafNodeIndex>,
        baseline: Option<&Leaves>,
        events: &mut BTreeSet<Event>,
    ) -> Result<Option<OutEnvelope>, ImplError> {
        let before = leaves(group);
        let from = group.epoch().as_u64();
        let bundle = group
            .commit_builder()
            .propose_adds(adds)
            .propose_removals(removals)
            .force_self_update(true)
            .load_psks(self.provider.storage())
            .map_err(|e| failed("cannot load PSKs", e))?
            .build(self.provider.rand(), self.provider.crypto(), &self.signer(), |_| true)
            .map_err(|e| failed("cannot build the commit", e))?
            .stage_commit(&self.provider)
            .map_err(|e| failed("cannot stage the commit", e))?;
        let (commit, welcome, _) = bundle.into_messages();
        group.merge_pending_commit(&self.provider).map_err(|e| failed("cannot merge the commit", e))?;
        let after = leaves(group);
        let to = group.epoch().as_u64();
        match baseline {
            None => diff(&before, &after, true, events),
            Some(known) if !known.is_empty() => diff(known, &after, false, events),
            Some(_) => {}
        }
        let commit = commit.to_bytes().map_err(|e| failed("cannot serialize the commit", e))?;
        let welcome = match welcome {
            Some(w) => Some(w.to_bytes().map_err(|e| failed("cannot serialize the Welcome", e))?),
            None => None,
        };
        let mut farewell = None;
        let meta = self.meta_mut(gid)?;
        meta.log.push((from, commit));
        trim(&mut meta.log);
        meta.received = false;
        let gone: Vec<Peer> = before.iter().map(|(p, _)| p.clone()).filter(|p| !has(&after, p)).collect();
        if let Some(oldest) = gone.iter().map(|p| meta.acks.get(p).copied().unwrap_or(from)).min() {
            // With the Commits before it they may lack.
            let commits: Vec<&[u8]> =
                meta.log.iter().filter(|(e, _)| *e >= oldest).map(|(_, c)| c.as_slice()).collect();
            let to = gone.iter().map(Peer::to_addr).collect();
            farewell = Some(OutEnvelope { to, body: frame::encode(gid, &commits)? });
        }
        for p in &gone {
            meta.acks.remove(p);
            meta.welcomes.remove(p);
            meta.heard.remove(p);
        }
        for (p, _) in after.iter().filter(|l| !before.contains(l)) {
            meta.acks.insert(p.clone(), to);
            if let Some(w) = &welcome {
                meta.welcomes.insert(p.clone(), (to, w.clone()));
            }
        }
        meta.epoch = to;
        meta.members = after;
        Ok(farewell)
    }

    /// Whether this device may create a group for the conversation of
    /// `req`, of which it holds none. A group conversation: only if its user
    /// created it on this device (told by [`Device::user_action`]); any other
    /// device waits for a member's Welcome (the provider saying it is a
    /// member is not enough). A one-to-one conversation: its user is writing
    /// to the one contact the request names, which is the user's choice;
    /// that contact becomes the member to add.
    fn may_create(&mut self, req: &EncryptRequest<'_>) -> Result<(), ImplError> {
        let conversation = req.conversation;
        if req.group {
            if self.st.intents.get(conversation).is_some_and(|i| i.create) {
                return Ok(());
            }
            return Err(rejected(format!(
                "this device is in no MLS group of `{conversation}`: its user did not create it here, and no member's Welcome has reached it"
            )));
        }
        let me = self.st.addr.user.as_str();
        let contacts: BTreeSet<&str> = req.members.iter().map(UserId::as_str).filter(|u| *u != me).collect();
        let contact = match (contacts.len(), req.members.iter().any(|u| u.as_str() == me)) {
            (1, true) => contacts.into_iter().next().unwrap_or_default().to_owned(),
            _ => {
                return Err(rejected(format!(
                    "a one-to-one conversation must name this device's user and one contact, not {} users",
                    req.members.len()
                )))
            }
        };
        let intent = self.st.intents.entry(conversation.to_owned()).or_default();
        intent.create = true;
        intent.remove.remove(&contact);
        intent.add.insert(contact);
        Ok(())
    }

    /// Drops what this device's user asked for in `conversation` that the
    /// group's leaves `now` show done: members added that have a leaf,
    /// members removed that have none, the creation.
    fn settle(&mut self, conversation: &str, now: &Leaves) {
        let Some(intent) = self.st.intents.get_mut(conversation) else { return };
        let member = |user: &String| now.iter().any(|(p, _)| p.user == *user);
        intent.create = false;
        intent.add.retain(|u| !member(u));
        intent.remove.retain(member);
        if intent.add.is_empty() && intent.remove.is_empty() {
            self.st.intents.remove(conversation);
        }
    }

    /// The notices for what the provider lists and the group (leaves `now`)
    /// does not have, which this device's user did not vouch for and which
    /// it therefore did not add: `member added` for a member the provider
    /// names who is not in the group, `device added` for a device of a
    /// member who is. Each is shown once per conversation; it gets nothing.
    fn listed(
        &mut self,
        req: &EncryptRequest<'_>,
        served: &BTreeMap<Peer, &DirectoryEntry>,
        now: &Leaves,
        events: &mut BTreeSet<Event>,
    ) {
        let me = self.st.addr.user.clone();
        let pending: BTreeSet<String> =
            self.st.intents.get(req.conversation).map(|i| i.add.clone()).unwrap_or_default();
        let in_group = |user: &str| now.iter().any(|(p, _)| p.user == user);
        let told = self.st.listed.entry(req.conversation.to_owned()).or_default();
        for user in req.members {
            let user = user.as_str();
            if user == me || in_group(user) || pending.contains(user) {
                continue;
            }
            if told.insert(Peer { user: user.to_owned(), device: String::new() }) {
                events.insert(Event { kind: EventKind::MemberAdded, user: UserId::from(user), device: None });
            }
        }
        for peer in served.keys() {
            if has(now, peer) || !in_group(&peer.user) || self.st.linked.contains(peer) {
                continue;
            }
            if told.insert(peer.clone()) {
                events.insert(event(EventKind::DeviceAdded, peer));
            }
        }
    }

    /// The envelopes of one application message: the Commits the members
    /// already in the group may lack, to them; to the devices still owed a
    /// Welcome, the Welcome and the Commits since; then the application
    /// message, to everyone.
    fn envelopes(&self, gid: &[u8], app: &[u8]) -> Result<Vec<OutEnvelope>, ImplError> {
        let meta = self.meta(gid)?;
        let me = &self.st.addr;
        let mut everyone: Vec<&Peer> = Vec::new();
        let mut current: Vec<&Peer> = Vec::new();
        let mut joining: BTreeMap<(u64, &[u8]), Vec<&Peer>> = BTreeMap::new();
        for (peer, _) in &meta.members {
            if peer == me || everyone.contains(&peer) {
                continue;
            }
            everyone.push(peer);
            match meta.welcomes.get(peer) {
                Some((epoch, w)) => joining.entry((*epoch, w.as_slice())).or_default().push(peer),
                None => current.push(peer),
            }
        }
        let commits_since = |epoch: u64| -> Vec<&[u8]> {
            meta.log.iter().filter(|(e, _)| *e >= epoch).map(|(_, c)| c.as_slice()).collect()
        };
        let addrs = |peers: &[&Peer]| -> Vec<DeviceAddr> { peers.iter().map(|p| p.to_addr()).collect() };
        let mut out = Vec::new();
        if let Some(oldest) = current.iter().map(|p| meta.acks.get(*p).copied().unwrap_or(meta.epoch)).min() {
            let commits = commits_since(oldest);
            if !commits.is_empty() {
                out.push(OutEnvelope { to: addrs(&current), body: frame::encode(gid, &commits)? });
            }
        }
        for ((epoch, welcome), to) in &joining {
            let mut messages = vec![*welcome];
            messages.extend(commits_since(*epoch));
            out.push(OutEnvelope { to: addrs(to), body: frame::encode(gid, &messages)? });
        }
        if !everyone.is_empty() {
            out.push(OutEnvelope { to: addrs(&everyone), body: frame::encode(gid, &[app])? });
        }
        Ok(out)
    }

    /// A valid KeyPackage for `peer` as served in `entry`: one kept from a
    /// first contact, else the last-resort one.
    fn key_package_for(&mut self, peer: &Peer, entry: &DirectoryEntry) -> Option<KeyPackage> {
        while let Some(bytes) = self.st.cached.get_mut(peer).and_then(|l| (!l.is_empty()).then(|| l.remove(0))) {
            if let Some(kp) = self.valid_key_package(&bytes, peer, &entry.identity) {
                return Some(kp);
            }
        }
        self.valid_key_package(&entry.prekey, peer, &entry.identity)
    }

    /// `bytes` as a KeyPackage of `peer` under `identity`, if it is one.
    fn valid_key_package(&self, bytes: &[u8], peer: &Peer, identity: &[u8]) -> Option<KeyPackage> {
        let kp = KeyPackageIn::tls_deserialize_exact(bytes).ok()?;
        let kp = kp.validate(self.provider.crypto(), ProtocolVersion::Mls10).ok()?;
        let leaf = kp.leaf_node();
        let ok = kp.ciphersuite() == CIPHERSUITE
            && leaf.signature_key().as_slice() == identity
            && device_of(leaf.credential()).as_ref() == Some(peer);
        ok.then_some(kp)
    }

    /// The group this device sends in for `conversation`: the smallest id
    /// among the groups it is in.
    fn canonical(&self, conversation: &str) -> Option<Vec<u8>> {
        self.st.groups.iter().find(|(_, g)| g.active && g.conversation == conversation).map(|(id, _)| id.clone())
    }

    fn create_group(&mut self, conversation: &str) -> Result<Vec<u8>, ImplError> {
        let mut random = [0u8; frame::GROUP_ID_RANDOM];
        self.provider.engine().fill(&mut random);
        let gid = frame::group_id(conversation, &random)?;
        let group = MlsGroup::new_with_group_id(
            &self.provider,
            &self.signer(),
            &create_config(),
            GroupId::from_slice(&gid),
            self.credential(),
        )
        .map_err(|e| failed("cannot create a group", e))?;
        let members = leaves(&group);
        self.st.groups.insert(
            gid.clone(),
            GroupMeta {
                conversation: conversation.to_owned(),
                epoch: group.epoch().as_u64(),
                active: true,
                members,
                log: Vec::new(),
                acks: BTreeMap::new(),
                welcomes: BTreeMap::new(),
                heard: BTreeMap::new(),
                received: false,
                joined_with: None,
                joined_at: None,
            },
        );
        self.keep_group(&gid, group);
        Ok(gid)
    }
}
