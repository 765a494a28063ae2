//! The `client-scan` design through the adapter traits only: it delivers,
//! its scanning service reads nothing until the provider targets content,
//! then reads exactly the targeted (or similar) messages; vouchers do not
//! show which messages matched; the framing is authenticated; state export
//! carries the scan list; garbage never panics.

#![allow(clippy::unwrap_used)]

mod common;

use common::{addr, Net, AB, ALICE_BOB};
use doormat_engine::{Authority, ImplError, InEnvelope, Sent, TargetContent};

const ROLE: &str = "scanning-service";

/// A message body as the harness makes it: text, a space, a 32-character
/// base32 canary.
fn body(text: &str, n: u32) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut x = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let canary: String = (0..32)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(alphabet[(x % 32) as usize])
        })
        .collect();
    format!("{text} {canary}")
}

fn pair() -> Net {
    common::pair("client-scan")
}

fn service(net: &mut Net) -> &mut Box<dyn Authority> {
    net.authorities.get_mut(ROLE).unwrap()
}

/// The provider asks the service to target `content` and pushes the
/// result to every device, as the harness does.
fn target(net: &mut Net, content: TargetContent<'_>) {
    let data = service(net).target(&content).unwrap().expect("a scanning service returns a list to push");
    for device in net.devices.values_mut() {
        device.provider_push(ROLE, &data).unwrap();
    }
}

/// Alice sends `text` to bob, who reads it; the envelopes.
fn alice_to_bob(net: &mut Net, text: &str) -> Sent {
    let sent = net.send("alice/phone", AB, ALICE_BOB, text);
    let got = net.recv("bob/phone", "alice/phone", AB, &Net::body_for(&sent, "bob/phone")).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(text.as_bytes()));
    sent
}

/// What the provider holds: every published bundle and every envelope body.
fn view(net: &Net, sent: &[&Sent]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for b in net.directory.values() {
        out.push(b.identity.clone());
        out.push(b.prekey.clone());
        out.extend(b.one_time.iter().cloned());
    }
    for s in sent {
        out.extend(s.envelopes.iter().map(|e| e.body.clone()));
    }
    out
}

fn recover(net: &mut Net, view: &[Vec<u8>]) -> Vec<String> {
    let refs: Vec<&[u8]> = view.iter().map(Vec::as_slice).collect();
    let got = service(net).recover(&refs).unwrap();
    got.into_iter().map(|b| String::from_utf8(b).unwrap()).collect()
}

/// The voucher length field of an envelope body.
fn voucher_len(body: &[u8]) -> u32 {
    assert_eq!(&body[..4], b"DCS1");
    u32::from_be_bytes(body[4..8].try_into().unwrap())
}

#[test]
fn declares_its_scanning_service() {
    let net = pair();
    assert_eq!(net.design.authorities(), vec![ROLE.to_owned()]);
    assert_eq!(net.authorities[ROLE].public().len(), 32);
    assert!(matches!(net.design.create_authority("escrow-agent", [0; 32]), Err(ImplError::Unsupported(_))));
    assert!(net.design.capabilities().export_state);
}

#[test]
fn delivers_both_ways_over_many_messages_with_and_without_matches() {
    let mut net = pair();
    for round in 0..20u32 {
        if round == 10 {
            target(&mut net, TargetContent::Similar("alice says 15"));
            target(&mut net, TargetContent::Exact(body("bob says 12.0", 12).as_bytes()));
        }
        for i in 0..=round % 3 {
            net.exchange("alice/phone", "bob/phone", &body(&format!("alice says {round}.{i}"), round * 10 + i));
        }
        for i in 0..=round % 2 {
            net.exchange("bob/phone", "alice/phone", &body(&format!("bob says {round}.{i}"), round));
        }
    }
}

#[test]
fn with_no_list_nothing_is_recovered() {
    let mut net = pair();
    let a = alice_to_bob(&mut net, &body("first", 1));
    let b = alice_to_bob(&mut net, &body("second", 2));
    let v = view(&net, &[&a, &b]);
    assert!(recover(&mut net, &v).is_empty());
    // A list whose entries match nothing opens nothing either.
    target(&mut net, TargetContent::Exact(b"something never sent"));
    let c = alice_to_bob(&mut net, &body("third", 3));
    let v = view(&net, &[&a, &b, &c]);
    assert!(recover(&mut net, &v).is_empty());
}

#[test]
fn an_exact_target_opens_that_message_and_no_other() {
    let mut net = pair();
    let wanted = body("the plans for thursday", 7);
    target(&mut net, TargetContent::Exact(wanted.as_bytes()));
    let before = alice_to_bob(&mut net, &body("the plans for thursday", 8));
    let hit = alice_to_bob(&mut net, &wanted);
    let after = alice_to_bob(&mut net, &body("see you", 9));
    let v = view(&net, &[&before, &hit, &after]);
    assert_eq!(recover(&mut net, &v), vec![wanted.clone()]);
    // The service reads it however many times it is sent, in either
    // direction, and only from the envelopes that carry it.
    let mut again = net.send("bob/phone", AB, ALICE_BOB, &wanted);
    let v = view(&net, &[&again]);
    assert_eq!(recover(&mut net, &v), vec![wanted.clone()]);
    again.envelopes.clear();
    let v = view(&net, &[&again, &after]);
    assert!(recover(&mut net, &v).is_empty());
}

#[test]
fn targeting_is_not_retroactive() {
    let mut net = pair();
    let text = body("old news", 4);
    let sent = alice_to_bob(&mut net, &text);
    target(&mut net, TargetContent::Exact(text.as_bytes()));
    let v = view(&net, &[&sent]);
    assert!(recover(&mut net, &v).is_empty());
}

#[test]
fn a_similar_target_opens_similar_text_only() {
    let mut net = pair();
    target(&mut net, TargetContent::Similar("meet at the old square"));
    let hit = body("Meet at the old square tonight", 1);
    let near_miss = body("the old bridge at noon", 2);
    let unrelated = body("lunch tomorrow?", 3);
    let sent: Vec<Sent> = [&hit, &near_miss, &unrelated].iter().map(|t| alice_to_bob(&mut net, t)).collect();
    let v = view(&net, &sent.iter().collect::<Vec<_>>());
    assert_eq!(recover(&mut net, &v), vec![hit]);
}

#[test]
fn vouchers_have_the_same_length_whether_or_not_they_match() {
    let mut net = pair();
    let hit = body("aaaa", 1);
    let miss = body("bbbb", 2);
    assert_eq!(hit.len(), miss.len());
    let unlisted = alice_to_bob(&mut net, &hit);
    target(&mut net, TargetContent::Exact(hit.as_bytes()));
    let matched = alice_to_bob(&mut net, &hit);
    let unmatched = alice_to_bob(&mut net, &miss);
    let v = view(&net, &[&matched]);
    assert_eq!(recover(&mut net, &v), vec![hit.clone()], "the matching voucher must be real");
    let lens: Vec<(u32, usize)> = [&unlisted, &matched, &unmatched]
        .iter()
        .map(|s| {
            let b = Net::body_for(s, "bob/phone");
            (voucher_len(&b), b.len())
        })
        .collect();
    assert_eq!(lens[0], lens[1]);
    assert_eq!(lens[1], lens[2]);
    // Longer messages get longer vouchers, matched or not.
    let long = alice_to_bob(&mut net, &body("a longer message than the others", 3));
    assert!(voucher_len(&Net::body_for(&long, "bob/phone")) > lens[0].0);
}

#[test]
fn every_device_gets_the_same_voucher_and_reads_the_message() {
    let mut net = pair();
    net.register("bob/laptop");
    net.register("alice/laptop");
    let text = body("to everyone", 5);
    target(&mut net, TargetContent::Exact(text.as_bytes()));
    let sent = net.send("alice/phone", AB, ALICE_BOB, &text);
    assert_eq!(sent.envelopes.len(), 3);
    let vouchers: Vec<&[u8]> = sent.envelopes.iter().map(|e| &e.body[8..8 + voucher_len(&e.body) as usize]).collect();
    assert!(vouchers.windows(2).all(|w| w[0] == w[1]));
    for e in &sent.envelopes {
        let to = e.to[0].to_string();
        let got = net.recv(&to, "alice/phone", AB, &e.body).unwrap();
        assert_eq!(got.plaintext.as_deref(), Some(text.as_bytes()), "{to}");
    }
    let v = view(&net, &[&sent]);
    assert_eq!(recover(&mut net, &v), vec![text], "one message, recovered once");
}

#[test]
fn a_changed_voucher_or_framing_is_refused() {
    let mut net = pair();
    let text = body("bound", 6);
    target(&mut net, TargetContent::Exact(text.as_bytes()));
    let sent = net.send("alice/phone", AB, ALICE_BOB, &text);
    let other = net.send("alice/phone", AB, ALICE_BOB, &body("bound", 7));
    let good = Net::body_for(&sent, "bob/phone");
    let from = addr("alice/phone");
    let try_on_fork = |net: &mut Net, bytes: &[u8]| {
        net.device("bob/phone").fork().unwrap().decrypt(&InEnvelope { from: &from, conversation: AB, body: bytes })
    };
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 1 << (i % 8);
        assert!(matches!(try_on_fork(&mut net, &bad), Err(ImplError::Rejected(_))), "byte {i} changed");
    }
    for cut in 0..good.len() {
        assert!(matches!(try_on_fork(&mut net, &good[..cut]), Err(ImplError::Rejected(_))), "cut at {cut}");
    }
    // The voucher of another message of the same length, spliced in.
    let n = 8 + voucher_len(&good) as usize;
    let spliced = [&Net::body_for(&other, "bob/phone")[..n], &good[n..]].concat();
    assert_ne!(spliced, good);
    assert!(matches!(try_on_fork(&mut net, &spliced), Err(ImplError::Rejected(_))));
    // The real device still reads the original afterwards.
    let got = net.recv("bob/phone", "alice/phone", AB, &good).unwrap();
    assert_eq!(got.plaintext.as_deref(), Some(text.as_bytes()));
}

#[test]
fn exported_state_keeps_the_scan_list_the_key_and_the_session() {
    let mut net = pair();
    let text = body("after the seizure", 11);
    target(&mut net, TargetContent::Exact(text.as_bytes()));
    net.exchange("alice/phone", "bob/phone", &body("hello", 10));
    let state = net.device("alice/phone").export_state().unwrap();
    let restored = net.design.import_device(&addr("alice/phone"), &state).unwrap();
    assert_eq!(restored.export_state().unwrap(), state);
    net.devices.insert(addr("alice/phone"), restored);
    let sent = alice_to_bob(&mut net, &text);
    let v = view(&net, &[&sent]);
    assert_eq!(recover(&mut net, &v), vec![text]);
    assert!(matches!(net.design.import_device(&addr("alice/phone"), b"{}"), Err(ImplError::Rejected(_))));
    assert!(net.design.import_device(&addr("alice/phone"), b"\xff garbage").is_err());
}

#[test]
fn garbage_never_panics() {
    let mut net = pair();
    let text = body("real", 12);
    target(&mut net, TargetContent::Exact(text.as_bytes()));
    let sent = alice_to_bob(&mut net, &text);
    let real = Net::body_for(&sent, "bob/phone");
    let mut junk: Vec<Vec<u8>> = vec![
        vec![],
        b"DCS1".to_vec(),
        b"DCS1\xff\xff\xff\xff".to_vec(),
        b"DCS1\x00\x00\x00\x00".to_vec(),
        b"DCS1\x00\x00\x00\x05hello\x01\x01".to_vec(),
        b"DSL1\x00\x00\x00\x01\x02\xff\xff\xff\xff".to_vec(),
        vec![0xff; 300],
        vec![0; 32],
    ];
    junk.extend((0..real.len()).map(|cut| real[..cut].to_vec()));
    let from = addr("alice/phone");
    for j in &junk {
        let r = net.device("bob/phone").fork().unwrap().decrypt(&InEnvelope { from: &from, conversation: AB, body: j });
        assert!(matches!(r, Err(ImplError::Rejected(_))), "{j:?} gave {r:?}");
        let mut fork = net.device("bob/phone").fork().unwrap();
        let pushed = fork.provider_push(ROLE, j);
        assert!(j.len() == 32 || matches!(pushed, Err(ImplError::Rejected(_))), "{j:?} pushed: {pushed:?}");
        fork.provider_push("some-other-role", j).unwrap();
        let _ = service(&mut net).target(&TargetContent::Exact(j));
    }
    // Truncations that keep the whole voucher still give the service the
    // message: the voucher does not depend on the ratchet body.
    let refs: Vec<&[u8]> = junk.iter().map(Vec::as_slice).collect();
    assert!(service(&mut net).recover(&refs).unwrap().iter().all(|r| r == text.as_bytes()));
    assert!(matches!(service(&mut net).target(&TargetContent::Similar(" ... ")), Err(ImplError::Rejected(_))));
}
