//! Serializable forms of what a device keeps, for
//! [`Device::export_state`](doormat_engine::Device::export_state): device
//! addresses ([`Peer`]), the seeded random generator ([`RngState`], and
//! [`reseed`] for `add_entropy`), maps with non-string keys ([`pairs`]) and
//! the exported bytes themselves ([`to_state`]).
//!
//! **Invariant:** exporting then importing gives a device that behaves
//! byte for byte like the original, random generator position included.

use doormat_engine::adapter::Seed;
use doormat_engine::ImplError;
use doormat_formats::{DeviceAddr, UserId};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A device address in a form serde can read back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct Peer {
    /// The owning user.
    pub(crate) user: String,
    /// The device's name.
    pub(crate) device: String,
}

impl Peer {
    /// The harness's address type.
    pub(crate) fn to_addr(&self) -> DeviceAddr {
        DeviceAddr::new(&self.user, &self.device)
    }

    /// The owning user.
    pub(crate) fn user_id(&self) -> UserId {
        UserId(self.user.clone())
    }
}

impl From<&DeviceAddr> for Peer {
    fn from(a: &DeviceAddr) -> Self {
        Peer { user: a.user.0.clone(), device: a.device.clone() }
    }
}

/// Where a [`ChaCha20Rng`] stands: its seed, stream and word position.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RngState {
    seed: [u8; 32],
    stream: u64,
    word_pos_hi: u64,
    word_pos_lo: u64,
}

impl RngState {
    /// Records `rng`'s position.
    pub(crate) fn save(rng: &ChaCha20Rng) -> Self {
        let pos = rng.get_word_pos();
        RngState {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            // Splitting a u128 into its halves: the truncations are the point.
            word_pos_hi: (pos >> 64) as u64,
            word_pos_lo: pos as u64,
        }
    }

    /// A generator at the recorded position.
    pub(crate) fn restore(&self) -> ChaCha20Rng {
        let mut rng = ChaCha20Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos((u128::from(self.word_pos_hi) << 64) | u128::from(self.word_pos_lo));
        rng
    }
}

/// Re-keys `rng` for `add_entropy`: the next generator is seeded with
/// SHA-256 of `label`, 32 bytes drawn from `rng` and `entropy`, so what
/// came before and what is added both count.
pub(crate) fn reseed(rng: &mut ChaCha20Rng, label: &[u8], entropy: &Seed) {
    let mut current = [0u8; 32];
    rng.fill_bytes(&mut current);
    let next = Sha256::new().chain_update(label).chain_update(current).chain_update(entropy).finalize();
    *rng = ChaCha20Rng::from_seed(next.into());
}

/// `export` as the bytes of an exported state (JSON); a value serde cannot
/// write is the design's failure.
pub(crate) fn to_state<T: Serialize + ?Sized>(export: &T) -> Result<Vec<u8>, ImplError> {
    serde_json::to_vec(export).map_err(|e| ImplError::Failed(format!("cannot serialize state: {e}")))
}

/// `#[serde(with = "pairs")]`: a `BTreeMap` as a list of `(key, value)`
/// pairs, for keys JSON cannot use as object keys.
pub(crate) mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    /// Writes the map as a sequence of pairs, in key order.
    pub(crate) fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    /// Reads a sequence of pairs back into a map.
    pub(crate) fn deserialize<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

/// Runs `f` on a copy of `state` and keeps the copy only if `f` succeeds, so
/// a refused or failed operation leaves a device exactly as it was.
pub(crate) fn transactional<T: Clone, R>(
    state: &mut T,
    f: impl FnOnce(&mut T) -> Result<R, doormat_engine::ImplError>,
) -> Result<R, doormat_engine::ImplError> {
    let mut next = state.clone();
    let r = f(&mut next)?;
    *state = next;
    Ok(r)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rng_state_resumes_the_stream() {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let mut skip = [0u8; 77];
        rng.fill_bytes(&mut skip);
        let mut restored = RngState::save(&rng).restore();
        assert_eq!(rng.next_u64(), restored.next_u64());
        assert_ne!(ChaCha20Rng::from_seed([7; 32]).next_u64(), restored.next_u64());
    }
}
