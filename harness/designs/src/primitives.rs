//! The primitives the built-in designs are built on, exposed through the
//! engine's [`Primitives`] for known-answer tests: X25519 and Ed25519
//! (dalek), ChaCha20-Poly1305 and AES-256-GCM, HKDF and HMAC over SHA-256
//! (RustCrypto). The ratchet family (ratchet, ghost, escrow, client-scan,
//! backup-escrow) and plaintext-relay share this one.
//!
//! **Invariants:** the same calls the designs make, with the same checks:
//! X25519 refuses a non-contributory (all-zero) result, as the ratchet's
//! `dh` does; Ed25519 verifies strictly (`verify_strict`), as the ratchet
//! checks signed prekeys. Wrong lengths (an AEAD nonce other than 96 bits
//! included: the designs never use one) are refused, never a panic; an
//! HKDF output longer than 255 × 32 bytes is refused before anything is
//! allocated.

use aes_gcm::Aes256Gcm;
use chacha20poly1305::aead::generic_array::GenericArray;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use doormat_engine::{AeadAlg, ImplError, Primitives};
use ed25519_dalek::{Signature, VerifyingKey};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

/// The most output HKDF-SHA-256 gives (RFC 5869: 255 blocks of 32 bytes).
const HKDF_SHA256_MAX: usize = 255 * 32;

/// The dalek and RustCrypto primitives.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

/// A boxed [`RustCrypto`], for `Design::primitives`.
pub(crate) fn boxed() -> Option<Box<dyn Primitives>> {
    Some(Box::new(RustCrypto))
}

fn rejected(what: &str) -> ImplError {
    ImplError::Rejected(what.to_owned())
}

fn array32(b: &[u8], what: &str) -> Result<[u8; 32], ImplError> {
    b.try_into().map_err(|_| rejected(&format!("{what}: expected 32 bytes, got {}", b.len())))
}

/// Runs `alg` under `key` and a 96-bit `nonce`: encrypts (`seal`) or decrypts.
/// The outer error is about the parameters, the inner one the AEAD's answer.
fn aead(
    alg: AeadAlg,
    key: &[u8],
    nonce: &[u8],
    payload: Payload<'_, '_>,
    seal: bool,
) -> Result<Result<Vec<u8>, chacha20poly1305::aead::Error>, ImplError> {
    if nonce.len() != 12 {
        return Err(rejected(&format!("{} nonce: expected 96 bits, got {}", alg.name(), nonce.len() * 8)));
    }
    let bad_key = || rejected(&format!("{} key: expected 32 bytes, got {}", alg.name(), key.len()));
    Ok(match alg {
        AeadAlg::ChaCha20Poly1305 => {
            seal_or_open(&ChaCha20Poly1305::new_from_slice(key).map_err(|_| bad_key())?, nonce, payload, seal)
        }
        AeadAlg::Aes256Gcm => {
            seal_or_open(&Aes256Gcm::new_from_slice(key).map_err(|_| bad_key())?, nonce, payload, seal)
        }
        _ => return Err(ImplError::Unsupported(alg.name().to_owned())),
    })
}

/// `cipher` encrypts (`seal`) or decrypts `payload` under `nonce`, whose
/// length the caller has checked to be the cipher's.
fn seal_or_open<C: Aead>(
    cipher: &C,
    nonce: &[u8],
    payload: Payload<'_, '_>,
    seal: bool,
) -> Result<Vec<u8>, chacha20poly1305::aead::Error> {
    let nonce = GenericArray::from_slice(nonce);
    if seal {
        cipher.encrypt(nonce, payload)
    } else {
        cipher.decrypt(nonce, payload)
    }
}

impl Primitives for RustCrypto {
    fn x25519(&self, private: &[u8], public: &[u8]) -> Result<Vec<u8>, ImplError> {
        let secret = StaticSecret::from(array32(private, "X25519 private key")?);
        let shared = secret.diffie_hellman(&PublicKey::from(array32(public, "X25519 public key")?));
        if !shared.was_contributory() {
            return Err(rejected("low-order X25519 public key (all-zero shared secret)"));
        }
        Ok(shared.to_bytes().to_vec())
    }

    fn ed25519_verify(&self, public: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, ImplError> {
        let key = VerifyingKey::from_bytes(&array32(public, "Ed25519 public key")?)
            .map_err(|_| rejected("Ed25519 public key is not a point"))?;
        let sig: [u8; 64] = sig
            .try_into()
            .map_err(|_| rejected(&format!("Ed25519 signature: expected 64 bytes, got {}", sig.len())))?;
        Ok(key.verify_strict(msg, &Signature::from_bytes(&sig)).is_ok())
    }

    fn aead_seal(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        aead(alg, key, nonce, Payload { msg, aad }, true)?
            .map_err(|_| ImplError::Failed(format!("{} encryption failed", alg.name())))
    }

    fn aead_open(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8]) -> Result<Vec<u8>, ImplError> {
        aead(alg, key, nonce, Payload { msg: ct, aad }, false)?
            .map_err(|_| rejected(&format!("{} tag does not verify", alg.name())))
    }

    fn hkdf_sha256(&self, ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Vec<u8>, ImplError> {
        // Refused before the output is allocated: `len` comes from a file
        // or a request, and can be anything.
        if len > HKDF_SHA256_MAX {
            return Err(rejected(&format!("HKDF-SHA-256 output of {len} bytes: expected at most {HKDF_SHA256_MAX}")));
        }
        let mut okm = vec![0u8; len];
        Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, &mut okm).map_err(|_| {
            rejected(&format!("HKDF-SHA-256 output of {len} bytes: expected at most {HKDF_SHA256_MAX}"))
        })?;
        Ok(okm)
    }

    fn hmac_sha256(&self, key: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .map_err(|_| ImplError::Failed("HMAC-SHA-256 refused the key".to_owned()))?;
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}
