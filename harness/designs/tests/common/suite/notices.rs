//! The change notices a pairwise client shows (trust on first use): members,
//! devices and keys that change are shown in the send that first serves
//! them, which holds the message back from the newcomer; verification pins
//! an identity both ways.

use crate::common::{self, addr, seed_for, Net};
use doormat_engine::{EventKind, InEnvelope};

use super::{addressed, event, is_rejected, opens_session, pair, reads, skip, talk, AB, ALICE_BOB};

/// A member added is shown to the sender in the send that first lists
/// them, which holds the message back from all their devices (the other
/// members read it, with the notice); they get messages from the next send
/// on. A member removed is shown and gets nothing.
pub fn member_changes_are_shown_to_sender_and_receivers(design: &str) {
    skip!(design,
        "ghost" => "shows nobody anything, by design (ghost.rs: receivers are not told either)",
        "plaintext-relay" => "silent, by design",
        "megolm" => "notices come before the send that shares the room key (megolm.rs)",
        "mls" => "only a member's user adds or removes a member (mls.rs)",
    );
    let mut net = Net::registered(design, &["alice/phone", "bob/phone", "carol/phone"]);
    let sent = net.send("alice/phone", "team", &["alice", "bob"], "just us");
    assert_eq!(sent.events, [], "{design}");
    net.recv("bob/phone", "alice/phone", "team", &Net::body_for(&sent, "bob/phone")).unwrap();
    let sent = net.send("alice/phone", "team", &["alice", "bob", "carol"], "welcome carol");
    assert_eq!(sent.events, [event(EventKind::MemberAdded, "carol", None)], "{design}");
    assert_eq!(addressed(design, &sent).len(), 1, "{design}");
    net.assert_left_out("carol/phone", "alice/phone", "team", &sent);
    let got = net.recv("bob/phone", "alice/phone", "team", &Net::body_for(&sent, "bob/phone")).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"welcome carol"[..]), "{design}");
    assert_eq!(got.events, [event(EventKind::MemberAdded, "carol", None)], "{design}");
    let sent = net.send("alice/phone", "team", &["alice", "bob", "carol"], "hello carol");
    assert_eq!(sent.events, [], "{design}");
    assert_eq!(addressed(design, &sent).len(), 2, "{design}");
    let got = net.recv("carol/phone", "alice/phone", "team", &Net::body_for(&sent, "carol/phone")).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"hello carol"[..]), "{design}");
    assert_eq!(got.events, [], "{design}: carol sees the group for the first time");
    assert_eq!(net.deliver_to("bob/phone", "alice/phone", "team", &sent), ["hello carol"], "{design}");
    let sent = net.send("alice/phone", "team", &["alice", "carol"], "bye bob");
    assert_eq!(sent.events, [event(EventKind::MemberRemoved, "bob", None)], "{design}");
    assert_eq!(addressed(design, &sent).len(), 1, "{design}");
    let got = net.recv("carol/phone", "alice/phone", "team", &Net::body_for(&sent, "carol/phone")).unwrap();
    assert_eq!(got.events, [event(EventKind::MemberRemoved, "bob", None)], "{design}");
}

/// Devices added to a known user's list (a contact's or the sender's own)
/// are shown in the send that first serves them, which holds the message
/// back from them; they get messages from the next send on. A device gone
/// from the list is shown; a known user writing from a new device is shown
/// to the receiver.
pub fn new_and_vanished_devices_are_shown(design: &str) {
    skip!(design,
        "ghost" => "shows nothing and sends to any device served, by design (ghost.rs)",
        "plaintext-relay" => "silent, by design",
        "mls" => "a device joins only when its own user links it (mls.rs)",
    );
    let mut net = pair(design);
    talk(&mut net, "alice/phone", "bob/phone", "hi");
    // A device of a contact the sender knows: shown in the `Sent` that first
    // serves it, and left out of that message.
    net.register("bob/ghost");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "to all of bob");
    assert_eq!(sent.events, [event(EventKind::DeviceAdded, "bob", Some("bob/ghost"))], "{design}");
    assert_eq!(addressed(design, &sent).len(), 1, "{design}: the notice comes in a Sent that does not encrypt to it");
    net.assert_left_out("bob/ghost", "alice/phone", AB, &sent);
    assert_eq!(net.deliver_to("bob/phone", "alice/phone", AB, &sent), ["to all of bob"], "{design}");
    // Told, alice's next message goes to it.
    let sent = net.send("alice/phone", AB, ALICE_BOB, "again");
    assert_eq!(sent.events, [], "{design}");
    assert_eq!(addressed(design, &sent).len(), 2, "{design}");
    assert_eq!(net.deliver_to("bob/ghost", "alice/phone", AB, &sent), ["again"], "{design}");
    // A device on the sender's own account.
    net.register("alice/ghost");
    let sent = net.send("alice/phone", AB, ALICE_BOB, "own account");
    assert_eq!(sent.events, [event(EventKind::DeviceAdded, "alice", Some("alice/ghost"))], "{design}");
    net.assert_left_out("alice/ghost", "alice/phone", AB, &sent);
    // A device that vanished from the directory; alice/ghost, shown before,
    // now gets the message.
    net.directory.remove(&addr("bob/ghost"));
    let sent = net.send("alice/phone", AB, ALICE_BOB, "gone");
    assert_eq!(sent.events, [event(EventKind::DeviceRemoved, "bob", Some("bob/ghost"))], "{design}");
    assert!(!common::addressed(&sent, "bob/ghost"), "{design}");
    assert_eq!(net.deliver_to("alice/ghost", "alice/phone", AB, &sent), ["gone"], "{design}");
    // On the receiving side: a known user writes from a device never seen.
    net.register("bob/tablet");
    let sent = net.send("bob/tablet", AB, ALICE_BOB, "from my tablet");
    let got = net.recv("alice/phone", "bob/tablet", AB, &Net::body_for(&sent, "alice/phone")).unwrap();
    assert_eq!(got.events, [event(EventKind::DeviceAdded, "bob", Some("bob/tablet"))], "{design}");
}

/// A changed key is shown to the sender once, in the send that first
/// serves it; that send holds the message back from the new key (alice is
/// only now told), and the next one goes to it, on a new session. A
/// receiver is shown a sender's changed key with the message.
pub fn a_changed_identity_is_shown_once_to_the_sender_and_to_the_receiver(design: &str) {
    skip!(design,
        "ghost" => "shows nothing, by design (ghost.rs: receivers are not told either)",
        "plaintext-relay" => "silent, by design",
        "megolm" => "megolm.rs: a device that changes keys rotates the session",
        "mls" => "mls.rs: a key served for a member already in the group",
    );
    let mut net = pair(design);
    talk(&mut net, "alice/phone", "bob/phone", "hi");
    talk(&mut net, "bob/phone", "alice/phone", "hi");
    // The provider serves a different key for bob/phone (or bob re-installed).
    net.register_seeded("bob/phone", seed_for("bob/phone, new key"));
    let sent = net.send("alice/phone", AB, ALICE_BOB, "after the change");
    assert_eq!(sent.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))], "{design}");
    assert!(addressed(design, &sent).is_empty(), "{design}: held back from the key alice is only now told about");
    net.assert_left_out("bob/phone", "alice/phone", AB, &sent);
    let sent = net.send("alice/phone", AB, ALICE_BOB, "told, then sent");
    assert_eq!(sent.events, [], "{design}: shown once");
    let body = Net::body_for(&sent, "bob/phone");
    assert!(opens_session(design, &body).unwrap_or(true), "{design}: a new session for the new key");
    assert_eq!(reads(&mut net, "bob/phone", "alice/phone", &[body]), "told, then sent");
    assert_eq!(net.send("alice/phone", AB, ALICE_BOB, "again").events, [], "{design}");
    // The receiving side: alice re-installs.
    net.register_seeded("alice/phone", seed_for("alice/phone, new key"));
    let sent = net.send("alice/phone", AB, ALICE_BOB, "new me");
    let got = net.recv("bob/phone", "alice/phone", AB, &Net::body_for(&sent, "bob/phone")).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"new me"[..]), "{design}");
    assert_eq!(got.events, [event(EventKind::IdentityChanged, "alice", Some("alice/phone"))], "{design}");
}

/// A key the provider substitutes for a known device is shown in the send
/// that first serves it, and that send encrypts nothing to it; unverified,
/// the client trusts the new key from the next send on (after the notice),
/// so the impostor reads that one and the real bob does not.
pub fn a_substituted_key_is_shown_before_anything_is_encrypted_to_it(design: &str) {
    skip!(design,
        "ghost" => "uses a substituted key silently, by design (ghost.rs)",
        "plaintext-relay" => "no keys, by design",
        "megolm" => "megolm.rs: a device that changes keys rotates the session",
        "mls" => "mls.rs: a key served for a member already in the group is shown and not used",
    );
    let mut net = pair(design);
    talk(&mut net, "alice/phone", "bob/phone", "hi");
    let (mut impostor, bundle) = net.impostor("bob/phone", "impostor");
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "held back").unwrap();
    assert_eq!(sent.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))], "{design}");
    assert!(addressed(design, &sent).is_empty(), "{design}: nothing to the key alice is only now told about");
    let read = common::fork_reads(impostor.as_ref(), "alice/phone", AB, &sent);
    assert_eq!(read, Vec::<Vec<u8>>::new(), "{design}");
    // Unverified, the client trusts the new key (and said so): the impostor reads what follows.
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "to the impostor").unwrap();
    assert_eq!(sent.events, [], "{design}: shown once, before");
    let body = Net::body_for(&sent, "bob/phone");
    let got = impostor.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &body }).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"to the impostor"[..]), "{design}");
    let r = net.recv("bob/phone", "alice/phone", AB, &body);
    assert!(is_rejected(&r), "{design}: the real bob cannot read it");
}

pub fn verify_shows_a_mismatch_and_accepts_a_match(design: &str) {
    skip!(design,
        "ghost" => "verify never shows anything, by design (ghost.rs)",
        "plaintext-relay" => "no keys to verify, by design",
    );
    let mut net = pair(design);
    talk(&mut net, "alice/phone", "bob/phone", "hi");
    let bob = net.directory[&addr("bob/phone")].identity.clone();
    assert_eq!(net.device("alice/phone").verify(&addr("bob/phone"), &bob).unwrap(), [], "{design}");
    // Alice has seen an impostor's key for bob/phone; the real one is compared.
    let mut net = pair(design);
    let (_, bundle) = net.impostor("bob/phone", "impostor");
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    net.send_to("alice/phone", AB, ALICE_BOB, &entries, "first contact, silently to the impostor").unwrap();
    let bob = net.directory[&addr("bob/phone")].identity.clone();
    assert_eq!(
        net.device("alice/phone").verify(&addr("bob/phone"), &bob).unwrap(),
        [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))],
        "{design}"
    );
    // Never seen: nothing to compare with, nothing shown.
    assert_eq!(net.device("alice/phone").verify(&addr("carol/phone"), &[7; 64]).unwrap(), [], "{design}");
}

/// A verified device served under another key gets nothing (and a notice
/// every time) while the rest of the message goes out; served the verified
/// key again, it is shown the change back and gets messages from the send
/// after that; the pin survives export and import.
pub fn a_verified_contact_is_not_encrypted_to_under_another_key(design: &str) {
    skip!(design,
        "ghost" => "verification changes nothing, by design (ghost.rs)",
        "plaintext-relay" => "no keys to verify, by design",
        "megolm" => "megolm.rs: a verified device under another key gets no room key",
        "mls" => "mls.rs: a verified contact is never added under another key",
    );
    let mut net = Net::registered(design, &["alice/phone", "bob/phone", "bob/laptop"]);
    talk(&mut net, "alice/phone", "bob/phone", "hi");
    let bob = net.directory[&addr("bob/phone")].identity.clone();
    assert_eq!(net.device("alice/phone").verify(&addr("bob/phone"), &bob).unwrap(), [], "{design}");
    let (mut impostor, bundle) = net.impostor("bob/phone", "impostor");
    let to = |sent: &doormat_engine::Sent| -> Vec<String> {
        sent.envelopes.iter().flat_map(|e| e.to.iter().map(ToString::to_string)).collect()
    };
    for round in 0..2 {
        let mut entries = net.entries("alice/phone", ALICE_BOB);
        Net::substitute(&mut entries, "bob/phone", &bundle);
        let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "not for the impostor").unwrap();
        let shown = [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))];
        assert_eq!(sent.events, shown, "{design}: round {round}");
        assert_eq!(to(&sent), ["bob/laptop"], "{design}: round {round}: the rest of the message still goes out");
        let got = net.recv("bob/laptop", "alice/phone", AB, &Net::body_for(&sent, "bob/laptop")).unwrap();
        assert_eq!(got.plaintext.as_deref(), Some(&b"not for the impostor"[..]), "{design}");
        assert!(sent.envelopes.iter().all(|e| impostor
            .decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &e.body })
            .is_err()));
    }
    // Served the verified key again: the client shows the change back (it
    // last saw the impostor's key) and so holds that message back from
    // bob/phone; from the next one on, bob/phone gets messages again.
    let sent = net.send("alice/phone", AB, ALICE_BOB, "changed back");
    assert_eq!(sent.events, [event(EventKind::IdentityChanged, "bob", Some("bob/phone"))], "{design}");
    assert_eq!(to(&sent), ["bob/laptop"], "{design}");
    net.assert_left_out("bob/phone", "alice/phone", AB, &sent);
    net.deliver_to("bob/laptop", "alice/phone", AB, &sent);
    let sent = net.send("alice/phone", AB, ALICE_BOB, "back to normal");
    assert_eq!(sent.events, [], "{design}");
    assert_eq!(addressed(design, &sent).len(), 2, "{design}");
    let body = Net::body_for(&sent, "bob/phone");
    assert_eq!(reads(&mut net, "bob/phone", "alice/phone", &[body]), "back to normal");
    // The pin survives export and import.
    let state = net.device("alice/phone").export_state().unwrap();
    *net.device("alice/phone") = net.design.import_device(&addr("alice/phone"), &state).unwrap();
    let mut entries = net.entries("alice/phone", ALICE_BOB);
    Net::substitute(&mut entries, "bob/phone", &bundle);
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "after import").unwrap();
    assert_eq!(addressed(design, &sent).len(), 1, "{design}");
}

pub fn a_message_from_a_verified_contact_under_another_key_is_rejected(design: &str) {
    skip!(design,
        "ghost" => "verification changes nothing, by design (ghost.rs)",
        "plaintext-relay" => "no keys to verify, by design",
        "mls" => "mls.rs: a verified contact is never added under another key",
    );
    let mut net = pair(design);
    talk(&mut net, "alice/phone", "bob/phone", "hi");
    let mut unverified = net.device("bob/phone").fork().unwrap();
    let alice = net.directory[&addr("alice/phone")].identity.clone();
    assert_eq!(net.device("bob/phone").verify(&addr("alice/phone"), &alice).unwrap(), [], "{design}");
    // An impostor at alice/phone's address writes to bob with its own key.
    let (mut impostor, _) = net.impostor("alice/phone", "impostor");
    let req = net.request("alice/phone", AB, ALICE_BOB, b"trust me");
    let forged = Net::body_for(&impostor.encrypt(&req.get()).unwrap(), "bob/phone");
    assert!(opens_session(design, &forged).unwrap_or(true), "{design}: a new session");
    // Control: a bob who never verified accepts it, with a notice.
    let got = unverified.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: AB, body: &forged });
    let shown = [event(EventKind::IdentityChanged, "alice", Some("alice/phone"))];
    assert_eq!(got.unwrap().events, shown, "{design}");
    assert!(is_rejected(&net.recv("bob/phone", "alice/phone", AB, &forged)), "{design}");
    talk(&mut net, "alice/phone", "bob/phone", "the real alice still gets through");
}
