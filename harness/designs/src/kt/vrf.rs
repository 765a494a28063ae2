//! The directory's VRF key, derived from its seed: the same seed gives the
//! same key, and so the same labels in the tree and the same roots.

use akd::ecvrf::{VRFKeyStorage, VrfError};
use doormat_engine::adapter::Seed;
use sha2::{Digest, Sha256};

/// akd's key storage holding one Ed25519 secret key,
/// `SHA-256("doormat/v1/kt-vrf" ‖ 0 ‖ seed)`.
#[derive(Clone)]
pub(super) struct SeededVrf([u8; 32]);

impl std::fmt::Debug for SeededVrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeededVrf(..)")
    }
}

impl SeededVrf {
    pub(super) fn new(seed: &Seed) -> Self {
        let mut h = Sha256::new();
        h.update(b"doormat/v1/kt-vrf");
        h.update([0]);
        h.update(seed);
        SeededVrf(h.finalize().into())
    }
}

#[async_trait::async_trait]
impl VRFKeyStorage for SeededVrf {
    async fn retrieve(&self) -> Result<Vec<u8>, VrfError> {
        Ok(self.0.to_vec())
    }
}
