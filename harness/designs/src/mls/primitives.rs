//! The `mls` design's primitives for known-answer tests ([`OpenMlsPrimitives`]):
//! every call goes to the `OpenMlsCrypto` of the design's own openmls
//! provider ([`MlsProvider::crypto`], the [`super::engine::Engine`] that openmls
//! is handed), which passes these operations to openmls_rust_crypto 0.6
//! unchanged. Nothing here computes anything itself.
//!
//! The design speaks one cipher suite, 0x0003
//! (`MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519`): HPKE with
//! DHKEM(X25519, HKDF-SHA256), ChaCha20-Poly1305, SHA-256 with its HKDF and
//! HMAC, Ed25519. Exposed, with the calls openmls makes:
//!
//! - ChaCha20-Poly1305: `aead_encrypt` / `aead_decrypt` with
//!   `AeadType::ChaCha20Poly1305` (message and secret-tree encryption).
//! - HKDF-SHA-256: `hkdf_extract` then `hkdf_expand` with `HashType::Sha2_256`
//!   (the key schedule).
//! - HMAC-SHA-256: `hmac` with `HashType::Sha2_256` (membership and
//!   confirmation tags).
//! - Ed25519: `verify_signature` with `SignatureScheme::ED25519` (every
//!   signed MLS object); openmls_rust_crypto verifies strictly
//!   (`verify_strict`).
//!
//! Not exposed ([`ImplError::Unsupported`], counted as skipped):
//!
//! - X25519. The suite uses it only inside HPKE's DHKEM, and the provider's
//!   API never returns a raw Diffie-Hellman output: `hpke_open` and
//!   `hpke_setup_receiver_and_export` take a private key and a peer key but
//!   return only what the HPKE key schedule derives from the shared secret,
//!   and `derive_hpke_keypair` hashes its input into the private key. A
//!   shared secret cannot be recovered from either, so the X25519 vectors
//!   cannot be run without computing X25519 here, which would test doormat
//!   and not the design. (The receiving side refuses an all-zero exchange,
//!   in hpke-rs; a test below checks it. The sending side is the design's
//!   own HPKE, [`super::hpke`], which refuses it too.)
//! - AES-256-GCM: openmls_rust_crypto has it, but suite 0x0003 never uses it.
//!
//! **Invariants:** the same provider calls openmls makes, with no check of
//! doormat's added: wrong key or signature lengths are refused by the
//! library, with one exception: openmls_rust_crypto *panics* on an AEAD
//! nonce other than 96 bits (it converts the slice with `into()`). openmls
//! never passes one (the suite's nonces are 12 bytes), so such a nonce is
//! refused here before the library is called, as outside the suite; so is
//! an HKDF output longer than any known-answer file may ask for
//! ([`MAX_OUTPUT_SIZE`], 64 KiB), which the library would allocate before
//! refusing (a huge one would abort the process). And,
//! as the design calls openmls, every call here runs under `catch_unwind`:
//! any other panic is reported as [`ImplError::Failed`], never a panic of
//! the harness.

use super::engine::MlsProvider;
use doormat_engine::{AeadAlg, ImplError, Primitives};
use doormat_formats::kat::MAX_OUTPUT_SIZE;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::types::{AeadType, CryptoError, HashType, SignatureScheme};
use openmls_traits::OpenMlsProvider;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// The `mls` design's primitives: its openmls provider's cryptography.
#[derive(Debug)]
pub(crate) struct OpenMlsPrimitives {
    /// A provider as a device has one; none of the operations exposed here
    /// draws from its generator.
    provider: MlsProvider,
}

impl OpenMlsPrimitives {
    /// The primitives of a fresh provider.
    pub(crate) fn new() -> Self {
        OpenMlsPrimitives { provider: MlsProvider::new(ChaCha20Rng::from_seed([0; 32])) }
    }
}

/// Runs `f` (a call into openmls_rust_crypto); a panic inside it is a
/// failure of the library, reported as such.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, ImplError>) -> Result<T, ImplError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(ImplError::Failed(format!("{what}: openmls_rust_crypto panicked on this input"))))
}

/// The library refused the input.
fn refused(what: &str, e: CryptoError) -> ImplError {
    ImplError::Rejected(format!("{what}: openmls_rust_crypto refused it ({e})"))
}

/// The suite's AEAD, for a 96-bit nonce; any other AEAD is not used by the
/// design, and any other nonce length would make the library panic.
fn aead_type(alg: AeadAlg, nonce: &[u8]) -> Result<AeadType, ImplError> {
    let t = match alg {
        AeadAlg::ChaCha20Poly1305 => AeadType::ChaCha20Poly1305,
        _ => return Err(ImplError::Unsupported(format!("{} (not in MLS cipher suite 0x0003)", alg.name()))),
    };
    if nonce.len() != 12 {
        return Err(ImplError::Rejected(format!(
            "{} nonce of {} bits: suite 0x0003 uses 96 (openmls_rust_crypto would panic on it)",
            alg.name(),
            nonce.len() * 8
        )));
    }
    Ok(t)
}

impl Primitives for OpenMlsPrimitives {
    /// Not reachable: openmls's provider computes X25519 only inside HPKE
    /// and returns no shared secret (see the module documentation).
    fn x25519(&self, _private: &[u8], _public: &[u8]) -> Result<Vec<u8>, ImplError> {
        Err(ImplError::Unsupported("x25519 (inside HPKE only; the provider returns no shared secret)".to_owned()))
    }

    fn ed25519_verify(&self, public: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, ImplError> {
        guarded("Ed25519", || {
            match self.provider.crypto().verify_signature(SignatureScheme::ED25519, msg, public, sig) {
                Ok(()) => Ok(true),
                Err(CryptoError::InvalidSignature) => Ok(false),
                Err(e) => Err(refused("Ed25519 public key or signature", e)),
            }
        })
    }

    fn aead_seal(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        let t = aead_type(alg, nonce)?;
        guarded(alg.name(), || {
            self.provider.crypto().aead_encrypt(t, key, msg, nonce, aad).map_err(|e| refused(alg.name(), e))
        })
    }

    fn aead_open(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8]) -> Result<Vec<u8>, ImplError> {
        let t = aead_type(alg, nonce)?;
        guarded(alg.name(), || {
            self.provider.crypto().aead_decrypt(t, key, ct, nonce, aad).map_err(|e| refused(alg.name(), e))
        })
    }

    fn hkdf_sha256(&self, ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Vec<u8>, ImplError> {
        // openmls_rust_crypto allocates the output before it checks the
        // length, and an allocation that fails aborts the process (no
        // panic to catch). Lengths up to what a known-answer file may ask
        // for (64 KiB) go to the library, which refuses those above 8160
        // itself; a longer one, which only a request can carry, is refused
        // here.
        if len > MAX_OUTPUT_SIZE {
            return Err(ImplError::Rejected(format!(
                "HKDF-Expand to {len} bytes: HKDF-SHA-256 gives at most 8160 (not passed to openmls_rust_crypto, which would allocate it before refusing)"
            )));
        }
        guarded("HKDF-SHA-256", || {
            let crypto = self.provider.crypto();
            let prk = crypto.hkdf_extract(HashType::Sha2_256, salt, ikm).map_err(|e| refused("HKDF-Extract", e))?;
            let okm = crypto
                .hkdf_expand(HashType::Sha2_256, prk.as_slice(), info, len)
                .map_err(|e| refused(&format!("HKDF-Expand to {len} bytes"), e))?;
            Ok(okm.as_slice().to_vec())
        })
    }

    fn hmac_sha256(&self, key: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        guarded("HMAC-SHA-256", || {
            let tag =
                self.provider.crypto().hmac(HashType::Sha2_256, key, msg).map_err(|e| refused("HMAC-SHA-256", e))?;
            Ok(tag.as_slice().to_vec())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use openmls_traits::types::{HpkeAeadType, HpkeConfig, HpkeKdfType, HpkeKemType};

    #[test]
    fn what_the_suite_does_not_use_is_unsupported() {
        let p = OpenMlsPrimitives::new();
        assert!(matches!(p.x25519(&[1; 32], &[9; 32]), Err(ImplError::Unsupported(_))));
        assert!(matches!(
            p.aead_seal(AeadAlg::Aes256Gcm, &[0; 32], &[0; 12], b"", b"m"),
            Err(ImplError::Unsupported(_))
        ));
        let sealed = p.aead_seal(AeadAlg::ChaCha20Poly1305, &[0; 32], &[0; 12], b"", b"m").unwrap();
        assert_eq!(p.aead_open(AeadAlg::ChaCha20Poly1305, &[0; 32], &[0; 12], b"", &sealed).unwrap(), b"m");
    }

    /// A nonce the library would panic on is refused before it is called;
    /// any other panic inside the library is caught and reported as its
    /// failure.
    #[test]
    fn a_panic_in_the_library_is_a_failure_not_a_panic() {
        let p = OpenMlsPrimitives::new();
        let r = p.aead_open(AeadAlg::ChaCha20Poly1305, &[0; 32], &[0; 8], b"", &[0; 17]);
        assert!(matches!(&r, Err(ImplError::Rejected(m)) if m.contains("nonce of 64 bits")), "{r:?}");
        let r: Result<(), ImplError> = guarded("test", || panic!("inside the library"));
        assert!(matches!(&r, Err(ImplError::Failed(m)) if m.contains("panicked")), "{r:?}");
        // A key of the wrong length is refused by the library itself.
        let r = p.aead_seal(AeadAlg::ChaCha20Poly1305, &[0; 31], &[0; 12], b"", b"m");
        assert!(matches!(r, Err(ImplError::Rejected(_))), "{r:?}");
    }

    /// The one place X25519 is reachable: receiving HPKE refuses an all-zero
    /// exchange (the low-order point 0), as RFC 9180 section 7.1.4 requires.
    #[test]
    fn hpke_receiving_refuses_an_all_zero_exchange() {
        let p = OpenMlsPrimitives::new();
        let config = || HpkeConfig(HpkeKemType::DhKem25519, HpkeKdfType::HkdfSha256, HpkeAeadType::ChaCha20Poly1305);
        let crypto = p.provider.crypto();
        let pair = crypto.derive_hpke_keypair(config(), &[7; 32]).unwrap();
        let other = crypto.derive_hpke_keypair(config(), &[8; 32]).unwrap();
        let ok = crypto.hpke_setup_receiver_and_export(config(), &other.public, &pair.private, b"", b"", 32);
        assert!(ok.is_ok());
        let zero = crypto.hpke_setup_receiver_and_export(config(), &[0; 32], &pair.private, b"", b"", 32);
        assert!(zero.is_err());
    }
}
