//! The `escrow` design through the adapter traits only: recipients read,
//! the escrow agent recovers every plaintext from envelope bytes alone while
//! an outsider and another agent recover nothing, the LEAF and the content
//! cannot be altered, stripped or swapped, and the pushed escrow key is part
//! of the device's state.

#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, is_rejected, seed_for, Net, AB, ALICE_BOB};
use doormat_engine::{EventKind, ImplError, InEnvelope, Sent};

const ROLE: &str = "escrow-agent";
/// `"DME1"`, then the length of the ratchet body.
const MAGIC: &[u8] = b"DME1";
const LEAF_LEN: usize = 80;

fn group() -> Net {
    Net::registered("escrow", &["alice/phone", "alice/laptop", "bob/phone", "carol/phone"])
}

/// Where the LEAF starts in an envelope body.
fn leaf_at(body: &[u8]) -> usize {
    assert_eq!(&body[..4], MAGIC);
    8 + u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize
}

/// A short conversation; every body the provider saw and every text sent.
fn conversation(net: &mut Net) -> (Vec<Vec<u8>>, Vec<String>) {
    let mut bodies = Vec::new();
    let mut texts = Vec::new();
    for (i, from) in ["alice/phone", "bob/phone", "carol/phone", "alice/laptop", "alice/phone"].into_iter().enumerate()
    {
        let text = format!("message {i} from {from}");
        let sent = net.send(from, "team", &["alice", "bob", "carol"], &text);
        for e in &sent.envelopes {
            let got = net.recv(&e.to[0].to_string(), from, "team", &e.body).unwrap();
            assert_eq!(got.plaintext.as_deref(), Some(text.as_bytes()), "{from} -> {}", e.to[0]);
            assert_eq!(got.sender, Some(addr(from)));
            bodies.push(e.body.clone());
        }
        texts.push(text);
    }
    (bodies, texts)
}

#[test]
fn the_agent_recovers_every_plaintext_from_the_provider_view_alone() {
    let mut net = group();
    let (bodies, texts) = conversation(&mut net);
    assert_eq!(bodies.len(), 5 * 3);
    // The view also holds published bundles and junk: skipped, never a panic.
    let bundle = net.directory[&addr("bob/phone")].clone();
    let mut view: Vec<&[u8]> = vec![&bundle.identity, &bundle.prekey, b"", b"DME1", b"DME1\0\0\0\x05abc"];
    view.extend(bodies.iter().map(Vec::as_slice));
    let recovered = net.authorities.get_mut(ROLE).unwrap().recover(&view).unwrap();
    let expected: Vec<Vec<u8>> = texts.iter().map(|t| t.as_bytes().to_vec()).collect();
    assert_eq!(recovered, expected, "each message once, in order, exactly");
    // No plaintext on the wire.
    for (body, text) in bodies.iter().zip(texts.iter().flat_map(|t| [t, t, t])) {
        assert!(!body.windows(text.len()).any(|w| w == text.as_bytes()));
    }
}

#[test]
fn outsiders_and_other_agents_read_nothing() {
    let mut net = group();
    let (bodies, _) = conversation(&mut net);
    let view: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    let mut other = net.design.create_authority(ROLE, seed_for("another agent")).unwrap();
    assert_ne!(other.public(), net.authorities[ROLE].public());
    assert_eq!(other.recover(&view).unwrap(), Vec::<Vec<u8>>::new());
    assert!(net.design.create_authority("scanning-service", [1; 32]).is_err());
    // A fresh device, even at a recipient's address and pushed the escrow key.
    let (mut outsider, _) = net.impostor("bob/phone", "outsider");
    for body in &bodies {
        let r = outsider.decrypt(&InEnvelope { from: &addr("alice/phone"), conversation: "team", body });
        assert!(r.is_err(), "{r:?}");
    }
}

fn one_message(net: &mut Net, text: &str) -> Vec<u8> {
    Net::body_for(&net.send("alice/phone", AB, ALICE_BOB, text), "bob/phone")
}

#[test]
fn the_leaf_and_the_content_cannot_be_altered() {
    let mut net = group();
    let body = one_message(&mut net, "tamper with me");
    let leaf = leaf_at(&body);
    assert!(body.len() >= leaf + LEAF_LEN + 16);
    let try_fork = |net: &mut Net, bytes: &[u8]| {
        net.device("bob/phone").fork().unwrap().decrypt(&InEnvelope {
            from: &addr("alice/phone"),
            conversation: AB,
            body: bytes,
        })
    };
    for i in 0..body.len() {
        let mut flipped = body.clone();
        flipped[i] ^= 1 << (i % 8);
        assert!(is_rejected(&try_fork(&mut net, &flipped)), "byte {i} flipped (LEAF at {leaf}) was accepted");
    }
    for cut in 0..body.len() {
        assert!(is_rejected(&try_fork(&mut net, &body[..cut])), "truncation to {cut}");
    }
    // A LEAF and content from another message, spliced onto this ratchet body.
    let other = one_message(&mut net, "another message");
    let mut spliced = body[..leaf].to_vec();
    spliced.extend_from_slice(&other[leaf_at(&other)..]);
    assert!(is_rejected(&try_fork(&mut net, &spliced)));
    // A LEAF to another agent, built by a sender pushed another key.
    let mut rogue = Net::new("escrow");
    let agent = rogue.design.create_authority(ROLE, seed_for("rogue agent")).unwrap();
    rogue.authorities.insert(ROLE.to_owned(), agent);
    rogue.register_seeded("alice/phone", seed_for("rogue alice"));
    rogue.directory.insert(addr("bob/phone"), net.directory[&addr("bob/phone")].clone());
    let r = net.recv("bob/phone", "alice/phone", AB, &one_message(&mut rogue, "escrow dodged"));
    assert!(is_rejected(&r), "{r:?}");
    let got = net.recv("bob/phone", "alice/phone", AB, &body).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"tamper with me"[..]));
}

#[test]
fn without_an_escrow_key_a_device_refuses_to_encrypt() {
    let design = doormat_designs::builtin("escrow").unwrap();
    assert_eq!(design.authorities(), [ROLE]);
    let mut device = design.create_device(&addr("alice/phone"), [1; 32]).unwrap();
    let members = common::users(ALICE_BOB);
    let req = doormat_engine::EncryptRequest {
        conversation: AB,
        group: false,
        members: &members,
        recipients: &[],
        plaintext: b"x",
    };
    assert!(matches!(device.encrypt(&req), Err(ImplError::Failed(_))));
    assert!(is_rejected(&device.provider_push(ROLE, &[1; 31])));
    assert!(is_rejected(&device.provider_push(ROLE, &[0; 32])), "a low-order key");
    device.provider_push("scanning-service", b"ignored").unwrap();
    assert!(matches!(device.encrypt(&req), Err(ImplError::Failed(_))));
}

#[test]
fn export_keeps_the_escrow_key() {
    let mut net = group();
    net.exchange("alice/phone", "bob/phone", "before");
    let state = net.device("alice/phone").export_state().unwrap();
    *net.device("alice/phone") = net.design.import_device(&addr("alice/phone"), &state).unwrap();
    let body = one_message(&mut net, "after import");
    let recovered = net.authorities.get_mut(ROLE).unwrap().recover(&[&body]).unwrap();
    assert_eq!(recovered, [b"after import".to_vec()]);
    net.exchange("alice/phone", "bob/phone", "still delivered");
    let ratchet = doormat_designs::builtin("ratchet").unwrap();
    assert!(is_rejected(&ratchet.import_device(&addr("alice/phone"), &state)));
}

/// Notices are ratchet's: a device added to bob's list is shown in the send
/// that first serves it, which holds the message back from it (bob's phone
/// reads it); the next send, without a notice, reaches it.
#[test]
fn notices_are_ratchets() {
    let mut net = group();
    net.exchange("alice/phone", "bob/phone", "hi");
    net.register("bob/extra");
    let sent: Sent = net.send("alice/phone", AB, ALICE_BOB, "to all of bob");
    assert_eq!(sent.events.len(), 1);
    assert_eq!((sent.events[0].kind, sent.events[0].device.clone()), (EventKind::DeviceAdded, Some(addr("bob/extra"))));
    net.assert_left_out("bob/extra", "alice/phone", AB, &sent);
    assert_eq!(net.deliver_to("bob/phone", "alice/phone", AB, &sent), ["to all of bob"]);
    let sent: Sent = net.send("alice/phone", AB, ALICE_BOB, "told, then sent");
    assert_eq!(sent.events, []);
    let got = net.recv("bob/extra", "alice/phone", AB, &Net::body_for(&sent, "bob/extra")).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(&b"told, then sent"[..]));
}
