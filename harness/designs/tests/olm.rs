//! The `olm` design (vodozemac Olm) through the adapter traits only:
//! delivery both ways and to every device, pre-key messages until a reply,
//! simultaneous first contact, out-of-order delivery, replay, tampering and
//! garbage refused, misrouting refused, forks and exports independent,
//! served keys checked, the change notices a client shows, verification,
//! and healing after a state seizure.

#![cfg(feature = "olm")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, seed_for, Net};
use doormat_engine::{Event, EventKind, ImplError, InEnvelope};
use doormat_formats::UserId;

const AB: &str = "alice+bob";
const ALICE_BOB: &[&str] = &["alice", "bob"];
/// First byte of every body.
const VERSION: u8 = 1;
/// Second byte: vodozemac's Olm message types.
const KIND_PREKEY: u8 = 0;
const KIND_NORMAL: u8 = 1;

fn pair() -> Net {
    let mut net = Net::new("olm");
    net.register("alice/phone");
    net.register("bob/phone");
    net
}

fn is_rejected<T: std::fmt::Debug>(r: &Result<T, ImplError>) -> bool {
    matches!(r, Err(ImplError::Rejected(_)))
}

/// Alice's phone sends `text` in `alice+bob`; the body for bob's phone.
fn to_bob(net: &mut Net, text: &str) -> Vec<u8> {
    Net::body_for(&net.send("alice/phone", AB, ALICE_BOB, text), "bob/phone")
}

/// Bob's phone sends `text` in `alice+bob`; the body for alice's phone.
fn to_alice(net: &mut Net, text: &str) -> Vec<u8> {
    Net::body_for(&net.send("bob/phone", AB, ALICE_BOB, text), "alice/phone")
}

/// Bob's phone reads a body from alice's phone; the text.
fn bob_reads(net: &mut Net, body: &[u8]) -> String {
    let got = net.recv("bob/phone", "alice/phone", AB, body).unwrap();
    assert_eq!(got.sender, Some(addr("alice/phone")));
    String::from_utf8(got.plaintext.unwrap()).unwrap()
}

fn alice_reads(net: &mut Net, body: &[u8]) -> String {
    let got = net.recv("alice/phone", "bob/phone", AB, body).unwrap();
    assert_eq!(got.sender, Some(addr("bob/phone")));
    String::from_utf8(got.plaintext.unwrap()).unwrap()
}

fn event(kind: EventKind, user: &str, device: Option<&str>) -> Event {
    Event { kind, user: UserId::from(user), device: device.map(addr) }
}

/// Every one-bit change (one per byte) and every truncation of `body` is
/// refused by a fork of `to`; `to` itself then still reads it.
fn assert_tamper_proof(net: &mut Net, to: &str, from: &str, body: &[u8], text: &str) {
    let from_addr = addr(from);
    let try_on_fork = |net: &mut Net, bytes: &[u8]| {
        net.device(to).fork().decrypt(&InEnvelope { from: &from_addr, conversation: AB, body: bytes })
    };
    for i in 0..body.len() {
        let mut flipped = body.to_vec();
        flipped[i] ^= 1 << (i % 8);
        assert!(is_rejected(&try_on_fork(net, &flipped)), "bit {} of byte {i} flipped was accepted", i % 8);
    }
    for cut in 0..body.len() {
        assert!(is_rejected(&try_on_fork(net, &body[..cut])), "truncation to {cut} bytes was accepted");
    }
    let got = net.recv(to, from, AB, body).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(text.as_bytes()));
}

#[test]
fn one_to_one_both_ways_over_many_messages() {
    let mut net = pair();
    for round in 0..30 {
        for i in 0..=round % 4 {
            net.exchange("alice/phone", "bob/phone", &format!("a{round}.{i}"));
        }
        for i in 0..=round % 3 {
            net.exchange("bob/phone", "alice/phone", &format!("b{round}.{i}"));
        }
    }
}

#[test]
fn pre_key_messages_are_sent_until_the_peer_replies() {
    let mut net = pair();
    let first = to_bob(&mut net, "1");
    let second = to_bob(&mut net, "2");
    assert_eq!((first[0], first[1], second[1]), (VERSION, KIND_PREKEY, KIND_PREKEY));
    assert_eq!(bob_reads(&mut net, &second), "2");
    assert_eq!(bob_reads(&mut net, &first), "1");
    let reply = to_alice(&mut net, "reply");
    assert_eq!(reply[1], KIND_NORMAL, "bob's session came from a pre-key message: he sends normal ones");
    assert_eq!(alice_reads(&mut net, &reply), "reply");
    let third = to_bob(&mut net, "3");
    assert_eq!(third[1], KIND_NORMAL);
    assert!(third.len() < first.len(), "a normal message carries no session setup");
    assert_eq!(bob_reads(&mut net, &third), "3");
}

#[test]
fn fan_out_is_one_envelope_per_recipient_device_never_to_self() {
    let mut net = Net::new("olm");
    for d in ["alice/phone", "alice/laptop", "bob/phone", "bob/tablet"] {
        net.register(d);
    }
    let sent = net.send("alice/phone", AB, ALICE_BOB, "hello all");
    let mut to: Vec<String> = sent
        .envelopes
        .iter()
        .map(|e| {
            assert_eq!(e.to.len(), 1, "pairwise envelopes have one addressee");
            e.to[0].to_string()
        })
        .collect();
    to.sort();
    assert_eq!(to, ["alice/laptop", "bob/phone", "bob/tablet"]);
    assert_eq!(sent.events, [], "first contact is silent");
    for d in ["alice/laptop", "bob/phone", "bob/tablet"] {
        let got = net.recv(d, "alice/phone", AB, &Net::body_for(&sent, d)).unwrap();
        assert_eq!(got.plaintext.as_deref(), Some(&b"hello all"[..]), "{d}");
        assert_eq!(got.sender, Some(addr("alice/phone")));
        assert_eq!(got.events, [], "{d}");
    }
    for from in ["bob/tablet", "alice/laptop", "bob/phone"] {
        let sent = net.send(from, AB, ALICE_BOB, from);
        assert_eq!(sent.envelopes.len(), 3);
        for e in &sent.envelopes {
            let to = e.to[0].to_string();
            let got = net.recv(&to, from, AB, &e.body).unwrap();
            assert_eq!(got.plaintext.as_deref(), Some(from.as_bytes()), "{from} -> {to}");
        }
    }
}

#[test]
fn both_writing_first_gives_two_sessions_that_both_work() {
    let mut net = pair();
    let a1 = to_bob(&mut net, "a1");
    let a2 = to_bob(&mut net, "a2");
    let b1 = to_alice(&mut net, "b1");
    let b2 = to_alice(&mut net, "b2");
    assert_eq!((a1[1], b1[1]), (KIND_PREKEY, KIND_PREKEY));
    assert_eq!(alice_reads(&mut net, &b1), "b1");
    assert_eq!(bob_reads(&mut net, &a1), "a1");
    let a3 = to_bob(&mut net, "a3");
    let b3 = to_alice(&mut net, "b3");
    assert_eq!(bob_reads(&mut net, &a3), "a3");
    assert_eq!(alice_reads(&mut net, &b2), "b2");
    assert_eq!(bob_reads(&mut net, &a2), "a2");
    assert_eq!(alice_reads(&mut net, &b3), "b3");
    for i in 0..5 {
        net.exchange("alice/phone", "bob/phone", &format!("a{i}"));
        net.exchange("bob/phone", "alice/phone", &format!("b{i}"));
    }
    assert_eq!(to_bob(&mut net, "settled")[1], KIND_NORMAL);
}

#[test]
fn out_of_order_and_delayed_delivery() {
    let mut net = pair();
    let first: Vec<Vec<u8>> = (0..10).map(|i| to_bob(&mut net, &format!("m{i}"))).collect();
    for i in [7, 2, 9, 0, 1, 8, 3, 6, 5] {
        assert_eq!(bob_reads(&mut net, &first[i]), format!("m{i}"));
    }
    net.exchange("bob/phone", "alice/phone", "reply");
    let n1 = to_bob(&mut net, "n1");
    let n2 = to_bob(&mut net, "n2");
    assert_eq!(bob_reads(&mut net, &n2), "n2");
    assert_eq!(bob_reads(&mut net, &first[4]), "m4");
    assert_eq!(bob_reads(&mut net, &n1), "n1");
}

#[test]
fn a_replay_is_rejected() {
    let mut net = pair();
    let prekey = to_bob(&mut net, "once");
    assert_eq!(bob_reads(&mut net, &prekey), "once");
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &prekey)));
    net.exchange("bob/phone", "alice/phone", "reply");
    let normal = to_bob(&mut net, "twice?");
    assert_eq!(normal[1], KIND_NORMAL);
    assert_eq!(bob_reads(&mut net, &normal), "twice?");
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &normal)));
    net.exchange("alice/phone", "bob/phone", "still fine");
}

#[test]
fn a_replayed_pre_key_message_on_the_fallback_key_makes_no_second_session() {
    // With no one-time key served, the session starts on bob's fallback key,
    // which vodozemac keeps after use: only the session id memory stops a
    // replay, also after the session itself was dropped.
    let mut net = pair();
    net.serve_one_time = false;
    let entries = net.entries("alice/phone", ALICE_BOB);
    assert!(entries.iter().all(|e| e.one_time.is_none()));
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "on the fallback key").unwrap();
    let prekey = Net::body_for(&sent, "bob/phone");
    assert_eq!(bob_reads(&mut net, &prekey), "on the fallback key");
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &prekey)));
    // Alice re-installs six times; bob keeps five sessions with her at most.
    for round in 0..6 {
        net.register_seeded("alice/phone", seed_for(&format!("alice again {round}")));
        let body = to_bob(&mut net, &format!("again {round}"));
        assert_eq!(bob_reads(&mut net, &body), format!("again {round}"));
    }
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &prekey)));
}

#[test]
fn tampered_envelopes_are_rejected() {
    let mut net = pair();
    let prekey = to_bob(&mut net, "pay 10");
    assert_tamper_proof(&mut net, "bob/phone", "alice/phone", &prekey, "pay 10");
    let reply = to_alice(&mut net, "ok");
    assert_eq!(reply[1], KIND_NORMAL);
    net.exchange("alice/phone", "bob/phone", "thanks");
    let normal = to_alice(&mut net, "pay 20");
    assert_tamper_proof(&mut net, "alice/phone", "bob/phone", &normal, "pay 20");
}

#[test]
fn garbage_never_panics_and_is_rejected() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "warm up");
    let mut x: u32 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for len in 0..300 {
        let mut body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if len >= 2 {
            body[0] = VERSION;
            body[1] = (next() % 3) as u8;
        }
        let r =
            net.device("bob/phone").decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &body });
        assert!(is_rejected(&r), "{len} bytes gave {r:?}");
    }
    net.exchange("alice/phone", "bob/phone", "still fine");
}

#[test]
fn misrouted_envelopes_are_rejected() {
    let mut net = Net::new("olm");
    for d in ["alice/phone", "bob/phone", "carol/phone"] {
        net.register(d);
    }
    net.exchange("carol/phone", "bob/phone", "carol knows bob");
    let body = to_bob(&mut net, "from alice");
    // The provider says carol sent it.
    assert!(is_rejected(&net.recv("bob/phone", "carol/phone", AB, &body)));
    // Or delivers it in another conversation.
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", "bob+carol", &body)));
    // Or to carol instead of bob.
    assert!(is_rejected(&net.recv("carol/phone", "alice/phone", AB, &body)));
    assert_eq!(bob_reads(&mut net, &body), "from alice");
}

#[test]
fn devices_that_are_not_addressed_cannot_decrypt() {
    let mut net = Net::new("olm");
    for d in ["alice/phone", "bob/phone", "carol/phone"] {
        net.register(d);
    }
    net.exchange("carol/phone", "alice/phone", "carol knows alice");
    net.exchange("alice/phone", "carol/phone", "and alice knows carol");
    let body = to_bob(&mut net, "for bob only");
    let outsider = net.design.create_device(&addr("outsider/device"), seed_for("outsider")).unwrap();
    for mut foreign in [net.device("carol/phone").fork(), net.device("alice/phone").fork(), outsider] {
        let r = foreign.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &body });
        assert!(is_rejected(&r), "{r:?}");
    }
    assert_eq!(bob_reads(&mut net, &body), "for bob only");
}

#[test]
fn a_fork_is_independent() {
    let mut net = pair();
    let m1 = to_bob(&mut net, "m1");
    let mut fork = net.device("bob/phone").fork();
    let got = fork.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &m1 }).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"m1"[..]));
    // The fork used the one-time key and the message key; the device did not.
    assert_eq!(bob_reads(&mut net, &m1), "m1");
    // And what the device does now leaves the fork alone.
    let m2 = to_bob(&mut net, "m2");
    assert_eq!(bob_reads(&mut net, &m2), "m2");
    let got = fork.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &m2 }).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"m2"[..]));
    // A fork that sends moves only its own sessions.
    let before = net.device("alice/phone").export_state().unwrap();
    let mut sender = net.device("alice/phone").fork();
    let members = common::users(ALICE_BOB);
    let recipients = net.entries("alice/phone", ALICE_BOB);
    let req = doormat_engine::EncryptRequest {
        conversation: AB,
        group: false,
        members: &members,
        recipients: &recipients,
        plaintext: b"from the fork",
    };
    sender.encrypt(&req).unwrap();
    assert_ne!(sender.export_state().unwrap(), before);
    assert_eq!(net.device("alice/phone").export_state().unwrap(), before);
    let real = to_bob(&mut net, "from the device");
    assert_eq!(bob_reads(&mut net, &real), "from the device");
}

#[test]
fn export_and_import_carry_the_whole_state() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "hi");
    net.exchange("bob/phone", "alice/phone", "hi back");
    let state = net.device("bob/phone").export_state().unwrap();
    let mut copy = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    assert_eq!(copy.export_state().unwrap(), state, "an import exports what it imported");
    let body = to_bob(&mut net, "for both");
    let got = copy.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &body }).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"for both"[..]));
    assert_eq!(bob_reads(&mut net, &body), "for both");
    // The copy can answer in the session: it is the device.
    *net.device("bob/phone") = copy;
    net.exchange("bob/phone", "alice/phone", "from the imported device");
    // Another design's state, or garbage, is refused.
    let megolm = common::Net::new("megolm").design.create_device(&addr("bob/phone"), seed_for("x")).unwrap();
    let other = megolm.export_state().unwrap();
    assert!(is_rejected(&net.design.import_device(&addr("bob/phone"), &other)));
    assert!(is_rejected(&net.design.import_device(&addr("bob/phone"), b"{\"design\":\"olm\"}")));
    assert!(is_rejected(&net.design.import_device(&addr("bob/phone"), b"\xff")));
}

#[test]
fn a_failed_decrypt_leaves_the_device_as_it_was() {
    let mut net = pair();
    let body = to_bob(&mut net, "m");
    let before = net.device("bob/phone").export_state().unwrap();
    let mut tampered = body.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x80;
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &tampered)));
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", "elsewhere", &body)));
    assert_eq!(net.device("bob/phone").export_state().unwrap(), before);
    assert_eq!(bob_reads(&mut net, &body), "m");
    assert_ne!(net.device("bob/phone").export_state().unwrap(), before);
}

#[test]
fn the_bundle_is_signed_and_one_time_keys_are_used_once() {
    let mut net = pair();
    let bundle = net.device("bob/phone").publish().unwrap();
    assert_eq!(bundle.identity.len(), 64, "Curve25519 || Ed25519");
    assert_eq!(bundle.prekey.len(), 160, "fallback key, its signature, the device keys signature");
    assert_eq!(bundle.one_time.len(), 50, "vodozemac's recommended number");
    assert!(bundle.one_time.iter().all(|k| k.len() == 96));
    net.exchange("alice/phone", "bob/phone", "uses one");
    let again = net.device("bob/phone").publish().unwrap();
    assert_eq!(again.one_time.len(), 50);
    assert!(!again.one_time.contains(&bundle.one_time[0]), "the used one is gone");
    assert_eq!(again.one_time[..49], bundle.one_time[1..]);
    // A one-time key the provider serves twice opens one session only.
    net.register("carol/phone");
    net.register("dave/phone");
    let carol = net.entries("carol/phone", &["bob", "carol"]);
    let mut dave = net.entries("dave/phone", &["bob", "dave"]);
    let reused = carol.iter().find(|e| e.device == addr("bob/phone")).unwrap().one_time.clone();
    dave.iter_mut().find(|e| e.device == addr("bob/phone")).unwrap().one_time = reused;
    let c = net.send_to("carol/phone", "bob+carol", &["bob", "carol"], &carol, "from carol").unwrap();
    let d = net.send_to("dave/phone", "bob+dave", &["bob", "dave"], &dave, "from dave").unwrap();
    net.recv("bob/phone", "carol/phone", "bob+carol", &Net::body_for(&c, "bob/phone")).unwrap();
    let r = net.recv("bob/phone", "dave/phone", "bob+dave", &Net::body_for(&d, "bob/phone"));
    assert!(is_rejected(&r), "{r:?}");
}

#[test]
fn badly_signed_directory_entries_are_refused_and_change_nothing() {
    let mut net = pair();
    let good = net.entries("alice/phone", ALICE_BOB);
    let before = net.device("alice/phone").export_state().unwrap();
    let mut cases = Vec::new();
    for (what, at) in [("fallback key", 0), ("fallback signature", 40), ("device keys signature", 100)] {
        let mut entries = good.clone();
        let e = entries.iter_mut().find(|e| e.device == addr("bob/phone")).unwrap();
        e.prekey[at] ^= 1;
        e.one_time = None;
        cases.push((what, entries));
    }
    let mut entries = good.clone();
    let e = entries.iter_mut().find(|e| e.device == addr("bob/phone")).unwrap();
    e.one_time.as_mut().unwrap()[95] ^= 1;
    cases.push(("one-time key signature", entries));
    let mut entries = good.clone();
    entries.iter_mut().find(|e| e.device == addr("bob/phone")).unwrap().identity.truncate(40);
    cases.push(("short identity", entries));
    let mut entries = good.clone();
    // Another device's keys under bob's name: the device keys signature names alice.
    let alice = net.directory[&addr("alice/phone")].clone();
    let e = entries.iter_mut().find(|e| e.device == addr("bob/phone")).unwrap();
    e.identity = alice.identity.clone();
    e.prekey = alice.prekey.clone();
    e.one_time = None;
    cases.push(("keys of another device", entries));
    for (what, entries) in cases {
        let r = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "forged");
        assert!(is_rejected(&r), "{what}: {r:?}");
        assert_eq!(net.device("alice/phone").export_state().unwrap(), before, "{what}");
    }
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &good, "genuine").unwrap();
    assert_eq!(bob_reads(&mut net, &Net::body_for(&sent, "bob/phone")), "genuine");
}

/// A changed key is shown to the sender once, in the send that first
/// serves it, which holds the message back from the new key (alice is only
/// now told); the next send goes to it on a new session. A receiver is
/// shown a sender's changed key with the message.
#[test]
fn a_changed_identity_is_shown_once_to_the_sender_and_to_the_receiver() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "hi");
    net.exchange("bob/phone", "alice/phone", "hi");
    net.register_seeded("bob/phone", seed_for("bob/phone, new key"));
    let sent = net.send("alice/phone", AB, ALICE_BOB, "after the change");
    assert_eq!(sent.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))]);
    assert_eq!(sent.envelopes, [], "held back from the key alice is only now told about");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "told, then sent");
    assert_eq!(sent.events, [], "shown once");
    let body = Net::body_for(&sent, "bob/phone");
    assert_eq!(body[1], KIND_PREKEY, "a new session for the new key");
    assert_eq!(bob_reads(&mut net, &body), "told, then sent");
    assert_eq!(net.send("alice/phone", AB, ALICE_BOB, "again").events, []);
    // The receiving side: alice re-installs.
    net.register_seeded("alice/phone", seed_for("alice/phone, new key"));
    let sent = net.send("alice/phone", AB, ALICE_BOB, "new me");
    let got = net.recv("bob/phone", "alice/phone", AB, &Net::body_for(&sent, "bob/phone")).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"new me"[..]));
    assert_eq!(got.events, [event(EventKind::IdentityChanged, "alice", Some("alice/phone"))]);
}

/// Devices added to a known user's list (a contact's or the sender's own)
/// are shown in the send that first serves them, which holds the message
/// back from them; they get messages from the next send on. A device gone
/// from the list is shown; a known user writing from a new device is shown
/// to the receiver.
#[test]
fn new_and_vanished_devices_are_shown() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "hi");
    net.register("bob/ghost");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "to all of bob");
    assert_eq!(sent.events, [event(EventKind::DeviceAdded, "bob", Some("bob/ghost"))]);
    assert_eq!(sent.envelopes.len(), 1, "the notice comes in a Sent that does not encrypt to it");
    net.assert_left_out("bob/ghost", "alice/phone", AB, &sent);
    assert_eq!(bob_reads(&mut net, &Net::body_for(&sent, "bob/phone")), "to all of bob");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "again");
    assert_eq!(sent.events, []);
    assert_eq!(sent.envelopes.len(), 2, "told, alice's next message goes to it");
    assert_eq!(net.deliver_to("bob/ghost", "alice/phone", AB, &sent), ["again"]);
    net.register("alice/ghost");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "own account");
    assert_eq!(sent.events, [event(EventKind::DeviceAdded, "alice", Some("alice/ghost"))]);
    net.assert_left_out("alice/ghost", "alice/phone", AB, &sent);
    net.directory.remove(&addr("bob/ghost"));
    let sent = net.send("alice/phone", AB, ALICE_BOB, "gone");
    assert_eq!(sent.events, [event(EventKind::DeviceRemoved, "bob", Some("bob/ghost"))]);
    assert!(!common::addressed(&sent, "bob/ghost"));
    assert_eq!(net.deliver_to("alice/ghost", "alice/phone", AB, &sent), ["gone"]);
    net.register("bob/tablet");
    let sent = net.send("bob/tablet", AB, ALICE_BOB, "from my tablet");
    let got = net.recv("alice/phone", "bob/tablet", AB, &Net::body_for(&sent, "alice/phone")).unwrap();
    assert_eq!(got.events, [event(EventKind::DeviceAdded, "bob", Some("bob/tablet"))]);
}

/// A member added is shown to the sender in the send that first lists
/// them, which holds the message back from all their devices (the other
/// members read it, with the notice); they get messages from the next send
/// on. A member removed is shown and gets nothing.
#[test]
fn member_changes_are_shown_to_sender_and_receivers() {
    let mut net = Net::new("olm");
    for d in ["alice/phone", "bob/phone", "carol/phone"] {
        net.register(d);
    }
    let sent = net.send("alice/phone", "team", &["alice", "bob"], "just us");
    assert_eq!(sent.events, []);
    net.recv("bob/phone", "alice/phone", "team", &Net::body_for(&sent, "bob/phone")).unwrap();
    let sent = net.send("alice/phone", "team", &["alice", "bob", "carol"], "welcome carol");
    assert_eq!(sent.events, [event(EventKind::MemberAdded, "carol", None)]);
    assert_eq!(sent.envelopes.len(), 1);
    net.assert_left_out("carol/phone", "alice/phone", "team", &sent);
    let got = net.recv("bob/phone", "alice/phone", "team", &Net::body_for(&sent, "bob/phone")).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"welcome carol"[..]));
    assert_eq!(got.events, [event(EventKind::MemberAdded, "carol", None)]);
    let sent = net.send("alice/phone", "team", &["alice", "bob", "carol"], "hello carol");
    assert_eq!(sent.events, []);
    assert_eq!(sent.envelopes.len(), 2);
    let got = net.recv("carol/phone", "alice/phone", "team", &Net::body_for(&sent, "carol/phone")).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"hello carol"[..]));
    assert_eq!(got.events, [], "carol sees the group for the first time");
    assert_eq!(net.deliver_to("bob/phone", "alice/phone", "team", &sent), ["hello carol"]);
    let sent = net.send("alice/phone", "team", &["alice", "carol"], "bye bob");
    assert_eq!(sent.events, [event(EventKind::MemberRemoved, "bob", None)]);
    assert_eq!(sent.envelopes.len(), 1);
}

/// A key the provider substitutes for a known device is shown in the send
/// that first serves it, which encrypts nothing to it; unverified, the
/// client trusts the new key from the next send on, so the impostor reads
/// only what followed the notice, and the real bob cannot read that.
#[test]
fn a_substituted_key_is_shown_and_the_impostor_reads_only_what_followed() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "hi");
    let (mut impostor, bundle) = net.impostor("bob/phone", "impostor");
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "held back").unwrap();
    assert_eq!(sent.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))]);
    assert_eq!(sent.envelopes, [], "nothing to the key alice is only now told about");
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "to the impostor").unwrap();
    assert_eq!(sent.events, [], "shown once, before");
    let body = Net::body_for(&sent, "bob/phone");
    let got = impostor.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &body }).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"to the impostor"[..]));
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &body)), "the real bob cannot read it");
}

/// A verified device served under another key gets nothing (and a notice
/// every time) while the rest of the message goes out; served the verified
/// key again, it is shown the change back and gets messages from the send
/// after that; the pin survives export and import. `verify` shows a
/// mismatch with what was seen, and nothing for a contact never seen.
#[test]
fn verification_pins_an_identity_both_ways() {
    let mut net = Net::new("olm");
    for d in ["alice/phone", "bob/phone", "bob/laptop"] {
        net.register(d);
    }
    net.exchange("alice/phone", "bob/phone", "hi");
    let bob = net.directory[&addr("bob/phone")].identity.clone();
    assert_eq!(net.device("alice/phone").verify(&addr("bob/phone"), &bob).unwrap(), []);
    let (mut impostor, bundle) = net.impostor("bob/phone", "impostor");
    for round in 0..2 {
        let mut entries = net.entries("alice/phone", ALICE_BOB);
        Net::substitute(&mut entries, "bob/phone", &bundle);
        let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "not for the impostor").unwrap();
        assert_eq!(sent.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))], "round {round}");
        let to: Vec<String> = sent.envelopes.iter().flat_map(|e| e.to.iter().map(ToString::to_string)).collect();
        assert_eq!(to, ["bob/laptop"], "round {round}: the rest of the message still goes out");
        assert!(sent.envelopes.iter().all(|e| impostor
            .decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &e.body })
            .is_err()));
    }
    // Served the verified key again: the client shows the change back (it
    // last saw the impostor's key) and so holds that message back from
    // bob/phone; from the next one on, bob/phone gets messages again.
    let sent = net.send("alice/phone", AB, ALICE_BOB, "changed back");
    assert_eq!(sent.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))]);
    let to: Vec<String> = sent.envelopes.iter().flat_map(|e| e.to.iter().map(ToString::to_string)).collect();
    assert_eq!(to, ["bob/laptop"]);
    net.assert_left_out("bob/phone", "alice/phone", AB, &sent);
    let sent = net.send("alice/phone", AB, ALICE_BOB, "back to normal");
    assert_eq!(sent.events, []);
    assert_eq!(sent.envelopes.len(), 2);
    assert_eq!(bob_reads(&mut net, &Net::body_for(&sent, "bob/phone")), "back to normal");
    // The pin survives export and import.
    let state = net.device("alice/phone").export_state().unwrap();
    *net.device("alice/phone") = net.design.import_device(&addr("alice/phone"), &state).unwrap();
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    assert_eq!(net.send_to("alice/phone", AB, ALICE_BOB, &entries, "after import").unwrap().envelopes.len(), 1);
    // A mismatch with what was seen is shown; a contact never seen is not.
    let mut net = pair();
    let (_, bundle) = net.impostor("bob/phone", "impostor");
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    net.send_to("alice/phone", AB, ALICE_BOB, &entries, "first contact, silently to the impostor").unwrap();
    let bob = net.directory[&addr("bob/phone")].identity.clone();
    assert_eq!(
        net.device("alice/phone").verify(&addr("bob/phone"), &bob).unwrap(),
        [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))]
    );
    assert_eq!(net.device("alice/phone").verify(&addr("carol/phone"), &[7; 64]).unwrap(), []);
}

#[test]
fn a_message_from_a_verified_contact_under_another_key_is_rejected() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "hi");
    let mut unverified = net.device("bob/phone").fork();
    let alice = net.directory[&addr("alice/phone")].identity.clone();
    assert_eq!(net.device("bob/phone").verify(&addr("alice/phone"), &alice).unwrap(), []);
    let (mut impostor, _) = net.impostor("alice/phone", "impostor");
    let members = common::users(ALICE_BOB);
    let recipients = net.entries("alice/phone", ALICE_BOB);
    let req = doormat_engine::EncryptRequest {
        conversation: AB,
        group: false,
        members: &members,
        recipients: &recipients,
        plaintext: b"trust me",
    };
    let forged = Net::body_for(&impostor.encrypt(&req).unwrap(), "bob/phone");
    let got = unverified.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &forged });
    assert_eq!(got.unwrap().events, [event(EventKind::IdentityChanged, "alice", Some("alice/phone"))]);
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &forged)));
    net.exchange("alice/phone", "bob/phone", "the real alice still gets through");
}

#[test]
fn a_seized_copy_reads_nothing_earlier_and_falls_out_after_a_round_trip() {
    let mut net = pair();
    let before: Vec<Vec<u8>> = (0..3).map(|i| to_bob(&mut net, &format!("before {i}"))).collect();
    for (i, b) in before.iter().enumerate() {
        assert_eq!(bob_reads(&mut net, b), format!("before {i}"));
    }
    net.exchange("bob/phone", "alice/phone", "reply");
    let state = net.device("bob/phone").export_state().unwrap();
    let mut copy = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    let mut copy_reads = |body: &[u8]| {
        copy.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body })
            .is_ok_and(|r| r.plaintext.is_some())
    };
    for b in &before {
        assert!(!copy_reads(b), "forward secrecy: the copy reads nothing bob had received");
    }
    // Alice's chain at the seizure is known to the copy.
    let same_chain = to_bob(&mut net, "same chain");
    assert!(copy_reads(&same_chain));
    assert_eq!(bob_reads(&mut net, &same_chain), "same chain");
    // Bob answers with a new ratchet key the copy does not have; alice's
    // next chain is derived from it.
    let reply = to_alice(&mut net, "reply");
    assert_eq!(alice_reads(&mut net, &reply), "reply");
    let healed = to_bob(&mut net, "healed");
    assert!(!copy_reads(&healed), "post-compromise: the copy is out after one round trip");
    assert_eq!(bob_reads(&mut net, &healed), "healed");
}

#[test]
fn entropy_is_accepted_and_ignored() {
    let mut net = pair();
    let before = net.device("alice/phone").export_state().unwrap();
    net.device("alice/phone").add_entropy(&[9; 32]);
    assert_eq!(net.device("alice/phone").export_state().unwrap(), before);
    net.exchange("alice/phone", "bob/phone", "still works");
}

/// The Olm specification's second example attack (unknown key-share): Eve
/// publishes Bob's Curve25519 key as her own; what Alice encrypts to "Eve"
/// opens on Bob's device, which must see it was meant for someone else.
#[test]
fn a_message_meant_for_another_device_under_the_same_key_is_refused() {
    use ed25519_dalek::{Signer, SigningKey};
    let mut net = pair();
    let bob = net.directory[&addr("bob/phone")].clone();
    let eve = SigningKey::from_bytes(&[42; 32]);
    let identity = [&bob.identity[..32], eve.verifying_key().as_bytes()].concat();
    let fallback = &bob.prekey[..32];
    let mut device_keys = b"doormat vodozemac v1 device keys".to_vec();
    for field in [&b"eve"[..], b"phone", &identity] {
        device_keys.extend((field.len() as u32).to_be_bytes());
        device_keys.extend(field);
    }
    let fallback_signature = eve.sign(&[&b"doormat vodozemac v1 fallback key"[..], fallback].concat());
    let prekey = [fallback, &fallback_signature.to_bytes(), &eve.sign(&device_keys).to_bytes()].concat();
    let entry = doormat_engine::DirectoryEntry { device: addr("eve/phone"), identity, prekey, one_time: None };
    let sent = net.send_to("alice/phone", "alice+eve", &["alice", "eve"], &[entry], "for eve").unwrap();
    let body = Net::body_for(&sent, "eve/phone");
    let r = net.recv("bob/phone", "alice/phone", "alice+eve", &body);
    assert!(is_rejected(&r), "bob accepted a message alice meant for eve: {r:?}");
    // The refusal is the client's binding, not a missing key: bob's keys
    // open it, and forensic open says so.
    let env = InEnvelope { from: &addr("alice/phone"), conversation: "alice+eve", body: &body };
    assert_eq!(net.device("bob/phone").fork().forensic_open(&env).unwrap(), [b"for eve".to_vec()]);
    net.exchange("alice/phone", "bob/phone", "bob is fine");
}

// ---- forensic open: what the keys a state holds recover, with no client courtesy ----

/// What `device` forensically opens of `body` (as alice's phone sent it in
/// `alice+bob`): the texts, none when it is refused.
fn forensic(device: &mut dyn doormat_engine::Device, body: &[u8]) -> Vec<String> {
    let env = InEnvelope { from: &addr("alice/phone"), conversation: AB, body };
    match device.forensic_open(&env) {
        Ok(texts) => texts.into_iter().map(|t| String::from_utf8(t).unwrap()).collect(),
        Err(ImplError::Rejected(_)) => Vec::new(),
        Err(e) => panic!("forensic open failed: {e}"),
    }
}

/// Bob's phone reads m1 and m2 (pre-key messages on a one-time key), m3 is
/// held by the provider; then the state is seized. The copy's keys recover
/// nothing bob read: vodozemac deleted the one-time key and the message
/// keys. m3's key is still in the chain (a message not received yet), and
/// so is what alice sends next on the same chain.
#[test]
fn forensic_open_of_a_seized_state_recovers_nothing_it_had_read() {
    let mut net = pair();
    let m1 = to_bob(&mut net, "m1");
    let m2 = to_bob(&mut net, "m2");
    let m3 = to_bob(&mut net, "m3");
    assert_eq!(m1[1], KIND_PREKEY);
    assert_eq!(bob_reads(&mut net, &m1), "m1");
    assert_eq!(bob_reads(&mut net, &m2), "m2");
    let state = net.device("bob/phone").export_state().unwrap();
    let mut copy = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    assert_eq!(forensic(copy.fork().as_mut(), &m1), Vec::<String>::new(), "m1's keys are gone");
    assert_eq!(forensic(copy.fork().as_mut(), &m2), Vec::<String>::new(), "m2's keys are gone");
    assert_eq!(forensic(copy.fork().as_mut(), &m3), ["m3"], "m3 was never received: its key is held");
    let m4 = to_bob(&mut net, "m4");
    assert_eq!(forensic(copy.as_mut(), &m4), ["m4"]);
    // The same holds after the conversation moved to normal messages.
    assert_eq!(bob_reads(&mut net, &m4), "m4");
    net.exchange("bob/phone", "alice/phone", "reply");
    let normal = to_bob(&mut net, "normal");
    assert_eq!(normal[1], KIND_NORMAL);
    assert_eq!(bob_reads(&mut net, &normal), "normal");
    let later = net.device("bob/phone").export_state().unwrap();
    let copy = net.design.import_device(&addr("bob/phone"), &later).unwrap();
    for (body, text) in [(&m1, "m1"), (&m4, "m4"), (&normal, "normal")] {
        assert_eq!(forensic(copy.fork().as_mut(), body), Vec::<String>::new(), "{text}");
    }
}

/// A replay that plain decryption refuses: on a one-time key, forensic open
/// refuses it too (the key is gone); on the fallback key, which vodozemac
/// keeps, it does not: only the client's memory of session ids refused it.
#[test]
fn forensic_open_of_a_replay_depends_on_the_key_not_on_the_replay_memory() {
    let mut net = pair();
    let once = to_bob(&mut net, "on a one-time key");
    assert_eq!(bob_reads(&mut net, &once), "on a one-time key");
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &once)));
    assert_eq!(forensic(net.device("bob/phone").fork().as_mut(), &once), Vec::<String>::new());

    let mut net = pair();
    net.serve_one_time = false;
    let entries = net.entries("alice/phone", ALICE_BOB);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "on the fallback key").unwrap();
    let fallback = Net::body_for(&sent, "bob/phone");
    assert_eq!(bob_reads(&mut net, &fallback), "on the fallback key");
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &fallback)), "plain decryption: a replay");
    let state = net.device("bob/phone").export_state().unwrap();
    let mut copy = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    assert_eq!(forensic(copy.as_mut(), &fallback), ["on the fallback key"], "the fallback key is still held");
}

/// Forensic open skips the client's checks of sender and conversation: what
/// the provider says carol sent in another conversation, plain decryption
/// refuses; bob's keys open it all the same. Carol's keys do not.
#[test]
fn forensic_open_skips_the_sender_and_conversation_checks_but_not_the_keys() {
    let mut net = Net::new("olm");
    for d in ["alice/phone", "bob/phone", "carol/phone"] {
        net.register(d);
    }
    let body = to_bob(&mut net, "for bob");
    let from_carol = InEnvelope { from: &addr("carol/phone"), conversation: "elsewhere", body: &body };
    assert!(is_rejected(&net.device("bob/phone").fork().decrypt(&from_carol)));
    let got = net.device("bob/phone").fork().forensic_open(&from_carol).unwrap();
    assert_eq!(got, [b"for bob".to_vec()]);
    // Carol's keys open nothing of it.
    assert_eq!(forensic(net.device("carol/phone").fork().as_mut(), &body), Vec::<String>::new());
}

/// A twin: a fresh device at bob's address with another seed (vodozemac:
/// another account) holds none of bob's keys, and opens nothing addressed
/// to him, pre-key or normal.
#[test]
fn a_twin_at_the_same_address_cannot_forensically_open_the_devices_envelopes() {
    let mut net = pair();
    let prekey = to_bob(&mut net, "first");
    let unread = to_bob(&mut net, "unread");
    assert_eq!(bob_reads(&mut net, &prekey), "first");
    net.exchange("bob/phone", "alice/phone", "reply");
    let normal = to_bob(&mut net, "normal");
    let mut twin = net.design.create_device(&addr("bob/phone"), seed_for("bob/phone, twin")).unwrap();
    twin.publish().unwrap();
    for (body, text) in [(&prekey, "first"), (&unread, "unread"), (&normal, "normal")] {
        assert_eq!(forensic(twin.as_mut(), body), Vec::<String>::new(), "{text}");
    }
    // The real device's keys do open what it has not read yet.
    assert_eq!(forensic(net.device("bob/phone").fork().as_mut(), &unread), ["unread"]);
    assert_eq!(forensic(net.device("bob/phone").fork().as_mut(), &normal), ["normal"]);
}
