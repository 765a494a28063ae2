//! The `backup-escrow` design through the adapter traits only: it delivers,
//! every encryption also uploads a backup addressed to nobody, and the
//! backup operator, holding nothing but the provider view, cracks the PINs
//! and reads what both sides sent and received; forks add nothing to the
//! history; state export carries the PIN, salt and backup cursor; garbage
//! never panics.

#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, Net, AB, ALICE_BOB};
use doormat_engine::{Authority, ImplError, InEnvelope, Sent};
use std::collections::BTreeSet;

const ROLE: &str = "backup-operator";

fn pair() -> Net {
    common::pair("backup-escrow")
}

fn operator(net: &mut Net) -> &mut Box<dyn Authority> {
    net.authorities.get_mut(ROLE).unwrap()
}

/// `from` sends `text` in `alice+bob`; the other side's phone reads it.
fn send_and_read(net: &mut Net, from: &str, to: &str, text: &str) -> Sent {
    let sent = net.send(from, AB, ALICE_BOB, text);
    let got = net.recv(to, from, AB, &Net::body_for(&sent, to)).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(text.as_bytes()));
    sent
}

/// The backups among the envelopes: those addressed to nobody.
fn backups(sent: &[&Sent]) -> Vec<Vec<u8>> {
    sent.iter().flat_map(|s| s.envelopes.iter()).filter(|e| e.to.is_empty()).map(|e| e.body.clone()).collect()
}

/// Every envelope body.
fn bodies(sent: &[&Sent]) -> Vec<Vec<u8>> {
    sent.iter().flat_map(|s| s.envelopes.iter()).map(|e| e.body.clone()).collect()
}

fn recover(net: &mut Net, view: &[Vec<u8>]) -> BTreeSet<String> {
    let refs: Vec<&[u8]> = view.iter().map(Vec::as_slice).collect();
    operator(net).recover(&refs).unwrap().into_iter().map(|b| String::from_utf8(b).unwrap()).collect()
}

fn set(texts: &[&str]) -> BTreeSet<String> {
    texts.iter().map(|t| (*t).to_owned()).collect()
}

#[test]
fn declares_its_backup_operator() {
    let net = pair();
    assert_eq!(net.design.authorities(), vec![ROLE.to_owned()]);
    assert!(net.authorities[ROLE].public().is_empty());
    assert!(matches!(net.design.create_authority("scanning-service", [0; 32]), Err(ImplError::Unsupported(_))));
    assert!(net.design.capabilities().export_state);
}

#[test]
fn delivers_both_ways_and_every_send_uploads_one_backup_to_nobody() {
    let mut net = pair();
    for round in 0..20 {
        for i in 0..=round % 3 {
            let sent = send_and_read(&mut net, "alice/phone", "bob/phone", &format!("a{round}.{i}"));
            assert_eq!(sent.envelopes.len(), 2);
            assert_eq!(backups(&[&sent]).len(), 1);
            assert_eq!(sent.envelopes.last().unwrap().to, vec![]);
        }
        for i in 0..=round % 2 {
            send_and_read(&mut net, "bob/phone", "alice/phone", &format!("b{round}.{i}"));
        }
    }
}

#[test]
fn the_operator_reads_what_both_sides_sent_and_received() {
    let mut net = pair();
    let mut sent = Vec::new();
    for text in ["a1", "a2"] {
        sent.push(send_and_read(&mut net, "alice/phone", "bob/phone", text));
    }
    for text in ["b1", "b2", "b3"] {
        sent.push(send_and_read(&mut net, "bob/phone", "alice/phone", text));
    }
    sent.push(send_and_read(&mut net, "alice/phone", "bob/phone", "a3"));
    let all: Vec<&Sent> = sent.iter().collect();
    let everything = set(&["a1", "a2", "a3", "b1", "b2", "b3"]);
    assert_eq!(recover(&mut net, &bodies(&all)), everything);
    // Alice's backups alone hold what she received too.
    let alices: Vec<&Sent> = [&sent[0], &sent[1], &sent[5]].into_iter().collect();
    assert_eq!(recover(&mut net, &backups(&alices)), everything);
    // Bob's hold what he received before he last sent, and his own.
    let bobs: Vec<&Sent> = sent[2..5].iter().collect();
    assert_eq!(recover(&mut net, &backups(&bobs)), set(&["a1", "a2", "b1", "b2", "b3"]));
    // Without the backups there is nothing to read.
    let messages: Vec<Vec<u8>> = bodies(&all).into_iter().filter(|b| !backups(&all).contains(b)).collect();
    assert!(recover(&mut net, &messages).is_empty());
}

#[test]
fn each_backup_holds_only_what_was_added_since_the_last() {
    let mut net = pair();
    let first = send_and_read(&mut net, "alice/phone", "bob/phone", "one");
    send_and_read(&mut net, "bob/phone", "alice/phone", "two");
    let third = send_and_read(&mut net, "alice/phone", "bob/phone", "three");
    assert_eq!(recover(&mut net, &backups(&[&first])), set(&["one"]));
    assert_eq!(recover(&mut net, &backups(&[&third])), set(&["two", "three"]));
}

#[test]
fn what_a_fork_decrypts_never_joins_the_history() {
    let mut net = pair();
    let probe = net.send("alice/phone", AB, ALICE_BOB, "only tried on a fork");
    let from = addr("alice/phone");
    let body = Net::body_for(&probe, "bob/phone");
    let got =
        net.device("bob/phone").fork().unwrap().decrypt(&InEnvelope { from: &from, conversation: AB, body: &body });
    assert_eq!(got.unwrap().plaintext.as_deref(), Some(&b"only tried on a fork"[..]));
    let bobs = net.send("bob/phone", AB, ALICE_BOB, "bob's own");
    assert_eq!(recover(&mut net, &backups(&[&bobs])), set(&["bob's own"]));
}

#[test]
fn receivers_refuse_backups_and_tampered_backups_open_for_nobody() {
    let mut net = pair();
    let sent = send_and_read(&mut net, "alice/phone", "bob/phone", "kept");
    let backup = backups(&[&sent]).remove(0);
    let from = addr("alice/phone");
    for to in ["bob/phone", "alice/phone"] {
        let r = net.device(to).fork().unwrap().decrypt(&InEnvelope { from: &from, conversation: AB, body: &backup });
        assert!(matches!(r, Err(ImplError::Rejected(_))), "{to}: {r:?}");
    }
    let mut bad = backup.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    assert!(recover(&mut net, &[bad]).is_empty());
    assert_eq!(recover(&mut net, &[backup]), set(&["kept"]));
}

#[test]
fn exported_state_keeps_pin_salt_history_and_cursor() {
    let mut net = pair();
    let first = send_and_read(&mut net, "alice/phone", "bob/phone", "before");
    let state = net.device("alice/phone").export_state().unwrap();
    let restored = net.design.import_device(&addr("alice/phone"), &state).unwrap();
    assert_eq!(restored.export_state().unwrap(), state);
    net.devices.insert(addr("alice/phone"), restored);
    let second = send_and_read(&mut net, "alice/phone", "bob/phone", "after");
    // Only the new message in the new backup, under the same salt and PIN:
    // a fresh operator cracks the first backup and reads the second with it.
    assert_eq!(recover(&mut net, &backups(&[&second])), set(&["after"]));
    let mut fresh = net.design.create_authority(ROLE, [9; 32]).unwrap();
    let view = backups(&[&first, &second]);
    let refs: Vec<&[u8]> = view.iter().map(Vec::as_slice).collect();
    assert_eq!(fresh.recover(&refs).unwrap().len(), 2);
    assert!(matches!(net.design.import_device(&addr("alice/phone"), b"{}"), Err(ImplError::Rejected(_))));
}

#[test]
fn devices_get_different_pins_or_salts() {
    let mut net = pair();
    let a = send_and_read(&mut net, "alice/phone", "bob/phone", "x");
    let b = send_and_read(&mut net, "bob/phone", "alice/phone", "y");
    let (a, b) = (backups(&[&a]).remove(0), backups(&[&b]).remove(0));
    // Magic (4), then the salt (16).
    assert_eq!(&a[..4], b"DBK1");
    assert_ne!(a[4..20], b[4..20]);
}

#[test]
fn garbage_never_panics() {
    let mut net = pair();
    let sent = send_and_read(&mut net, "alice/phone", "bob/phone", "real");
    let backup = backups(&[&sent]).remove(0);
    let mut junk: Vec<Vec<u8>> =
        vec![vec![], b"DBK1".to_vec(), [b"DBK1".as_slice(), &[0; 44]].concat(), vec![0xff; 300], vec![1, 2, 3]];
    junk.extend((0..backup.len()).map(|cut| backup[..cut].to_vec()));
    let from = addr("alice/phone");
    for j in &junk {
        let r = net.device("bob/phone").fork().unwrap().decrypt(&InEnvelope { from: &from, conversation: AB, body: j });
        assert!(matches!(r, Err(ImplError::Rejected(_))), "{j:?} gave {r:?}");
        let mut fork = net.device("bob/phone").fork().unwrap();
        fork.provider_push(ROLE, j).unwrap();
        fork.provider_push("scanning-service", j).unwrap();
    }
    let refs: Vec<&[u8]> = junk.iter().map(Vec::as_slice).collect();
    assert!(operator(&mut net).recover(&refs).unwrap().is_empty());
}
