//! Thin wrappers over the primitive crates the ratchet uses: X25519
//! (`x25519-dalek`), Ed25519 (`ed25519-dalek`), HKDF and HMAC over SHA-256
//! (`hkdf`, `hmac`, `sha2`) and ChaCha20-Poly1305 (`chacha20poly1305`).
//!
//! **Invariant:** no primitive is implemented here, only key derivation
//! labels and byte layouts; every function returns an error instead of
//! panicking, and a failed authentication is always [`ImplError::Rejected`].

use crate::framing::rejected;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use doormat_engine::ImplError;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::RngCore;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

/// HKDF info of the X3DH shared secret.
const INFO_X3DH: &[u8] = b"doormat ratchet v1 X3DH";
/// HKDF info of a root-chain step.
const INFO_ROOT: &[u8] = b"doormat ratchet v1 root chain";
/// HKDF info of a message key's cipher key and nonce.
const INFO_MESSAGE: &[u8] = b"doormat ratchet v1 message key";
/// Prefix of the message the signed prekey's signature covers.
const SIGNED_PREKEY_LABEL: &[u8] = b"doormat ratchet v1 signed prekey";

/// 32 fresh secret bytes from the device's generator.
pub(super) fn random_secret(rng: &mut impl RngCore) -> [u8; 32] {
    let mut b = [0u8; 32];
    rng.fill_bytes(&mut b);
    b
}

/// The X25519 public key of a secret.
pub(super) fn x_public(secret: &[u8; 32]) -> [u8; 32] {
    PublicKey::from(&StaticSecret::from(*secret)).to_bytes()
}

/// X25519; a non-contributory result (a low-order public key) is refused.
pub(super) fn dh(secret: &[u8; 32], public: &[u8; 32]) -> Result<[u8; 32], ImplError> {
    let shared = StaticSecret::from(*secret).diffie_hellman(&PublicKey::from(*public));
    if !shared.was_contributory() {
        return Err(rejected("low-order X25519 public key"));
    }
    Ok(shared.to_bytes())
}

/// The Ed25519 public key of a signing key.
pub(super) fn ed_public(signing: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(signing).verifying_key().to_bytes()
}

/// Signs a signed prekey's public key.
pub(super) fn sign_prekey(signing: &[u8; 32], prekey: &[u8; 32]) -> [u8; 64] {
    SigningKey::from_bytes(signing).sign(&[SIGNED_PREKEY_LABEL, prekey].concat()).to_bytes()
}

/// Checks a signed prekey's signature (strict verification).
pub(super) fn verify_prekey(signer: &[u8; 32], prekey: &[u8; 32], signature: &[u8; 64]) -> Result<(), ImplError> {
    let key = VerifyingKey::from_bytes(signer).map_err(|_| rejected("identity signing key is not a valid point"))?;
    key.verify_strict(&[SIGNED_PREKEY_LABEL, prekey].concat(), &Signature::from_bytes(signature))
        .map_err(|_| rejected("signed prekey signature does not verify"))
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) -> Result<(), ImplError> {
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, out)
        .map_err(|_| ImplError::Failed("HKDF output length invalid".to_owned()))
}

/// The X3DH shared secret: HKDF-SHA256 over `0xFF × 32 || DH1 || .. || DHn`
/// with a zero salt.
pub(super) fn x3dh_secret(dhs: &[[u8; 32]]) -> Result<[u8; 32], ImplError> {
    let mut ikm = vec![0xFF; 32];
    for d in dhs {
        ikm.extend_from_slice(d);
    }
    let mut out = [0u8; 32];
    hkdf(&[0u8; 32], &ikm, INFO_X3DH, &mut out)?;
    Ok(out)
}

/// A root-chain step: `(root key, chain key) = HKDF(salt = root, ikm = dh)`.
pub(super) fn kdf_root(root: &[u8; 32], dh_out: &[u8; 32]) -> Result<([u8; 32], [u8; 32]), ImplError> {
    let mut out = [0u8; 64];
    hkdf(root, dh_out, INFO_ROOT, &mut out)?;
    let (r, c) = out.split_at(32);
    Ok((to32(r), to32(c)))
}

/// A symmetric-chain step: `(next chain key, message key)` as
/// `HMAC(ck, 0x02)` and `HMAC(ck, 0x01)`.
pub(super) fn kdf_chain(chain: &[u8; 32]) -> Result<([u8; 32], [u8; 32]), ImplError> {
    Ok((hmac(chain, 0x02)?, hmac(chain, 0x01)?))
}

fn hmac(key: &[u8; 32], input: u8) -> Result<[u8; 32], ImplError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .map_err(|_| ImplError::Failed("HMAC key length invalid".to_owned()))?;
    mac.update(&[input]);
    Ok(mac.finalize().into_bytes().into())
}

fn to32(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(b);
    out
}

/// The ChaCha20-Poly1305 key and nonce of one message key: 44 bytes of
/// HKDF-SHA256 with a zero salt, split 32 + 12.
pub(super) fn message_key_material(message_key: &[u8; 32]) -> Result<([u8; 32], [u8; 12]), ImplError> {
    let mut out = [0u8; 44];
    hkdf(&[0u8; 32], message_key, INFO_MESSAGE, &mut out)?;
    let (key, nonce) = out.split_at(32);
    let mut n = [0u8; 12];
    n.copy_from_slice(nonce);
    Ok((to32(key), n))
}

/// The cipher of one message key and its nonce.
fn message_cipher(message_key: &[u8; 32]) -> Result<(ChaCha20Poly1305, [u8; 12]), ImplError> {
    let (key, nonce) = message_key_material(message_key)?;
    Ok((ChaCha20Poly1305::new(&key.into()), nonce))
}

/// Encrypts with a message key, authenticating `ad`.
pub(super) fn seal(message_key: &[u8; 32], ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, ImplError> {
    let (cipher, nonce) = message_cipher(message_key)?;
    cipher
        .encrypt(&nonce.into(), Payload { msg: plaintext, aad: ad })
        .map_err(|_| ImplError::Failed("ChaCha20-Poly1305 encryption failed".to_owned()))
}

/// Decrypts with a message key; anything that does not authenticate is refused.
pub(super) fn open(message_key: &[u8; 32], ad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, ImplError> {
    let (cipher, nonce) = message_cipher(message_key)?;
    cipher
        .decrypt(&nonce.into(), Payload { msg: ciphertext, aad: ad })
        .map_err(|_| rejected("message does not authenticate"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dh_agrees_and_refuses_low_order_points() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(dh(&a, &x_public(&b)).unwrap(), dh(&b, &x_public(&a)).unwrap());
        assert!(matches!(dh(&a, &[0u8; 32]), Err(ImplError::Rejected(_))));
    }

    #[test]
    fn prekey_signature_binds_key_and_signer() {
        let (signer, prekey) = ([3u8; 32], [4u8; 32]);
        let sig = sign_prekey(&signer, &prekey);
        verify_prekey(&ed_public(&signer), &prekey, &sig).unwrap();
        assert!(verify_prekey(&ed_public(&signer), &[5u8; 32], &sig).is_err());
        assert!(verify_prekey(&ed_public(&[6u8; 32]), &prekey, &sig).is_err());
    }

    #[test]
    fn sealed_bytes_open_only_with_same_key_and_ad() {
        let ct = seal(&[9; 32], b"ad", b"secret").unwrap();
        assert_eq!(open(&[9; 32], b"ad", &ct).unwrap(), b"secret");
        assert!(matches!(open(&[9; 32], b"AD", &ct), Err(ImplError::Rejected(_))));
        assert!(matches!(open(&[8; 32], b"ad", &ct), Err(ImplError::Rejected(_))));
        let (c1, m1) = kdf_chain(&[1; 32]).unwrap();
        assert_ne!(c1, m1);
    }
}
