//! The cryptography of the `escrow` design's law-enforcement access field
//! (LEAF), on RustCrypto and dalek crates: ECIES of a message's content key
//! to the escrow agent's X25519 key (X25519 → HKDF-SHA256 →
//! ChaCha20-Poly1305), the content cipher, and the digest that binds both to
//! the key a recipient receives through the ratchet.
//!
//! From a 32-byte content key `K` (fresh from the sender's generator, used
//! for one message only) HKDF-SHA256 derives, under distinct labels, the
//! content cipher's key and the LEAF's ephemeral X25519 secret (salted with
//! the agent's public key). Deriving the ephemeral from `K` makes the LEAF a
//! deterministic function of `K` and the agent key, so a recipient who
//! learns `K` can rebuild the LEAF and refuse a message whose LEAF would not
//! open for the agent (Blaze's 1994 attack on Clipper forged exactly that).
//!
//! LEAF layout ([`LEAF_LEN`] bytes): ephemeral X25519 public key (32) ||
//! ChaCha20-Poly1305 of `K` (48) under the key and nonce HKDF-SHA256 derives
//! from the X25519 shared secret (salt = ephemeral public || agent public);
//! its associated data is the ephemeral public key.
//!
//! **Invariants:** no primitive is implemented here; every function returns
//! an error instead of panicking; anything that fails to authenticate is
//! [`ImplError::Rejected`]; low-order (non-contributory) X25519 keys are
//! refused.

use crate::framing::rejected;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use doormat_engine::ImplError;
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

/// Bytes of a LEAF: ephemeral public key (32) || wrapped content key (32 + 16).
pub(crate) const LEAF_LEN: usize = 80;
/// Bytes of a ChaCha20-Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;

const INFO_EPHEMERAL: &[u8] = b"doormat escrow v1 LEAF ephemeral";
const INFO_WRAP: &[u8] = b"doormat escrow v1 LEAF wrap";
const INFO_CONTENT: &[u8] = b"doormat escrow v1 content key";
const CONTENT_AD_LABEL: &[u8] = b"doormat escrow v1 content";
const DIGEST_LABEL: &[u8] = b"doormat escrow v1 digest";

/// The X25519 public key of a secret.
pub(crate) fn public(secret: &[u8; 32]) -> [u8; 32] {
    PublicKey::from(&StaticSecret::from(*secret)).to_bytes()
}

/// Refuses a public key that is a low-order point (every DH with it would
/// give a value known to anyone).
pub(crate) fn check_public(key: &[u8; 32]) -> Result<(), ImplError> {
    if StaticSecret::from([1u8; 32]).diffie_hellman(&PublicKey::from(*key)).was_contributory() {
        Ok(())
    } else {
        Err(rejected("escrow key is a low-order X25519 point"))
    }
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) -> Result<(), ImplError> {
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, out)
        .map_err(|_| ImplError::Failed("HKDF output length invalid".to_owned()))
}

/// A cipher and nonce from 44 bytes of HKDF output.
fn cipher(salt: &[u8], ikm: &[u8], info: &[u8]) -> Result<(ChaCha20Poly1305, [u8; 12]), ImplError> {
    let mut out = [0u8; 44];
    hkdf(salt, ikm, info, &mut out)?;
    let (key, nonce) = out.split_at(32);
    let cipher = ChaCha20Poly1305::new_from_slice(key)
        .map_err(|_| ImplError::Failed("ChaCha20-Poly1305 key length invalid".to_owned()))?;
    let mut n = [0u8; 12];
    n.copy_from_slice(nonce);
    Ok((cipher, n))
}

/// The wrapping cipher of the DH between `secret` and `other` (refused if
/// `other` is a low-order point), salted with both public keys.
fn wrap_cipher(
    secret: &[u8; 32],
    other: &[u8; 32],
    ephemeral_public: &[u8; 32],
    agent_public: &[u8; 32],
) -> Result<(ChaCha20Poly1305, [u8; 12]), ImplError> {
    let shared = StaticSecret::from(*secret).diffie_hellman(&PublicKey::from(*other));
    if !shared.was_contributory() {
        return Err(rejected("LEAF key agreement with a low-order point"));
    }
    cipher(&[ephemeral_public.as_slice(), agent_public].concat(), shared.as_bytes(), INFO_WRAP)
}

/// The LEAF of content key `k` for the agent whose public key is `agent`.
pub(crate) fn wrap(agent: &[u8; 32], k: &[u8; 32]) -> Result<[u8; LEAF_LEN], ImplError> {
    let mut ephemeral = [0u8; 32];
    hkdf(agent, k, INFO_EPHEMERAL, &mut ephemeral)?;
    let ephemeral_public = public(&ephemeral);
    let (cipher, nonce) = wrap_cipher(&ephemeral, agent, &ephemeral_public, agent)?;
    let wrapped = cipher
        .encrypt(&nonce.into(), Payload { msg: k, aad: &ephemeral_public })
        .map_err(|_| ImplError::Failed("ChaCha20-Poly1305 encryption failed".to_owned()))?;
    let leaf: Vec<u8> = [ephemeral_public.as_slice(), &wrapped].concat();
    let len = leaf.len();
    leaf.try_into().map_err(|_| ImplError::Failed(format!("LEAF of {len} bytes, expected {LEAF_LEN}")))
}

/// The content key inside `leaf`, for the agent holding `agent_secret`.
pub(crate) fn unwrap(agent_secret: &[u8; 32], leaf: &[u8; LEAF_LEN]) -> Result<[u8; 32], ImplError> {
    let (head, wrapped) = leaf.split_at(32);
    let mut ephemeral_public = [0u8; 32];
    ephemeral_public.copy_from_slice(head);
    let (cipher, nonce) = wrap_cipher(agent_secret, &ephemeral_public, &ephemeral_public, &public(agent_secret))?;
    let k = cipher
        .decrypt(&nonce.into(), Payload { msg: wrapped, aad: &ephemeral_public })
        .map_err(|_| rejected("LEAF does not open with the escrow key"))?;
    let len = k.len();
    k.try_into().map_err(|_| rejected(format!("LEAF holds {len} bytes, expected a 32-byte key")))
}

/// The content cipher of `k`; the content is bound to its LEAF.
fn content_cipher(k: &[u8; 32]) -> Result<(ChaCha20Poly1305, [u8; 12]), ImplError> {
    cipher(&[], k, INFO_CONTENT)
}

fn content_ad(leaf: &[u8; LEAF_LEN]) -> Vec<u8> {
    [CONTENT_AD_LABEL, leaf].concat()
}

/// Encrypts a message's content under `k`, authenticating its LEAF.
pub(crate) fn seal_content(k: &[u8; 32], leaf: &[u8; LEAF_LEN], plaintext: &[u8]) -> Result<Vec<u8>, ImplError> {
    let (cipher, nonce) = content_cipher(k)?;
    cipher
        .encrypt(&nonce.into(), Payload { msg: plaintext, aad: &content_ad(leaf) })
        .map_err(|_| ImplError::Failed("ChaCha20-Poly1305 encryption failed".to_owned()))
}

/// Decrypts a message's content under `k`; refused unless it authenticates
/// together with `leaf`.
pub(crate) fn open_content(k: &[u8; 32], leaf: &[u8; LEAF_LEN], ciphertext: &[u8]) -> Result<Vec<u8>, ImplError> {
    let (cipher, nonce) = content_cipher(k)?;
    cipher
        .decrypt(&nonce.into(), Payload { msg: ciphertext, aad: &content_ad(leaf) })
        .map_err(|_| rejected("escrow content does not authenticate"))
}

/// What the ratchet carries besides `K`: SHA-256 over a label, the LEAF and
/// the content ciphertext.
pub(crate) fn digest(leaf: &[u8; LEAF_LEN], ciphertext: &[u8]) -> [u8; 32] {
    Sha256::new().chain_update(DIGEST_LABEL).chain_update(leaf).chain_update(ciphertext).finalize().into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_the_agent_unwraps_and_the_leaf_is_a_function_of_the_key() {
        let (agent, k) = ([7u8; 32], [9u8; 32]);
        let leaf = wrap(&public(&agent), &k).unwrap();
        assert_eq!(leaf, wrap(&public(&agent), &k).unwrap());
        assert_ne!(leaf, wrap(&public(&agent), &[8u8; 32]).unwrap());
        assert_eq!(unwrap(&agent, &leaf).unwrap(), k);
        assert!(matches!(unwrap(&[6u8; 32], &leaf), Err(ImplError::Rejected(_))));
        for i in 0..LEAF_LEN {
            let mut bad = leaf;
            bad[i] ^= 1;
            assert!(matches!(unwrap(&agent, &bad), Err(ImplError::Rejected(_))), "byte {i}");
        }
        assert!(matches!(wrap(&[0u8; 32], &k), Err(ImplError::Rejected(_))));
    }

    #[test]
    fn content_is_bound_to_its_leaf() {
        let (agent, k) = ([7u8; 32], [9u8; 32]);
        let leaf = wrap(&public(&agent), &k).unwrap();
        let ct = seal_content(&k, &leaf, b"hello").unwrap();
        assert_eq!(ct.len(), 5 + TAG_LEN);
        assert_eq!(open_content(&k, &leaf, &ct).unwrap(), b"hello");
        let other = wrap(&public(&agent), &[1u8; 32]).unwrap();
        assert!(matches!(open_content(&k, &other, &ct), Err(ImplError::Rejected(_))));
        assert!(matches!(open_content(&[1u8; 32], &leaf, &ct), Err(ImplError::Rejected(_))));
        assert_ne!(digest(&leaf, &ct), digest(&other, &ct));
    }
}
