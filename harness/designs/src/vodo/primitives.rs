//! The `olm` and `megolm` designs' primitives for known-answer tests
//! ([`VodozemacPrimitives`]), through vodozemac 0.11's public API only, the
//! same calls with which vodozemac and the designs use them:
//!
//! - X25519: [`Curve25519SecretKey::from_slice`] and
//!   [`Curve25519SecretKey::diffie_hellman`], the function behind every
//!   Diffie-Hellman of Olm (the triple Diffie-Hellman that starts a session,
//!   each ratchet step), which Megolm's room keys travel over. vodozemac
//!   itself refuses a non-contributory exchange (it returns no secret when
//!   the result is all zeros, e.g. for a low-order public key): that refusal
//!   is the library's, none is added here.
//! - Ed25519: [`Ed25519PublicKey::from_slice`], [`Ed25519Signature::from_slice`]
//!   and [`Ed25519PublicKey::verify`], as the designs check the signatures of
//!   served keys and as vodozemac checks Megolm messages and session keys;
//!   how strictly it verifies is vodozemac's (`verify_strict` underneath).
//!
//! Not exposed ([`ImplError::Unsupported`], counted as skipped): HKDF-SHA-256
//! and HMAC-SHA-256, which Olm and Megolm use internally (message keys
//! expanded into an AES key, an HMAC key and an IV; the root and chain keys;
//! the Megolm ratchet) with labels and key sizes fixed inside vodozemac. Its
//! public API takes no caller's salt, info, key or message for them; the
//! `low-level-api` feature's `hazmat::Cipher` only derives its keys with
//! vodozemac's fixed HKDF labels and MACs with the key it derived, so a
//! known-answer vector cannot be put through it. The AEADs: Olm and Megolm
//! encrypt with AES-256-CBC and an HMAC-SHA-256 tag truncated to 8 bytes,
//! neither ChaCha20-Poly1305 nor AES-256-GCM.
//!
//! **Invariants:** no cryptography here and no check that vodozemac does
//! not make; the only conversions are of byte slices to the fixed-size
//! arrays vodozemac's functions take (a wrong length is refused, as the
//! designs refuse it when they read keys).

use doormat_engine::{AeadAlg, ImplError, Primitives};

/// Why HKDF and HMAC are not exposed (`{}` is the primitive).
const INSIDE: &str = "{} (used inside vodozemac only, with labels and keys its API does not let a caller choose)";
use vodozemac::{Curve25519PublicKey, Curve25519SecretKey, Ed25519PublicKey, Ed25519Signature};

/// vodozemac's X25519 and Ed25519.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct VodozemacPrimitives;

fn rejected(what: impl Into<String>) -> ImplError {
    ImplError::Rejected(what.into())
}

fn array32<'a>(b: &'a [u8], what: &str) -> Result<&'a [u8; 32], ImplError> {
    b.try_into().map_err(|_| rejected(format!("{what}: expected 32 bytes, got {}", b.len())))
}

impl Primitives for VodozemacPrimitives {
    fn x25519(&self, private: &[u8], public: &[u8]) -> Result<Vec<u8>, ImplError> {
        let secret = Curve25519SecretKey::from_slice(array32(private, "Curve25519 secret key")?);
        let public = Curve25519PublicKey::from_slice(public)
            .map_err(|_| rejected("vodozemac refused the Curve25519 public key"))?;
        let shared = secret
            .diffie_hellman(&public)
            .ok_or_else(|| rejected("vodozemac refused a non-contributory exchange (all-zero shared secret)"))?;
        Ok(shared.as_bytes().to_vec())
    }

    fn ed25519_verify(&self, public: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, ImplError> {
        let key = Ed25519PublicKey::from_slice(array32(public, "Ed25519 public key")?)
            .map_err(|_| rejected("vodozemac refused the Ed25519 public key"))?;
        let sig = Ed25519Signature::from_slice(sig).map_err(|_| rejected("vodozemac refused the Ed25519 signature"))?;
        Ok(key.verify(msg, &sig).is_ok())
    }

    fn aead_seal(&self, alg: AeadAlg, _: &[u8], _: &[u8], _: &[u8], _: &[u8]) -> Result<Vec<u8>, ImplError> {
        Err(ImplError::Unsupported(format!(
            "{} (Olm and Megolm encrypt with AES-256-CBC and a truncated HMAC)",
            alg.name()
        )))
    }

    fn aead_open(&self, alg: AeadAlg, _: &[u8], _: &[u8], _: &[u8], _: &[u8]) -> Result<Vec<u8>, ImplError> {
        Err(ImplError::Unsupported(format!(
            "{} (Olm and Megolm encrypt with AES-256-CBC and a truncated HMAC)",
            alg.name()
        )))
    }

    fn hkdf_sha256(&self, _: &[u8], _: &[u8], _: &[u8], _: usize) -> Result<Vec<u8>, ImplError> {
        Err(ImplError::Unsupported(INSIDE.replace("{}", "HKDF-SHA-256")))
    }

    fn hmac_sha256(&self, _: &[u8], _: &[u8]) -> Result<Vec<u8>, ImplError> {
        Err(ImplError::Unsupported(INSIDE.replace("{}", "HMAC-SHA-256")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use doormat_engine::AeadAlg;

    #[test]
    fn only_x25519_and_ed25519_are_exposed() {
        let p = VodozemacPrimitives;
        let unsupported = |r: Result<Vec<u8>, ImplError>| matches!(r, Err(ImplError::Unsupported(_)));
        assert!(unsupported(p.hkdf_sha256(b"k", b"", b"", 32)));
        assert!(unsupported(p.hmac_sha256(b"k", b"m")));
        assert!(unsupported(p.aead_seal(AeadAlg::ChaCha20Poly1305, &[0; 32], &[0; 12], b"", b"m")));
        assert!(unsupported(p.aead_open(AeadAlg::Aes256Gcm, &[0; 32], &[0; 12], b"", &[0; 16])));
        // A key pair agrees with itself both ways.
        let a = Curve25519SecretKey::from_slice(&[1; 32]);
        let b = Curve25519SecretKey::from_slice(&[2; 32]);
        let (pa, pb) = (Curve25519PublicKey::from(&a), Curve25519PublicKey::from(&b));
        assert_eq!(p.x25519(&[1; 32], pb.as_bytes()).unwrap(), p.x25519(&[2; 32], pa.as_bytes()).unwrap());
    }

    /// vodozemac, not this code, refuses the all-zero result.
    #[test]
    fn vodozemac_refuses_a_non_contributory_exchange() {
        let secret = Curve25519SecretKey::from_slice(&[1; 32]);
        assert!(secret.diffie_hellman(&Curve25519PublicKey::from_bytes([0; 32])).is_none());
        let r = VodozemacPrimitives.x25519(&[1; 32], &[0; 32]);
        assert!(matches!(r, Err(ImplError::Rejected(m)) if m.contains("non-contributory")));
    }
}
