//! The openmls storage of one device ([`Store`]): openmls_memory_storage's
//! key/value store, entry for entry, kept copy-on-write.
//!
//! openmls writes every change of a group, KeyPackage or key through its
//! `StorageProvider`. A device copies its storage for every fork, and keeps
//! a copy to go back to for every operation that may fail, so here a copy
//! is cheap: the entries are an [`Arc`]'d base map, shared by every copy
//! and never changed while shared, plus a small overlay of the writes and
//! deletions made since, the only part a copy clones (values are
//! reference-counted, so not even they are copied). The overlay is folded
//! into the base once it grows past a quarter of it.
//!
//! **Invariants:** the entries are exactly those openmls_memory_storage
//! 0.6 would hold after the same calls (the same labels, keys built the same
//! way, values as the same JSON; its quirks kept, such as
//! `clear_proposal_queue` leaving the queued proposals themselves behind),
//! so an exported state keeps its bytes and imports either way. A write to
//! one copy is never seen by another.

use openmls_rust_crypto::MemoryStorageError;
use openmls_traits::storage::{traits, Entity, StorageProvider, CURRENT_VERSION};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

type Error = MemoryStorageError;

/// Overlay entries allowed beyond a quarter of the base before folding.
const OVERLAY_SLACK: usize = 32;

const KEY_PACKAGE_LABEL: &[u8] = b"KeyPackage";
const PSK_LABEL: &[u8] = b"Psk";
const ENCRYPTION_KEY_PAIR_LABEL: &[u8] = b"EncryptionKeyPair";
const SIGNATURE_KEY_PAIR_LABEL: &[u8] = b"SignatureKeyPair";
const EPOCH_KEY_PAIRS_LABEL: &[u8] = b"EpochKeyPairs";
const TREE_LABEL: &[u8] = b"Tree";
const GROUP_CONTEXT_LABEL: &[u8] = b"GroupContext";
const INTERIM_TRANSCRIPT_HASH_LABEL: &[u8] = b"InterimTranscriptHash";
const CONFIRMATION_TAG_LABEL: &[u8] = b"ConfirmationTag";
const JOIN_CONFIG_LABEL: &[u8] = b"MlsGroupJoinConfig";
const OWN_LEAF_NODES_LABEL: &[u8] = b"OwnLeafNodes";
const GROUP_STATE_LABEL: &[u8] = b"GroupState";
const QUEUED_PROPOSAL_LABEL: &[u8] = b"QueuedProposal";
const PROPOSAL_QUEUE_REFS_LABEL: &[u8] = b"ProposalQueueRefs";
const OWN_LEAF_NODE_INDEX_LABEL: &[u8] = b"OwnLeafNodeIndex";
const EPOCH_SECRETS_LABEL: &[u8] = b"EpochSecrets";
const RESUMPTION_PSK_STORE_LABEL: &[u8] = b"ResumptionPsk";
const MESSAGE_SECRETS_LABEL: &[u8] = b"MessageSecrets";

/// The entries of a store (a value of it, cheap to clone).
#[derive(Debug, Clone, Default)]
pub(crate) struct Entries {
    /// Shared by copies; changed only when unshared (`Arc::make_mut`).
    base: Arc<HashMap<Vec<u8>, Arc<[u8]>>>,
    /// Writes (`Some`) and deletions (`None`) since `base`.
    overlay: HashMap<Vec<u8>, Option<Arc<[u8]>>>,
}

impl Entries {
    fn from_pairs(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        let base = pairs.into_iter().map(|(k, v)| (k, Arc::from(v))).collect();
        Entries { base: Arc::new(base), overlay: HashMap::new() }
    }

    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        match self.overlay.get(key) {
            Some(value) => value.as_deref(),
            None => self.base.get(key).map(|v| &**v),
        }
    }

    fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.overlay.insert(key, Some(Arc::from(value)));
        self.fold_if_large();
    }

    fn remove(&mut self, key: &[u8]) {
        if self.base.contains_key(key) {
            self.overlay.insert(key.to_vec(), None);
            self.fold_if_large();
        } else {
            self.overlay.remove(key);
        }
    }

    /// Folds the overlay into the base once it is large (copying the base
    /// first if a copy of the store shares it).
    fn fold_if_large(&mut self) {
        if self.overlay.len() <= self.base.len() / 4 + OVERLAY_SLACK {
            return;
        }
        let base = Arc::make_mut(&mut self.base);
        for (key, value) in self.overlay.drain() {
            match value {
                Some(value) => base.insert(key, value),
                None => base.remove(&key),
            };
        }
    }

    /// Every entry, in key order.
    fn sorted(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out: Vec<(Vec<u8>, Vec<u8>)> = self
            .base
            .iter()
            .filter(|(k, _)| !self.overlay.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.to_vec()))
            .chain(self.overlay.iter().filter_map(|(k, v)| Some((k.clone(), v.as_deref()?.to_vec()))))
            .collect();
        out.sort();
        out
    }
}

/// One device's openmls storage (see the module's doc).
#[derive(Debug, Default)]
pub(crate) struct Store {
    entries: RwLock<Entries>,
}

impl Store {
    /// A store holding these entries.
    pub(crate) fn from_entries(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        Store { entries: RwLock::new(Entries::from_pairs(pairs)) }
    }

    /// The entries as they stand (cheap: see the module's doc).
    pub(crate) fn snapshot(&self) -> Entries {
        self.read_entries().clone()
    }

    /// Puts back entries taken by [`Store::snapshot`].
    pub(crate) fn restore(&self, entries: Entries) {
        *self.write_entries() = entries;
    }

    /// An independent copy with the same entries.
    pub(crate) fn duplicate(&self) -> Store {
        Store { entries: RwLock::new(self.snapshot()) }
    }

    /// Every entry, in key order.
    pub(crate) fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.read_entries().sorted()
    }

    fn read_entries(&self) -> RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_entries(&self) -> RwLockWriteGuard<'_, Entries> {
        self.entries.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, label: &[u8], key: &[u8], value: Vec<u8>) -> Result<(), Error> {
        self.write_entries().insert(storage_key(label, key), value);
        Ok(())
    }

    /// Appends `value` to the JSON list stored under the key.
    fn append(&self, label: &[u8], key: &[u8], value: Vec<u8>) -> Result<(), Error> {
        let storage_key = storage_key(label, key);
        let mut entries = self.write_entries();
        let mut list: Vec<Vec<u8>> = serde_json::from_slice(entries.get(&storage_key).unwrap_or(b"[]"))?;
        list.push(value);
        entries.insert(storage_key, serde_json::to_vec(&list)?);
        Ok(())
    }

    /// Removes the first `value` from the JSON list stored under the key
    /// (writing an empty list if there was none).
    fn remove_item(&self, label: &[u8], key: &[u8], value: &[u8]) -> Result<(), Error> {
        let storage_key = storage_key(label, key);
        let mut entries = self.write_entries();
        let mut list: Vec<Vec<u8>> = serde_json::from_slice(entries.get(&storage_key).unwrap_or(b"[]"))?;
        if let Some(pos) = list.iter().position(|item| item.as_slice() == value) {
            list.remove(pos);
        }
        entries.insert(storage_key, serde_json::to_vec(&list)?);
        Ok(())
    }

    fn read<V: Entity<CURRENT_VERSION>>(&self, label: &[u8], key: &[u8]) -> Result<Option<V>, Error> {
        match self.read_entries().get(&storage_key(label, key)) {
            Some(value) => serde_json::from_slice(value).map(Some).map_err(|_| Error::SerializationError),
            None => Ok(None),
        }
    }

    fn read_list<V: Entity<CURRENT_VERSION>>(&self, label: &[u8], key: &[u8]) -> Result<Vec<V>, Error> {
        let items: Vec<Vec<u8>> = match self.read_entries().get(&storage_key(label, key)) {
            Some(list) => serde_json::from_slice(list)?,
            None => Vec::new(),
        };
        items
            .iter()
            .map(|item| serde_json::from_slice(item))
            .collect::<Result<_, _>>()
            .map_err(|_| Error::SerializationError)
    }

    fn delete(&self, label: &[u8], key: &[u8]) -> Result<(), Error> {
        self.write_entries().remove(&storage_key(label, key));
        Ok(())
    }
}

/// The key an entry is stored under: label, key, storage version.
fn storage_key(label: &[u8], key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(label.len() + key.len() + 2);
    out.extend_from_slice(label);
    out.extend_from_slice(key);
    out.extend_from_slice(&CURRENT_VERSION.to_be_bytes());
    out
}

fn json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    Ok(serde_json::to_vec(value)?)
}

fn epoch_key_pairs_id(
    group_id: &impl traits::GroupId<CURRENT_VERSION>,
    epoch: &impl traits::EpochKey<CURRENT_VERSION>,
    leaf_index: u32,
) -> Result<Vec<u8>, Error> {
    let mut key = json(group_id)?;
    key.extend_from_slice(&json(epoch)?);
    key.extend_from_slice(&json(&leaf_index)?);
    Ok(key)
}

impl StorageProvider<CURRENT_VERSION> for Store {
    type Error = Error;

    fn write_mls_join_config<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MlsGroupJoinConfig: traits::MlsGroupJoinConfig<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        config: &MlsGroupJoinConfig,
    ) -> Result<(), Error> {
        self.write(JOIN_CONFIG_LABEL, &json(group_id)?, json(config)?)
    }

    fn append_own_leaf_node<GroupId: traits::GroupId<CURRENT_VERSION>, LeafNode: traits::LeafNode<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
        leaf_node: &LeafNode,
    ) -> Result<(), Error> {
        self.append(OWN_LEAF_NODES_LABEL, &json(group_id)?, json(leaf_node)?)
    }

    fn queue_proposal<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        proposal_ref: &ProposalRef,
        proposal: &QueuedProposal,
    ) -> Result<(), Error> {
        self.write(QUEUED_PROPOSAL_LABEL, &json(&(group_id, proposal_ref))?, json(proposal)?)?;
        self.append(PROPOSAL_QUEUE_REFS_LABEL, &json(group_id)?, json(proposal_ref)?)
    }

    fn write_tree<GroupId: traits::GroupId<CURRENT_VERSION>, TreeSync: traits::TreeSync<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
        tree: &TreeSync,
    ) -> Result<(), Error> {
        self.write(TREE_LABEL, &json(group_id)?, json(tree)?)
    }

    fn write_interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        interim_transcript_hash: &InterimTranscriptHash,
    ) -> Result<(), Error> {
        self.write(INTERIM_TRANSCRIPT_HASH_LABEL, &json(group_id)?, json(interim_transcript_hash)?)
    }

    fn write_context<GroupId: traits::GroupId<CURRENT_VERSION>, GroupContext: traits::GroupContext<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
        group_context: &GroupContext,
    ) -> Result<(), Error> {
        self.write(GROUP_CONTEXT_LABEL, &json(group_id)?, json(group_context)?)
    }

    fn write_confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        confirmation_tag: &ConfirmationTag,
    ) -> Result<(), Error> {
        self.write(CONFIRMATION_TAG_LABEL, &json(group_id)?, json(confirmation_tag)?)
    }

    fn write_group_state<GroupState: traits::GroupState<CURRENT_VERSION>, GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
        group_state: &GroupState,
    ) -> Result<(), Error> {
        self.write(GROUP_STATE_LABEL, &json(group_id)?, json(group_state)?)
    }

    fn write_message_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MessageSecrets: traits::MessageSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        message_secrets: &MessageSecrets,
    ) -> Result<(), Error> {
        self.write(MESSAGE_SECRETS_LABEL, &json(group_id)?, json(message_secrets)?)
    }

    fn write_resumption_psk_store<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ResumptionPskStore: traits::ResumptionPskStore<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        resumption_psk_store: &ResumptionPskStore,
    ) -> Result<(), Error> {
        self.write(RESUMPTION_PSK_STORE_LABEL, &json(group_id)?, json(resumption_psk_store)?)
    }

    fn write_own_leaf_index<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNodeIndex: traits::LeafNodeIndex<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        own_leaf_index: &LeafNodeIndex,
    ) -> Result<(), Error> {
        self.write(OWN_LEAF_NODE_INDEX_LABEL, &json(group_id)?, json(own_leaf_index)?)
    }

    fn write_group_epoch_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupEpochSecrets: traits::GroupEpochSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        group_epoch_secrets: &GroupEpochSecrets,
    ) -> Result<(), Error> {
        self.write(EPOCH_SECRETS_LABEL, &json(group_id)?, json(group_epoch_secrets)?)
    }

    fn write_signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
        SignatureKeyPair: traits::SignatureKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
        signature_key_pair: &SignatureKeyPair,
    ) -> Result<(), Error> {
        self.write(SIGNATURE_KEY_PAIR_LABEL, &json(public_key)?, json(signature_key_pair)?)
    }

    fn write_encryption_key_pair<
        EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &EncryptionKey,
        key_pair: &HpkeKeyPair,
    ) -> Result<(), Error> {
        self.write(ENCRYPTION_KEY_PAIR_LABEL, &json(public_key)?, json(key_pair)?)
    }

    fn write_encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
        key_pairs: &[HpkeKeyPair],
    ) -> Result<(), Error> {
        self.write(EPOCH_KEY_PAIRS_LABEL, &epoch_key_pairs_id(group_id, epoch, leaf_index)?, json(key_pairs)?)
    }

    fn write_key_package<
        HashReference: traits::HashReference<CURRENT_VERSION>,
        KeyPackage: traits::KeyPackage<CURRENT_VERSION>,
    >(
        &self,
        hash_ref: &HashReference,
        key_package: &KeyPackage,
    ) -> Result<(), Error> {
        self.write(KEY_PACKAGE_LABEL, &json(hash_ref)?, json(key_package)?)
    }

    fn write_psk<PskId: traits::PskId<CURRENT_VERSION>, PskBundle: traits::PskBundle<CURRENT_VERSION>>(
        &self,
        psk_id: &PskId,
        psk: &PskBundle,
    ) -> Result<(), Error> {
        self.write(PSK_LABEL, &json(psk_id)?, json(psk)?)
    }

    fn mls_group_join_config<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MlsGroupJoinConfig: traits::MlsGroupJoinConfig<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<MlsGroupJoinConfig>, Error> {
        self.read(JOIN_CONFIG_LABEL, &json(group_id)?)
    }

    fn own_leaf_nodes<GroupId: traits::GroupId<CURRENT_VERSION>, LeafNode: traits::LeafNode<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<LeafNode>, Error> {
        self.read_list(OWN_LEAF_NODES_LABEL, &json(group_id)?)
    }

    fn queued_proposal_refs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<ProposalRef>, Error> {
        self.read_list(PROPOSAL_QUEUE_REFS_LABEL, &json(group_id)?)
    }

    fn queued_proposals<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Vec<(ProposalRef, QueuedProposal)>, Error> {
        let refs: Vec<ProposalRef> = self.read_list(PROPOSAL_QUEUE_REFS_LABEL, &json(group_id)?)?;
        refs.into_iter()
            .map(|proposal_ref| {
                let proposal = self
                    .read(QUEUED_PROPOSAL_LABEL, &json(&(group_id, &proposal_ref))?)?
                    .ok_or(Error::SerializationError)?;
                Ok((proposal_ref, proposal))
            })
            .collect()
    }

    fn tree<GroupId: traits::GroupId<CURRENT_VERSION>, TreeSync: traits::TreeSync<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<TreeSync>, Error> {
        self.read(TREE_LABEL, &json(group_id)?)
    }

    fn group_context<GroupId: traits::GroupId<CURRENT_VERSION>, GroupContext: traits::GroupContext<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupContext>, Error> {
        self.read(GROUP_CONTEXT_LABEL, &json(group_id)?)
    }

    fn interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<InterimTranscriptHash>, Error> {
        self.read(INTERIM_TRANSCRIPT_HASH_LABEL, &json(group_id)?)
    }

    fn confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<ConfirmationTag>, Error> {
        self.read(CONFIRMATION_TAG_LABEL, &json(group_id)?)
    }

    fn group_state<GroupState: traits::GroupState<CURRENT_VERSION>, GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupState>, Error> {
        self.read(GROUP_STATE_LABEL, &json(group_id)?)
    }

    fn message_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        MessageSecrets: traits::MessageSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<MessageSecrets>, Error> {
        self.read(MESSAGE_SECRETS_LABEL, &json(group_id)?)
    }

    fn resumption_psk_store<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ResumptionPskStore: traits::ResumptionPskStore<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<ResumptionPskStore>, Error> {
        self.read(RESUMPTION_PSK_STORE_LABEL, &json(group_id)?)
    }

    fn own_leaf_index<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        LeafNodeIndex: traits::LeafNodeIndex<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<LeafNodeIndex>, Error> {
        self.read(OWN_LEAF_NODE_INDEX_LABEL, &json(group_id)?)
    }

    fn group_epoch_secrets<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupEpochSecrets: traits::GroupEpochSecrets<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<Option<GroupEpochSecrets>, Error> {
        self.read(EPOCH_SECRETS_LABEL, &json(group_id)?)
    }

    fn signature_key_pair<
        SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>,
        SignatureKeyPair: traits::SignatureKeyPair<CURRENT_VERSION>,
    >(
        &self,
        public_key: &SignaturePublicKey,
    ) -> Result<Option<SignatureKeyPair>, Error> {
        self.read(SIGNATURE_KEY_PAIR_LABEL, &json(public_key)?)
    }

    fn encryption_key_pair<
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
        EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>,
    >(
        &self,
        public_key: &EncryptionKey,
    ) -> Result<Option<HpkeKeyPair>, Error> {
        self.read(ENCRYPTION_KEY_PAIR_LABEL, &json(public_key)?)
    }

    fn encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
        HpkeKeyPair: traits::HpkeKeyPair<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
    ) -> Result<Vec<HpkeKeyPair>, Error> {
        let key = storage_key(EPOCH_KEY_PAIRS_LABEL, &epoch_key_pairs_id(group_id, epoch, leaf_index)?);
        match self.read_entries().get(&key) {
            Some(value) => Ok(serde_json::from_slice(value)?),
            None => Ok(Vec::new()),
        }
    }

    fn key_package<
        KeyPackageRef: traits::HashReference<CURRENT_VERSION>,
        KeyPackage: traits::KeyPackage<CURRENT_VERSION>,
    >(
        &self,
        hash_ref: &KeyPackageRef,
    ) -> Result<Option<KeyPackage>, Error> {
        self.read(KEY_PACKAGE_LABEL, &json(hash_ref)?)
    }

    fn psk<PskBundle: traits::PskBundle<CURRENT_VERSION>, PskId: traits::PskId<CURRENT_VERSION>>(
        &self,
        psk_id: &PskId,
    ) -> Result<Option<PskBundle>, Error> {
        self.read(PSK_LABEL, &json(psk_id)?)
    }

    fn remove_proposal<GroupId: traits::GroupId<CURRENT_VERSION>, ProposalRef: traits::ProposalRef<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
        proposal_ref: &ProposalRef,
    ) -> Result<(), Error> {
        self.remove_item(PROPOSAL_QUEUE_REFS_LABEL, &json(group_id)?, &json(proposal_ref)?)?;
        self.delete(QUEUED_PROPOSAL_LABEL, &json(&(group_id, proposal_ref))?)
    }

    fn delete_own_leaf_nodes<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Error> {
        self.delete(OWN_LEAF_NODES_LABEL, &json(group_id)?)
    }

    fn delete_group_config<GroupId: traits::GroupId<CURRENT_VERSION>>(&self, group_id: &GroupId) -> Result<(), Error> {
        self.delete(JOIN_CONFIG_LABEL, &json(group_id)?)
    }

    fn delete_tree<GroupId: traits::GroupId<CURRENT_VERSION>>(&self, group_id: &GroupId) -> Result<(), Error> {
        self.delete(TREE_LABEL, &json(group_id)?)
    }

    fn delete_confirmation_tag<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Error> {
        self.delete(CONFIRMATION_TAG_LABEL, &json(group_id)?)
    }

    fn delete_group_state<GroupId: traits::GroupId<CURRENT_VERSION>>(&self, group_id: &GroupId) -> Result<(), Error> {
        self.delete(GROUP_STATE_LABEL, &json(group_id)?)
    }

    fn delete_context<GroupId: traits::GroupId<CURRENT_VERSION>>(&self, group_id: &GroupId) -> Result<(), Error> {
        self.delete(GROUP_CONTEXT_LABEL, &json(group_id)?)
    }

    fn delete_interim_transcript_hash<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Error> {
        self.delete(INTERIM_TRANSCRIPT_HASH_LABEL, &json(group_id)?)
    }

    fn delete_message_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Error> {
        self.delete(MESSAGE_SECRETS_LABEL, &json(group_id)?)
    }

    fn delete_all_resumption_psk_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Error> {
        self.delete(RESUMPTION_PSK_STORE_LABEL, &json(group_id)?)
    }

    fn delete_own_leaf_index<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Error> {
        self.delete(OWN_LEAF_NODE_INDEX_LABEL, &json(group_id)?)
    }

    fn delete_group_epoch_secrets<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Error> {
        self.delete(EPOCH_SECRETS_LABEL, &json(group_id)?)
    }

    /// As openmls_memory_storage does it: the list of references goes, and
    /// the queued proposals stay (it removes them under keys without their
    /// label and version, which hold nothing).
    fn clear_proposal_queue<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
    ) -> Result<(), Error> {
        let refs: Vec<ProposalRef> = self.read_list(PROPOSAL_QUEUE_REFS_LABEL, &json(group_id)?)?;
        let mut entries = self.write_entries();
        for proposal_ref in refs {
            entries.remove(&json(&(group_id, proposal_ref))?);
        }
        entries.remove(&storage_key(PROPOSAL_QUEUE_REFS_LABEL, &json(group_id)?));
        Ok(())
    }

    fn delete_signature_key_pair<SignaturePublicKey: traits::SignaturePublicKey<CURRENT_VERSION>>(
        &self,
        public_key: &SignaturePublicKey,
    ) -> Result<(), Error> {
        self.delete(SIGNATURE_KEY_PAIR_LABEL, &json(public_key)?)
    }

    fn delete_encryption_key_pair<EncryptionKey: traits::EncryptionKey<CURRENT_VERSION>>(
        &self,
        public_key: &EncryptionKey,
    ) -> Result<(), Error> {
        self.delete(ENCRYPTION_KEY_PAIR_LABEL, &json(public_key)?)
    }

    fn delete_encryption_epoch_key_pairs<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        EpochKey: traits::EpochKey<CURRENT_VERSION>,
    >(
        &self,
        group_id: &GroupId,
        epoch: &EpochKey,
        leaf_index: u32,
    ) -> Result<(), Error> {
        self.delete(EPOCH_KEY_PAIRS_LABEL, &epoch_key_pairs_id(group_id, epoch, leaf_index)?)
    }

    fn delete_key_package<KeyPackageRef: traits::HashReference<CURRENT_VERSION>>(
        &self,
        hash_ref: &KeyPackageRef,
    ) -> Result<(), Error> {
        self.delete(KEY_PACKAGE_LABEL, &json(hash_ref)?)
    }

    fn delete_psk<PskKey: traits::PskId<CURRENT_VERSION>>(&self, psk_id: &PskKey) -> Result<(), Error> {
        self.delete(PSK_LABEL, &json(psk_id)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use openmls_rust_crypto::MemoryStorage;
    use openmls_traits::storage::Key;
    use serde::Deserialize;

    /// Stands for every key and entity type openmls stores.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct T(Vec<u8>);

    fn t(byte: u8) -> T {
        T(vec![byte; 3])
    }

    macro_rules! stands_for {
        ($($tr:ident),*) => { $(impl traits::$tr<CURRENT_VERSION> for T {})* };
    }
    impl Key<CURRENT_VERSION> for T {}
    impl Entity<CURRENT_VERSION> for T {}
    stands_for!(GroupId, SignaturePublicKey, HashReference, PskId, EncryptionKey, EpochKey, ProposalRef);
    stands_for!(QueuedProposal, TreeSync, GroupContext, InterimTranscriptHash, ConfirmationTag, SignatureKeyPair);
    stands_for!(PskBundle, HpkeKeyPair, GroupState, GroupEpochSecrets, LeafNodeIndex, MessageSecrets);
    stands_for!(ResumptionPskStore, KeyPackage, MlsGroupJoinConfig, LeafNode, ApplicationExportTree);

    /// Every method of the trait, writes then reads then deletes; what the
    /// reads gave.
    fn drive<S: StorageProvider<CURRENT_VERSION>>(s: &S, g: &T) -> Vec<String> {
        let mut reads = Vec::new();
        s.write_mls_join_config(g, &t(1)).unwrap();
        s.append_own_leaf_node(g, &t(2)).unwrap();
        s.append_own_leaf_node(g, &t(3)).unwrap();
        s.queue_proposal(g, &t(4), &t(5)).unwrap();
        s.queue_proposal(g, &t(6), &t(7)).unwrap();
        s.write_tree(g, &t(8)).unwrap();
        s.write_interim_transcript_hash(g, &t(9)).unwrap();
        s.write_context(g, &t(10)).unwrap();
        s.write_confirmation_tag(g, &t(11)).unwrap();
        s.write_group_state(g, &t(12)).unwrap();
        s.write_message_secrets(g, &t(13)).unwrap();
        s.write_resumption_psk_store(g, &t(14)).unwrap();
        s.write_own_leaf_index(g, &t(15)).unwrap();
        s.write_group_epoch_secrets(g, &t(16)).unwrap();
        s.write_signature_key_pair(&t(17), &t(18)).unwrap();
        s.write_encryption_key_pair(&t(19), &t(20)).unwrap();
        s.write_encryption_epoch_key_pairs(g, &t(21), 7, &[t(22), t(23)]).unwrap();
        s.write_key_package(&t(24), &t(25)).unwrap();
        s.write_psk(&t(26), &t(27)).unwrap();
        let one = |r: Option<T>| format!("{r:?}");
        reads.push(one(s.mls_group_join_config(g).unwrap()));
        reads.push(format!("{:?}", s.own_leaf_nodes::<T, T>(g).unwrap()));
        reads.push(format!("{:?}", s.queued_proposal_refs::<T, T>(g).unwrap()));
        reads.push(format!("{:?}", s.queued_proposals::<T, T, T>(g).unwrap()));
        reads.push(one(s.tree(g).unwrap()));
        reads.push(one(s.group_context(g).unwrap()));
        reads.push(one(s.interim_transcript_hash(g).unwrap()));
        reads.push(one(s.confirmation_tag(g).unwrap()));
        reads.push(one(s.group_state(g).unwrap()));
        reads.push(one(s.message_secrets(g).unwrap()));
        reads.push(one(s.resumption_psk_store(g).unwrap()));
        reads.push(one(s.own_leaf_index(g).unwrap()));
        reads.push(one(s.group_epoch_secrets(g).unwrap()));
        reads.push(one(s.signature_key_pair(&t(17)).unwrap()));
        reads.push(one(s.encryption_key_pair(&t(19)).unwrap()));
        reads.push(format!("{:?}", s.encryption_epoch_key_pairs::<T, T, T>(g, &t(21), 7).unwrap()));
        reads.push(format!("{:?}", s.encryption_epoch_key_pairs::<T, T, T>(g, &t(21), 8).unwrap()));
        reads.push(one(s.key_package(&t(24)).unwrap()));
        reads.push(one(s.psk(&t(26)).unwrap()));
        s.remove_proposal(g, &t(4)).unwrap();
        reads.push(format!("{:?}", s.queued_proposals::<T, T, T>(g).unwrap()));
        s.clear_proposal_queue::<T, T>(g).unwrap();
        reads.push(format!("{:?}", s.queued_proposal_refs::<T, T>(g).unwrap()));
        s.delete_own_leaf_nodes(g).unwrap();
        s.delete_group_config(g).unwrap();
        s.delete_tree(g).unwrap();
        s.delete_confirmation_tag(g).unwrap();
        s.delete_group_state(g).unwrap();
        s.delete_context(g).unwrap();
        s.delete_interim_transcript_hash(g).unwrap();
        s.delete_message_secrets(g).unwrap();
        s.delete_all_resumption_psk_secrets(g).unwrap();
        s.delete_own_leaf_index(g).unwrap();
        s.delete_group_epoch_secrets(g).unwrap();
        s.delete_signature_key_pair(&t(17)).unwrap();
        s.delete_encryption_key_pair(&t(19)).unwrap();
        s.delete_encryption_epoch_key_pairs(g, &t(21), 7).unwrap();
        s.delete_key_package(&t(24)).unwrap();
        s.delete_psk(&t(26)).unwrap();
        reads.push(one(s.tree(g).unwrap()));
        reads.push(format!("{:?}", s.own_leaf_nodes::<T, T>(g).unwrap()));
        reads
    }

    fn memory_entries(m: &MemoryStorage) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut entries: Vec<_> = m.values.read().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        entries.sort();
        entries
    }

    #[test]
    fn entries_are_openmls_memory_storage_s() {
        let memory = MemoryStorage::default();
        let store = Store::default();
        for group in 0..3 {
            let g = T(vec![100 + group; 2]);
            assert_eq!(drive(&memory, &g), drive(&store, &g));
            // Left written, for the next round to find.
            memory.write_tree(&g, &t(group)).unwrap();
            store.write_tree(&g, &t(group)).unwrap();
            assert_eq!(memory_entries(&memory), store.entries());
        }
        assert!(!store.entries().is_empty());
    }

    #[test]
    fn copies_are_independent_and_snapshots_restore() {
        let original = Store::default();
        for i in 0..200u8 {
            original.write_tree(&t(i), &t(i)).unwrap();
        }
        let copy = original.duplicate();
        let before = original.entries();
        for i in 0..150u8 {
            copy.write_tree(&t(i), &t(i.wrapping_add(1))).unwrap();
            copy.delete_tree(&t(i.wrapping_add(50))).unwrap();
        }
        assert_eq!(original.entries(), before, "a copy's writes show in the original");
        original.write_context(&t(1), &t(2)).unwrap();
        assert_eq!(copy.group_context::<T, T>(&t(1)).unwrap(), None, "the original's writes show in a copy");
        assert_eq!(copy.tree::<T, T>(&t(3)).unwrap(), Some(t(4)));
        assert_eq!(copy.tree::<T, T>(&t(160)).unwrap(), None);
        assert_eq!(copy.tree::<T, T>(&t(60)).unwrap(), Some(t(61)), "deleted, then written again");

        let saved = copy.snapshot();
        let kept = copy.entries();
        for i in 0..200u8 {
            copy.write_psk(&t(i), &t(i)).unwrap();
            copy.delete_tree(&t(i)).unwrap();
        }
        assert_ne!(copy.entries(), kept);
        copy.restore(saved);
        assert_eq!(copy.entries(), kept);
        assert_eq!(Store::from_entries(kept.clone()).entries(), kept);
    }
}
