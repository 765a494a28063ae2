//! What every design does in a group of five devices of three users: it
//! delivers to every recipient device, is deterministic (or at least of a
//! stable shape), refuses short garbage; and its primitives refuse HKDF
//! lengths no allocation may follow.

use crate::common::{self, addr, Net};
use doormat_designs::builtin;
use doormat_engine::{InEnvelope, UserAction};

use super::is_rejected;

const DEVICES: [&str; 5] = ["alice/phone", "alice/laptop", "bob/phone", "carol/phone", "carol/tablet"];

/// Five devices of three users; alice's user has created `team` of the
/// three on her phone (as the harness tells the creating device).
fn group(design: &str) -> Net {
    let mut net = Net::new(design);
    for d in DEVICES {
        net.register(d);
    }
    let members = common::users(&["alice", "bob", "carol"]);
    let created = UserAction::CreateGroup { conversation: "team", members: &members };
    net.device("alice/phone").user_action(&created).unwrap();
    net
}

pub fn delivers_to_every_recipient_device(design: &str) {
    let mut net = group(design);
    for (round, from) in ["alice/phone", "bob/phone", "carol/tablet", "alice/phone"].into_iter().enumerate() {
        let text = format!("{design} round {round}");
        let sent = net.send(from, "team", &["alice", "bob", "carol"], &text);
        // Handshakes (room keys, commits, welcomes) carry no plaintext;
        // every other device reads the text exactly once.
        let mut reached = Vec::new();
        for e in &sent.envelopes {
            for to in &e.to {
                assert_ne!(to, &addr(from), "{design}: sent to itself");
                let got = net.recv(&to.to_string(), from, "team", &e.body).unwrap();
                if let Some(p) = got.plaintext {
                    assert_eq!(p, text.as_bytes(), "{design}: {from} -> {to}");
                    assert_eq!(got.sender, Some(addr(from)), "{design}");
                    reached.push(to.to_string());
                }
            }
        }
        reached.sort();
        let mut want: Vec<String> = DEVICES.iter().filter(|d| **d != from).map(|d| (*d).to_owned()).collect();
        want.sort();
        assert_eq!(reached, want, "{design}");
    }
}

pub fn a_seeded_design_is_deterministic(design: &str) {
    if !builtin(design).unwrap().capabilities().seeded {
        // A library that draws its own randomness promises no bytes; its
        // shapes are checked by `envelopes_have_the_same_shape`.
        return;
    }
    let bytes = || {
        let mut net = group(design);
        let a = net.send("alice/phone", "team", &["alice", "bob", "carol"], "same");
        let b = net.send("bob/phone", "team", &["alice", "bob", "carol"], "same");
        (a, b)
    };
    assert_eq!(bytes(), bytes(), "{design}");
}

/// Designs on libraries that draw their own randomness still give envelopes
/// of the same shape (count, addressees, lengths), so reports — which quote
/// no random bytes — stay deterministic.
pub fn envelopes_have_the_same_shape(design: &str) {
    let shape = || {
        let mut net = group(design);
        let a = net.send("alice/phone", "team", &["alice", "bob", "carol"], "same");
        a.envelopes.iter().map(|e| (e.to.clone(), e.body.len())).collect::<Vec<_>>()
    };
    assert_eq!(shape(), shape(), "{design}");
}

pub fn short_garbage_is_rejected(design: &str) {
    let mut net = group(design);
    net.send("alice/phone", "team", &["alice", "bob"], "warm up");
    for body in [&b""[..], b"\0", b"\x01\x01", b"\x01\x02", &[0xff; 64], &[1; 200]] {
        let r = net.device("bob/phone").decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: "team", body });
        assert!(is_rejected(&r), "{design}: {body:?} gave {r:?}");
    }
}

/// Lengths that come from a file or a request reach no allocation
/// unchecked: the design's primitives refuse an HKDF output longer than
/// HKDF-SHA-256 can give, however long, and never panic or abort on it (a
/// known-answer file or an exec `kat_hkdf_sha256` request to `doormat serve`
/// can ask for anything).
pub fn huge_hkdf_lengths_are_refused_before_anything_is_allocated(design: &str) {
    let Some(prims) = builtin(design).unwrap().primitives() else {
        // No primitives exposed: nothing to ask.
        return;
    };
    for len in [8161, 65_537, 1_000_000_000_000, usize::MAX] {
        let got = prims.hkdf_sha256(b"ikm", b"salt", b"info", len);
        assert!(got.is_err(), "{design}: an HKDF output of {len} bytes must be refused, got {got:?}");
    }
    if let Ok(okm) = prims.hkdf_sha256(b"ikm", b"salt", b"info", 8160) {
        assert_eq!(okm.len(), 8160, "{design}");
    }
}
