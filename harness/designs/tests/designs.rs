//! Behaviour every built-in design shares, checked once per design (the way
//! rustls mounts its API tests once per crypto provider): it delivers to
//! every recipient device, is deterministic, and refuses garbage.

#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, Net};
use doormat_designs::BUILTIN;
use doormat_engine::{ImplError, InEnvelope};

fn group(design: &str) -> Net {
    let mut net = Net::new(design);
    for d in ["alice/phone", "alice/laptop", "bob/phone", "carol/phone", "carol/tablet"] {
        net.register(d);
    }
    net
}

#[test]
fn every_design_delivers_to_every_recipient_device() {
    for design in BUILTIN {
        let mut net = group(design);
        for (round, from) in ["alice/phone", "bob/phone", "carol/tablet", "alice/phone"].into_iter().enumerate() {
            let text = format!("{design} round {round}");
            let sent = net.send(from, "team", &["alice", "bob", "carol"], &text);
            let mut reached = Vec::new();
            for e in &sent.envelopes {
                for to in &e.to {
                    assert_ne!(to, &addr(from), "{design}: sent to itself");
                    let got = net.recv(&to.to_string(), from, "team", &e.body).unwrap();
                    assert_eq!(got.plaintext.as_deref(), Some(text.as_bytes()), "{design}: {from} -> {to}");
                    assert_eq!(got.sender, Some(addr(from)), "{design}");
                    reached.push(to.to_string());
                }
            }
            reached.sort();
            assert_eq!(reached.len(), 4, "{design}: {reached:?}");
        }
    }
}

#[test]
fn every_design_is_deterministic() {
    for design in BUILTIN {
        let bytes = || {
            let mut net = group(design);
            let a = net.send("alice/phone", "team", &["alice", "bob", "carol"], "same");
            let b = net.send("bob/phone", "team", &["alice", "bob", "carol"], "same");
            (a, b)
        };
        assert_eq!(bytes(), bytes(), "{design}");
    }
}

#[test]
fn every_design_rejects_garbage() {
    for design in BUILTIN {
        let mut net = group(design);
        net.send("alice/phone", "team", &["alice", "bob"], "warm up");
        for body in [&b""[..], b"\0", b"\x01\x01", b"\x01\x02", &[0xff; 64], &[1; 200]] {
            let r =
                net.device("bob/phone").decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: "team", body });
            assert!(matches!(r, Err(ImplError::Rejected(_))), "{design}: {body:?} gave {r:?}");
        }
    }
}
