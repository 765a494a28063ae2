//! The `megolm` design (vodozemac Megolm, room keys over Olm) through the
//! adapter traits only: room keys first, then one ciphertext for many
//! devices; rotation when a device leaves and after 100 messages; devices
//! that join late read nothing earlier; the sender binding; notices and
//! verification; and what a seized state still holds. Replays, tampering,
//! garbage, forks and exports are tested once per design in
//! `tests/suite.rs`.

#![cfg(feature = "olm")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, forensic_texts, is_rejected, seed_for, Net};
use doormat_engine::{Event, EventKind, ImplError, InEnvelope, Received, Sent};
use doormat_formats::UserId;
use std::collections::BTreeMap;

const TEAM: &str = "team";
const VERSION: u8 = 1;
/// Second byte of a body: Olm pre-key and normal (room keys), Megolm.
const KIND_PREKEY: u8 = 0;
const KIND_GROUP: u8 = 2;

fn net_of(devices: &[&str]) -> Net {
    let mut net = Net::new("megolm");
    for d in devices {
        net.register(d);
    }
    net
}

fn event(kind: EventKind, user: &str, device: Option<&str>) -> Event {
    Event { kind, user: UserId::from(user), device: device.map(addr) }
}

/// The one Megolm envelope of a send.
fn group_envelope(sent: &Sent) -> &doormat_engine::OutEnvelope {
    let groups: Vec<_> = sent.envelopes.iter().filter(|e| e.body[1] == KIND_GROUP).collect();
    assert_eq!(groups.len(), 1, "one Megolm envelope per send");
    assert_eq!(sent.envelopes.last().map(|e| e.body[1]), Some(KIND_GROUP), "room keys come first");
    groups[0]
}

/// The session id a Megolm envelope names.
fn session_of(sent: &Sent) -> Vec<u8> {
    group_envelope(sent).body[2..34].to_vec()
}

/// Devices that got a room key in this send.
fn keyed(sent: &Sent) -> Vec<String> {
    let mut to: Vec<String> = sent
        .envelopes
        .iter()
        .filter(|e| e.body[1] != KIND_GROUP)
        .map(|e| {
            assert_eq!(e.to.len(), 1, "a room key goes to one device");
            e.to[0].to_string()
        })
        .collect();
    to.sort();
    to
}

/// Hands every envelope of `sent` to every addressee, in order; what each
/// device read (the Megolm plaintexts).
fn deliver(net: &mut Net, from: &str, conversation: &str, sent: &Sent) -> BTreeMap<String, String> {
    let mut read = BTreeMap::new();
    for e in &sent.envelopes {
        for to in &e.to {
            let got: Received = net.recv(&to.to_string(), from, conversation, &e.body).unwrap();
            assert_eq!(got.sender, Some(addr(from)));
            match e.body[1] {
                KIND_GROUP => {
                    read.insert(to.to_string(), String::from_utf8(got.plaintext.unwrap()).unwrap());
                }
                _ => assert_eq!(got.plaintext, None, "a room key is a handshake"),
            }
        }
    }
    read
}

/// `from` sends `text` to `members` in `team` and everyone reads it.
fn say(net: &mut Net, from: &str, members: &[&str], text: &str) -> Sent {
    let sent = net.send(from, TEAM, members, text);
    let read = deliver(net, from, TEAM, &sent);
    assert!(read.values().all(|t| t == text), "{read:?}");
    sent
}

fn try_read(device: &mut dyn doormat_engine::Device, from: &str, body: &[u8]) -> Result<Received, ImplError> {
    device.decrypt(&InEnvelope { from: &addr(from), conversation: TEAM, body })
}

#[test]
fn room_keys_first_then_one_ciphertext_for_every_device() {
    let mut net = net_of(&["alice/phone", "alice/laptop", "bob/phone", "carol/phone", "carol/tablet"]);
    let all = ["alice", "bob", "carol"];
    let sent = net.send("alice/phone", TEAM, &all, "hello all");
    assert_eq!(keyed(&sent), ["alice/laptop", "bob/phone", "carol/phone", "carol/tablet"]);
    assert!(sent.envelopes[..4].iter().all(|e| e.body[0] == VERSION && e.body[1] == KIND_PREKEY));
    let mut to: Vec<String> = group_envelope(&sent).to.iter().map(ToString::to_string).collect();
    to.sort();
    assert_eq!(to, ["alice/laptop", "bob/phone", "carol/phone", "carol/tablet"], "never to the sender");
    let read = deliver(&mut net, "alice/phone", TEAM, &sent);
    assert_eq!(read.len(), 4);
    assert!(read.values().all(|t| t == "hello all"));
    // The next message reuses the session: one envelope, no room key.
    let again = net.send("alice/phone", TEAM, &all, "again");
    assert_eq!(again.envelopes.len(), 1);
    assert_eq!(session_of(&again), session_of(&sent));
    assert_eq!(deliver(&mut net, "alice/phone", TEAM, &again).len(), 4);
    // Every device can write, each with its own session.
    for from in ["carol/tablet", "bob/phone", "alice/laptop"] {
        let sent = say(&mut net, from, &all, from);
        assert_eq!(keyed(&sent).len(), 4, "{from}");
        assert_ne!(session_of(&sent), session_of(&again));
    }
}

#[test]
fn out_of_order_delivery_within_a_session() {
    let mut net = net_of(&["alice/phone", "bob/phone"]);
    let members = ["alice", "bob"];
    let sends: Vec<Sent> = (0..8).map(|i| net.send("alice/phone", TEAM, &members, &format!("m{i}"))).collect();
    // The room key travels with the first; then any order.
    for e in &sends[0].envelopes[..1] {
        net.recv("bob/phone", "alice/phone", TEAM, &e.body).unwrap();
    }
    for i in [5, 1, 7, 0, 3, 2, 6, 4] {
        let body = &group_envelope(&sends[i]).body;
        let got = net.recv("bob/phone", "alice/phone", TEAM, body).unwrap();
        assert_eq!(got.plaintext.as_deref(), Some(format!("m{i}").as_bytes()));
    }
}

#[test]
fn a_message_before_its_room_key_is_refused_and_read_after_it() {
    let mut net = net_of(&["alice/phone", "bob/phone"]);
    let first = net.send("alice/phone", TEAM, &["alice", "bob"], "first");
    let second = net.send("alice/phone", TEAM, &["alice", "bob"], "second");
    let early = net.recv("bob/phone", "alice/phone", TEAM, &group_envelope(&second).body);
    assert!(is_rejected(&early), "no session yet: {early:?}");
    deliver(&mut net, "alice/phone", TEAM, &first);
    let got = net.recv("bob/phone", "alice/phone", TEAM, &group_envelope(&second).body).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"second"[..]));
}

#[test]
fn removing_a_member_rotates_the_session_and_shuts_them_out() {
    let mut net = net_of(&["alice/phone", "bob/phone", "carol/phone"]);
    let first = say(&mut net, "alice/phone", &["alice", "bob", "carol"], "all three");
    let mut carol = net.device("carol/phone").fork().unwrap();
    let sent = net.send("alice/phone", TEAM, &["alice", "bob"], "without carol");
    assert_ne!(session_of(&sent), session_of(&first), "a new session once carol is gone");
    assert_eq!(keyed(&sent), ["bob/phone"], "the new key goes to those who remain");
    for e in &sent.envelopes {
        assert!(!e.to.contains(&addr("carol/phone")));
        assert!(is_rejected(&try_read(carol.as_mut(), "alice/phone", &e.body)), "carol reads nothing new");
    }
    assert_eq!(deliver(&mut net, "alice/phone", TEAM, &sent)["bob/phone"], "without carol");
    // Bob's own session, shared with carol, rotates too.
    let bobs = say(&mut net, "bob/phone", &["alice", "bob"], "bob without carol");
    assert!(is_rejected(&try_read(carol.as_mut(), "bob/phone", &group_envelope(&bobs).body)));
}

/// A device gone from the list rotates the session. A device under a new
/// key is shown in the send that first serves it, which shares nothing with
/// it (here, with bob's only device left out, nothing goes out at all); the
/// next send shares a new session with the new key.
#[test]
fn a_device_that_leaves_the_list_or_changes_keys_rotates_the_session() {
    let mut net = net_of(&["alice/phone", "bob/phone", "bob/laptop"]);
    let members = ["alice", "bob"];
    let first = say(&mut net, "alice/phone", &members, "to both of bob's");
    net.directory.remove(&addr("bob/laptop"));
    let sent = net.send("alice/phone", TEAM, &members, "laptop gone");
    assert_eq!(sent.events, [event(EventKind::DeviceRemoved, "bob", Some("bob/laptop"))]);
    assert_ne!(session_of(&sent), session_of(&first));
    deliver(&mut net, "alice/phone", TEAM, &sent);
    net.register_seeded("bob/phone", seed_for("bob/phone, re-installed"));
    let sent2 = net.send("alice/phone", TEAM, &members, "new keys");
    assert_eq!(sent2.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))]);
    assert_eq!(sent2.envelopes, [], "held back from the key alice is only now told about");
    let sent3 = net.send("alice/phone", TEAM, &members, "told, then sent");
    assert_eq!(sent3.events, [], "shown once");
    assert_eq!(keyed(&sent3), ["bob/phone"]);
    assert_ne!(session_of(&sent3), session_of(&sent));
    assert_eq!(deliver(&mut net, "alice/phone", TEAM, &sent3)["bob/phone"], "told, then sent");
}

#[test]
fn a_session_is_replaced_after_a_hundred_messages() {
    let mut net = net_of(&["alice/phone", "bob/phone"]);
    let members = ["alice", "bob"];
    let first = say(&mut net, "alice/phone", &members, "0");
    for i in 1..100 {
        let sent = say(&mut net, "alice/phone", &members, &i.to_string());
        assert_eq!(session_of(&sent), session_of(&first), "message {i}");
    }
    let sent = say(&mut net, "alice/phone", &members, "100");
    assert_ne!(session_of(&sent), session_of(&first));
    assert_eq!(keyed(&sent), ["bob/phone"]);
}

/// A device that joins is shown in the send that first serves it, which
/// neither shares the room key with it nor addresses it; the next send
/// shares the current session from where it stands (no rotation), so the
/// device reads that one and nothing earlier, the held-back one included.
#[test]
fn a_device_that_joins_later_reads_nothing_earlier() {
    let mut net = net_of(&["alice/phone", "bob/phone"]);
    let members = ["alice", "bob"];
    let early: Vec<Sent> = (0..3).map(|i| say(&mut net, "alice/phone", &members, &format!("early {i}"))).collect();
    net.register("bob/laptop");
    let held = net.send("alice/phone", TEAM, &members, "held back");
    assert_eq!(held.events, [event(EventKind::DeviceAdded, "bob", Some("bob/laptop"))]);
    assert_eq!(keyed(&held), Vec::<String>::new(), "no room key for the device alice is only now told about");
    assert_eq!(group_envelope(&held).to, [addr("bob/phone")]);
    assert_eq!(session_of(&held), session_of(&early[0]));
    net.assert_left_out("bob/laptop", "alice/phone", TEAM, &held);
    let later = net.send("alice/phone", TEAM, &members, "later");
    assert_eq!(later.events, []);
    assert_eq!(keyed(&later), ["bob/laptop"], "the current session, from where it stands");
    assert_eq!(session_of(&later), session_of(&early[0]), "joining does not rotate");
    assert_eq!(deliver(&mut net, "alice/phone", TEAM, &later)["bob/laptop"], "later");
    for sent in early.iter().chain([&held]) {
        let r = net.recv("bob/laptop", "alice/phone", TEAM, &group_envelope(sent).body);
        assert!(is_rejected(&r), "{r:?}");
    }
}

#[test]
fn a_megolm_message_is_bound_to_the_device_that_shared_its_session() {
    let mut net = net_of(&["alice/phone", "bob/phone", "carol/phone"]);
    let all = ["alice", "bob", "carol"];
    say(&mut net, "carol/phone", &all, "carol shares her key with bob");
    let sent = net.send("alice/phone", TEAM, &all, "from alice");
    deliver(
        &mut net,
        "alice/phone",
        TEAM,
        &Sent { envelopes: sent.envelopes[..2].to_vec(), events: vec![], blocked: false },
    );
    let body = &group_envelope(&sent).body;
    // The provider says carol sent alice's message.
    assert!(is_rejected(&net.recv("bob/phone", "carol/phone", TEAM, body)));
    // Or delivers it in another conversation.
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", "elsewhere", body)));
    // Or claims alice's message comes under carol's session id.
    let mut swapped = body.clone();
    let carols = net.send("carol/phone", TEAM, &all, "carol again");
    swapped[2..34].copy_from_slice(&session_of(&carols));
    assert!(is_rejected(&net.recv("bob/phone", "carol/phone", TEAM, &swapped)));
    let got = net.recv("bob/phone", "alice/phone", TEAM, body).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"from alice"[..]));
}

#[test]
fn a_room_key_for_another_conversation_is_refused() {
    let mut net = net_of(&["alice/phone", "bob/phone"]);
    let sent = net.send("alice/phone", TEAM, &["alice", "bob"], "hi");
    let key = &sent.envelopes[0].body;
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", "other", key)));
    deliver(&mut net, "alice/phone", TEAM, &sent);
}

#[test]
fn devices_that_are_not_addressed_cannot_decrypt() {
    let mut net = net_of(&["alice/phone", "bob/phone", "carol/phone"]);
    say(&mut net, "carol/phone", &["alice", "bob", "carol"], "carol knows everyone");
    let sent = net.send("alice/phone", TEAM, &["alice", "bob"], "not for carol");
    let mut outsider = net.design.create_device(&addr("outsider/device"), seed_for("outsider")).unwrap();
    let mut carol = net.device("carol/phone").fork().unwrap();
    for e in &sent.envelopes {
        assert!(is_rejected(&try_read(carol.as_mut(), "alice/phone", &e.body)));
        assert!(is_rejected(&try_read(outsider.as_mut(), "alice/phone", &e.body)));
    }
    // The sender reads its own message (Matrix clients keep that session).
    let own = try_read(net.device("alice/phone").fork().unwrap().as_mut(), "alice/phone", &group_envelope(&sent).body);
    assert_eq!(own.unwrap().plaintext.as_deref(), Some(&b"not for carol"[..]));
}

/// Notices come before the send that shares the key: a device or member
/// alice is only now told about gets no room key and is no addressee of
/// the send that shows the notice, and reads from the next send on. A
/// receiver learns of a known user's new device from its room key.
#[test]
fn notices_come_before_the_send_that_shares_the_key() {
    let mut net = net_of(&["alice/phone", "bob/phone", "carol/phone"]);
    let sent = say(&mut net, "alice/phone", &["alice", "bob"], "just us");
    assert_eq!(sent.events, [], "first contact is silent");
    net.register("bob/ghost");
    let sent = net.send("alice/phone", TEAM, &["alice", "bob"], "to all of bob");
    assert_eq!(sent.events, [event(EventKind::DeviceAdded, "bob", Some("bob/ghost"))]);
    assert_eq!(keyed(&sent), Vec::<String>::new());
    assert_eq!(group_envelope(&sent).to, [addr("bob/phone")]);
    net.assert_left_out("bob/ghost", "alice/phone", TEAM, &sent);
    deliver(&mut net, "alice/phone", TEAM, &sent);
    let sent = net.send("alice/phone", TEAM, &["alice", "bob"], "told, then sent");
    assert_eq!(sent.events, []);
    assert_eq!(keyed(&sent), ["bob/ghost"]);
    assert_eq!(deliver(&mut net, "alice/phone", TEAM, &sent)["bob/ghost"], "told, then sent");
    let sent = net.send("alice/phone", TEAM, &["alice", "bob", "carol"], "welcome carol");
    assert_eq!(sent.events, [event(EventKind::MemberAdded, "carol", None)]);
    assert_eq!(keyed(&sent), Vec::<String>::new());
    net.assert_left_out("carol/phone", "alice/phone", TEAM, &sent);
    let got = net.recv("bob/phone", "alice/phone", TEAM, &group_envelope(&sent).body).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"welcome carol"[..]));
    assert_eq!(got.events, [event(EventKind::MemberAdded, "carol", None)]);
    let got = net.recv("bob/ghost", "alice/phone", TEAM, &group_envelope(&sent).body).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"welcome carol"[..]));
    let sent = net.send("alice/phone", TEAM, &["alice", "bob", "carol"], "hello carol");
    assert_eq!(sent.events, []);
    assert_eq!(keyed(&sent), ["carol/phone"]);
    assert_eq!(deliver(&mut net, "alice/phone", TEAM, &sent)["carol/phone"], "hello carol");
    // A receiver learns of a new device of a known user from its room key.
    net.register("alice/tablet");
    let sent = net.send("alice/tablet", TEAM, &["alice", "bob", "carol"], "from my tablet");
    let key = sent.envelopes.iter().find(|e| e.to == [addr("bob/phone")]).unwrap();
    let got = net.recv("bob/phone", "alice/tablet", TEAM, &key.body).unwrap();
    assert_eq!(got.events, [event(EventKind::DeviceAdded, "alice", Some("alice/tablet"))]);
}

#[test]
fn a_verified_device_under_another_key_gets_no_room_key() {
    let mut net = net_of(&["alice/phone", "bob/phone", "bob/laptop"]);
    let members = ["alice", "bob"];
    say(&mut net, "alice/phone", &members, "hi");
    let bob = net.directory[&addr("bob/phone")].identity.clone();
    assert_eq!(net.device("alice/phone").verify(&addr("bob/phone"), &bob).unwrap(), []);
    let (mut impostor, bundle) = net.impostor("bob/phone", "impostor");
    let mut entries = net.entries("alice/phone", &members);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    let sent = net.send_to("alice/phone", TEAM, &members, &entries, "not for the impostor").unwrap();
    assert_eq!(sent.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))]);
    assert_eq!(keyed(&sent), ["bob/laptop"], "skipped: and the session rotated without it");
    assert_eq!(group_envelope(&sent).to, [addr("bob/laptop")]);
    for e in &sent.envelopes {
        assert!(try_read(impostor.as_mut(), "alice/phone", &e.body).is_err());
    }
    // And messages from an impostor at a verified address are refused.
    let alice = net.directory[&addr("alice/phone")].identity.clone();
    net.device("bob/phone").verify(&addr("alice/phone"), &alice).unwrap();
    let (mut fake_alice, _) = net.impostor("alice/phone", "fake alice");
    let members_ids = common::users(&members);
    let recipients = net.entries("alice/phone", &members);
    let req = doormat_engine::EncryptRequest {
        conversation: TEAM,
        group: true,
        members: &members_ids,
        recipients: &recipients,
        plaintext: b"trust me",
    };
    let forged = fake_alice.encrypt(&req).unwrap();
    let key = forged.envelopes.iter().find(|e| e.to == [addr("bob/phone")]).unwrap();
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", TEAM, &key.body)));
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", TEAM, &group_envelope(&forged).body)));
}

/// What the spec's "partial forward secrecy" says, shown: a seized state
/// refuses the messages its device already read only because of the replay
/// record; without that record the same keys open them.
#[test]
fn a_seized_state_still_holds_the_keys_to_earlier_messages() {
    let mut net = net_of(&["alice/phone", "bob/phone"]);
    let members = ["alice", "bob"];
    let early: Vec<Sent> = (0..3).map(|i| say(&mut net, "alice/phone", &members, &format!("early {i}"))).collect();
    let state = net.device("bob/phone").export_state().unwrap();
    let mut copy = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    for sent in &early {
        assert!(is_rejected(&try_read(copy.as_mut(), "alice/phone", &group_envelope(sent).body)), "a replay");
    }
    let mut json: serde_json::Value = serde_json::from_slice(&state).unwrap();
    for pair in json["inbound"].as_array_mut().unwrap() {
        pair[1]["indices"] = serde_json::json!([]);
    }
    let mut forgetful = net.design.import_device(&addr("bob/phone"), &serde_json::to_vec(&json).unwrap()).unwrap();
    for (i, sent) in early.iter().enumerate() {
        let got = try_read(forgetful.as_mut(), "alice/phone", &group_envelope(sent).body).unwrap();
        assert_eq!(got.plaintext, Some(format!("early {i}").into_bytes()));
    }
    // No healing within a session: the copy reads what alice sends next.
    let later = say(&mut net, "alice/phone", &members, "later");
    let got = try_read(copy.as_mut(), "alice/phone", &group_envelope(&later).body).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"later"[..]));
}

// ---- forensic open: what the keys a state holds recover, with no client courtesy ----

/// What `device` forensically opens of `body` (as `from` sent it in `team`).
fn forensic(device: &mut dyn doormat_engine::Device, from: &str, body: &[u8]) -> Vec<String> {
    forensic_texts(device, from, TEAM, body)
}

/// The known weakness, as it is: bob's phone read m1 and m2; a seized copy
/// refuses them through plain decryption only because its replay memory
/// (`indices`) remembers them; its inbound session, kept at its first
/// index, opens both. Megolm has no forward secrecy within a session.
#[test]
fn forensic_open_of_a_seized_state_reads_every_earlier_message_of_a_session() {
    let mut net = net_of(&["alice/phone", "bob/phone"]);
    let members = ["alice", "bob"];
    let m1 = say(&mut net, "alice/phone", &members, "m1");
    let m2 = say(&mut net, "alice/phone", &members, "m2");
    let state = net.device("bob/phone").export_state().unwrap();
    let mut copy = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    for (sent, text) in [(&m1, "m1"), (&m2, "m2")] {
        let body = &group_envelope(sent).body;
        assert!(
            is_rejected(&try_read(copy.fork().unwrap().as_mut(), "alice/phone", body)),
            "plain decryption: a replay"
        );
        assert_eq!(forensic(copy.fork().unwrap().as_mut(), "alice/phone", body), [text], "the keys are there");
        // Whoever the provider says sent it, in whatever conversation.
        let env = InEnvelope { from: &addr("carol/phone"), conversation: "elsewhere", body };
        assert_eq!(copy.fork().unwrap().forensic_open(&env).unwrap(), [text.as_bytes().to_vec()]);
    }
    // The room key's Olm envelope: its one-time key is used up, nothing opens.
    assert_eq!(m1.envelopes[0].body[1], KIND_PREKEY);
    assert_eq!(forensic(copy.as_mut(), "alice/phone", &m1.envelopes[0].body), Vec::<String>::new());
}

/// A replay refused by plain decryption is opened by forensic open on the
/// live device too: the index memory is the only thing that refuses it.
#[test]
fn forensic_open_reads_a_replay_plain_decryption_refuses() {
    let mut net = net_of(&["alice/phone", "bob/phone"]);
    let sent = say(&mut net, "alice/phone", &["alice", "bob"], "transfer 100");
    let body = &group_envelope(&sent).body;
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", TEAM, body)));
    assert_eq!(forensic(net.device("bob/phone").as_mut(), "alice/phone", body), ["transfer 100"]);
    assert_eq!(forensic(net.device("bob/phone").as_mut(), "alice/phone", body), ["transfer 100"], "and again");
}

/// What the keys do not give: a device that joined a session late has it
/// from its first index only (the send after the one that showed it to
/// alice), so forensic open reads nothing earlier, not even the message
/// held back from it; a device never given a session (carol, for alice's
/// messages to bob) and a twin at bob's address (another account) read
/// nothing at all.
#[test]
fn forensic_open_needs_the_session_from_the_messages_index() {
    let mut net = net_of(&["alice/phone", "bob/phone", "carol/phone"]);
    let members = ["alice", "bob"];
    say(&mut net, "carol/phone", &["alice", "bob", "carol"], "carol knows everyone");
    let early = say(&mut net, "alice/phone", &members, "early");
    net.register("bob/laptop");
    let held = say(&mut net, "alice/phone", &members, "held back");
    assert_eq!(held.events, [event(EventKind::DeviceAdded, "bob", Some("bob/laptop"))]);
    assert_eq!(keyed(&held), Vec::<String>::new());
    let later = say(&mut net, "alice/phone", &members, "later");
    assert_eq!(keyed(&later), ["bob/laptop"]);
    assert_eq!(session_of(&later), session_of(&early), "one session throughout");
    let laptop = net.device("bob/laptop").export_state().unwrap();
    let laptop = net.design.import_device(&addr("bob/laptop"), &laptop).unwrap();
    assert_eq!(
        forensic(laptop.fork().unwrap().as_mut(), "alice/phone", &group_envelope(&early).body),
        Vec::<String>::new()
    );
    assert_eq!(
        forensic(laptop.fork().unwrap().as_mut(), "alice/phone", &group_envelope(&held).body),
        Vec::<String>::new()
    );
    assert_eq!(forensic(laptop.fork().unwrap().as_mut(), "alice/phone", &group_envelope(&later).body), ["later"]);
    let real = forensic(net.device("bob/phone").fork().unwrap().as_mut(), "alice/phone", &group_envelope(&early).body);
    assert_eq!(real, ["early"], "bob's own keys do");
    let mut twin = net.design.create_device(&addr("bob/phone"), seed_for("bob/phone, twin")).unwrap();
    twin.publish().unwrap();
    for e in early.envelopes.iter().chain(&later.envelopes).filter(|e| e.to.contains(&addr("bob/phone"))) {
        assert_eq!(forensic(twin.as_mut(), "alice/phone", &e.body), Vec::<String>::new(), "the twin");
        let carol = forensic(net.device("carol/phone").fork().unwrap().as_mut(), "alice/phone", &e.body);
        assert_eq!(carol, Vec::<String>::new(), "carol");
    }
}

/// A seized copy absorbs the room keys it can open, as a thief's copy of
/// the app would: a session shared with the device after the seizure opens
/// to the copy once it has forensically opened the share.
#[test]
fn forensic_open_absorbs_a_room_key_the_state_can_open() {
    let mut net = net_of(&["alice/phone", "bob/phone", "carol/phone"]);
    say(&mut net, "alice/phone", &["alice", "bob", "carol"], "before");
    let state = net.device("bob/phone").export_state().unwrap();
    let mut copy = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    // Carol leaves: alice rotates, and shares the new session with bob.
    let rotated = net.send("alice/phone", TEAM, &["alice", "bob"], "rotated");
    assert_eq!(keyed(&rotated), ["bob/phone"]);
    let body = &group_envelope(&rotated).body;
    assert_eq!(forensic(copy.fork().unwrap().as_mut(), "alice/phone", body), Vec::<String>::new(), "no key yet");
    assert_eq!(forensic(copy.as_mut(), "alice/phone", &rotated.envelopes[0].body), Vec::<String>::new());
    assert_eq!(forensic(copy.as_mut(), "alice/phone", body), ["rotated"], "the absorbed room key opens it");
}
