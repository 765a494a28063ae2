//! The `mls` design through the adapter traits only: one-to-one and group
//! delivery, members and devices added and removed by their users' own
//! actions only (with the notices every member shows), a provider-served
//! ghost device and a member nobody added never added, verification,
//! tampering and replay, out-of-order delivery across a Commit, groups
//! created concurrently, forks, state export, healing after a seizure,
//! determinism, garbage that must never make it panic, and forensic open
//! (what openmls itself recovers with a state's secrets).

#![cfg(feature = "mls")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, forensic_texts as forensic, is_rejected, seed_for, users, Net, AB, ALICE_BOB};
use doormat_engine::{Event, EventKind, InEnvelope, Sent, UserAction};
use doormat_formats::UserId;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use std::collections::BTreeMap;

const TEAM: &str = "team";
const TRIO: &[&str] = &["alice", "bob", "carol"];

fn event(kind: EventKind, user: &str, device: Option<&str>) -> Event {
    Event { kind, user: UserId::from(user), device: device.map(addr) }
}

/// What one device got from one send: the text it read, if any, and every
/// notice it showed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Got {
    text: Option<String>,
    events: Vec<Event>,
}

/// Hands every envelope of `sent` to each of its addressees, in order; what
/// each device got. Panics on any refusal.
fn deliver(net: &mut Net, from: &str, conversation: &str, sent: &Sent) -> BTreeMap<String, Got> {
    let mut out: BTreeMap<String, Got> = BTreeMap::new();
    for e in &sent.envelopes {
        for to in &e.to {
            let to = to.to_string();
            let got = net
                .recv(&to, from, conversation, &e.body)
                .unwrap_or_else(|err| panic!("{to} refused an envelope from {from}: {err}"));
            let slot = out.entry(to).or_default();
            slot.events.extend(got.events);
            if let Some(p) = got.plaintext {
                assert_eq!(got.sender, Some(addr(from)), "the sender must be authenticated");
                assert!(slot.text.is_none(), "one send must be read once");
                slot.text = Some(String::from_utf8(p).unwrap());
            }
        }
    }
    out
}

/// `from` sends `text` to the devices of `members` and every addressee gets
/// it at once; what each got.
fn say(net: &mut Net, from: &str, conversation: &str, members: &[&str], text: &str) -> BTreeMap<String, Got> {
    let sent = net.send(from, conversation, members, text);
    deliver(net, from, conversation, &sent)
}

/// The devices that read `text`, sorted.
fn readers(got: &BTreeMap<String, Got>, text: &str) -> Vec<String> {
    got.iter().filter(|(_, g)| g.text.as_deref() == Some(text)).map(|(d, _)| d.clone()).collect()
}

/// The group id an envelope body names (`"DMLS" || version || len || id`).
fn group_of(body: &[u8]) -> Vec<u8> {
    let len = u32::from_be_bytes(body[5..9].try_into().unwrap()) as usize;
    body[9..9 + len].to_vec()
}

/// The body of the application message (the last envelope) of a send.
fn app_body(sent: &Sent) -> Vec<u8> {
    sent.envelopes.last().unwrap().body.clone()
}

/// Alice, bob and carol, one phone each; alice's user has created `team`
/// of the three on her phone.
fn trio() -> Net {
    let mut net = Net::registered("mls", &["alice/phone", "bob/phone", "carol/phone"]);
    create(&mut net, "alice/phone", TEAM, TRIO);
    net
}

/// `device`'s user creates the group `conversation` of `members` on it.
fn create(net: &mut Net, device: &str, conversation: &str, members: &[&str]) {
    let members = users(members);
    net.device(device).user_action(&UserAction::CreateGroup { conversation, members: &members }).unwrap();
}

/// `device`'s user adds `user` to `conversation` on it.
fn add_member(net: &mut Net, device: &str, conversation: &str, user: &str) {
    let user = UserId::from(user);
    net.device(device).user_action(&UserAction::AddMember { conversation, user: &user }).unwrap();
}

/// `device`'s user removes `user` from `conversation` on it.
fn remove_member(net: &mut Net, device: &str, conversation: &str, user: &str) {
    let user = UserId::from(user);
    net.device(device).user_action(&UserAction::RemoveMember { conversation, user: &user }).unwrap();
}

/// A user links `device`: every device the user already has is told, then
/// the new one registers.
fn link(net: &mut Net, device: &str) {
    let new = addr(device);
    let own: Vec<String> = net.devices.keys().filter(|d| d.user == new.user).map(ToString::to_string).collect();
    for d in own {
        net.device(&d).user_action(&UserAction::LinkDevice { device: &new }).unwrap();
    }
    net.register(device);
}

#[test]
fn one_to_one_delivers_both_ways_over_many_turns() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    for round in 0..30 {
        for i in 0..=round % 3 {
            let text = format!("a{round}.{i}");
            let got = say(&mut net, "alice/phone", AB, ALICE_BOB, &text);
            assert_eq!(readers(&got, &text), ["bob/phone"]);
        }
        let text = format!("b{round}");
        let got = say(&mut net, "bob/phone", AB, ALICE_BOB, &text);
        assert_eq!(readers(&got, &text), ["alice/phone"]);
    }
}

#[test]
fn a_first_message_is_a_welcome_then_the_message_and_later_turns_carry_a_commit() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    let first = net.send("alice/phone", AB, ALICE_BOB, "hello");
    assert_eq!(first.envelopes.len(), 2, "a Welcome, then the message");
    let welcome = net.recv("bob/phone", "alice/phone", AB, &first.envelopes[0].body).unwrap();
    assert_eq!(welcome.plaintext, None);
    assert!(welcome.events.is_empty(), "joining a conversation for the first time shows nothing");
    let msg = net.recv("bob/phone", "alice/phone", AB, &first.envelopes[1].body).unwrap();
    assert_eq!(msg.plaintext.as_deref(), Some(b"hello".as_slice()));
    // Bob's first message carries no update: alice does not know yet that
    // he writes, so she would not wait for his Commit before making hers.
    let first_reply = net.send("bob/phone", AB, ALICE_BOB, "hi");
    assert_eq!(first_reply.envelopes.len(), 1, "the message alone");
    assert_eq!(readers(&deliver(&mut net, "bob/phone", AB, &first_reply), "hi"), ["alice/phone"]);
    // Once alice has answered, his next one updates his leaf.
    say(&mut net, "alice/phone", AB, ALICE_BOB, "and?");
    let reply = net.send("bob/phone", AB, ALICE_BOB, "hi again");
    assert_eq!(reply.envelopes.len(), 2, "a Commit, then the message");
    assert!(reply.envelopes.iter().all(|e| e.to == [addr("alice/phone")]));
    let got = deliver(&mut net, "bob/phone", AB, &reply);
    assert_eq!(readers(&got, "hi again"), ["alice/phone"]);
    // Nothing in the provider's bytes is plaintext.
    for e in first.envelopes.iter().chain(&reply.envelopes) {
        assert!(!e.body.windows(5).any(|w| w == b"hello"));
        assert!(e.body.starts_with(b"DMLS"));
    }
}

#[test]
fn a_group_with_several_devices_reaches_every_other_device() {
    let mut net = Net::registered("mls", &["alice/phone", "alice/laptop", "bob/phone", "carol/phone", "carol/tablet"]);
    create(&mut net, "alice/phone", TEAM, TRIO);
    let all = ["alice/laptop", "alice/phone", "bob/phone", "carol/phone", "carol/tablet"];
    for (round, from) in ["alice/phone", "carol/tablet", "bob/phone", "alice/laptop", "alice/phone"].iter().enumerate()
    {
        let text = format!("round {round}");
        let got = say(&mut net, from, TEAM, TRIO, &text);
        let want: Vec<&str> = all.iter().copied().filter(|d| d != from).collect();
        assert_eq!(readers(&got, &text), want, "sent by {from}");
    }
}

#[test]
fn an_added_member_is_shown_to_every_member_and_reads_only_what_follows() {
    let mut net = trio();
    net.register("dave/phone");
    say(&mut net, "alice/phone", TEAM, TRIO, "before");
    say(&mut net, "bob/phone", TEAM, TRIO, "reply");
    let old = net.send("carol/phone", TEAM, TRIO, "still before");
    deliver(&mut net, "carol/phone", TEAM, &old);

    let quad = ["alice", "bob", "carol", "dave"];
    add_member(&mut net, "alice/phone", TEAM, "dave");
    let sent = net.send("alice/phone", TEAM, &quad, "dave is here");
    let added = event(EventKind::MemberAdded, "dave", None);
    assert!(sent.events.contains(&added), "the sender is shown the add: {:?}", sent.events);
    let got = deliver(&mut net, "alice/phone", TEAM, &sent);
    assert_eq!(readers(&got, "dave is here"), ["bob/phone", "carol/phone", "dave/phone"]);
    for member in ["bob/phone", "carol/phone"] {
        assert!(got[member].events.contains(&added), "{member} must be shown the add: {:?}", got[member].events);
    }
    assert!(got["dave/phone"].events.is_empty(), "a joiner's first sight shows nothing");
    // Dave cannot read what was sent before he joined.
    assert!(is_rejected(&net.recv("dave/phone", "carol/phone", TEAM, &app_body(&old))));
    let got = say(&mut net, "dave/phone", TEAM, &quad, "hello all");
    assert_eq!(readers(&got, "hello all"), ["alice/phone", "bob/phone", "carol/phone"]);
}

#[test]
fn a_removed_member_reads_nothing_sent_after_the_removal() {
    let mut net = trio();
    say(&mut net, "alice/phone", TEAM, TRIO, "all three");
    say(&mut net, "carol/phone", TEAM, TRIO, "carol speaks");
    remove_member(&mut net, "bob/phone", TEAM, "carol");
    let sent = net.send("bob/phone", TEAM, ALICE_BOB, "carol is gone");
    let removed = event(EventKind::MemberRemoved, "carol", None);
    assert!(sent.events.contains(&removed), "{:?}", sent.events);
    // Carol gets the Commit that removes her, and no envelope of the message.
    let to_carol: Vec<_> = sent.envelopes.iter().filter(|e| e.to.contains(&addr("carol/phone"))).collect();
    assert_eq!(to_carol.len(), 1);
    let got = deliver(&mut net, "bob/phone", TEAM, &sent);
    assert_eq!(readers(&got, "carol is gone"), ["alice/phone"]);
    assert!(got["alice/phone"].events.contains(&removed));
    assert_eq!(got["carol/phone"].text, None);
    // Even handed the application message, carol's device cannot read it,
    // nor anything later.
    assert!(is_rejected(&net.recv("carol/phone", "bob/phone", TEAM, &app_body(&sent))));
    let later = net.send("alice/phone", TEAM, ALICE_BOB, "just us");
    for e in &later.envelopes {
        let r = net.device("carol/phone").fork().unwrap().decrypt(&InEnvelope {
            from: &addr("alice/phone"),
            conversation: TEAM,
            body: &e.body,
        });
        assert!(r.map_or(true, |r| r.plaintext.is_none()), "carol read a message sent after her removal");
    }
    assert_eq!(readers(&deliver(&mut net, "alice/phone", TEAM, &later), "just us"), ["bob/phone"]);
}

#[test]
fn a_removed_device_still_reads_what_was_sent_while_it_was_a_member() {
    let mut net = trio();
    say(&mut net, "alice/phone", TEAM, TRIO, "hello");
    say(&mut net, "carol/phone", TEAM, TRIO, "hi");
    // Bob writes to all three; the provider holds it.
    let held = net.send("bob/phone", TEAM, TRIO, "held for carol");
    deliver(&mut net, "bob/phone", TEAM, &held.only("alice/phone"));
    // Alice removes carol; carol learns it, then gets the held message.
    remove_member(&mut net, "alice/phone", TEAM, "carol");
    let removal = net.send("alice/phone", TEAM, ALICE_BOB, "without carol");
    deliver(&mut net, "alice/phone", TEAM, &removal);
    let got = deliver(&mut net, "bob/phone", TEAM, &held.only("carol/phone"));
    assert_eq!(got["carol/phone"].text.as_deref(), Some("held for carol"));
}

/// The GCHQ "ghost": the provider lists an extra device for bob, to
/// everyone but bob. No member vouches for it (bob's user never linked it),
/// so nobody adds it and it gets nothing; each sender served it is told,
/// once, that the provider lists a device of bob's the group does not have.
#[test]
fn a_ghost_device_the_provider_serves_is_shown_and_never_added() {
    let mut net = trio();
    say(&mut net, "alice/phone", TEAM, TRIO, "one");
    say(&mut net, "bob/phone", TEAM, TRIO, "two");
    net.register("bob/ghost");
    let ghost = event(EventKind::DeviceAdded, "bob", Some("bob/ghost"));
    for (round, from) in ["alice/phone", "carol/phone", "alice/phone"].into_iter().enumerate() {
        let entries = net.entries(from, TRIO);
        assert!(entries.iter().any(|e| e.device == addr("bob/ghost")));
        let text = format!("the plan {round}");
        let sent = net.send_to(from, TEAM, TRIO, &entries, &text).unwrap();
        assert_eq!(sent.events.contains(&ghost), round < 2, "told once per device: {from} {:?}", sent.events);
        assert!(sent.envelopes.iter().all(|e| !e.to.contains(&addr("bob/ghost"))), "nothing for the ghost");
        for e in &sent.envelopes {
            let r = net.recv("bob/ghost", from, TEAM, &e.body);
            assert!(r.map_or(true, |r| r.plaintext.is_none()), "the ghost read {text}");
        }
        let got = deliver(&mut net, from, TEAM, &sent);
        let want: Vec<&str> = ["alice/phone", "bob/phone", "carol/phone"].into_iter().filter(|d| *d != from).collect();
        assert_eq!(readers(&got, &text), want);
        assert!(got.values().all(|g| !g.events.contains(&ghost)), "no member added it: {got:?}");
    }
}

/// RFC 9420: only a member can add anyone. The provider names mallory as a
/// member of the group and serves her devices; no member's user added her,
/// so no sender adds her: she gets nothing, and each sender is told once
/// that the provider lists a member the group does not have.
#[test]
fn a_member_the_provider_lists_but_nobody_added_is_never_added() {
    let mut net = trio();
    net.register("mallory/phone");
    say(&mut net, "alice/phone", TEAM, TRIO, "before");
    let with_mallory = ["alice", "bob", "carol", "mallory"];
    let listed = event(EventKind::MemberAdded, "mallory", None);
    for (round, from) in ["carol/phone", "alice/phone", "carol/phone"].into_iter().enumerate() {
        let text = format!("quarterly numbers {round}");
        let sent = net.send(from, TEAM, &with_mallory, &text);
        assert_eq!(sent.events.contains(&listed), round < 2, "{from}: {:?}", sent.events);
        assert!(sent.envelopes.iter().all(|e| !e.to.contains(&addr("mallory/phone"))));
        for e in &sent.envelopes {
            let r = net.recv("mallory/phone", from, TEAM, &e.body);
            assert!(r.map_or(true, |r| r.plaintext.is_none()), "mallory read {text}");
            let forensic = forensic(net.device("mallory/phone").fork().unwrap().as_mut(), from, TEAM, &e.body);
            assert_eq!(forensic, Vec::<String>::new());
        }
        let got = deliver(&mut net, from, TEAM, &sent);
        let want: Vec<&str> = ["alice/phone", "bob/phone", "carol/phone"].into_iter().filter(|d| *d != from).collect();
        assert_eq!(readers(&got, &text), want);
    }
    // Once a member's user adds her, she joins, with the notices of a real add.
    add_member(&mut net, "bob/phone", TEAM, "mallory");
    let sent = net.send("bob/phone", TEAM, &with_mallory, "welcome mallory");
    assert!(sent.events.contains(&listed), "{:?}", sent.events);
    let got = deliver(&mut net, "bob/phone", TEAM, &sent);
    assert_eq!(readers(&got, "welcome mallory"), ["alice/phone", "carol/phone", "mallory/phone"]);
    assert!(got["alice/phone"].events.contains(&listed));
}

/// A member added by another member's user joins with that member's next
/// Commit; until then the others, served the new member by the provider,
/// do not encrypt to them (they cannot tell the add from a provider's lie).
/// Removal likewise: a member the provider stops listing stays until a
/// member's user removes them.
#[test]
fn adds_and_removals_are_made_only_by_the_members_user_who_made_them() {
    let mut net = trio();
    net.register("dave/phone");
    say(&mut net, "alice/phone", TEAM, TRIO, "hello");
    let quad = ["alice", "bob", "carol", "dave"];
    add_member(&mut net, "alice/phone", TEAM, "dave");
    // Carol writes first: the provider lists dave, carol does not add him.
    let sent = net.send("carol/phone", TEAM, &quad, "before alice commits");
    assert!(sent.events.contains(&event(EventKind::MemberAdded, "dave", None)));
    let got = deliver(&mut net, "carol/phone", TEAM, &sent);
    assert_eq!(readers(&got, "before alice commits"), ["alice/phone", "bob/phone"]);
    // Dave is in no group yet: his device cannot write to it.
    let entries = net.entries("dave/phone", &quad);
    assert!(is_rejected(&net.send_to("dave/phone", TEAM, &quad, &entries, "hi")));
    // Alice's next message carries her Commit: dave joins.
    let got = say(&mut net, "alice/phone", TEAM, &quad, "dave joins");
    assert_eq!(readers(&got, "dave joins"), ["bob/phone", "carol/phone", "dave/phone"]);
    let got = say(&mut net, "dave/phone", TEAM, &quad, "hello from dave");
    assert_eq!(readers(&got, "hello from dave"), ["alice/phone", "bob/phone", "carol/phone"]);
    // The provider stops listing carol: bob does not remove her.
    let got = say(&mut net, "bob/phone", TEAM, &["alice", "bob", "dave"], "carol still here");
    assert_eq!(readers(&got, "carol still here"), ["alice/phone", "carol/phone", "dave/phone"]);
    // Bob's user removes her: his next Commit does.
    remove_member(&mut net, "bob/phone", TEAM, "carol");
    let sent = net.send("bob/phone", TEAM, &["alice", "bob", "dave"], "without carol");
    assert!(sent.events.contains(&event(EventKind::MemberRemoved, "carol", None)));
    let got = deliver(&mut net, "bob/phone", TEAM, &sent);
    assert_eq!(readers(&got, "without carol"), ["alice/phone", "dave/phone"]);
}

/// A member's device that no Welcome has reached cannot write to the group:
/// only the group's creator creates it, on the device its user created it
/// on; the provider saying a device is a member does not make it one.
#[test]
fn a_group_is_created_only_where_its_user_created_it() {
    let mut net = Net::registered("mls", &["alice/phone", "bob/phone", "carol/phone"]);
    let entries = net.entries("bob/phone", TRIO);
    let r = net.send_to("bob/phone", TEAM, TRIO, &entries, "bob first");
    assert!(is_rejected(&r), "{r:?}");
    create(&mut net, "alice/phone", TEAM, TRIO);
    let first = net.send("alice/phone", TEAM, TRIO, "alice creates");
    // Bob's Welcome is held: still nothing to write in.
    let entries = net.entries("bob/phone", TRIO);
    assert!(is_rejected(&net.send_to("bob/phone", TEAM, TRIO, &entries, "still early")));
    assert_eq!(readers(&deliver(&mut net, "alice/phone", TEAM, &first), "alice creates"), ["bob/phone", "carol/phone"]);
    let got = say(&mut net, "bob/phone", TEAM, TRIO, "now bob");
    assert_eq!(readers(&got, "now bob"), ["alice/phone", "carol/phone"]);
}

/// A device linked by its user joins each conversation with the next
/// Commit of one of the user's devices already in it; the other side, served
/// the new device by the provider, is told but does not add it.
#[test]
fn a_linked_device_joins_when_its_owners_device_next_sends() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "m1");
    say(&mut net, "bob/phone", AB, ALICE_BOB, "m2");
    link(&mut net, "bob/laptop");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "m3");
    assert_eq!(sent.events, [event(EventKind::DeviceAdded, "bob", Some("bob/laptop"))]);
    assert!(sent.envelopes.iter().all(|e| !e.to.contains(&addr("bob/laptop"))), "alice does not add it");
    assert_eq!(readers(&deliver(&mut net, "alice/phone", AB, &sent), "m3"), ["bob/phone"]);
    // Bob's phone writes: its Commit adds the laptop, which reads from then on.
    let sent = net.send("bob/phone", AB, ALICE_BOB, "m4");
    assert!(sent.events.contains(&event(EventKind::DeviceAdded, "bob", Some("bob/laptop"))));
    let got = deliver(&mut net, "bob/phone", AB, &sent);
    assert_eq!(readers(&got, "m4"), ["alice/phone", "bob/laptop"]);
    assert!(got["alice/phone"].events.contains(&event(EventKind::DeviceAdded, "bob", Some("bob/laptop"))));
    let got = say(&mut net, "alice/phone", AB, ALICE_BOB, "m5");
    assert_eq!(readers(&got, "m5"), ["bob/laptop", "bob/phone"]);
    let got = say(&mut net, "bob/laptop", AB, ALICE_BOB, "m6");
    assert_eq!(readers(&got, "m6"), ["alice/phone", "bob/phone"]);
    // A link of another user's device, told to alice's phone, adds nothing.
    net.register("carol/phone");
    net.device("alice/phone").user_action(&UserAction::LinkDevice { device: &addr("bob/tablet") }).unwrap();
    net.register("bob/tablet");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "m7");
    assert!(sent.envelopes.iter().all(|e| !e.to.contains(&addr("bob/tablet"))));
}

#[test]
fn a_verified_contact_is_never_added_under_another_key() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    let bob_identity = net.directory[&addr("bob/phone")].identity.clone();
    assert!(net.device("alice/phone").verify(&addr("bob/phone"), &bob_identity).unwrap().is_empty());
    let (_impostor, fake) = net.impostor("bob/phone", "impostor");
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &fake);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "secret").unwrap();
    assert!(sent.envelopes.is_empty(), "nothing may go to the impostor");
    assert!(sent.events.contains(&event(EventKind::IdentityChanged, "bob", Some("bob/phone"))));
    // The real keys still work.
    let got = say(&mut net, "alice/phone", AB, ALICE_BOB, "to the real bob");
    assert_eq!(readers(&got, "to the real bob"), ["bob/phone"]);
}

#[test]
fn a_key_served_for_a_member_already_in_the_group_is_shown_and_not_used() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "hi");
    say(&mut net, "bob/phone", AB, ALICE_BOB, "hello");
    let (mut impostor, fake) = net.impostor("bob/phone", "impostor");
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &fake);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "still bob?").unwrap();
    assert!(sent.events.contains(&event(EventKind::IdentityChanged, "bob", Some("bob/phone"))));
    for e in &sent.envelopes {
        let r = impostor.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &e.body });
        assert!(r.map_or(true, |r| r.plaintext.is_none()), "the impostor read the message");
    }
    assert_eq!(readers(&deliver(&mut net, "alice/phone", AB, &sent), "still bob?"), ["bob/phone"]);
    // The warning stays while the directory disagrees with the group.
    let again = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "again").unwrap();
    assert!(again.events.contains(&event(EventKind::IdentityChanged, "bob", Some("bob/phone"))));
    // Back to the real key: shown once more (it changed back), then quiet.
    let back = net.send("alice/phone", AB, ALICE_BOB, "honest directory");
    assert_eq!(back.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))]);
    let quiet = net.send("alice/phone", AB, ALICE_BOB, "and again");
    assert!(quiet.events.is_empty(), "{:?}", quiet.events);
}

#[test]
fn tampered_truncated_misrouted_and_replayed_envelopes_are_refused() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    net.register("carol/phone");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "first");
    let sent = net.send("bob/phone", AB, ALICE_BOB, "pay 10 euros");
    let (from, to) = (addr("bob/phone"), addr("alice/phone"));
    let try_on_fork = |net: &mut Net, conversation: &str, who: &str, body: &[u8]| {
        net.device("alice/phone").fork().unwrap().decrypt(&InEnvelope { from: &addr(who), conversation, body })
    };
    for e in &sent.envelopes {
        for i in (0..e.body.len()).step_by(3) {
            let mut flipped = e.body.clone();
            flipped[i] ^= 1 << (i % 8);
            let r = try_on_fork(&mut net, AB, "bob/phone", &flipped);
            assert!(r.map_or(true, |r| r.plaintext.is_none()), "byte {i} flipped was read");
        }
        for cut in (0..e.body.len()).step_by(5) {
            assert!(is_rejected(&try_on_fork(&mut net, AB, "bob/phone", &e.body[..cut])), "cut to {cut}");
        }
        let mut longer = e.body.clone();
        longer.push(0);
        assert!(is_rejected(&try_on_fork(&mut net, AB, "bob/phone", &longer)));
        // Another conversation, or another claimed sender.
        assert!(is_rejected(&try_on_fork(&mut net, "alice+carol", "bob/phone", &e.body)));
    }
    let app = app_body(&sent);
    assert!(is_rejected(&try_on_fork(&mut net, AB, "carol/phone", &app)), "a message claimed by another sender");
    let got = deliver(&mut net, "bob/phone", AB, &sent);
    assert_eq!(got[&to.to_string()].text.as_deref(), Some("pay 10 euros"));
    // Replays: the message is refused, a repeated handshake reads nothing.
    assert!(is_rejected(&net.recv("alice/phone", "bob/phone", AB, &app)));
    for e in &sent.envelopes {
        let again = net.device("alice/phone").decrypt(&InEnvelope { from: &from, conversation: AB, body: &e.body });
        assert!(again.map_or(true, |r| r.plaintext.is_none()));
    }
}

#[test]
fn messages_delivered_out_of_order_across_a_commit_are_read() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "m1");
    say(&mut net, "bob/phone", AB, ALICE_BOB, "m2");
    // Alice's turn: m3 carries her update Commit; m3..m5 are held, and
    // delivered last first.
    let held: Vec<(String, Sent)> =
        ["m3", "m4", "m5"].iter().map(|t| (t.to_string(), net.send("alice/phone", AB, ALICE_BOB, t))).collect();
    assert!(held[0].1.envelopes.len() > 1, "m3 carries a Commit");
    for (text, sent) in held.iter().rev() {
        let got = deliver(&mut net, "alice/phone", AB, sent);
        assert_eq!(got["bob/phone"].text.as_deref(), Some(text.as_str()));
    }
}

#[test]
fn a_member_behind_by_several_commits_catches_up_from_the_next_message() {
    let mut net = trio();
    net.register("dave/phone");
    say(&mut net, "alice/phone", TEAM, TRIO, "hello");
    // Two Commits carol does not get: alice adds dave, bob removes him.
    let quad = ["alice", "bob", "carol", "dave"];
    add_member(&mut net, "alice/phone", TEAM, "dave");
    let add = net.send("alice/phone", TEAM, &quad, "dave joins");
    for d in ["bob/phone", "dave/phone"] {
        deliver(&mut net, "alice/phone", TEAM, &add.only(d));
    }
    remove_member(&mut net, "bob/phone", TEAM, "dave");
    let remove = net.send("bob/phone", TEAM, TRIO, "dave leaves");
    for d in ["alice/phone", "dave/phone"] {
        deliver(&mut net, "bob/phone", TEAM, &remove.only(d));
    }
    // Alice's next message carries both Commits for carol.
    let next = net.send("alice/phone", TEAM, TRIO, "catch up");
    let got = deliver(&mut net, "alice/phone", TEAM, &next);
    assert_eq!(readers(&got, "catch up"), ["bob/phone", "carol/phone"]);
    assert!(got["carol/phone"].events.contains(&event(EventKind::MemberAdded, "dave", None)));
    assert!(got["carol/phone"].events.contains(&event(EventKind::MemberRemoved, "dave", None)));
    // The messages of the earlier epochs still read when they arrive late.
    assert_eq!(
        deliver(&mut net, "alice/phone", TEAM, &add.only("carol/phone"))["carol/phone"].text.as_deref(),
        Some("dave joins")
    );
    assert_eq!(
        deliver(&mut net, "bob/phone", TEAM, &remove.only("carol/phone"))["carol/phone"].text.as_deref(),
        Some("dave leaves")
    );
}

#[test]
fn members_writing_at_once_do_not_fork_the_group() {
    let mut net = trio();
    for round in 0..6 {
        for from in ["alice/phone", "bob/phone", "carol/phone", "alice/phone"] {
            say(&mut net, from, TEAM, TRIO, &format!("{from} {round}"));
        }
        // Bob and carol have both heard from alice since they last updated.
        // Carol's next message is held while bob writes; then it arrives.
        // Had both updated, their two Commits for one epoch would fork the
        // group (RFC 9420 §14).
        let held = net.send("carol/phone", TEAM, TRIO, "held");
        let got = say(&mut net, "bob/phone", TEAM, TRIO, "meanwhile");
        assert_eq!(readers(&got, "meanwhile"), ["alice/phone", "carol/phone"], "round {round}");
        let got = deliver(&mut net, "carol/phone", TEAM, &held);
        assert_eq!(readers(&got, "held"), ["alice/phone", "bob/phone"], "round {round}");
    }
}

/// A member's first message in a group carries no update Commit, so one
/// held by the provider cannot collide with the update of a member who had
/// not heard from it (two Commits for one epoch split a group for good,
/// RFC 9420 §14): the held message still reads, and the group goes on.
#[test]
fn a_held_first_message_does_not_split_the_group() {
    let mut net = trio();
    say(&mut net, "alice/phone", TEAM, TRIO, "hello");
    // Carol and bob have both heard from alice, the only one who wrote;
    // both write for the first time, and carol's message is held.
    let held = net.send("carol/phone", TEAM, TRIO, "carol's first, held");
    let got = say(&mut net, "bob/phone", TEAM, TRIO, "bob's first");
    assert_eq!(readers(&got, "bob's first"), ["alice/phone", "carol/phone"]);
    let got = deliver(&mut net, "carol/phone", TEAM, &held);
    assert_eq!(readers(&got, "carol's first, held"), ["alice/phone", "bob/phone"]);
    for from in ["carol/phone", "alice/phone", "bob/phone", "carol/phone", "alice/phone"] {
        let text = format!("{from} goes on");
        let want: Vec<&str> = ["alice/phone", "bob/phone", "carol/phone"].into_iter().filter(|d| *d != from).collect();
        assert_eq!(readers(&say(&mut net, from, TEAM, TRIO, &text), &text), want);
    }
}

/// An answer is what makes it a device's turn to update: alice's update,
/// made on bob's first message and held by the provider, cannot meet an
/// update of bob's, since bob has received nothing since he wrote.
#[test]
fn a_held_update_does_not_meet_another_update() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "m1");
    say(&mut net, "bob/phone", AB, ALICE_BOB, "m2");
    let held = net.send("alice/phone", AB, ALICE_BOB, "m3");
    assert!(held.envelopes.len() > 1, "alice's turn: an update Commit");
    let sent = net.send("bob/phone", AB, ALICE_BOB, "m4");
    assert_eq!(sent.envelopes.len(), 1, "bob has had no answer: no update");
    assert_eq!(readers(&deliver(&mut net, "bob/phone", AB, &sent), "m4"), ["alice/phone"]);
    assert_eq!(readers(&deliver(&mut net, "alice/phone", AB, &held), "m3"), ["bob/phone"]);
    for (from, to) in [("alice/phone", "bob/phone"), ("bob/phone", "alice/phone")].into_iter().cycle().take(6) {
        let text = format!("{from} goes on");
        assert_eq!(readers(&say(&mut net, from, AB, ALICE_BOB, &text), &text), [to]);
    }
}

#[test]
fn a_welcome_held_back_is_repeated_with_later_messages() {
    let mut net = trio();
    let first = net.send("alice/phone", TEAM, TRIO, "first");
    let second = net.send("alice/phone", TEAM, TRIO, "second");
    // The second message arrives first, and still reads.
    let got = deliver(&mut net, "alice/phone", TEAM, &second);
    assert_eq!(readers(&got, "second"), ["bob/phone", "carol/phone"]);
    let got = deliver(&mut net, "alice/phone", TEAM, &first);
    assert_eq!(readers(&got, "first"), ["bob/phone", "carol/phone"]);
}

#[test]
fn devices_that_start_a_conversation_at_once_read_each_other_and_converge() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    let a = net.send("alice/phone", AB, ALICE_BOB, "from alice");
    let b = net.send("bob/phone", AB, ALICE_BOB, "from bob");
    assert_ne!(group_of(&app_body(&a)), group_of(&app_body(&b)), "two groups");
    assert_eq!(deliver(&mut net, "alice/phone", AB, &a)["bob/phone"].text.as_deref(), Some("from alice"));
    assert_eq!(deliver(&mut net, "bob/phone", AB, &b)["alice/phone"].text.as_deref(), Some("from bob"));
    let a2 = net.send("alice/phone", AB, ALICE_BOB, "again");
    let b2 = net.send("bob/phone", AB, ALICE_BOB, "again too");
    assert_eq!(group_of(&app_body(&a2)), group_of(&app_body(&b2)), "both send in the same group");
    assert_eq!(deliver(&mut net, "alice/phone", AB, &a2)["bob/phone"].text.as_deref(), Some("again"));
    assert_eq!(deliver(&mut net, "bob/phone", AB, &b2)["alice/phone"].text.as_deref(), Some("again too"));
}

#[test]
fn the_last_resort_key_package_adds_a_device_when_no_one_time_one_is_served() {
    let mut net = Net::new("mls");
    net.serve_one_time = false;
    net.register("alice/phone");
    net.register("bob/phone");
    let got = say(&mut net, "alice/phone", AB, ALICE_BOB, "hello");
    assert_eq!(readers(&got, "hello"), ["bob/phone"]);
    // A served item that is not a KeyPackage of that device adds nothing.
    let mut entries = net.entries("alice/phone", &["alice", "carol"]);
    net.register("carol/phone");
    entries = net.entries("alice/phone", &["alice", "carol"]).into_iter().chain(entries).collect();
    for e in &mut entries {
        e.prekey = b"not a key package".to_vec();
        e.one_time = None;
    }
    let sent = net.send_to("alice/phone", "alice+carol", &["alice", "carol"], &entries, "nobody").unwrap();
    assert!(sent.envelopes.is_empty());
}

#[test]
fn forks_are_independent_of_the_device() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "hello");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "once");
    let body = app_body(&sent);
    let env = InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &body };
    let mut fork = net.device("bob/phone").fork().unwrap();
    assert_eq!(fork.decrypt(&env).unwrap().plaintext.as_deref(), Some(b"once".as_slice()));
    // The fork used the message key; the device still has it.
    assert_eq!(net.device("bob/phone").decrypt(&env).unwrap().plaintext.as_deref(), Some(b"once".as_slice()));
    assert!(is_rejected(&fork.decrypt(&env)));
    assert!(is_rejected(&net.device("bob/phone").decrypt(&env)));
    // A fork that moves on does not move the device (bob has written
    // before and alice answered, so the fork's message carries his update).
    say(&mut net, "bob/phone", AB, ALICE_BOB, "bob's first words");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "go on");
    let mut fork = net.device("bob/phone").fork().unwrap();
    let reply = {
        let req = net.request("bob/phone", AB, ALICE_BOB, b"from the fork");
        fork.encrypt(&req.get()).unwrap()
    };
    assert!(reply.envelopes.len() > 1, "the fork committed an update");
    let got = say(&mut net, "bob/phone", AB, ALICE_BOB, "from bob");
    assert_eq!(readers(&got, "from bob"), ["alice/phone"], "the device's own update is unaffected by the fork's");
}

#[test]
fn an_exported_state_imports_as_the_same_device() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "hello");
    let state = net.device("bob/phone").export_state().unwrap();
    assert_eq!(state, net.device("bob/phone").export_state().unwrap(), "export is deterministic");
    let mut copy = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    assert_eq!(copy.export_state().unwrap(), state, "import then export gives the same state");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "both read this");
    let body = app_body(&sent);
    let env = InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &body };
    assert_eq!(copy.decrypt(&env).unwrap().plaintext.as_deref(), Some(b"both read this".as_slice()));
    assert_eq!(
        net.recv("bob/phone", "alice/phone", AB, &body).unwrap().plaintext.as_deref(),
        Some(b"both read this".as_slice())
    );
    for bad in [b"".as_slice(), b"{}", b"not json", &state[..state.len() / 2]] {
        assert!(is_rejected(&net.design.import_device(&addr("bob/phone"), bad)));
    }
    // Another design's state is refused.
    let ratchet = doormat_designs::builtin("ratchet").unwrap();
    let other = ratchet.create_device(&addr("bob/phone"), seed_for("x")).unwrap().export_state().unwrap();
    assert!(is_rejected(&net.design.import_device(&addr("bob/phone"), &other)));
}

#[test]
fn a_seized_copy_cannot_read_the_past_and_falls_out_once_the_device_updates() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "one");
    say(&mut net, "bob/phone", AB, ALICE_BOB, "two");
    let before = net.send("alice/phone", AB, ALICE_BOB, "three");
    deliver(&mut net, "alice/phone", AB, &before);
    let seized = net.device("bob/phone").export_state().unwrap();
    let mut copy = net.design.import_device(&addr("bob/phone"), &seized).unwrap();
    // Forward secrecy: what bob read is gone from the copy.
    let old = InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &app_body(&before) };
    assert!(is_rejected(&copy.fork().unwrap().decrypt(&old)));
    // The copy still follows alice until bob updates with fresh entropy.
    let four = net.send("alice/phone", AB, ALICE_BOB, "four");
    for e in &four.envelopes {
        copy.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &e.body }).unwrap();
    }
    deliver(&mut net, "alice/phone", AB, &four);
    net.device("bob/phone").add_entropy(&[42; 32]);
    let update = net.send("bob/phone", AB, ALICE_BOB, "five");
    assert!(update.envelopes.len() > 1, "bob updates his leaf");
    deliver(&mut net, "bob/phone", AB, &update);
    let six = net.send("alice/phone", AB, ALICE_BOB, "six");
    for e in &six.envelopes {
        let r = copy.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &e.body });
        assert!(r.map_or(true, |r| r.plaintext.is_none()), "the seized copy read a message after bob healed");
    }
    assert_eq!(readers(&deliver(&mut net, "alice/phone", AB, &six), "six"), ["bob/phone"]);
}

/// The same seeds give envelopes of the same shape (addressees and
/// lengths); the bytes themselves are not promised, as openmls reads the
/// wall clock (see `Mls::capabilities`).
#[test]
fn the_same_seeds_give_the_same_shapes() {
    let run = || {
        let mut net = trio();
        let a = net.send("alice/phone", TEAM, TRIO, "same");
        deliver(&mut net, "alice/phone", TEAM, &a);
        let b = net.send("bob/phone", TEAM, TRIO, "same");
        [a, b].iter().flat_map(|s| s.envelopes.iter().map(|e| (e.to.clone(), e.body.len()))).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn garbage_is_refused_and_never_panics() {
    let mut net = trio();
    say(&mut net, "alice/phone", TEAM, TRIO, "hello");
    let sent = net.send("bob/phone", TEAM, TRIO, "valid");
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    let outsider = net.design.create_device(&addr("eve/phone"), seed_for("eve")).unwrap();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for len in [0usize, 1, 4, 5, 9, 40, 200, 1000] {
        let mut b = vec![0u8; len];
        rng.fill_bytes(&mut b);
        inputs.push(b.clone());
        let mut framed = b"DMLS\x01".to_vec();
        framed.extend(&b);
        inputs.push(framed);
    }
    // Valid frames with random MLS messages, and valid envelopes with random
    // bytes changed.
    for e in &sent.envelopes {
        for _ in 0..40 {
            let mut b = e.body.clone();
            for _ in 0..1 + rng.next_u32() % 4 {
                let i = rng.next_u32() as usize % b.len();
                b[i] = rng.next_u32() as u8;
            }
            inputs.push(b);
        }
    }
    let gid = group_of(&app_body(&sent));
    for len in [0usize, 3, 60, 500] {
        let mut junk = vec![0u8; len];
        rng.fill_bytes(&mut junk);
        let mut b = b"DMLS\x01".to_vec();
        b.extend((gid.len() as u32).to_be_bytes());
        b.extend(&gid);
        b.push(1);
        b.extend((junk.len() as u32).to_be_bytes());
        b.extend(&junk);
        inputs.push(b);
    }
    for body in &inputs {
        for device in [net.device("alice/phone").fork().unwrap(), outsider.fork().unwrap()] {
            let mut device = device;
            let r = device.decrypt(&InEnvelope { from: &addr("bob/phone"), conversation: TEAM, body });
            assert!(r.map_or(true, |r| r.plaintext.is_none()), "garbage was read");
        }
    }
    // The real envelopes still read.
    assert_eq!(readers(&deliver(&mut net, "bob/phone", TEAM, &sent), "valid"), ["alice/phone", "carol/phone"]);
}

/// Keeps only the envelopes (or the addressees) of a send for one device.
trait Only {
    fn only(&self, device: &str) -> Sent;
}

impl Only for Sent {
    fn only(&self, device: &str) -> Sent {
        let d = addr(device);
        let envelopes = self
            .envelopes
            .iter()
            .filter(|e| e.to.contains(&d))
            .map(|e| doormat_engine::OutEnvelope { to: vec![d.clone()], body: e.body.clone() })
            .collect();
        Sent { envelopes, events: Vec::new(), blocked: false }
    }
}

// ---- forensic open: what openmls recovers with the secrets a state holds ----

/// Bob's phone read m1 and m2; m3 is held by the provider; then the state
/// is seized. openmls deleted the keys of what bob read (RFC 9420 §9.2), so
/// the copy recovers neither, even with every client check skipped; m3's
/// key is still in bob's secret tree (a message not received yet), and so
/// is what alice sends next in the epoch, Commit and all.
#[test]
fn forensic_open_of_a_seized_state_recovers_nothing_it_had_read() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    let m1 = net.send("alice/phone", AB, ALICE_BOB, "m1");
    let m2 = net.send("alice/phone", AB, ALICE_BOB, "m2");
    let m3 = net.send("alice/phone", AB, ALICE_BOB, "m3");
    assert_eq!(readers(&deliver(&mut net, "alice/phone", AB, &m1), "m1"), ["bob/phone"]);
    assert_eq!(readers(&deliver(&mut net, "alice/phone", AB, &m2), "m2"), ["bob/phone"]);
    let state = net.device("bob/phone").export_state().unwrap();
    let copy = net.design.import_device(&addr("bob/phone"), &state).unwrap();
    for (sent, text) in [(&m1, "m1"), (&m2, "m2")] {
        for e in &sent.envelopes {
            assert_eq!(
                forensic(copy.fork().unwrap().as_mut(), "alice/phone", AB, &e.body),
                Vec::<String>::new(),
                "{text}"
            );
        }
    }
    assert_eq!(forensic(copy.fork().unwrap().as_mut(), "alice/phone", AB, &app_body(&m3)), ["m3"], "never received");
    // Bob replies, with an update Commit (fresh keys) the first copy never
    // sees; a second copy is seized after it. Alice's next message carries
    // her own update Commit: the second copy processes it (absorbs it, as a
    // thief's app would) and reads the message; the first is locked out.
    assert_eq!(readers(&deliver(&mut net, "alice/phone", AB, &m3), "m3"), ["bob/phone"]);
    say(&mut net, "bob/phone", AB, ALICE_BOB, "bob's first words");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "go on");
    let reply = net.send("bob/phone", AB, ALICE_BOB, "reply");
    assert!(reply.envelopes.len() > 1, "bob commits an update");
    deliver(&mut net, "bob/phone", AB, &reply);
    let later = net.device("bob/phone").export_state().unwrap();
    let later = net.design.import_device(&addr("bob/phone"), &later).unwrap();
    let m4 = net.send("alice/phone", AB, ALICE_BOB, "m4");
    assert!(m4.envelopes.len() > 1, "m4 carries a Commit");
    let (mut first, mut second) = (copy.fork().unwrap(), later.fork().unwrap());
    let (mut by_first, mut by_second) = (Vec::new(), Vec::new());
    for e in &m4.envelopes {
        by_first.extend(forensic(first.as_mut(), "alice/phone", AB, &e.body));
        by_second.extend(forensic(second.as_mut(), "alice/phone", AB, &e.body));
    }
    assert_eq!(by_first, Vec::<String>::new(), "healed: the Commit is for an epoch the first copy lacks");
    assert_eq!(by_second, ["m4"]);
}

/// A replay plain decryption refuses is refused by forensic open as well:
/// openmls used the message key and deleted it; it is not the client's
/// bookkeeping that refuses it.
#[test]
fn forensic_open_refuses_a_replay_because_openmls_deleted_the_key() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "hello");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "pay 10 euros");
    assert_eq!(readers(&deliver(&mut net, "alice/phone", AB, &sent), "pay 10 euros"), ["bob/phone"]);
    let app = app_body(&sent);
    assert!(is_rejected(&net.device("bob/phone").fork().unwrap().decrypt(&InEnvelope {
        from: &addr("alice/phone"),
        conversation: AB,
        body: &app
    })));
    assert_eq!(forensic(net.device("bob/phone").as_mut(), "alice/phone", AB, &app), Vec::<String>::new());
}

/// Forensic open skips the client's checks, not the keys: a message bob has
/// not read yet, which the provider says carol sent in another
/// conversation, plain decryption refuses; forensic open reads it. A
/// message of a past epoch still kept (`max_past_epochs`) reads too.
#[test]
fn forensic_open_skips_the_clients_checks_and_reads_past_epochs_openmls_keeps() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "hello");
    let unread = net.send("alice/phone", AB, ALICE_BOB, "unread");
    let body = app_body(&unread);
    let env = InEnvelope { from: &addr("carol/phone"), conversation: "elsewhere", body: &body };
    assert!(is_rejected(&net.device("bob/phone").fork().unwrap().decrypt(&env)));
    assert_eq!(net.device("bob/phone").fork().unwrap().forensic_open(&env).unwrap(), [b"unread".to_vec()]);
    // Bob moves the group on (his update Commit, in his second message);
    // alice's held message is of the epoch before, which openmls still keeps.
    say(&mut net, "bob/phone", AB, ALICE_BOB, "bob's first words");
    say(&mut net, "alice/phone", AB, ALICE_BOB, "go on");
    let reply = net.send("bob/phone", AB, ALICE_BOB, "next epoch");
    assert!(reply.envelopes.len() > 1, "bob commits an update");
    assert_eq!(
        forensic(net.device("bob/phone").fork().unwrap().as_mut(), "alice/phone", AB, &app_body(&unread)),
        ["unread"]
    );
}

/// A twin: a fresh device at bob's address with another seed holds none of
/// bob's KeyPackages or group secrets, and opens nothing sent to him.
#[test]
fn a_twin_at_the_same_address_cannot_forensically_open_the_devices_envelopes() {
    let mut net = Net::new("mls");
    net.register("alice/phone");
    net.register("bob/phone");
    let first = net.send("alice/phone", AB, ALICE_BOB, "first");
    let second = net.send("alice/phone", AB, ALICE_BOB, "second");
    let mut twin = net.design.create_device(&addr("bob/phone"), seed_for("bob/phone, twin")).unwrap();
    twin.publish().unwrap();
    for e in first.envelopes.iter().chain(&second.envelopes) {
        assert_eq!(forensic(twin.as_mut(), "alice/phone", AB, &e.body), Vec::<String>::new());
    }
    // Bob's own state joins by the Welcome and reads both.
    let mut bob = net.device("bob/phone").fork().unwrap();
    let mut read = Vec::new();
    for e in first.envelopes.iter().chain(&second.envelopes) {
        read.extend(forensic(bob.as_mut(), "alice/phone", AB, &e.body));
    }
    assert_eq!(read, ["first", "second"]);
}
