//! The `plaintext-relay` design through the adapter traits: it delivers, and
//! it lets anyone read, which is what the audit must catch.

#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, Net, AB};
use doormat_engine::{ImplError, InEnvelope};

fn net() -> Net {
    Net::registered("plaintext-relay", &["alice/phone", "alice/laptop", "bob/phone", "carol/phone"])
}

#[test]
fn one_envelope_to_every_other_recipient_device_with_the_plaintext_in_clear() {
    let mut net = net();
    let sent = net.send("alice/phone", AB, &["alice", "bob"], "meet at noon");
    assert_eq!(sent.envelopes.len(), 1);
    assert_eq!(sent.envelopes[0].to, [addr("alice/laptop"), addr("bob/phone")]);
    assert!(sent.envelopes[0].body.windows(12).any(|w| w == b"meet at noon"));
    assert_eq!(sent.events, []);
    for d in ["alice/laptop", "bob/phone"] {
        let got = net.recv(d, "alice/phone", AB, &sent.envelopes[0].body).unwrap();
        assert_eq!(got.plaintext.as_deref(), Some(&b"meet at noon"[..]));
        assert_eq!(got.sender, Some(addr("alice/phone")));
    }
}

#[test]
fn any_device_and_any_outsider_can_read() {
    let mut net = net();
    let sent = net.send("alice/phone", AB, &["alice", "bob"], "secret");
    let body = &sent.envelopes[0].body;
    let got = net.recv("carol/phone", "alice/phone", AB, body).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"secret"[..]), "a non-member reads it");
    let mut outsider = net.design.create_device(&addr("eve/laptop"), [9; 32]).unwrap();
    let got = outsider.decrypt(&InEnvelope { from: &addr("mallory/x"), conversation: "other", body }).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"secret"[..]));
    assert_eq!(got.sender, Some(addr("mallory/x")), "it believes the provider about the sender");
}

#[test]
fn malformed_bodies_are_rejected() {
    let mut net = net();
    let body = net.send("alice/phone", AB, &["alice", "bob"], "x").envelopes[0].body.clone();
    for cut in 0..body.len() {
        let r = net.recv("bob/phone", "alice/phone", AB, &body[..cut]);
        assert!(matches!(r, Err(ImplError::Rejected(_))), "cut at {cut}: {r:?}");
    }
    let mut longer = body.clone();
    longer.push(0);
    assert!(matches!(net.recv("bob/phone", "alice/phone", AB, &longer), Err(ImplError::Rejected(_))));
    let mut wrong_magic = body;
    wrong_magic[0] ^= 1;
    assert!(matches!(net.recv("bob/phone", "alice/phone", AB, &wrong_magic), Err(ImplError::Rejected(_))));
}

#[test]
fn state_export_round_trips() {
    let mut net = net();
    let bundle = net.device("bob/phone").publish().unwrap();
    assert_eq!(bundle.identity.len(), 32);
    assert!(bundle.one_time.is_empty());
    let state = net.device("bob/phone").export_state().unwrap();
    let mut restored = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    assert_eq!(restored.publish().unwrap(), bundle);
    assert!(matches!(net.design.import_device(&addr("bob/phone"), b"[]"), Err(ImplError::Rejected(_))));
}
