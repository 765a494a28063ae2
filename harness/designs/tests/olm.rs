//! What only the `olm` design (vodozemac Olm) does, through the adapter
//! traits only: pre-key messages until a reply, the fallback key, signed
//! bundles and served keys checked, the unknown key-share attack, healing
//! after a state seizure, and forensic open. What every design does
//! (delivery in every order, integrity, forks, export, notices,
//! verification) is tested once per design in `tests/suite.rs`.

#![cfg(feature = "olm")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    addr, alice_reads, bob_reads, forensic_texts, is_rejected, seed_for, to_alice, to_bob, Net, AB, ALICE_BOB,
};
use doormat_engine::InEnvelope;

/// Second byte: vodozemac's Olm message types.
const KIND_PREKEY: u8 = 0;
const KIND_NORMAL: u8 = 1;

fn pair() -> Net {
    common::pair("olm")
}

#[test]
fn the_bundle_holds_fifty_one_time_keys_and_each_is_used_once() {
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
    let entry =
        doormat_engine::DirectoryEntry { device: addr("eve/phone"), identity, prekey, one_time: None, proof: None };
    let sent = net.send_to("alice/phone", "alice+eve", &["alice", "eve"], &[entry], "for eve").unwrap();
    let body = Net::body_for(&sent, "eve/phone");
    let r = net.recv("bob/phone", "alice/phone", "alice+eve", &body);
    assert!(is_rejected(&r), "bob accepted a message alice meant for eve: {r:?}");
    // The refusal is the client's binding, not a missing key: bob's keys
    // open it, and forensic open says so.
    let env = InEnvelope { from: &addr("alice/phone"), conversation: "alice+eve", body: &body };
    assert_eq!(net.device("bob/phone").fork().unwrap().forensic_open(&env).unwrap(), [b"for eve".to_vec()]);
    net.exchange("alice/phone", "bob/phone", "bob is fine");
}

// ---- forensic open: what the keys a state holds recover, with no client courtesy ----

/// What `device` forensically opens of `body`, as alice's phone sent it in
/// `alice+bob`.
fn forensic(device: &mut dyn doormat_engine::Device, body: &[u8]) -> Vec<String> {
    forensic_texts(device, "alice/phone", AB, body)
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
    assert_eq!(forensic(copy.fork().unwrap().as_mut(), &m1), Vec::<String>::new(), "m1's keys are gone");
    assert_eq!(forensic(copy.fork().unwrap().as_mut(), &m2), Vec::<String>::new(), "m2's keys are gone");
    assert_eq!(forensic(copy.fork().unwrap().as_mut(), &m3), ["m3"], "m3 was never received: its key is held");
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
        assert_eq!(forensic(copy.fork().unwrap().as_mut(), body), Vec::<String>::new(), "{text}");
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
    assert_eq!(forensic(net.device("bob/phone").fork().unwrap().as_mut(), &once), Vec::<String>::new());

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
    let mut net = Net::registered("olm", &["alice/phone", "bob/phone", "carol/phone"]);
    let body = to_bob(&mut net, "for bob");
    let from_carol = InEnvelope { from: &addr("carol/phone"), conversation: "elsewhere", body: &body };
    assert!(is_rejected(&net.device("bob/phone").fork().unwrap().decrypt(&from_carol)));
    let got = net.device("bob/phone").fork().unwrap().forensic_open(&from_carol).unwrap();
    assert_eq!(got, [b"for bob".to_vec()]);
    // Carol's keys open nothing of it.
    assert_eq!(forensic(net.device("carol/phone").fork().unwrap().as_mut(), &body), Vec::<String>::new());
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
    assert_eq!(forensic(net.device("bob/phone").fork().unwrap().as_mut(), &unread), ["unread"]);
    assert_eq!(forensic(net.device("bob/phone").fork().unwrap().as_mut(), &normal), ["normal"]);
}
