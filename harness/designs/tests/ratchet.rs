//! What only the `ratchet` design does, through the adapter traits only:
//! prekey messages until a reply, X3DH edge cases (signatures, one-time
//! prekeys, a session dropped), the one device a message is addressed to,
//! determinism of its bytes, and healing after a state seizure. What every
//! design does (delivery in every order, integrity, forks, export, notices,
//! verification) is tested once per design in `tests/suite.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, bob_reads, is_rejected, seed_for, to_bob, Net, AB, ALICE_BOB};
use doormat_engine::InEnvelope;

/// Second byte of a body: 1 for an ordinary message (2 for a prekey message).
const KIND_MESSAGE: u8 = 1;

fn pair() -> Net {
    common::pair("ratchet")
}

#[test]
fn only_the_addressed_device_can_decrypt() {
    let mut net = Net::registered("ratchet", &["alice/phone", "bob/phone", "bob/laptop", "carol/phone"]);
    // carol talks to alice too, so she holds a session with alice/phone.
    let hi = net.send("alice/phone", "alice+carol", &["alice", "carol"], "hi carol");
    net.recv("carol/phone", "alice/phone", "alice+carol", &Net::body_for(&hi, "carol/phone")).unwrap();
    let sent = net.send("alice/phone", AB, ALICE_BOB, "for bob");
    let to_phone = Net::body_for(&sent, "bob/phone");
    let mut outsider = net.design.create_device(&addr("bob/phone"), seed_for("impostor")).unwrap();
    assert!(is_rejected(&outsider.decrypt(&InEnvelope {
        from: &addr("alice/phone"),
        conversation: AB,
        body: &to_phone
    })));
    for other in ["bob/laptop", "carol/phone"] {
        assert!(is_rejected(&net.recv(other, "alice/phone", AB, &to_phone)), "{other} read bob/phone's prekey message");
    }
    // Established sessions: bob/laptop has one with alice/phone, still useless.
    net.recv("bob/laptop", "alice/phone", AB, &Net::body_for(&sent, "bob/laptop")).unwrap();
    net.recv("bob/phone", "alice/phone", AB, &to_phone).unwrap();
    let reply = net.send("bob/phone", AB, ALICE_BOB, "reply");
    net.recv("alice/phone", "bob/phone", AB, &Net::body_for(&reply, "alice/phone")).unwrap();
    let sent = net.send("alice/phone", AB, ALICE_BOB, "ordinary");
    let to_phone = Net::body_for(&sent, "bob/phone");
    assert_eq!(to_phone[1], KIND_MESSAGE);
    assert!(is_rejected(&net.recv("bob/laptop", "alice/phone", AB, &to_phone)));
    assert!(is_rejected(&net.recv("bob/laptop", "bob/phone", AB, &to_phone)));
    assert_eq!(bob_reads(&mut net, &to_phone), "ordinary");
}

/// Every envelope body of a fixed script.
fn script(alice_seed: &str) -> Vec<Vec<u8>> {
    let mut net = Net::new("ratchet");
    net.register_seeded("alice/phone", seed_for(alice_seed));
    net.register("bob/phone");
    net.register("bob/laptop");
    let mut bodies = Vec::new();
    for (from, to, text) in [
        ("alice/phone", "bob/phone", "one"),
        ("bob/phone", "alice/phone", "two"),
        ("alice/phone", "bob/phone", "three"),
        ("bob/laptop", "alice/phone", "four"),
    ] {
        let sent = net.send(from, AB, ALICE_BOB, text);
        net.recv(to, from, AB, &Net::body_for(&sent, to)).unwrap();
        bodies.extend(sent.envelopes.into_iter().map(|e| e.body));
    }
    bodies
}

#[test]
fn the_same_seeds_give_the_same_bytes() {
    let a = script("alice/phone");
    assert_eq!(a.len(), 8);
    assert_eq!(a, script("alice/phone"));
    let b = script("another alice");
    assert_ne!(a[0], b[0]);
}

#[test]
fn a_bad_prekey_signature_is_refused_and_changes_nothing() {
    let mut net = pair();
    let mut recipients = net.entries("alice/phone", ALICE_BOB);
    let good = recipients.clone();
    let bob = recipients.iter_mut().find(|e| e.device == addr("bob/phone")).unwrap();
    let last = bob.prekey.len() - 1;
    bob.prekey[last] ^= 1;
    assert!(is_rejected(&net.send_to("alice/phone", AB, ALICE_BOB, &recipients, "forged")));
    let bob = recipients.iter_mut().find(|e| e.device == addr("bob/phone")).unwrap();
    bob.identity.truncate(40);
    assert!(is_rejected(&net.send_to("alice/phone", AB, ALICE_BOB, &recipients, "short identity")));
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &good, "genuine").unwrap();
    assert_eq!(bob_reads(&mut net, &Net::body_for(&sent, "bob/phone")), "genuine");
}

#[test]
fn publish_keeps_a_hundred_one_time_prekeys() {
    let mut net = pair();
    let bundle = net.device("bob/phone").publish().unwrap();
    assert_eq!(bundle.identity.len(), 64);
    assert_eq!(bundle.prekey.len(), 96);
    assert_eq!(bundle.one_time.len(), 100);
    assert!(bundle.one_time.iter().all(|k| k.len() == 36));
    net.exchange("alice/phone", "bob/phone", "uses one");
    let again = net.device("bob/phone").publish().unwrap();
    assert_eq!(again.one_time.len(), 100);
    assert!(!again.one_time.contains(&bundle.one_time[0]), "the used one is gone");
    assert_eq!(again.one_time[..99], bundle.one_time[1..]);
}

/// Alice and bob talk; bob's state is seized; then they exchange two round
/// trips, with fresh entropy before every operation when `heal`, while the
/// seized copy follows every message alice sends. Returns which of alice's
/// messages the copy read.
fn seized_copy_reads(heal: bool) -> Vec<bool> {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "before");
    net.exchange("bob/phone", "alice/phone", "before");
    let state = net.device("bob/phone").export_state().unwrap();
    let mut copy = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    let mut counter = 0u8;
    let mut entropy = |net: &mut Net, d: &str| {
        counter += 1;
        if heal {
            net.device(d).add_entropy(&[counter; 32]);
        }
    };
    let mut read = Vec::new();
    for round in 0..3 {
        entropy(&mut net, "alice/phone");
        let body = to_bob(&mut net, &format!("after {round}"));
        let copied = copy.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &body });
        read.push(copied.is_ok_and(|r| r.plaintext == Some(format!("after {round}").into_bytes())));
        entropy(&mut net, "bob/phone");
        assert_eq!(bob_reads(&mut net, &body), format!("after {round}"));
        if round < 2 {
            entropy(&mut net, "bob/phone");
            let reply = Net::body_for(&net.send("bob/phone", AB, ALICE_BOB, "reply"), "alice/phone");
            entropy(&mut net, "alice/phone");
            net.recv("alice/phone", "bob/phone", AB, &reply).unwrap();
        }
    }
    read
}

#[test]
fn fresh_entropy_heals_a_seized_state() {
    // Without entropy the generator is all there is: the copy stays in.
    assert_eq!(seized_copy_reads(false), [true, true, true]);
    // With it, the copy reads only what was sent before bob's next ratchet step.
    assert_eq!(seized_copy_reads(true), [true, false, false]);
}

#[test]
fn add_entropy_is_deterministic_and_kept_by_export() {
    let first_send = |entropy: Option<[u8; 32]>| {
        let mut net = pair();
        if let Some(e) = entropy {
            net.device("alice/phone").add_entropy(&e);
        }
        let state = net.device("alice/phone").export_state().unwrap();
        let req = net.request("alice/phone", AB, ALICE_BOB, b"x");
        let sent = net.device("alice/phone").encrypt(&req.get()).unwrap();
        let mut twin = net.design.import_device(&addr("alice/phone"), &state).unwrap();
        assert_eq!(twin.encrypt(&req.get()).unwrap(), sent, "the export carries the reseeded generator");
        Net::body_for(&sent, "bob/phone")
    };
    assert_eq!(first_send(Some([1; 32])), first_send(Some([1; 32])));
    assert_ne!(first_send(Some([1; 32])), first_send(Some([2; 32])));
    assert_ne!(first_send(Some([1; 32])), first_send(None));
}
