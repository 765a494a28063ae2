//! The `ratchet` design through the adapter traits only: delivery in every
//! order, integrity (tampering, truncation, replay, misrouting), isolation of
//! forks and non-recipients, state export, determinism, X3DH edge cases,
//! the change notices a client shows, safety-number verification and
//! healing after a state seizure.

#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, seed_for, Net};
use doormat_engine::{EncryptRequest, Event, EventKind, ImplError, InEnvelope};
use doormat_formats::UserId;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

const AB: &str = "alice+bob";
const ALICE_BOB: &[&str] = &["alice", "bob"];
/// Second byte of a body: 1 for an ordinary message, 2 for a prekey message.
const KIND_MESSAGE: u8 = 1;
const KIND_PREKEY: u8 = 2;

fn pair() -> Net {
    let mut net = Net::new("ratchet");
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

/// Bob's phone reads a body from alice's phone; the text.
fn bob_reads(net: &mut Net, body: &[u8]) -> String {
    let got = net.recv("bob/phone", "alice/phone", AB, body).unwrap();
    assert_eq!(got.sender, Some(addr("alice/phone")));
    String::from_utf8(got.plaintext.unwrap()).unwrap()
}

fn event(kind: EventKind, user: &str, device: Option<&str>) -> Event {
    Event { kind, user: UserId::from(user), device: device.map(addr) }
}

/// Every one-bit change and every truncation of `body` is refused by a fork
/// of `to`; `to` itself then still reads it.
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
    let mut longer = body.to_vec();
    longer.push(0);
    assert!(is_rejected(&try_on_fork(net, &longer)), "an appended byte was accepted");
    let got = net.recv(to, from, AB, body).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(text.as_bytes()));
}

#[test]
fn one_to_one_both_ways_over_many_messages() {
    let mut net = pair();
    for round in 0..40 {
        for i in 0..=round % 4 {
            net.exchange("alice/phone", "bob/phone", &format!("a{round}.{i}"));
        }
        for i in 0..=round % 3 {
            net.exchange("bob/phone", "alice/phone", &format!("b{round}.{i}"));
        }
    }
}

#[test]
fn prekey_data_is_sent_until_the_peer_replies() {
    let mut net = pair();
    let first = to_bob(&mut net, "1");
    let second = to_bob(&mut net, "2");
    assert_eq!((first[0], first[1], second[1]), (1, KIND_PREKEY, KIND_PREKEY));
    assert_eq!(bob_reads(&mut net, &first), "1");
    assert_eq!(bob_reads(&mut net, &second), "2");
    net.exchange("bob/phone", "alice/phone", "reply");
    let third = to_bob(&mut net, "3");
    assert_eq!(third[1], KIND_MESSAGE);
    assert!(third.len() < first.len(), "an ordinary message carries no X3DH data");
    assert_eq!(bob_reads(&mut net, &third), "3");
}

#[test]
fn fan_out_is_one_envelope_per_recipient_device_never_to_self() {
    let mut net = Net::new("ratchet");
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
    assert_ne!(sent.envelopes[0].body, sent.envelopes[1].body);
    for d in ["alice/laptop", "bob/phone", "bob/tablet"] {
        let got = net.recv(d, "alice/phone", AB, &Net::body_for(&sent, d)).unwrap();
        assert_eq!(got.plaintext.as_deref(), Some(&b"hello all"[..]), "{d}");
        assert_eq!(got.sender, Some(addr("alice/phone")));
        assert_eq!(got.events, [], "{d}");
    }
    // Every device can answer, and the answers reach everyone.
    for from in ["bob/tablet", "alice/laptop"] {
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
fn out_of_order_and_delayed_delivery() {
    let mut net = pair();
    let first: Vec<Vec<u8>> = (0..10).map(|i| to_bob(&mut net, &format!("m{i}"))).collect();
    for i in [7, 2, 9, 0, 1, 8, 3, 6, 5] {
        assert_eq!(bob_reads(&mut net, &first[i]), format!("m{i}"));
    }
    // Bob answers, so Alice's next messages start a new chain; m4 stays late.
    net.exchange("bob/phone", "alice/phone", "reply");
    let n1 = to_bob(&mut net, "n1");
    let n2 = to_bob(&mut net, "n2");
    assert_eq!(bob_reads(&mut net, &n2), "n2");
    assert_eq!(bob_reads(&mut net, &first[4]), "m4");
    assert_eq!(bob_reads(&mut net, &n1), "n1");
    // Two chains later, a message from the first exchange of a new chain.
    net.exchange("bob/phone", "alice/phone", "again");
    let p1 = to_bob(&mut net, "p1");
    net.exchange("bob/phone", "alice/phone", "and again");
    let q1 = to_bob(&mut net, "q1");
    assert_eq!(bob_reads(&mut net, &q1), "q1");
    assert_eq!(bob_reads(&mut net, &p1), "p1");
}

#[test]
fn a_replay_is_rejected() {
    let mut net = pair();
    let prekey = to_bob(&mut net, "once");
    assert_eq!(bob_reads(&mut net, &prekey), "once");
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &prekey)));
    net.exchange("bob/phone", "alice/phone", "reply");
    let ordinary = to_bob(&mut net, "twice?");
    assert_eq!(ordinary[1], KIND_MESSAGE);
    assert_eq!(bob_reads(&mut net, &ordinary), "twice?");
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &ordinary)));
    // A skipped key is used once too.
    let late = to_bob(&mut net, "late");
    let next = to_bob(&mut net, "next");
    assert_eq!(bob_reads(&mut net, &next), "next");
    assert_eq!(bob_reads(&mut net, &late), "late");
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &late)));
    // And the conversation goes on.
    net.exchange("alice/phone", "bob/phone", "still fine");
}

#[test]
fn a_prekey_message_cannot_be_replayed_after_its_session_is_dropped() {
    let mut net = pair();
    net.serve_one_time = false;
    let prekey = to_bob(&mut net, "old");
    assert_eq!(bob_reads(&mut net, &prekey), "old");
    // Alice re-installs five times; bob keeps only the newest sessions.
    for i in 0..6 {
        net.register_seeded("alice/phone", seed_for(&format!("alice/phone#{i}")));
        net.exchange("alice/phone", "bob/phone", "new install");
    }
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &prekey)));
}

#[test]
fn flipped_bits_and_truncations_are_rejected() {
    let mut net = pair();
    let prekey = to_bob(&mut net, "first");
    assert_tamper_proof(&mut net, "bob/phone", "alice/phone", &prekey, "first");
    // A second prekey message opens in the existing session: still all bytes count.
    let prekey_again = to_bob(&mut net, "second");
    assert_eq!(prekey_again[1], KIND_PREKEY);
    assert_tamper_proof(&mut net, "bob/phone", "alice/phone", &prekey_again, "second");
    net.exchange("bob/phone", "alice/phone", "reply");
    let ordinary = to_bob(&mut net, "third");
    assert_eq!(ordinary[1], KIND_MESSAGE);
    assert_tamper_proof(&mut net, "bob/phone", "alice/phone", &ordinary, "third");
}

#[test]
fn garbage_is_rejected_without_panicking() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "hi");
    net.exchange("bob/phone", "alice/phone", "hi");
    let valid = to_bob(&mut net, "valid");
    let mut rng = ChaCha20Rng::from_seed([42; 32]);
    for round in 0..2000 {
        let mut body = if round % 2 == 0 {
            let mut b = vec![0u8; (rng.next_u32() % 300) as usize];
            rng.fill_bytes(&mut b);
            b
        } else {
            valid.clone()
        };
        // Keep a plausible version and kind half of the time, so parsing goes deep.
        if round % 4 == 0 && body.len() > 2 {
            body[0] = 1;
            body[1] = 1 + (rng.next_u32() % 2) as u8;
        }
        for _ in 0..=rng.next_u32() % 4 {
            if !body.is_empty() {
                let i = rng.next_u32() as usize % body.len();
                body[i] = rng.next_u32() as u8;
            }
        }
        if body == valid {
            continue;
        }
        let r = net.device("bob/phone").fork().decrypt(&InEnvelope {
            from: &addr("alice/phone"),
            conversation: AB,
            body: &body,
        });
        assert!(is_rejected(&r), "round {round}: {r:?}");
    }
    assert_eq!(bob_reads(&mut net, &valid), "valid");
}

#[test]
fn a_fork_decrypting_leaves_the_original_untouched() {
    let mut net = pair();
    let bodies: Vec<Vec<u8>> = (0..3).map(|i| to_bob(&mut net, &format!("m{i}"))).collect();
    let mut fork = net.device("bob/phone").fork();
    for (i, body) in bodies.iter().enumerate().rev() {
        let got = fork.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body }).unwrap();
        assert_eq!(got.plaintext.unwrap(), format!("m{i}").as_bytes());
    }
    // The fork used the one-time prekey and the message keys; the original did not.
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(bob_reads(&mut net, body), format!("m{i}"));
    }
    net.exchange("bob/phone", "alice/phone", "reply");
}

#[test]
fn only_the_addressed_device_can_decrypt() {
    let mut net = Net::new("ratchet");
    for d in ["alice/phone", "bob/phone", "bob/laptop", "carol/phone"] {
        net.register(d);
    }
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

#[test]
fn the_sender_is_bound_and_misrouting_is_rejected() {
    let mut net = Net::new("ratchet");
    for d in ["alice/phone", "bob/phone", "carol/phone"] {
        net.register(d);
    }
    let prekey = to_bob(&mut net, "from alice");
    assert!(is_rejected(&net.recv("bob/phone", "carol/phone", AB, &prekey)), "claimed sender differs");
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", "bob+carol", &prekey)), "wrong conversation");
    assert_eq!(bob_reads(&mut net, &prekey), "from alice");
    net.exchange("bob/phone", "alice/phone", "reply");
    let ordinary = to_bob(&mut net, "ordinary");
    assert!(is_rejected(&net.recv("bob/phone", "carol/phone", AB, &ordinary)));
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", "bob+carol", &ordinary)));
    assert_eq!(bob_reads(&mut net, &ordinary), "ordinary");
}

#[test]
fn export_then_import_continues_the_conversation() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "before");
    net.exchange("bob/phone", "alice/phone", "before");
    let in_flight = to_bob(&mut net, "in flight");
    let state = net.device("bob/phone").export_state().unwrap();
    let restored = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    let mut original = std::mem::replace(net.device("bob/phone"), restored);
    assert_eq!(bob_reads(&mut net, &in_flight), "in flight");
    for i in 0..5 {
        net.exchange("bob/phone", "alice/phone", &format!("after {i}"));
        net.exchange("alice/phone", "bob/phone", &format!("after {i}"));
    }
    // The restored device behaves byte for byte like the original.
    let mut twin = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    let members = common::users(ALICE_BOB);
    let recipients = net.entries("bob/phone", ALICE_BOB);
    let req = doormat_engine::EncryptRequest {
        conversation: AB,
        group: false,
        members: &members,
        recipients: &recipients,
        plaintext: b"same",
    };
    assert_eq!(original.encrypt(&req).unwrap(), twin.encrypt(&req).unwrap());
    assert!(is_rejected(&net.design.import_device(&addr("bob/phone"), b"{not state")));
    let relay_state = {
        let relay = doormat_designs::builtin("plaintext-relay").unwrap();
        relay.create_device(&addr("bob/phone"), [1; 32]).unwrap().export_state().unwrap()
    };
    assert!(is_rejected(&net.design.import_device(&addr("bob/phone"), &relay_state)));
}

#[test]
fn simultaneous_initiation_still_delivers_everything() {
    let mut net = pair();
    let a1 = to_bob(&mut net, "a1");
    let a2 = to_bob(&mut net, "a2");
    let b1 = Net::body_for(&net.send("bob/phone", AB, ALICE_BOB, "b1"), "alice/phone");
    let b2 = Net::body_for(&net.send("bob/phone", AB, ALICE_BOB, "b2"), "alice/phone");
    assert_eq!((a1[1], b1[1]), (KIND_PREKEY, KIND_PREKEY));
    let alice_reads = |net: &mut Net, body: &[u8]| {
        String::from_utf8(net.recv("alice/phone", "bob/phone", AB, body).unwrap().plaintext.unwrap()).unwrap()
    };
    assert_eq!(alice_reads(&mut net, &b1), "b1");
    assert_eq!(bob_reads(&mut net, &a1), "a1");
    // Each side now sends in the session the other started.
    let a3 = to_bob(&mut net, "a3");
    let b3 = Net::body_for(&net.send("bob/phone", AB, ALICE_BOB, "b3"), "alice/phone");
    assert_eq!(bob_reads(&mut net, &a3), "a3");
    assert_eq!(alice_reads(&mut net, &b2), "b2");
    assert_eq!(bob_reads(&mut net, &a2), "a2");
    assert_eq!(alice_reads(&mut net, &b3), "b3");
    for i in 0..5 {
        net.exchange("alice/phone", "bob/phone", &format!("a{i}"));
        net.exchange("bob/phone", "alice/phone", &format!("b{i}"));
    }
    assert_eq!(to_bob(&mut net, "settled")[1], KIND_MESSAGE);
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
fn a_one_time_prekey_works_once_and_none_is_fine() {
    let mut net = Net::new("ratchet");
    for d in ["bob/phone", "carol/phone", "dave/phone"] {
        net.register(d);
    }
    let carol = net.entries("carol/phone", &["bob", "carol"]);
    assert!(carol.iter().any(|e| e.device == addr("bob/phone") && e.one_time.is_some()));
    let mut dave = net.entries("dave/phone", &["bob", "dave"]);
    // A provider that serves the same one-time prekey twice.
    let reused = carol.iter().find(|e| e.device == addr("bob/phone")).unwrap().one_time.clone();
    dave.iter_mut().find(|e| e.device == addr("bob/phone")).unwrap().one_time = reused;
    let c = net.send_to("carol/phone", "bob+carol", &["bob", "carol"], &carol, "from carol").unwrap();
    let d = net.send_to("dave/phone", "bob+dave", &["bob", "dave"], &dave, "from dave").unwrap();
    net.recv("bob/phone", "carol/phone", "bob+carol", &Net::body_for(&c, "bob/phone")).unwrap();
    let r = net.recv("bob/phone", "dave/phone", "bob+dave", &Net::body_for(&d, "bob/phone"));
    assert!(is_rejected(&r), "{r:?}");
    // Without any one-time prekey, X3DH still runs.
    net.serve_one_time = false;
    net.register("erin/phone");
    let entries = net.entries("erin/phone", &["bob", "erin"]);
    assert!(entries.iter().all(|e| e.one_time.is_none()));
    let e = net.send_to("erin/phone", "bob+erin", &["bob", "erin"], &entries, "from erin").unwrap();
    let got = net.recv("bob/phone", "erin/phone", "bob+erin", &Net::body_for(&e, "bob/phone")).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"from erin"[..]));
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

/// A changed key is shown to the sender once, in the send that first
/// serves it; that send holds the message back from the new key (alice is
/// only now told), and the next one goes to it, on a new session.
#[test]
fn a_changed_identity_is_shown_once_to_the_sender() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "hi");
    net.exchange("bob/phone", "alice/phone", "hi");
    // The provider serves a different key for bob/phone (or bob re-installed).
    net.register_seeded("bob/phone", seed_for("bob/phone, new key"));
    let sent = net.send("alice/phone", AB, ALICE_BOB, "after the change");
    assert_eq!(sent.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))]);
    assert_eq!(sent.envelopes, [], "held back from the key alice is only now told about");
    net.assert_left_out("bob/phone", "alice/phone", AB, &sent);
    let sent = net.send("alice/phone", AB, ALICE_BOB, "told, then sent");
    assert_eq!(sent.events, [], "shown once");
    assert_eq!(Net::body_for(&sent, "bob/phone")[1], KIND_PREKEY, "a new session for the new key");
    assert_eq!(bob_reads(&mut net, &Net::body_for(&sent, "bob/phone")), "told, then sent");
    assert_eq!(net.send("alice/phone", AB, ALICE_BOB, "again").events, []);
}

#[test]
fn a_changed_identity_is_shown_to_the_receiver() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "hi");
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
    // A device of a contact the sender knows: shown in the `Sent` that first
    // serves it, and left out of that message.
    net.register("bob/ghost");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "to all of bob");
    assert_eq!(sent.events, [event(EventKind::DeviceAdded, "bob", Some("bob/ghost"))]);
    assert_eq!(sent.envelopes.len(), 1);
    net.assert_left_out("bob/ghost", "alice/phone", AB, &sent);
    assert_eq!(bob_reads(&mut net, &Net::body_for(&sent, "bob/phone")), "to all of bob");
    // Told, alice's next message goes to it.
    let sent = net.send("alice/phone", AB, ALICE_BOB, "again");
    assert_eq!(sent.events, []);
    assert_eq!(sent.envelopes.len(), 2);
    assert_eq!(net.deliver_to("bob/ghost", "alice/phone", AB, &sent), ["again"]);
    // A device on the sender's own account.
    net.register("alice/ghost");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "own account");
    assert_eq!(sent.events, [event(EventKind::DeviceAdded, "alice", Some("alice/ghost"))]);
    net.assert_left_out("alice/ghost", "alice/phone", AB, &sent);
    // A device that vanished from the directory; alice/ghost, shown before,
    // now gets the message.
    net.directory.remove(&addr("bob/ghost"));
    let sent = net.send("alice/phone", AB, ALICE_BOB, "gone");
    assert_eq!(sent.events, [event(EventKind::DeviceRemoved, "bob", Some("bob/ghost"))]);
    assert!(!common::addressed(&sent, "bob/ghost"));
    assert_eq!(net.deliver_to("alice/ghost", "alice/phone", AB, &sent), ["gone"]);
    // On the receiving side: a known user writes from a device never seen.
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
    let mut net = Net::new("ratchet");
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
    let got = net.recv("carol/phone", "alice/phone", "team", &Net::body_for(&sent, "carol/phone")).unwrap();
    assert_eq!(got.events, [event(EventKind::MemberRemoved, "bob", None)]);
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
    assert_eq!(net.device("bob/phone").export_state().unwrap(), before);
    assert_eq!(bob_reads(&mut net, &body), "m");
    assert_ne!(net.device("bob/phone").export_state().unwrap(), before);
}

/// A key the provider substitutes for a known device is shown in the send
/// that first serves it, and that send encrypts nothing to it; unverified,
/// the client trusts the new key from the next send on (after the notice),
/// so the impostor reads that one and the real bob does not.
#[test]
fn a_substituted_key_is_shown_before_anything_is_encrypted_to_it() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "hi");
    let (mut impostor, bundle) = net.impostor("bob/phone", "impostor");
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "held back").unwrap();
    assert_eq!(sent.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))]);
    assert_eq!(sent.envelopes, [], "nothing to the key alice is only now told about");
    assert_eq!(common::fork_reads(impostor.as_ref(), "alice/phone", AB, &sent), Vec::<Vec<u8>>::new());
    // Unverified, the client trusts the new key (and said so): the impostor reads what follows.
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "to the impostor").unwrap();
    assert_eq!(sent.events, [], "shown once, before");
    let body = Net::body_for(&sent, "bob/phone");
    let got = impostor.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &body }).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"to the impostor"[..]));
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &body)), "the real bob cannot read it");
}

#[test]
fn verify_shows_a_mismatch_and_accepts_a_match() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "hi");
    let bob = net.directory[&addr("bob/phone")].identity.clone();
    assert_eq!(net.device("alice/phone").verify(&addr("bob/phone"), &bob).unwrap(), []);
    // Alice has seen an impostor's key for bob/phone; the real one is compared.
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
    // Never seen: nothing to compare with, nothing shown.
    assert_eq!(net.device("alice/phone").verify(&addr("carol/phone"), &[7; 64]).unwrap(), []);
}

/// A verified device served under another key gets nothing (and a notice
/// every time) while the rest of the message goes out; served the verified
/// key again, it is shown the change back and gets messages from the send
/// after that; the pin survives export and import.
#[test]
fn a_verified_contact_is_not_encrypted_to_under_another_key() {
    let mut net = Net::new("ratchet");
    for d in ["alice/phone", "bob/phone", "bob/laptop"] {
        net.register(d);
    }
    net.exchange("alice/phone", "bob/phone", "hi");
    let bob = net.directory[&addr("bob/phone")].identity.clone();
    net.device("alice/phone").verify(&addr("bob/phone"), &bob).unwrap();
    let (mut impostor, bundle) = net.impostor("bob/phone", "impostor");
    for round in 0..2 {
        let mut entries = net.entries("alice/phone", ALICE_BOB);
        Net::substitute(&mut entries, "bob/phone", &bundle);
        let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "not for the impostor").unwrap();
        assert_eq!(sent.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))], "round {round}");
        let to: Vec<String> = sent.envelopes.iter().flat_map(|e| e.to.iter().map(ToString::to_string)).collect();
        assert_eq!(to, ["bob/laptop"], "round {round}: the rest of the message still goes out");
        let got = net.recv("bob/laptop", "alice/phone", AB, &Net::body_for(&sent, "bob/laptop")).unwrap();
        assert_eq!(got.plaintext.as_deref(), Some(&b"not for the impostor"[..]));
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
    net.deliver_to("bob/laptop", "alice/phone", AB, &sent);
    let sent = net.send("alice/phone", AB, ALICE_BOB, "back to normal");
    assert_eq!(sent.events, []);
    assert_eq!(sent.envelopes.len(), 2);
    assert_eq!(bob_reads(&mut net, &Net::body_for(&sent, "bob/phone")), "back to normal");
    // The pin survives export and import.
    let state = net.device("alice/phone").export_state().unwrap();
    *net.device("alice/phone") = net.design.import_device(&addr("alice/phone"), &state).unwrap();
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "after import").unwrap();
    assert_eq!(sent.envelopes.len(), 1);
}

#[test]
fn a_message_from_a_verified_contact_under_another_key_is_rejected() {
    let mut net = pair();
    net.exchange("alice/phone", "bob/phone", "hi");
    let mut unverified = net.device("bob/phone").fork();
    let alice = net.directory[&addr("alice/phone")].identity.clone();
    assert_eq!(net.device("bob/phone").verify(&addr("alice/phone"), &alice).unwrap(), []);
    // An impostor at alice/phone's address writes to bob with its own key.
    let (mut impostor, _) = net.impostor("alice/phone", "impostor");
    let members = common::users(ALICE_BOB);
    let recipients = net.entries("alice/phone", ALICE_BOB);
    let req = EncryptRequest {
        conversation: AB,
        group: false,
        members: &members,
        recipients: &recipients,
        plaintext: b"trust me",
    };
    let forged = Net::body_for(&impostor.encrypt(&req).unwrap(), "bob/phone");
    assert_eq!(forged[1], KIND_PREKEY);
    // Control: a bob who never verified accepts it, with a notice.
    let got = unverified.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &forged });
    assert_eq!(got.unwrap().events, [event(EventKind::IdentityChanged, "alice", Some("alice/phone"))]);
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &forged)));
    net.exchange("alice/phone", "bob/phone", "the real alice still gets through");
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
        let members = common::users(ALICE_BOB);
        let recipients = net.entries("alice/phone", ALICE_BOB);
        let req = EncryptRequest {
            conversation: AB,
            group: false,
            members: &members,
            recipients: &recipients,
            plaintext: b"x",
        };
        let sent = net.device("alice/phone").encrypt(&req).unwrap();
        let mut twin = net.design.import_device(&addr("alice/phone"), &state).unwrap();
        assert_eq!(twin.encrypt(&req).unwrap(), sent, "the export carries the reseeded generator");
        Net::body_for(&sent, "bob/phone")
    };
    assert_eq!(first_send(Some([1; 32])), first_send(Some([1; 32])));
    assert_ne!(first_send(Some([1; 32])), first_send(Some([2; 32])));
    assert_ne!(first_send(Some([1; 32])), first_send(None));
}
