//! Key transparency on akd: the key directory a provider runs
//! ([`KeyDirectory`]) and the checks its clients and auditors make
//! ([`verify_lookup`], [`verify_history`], [`verify_audit`]).
//!
//! The directory maps a label (a device's address) to a value (its
//! identity key). Each [`KeyDirectory::publish`] starts a new epoch with a
//! new root, a commitment to the whole directory. The provider answers a
//! lookup, a label's history and an audit between two epochs with proofs;
//! a client checks a lookup against the root it holds, a device checks its
//! own label's history every epoch (it sees any value it did not publish),
//! and an auditor checks that each root extends the one before (so a
//! provider that shows different directories to different clients is
//! caught when their roots are compared with the auditor's). The
//! configuration is akd's `WhatsAppV1Configuration`, that of WhatsApp's
//! deployment.
//!
//! Proofs are bytes (akd's protobuf encoding): they cross the provider like
//! everything else, so the provider can replace or tamper with them, and
//! the checks take nothing but bytes and what the checker already holds
//! (the directory's VRF public key, a root and its epoch).
//!
//! **Invariants:** no clock, no OS randomness, no thread. The VRF key comes
//! from the directory's seed, so the same seed and the same publishes give
//! the same roots and proofs, byte for byte (akd's in-memory storage keeps
//! hash maps, whose order reaches neither). akd is async: every call runs
//! to its end on a current-thread tokio runtime (one per directory, one per
//! audit check) with akd's parallelism off, so nothing runs beside the
//! calling thread. Bytes that are no proof, or a proof made up to crash the
//! checker, are refused with an error, never a panic.

mod verify;
mod vrf;

#[cfg(test)]
mod tests;

use std::fmt;

use akd::append_only_zks::AzksParallelismConfig;
use akd::directory::Directory;
use akd::errors::{AkdError, DirectoryError, StorageError};
use akd::storage::memory::AsyncInMemoryDatabase;
use akd::storage::StorageManager;
use akd::{AkdLabel, AkdValue, EpochHash, HistoryParams};
use doormat_engine::adapter::Seed;
use protobuf::Message;
use tokio::runtime::Runtime;

pub use verify::{verify_audit, verify_history, verify_lookup, Entry};
use vrf::SeededVrf;

/// The tree and hashing configuration of WhatsApp's key transparency.
type Config = akd::WhatsAppV1Configuration;

/// A directory epoch: 0 is the empty directory, each publish adds one.
pub type Epoch = u64;

/// The root hash committing to the whole directory at one epoch.
pub type Root = [u8; 32];

/// What went wrong, grouped by who is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KtError {
    /// The proof does not hold for the root, epoch, label or key it was
    /// checked with: what a client sees when the provider lies.
    Refused(String),
    /// Bytes that do not decode as a proof of the kind asked for.
    Malformed(String),
    /// The directory was asked for something it cannot answer: a label it
    /// never held, an epoch it never had, a label twice in one publish.
    Misuse(String),
    /// akd failed inside (storage, VRF), or no runtime could be started.
    Internal(String),
}

impl fmt::Display for KtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KtError::Refused(m) => write!(f, "proof refused: {m}"),
            KtError::Malformed(m) => write!(f, "not a proof: {m}"),
            KtError::Misuse(m) => write!(f, "key directory misused: {m}"),
            KtError::Internal(m) => write!(f, "key directory failed: {m}"),
        }
    }
}

impl std::error::Error for KtError {}

impl From<AkdError> for KtError {
    fn from(e: AkdError) -> Self {
        match e {
            AkdError::Directory(DirectoryError::Publish(_) | DirectoryError::InvalidEpoch(_))
            | AkdError::Storage(StorageError::NotFound(_)) => KtError::Misuse(e.to_string()),
            other => KtError::Internal(other.to_string()),
        }
    }
}

/// One epoch's root, as the provider states it after a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochRoot {
    /// The epoch the root commits to.
    pub epoch: Epoch,
    /// The root hash.
    pub root: Root,
}

/// A proof the provider serves, with the epoch and root it was made
/// against (a client checks it against the root *it* holds for that
/// epoch, not this one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The latest epoch when the proof was made.
    pub epoch: Epoch,
    /// The directory's root at that epoch.
    pub root: Root,
    /// The proof, protobuf-encoded.
    pub proof: Vec<u8>,
}

/// The provider's key directory: akd over in-memory storage, its VRF key
/// derived from a seed, run on a runtime of its own.
pub struct KeyDirectory {
    runtime: Runtime,
    akd: Directory<Config, AsyncInMemoryDatabase, SeededVrf>,
    seed: Seed,
    vrf_public_key: [u8; 32],
    /// The root of every epoch, indexed by epoch (akd keeps only the latest).
    roots: Vec<Root>,
    /// What each publish put in, indexed by epoch - 1 (to [`branch`](Self::branch)).
    published: Vec<Vec<(String, Vec<u8>)>>,
}

impl fmt::Debug for KeyDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyDirectory")
            .field("vrf_public_key", &hex::encode(self.vrf_public_key))
            .field("epoch", &self.epoch())
            .finish_non_exhaustive()
    }
}

/// A current-thread runtime with no driver: no I/O, no timer, no thread.
fn runtime() -> Result<Runtime, KtError> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| KtError::Internal(format!("cannot start a runtime: {e}")))
}

impl KeyDirectory {
    /// An empty directory (epoch 0) whose VRF key is derived from `seed`.
    pub fn new(seed: Seed) -> Result<Self, KtError> {
        let runtime = runtime()?;
        let vrf = SeededVrf::new(&seed);
        let (akd, vrf_public_key, root) = runtime.block_on(async {
            let storage = StorageManager::new_no_cache(AsyncInMemoryDatabase::new());
            let akd = Directory::<Config, _, _>::new(storage, vrf, AzksParallelismConfig::disabled()).await?;
            let key = akd.get_public_key().await?;
            let EpochHash(_, root) = akd.get_epoch_hash().await?;
            Ok::<_, KtError>((akd, key.to_bytes(), root))
        })?;
        Ok(KeyDirectory { runtime, akd, seed, vrf_public_key, roots: vec![root], published: Vec::new() })
    }

    /// The public key clients check VRF proofs with (Ed25519 form, 32 bytes).
    pub fn vrf_public_key(&self) -> [u8; 32] {
        self.vrf_public_key
    }

    /// The latest epoch.
    pub fn epoch(&self) -> Epoch {
        (self.roots.len() - 1) as Epoch
    }

    /// The root at `epoch`, if the directory has reached it.
    pub fn root(&self, epoch: Epoch) -> Option<Root> {
        usize::try_from(epoch).ok().and_then(|e| self.roots.get(e)).copied()
    }

    /// Sets each label to its value, in a new epoch. Updates that change
    /// nothing (every value already current) start no epoch: the latest
    /// epoch and root are returned.
    pub fn publish(&mut self, updates: &[(String, Vec<u8>)]) -> Result<EpochRoot, KtError> {
        let entries =
            updates.iter().map(|(label, value)| (AkdLabel::from(label.as_str()), AkdValue(value.clone()))).collect();
        let EpochHash(epoch, root) = self.runtime.block_on(self.akd.publish(entries))?;
        if epoch > self.epoch() {
            self.roots.push(root);
            self.published.push(updates.to_vec());
        }
        Ok(EpochRoot { epoch, root })
    }

    /// A proof of `label`'s current value at the latest epoch.
    pub fn lookup(&self, label: &str) -> Result<Answer, KtError> {
        let (proof, EpochHash(epoch, root)) = self.runtime.block_on(self.akd.lookup(AkdLabel::from(label)))?;
        let proof = akd::proto::specs::types::LookupProof::from(&proof);
        Ok(Answer { epoch, root, proof: encode(&proof)? })
    }

    /// A proof of every value `label` ever had, at the latest epoch.
    pub fn key_history(&self, label: &str) -> Result<Answer, KtError> {
        let (proof, EpochHash(epoch, root)) =
            self.runtime.block_on(self.akd.key_history(&AkdLabel::from(label), HistoryParams::Complete))?;
        let proof = akd::proto::specs::types::HistoryProof::from(&proof);
        Ok(Answer { epoch, root, proof: encode(&proof)? })
    }

    /// A proof that the directory only grew from epoch `from` to epoch `to`
    /// (`from < to`), checked with the roots of `from..=to`.
    pub fn audit(&self, from: Epoch, to: Epoch) -> Result<Vec<u8>, KtError> {
        let proof = self.runtime.block_on(self.akd.audit(from, to))?;
        encode(&akd::proto::specs::types::AppendOnlyProof::from(&proof))
    }

    /// A second directory with the same seed and the same publishes up to
    /// `epoch`, on storage of its own: from there on the two can differ,
    /// which is how a provider shows different clients different views.
    pub fn branch(&self, epoch: Epoch) -> Result<KeyDirectory, KtError> {
        let upto = usize::try_from(epoch)
            .ok()
            .filter(|e| *e < self.roots.len())
            .ok_or_else(|| KtError::Misuse(format!("no epoch {epoch} to branch at")))?;
        let mut other = KeyDirectory::new(self.seed)?;
        for updates in &self.published[..upto] {
            other.publish(updates)?;
        }
        Ok(other)
    }
}

/// A proof's protobuf encoding.
fn encode(proof: &impl Message) -> Result<Vec<u8>, KtError> {
    proof.write_to_bytes().map_err(|e| KtError::Internal(format!("cannot encode a proof: {e}")))
}
