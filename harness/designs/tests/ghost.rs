//! The `ghost` design through the adapter traits only, each situation set
//! against `ratchet` in the same one: the same provider moves (an extra
//! device, a substituted key, a member nobody added) reach the ghost's
//! target at once and without any notice, where ratchet shows them first
//! and holds that message back from the newcomer; and verification changes
//! nothing.

#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, Net, AB, ALICE_BOB};
use doormat_engine::{Event, EventKind, ImplError, InEnvelope};
use doormat_formats::UserId;

fn pair(design: &str) -> Net {
    common::talked(design)
}

fn event(kind: EventKind, user: &str, device: Option<&str>) -> Event {
    Event { kind, user: UserId::from(user), device: device.map(addr) }
}

/// The provider serves an extra device in bob's list and alice sends two
/// messages; what alice's client shows with each, and whether that device
/// reads each (any envelope of the send handed to it, in order).
fn extra_device(design: &str) -> ([Vec<Event>; 2], [bool; 2]) {
    let mut net = pair(design);
    net.register("bob/ghost");
    let mut events = [vec![], vec![]];
    let mut read = [false; 2];
    for (i, text) in ["for bob only", "for bob only, again"].into_iter().enumerate() {
        let sent = net.send("alice/phone", AB, ALICE_BOB, text);
        let got = net.recv("bob/phone", "alice/phone", AB, &Net::body_for(&sent, "bob/phone")).unwrap();
        assert_eq!(got.plaintext.as_deref(), Some(text.as_bytes()), "{design}: bob reads every message");
        let opened = common::fork_reads(net.device("bob/ghost").as_ref(), "alice/phone", AB, &sent);
        read[i] = opened.contains(&text.as_bytes().to_vec());
        assert_eq!(common::addressed(&sent, "bob/ghost"), read[i], "{design}: message {i}");
        if read[i] {
            assert_eq!(net.deliver_to("bob/ghost", "alice/phone", AB, &sent), [text], "{design}");
        }
        events[i] = sent.events;
    }
    (events, read)
}

/// Ratchet shows the extra device with the first message and holds that
/// message back from it (it reads from the second on, after the notice);
/// ghost shows nothing and the extra device reads both.
#[test]
fn a_served_extra_device_reads_and_nobody_is_told() {
    let shown = vec![event(EventKind::DeviceAdded, "bob", Some("bob/ghost"))];
    assert_eq!(extra_device("ratchet"), ([shown, vec![]], [false, true]));
    assert_eq!(extra_device("ghost"), ([vec![], vec![]], [true, true]));
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

/// A member nobody added: ratchet shows it to the sender and to the other
/// receivers, and holds that message back from the new member, who reads
/// from the next one on; ghost shows nobody anything and the new member
/// reads at once. A sender's changed key is shown to receivers by ratchet
/// only.
#[test]
fn receivers_are_not_told_either() {
    for (design, shown) in [("ratchet", true), ("ghost", false)] {
        let mut net = Net::registered(design, &["alice/phone", "bob/phone", "eve/phone"]);
        let sent = net.send("alice/phone", "team", &["alice", "bob"], "just us");
        net.recv("bob/phone", "alice/phone", "team", &Net::body_for(&sent, "bob/phone")).unwrap();
        // The provider tells alice the group has a member nobody added.
        let sent = net.send("alice/phone", "team", &["alice", "bob", "eve"], "who is eve?");
        let notice = if shown { vec![event(EventKind::MemberAdded, "eve", None)] } else { vec![] };
        assert_eq!(sent.events, notice, "{design}");
        let got = net.recv("bob/phone", "alice/phone", "team", &Net::body_for(&sent, "bob/phone")).unwrap();
        assert_eq!(got.events.contains(&event(EventKind::MemberAdded, "eve", None)), shown, "{design}");
        if shown {
            net.assert_left_out("eve/phone", "alice/phone", "team", &sent);
        } else {
            assert_eq!(net.deliver_to("eve/phone", "alice/phone", "team", &sent), ["who is eve?"], "{design}");
        }
        let sent = net.send("alice/phone", "team", &["alice", "bob", "eve"], "hi eve");
        assert_eq!(sent.events, [], "{design}");
        assert_eq!(net.deliver_to("eve/phone", "alice/phone", "team", &sent), ["hi eve"], "{design}");
        assert_eq!(net.deliver_to("bob/phone", "alice/phone", "team", &sent), ["hi eve"], "{design}");
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
