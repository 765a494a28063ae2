//! Behaviour every built-in design shares, checked once per design (the way
//! rustls mounts its API tests once per crypto provider): it delivers to
//! every recipient device, is deterministic, and refuses garbage.

#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, Net};
use doormat_designs::names;
use doormat_engine::{ImplError, InEnvelope, UserAction};

/// Five devices of three users; alice's user has created `team` of the
/// three on her phone (as the harness tells the creating device).
fn group(design: &str) -> Net {
    let mut net = Net::new(design);
    for d in ["alice/phone", "alice/laptop", "bob/phone", "carol/phone", "carol/tablet"] {
        net.register(d);
    }
    let members = common::users(&["alice", "bob", "carol"]);
    let created = UserAction::CreateGroup { conversation: "team", members: &members };
    net.device("alice/phone").user_action(&created).unwrap();
    net
}

#[test]
fn every_design_delivers_to_every_recipient_device() {
    for design in names() {
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
            let mut want: Vec<String> = ["alice/phone", "alice/laptop", "bob/phone", "carol/phone", "carol/tablet"]
                .iter()
                .filter(|d| **d != from)
                .map(|d| (*d).to_owned())
                .collect();
            want.sort();
            assert_eq!(reached, want, "{design}");
        }
    }
}

#[test]
fn every_seeded_design_is_deterministic() {
    for design in names() {
        if !doormat_designs::builtin(design).unwrap().capabilities().seeded {
            continue;
        }
        let bytes = || {
            let mut net = group(design);
            let a = net.send("alice/phone", "team", &["alice", "bob", "carol"], "same");
            let b = net.send("bob/phone", "team", &["alice", "bob", "carol"], "same");
            (a, b)
        };
        assert_eq!(bytes(), bytes(), "{design}");
    }
}

/// Designs on libraries that draw their own randomness still give envelopes
/// of the same shape (count, addressees, lengths), so reports — which quote
/// no random bytes — stay deterministic.
#[test]
fn every_design_gives_envelopes_of_the_same_shape() {
    for design in names() {
        let shape = || {
            let mut net = group(design);
            let a = net.send("alice/phone", "team", &["alice", "bob", "carol"], "same");
            a.envelopes.iter().map(|e| (e.to.clone(), e.body.len())).collect::<Vec<_>>()
        };
        assert_eq!(shape(), shape(), "{design}");
    }
}

#[test]
fn every_design_rejects_garbage() {
    for design in names() {
        let mut net = group(design);
        net.send("alice/phone", "team", &["alice", "bob"], "warm up");
        for body in [&b""[..], b"\0", b"\x01\x01", b"\x01\x02", &[0xff; 64], &[1; 200]] {
            let r =
                net.device("bob/phone").decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: "team", body });
            assert!(matches!(r, Err(ImplError::Rejected(_))), "{design}: {body:?} gave {r:?}");
        }
    }
}
