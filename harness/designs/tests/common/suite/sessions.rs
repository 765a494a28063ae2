//! How pairwise sessions start: session setup on every message until the
//! peer replies, one-time items used once (and none needed), and a
//! session-opening message refused again long after its session is gone.

use crate::common::{addr, is_rejected, seed_for, Net};

use super::{bodies_for, opens_session, pair, post, read_in, reads, skip, talk, AB, ALICE_BOB};

/// Every message starts a session until the peer replies; then ordinary
/// messages, shorter, carry no session setup. Session-opening messages
/// read in either order.
pub fn session_setup_is_sent_until_the_peer_replies(design: &str) {
    let mut net = pair(design);
    let first: Vec<Vec<Vec<u8>>> =
        (1..=4).map(|i| post(&mut net, "alice/phone", "bob/phone", &i.to_string())).collect();
    let Some(opens) = opens_session(design, &first[0][0]) else {
        // Its wire does not say which bodies start a session (opens_session).
        return;
    };
    assert!(opens, "{design}");
    assert_eq!(first[0][0][0], 1, "{design}: version 1");
    assert!(first.iter().all(|b| opens_session(design, &b[0]) == Some(true)), "{design}");
    for i in [0, 1, 3, 2] {
        assert_eq!(reads(&mut net, "bob/phone", "alice/phone", &first[i]), (i + 1).to_string(), "{design}");
    }
    let reply = post(&mut net, "bob/phone", "alice/phone", "reply");
    assert_eq!(opens_session(design, &reply[0]), Some(false), "{design}: bob's session came from alice's message");
    assert_eq!(reads(&mut net, "alice/phone", "bob/phone", &reply), "reply");
    let next = post(&mut net, "alice/phone", "bob/phone", "5");
    assert_eq!(opens_session(design, &next[0]), Some(false), "{design}");
    assert!(next[0].len() < first[0][0].len(), "{design}: an ordinary message carries no session setup");
    assert_eq!(reads(&mut net, "bob/phone", "alice/phone", &next), "5");
}

/// A one-time item the provider serves twice opens one session only; with
/// none served at all, sessions still start.
pub fn a_one_time_item_served_twice_opens_one_session_and_none_is_fine(design: &str) {
    skip!(design,
        "plaintext-relay" => "no one-time items, by design",
    );
    let mut net = Net::registered(design, &["bob/phone", "carol/phone", "dave/phone"]);
    let carol = net.entries("carol/phone", &["bob", "carol"]);
    assert!(carol.iter().any(|e| e.device == addr("bob/phone") && e.one_time.is_some()), "{design}");
    let mut dave = net.entries("dave/phone", &["bob", "dave"]);
    // A provider that serves the same one-time item twice.
    let reused = carol.iter().find(|e| e.device == addr("bob/phone")).unwrap().one_time.clone();
    dave.iter_mut().find(|e| e.device == addr("bob/phone")).unwrap().one_time = reused;
    let c = net.send_to("carol/phone", "bob+carol", &["bob", "carol"], &carol, "from carol").unwrap();
    let d = net.send_to("dave/phone", "bob+dave", &["bob", "dave"], &dave, "from dave").unwrap();
    let read = read_in(&mut net, "bob/phone", "carol/phone", "bob+carol", &bodies_for(&c, "bob/phone"));
    assert_eq!(read, ["from carol"], "{design}");
    let r = net.recv("bob/phone", "dave/phone", "bob+dave", &bodies_for(&d, "bob/phone")[0]);
    assert!(is_rejected(&r), "{design}: {r:?}");
    // Without any one-time item, sessions still start.
    net.serve_one_time = false;
    net.register("erin/phone");
    let entries = net.entries("erin/phone", &["bob", "erin"]);
    assert!(entries.iter().all(|e| e.one_time.is_none()), "{design}");
    let e = net.send_to("erin/phone", "bob+erin", &["bob", "erin"], &entries, "from erin").unwrap();
    let read = read_in(&mut net, "bob/phone", "erin/phone", "bob+erin", &bodies_for(&e, "bob/phone"));
    assert_eq!(read, ["from erin"], "{design}");
}

/// With no one-time item served, a session starts on a key the device
/// keeps; a replay of its opening message is refused at once, and still
/// after alice re-installed six times and bob dropped that session.
pub fn a_session_opening_message_is_refused_again_after_its_session_is_dropped(design: &str) {
    skip!(design,
        "plaintext-relay" => "no replay protection, by design",
        "mls" => "a re-installed device is in no group (mls.rs: a group is created only where its user created it)",
    );
    let mut net = pair(design);
    net.serve_one_time = false;
    let entries = net.entries("alice/phone", ALICE_BOB);
    assert!(entries.iter().all(|e| e.one_time.is_none()), "{design}");
    let sent = net.send_to("alice/phone", AB, ALICE_BOB, &entries, "on a kept key").unwrap();
    let prekey = bodies_for(&sent, "bob/phone");
    assert_eq!(reads(&mut net, "bob/phone", "alice/phone", &prekey), "on a kept key");
    let replayed = |net: &mut Net| {
        for body in &prekey {
            let r = net.recv("bob/phone", "alice/phone", AB, body);
            assert!(is_rejected(&r), "{design}: {r:?}");
        }
    };
    replayed(&mut net);
    // Alice re-installs six times; bob keeps only the newest sessions.
    for round in 0..6 {
        net.register_seeded("alice/phone", seed_for(&format!("alice again {round}")));
        talk(&mut net, "alice/phone", "bob/phone", &format!("again {round}"));
    }
    replayed(&mut net);
}
