//! `kt-ratchet` against a provider that lies with its key directory, run
//! through the engine (the provider runs the design's directory): each of
//! the three strategies on a substitution at first contact, the same
//! vector against `ratchet` (the positive control: nobody can tell), and an
//! honest provider (no notice at all).

#![cfg(feature = "kt")]
#![allow(clippy::unwrap_used)]

use doormat_engine::run::{Reader, Run};
use doormat_engine::{EventKind, Strategy};
use doormat_formats::{Action, DeviceAddr, Scenario, Vector};

const FIRST_CONTACT: &str = include_str!("../../../vectors/provider-moves/substitute-first-contact.yaml");
const ONE_TO_ONE: &str = include_str!("../../../vectors/basic/one-to-one.yaml");

fn scenario(src: &str) -> Scenario {
    Vector::parse("vector.yaml", "vector", src).unwrap()
}

/// The first-contact substitution with a gossip step after the first two
/// messages (Alice's and Bob's devices compare heads with the auditor).
fn with_gossip() -> Scenario {
    let src = FIRST_CONTACT.replace(
        "  - verify: {users: [alice, bob]}",
        "  - gossip: {}\n  - send: {id: m9, from: alice, to: bob}\n  - verify: {users: [alice, bob]}",
    );
    assert_ne!(src, FIRST_CONTACT);
    scenario(&src)
}

fn run(design: &str, scenario: &Scenario, strategy: Strategy) -> Run {
    let d = doormat_designs::builtin(design).unwrap();
    let run = doormat_engine::run_with(d.as_ref(), scenario, Some(strategy));
    assert_eq!(run.aborted, None, "{design}, {strategy:?}");
    assert!(run.failures.is_empty(), "{design}, {strategy:?}: {:?}", run.failures);
    run
}

fn addr(s: &str) -> DeviceAddr {
    DeviceAddr::parse(s).unwrap()
}

/// Message ids the impostor for bob/phone read, in order.
fn impostor_read(run: &Run) -> Vec<String> {
    let mut ids: Vec<String> = run
        .reads
        .iter()
        .filter(|r| r.reader == Reader::Impostor(addr("bob/phone")))
        .flat_map(|r| r.messages.iter().map(|&m| run.truth.messages[m].id.0.clone()))
        .collect();
    ids.dedup();
    ids
}

/// (step, device, kind) of every key-directory notice.
fn directory_notices(run: &Run) -> Vec<(usize, String, EventKind)> {
    run.shown
        .iter()
        .filter(|s| matches!(s.event.kind, EventKind::KeyNotMine | EventKind::ViewSplit))
        .map(|s| (s.step, s.device.to_string(), s.event.kind))
        .collect()
}

#[test]
fn ratchet_is_fooled_at_first_contact_and_nobody_can_tell() {
    let run = run("ratchet", &with_gossip(), Strategy::Publish);
    assert_eq!(impostor_read(&run), ["m1", "m2", "m9"]);
    assert!(directory_notices(&run).is_empty());
}

#[test]
fn a_forged_proof_is_refused_and_the_impostor_reads_nothing() {
    let run = run("kt-ratchet", &with_gossip(), Strategy::Forge);
    assert_eq!(impostor_read(&run), Vec::<String>::new());
    assert!(directory_notices(&run).is_empty(), "{:?}", directory_notices(&run));
    // Bob's real phone gets nothing either: Alice's client refused what the
    // provider served for it, and the message is withheld, not misread.
    assert!(!run.reads.iter().any(|r| r.reader == Reader::Device(addr("bob/phone"))));
}

#[test]
fn a_published_lie_is_seen_by_its_owner_in_the_epoch_it_appears() {
    let s = with_gossip();
    let run = run("kt-ratchet", &s, Strategy::Publish);
    // The lie holds for the lookups: the impostor reads until the users act.
    assert_eq!(impostor_read(&run), ["m1", "m2", "m9"]);
    let substitute = s.steps.iter().find(|st| matches!(st.action, Action::Substitute { .. })).unwrap().number;
    assert_eq!(directory_notices(&run), [(substitute, "bob/phone".to_string(), EventKind::KeyNotMine)]);
}

#[test]
fn a_split_view_is_caught_at_the_first_comparison_with_the_auditor() {
    let s = with_gossip();
    let run = run("kt-ratchet", &s, Strategy::SplitView);
    assert_eq!(impostor_read(&run), ["m1", "m2", "m9"]);
    let gossip = s.steps.iter().find(|st| matches!(st.action, Action::Gossip { .. })).unwrap().number;
    // The owner's directory never held the lie; Alice's differs from the
    // auditor's from the substitution on.
    assert_eq!(directory_notices(&run), [(gossip, "alice/phone".to_string(), EventKind::ViewSplit)]);
    // Without a comparison, nobody can tell (a stated limit).
    let run = self::run("kt-ratchet", &scenario(FIRST_CONTACT), Strategy::SplitView);
    assert_eq!(impostor_read(&run), ["m1", "m2"]);
    assert!(directory_notices(&run).is_empty());
}

#[test]
fn an_honest_provider_gives_no_directory_notice() {
    for strategy in Strategy::ALL {
        let mut s = scenario(ONE_TO_ONE);
        s.steps.extend(with_gossip().steps.into_iter().filter(|st| matches!(st.action, Action::Gossip { .. })).map(
            |mut st| {
                st.number = 1000;
                st
            },
        ));
        let run = run("kt-ratchet", &s, strategy);
        assert!(run.shown.is_empty(), "{strategy:?}: {:?}", run.shown);
        assert!(run.reads.iter().all(|r| matches!(r.reader, Reader::Device(_))), "{strategy:?}");
        // Every message reached its recipient: every proof held.
        let read: std::collections::BTreeSet<usize> = run.reads.iter().flat_map(|r| r.messages.clone()).collect();
        assert_eq!(read.len(), run.truth.messages.len(), "{strategy:?}");
        assert!(!run.truth.messages.is_empty());
    }
}

#[test]
fn the_strategy_a_vector_names_is_the_one_run() {
    let src = FIRST_CONTACT.replace("for: [alice]}", "for: [alice], strategy: forge}");
    assert_ne!(src, FIRST_CONTACT);
    let s = scenario(&src);
    assert_eq!(doormat_engine::named_strategy(&s), Some(Strategy::Forge));
    let d = doormat_designs::builtin("kt-ratchet").unwrap();
    let run = doormat_engine::run(d.as_ref(), &s);
    assert_eq!(impostor_read(&run), Vec::<String>::new());
    // `all` names none: the run's own (here the default, publish).
    let s = scenario(&FIRST_CONTACT.replace("for: [alice]}", "for: [alice], strategy: all}"));
    assert_eq!(doormat_engine::named_strategy(&s), None);
    assert_eq!(impostor_read(&doormat_engine::run(d.as_ref(), &s)), ["m1", "m2"]);
}

/// change-visible's grade and evidence, judged on a run.
fn change_visible(run: &Run) -> (doormat_oracles::Verdict, Option<String>, String) {
    let r = doormat_oracles::judge::judge(run, &doormat_formats::Parameters::default());
    let j = r.judgement(doormat_formats::Property::ChangeVisible).unwrap();
    let evidence = j.findings.iter().flat_map(|f| f.evidence.iter().map(|e| e.text.clone())).collect::<Vec<_>>();
    (j.verdict, j.grade.clone(), evidence.join("\n"))
}

/// The senders were not told, but the directory found the lie out: the
/// grade says by whom, the evidence when and how much was read before.
/// The verdict stays a failure (the sender was not told); a forged proof
/// is prevented, and the positive control is silent.
#[test]
fn change_visible_says_who_detected_the_lie_and_when() {
    use doormat_oracles::Verdict;
    let s = with_gossip();
    let (v, grade, ev) = change_visible(&run("kt-ratchet", &s, Strategy::Publish));
    assert_eq!((v, grade.as_deref()), (Verdict::Fail, Some("detected by the owner")), "{ev}");
    assert!(ev.contains("bob/phone was shown \"a key it never published under its name\" at step 3 (detected by the owner), when the impostor for bob/phone had read 0 messages"), "{ev}");
    let (v, grade, ev) = change_visible(&run("kt-ratchet", &s, Strategy::SplitView));
    assert_eq!((v, grade.as_deref()), (Verdict::Fail, Some("detected by an auditor")), "{ev}");
    assert!(ev.contains("(detected by an auditor), when the impostor for bob/phone had read 2 messages"), "{ev}");
    let (v, grade, _) = change_visible(&run("kt-ratchet", &s, Strategy::Forge));
    assert_eq!((v, grade.as_deref()), (Verdict::Pass, Some("prevented")));
    let (v, grade, _) = change_visible(&run("ratchet", &s, Strategy::Publish));
    assert_eq!((v, grade.as_deref()), (Verdict::Fail, Some("silent")));
    // Split view without a comparison: nobody found it out.
    let (v, grade, _) = change_visible(&run("kt-ratchet", &scenario(FIRST_CONTACT), Strategy::SplitView));
    assert_eq!((v, grade.as_deref()), (Verdict::Fail, Some("silent")));
}
