//! Keystream reuse and deterministic encryption (`doormat_oracles::keystream`),
//! against small designs that differ only in how they use their cipher.
//!
//! Every design here has static X25519 keys per device and one key per pair
//! of devices (SHA-256 of the shared secret); the envelope names the
//! addressee, carries the sender's public key and address and a nonce, then
//! the ciphertext of the bare plaintext:
//!
//! - `Honest`: ChaCha20-Poly1305 with a fresh nonce from the device's seeded
//!   generator (the control);
//! - `FixedNonce`: ChaCha20-Poly1305 with the same nonce for every message to
//!   a device: the same keystream every time, behind a valid Poly1305 tag;
//! - `Ecb`: AES-256 in ECB mode with PKCS#7 padding, then HMAC-SHA-256 over
//!   the whole envelope (encrypt-then-MAC): deterministic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aes_gcm::aes::cipher::{BlockDecrypt, BlockEncrypt};
use aes_gcm::aes::Aes256;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use doormat_engine::{
    Bundle, Capabilities, Design, Device, EncryptRequest, ImplError, InEnvelope, OutEnvelope, Received, Run, Seed, Sent,
};
use doormat_formats::{DeviceAddr, Vector};
use doormat_oracles::keystream::{self, Kind, Reuse};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Honest,
    FixedNonce,
    Ecb,
    /// The plaintext XORed with one constant byte: the scanner's, not this module's.
    XorConstant,
}

#[derive(Debug)]
struct CipherDesign(Mode);

#[derive(Debug, Clone)]
struct CipherDevice {
    mode: Mode,
    me: DeviceAddr,
    secret: [u8; 32],
    rng: [u8; 32],
    counter: u64,
}

fn public(secret: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*secret)).to_bytes()
}

fn pair_key(secret: &[u8; 32], peer: &[u8; 32]) -> [u8; 32] {
    let shared = x25519_dalek::StaticSecret::from(*secret).diffie_hellman(&x25519_dalek::PublicKey::from(*peer));
    Sha256::digest(shared.as_bytes()).into()
}

fn addr_bytes(a: &DeviceAddr) -> Vec<u8> {
    format!("{}/{}", a.user.0, a.device).into_bytes()
}

fn mac(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&Sha256::digest([&b"mac"[..], key].concat())).unwrap();
    m.update(data);
    m.finalize().into_bytes().into()
}

fn ecb_seal(key: &[u8; 32], pt: &[u8]) -> Vec<u8> {
    let aes = Aes256::new(key.into());
    let pad = 16 - pt.len() % 16;
    let mut buf = pt.to_vec();
    buf.extend(std::iter::repeat_n(pad as u8, pad));
    for block in buf.chunks_mut(16) {
        aes.encrypt_block(block.into());
    }
    buf
}

fn ecb_open(key: &[u8; 32], ct: &[u8]) -> Option<Vec<u8>> {
    if ct.is_empty() || ct.len() % 16 != 0 {
        return None;
    }
    let aes = Aes256::new(key.into());
    let mut buf = ct.to_vec();
    for block in buf.chunks_mut(16) {
        aes.decrypt_block(block.into());
    }
    let pad = usize::from(*buf.last()?);
    if !(1..=16).contains(&pad) {
        return None;
    }
    buf.truncate(buf.len() - pad);
    Some(buf)
}

impl Design for CipherDesign {
    fn name(&self) -> &str {
        "cipher"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::with_export(false)
    }

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(CipherDevice {
            mode: self.0,
            me: addr.clone(),
            secret: seed,
            rng: Sha256::digest([&b"rng"[..], &seed].concat()).into(),
            counter: 0,
        }))
    }
}

impl CipherDevice {
    fn nonce(&mut self, to: &DeviceAddr) -> [u8; 12] {
        let mut n = [0u8; 12];
        match self.mode {
            Mode::Honest => {
                self.counter += 1;
                let d = Sha256::digest([&self.rng[..], &self.counter.to_be_bytes()].concat());
                n.copy_from_slice(&d[..12]);
            }
            // The same nonce for every message to this device.
            Mode::FixedNonce | Mode::Ecb | Mode::XorConstant => {
                n.copy_from_slice(&Sha256::digest(addr_bytes(to))[..12]);
            }
        }
        n
    }

    /// `to (len-prefixed) ‖ sender public ‖ sender address (len-prefixed) ‖ nonce`.
    fn header(to: &DeviceAddr, pk: &[u8; 32], from: &DeviceAddr, nonce: &[u8; 12]) -> Vec<u8> {
        let (to, from) = (addr_bytes(to), addr_bytes(from));
        let mut h = vec![to.len() as u8];
        h.extend_from_slice(&to);
        h.extend_from_slice(pk);
        h.push(from.len() as u8);
        h.extend_from_slice(&from);
        h.extend_from_slice(nonce);
        h
    }

    fn open(&self, body: &[u8]) -> Option<(Vec<u8>, DeviceAddr)> {
        let (&n, rest) = body.split_first()?;
        let (to, rest) = rest.split_at_checked(n as usize)?;
        if to != addr_bytes(&self.me) {
            return None;
        }
        let (pk, rest) = rest.split_at_checked(32)?;
        let (&n, rest) = rest.split_first()?;
        let (from, rest) = rest.split_at_checked(n as usize)?;
        let (nonce, ct) = rest.split_at_checked(12)?;
        let k = pair_key(&self.secret, pk.try_into().ok()?);
        let pt = match self.mode {
            Mode::Honest | Mode::FixedNonce => {
                ChaCha20Poly1305::new(Key::from_slice(&k)).decrypt(Nonce::from_slice(nonce), ct).ok()?
            }
            Mode::Ecb => {
                let (ct, tag) = ct.split_at_checked(ct.len().checked_sub(32)?)?;
                if mac(&k, &body[..body.len() - 32]) != tag {
                    return None;
                }
                ecb_open(&k, ct)?
            }
            Mode::XorConstant => ct.iter().map(|b| b ^ 0x5a).collect(),
        };
        let (u, d) = std::str::from_utf8(from).ok()?.split_once('/')?;
        Some((pt, DeviceAddr::new(u, d)))
    }
}

impl Device for CipherDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        Ok(Bundle { identity: public(&self.secret).to_vec(), prekey: Vec::new(), one_time: Vec::new() })
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        let mut out = Sent::default();
        let me = self.me.clone();
        for r in req.recipients.iter().filter(|r| r.device != me) {
            let pk: [u8; 32] =
                r.identity.as_slice().try_into().map_err(|_| ImplError::Rejected("bad identity".into()))?;
            let k = pair_key(&self.secret, &pk);
            let nonce = self.nonce(&r.device);
            let mut body = Self::header(&r.device, &public(&self.secret), &self.me, &nonce);
            match self.mode {
                Mode::Honest | Mode::FixedNonce => body.extend(
                    ChaCha20Poly1305::new(Key::from_slice(&k))
                        .encrypt(Nonce::from_slice(&nonce), req.plaintext)
                        .map_err(|e| ImplError::Failed(e.to_string()))?,
                ),
                Mode::Ecb => {
                    body.extend(ecb_seal(&k, req.plaintext));
                    let tag = mac(&k, &body);
                    body.extend_from_slice(&tag);
                }
                Mode::XorConstant => body.extend(req.plaintext.iter().map(|b| b ^ 0x5a)),
            }
            out.envelopes.push(OutEnvelope { to: vec![r.device.clone()], body });
        }
        Ok(out)
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        let (pt, from) = self.open(env.body).ok_or_else(|| ImplError::Rejected("does not open".into()))?;
        Ok(Received { plaintext: Some(pt), sender: Some(from), events: Vec::new() })
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(self.clone()))
    }

    fn add_entropy(&mut self, entropy: &[u8; 32]) {
        self.rng = Sha256::digest([&self.rng[..], entropy].concat()).into();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vector(path: &Path) -> doormat_formats::Scenario {
    let src = std::fs::read_to_string(path).unwrap();
    let id = path.file_stem().unwrap().to_string_lossy().into_owned();
    Vector::parse(&path.display().to_string(), &id, &src).unwrap()
}

fn run(mode: Mode, path: &str) -> Run {
    doormat_engine::run(&CipherDesign(mode), &vector(&root().join(path)))
}

/// Every scenario vector under `vectors/` (the known-answer files excluded).
fn every_vector() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "kat") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("vectors"), &mut out);
    out.sort();
    assert!(out.len() > 20, "{out:?}");
    out
}

fn id(run: &Run, message: usize) -> &str {
    run.truth.messages[message].id.as_str()
}

fn pairs(run: &Run, reuse: &[Reuse], kind: Kind) -> Vec<(String, String)> {
    reuse
        .iter()
        .filter(|r| r.kind == kind)
        .map(|r| (id(run, r.first.message).to_owned(), id(run, r.second.message).to_owned()))
        .collect()
}

/// What a reuse claims holds: over `len` bytes the two bodies XOR to the
/// XOR of the two plaintexts, from the offsets given.
fn check_pad(run: &Run, r: &Reuse) {
    let (p1, p2) = (&run.truth.messages[r.first.message].plaintext, &run.truth.messages[r.second.message].plaintext);
    let (b1, b2) = (&run.envelopes[r.first.envelope].body, &run.envelopes[r.second.envelope].body);
    let (j1, j2) = (r.first.plaintext, r.second.plaintext);
    let n = (p1.len() - j1).min(p2.len() - j2);
    let agree = (0..n)
        .filter(|&i| {
            let (x, y) = (b1.get(r.first.offset + i), b2.get(r.second.offset + i));
            x.zip(y).is_some_and(|(x, y)| x ^ y == p1[j1 + i] ^ p2[j2 + i])
        })
        .count();
    assert_eq!(agree, r.len, "{r:?}");
}

/// ChaCha20-Poly1305 with one nonce per pair of devices: every message
/// from alice to bob is a two-time pad with the first, although every tag
/// verifies and bob reads every message.
#[test]
fn a_fixed_nonce_behind_a_valid_tag_is_a_two_time_pad() {
    let r = run(Mode::FixedNonce, "vectors/basic/one-to-one.yaml");
    assert!(r.reads.iter().any(|x| x.messages.contains(&3)), "bob reads: the tag verifies");
    let found = keystream::find(&r);
    let pads = pairs(&r, &found, Kind::TwoTimePad);
    // m1 ("hi bob <canary>"), m3 and m4 (canaries) from alice/phone to bob/phone.
    assert!(pads.contains(&("m1".into(), "m3".into())), "{pads:?}");
    assert!(pads.contains(&("m1".into(), "m4".into())), "{pads:?}");
    assert!(!pads.iter().any(|(a, b)| (a == "m1" && b == "m2") || (a == "m2" && b == "m3")), "other pair: {pads:?}");
    assert_eq!(pairs(&r, &found, Kind::Deterministic), Vec::<(String, String)>::new(), "no text repeats here");
    for x in found.iter().filter(|x| x.kind == Kind::TwoTimePad) {
        check_pad(&r, x);
        assert!(x.len >= 32, "the canaries at least: {x:?}");
    }
    // m1 and m3 start the ciphertext right after the same header.
    let m1m3 = found.iter().find(|x| id(&r, x.first.message) == "m1" && id(&r, x.second.message) == "m3").unwrap();
    let header = 1 + "bob/phone".len() + 32 + 1 + "alice/phone".len() + 12;
    assert_eq!((m1m3.first.offset, m1m3.second.offset, m1m3.len), (header, header, 32), "{m1m3:?}");

    let f = keystream::findings(&r);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].sentence.starts_with("A provider who knows or guesses one message reads another"),
        "{}",
        f[0].sentence
    );
    let ev = &f[0].evidence[0];
    assert!(
        ev.text.starts_with("a provider who knows or guesses m1 reads m3: the envelopes of m1 and m3, record #"),
        "{}",
        ev.text
    );
    assert!(
        ev.text.contains(&format!("were encrypted with the same keystream at byte offsets {header} and {header}")),
        "{}",
        ev.text
    );
    assert_eq!(ev.message.as_deref(), Some("m3"));
    assert_eq!(ev.encoding.as_deref(), Some("keystream reused (two-time pad)"));
}

/// The same in a group and between several devices each; and with a text
/// sent twice, both kinds are found.
#[test]
fn a_fixed_nonce_is_found_in_groups_and_with_a_repeated_text() {
    for path in ["vectors/groups/group-of-three.yaml", "vectors/multi-device/both-sides.yaml"] {
        let r = run(Mode::FixedNonce, path);
        let found = keystream::find(&r);
        assert!(found.iter().any(|x| x.kind == Kind::TwoTimePad), "{path}: {found:?}");
        for x in &found {
            check_pad(&r, x);
        }
    }
    // A repeated text under a reused keystream is both: the canaries give
    // the pad away, the text's equal ciphertext the repetition.
    let r = run(Mode::FixedNonce, "vectors/basic/same-text-twice.yaml");
    let found = keystream::find(&r);
    assert!(pairs(&r, &found, Kind::TwoTimePad).contains(&("m1".into(), "m3".into())), "{found:?}");
    let det = pairs(&r, &found, Kind::Deterministic);
    assert_eq!(det, vec![("m1".into(), "m3".into()), ("m1".into(), "m6".into())], "{found:?}");
    let det = found.iter().find(|x| x.kind == Kind::Deterministic).unwrap();
    assert_eq!(det.len, 66, "the text and the space before the canary, to the byte: {det:?}");
}

/// AES-ECB behind an HMAC: the text sent three times gives equal blocks.
#[test]
fn ecb_shows_the_provider_when_a_text_repeats() {
    let r = run(Mode::Ecb, "vectors/basic/same-text-twice.yaml");
    assert!(r.reads.iter().any(|x| x.messages.contains(&2)), "bob reads m3: the MAC verifies");
    let found = keystream::find(&r);
    let det = pairs(&r, &found, Kind::Deterministic);
    assert_eq!(det, vec![("m1".into(), "m3".into()), ("m1".into(), "m6".into())], "{found:?}");
    assert_eq!(pairs(&r, &found, Kind::TwoTimePad), Vec::<(String, String)>::new(), "ECB is no keystream");
    let x = &found[0];
    let header = 1 + "bob/phone".len() + 32 + 1 + "alice/phone".len() + 12;
    // The text is 66 bytes: four whole blocks are equal.
    assert_eq!((x.first.offset, x.second.offset, x.len), (header, header, 64), "{x:?}");
    let f = keystream::findings(&r);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].sentence
            .starts_with("The provider sees when a text repeats: 2 messages repeated the text of an earlier message"),
        "{}",
        f[0].sentence
    );
    assert!(
        f[0].evidence[0].text.starts_with("m1 and m3 have the same text and their envelopes, record #"),
        "{}",
        f[0].evidence[0].text
    );
    assert!(
        f[0].evidence[0].text.contains(&format!("share 64 equal ciphertext bytes at offsets {header} and {header}")),
        "{}",
        f[0].evidence[0].text
    );
    // Text XORed with a constant byte repeats too, but that is the text in a
    // form the scanner reads: neither kind here.
    let r = run(Mode::XorConstant, "vectors/basic/same-text-twice.yaml");
    assert_eq!(keystream::find(&r), Vec::new());
    // Where no text repeats, ECB gives nothing away that this module sees.
    for path in ["vectors/basic/one-to-one.yaml", "vectors/groups/group-of-three.yaml"] {
        assert_eq!(keystream::find(&run(Mode::Ecb, path)), Vec::new(), "{path}");
    }
}

/// The control: a fresh nonce for every message is never caught, on any
/// vector. (The built-in designs, mls, olm and megolm included, are run over
/// every vector in `harness/cli/tests/cli/keystream.rs`.)
#[test]
fn the_honest_control_is_never_caught() {
    for path in every_vector() {
        let r = doormat_engine::run(&CipherDesign(Mode::Honest), &vector(&path));
        assert_eq!(r.aborted, None, "{}", path.display());
        assert_eq!(keystream::find(&r), Vec::new(), "{}", path.display());
    }
}

/// A thousand messages with a fixed nonce: every message is a two-time pad
/// with an earlier one, each reported once (no pairs of pairs); the honest
/// control and the ratchet give nothing. `--nocapture` shows the time of the
/// search beside the run's and the whole judgement's.
#[test]
#[allow(clippy::print_stderr)]
fn a_thousand_messages_are_searched_in_linear_time() {
    let v = vector(&root().join("vectors/long/thousand-messages.yaml"));
    let ratchet = doormat_designs::builtin("ratchet").unwrap();
    let designs: [(&str, Box<dyn Design>); 3] = [
        ("fixed nonce", Box::new(CipherDesign(Mode::FixedNonce))),
        ("honest", Box::new(CipherDesign(Mode::Honest))),
        ("ratchet", ratchet),
    ];
    for (name, design) in designs {
        let t = std::time::Instant::now();
        let r = doormat_engine::run(design.as_ref(), &v);
        let ran = t.elapsed();
        let t = std::time::Instant::now();
        let found = keystream::find(&r);
        let searched = t.elapsed();
        let t = std::time::Instant::now();
        let _ = doormat_oracles::judge(&r, &doormat_formats::Parameters::default());
        let judged = t.elapsed();
        let bytes: usize = r.envelopes.iter().map(|e| e.body.len()).sum();
        eprintln!(
            "{name}: {} envelopes, {bytes} bytes: run {ran:?}, judge {judged:?}, keystream search {searched:?}, {} found",
            r.envelopes.len(),
            found.len()
        );
        if name == "fixed nonce" {
            // Each direction's messages pair with the first of that direction.
            assert_eq!(found.len(), r.truth.messages.len() - 2, "{:?}", &found[..3]);
        } else {
            assert_eq!(found, Vec::new(), "{name}");
        }
    }
}
