//! The directory against its checks, and the provider's three lies: a
//! false key published, a proof forged, a split view.

#![allow(clippy::unwrap_used)]

use super::*;

const SEED: Seed = [7; 32];

fn key(device: &str, n: u8) -> Vec<u8> {
    let mut k = device.as_bytes().to_vec();
    k.push(n);
    k
}

fn update(label: &str, value: Vec<u8>) -> (String, Vec<u8>) {
    (label.to_string(), value)
}

/// Three devices over three epochs: alice/phone and bob/phone enrol, then
/// carol/laptop, then alice/phone replaces its key.
fn three_epochs() -> KeyDirectory {
    let mut dir = KeyDirectory::new(SEED).unwrap();
    dir.publish(&[update("alice/phone", key("alice", 1)), update("bob/phone", key("bob", 1))]).unwrap();
    dir.publish(&[update("carol/laptop", key("carol", 1))]).unwrap();
    dir.publish(&[update("alice/phone", key("alice", 2))]).unwrap();
    dir
}

#[test]
fn a_lookup_verifies_against_the_root_of_its_epoch() {
    let dir = three_epochs();
    assert_eq!(dir.epoch(), 3);
    let pk = dir.vrf_public_key();
    for (label, value, version) in
        [("alice/phone", key("alice", 2), 2), ("bob/phone", key("bob", 1), 1), ("carol/laptop", key("carol", 1), 1)]
    {
        let answer = dir.lookup(label).unwrap();
        assert_eq!((answer.epoch, answer.root), (3, dir.root(3).unwrap()));
        let entry = verify_lookup(&pk, &dir.root(3).unwrap(), 3, label, &answer.proof).unwrap();
        assert_eq!(entry.value, value, "{label}");
        assert_eq!(entry.version, version, "{label}");
    }
    let roots: Vec<Root> = (0..=3).map(|e| dir.root(e).unwrap()).collect();
    assert!(roots.windows(2).all(|w| w[0] != w[1]), "every publish changes the root");
    assert_eq!(dir.root(4), None);
}

#[test]
fn a_proof_checked_against_another_root_key_or_label_is_refused() {
    let mut dir = KeyDirectory::new(SEED).unwrap();
    dir.publish(&[update("alice/phone", key("alice", 1)), update("bob/phone", key("bob", 1))]).unwrap();
    let at_one = dir.lookup("alice/phone").unwrap();
    dir.publish(&[update("carol/laptop", key("carol", 1))]).unwrap();
    let pk = dir.vrf_public_key();
    let (root1, root2) = (dir.root(1).unwrap(), dir.root(2).unwrap());

    assert!(verify_lookup(&pk, &root1, 1, "alice/phone", &at_one.proof).is_ok(), "the control holds");
    for epoch in [1, 2] {
        let got = verify_lookup(&pk, &root2, epoch, "alice/phone", &at_one.proof);
        assert!(matches!(got, Err(KtError::Refused(_))), "epoch {epoch}: {got:?}");
    }
    // The root binds, not the epoch number: akd takes it only as a bound on
    // the label's version, so a client must hold each root with its epoch.
    let got = verify_lookup(&pk, &root1, 2, "alice/phone", &at_one.proof);
    assert_eq!(got.map(|e| e.epoch), Ok(1));
    let other_key = KeyDirectory::new([8; 32]).unwrap().vrf_public_key();
    let got = verify_lookup(&other_key, &root1, 1, "alice/phone", &at_one.proof);
    assert!(matches!(got, Err(KtError::Refused(_))), "{got:?}");
    let got = verify_lookup(&pk, &root1, 1, "bob/phone", &at_one.proof);
    assert!(matches!(got, Err(KtError::Refused(_))), "{got:?}");
}

#[test]
fn a_forged_lookup_is_refused() {
    let dir = three_epochs();
    let pk = dir.vrf_public_key();
    let root = dir.root(3).unwrap();
    let honest = dir.lookup("bob/phone").unwrap();
    assert!(verify_lookup(&pk, &root, 3, "bob/phone", &honest.proof).is_ok(), "the control holds");

    // The honest proof with another value in it.
    let mut message = akd::proto::specs::types::LookupProof::parse_from_bytes(&honest.proof).unwrap();
    message.value = Some(b"the provider's key".to_vec());
    let changed = message.write_to_bytes().unwrap();
    let got = verify_lookup(&pk, &root, 3, "bob/phone", &changed);
    assert!(matches!(got, Err(KtError::Refused(_))), "{got:?}");

    // A proof from a directory that never was: the same seed and history,
    // but bob's key replaced in the last epoch instead of alice's.
    let mut forged = dir.branch(2).unwrap();
    forged.publish(&[update("bob/phone", b"the provider's key".to_vec())]).unwrap();
    let fake = forged.lookup("bob/phone").unwrap();
    assert_eq!(fake.epoch, 3);
    assert!(verify_lookup(&pk, &fake.root, 3, "bob/phone", &fake.proof).is_ok(), "it holds for its own root");
    let got = verify_lookup(&pk, &root, 3, "bob/phone", &fake.proof);
    assert!(matches!(got, Err(KtError::Refused(_))), "{got:?}");

    for garbage in [&b""[..], b"\xff\xff\xff", &honest.proof[..honest.proof.len() / 2]] {
        let got = verify_lookup(&pk, &root, 3, "bob/phone", garbage);
        assert!(matches!(got, Err(KtError::Malformed(_))), "{garbage:?}: {got:?}");
    }
}

#[test]
fn the_owner_sees_a_key_it_did_not_publish_in_its_history() {
    let mut dir = KeyDirectory::new(SEED).unwrap();
    dir.publish(&[update("alice/phone", key("alice", 1)), update("bob/phone", key("bob", 1))]).unwrap();
    dir.publish(&[update("carol/laptop", key("carol", 1))]).unwrap();
    // The provider publishes a key of its own for alice/phone.
    dir.publish(&[update("alice/phone", b"the provider's key".to_vec())]).unwrap();
    dir.publish(&[update("bob/phone", key("bob", 2))]).unwrap();
    let pk = dir.vrf_public_key();
    let root = dir.root(4).unwrap();

    // Bob's lookup holds: a lookup alone cannot tell the lie.
    let served = dir.lookup("alice/phone").unwrap();
    let entry = verify_lookup(&pk, &root, 4, "alice/phone", &served.proof).unwrap();
    assert_eq!(entry.value, b"the provider's key");

    // Alice's history check shows it, at the epoch it appeared.
    let history = dir.key_history("alice/phone").unwrap();
    let seen = verify_history(&pk, &root, 4, "alice/phone", &history.proof).unwrap();
    let seen: Vec<(Epoch, Vec<u8>)> = seen.into_iter().map(|e| (e.epoch, e.value)).collect();
    assert_eq!(seen, vec![(1, key("alice", 1)), (3, b"the provider's key".to_vec())]);
    let published = [key("alice", 1)];
    let lies: Vec<Epoch> = seen.iter().filter(|(_, v)| !published.contains(v)).map(|(e, _)| *e).collect();
    assert_eq!(lies, vec![3]);

    // Nor can the provider serve her an older history for the latest root.
    let mut earlier = dir.branch(2).unwrap();
    earlier.publish(&[update("bob/phone", key("bob", 2))]).unwrap();
    let old = earlier.key_history("alice/phone").unwrap();
    let got = verify_history(&pk, &root, 4, "alice/phone", &old.proof);
    assert!(got.is_err(), "{got:?}");
}

#[test]
fn audits_between_epochs_verify() {
    let dir = three_epochs();
    let roots: Vec<Root> = (0..=3).map(|e| dir.root(e).unwrap()).collect();
    for (from, to) in [(0, 1), (1, 2), (2, 3), (1, 3)] {
        let proof = dir.audit(from, to).unwrap();
        verify_audit(&roots[from as usize..=to as usize], &proof).unwrap();
    }
    let proof = dir.audit(1, 2).unwrap();
    let got = verify_audit(&[roots[2], roots[1]], &proof);
    assert!(matches!(got, Err(KtError::Refused(_))), "roots swapped: {got:?}");
    let got = verify_audit(&[roots[1], roots[3]], &proof);
    assert!(matches!(got, Err(KtError::Refused(_))), "a root skipped: {got:?}");
    assert!(matches!(dir.audit(2, 2), Err(KtError::Misuse(_))));
    assert!(matches!(dir.audit(1, 4), Err(KtError::Misuse(_))));
}

#[test]
fn a_split_view_fails_the_audit_against_the_auditors_roots() {
    let mut seen_by_auditor = KeyDirectory::new(SEED).unwrap();
    seen_by_auditor.publish(&[update("alice/phone", key("alice", 1))]).unwrap();
    let mut seen_by_bob = seen_by_auditor.branch(1).unwrap();
    seen_by_auditor.publish(&[update("carol/laptop", key("carol", 1))]).unwrap();
    seen_by_bob.publish(&[update("alice/phone", b"the provider's key".to_vec())]).unwrap();

    assert_eq!(seen_by_bob.root(1), seen_by_auditor.root(1), "the same history up to epoch 1");
    let auditor = [seen_by_auditor.root(1).unwrap(), seen_by_auditor.root(2).unwrap()];
    let bob = [seen_by_bob.root(1).unwrap(), seen_by_bob.root(2).unwrap()];
    assert_ne!(bob[1], auditor[1], "bob's root differs from the auditor's");

    // Each view is consistent on its own ...
    verify_audit(&auditor, &seen_by_auditor.audit(1, 2).unwrap()).unwrap();
    verify_audit(&bob, &seen_by_bob.audit(1, 2).unwrap()).unwrap();
    // ... but bob's root does not follow from the auditor's proof, nor the
    // auditor's from bob's.
    let got = verify_audit(&bob, &seen_by_auditor.audit(1, 2).unwrap());
    assert!(matches!(got, Err(KtError::Refused(_))), "{got:?}");
    let got = verify_audit(&auditor, &seen_by_bob.audit(1, 2).unwrap());
    assert!(matches!(got, Err(KtError::Refused(_))), "{got:?}");
}

#[test]
fn the_same_seed_and_updates_give_the_same_roots_and_proofs() {
    let (a, b) = (three_epochs(), three_epochs());
    assert_eq!(a.vrf_public_key(), b.vrf_public_key());
    for epoch in 0..=3 {
        assert_eq!(a.root(epoch), b.root(epoch), "epoch {epoch}");
    }
    assert_eq!(a.lookup("carol/laptop").unwrap(), b.lookup("carol/laptop").unwrap());
    assert_eq!(a.key_history("alice/phone").unwrap(), b.key_history("alice/phone").unwrap());
    assert_eq!(a.audit(0, 3).unwrap(), b.audit(0, 3).unwrap());

    let mut other = KeyDirectory::new([8; 32]).unwrap();
    other.publish(&[update("alice/phone", key("alice", 1)), update("bob/phone", key("bob", 1))]).unwrap();
    assert_ne!(other.vrf_public_key(), a.vrf_public_key());
    assert_ne!(other.root(1), a.root(1), "another seed, another tree");
}

#[test]
fn publishing_nothing_new_starts_no_epoch_and_misuse_is_an_error() {
    let mut dir = three_epochs();
    let again = dir.publish(&[update("carol/laptop", key("carol", 1))]).unwrap();
    assert_eq!(again, EpochRoot { epoch: 3, root: dir.root(3).unwrap() });
    assert_eq!(dir.epoch(), 3);
    let twice = [update("dave/phone", key("dave", 1)), update("dave/phone", key("dave", 2))];
    assert!(matches!(dir.publish(&twice), Err(KtError::Misuse(_))));
    assert!(matches!(dir.lookup("nobody/phone"), Err(KtError::Misuse(_))));
    assert!(matches!(dir.branch(4), Err(KtError::Misuse(_))));
}

/// The names of the process's threads (Linux).
#[cfg(target_os = "linux")]
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_string())
        .collect()
}

/// Run on a thread of its own name: a thread started from it without a
/// name of its own inherits that name, and tokio names its threads
/// `tokio-runtime-worker`; other tests' threads have neither name.
#[cfg(target_os = "linux")]
#[test]
fn the_directory_and_its_checks_start_no_thread() {
    const NAME: &str = "kt-thread-probe";
    let probe = std::thread::Builder::new().name(NAME.into()).spawn(|| {
        let started = |names: &[String]| names.iter().filter(|n| n.as_str() == NAME || n.starts_with("tokio")).count();
        assert_eq!(started(&thread_names()), 1, "only the probe itself");
        let mut dir = KeyDirectory::new(SEED).unwrap();
        dir.publish(&[update("alice/phone", key("alice", 1)), update("bob/phone", key("bob", 1))]).unwrap();
        dir.publish(&[update("carol/laptop", key("carol", 1))]).unwrap();
        let answer = dir.lookup("alice/phone").unwrap();
        let history = dir.key_history("alice/phone").unwrap();
        let audit = dir.audit(0, 2).unwrap();
        let roots: Vec<Root> = (0..=2).map(|e| dir.root(e).unwrap()).collect();
        verify_lookup(&dir.vrf_public_key(), &roots[2], 2, "alice/phone", &answer.proof).unwrap();
        verify_history(&dir.vrf_public_key(), &roots[2], 2, "alice/phone", &history.proof).unwrap();
        verify_audit(&roots, &audit).unwrap();
        // While the directory and its runtime are still alive.
        let names = thread_names();
        assert_eq!(started(&names), 1, "threads started: {names:?}");
        drop(dir);
    });
    probe.unwrap().join().unwrap();
}

/// A design (`Send + Sync`) and its devices (`Send`) can hold a directory.
#[test]
fn a_directory_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<KeyDirectory>();
}
