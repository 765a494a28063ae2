//! The `ghost` design through the adapter traits only, each situation set
//! against `ratchet` in the same one: the same provider moves (an extra
//! device, a substituted key, a member nobody added) reach the ghost's
//! target without any notice, and verification changes nothing.

#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, Net};
use doormat_engine::{Event, EventKind, ImplError, InEnvelope};
use doormat_formats::UserId;

const AB: &str = "alice+bob";
const ALICE_BOB: &[&str] = &["alice", "bob"];

fn pair(design: &str) -> Net {
    let mut net = Net::new(design);
    net.register("alice/phone");
    net.register("bob/phone");
    net.exchange("alice/phone", "bob/phone", "hi");
    net.exchange("bob/phone", "alice/phone", "hi");
    net
}

fn event(kind: EventKind, user: &str, device: Option<&str>) -> Event {
    Event { kind, user: UserId::from(user), device: device.map(addr) }
}

/// The provider serves an extra device in bob's list; what alice's client
/// shows, and whether that device reads the message.
fn extra_device(design: &str) -> (Vec<Event>, bool) {
    let mut net = pair(design);
    net.register("bob/ghost");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "for bob only");
    let got = net.recv("bob/ghost", "alice/phone", AB, &Net::body_for(&sent, "bob/ghost")).unwrap();
    assert_eq!(sent.envelopes.len(), 2, "{design}");
    (sent.events, got.plaintext.as_deref() == Some(&b"for bob only"[..]))
}

#[test]
fn a_served_extra_device_reads_and_nobody_is_told() {
    assert_eq!(extra_device("ratchet"), (vec![event(EventKind::DeviceAdded, "bob", Some("bob/ghost"))], true));
    assert_eq!(extra_device("ghost"), (vec![], true));
}

/// The provider substitutes an impostor's key for bob's phone after alice
/// verified bob; what alice's client shows, and whether the impostor reads.
fn substituted_key(design: &str) -> (Vec<Event>, bool) {
    let mut net = pair(design);
    let bob = net.directory[&addr("bob/phone")].identity.clone();
    assert_eq!(net.device("alice/phone").verify(&addr("bob/phone"), &bob).unwrap(), [], "{design}");
    let (mut impostor, bundle) = net.impostor("bob/phone", "impostor");
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "secret").unwrap();
    let read = sent.envelopes.iter().any(|e| {
        impostor
            .decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &e.body })
            .is_ok_and(|r| r.plaintext.as_deref() == Some(&b"secret"[..]))
    });
    (sent.events, read)
}

#[test]
fn a_substituted_key_is_used_silently_even_after_verification() {
    assert_eq!(substituted_key("ratchet"), (vec![event(EventKind::IdentityChanged, "bob", Some("bob/phone"))], false));
    assert_eq!(substituted_key("ghost"), (vec![], true));
}

#[test]
fn verify_never_shows_anything() {
    let mut net = pair("ghost");
    assert_eq!(net.device("alice/phone").verify(&addr("bob/phone"), &[0; 64]).unwrap(), []);
    net.exchange("alice/phone", "bob/phone", "still delivered");
}

#[test]
fn receivers_are_not_told_either() {
    for (design, shown) in [("ratchet", true), ("ghost", false)] {
        let mut net = Net::new(design);
        for d in ["alice/phone", "bob/phone", "eve/phone"] {
            net.register(d);
        }
        let sent = net.send("alice/phone", "team", &["alice", "bob"], "just us");
        net.recv("bob/phone", "alice/phone", "team", &Net::body_for(&sent, "bob/phone")).unwrap();
        // The provider tells alice the group has a member nobody added.
        let sent = net.send("alice/phone", "team", &["alice", "bob", "eve"], "who is eve?");
        assert_eq!(!sent.events.is_empty(), shown, "{design}");
        let got = net.recv("bob/phone", "alice/phone", "team", &Net::body_for(&sent, "bob/phone")).unwrap();
        assert_eq!(got.events.contains(&event(EventKind::MemberAdded, "eve", None)), shown, "{design}");
        let got = net.recv("eve/phone", "alice/phone", "team", &Net::body_for(&sent, "eve/phone")).unwrap();
        assert_eq!(got.plaintext.as_deref(), Some(&b"who is eve?"[..]), "{design}");
        // A re-installed (or substituted) sender key on the receiving side.
        net.register_seeded("alice/phone", common::seed_for("alice/phone, new key"));
        let sent = net.send("alice/phone", "team", &["alice", "bob", "eve"], "new key");
        let got = net.recv("bob/phone", "alice/phone", "team", &Net::body_for(&sent, "bob/phone")).unwrap();
        assert_eq!(got.events.contains(&event(EventKind::IdentityChanged, "alice", Some("alice/phone"))), shown);
    }
}

#[test]
fn the_wire_and_the_state_are_ratchets() {
    let mut net = pair("ghost");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "m");
    let body = Net::body_for(&sent, "bob/phone");
    assert_eq!(&body[..2], &[1, 1], "a ratchet message: version 1, kind 1");
    // Garbage and tampering are refused as ratchet refuses them.
    let mut tampered = body.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let r = net.recv("bob/phone", "alice/phone", AB, &tampered);
    assert!(matches!(r, Err(ImplError::Rejected(_))), "{r:?}");
    // Export and import under its own name only.
    let state = net.device("bob/phone").export_state().unwrap();
    let mut restored = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    let got = restored.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &body }).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"m"[..]));
    let ratchet = doormat_designs::builtin("ratchet").unwrap();
    let r = ratchet.import_device(&addr("bob/phone"), &state);
    assert!(matches!(r, Err(ImplError::Rejected(_))), "{r:?}");
    let ratchet_state = ratchet.create_device(&addr("bob/phone"), [3; 32]).unwrap().export_state().unwrap();
    let r = net.design.import_device(&addr("bob/phone"), &ratchet_state);
    assert!(matches!(r, Err(ImplError::Rejected(_))), "{r:?}");
}
