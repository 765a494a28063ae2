//! HPKE (RFC 9180) base-mode *sending* for the one configuration the `mls`
//! design uses: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305
//! (the HPKE of MLS cipher suite 0x0003).
//!
//! Why it exists: openmls_rust_crypto's `hpke_seal` draws its ephemeral key
//! from the operating system (hpke-rs seeds its own generator from OS
//! entropy), which would make the bytes of every commit and Welcome depend
//! on something other than the device seed. Here the ephemeral secret comes
//! from the device's seeded generator instead; everything after it is the
//! RFC 9180 key schedule, so any HPKE receiver opens the result (the tests
//! check it against openmls_rust_crypto's `hpke_open` and
//! `hpke_setup_receiver_and_export`).
//!
//! **Invariant:** only the sender side lives here; opening is left to
//! openmls_rust_crypto. An X25519 shared secret of all zeros (a low-order
//! public key) is refused, as RFC 9180 §7.1.4 requires.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use openmls_traits::types::{
    CryptoError, ExporterSecret, HpkeAeadType, HpkeCiphertext, HpkeConfig, HpkeKdfType, HpkeKemType,
};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

/// KEM id of DHKEM(X25519, HKDF-SHA256).
const KEM_ID: u16 = 0x0020;
/// KDF id of HKDF-SHA256.
const KDF_ID: u16 = 0x0001;
/// AEAD id of ChaCha20-Poly1305.
const AEAD_ID: u16 = 0x0003;
/// Base mode.
const MODE_BASE: u8 = 0;

/// An HPKE sender context: what a sender needs after the key schedule.
struct Context {
    key: [u8; 32],
    base_nonce: [u8; 12],
    exporter_secret: [u8; 32],
}

/// Whether `config` is the configuration implemented here.
pub(crate) fn supported(config: &HpkeConfig) -> bool {
    config.0 == HpkeKemType::DhKem25519
        && config.1 == HpkeKdfType::HkdfSha256
        && config.2 == HpkeAeadType::ChaCha20Poly1305
}

/// Single-shot `Seal` to `pk_r`, the ephemeral secret being `ephemeral`.
pub(crate) fn seal(
    ephemeral: [u8; 32],
    pk_r: &[u8],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<HpkeCiphertext, CryptoError> {
    let (enc, ctx) = setup_sender(ephemeral, pk_r, info)?;
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&ctx.key));
    // The first (and only) message of the context uses the base nonce.
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&ctx.base_nonce), Payload { msg: plaintext, aad })
        .map_err(|_| CryptoError::HpkeEncryptionError)?;
    Ok(HpkeCiphertext { kem_output: enc.into(), ciphertext: ciphertext.into() })
}

/// Sets up a sender to `pk_r` and exports `length` bytes under
/// `exporter_context`; returns the encapsulation and the exported secret.
pub(crate) fn setup_sender_and_export(
    ephemeral: [u8; 32],
    pk_r: &[u8],
    info: &[u8],
    exporter_context: &[u8],
    length: usize,
) -> Result<(Vec<u8>, ExporterSecret), CryptoError> {
    let (enc, ctx) = setup_sender(ephemeral, pk_r, info)?;
    let secret = labeled_expand(&ctx.exporter_secret, &hpke_suite_id(), b"sec", exporter_context, length)?;
    Ok((enc, ExporterSecret::from(secret)))
}

/// `SetupBaseS`: encapsulation (`enc`) and the sender's context.
fn setup_sender(ephemeral: [u8; 32], pk_r: &[u8], info: &[u8]) -> Result<(Vec<u8>, Context), CryptoError> {
    let pk_r: [u8; 32] = pk_r.try_into().map_err(|_| CryptoError::InvalidPublicKey)?;
    let sk_e = StaticSecret::from(ephemeral);
    let pk_e = PublicKey::from(&sk_e);
    let dh = sk_e.diffie_hellman(&PublicKey::from(pk_r));
    if !dh.was_contributory() {
        return Err(CryptoError::InvalidPublicKey);
    }
    let enc = pk_e.as_bytes().to_vec();
    let kem_context = [enc.as_slice(), &pk_r].concat();
    let kem_suite = [b"KEM".as_slice(), &KEM_ID.to_be_bytes()].concat();
    let eae_prk = labeled_extract(&[], &kem_suite, b"eae_prk", dh.as_bytes());
    let shared_secret = labeled_expand(&eae_prk, &kem_suite, b"shared_secret", &kem_context, 32)?;
    Ok((enc, key_schedule(&shared_secret, info)?))
}

/// The base-mode key schedule (no PSK).
fn key_schedule(shared_secret: &[u8], info: &[u8]) -> Result<Context, CryptoError> {
    let suite = hpke_suite_id();
    let psk_id_hash = labeled_extract(&[], &suite, b"psk_id_hash", &[]);
    let info_hash = labeled_extract(&[], &suite, b"info_hash", info);
    let context = [[MODE_BASE].as_slice(), &psk_id_hash, &info_hash].concat();
    let secret = labeled_extract(shared_secret, &suite, b"secret", &[]);
    let key = labeled_expand(&secret, &suite, b"key", &context, 32)?;
    let base_nonce = labeled_expand(&secret, &suite, b"base_nonce", &context, 12)?;
    let exporter_secret = labeled_expand(&secret, &suite, b"exp", &context, 32)?;
    Ok(Context {
        key: key.try_into().map_err(|_| CryptoError::CryptoLibraryError)?,
        base_nonce: base_nonce.try_into().map_err(|_| CryptoError::CryptoLibraryError)?,
        exporter_secret: exporter_secret.try_into().map_err(|_| CryptoError::CryptoLibraryError)?,
    })
}

fn hpke_suite_id() -> Vec<u8> {
    [b"HPKE".as_slice(), &KEM_ID.to_be_bytes(), &KDF_ID.to_be_bytes(), &AEAD_ID.to_be_bytes()].concat()
}

/// `LabeledExtract(salt, label, ikm)`.
fn labeled_extract(salt: &[u8], suite_id: &[u8], label: &[u8], ikm: &[u8]) -> Vec<u8> {
    let labeled_ikm = [b"HPKE-v1".as_slice(), suite_id, label, ikm].concat();
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), &labeled_ikm);
    prk.to_vec()
}

/// `LabeledExpand(prk, label, info, length)`.
fn labeled_expand(
    prk: &[u8],
    suite_id: &[u8],
    label: &[u8],
    info: &[u8],
    length: usize,
) -> Result<Vec<u8>, CryptoError> {
    let l = u16::try_from(length).map_err(|_| CryptoError::HkdfOutputLengthInvalid)?;
    let labeled_info = [l.to_be_bytes().as_slice(), b"HPKE-v1", suite_id, label, info].concat();
    let hk = Hkdf::<Sha256>::from_prk(prk).map_err(|_| CryptoError::CryptoLibraryError)?;
    let mut out = vec![0u8; length];
    hk.expand(&labeled_info, &mut out).map_err(|_| CryptoError::HkdfOutputLengthInvalid)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use openmls_rust_crypto::RustCrypto;
    use openmls_traits::crypto::OpenMlsCrypto;

    fn config() -> HpkeConfig {
        HpkeConfig(HpkeKemType::DhKem25519, HpkeKdfType::HkdfSha256, HpkeAeadType::ChaCha20Poly1305)
    }

    #[test]
    fn what_is_sealed_here_opens_with_openmls_rust_crypto() {
        let crypto = RustCrypto::default();
        let pair = crypto.derive_hpke_keypair(config(), &[9; 32]).unwrap();
        let sealed = seal([3; 32], &pair.public, b"info", b"aad", b"group secrets").unwrap();
        let opened = crypto.hpke_open(config(), &sealed, &pair.private, b"info", b"aad").unwrap();
        assert_eq!(opened, b"group secrets");
        // Same ephemeral secret, same bytes; another one, other bytes.
        assert_eq!(seal([3; 32], &pair.public, b"info", b"aad", b"group secrets").unwrap(), sealed);
        assert_ne!(seal([4; 32], &pair.public, b"info", b"aad", b"group secrets").unwrap(), sealed);
        // Wrong associated data or info: refused.
        assert!(crypto.hpke_open(config(), &sealed, &pair.private, b"info", b"other").is_err());
        assert!(crypto.hpke_open(config(), &sealed, &pair.private, b"other", b"aad").is_err());
    }

    #[test]
    fn exported_secrets_match_the_receiver() {
        let crypto = RustCrypto::default();
        let pair = crypto.derive_hpke_keypair(config(), &[5; 32]).unwrap();
        let (enc, secret) = setup_sender_and_export([8; 32], &pair.public, b"info", b"ctx", 32).unwrap();
        let received =
            crypto.hpke_setup_receiver_and_export(config(), &enc, &pair.private, b"info", b"ctx", 32).unwrap();
        assert_eq!(&*secret, &*received);
        assert_eq!(secret.len(), 32);
    }

    #[test]
    fn bad_public_keys_are_refused() {
        assert_eq!(seal([1; 32], &[0; 31], b"", b"", b"x"), Err(CryptoError::InvalidPublicKey));
        // The all-zero point is of low order: the shared secret would be zero.
        assert_eq!(seal([1; 32], &[0; 32], b"", b"", b"x"), Err(CryptoError::InvalidPublicKey));
        assert!(supported(&config()));
        assert!(!supported(&HpkeConfig(HpkeKemType::DhKem25519, HpkeKdfType::HkdfSha256, HpkeAeadType::AesGcm128)));
    }
}
