//! The OpenMLS provider of one device ([`MlsProvider`]): openmls_rust_crypto's
//! cryptography and memory storage, with every random byte drawn from the
//! device's own seeded ChaCha20 generator ([`Engine`]).
//!
//! openmls asks its provider for randomness through `OpenMlsRand` (init and
//! leaf keys, path secrets, group ids, reuse guards); [`Engine`] answers from
//! the device generator. Two operations of openmls_rust_crypto draw OS
//! randomness of their own, and are replaced here: HPKE encryption (the
//! ephemeral key of every UpdatePath and Welcome; see [`super::hpke`]) and
//! signature key generation (Ed25519 from the device generator). Everything
//! else (hashes, HKDF, AEAD, signing, HPKE decryption) is passed through
//! unchanged.
//!
//! **Invariant:** the same seed and the same entropy, in the same order, give
//! the same bytes. [`MlsProvider::duplicate`] copies storage contents and
//! generator position, so a copy evolves independently of the original; a
//! [`Checkpoint`] puts both back as they were. Both are cheap: the storage
//! is copy-on-write ([`Store`]).

use super::hpke;
use super::storage::{Entries, Store};
use crate::persist::RngState;
use openmls::prelude::tls_codec::SecretVLBytes;
use openmls_rust_crypto::RustCrypto;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::random::OpenMlsRand;
use openmls_traits::types::{
    AeadType, Ciphersuite, CryptoError, ExporterSecret, HashType, HpkeCiphertext, HpkeConfig, HpkeKeyPair, KemOutput,
    SignatureScheme,
};
use openmls_traits::OpenMlsProvider;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::sync::{Mutex, OnceLock};

/// The one MLS cipher suite this design speaks.
pub(crate) const CIPHERSUITE: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519;

/// First bytes of what a reseed hashes.
const RESEED_LABEL: &[u8] = b"doormat mls v1 reseed";

/// openmls_rust_crypto's deterministic operations, shared by every device
/// (it holds a generator of its own, which nothing here ever uses).
fn rust_crypto() -> &'static RustCrypto {
    static CRYPTO: OnceLock<RustCrypto> = OnceLock::new();
    CRYPTO.get_or_init(RustCrypto::default)
}

/// A refusal of the generator (only a poisoned lock can cause one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RandError;

impl std::fmt::Display for RandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the device's random generator is unavailable")
    }
}

impl std::error::Error for RandError {}

/// Cryptography and randomness for openmls, from one seeded generator.
#[derive(Debug)]
pub(crate) struct Engine {
    rng: Mutex<ChaCha20Rng>,
}

impl Engine {
    /// An engine drawing from `rng`.
    pub(crate) fn new(rng: ChaCha20Rng) -> Self {
        Engine { rng: Mutex::new(rng) }
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut ChaCha20Rng) -> T) -> T {
        let mut guard = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// Fills `out` from the generator.
    pub(crate) fn fill(&self, out: &mut [u8]) {
        self.with_rng(|rng| rng.fill_bytes(out));
    }

    /// 32 bytes from the generator.
    pub(crate) fn secret(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.fill(&mut out);
        out
    }

    /// Where the generator stands.
    pub(crate) fn rng_state(&self) -> RngState {
        self.with_rng(|rng| RngState::save(rng))
    }

    /// Mixes `entropy` in: the generator is reseeded with SHA-256 of 32 bytes
    /// drawn from it and the entropy, so a copy that misses the entropy
    /// draws different keys from then on.
    pub(crate) fn add_entropy(&self, entropy: &[u8; 32]) {
        self.with_rng(|rng| {
            let mut drawn = [0u8; 32];
            rng.fill_bytes(&mut drawn);
            let seed: [u8; 32] =
                Sha256::new().chain_update(RESEED_LABEL).chain_update(drawn).chain_update(entropy).finalize().into();
            *rng = ChaCha20Rng::from_seed(seed);
        });
    }

    fn duplicate(&self) -> Engine {
        Engine::new(self.with_rng(|rng| rng.clone()))
    }
}

impl OpenMlsRand for Engine {
    type Error = RandError;

    fn random_array<const N: usize>(&self) -> Result<[u8; N], Self::Error> {
        let mut out = [0u8; N];
        self.fill(&mut out);
        Ok(out)
    }

    fn random_vec(&self, len: usize) -> Result<Vec<u8>, Self::Error> {
        let mut out = vec![0u8; len];
        self.fill(&mut out);
        Ok(out)
    }
}

impl OpenMlsCrypto for Engine {
    fn supports(&self, ciphersuite: Ciphersuite) -> Result<(), CryptoError> {
        if ciphersuite == CIPHERSUITE {
            Ok(())
        } else {
            Err(CryptoError::UnsupportedCiphersuite)
        }
    }

    fn supported_ciphersuites(&self) -> Vec<Ciphersuite> {
        vec![CIPHERSUITE]
    }

    fn hkdf_extract(&self, hash_type: HashType, salt: &[u8], ikm: &[u8]) -> Result<SecretVLBytes, CryptoError> {
        rust_crypto().hkdf_extract(hash_type, salt, ikm)
    }

    fn hmac(&self, hash_type: HashType, key: &[u8], message: &[u8]) -> Result<SecretVLBytes, CryptoError> {
        rust_crypto().hmac(hash_type, key, message)
    }

    fn hkdf_expand(
        &self,
        hash_type: HashType,
        prk: &[u8],
        info: &[u8],
        okm_len: usize,
    ) -> Result<SecretVLBytes, CryptoError> {
        rust_crypto().hkdf_expand(hash_type, prk, info, okm_len)
    }

    fn hash(&self, hash_type: HashType, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        rust_crypto().hash(hash_type, data)
    }

    fn aead_encrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        data: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        rust_crypto().aead_encrypt(alg, key, data, nonce, aad)
    }

    fn aead_decrypt(
        &self,
        alg: AeadType,
        key: &[u8],
        ct_tag: &[u8],
        nonce: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        rust_crypto().aead_decrypt(alg, key, ct_tag, nonce, aad)
    }

    /// Ed25519 only, from the device generator.
    fn signature_key_gen(&self, alg: SignatureScheme) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        if alg != SignatureScheme::ED25519 {
            return Err(CryptoError::UnsupportedSignatureScheme);
        }
        let key = ed25519_dalek::SigningKey::from_bytes(&self.secret());
        Ok((key.to_bytes().to_vec(), key.verifying_key().to_bytes().to_vec()))
    }

    fn verify_signature(
        &self,
        alg: SignatureScheme,
        data: &[u8],
        pk: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        rust_crypto().verify_signature(alg, data, pk, signature)
    }

    fn sign(&self, alg: SignatureScheme, data: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        rust_crypto().sign(alg, data, key)
    }

    /// HPKE encryption with an ephemeral key from the device generator.
    fn hpke_seal(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        aad: &[u8],
        ptxt: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        if !hpke::supported(&config) {
            return Err(CryptoError::UnsupportedCiphersuite);
        }
        hpke::seal(self.secret(), pk_r, info, aad, ptxt)
    }

    fn hpke_open(
        &self,
        config: HpkeConfig,
        input: &HpkeCiphertext,
        sk_r: &[u8],
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        rust_crypto().hpke_open(config, input, sk_r, info, aad)
    }

    /// HPKE sender setup with an ephemeral key from the device generator
    /// (openmls uses it only for external commits, which this design never
    /// makes).
    fn hpke_setup_sender_and_export(
        &self,
        config: HpkeConfig,
        pk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<(KemOutput, ExporterSecret), CryptoError> {
        if !hpke::supported(&config) {
            return Err(CryptoError::UnsupportedCiphersuite);
        }
        hpke::setup_sender_and_export(self.secret(), pk_r, info, exporter_context, exporter_length)
    }

    fn hpke_setup_receiver_and_export(
        &self,
        config: HpkeConfig,
        enc: &[u8],
        sk_r: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        exporter_length: usize,
    ) -> Result<ExporterSecret, CryptoError> {
        rust_crypto().hpke_setup_receiver_and_export(config, enc, sk_r, info, exporter_context, exporter_length)
    }

    fn derive_hpke_keypair(&self, config: HpkeConfig, ikm: &[u8]) -> Result<HpkeKeyPair, CryptoError> {
        rust_crypto().derive_hpke_keypair(config, ikm)
    }
}

/// One device's OpenMLS provider: the [`Engine`] and the key/value store
/// holding its groups and key packages. A provider in openmls's sense
/// (cryptography, randomness, storage), not doormat's simulated messaging
/// provider (`doormat_engine::Provider`).
#[derive(Debug)]
pub(crate) struct MlsProvider {
    engine: Engine,
    storage: Store,
}

/// Where a provider stood (storage and generator), to go back to.
#[derive(Debug)]
pub(crate) struct Checkpoint {
    rng: ChaCha20Rng,
    entries: Entries,
}

impl MlsProvider {
    /// A provider with empty storage, drawing from `rng`.
    pub(crate) fn new(rng: ChaCha20Rng) -> Self {
        MlsProvider { engine: Engine::new(rng), storage: Store::default() }
    }

    /// A provider with these storage entries, drawing from `rng`.
    pub(crate) fn from_entries(rng: ChaCha20Rng, entries: Vec<(Vec<u8>, Vec<u8>)>) -> Self {
        MlsProvider { engine: Engine::new(rng), storage: Store::from_entries(entries) }
    }

    /// The engine (generator, cryptography).
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// An independent copy: same storage contents, same generator position.
    pub(crate) fn duplicate(&self) -> MlsProvider {
        MlsProvider { engine: self.engine.duplicate(), storage: self.storage.duplicate() }
    }

    /// Where this provider stands now.
    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint { rng: self.engine.with_rng(|rng| rng.clone()), entries: self.storage.snapshot() }
    }

    /// Goes back to `checkpoint`: the storage and the generator as they were.
    pub(crate) fn restore(&self, checkpoint: Checkpoint) {
        self.engine.with_rng(|rng| *rng = checkpoint.rng);
        self.storage.restore(checkpoint.entries);
    }

    /// Every storage entry, in key order.
    pub(crate) fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.storage.entries()
    }
}

impl OpenMlsProvider for MlsProvider {
    type CryptoProvider = Engine;
    type RandProvider = Engine;
    type StorageProvider = Store;

    fn storage(&self) -> &Self::StorageProvider {
        &self.storage
    }

    fn crypto(&self) -> &Self::CryptoProvider {
        &self.engine
    }

    fn rand(&self) -> &Self::RandProvider {
        &self.engine
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn randomness_follows_the_seed_and_the_entropy() {
        let a = MlsProvider::new(ChaCha20Rng::from_seed([1; 32]));
        let b = MlsProvider::new(ChaCha20Rng::from_seed([1; 32]));
        assert_eq!(a.rand().random_vec(40).unwrap(), b.rand().random_vec(40).unwrap());
        let copy = a.duplicate();
        a.engine().add_entropy(&[7; 32]);
        let x: [u8; 16] = a.rand().random_array().unwrap();
        let y: [u8; 16] = copy.rand().random_array().unwrap();
        let z: [u8; 16] = b.rand().random_array().unwrap();
        assert_ne!(x, y, "the entropy must change what comes next");
        assert_eq!(y, z, "a copy continues the stream where the original stood");
    }

    #[test]
    fn a_checkpoint_puts_the_generator_back() {
        let p = MlsProvider::new(ChaCha20Rng::from_seed([3; 32]));
        let saved = p.checkpoint();
        let first = p.rand().random_vec(16).unwrap();
        p.engine().add_entropy(&[9; 32]);
        p.restore(saved);
        assert_eq!(p.rand().random_vec(16).unwrap(), first);
    }

    #[test]
    fn only_the_design_cipher_suite_is_offered() {
        let p = MlsProvider::new(ChaCha20Rng::from_seed([2; 32]));
        assert!(p.crypto().supports(CIPHERSUITE).is_ok());
        assert!(p.crypto().supports(Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519).is_err());
        let (sk, pk) = p.crypto().signature_key_gen(SignatureScheme::ED25519).unwrap();
        let sig = p.crypto().sign(SignatureScheme::ED25519, b"m", &sk).unwrap();
        assert!(p.crypto().verify_signature(SignatureScheme::ED25519, b"m", &pk, &sig).is_ok());
    }
}
