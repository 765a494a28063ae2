//! Vouchers: what a client attaches to every message for the scanning
//! service.
//!
//! A *real* voucher is ECIES to the service's X25519 key: `ephemeral public
//! key (32) ‖ ChaCha20-Poly1305(entry id (u32) ‖ plaintext)`, the key and
//! nonce derived by HKDF-SHA256 from the X25519 shared secret (salt =
//! ephemeral public ‖ service public). A *dummy* voucher has the same
//! length: the public key of a fresh, discarded X25519 key pair followed by
//! random bytes. Both are [`OVERHEAD`] + plaintext length bytes.
//!
//! **Invariants:** real and dummy vouchers are indistinguishable without the
//! service key: same length for the same plaintext length, and the first 32
//! bytes are a genuine X25519 public key in both (raw random bytes would give
//! themselves away: a public key's top bit is always clear and its point is
//! on the curve, not the twist). Opening never panics.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use doormat_engine::ImplError;
use hkdf::Hkdf;
use rand_chacha::ChaCha20Rng;
use rand_core::RngCore;
use sha2::Sha256;
use x25519_dalek::{EphemeralSecret, PublicKey, StaticSecret};

/// Bytes a voucher adds to the plaintext: public key, entry id, tag.
pub(super) const OVERHEAD: usize = 32 + 4 + 16;
/// HKDF info of the voucher key and nonce.
const INFO: &[u8] = b"doormat client-scan voucher v1";

/// A real voucher for `plaintext`, which matched entry `entry`, sealed to
/// `service`; `None` if `service` is a low-order point (the shared secret
/// would be public, so no voucher must be made with it).
pub(super) fn seal(
    service: &[u8; 32],
    entry: u32,
    plaintext: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Option<Vec<u8>>, ImplError> {
    let ephemeral = EphemeralSecret::random_from_rng(&mut *rng);
    let public = PublicKey::from(&ephemeral);
    let shared = ephemeral.diffie_hellman(&PublicKey::from(*service));
    if !shared.was_contributory() {
        return Ok(None);
    }
    let (cipher, nonce) = cipher(shared.as_bytes(), public.as_bytes(), service)?;
    let msg = [entry.to_be_bytes().as_slice(), plaintext].concat();
    let sealed = cipher
        .encrypt(&nonce.into(), Payload { msg: &msg, aad: public.as_bytes() })
        .map_err(|_| ImplError::Failed("voucher encryption failed".to_owned()))?;
    Ok(Some([public.as_bytes().as_slice(), &sealed].concat()))
}

/// A dummy voucher for a plaintext of `len` bytes.
pub(super) fn dummy(len: usize, rng: &mut ChaCha20Rng) -> Vec<u8> {
    let public = PublicKey::from(&EphemeralSecret::random_from_rng(&mut *rng));
    let mut out = vec![0u8; OVERHEAD + len];
    out[..32].copy_from_slice(public.as_bytes());
    rng.fill_bytes(&mut out[32..]);
    out
}

/// The entry id and plaintext of a real voucher sealed to `secret`; `None`
/// for a dummy, a voucher sealed to another key, or anything malformed.
pub(super) fn open(secret: &StaticSecret, voucher: &[u8]) -> Option<(u32, Vec<u8>)> {
    if voucher.len() < OVERHEAD {
        return None;
    }
    let (public, sealed) = voucher.split_at(32);
    let public: [u8; 32] = public.try_into().ok()?;
    let shared = secret.diffie_hellman(&PublicKey::from(public));
    if !shared.was_contributory() {
        return None;
    }
    let service = PublicKey::from(secret);
    let (cipher, nonce) = cipher(shared.as_bytes(), &public, service.as_bytes()).ok()?;
    let msg = cipher.decrypt(&nonce.into(), Payload { msg: sealed, aad: &public }).ok()?;
    let (id, plaintext) = msg.split_first_chunk::<4>()?;
    Some((u32::from_be_bytes(*id), plaintext.to_vec()))
}

/// The AEAD key and nonce for one voucher.
fn cipher(
    shared: &[u8; 32],
    ephemeral: &[u8; 32],
    service: &[u8; 32],
) -> Result<(ChaCha20Poly1305, [u8; 12]), ImplError> {
    let salt = [ephemeral.as_slice(), service].concat();
    let mut okm = [0u8; 44];
    Hkdf::<Sha256>::new(Some(&salt), shared)
        .expand(INFO, &mut okm)
        .map_err(|_| ImplError::Failed("HKDF output length".to_owned()))?;
    let (key, nonce) = okm.split_at(32);
    let cipher =
        ChaCha20Poly1305::new_from_slice(key).map_err(|_| ImplError::Failed("voucher key length".to_owned()))?;
    let mut n = [0u8; 12];
    n.copy_from_slice(nonce);
    Ok((cipher, n))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn real_vouchers_open_only_with_the_service_key_and_dummies_never() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let service = StaticSecret::from([9; 32]);
        let other = StaticSecret::from([10; 32]);
        let public = PublicKey::from(&service).to_bytes();
        let real = seal(&public, 7, b"secret text", &mut rng).unwrap().unwrap();
        let fake = dummy(11, &mut rng);
        assert_eq!(real.len(), fake.len());
        assert_eq!(real.len(), OVERHEAD + 11);
        assert_eq!(open(&service, &real), Some((7, b"secret text".to_vec())));
        assert_eq!(open(&other, &real), None);
        assert_eq!(open(&service, &fake), None);
        for i in 0..real.len() {
            let mut bad = real.clone();
            bad[i] ^= 0x10;
            assert_eq!(open(&service, &bad), None, "byte {i}");
        }
        for cut in 0..real.len() {
            assert_eq!(open(&service, &real[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn dummy_keys_look_like_real_keys() {
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        for _ in 0..64 {
            assert_eq!(dummy(0, &mut rng)[31] & 0x80, 0);
        }
    }

    #[test]
    fn low_order_service_keys_get_no_voucher() {
        let mut rng = ChaCha20Rng::from_seed([5; 32]);
        assert_eq!(seal(&[0; 32], 0, b"x", &mut rng).unwrap(), None);
    }
}
