//! The `ratchet` design's protocol functions for known-answer tests (protocol
//! `doormat-ratchet-v1`, `vectors/kat/ratchet-protocol.yaml`), next to the
//! dalek and RustCrypto primitives it is built on ([`RustCrypto`]). A
//! re-implementation of the protocol can be checked byte for byte against
//! the same file.
//!
//! | function | inputs | outputs |
//! |---|---|---|
//! | `device-keys` | `seed` | `signing_key`, `identity_key`, `signed_prekey`, `one_time_key`, `identity`, `prekey`, `one_time` |
//! | `x3dh-initiator` | `identity_key`, `ephemeral`, `peer_identity`, `peer_prekey`, optional `peer_one_time` | `secret`, `base_key` |
//! | `x3dh-responder` | `identity_key`, `signed_prekey`, optional `one_time`, `peer_identity`, `base_key` | `secret` |
//! | `kdf-root` | `root`, `dh` | `root`, `chain` |
//! | `kdf-chain` | `chain` | `chain`, `message_key` |
//! | `message-key` | `message_key` | `key`, `nonce` |
//! | `seal` | `message_key`, `ad`, `plaintext` | `ciphertext` |
//! | `open` | `message_key`, `ad`, `ciphertext` | `plaintext` |
//! | `conversation` | `alice_seed`, `bob_seed`, `m1`, `m2`, `m3` | `body1`, `body2`, `body3` |
//!
//! `conversation` is the whole protocol end to end through the design's own
//! devices: `alice/phone` and `bob/phone` are created from their seeds (no
//! entropy is added), Alice sends `m1` to Bob (a prekey message, against
//! Bob's first one-time prekey), Bob answers `m2` (his first DH ratchet
//! step), Alice sends `m3` (hers); every body must open on the other side.
//! The conversation is `alice+bob` with members `alice`, `bob`.
//!
//! **Invariant:** every function calls the code the design's devices run
//! (the same key schedule, X3DH and device creation), never a copy of it.

use super::{keys, x3dh_initiator, x3dh_responder, PeerBundle, RatchetDevice, NAME};
use crate::primitives::RustCrypto;
use doormat_engine::{
    AeadAlg, Bundle, Device, DirectoryEntry, EncryptRequest, ImplError, InEnvelope, Primitives, ProtocolBytes,
};
use doormat_formats::{DeviceAddr, UserId};

/// The name of the protocol these functions implement.
pub(crate) const PROTOCOL: &str = "doormat-ratchet-v1";

/// The ratchet's primitives and protocol functions. Only `ratchet` itself
/// offers the protocol: the designs that wrap it (ghost, escrow,
/// client-scan, backup-escrow) change what goes on the wire, so they expose
/// the primitives alone.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RatchetPrimitives;

/// A boxed [`RatchetPrimitives`], for `Design::primitives`.
pub(crate) fn boxed() -> Option<Box<dyn Primitives>> {
    Some(Box::new(RatchetPrimitives))
}

/// The named inputs of one call, taken out as fixed-size arrays.
struct Inputs<'a> {
    function: &'a str,
    map: &'a ProtocolBytes,
}

impl Inputs<'_> {
    fn bytes(&self, name: &str) -> Result<&[u8], ImplError> {
        self.map
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| ImplError::Rejected(format!("{}: missing input `{name}`", self.function)))
    }

    fn array<const N: usize>(&self, name: &str) -> Result<[u8; N], ImplError> {
        let b = self.bytes(name)?;
        b.try_into().map_err(|_| {
            ImplError::Rejected(format!("{}: input `{name}`: expected {N} bytes, got {}", self.function, b.len()))
        })
    }

    fn optional<const N: usize>(&self, name: &str) -> Result<Option<[u8; N]>, ImplError> {
        if self.map.contains_key(name) {
            self.array(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Refuses inputs the function does not take, so a misspelt optional
    /// input cannot silently change the case.
    fn only(&self, names: &[&str]) -> Result<(), ImplError> {
        match self.map.keys().find(|k| !names.contains(&k.as_str())) {
            Some(k) => Err(ImplError::Rejected(format!(
                "{}: unknown input `{k}`: expected {}",
                self.function,
                names.join(", ")
            ))),
            None => Ok(()),
        }
    }
}

fn outputs<const N: usize>(pairs: [(&str, Vec<u8>); N]) -> ProtocolBytes {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// `device-keys`: a device made from `seed`, its secrets and what it publishes.
fn device_keys(i: &Inputs<'_>) -> Result<ProtocolBytes, ImplError> {
    i.only(&["seed"])?;
    let mut device = RatchetDevice::create(NAME, &DeviceAddr::new("kat", "device"), i.array::<32>("seed")?)?;
    let bundle = device.publish()?;
    let none = || ImplError::Failed("no one-time prekey".to_owned());
    let first = bundle.one_time.first().cloned().ok_or_else(none)?;
    let first_key = *device.st.one_time.values().next().ok_or_else(none)?;
    Ok(outputs([
        ("signing_key", device.st.signing_key.to_vec()),
        ("identity_key", device.st.identity_key.to_vec()),
        ("signed_prekey", device.st.signed_prekey.to_vec()),
        ("one_time_key", first_key.to_vec()),
        ("identity", bundle.identity),
        ("prekey", bundle.prekey),
        ("one_time", first),
    ]))
}

/// `x3dh-initiator`: the secret an initiator derives from a served entry.
fn initiator(i: &Inputs<'_>) -> Result<ProtocolBytes, ImplError> {
    i.only(&["identity_key", "ephemeral", "peer_identity", "peer_prekey", "peer_one_time"])?;
    let entry = DirectoryEntry {
        device: DeviceAddr::new("kat", "peer"),
        identity: i.bytes("peer_identity")?.to_vec(),
        prekey: i.bytes("peer_prekey")?.to_vec(),
        one_time: i.map.get("peer_one_time").cloned(),
        proof: None,
    };
    let bundle = PeerBundle::parse(&entry)?;
    let ephemeral = i.array("ephemeral")?;
    let secret = x3dh_initiator(&i.array("identity_key")?, &ephemeral, &bundle)?;
    Ok(outputs([("secret", secret.to_vec()), ("base_key", keys::x_public(&ephemeral).to_vec())]))
}

/// `x3dh-responder`: the same secret from the responder's side.
fn responder(i: &Inputs<'_>) -> Result<ProtocolBytes, ImplError> {
    i.only(&["identity_key", "signed_prekey", "one_time", "peer_identity", "base_key"])?;
    let identity: [u8; 64] = i.array("peer_identity")?;
    let mut peer_key = [0u8; 32];
    peer_key.copy_from_slice(&identity[32..]);
    let secret = x3dh_responder(
        &i.array("identity_key")?,
        &i.array("signed_prekey")?,
        i.optional("one_time")?,
        &peer_key,
        &i.array("base_key")?,
    )?;
    Ok(outputs([("secret", secret.to_vec())]))
}

/// `conversation`: three messages between two devices made from seeds.
fn conversation(i: &Inputs<'_>) -> Result<ProtocolBytes, ImplError> {
    i.only(&["alice_seed", "bob_seed", "m1", "m2", "m3"])?;
    let (alice_addr, bob_addr) = (DeviceAddr::new("alice", "phone"), DeviceAddr::new("bob", "phone"));
    let mut alice = RatchetDevice::create(NAME, &alice_addr, i.array::<32>("alice_seed")?)?;
    let mut bob = RatchetDevice::create(NAME, &bob_addr, i.array::<32>("bob_seed")?)?;
    let (alice_bundle, bob_bundle) = (alice.publish()?, bob.publish()?);
    let entry = |addr: &DeviceAddr, b: &Bundle, one_time: bool| DirectoryEntry {
        device: addr.clone(),
        identity: b.identity.clone(),
        prekey: b.prekey.clone(),
        one_time: if one_time { b.one_time.first().cloned() } else { None },
        proof: None,
    };
    let body1 = send(&mut alice, &mut bob, &entry(&bob_addr, &bob_bundle, true), i.bytes("m1")?)?;
    let body2 = send(&mut bob, &mut alice, &entry(&alice_addr, &alice_bundle, false), i.bytes("m2")?)?;
    let body3 = send(&mut alice, &mut bob, &entry(&bob_addr, &bob_bundle, false), i.bytes("m3")?)?;
    Ok(outputs([("body1", body1), ("body2", body2), ("body3", body3)]))
}

/// One message of `conversation`: `from` encrypts `plaintext` for the
/// device of `to_entry`, `to` opens it; the envelope body.
fn send(
    from: &mut RatchetDevice,
    to: &mut RatchetDevice,
    to_entry: &DirectoryEntry,
    plaintext: &[u8],
) -> Result<Vec<u8>, ImplError> {
    let members = [UserId::from("alice"), UserId::from("bob")];
    let req = EncryptRequest {
        conversation: "alice+bob",
        group: false,
        members: &members,
        recipients: std::slice::from_ref(to_entry),
        plaintext,
    };
    let sent = from.encrypt(&req)?;
    let [envelope] = sent.envelopes.as_slice() else {
        return Err(ImplError::Failed(format!("expected one envelope, got {}", sent.envelopes.len())));
    };
    let from_addr = from.st.addr.to_addr();
    let got = to.decrypt(&InEnvelope { from: &from_addr, conversation: "alice+bob", body: &envelope.body })?;
    if got.plaintext.as_deref() != Some(plaintext) {
        return Err(ImplError::Failed(format!("{} did not read back what {from_addr} sent", to_entry.device)));
    }
    Ok(envelope.body.clone())
}

impl Primitives for RatchetPrimitives {
    fn x25519(&self, private: &[u8], public: &[u8]) -> Result<Vec<u8>, ImplError> {
        RustCrypto.x25519(private, public)
    }

    fn ed25519_verify(&self, public: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, ImplError> {
        RustCrypto.ed25519_verify(public, msg, sig)
    }

    fn aead_seal(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        RustCrypto.aead_seal(alg, key, nonce, aad, msg)
    }

    fn aead_open(&self, alg: AeadAlg, key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8]) -> Result<Vec<u8>, ImplError> {
        RustCrypto.aead_open(alg, key, nonce, aad, ct)
    }

    fn hkdf_sha256(&self, ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Vec<u8>, ImplError> {
        RustCrypto.hkdf_sha256(ikm, salt, info, len)
    }

    fn hmac_sha256(&self, key: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
        RustCrypto.hmac_sha256(key, msg)
    }

    fn protocol(&self) -> Option<String> {
        Some(PROTOCOL.to_owned())
    }

    fn protocol_function(&self, function: &str, inputs: &ProtocolBytes) -> Result<ProtocolBytes, ImplError> {
        let i = Inputs { function, map: inputs };
        match function {
            "device-keys" => device_keys(&i),
            "x3dh-initiator" => initiator(&i),
            "x3dh-responder" => responder(&i),
            "kdf-root" => {
                i.only(&["root", "dh"])?;
                let (root, chain) = keys::kdf_root(&i.array("root")?, &i.array("dh")?)?;
                Ok(outputs([("root", root.to_vec()), ("chain", chain.to_vec())]))
            }
            "kdf-chain" => {
                i.only(&["chain"])?;
                let (chain, message_key) = keys::kdf_chain(&i.array("chain")?)?;
                Ok(outputs([("chain", chain.to_vec()), ("message_key", message_key.to_vec())]))
            }
            "message-key" => {
                i.only(&["message_key"])?;
                let (key, nonce) = keys::message_key_material(&i.array("message_key")?)?;
                Ok(outputs([("key", key.to_vec()), ("nonce", nonce.to_vec())]))
            }
            "seal" => {
                i.only(&["message_key", "ad", "plaintext"])?;
                let ct = keys::seal(&i.array("message_key")?, i.bytes("ad")?, i.bytes("plaintext")?)?;
                Ok(outputs([("ciphertext", ct)]))
            }
            "open" => {
                i.only(&["message_key", "ad", "ciphertext"])?;
                let pt = keys::open(&i.array("message_key")?, i.bytes("ad")?, i.bytes("ciphertext")?)?;
                Ok(outputs([("plaintext", pt)]))
            }
            "conversation" => conversation(&i),
            other => Err(ImplError::Unsupported(format!("{PROTOCOL} function `{other}`"))),
        }
    }
}
