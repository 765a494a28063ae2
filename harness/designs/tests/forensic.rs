//! What forensic open (`Device::forensic_open`) is there to catch: a
//! test-only design that keeps every key and refuses replays with a "seen"
//! set, set against the ratchet. What forensic open finds in every built-in
//! design is tested once per design in `tests/suite.rs`
//! (`common/suite/forensic.rs`).

#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, forensic_texts, pair, Net, AB, ALICE_BOB};
use doormat_designs::Ratchet;
use doormat_engine::adapter::Seed;
use doormat_engine::{Bundle, Capabilities, Design, Device, EncryptRequest, ImplError, InEnvelope, Received, Sent};
use doormat_formats::DeviceAddr;
use std::collections::BTreeSet;

/// What `dev` forensically opens in `body`, sent by `from` in `alice+bob`.
fn forensic(dev: &mut dyn Device, from: &str, body: &[u8]) -> Vec<String> {
    forensic_texts(dev, from, AB, body)
}

/// `from` sends `text` to the other phone in `alice+bob`; the body for it.
fn send(net: &mut Net, from: &str, to: &str, text: &str) -> Vec<u8> {
    Net::body_for(&net.send(from, AB, ALICE_BOB, text), to)
}

fn read(net: &mut Net, to: &str, from: &str, body: &[u8]) -> String {
    String::from_utf8(net.recv(to, from, AB, body).unwrap().plaintext.unwrap()).unwrap()
}

/// Whether `dev`'s refusal of `body` is cryptographic: plain decryption
/// refuses it and forensic open finds no key for it either (both on forks).
fn refusal_is_cryptographic(dev: &dyn Device, from: &str, body: &[u8]) -> bool {
    let refused = dev.fork().unwrap().decrypt(&InEnvelope { from: &addr(from), conversation: AB, body }).is_err();
    refused && forensic(dev.fork().unwrap().as_mut(), from, body).is_empty()
}

/// A test-only design, not in the zoo: ratchet's bytes, but the client keeps
/// every message key (as a copy of the ratchet state from before each
/// decryption) and refuses a replay only because a "seen" set says so. A
/// forward-secrecy audit that replays old envelopes through `decrypt` sees
/// the same refusal as from the ratchet; forensic open sees the keys.
#[derive(Debug)]
struct Hoarder;

impl Design for Hoarder {
    fn name(&self) -> &str {
        "hoarder"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::with_export(false)
    }

    fn create_device(&self, addr: &DeviceAddr, seed: Seed) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(HoarderDevice {
            inner: Ratchet.create_device(addr, seed)?,
            kept: Vec::new(),
            seen: BTreeSet::new(),
        }))
    }
}

#[derive(Debug)]
struct HoarderDevice {
    inner: Box<dyn Device>,
    /// The ratchet state before each decryption: every key ever held.
    kept: Vec<Box<dyn Device>>,
    /// Bodies already decrypted.
    seen: BTreeSet<Vec<u8>>,
}

impl Device for HoarderDevice {
    fn publish(&mut self) -> Result<Bundle, ImplError> {
        self.inner.publish()
    }

    fn encrypt(&mut self, req: &EncryptRequest<'_>) -> Result<Sent, ImplError> {
        self.inner.encrypt(req)
    }

    fn decrypt(&mut self, env: &InEnvelope<'_>) -> Result<Received, ImplError> {
        if self.seen.contains(env.body) {
            return Err(ImplError::Rejected("already seen".to_owned()));
        }
        let before = self.inner.fork()?;
        let got = match self.inner.decrypt(env) {
            Ok(got) => got,
            // A key the ratchet deleted is still here.
            Err(e) => self.kept.iter().find_map(|k| k.fork().ok()?.decrypt(env).ok()).ok_or(e)?,
        };
        self.kept.push(before);
        self.seen.insert(env.body.to_vec());
        Ok(got)
    }

    fn fork(&self) -> Result<Box<dyn Device>, ImplError> {
        Ok(Box::new(HoarderDevice {
            inner: self.inner.fork()?,
            kept: self.kept.iter().map(|k| k.fork()).collect::<Result<_, _>>()?,
            seen: self.seen.clone(),
        }))
    }

    /// Honest about what it holds: every kept state's keys.
    fn forensic_open(&mut self, env: &InEnvelope<'_>) -> Result<Vec<Vec<u8>>, ImplError> {
        let mut out = self.inner.fork()?.forensic_open(env).unwrap_or_default();
        for k in &self.kept {
            for p in k.fork()?.forensic_open(env).unwrap_or_default() {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        Ok(out)
    }
}

#[test]
fn a_seen_set_refuses_a_replay_but_forensic_open_reads_it() {
    let mut net = Net::with(Box::new(Hoarder));
    net.register("alice/phone");
    net.register("bob/phone");
    net.exchange("alice/phone", "bob/phone", "hi");
    net.exchange("bob/phone", "alice/phone", "hi");
    let body = send(&mut net, "alice/phone", "bob/phone", "kept forever");
    assert_eq!(read(&mut net, "bob/phone", "alice/phone", &body), "kept forever");
    // Plain decryption refuses the replay, just as the ratchet does ...
    let replay = net.recv("bob/phone", "alice/phone", AB, &body);
    assert!(matches!(replay, Err(ImplError::Rejected(_))), "{replay:?}");
    // ... but the refusal is the seen set's: the keys still open it.
    assert_eq!(forensic(net.device("bob/phone").fork().unwrap().as_mut(), "alice/phone", &body), ["kept forever"]);
    assert!(!refusal_is_cryptographic(net.device("bob/phone").as_ref(), "alice/phone", &body));
    // The same script on the real ratchet: refused by decrypt and by the keys.
    let mut real = pair("ratchet");
    real.exchange("alice/phone", "bob/phone", "hi");
    real.exchange("bob/phone", "alice/phone", "hi");
    let body = send(&mut real, "alice/phone", "bob/phone", "kept forever");
    assert_eq!(read(&mut real, "bob/phone", "alice/phone", &body), "kept forever");
    assert!(matches!(real.recv("bob/phone", "alice/phone", AB, &body), Err(ImplError::Rejected(_))));
    assert_eq!(forensic(real.device("bob/phone").fork().unwrap().as_mut(), "alice/phone", &body), Vec::<String>::new());
    assert!(refusal_is_cryptographic(real.device("bob/phone").as_ref(), "alice/phone", &body));
}
