//! The work queue: the results of an audit do not depend on how many
//! workers run it, and come back in spec and vector order.
#![allow(clippy::unwrap_used)]

use doormat_audit::{Loaded, Selection};
use doormat_formats::{Scenario, Spec, Vector};
use doormat_report::{render_json, DesignAudit};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A vector of `extra` more messages than the smallest: sizes differ, so
/// the queue's largest-first order is not the vectors' order.
fn vector(id: &str, extra: usize) -> Scenario {
    let mut src = String::from(
        "seed: 5\nusers: [alice, bob, carol]\nsteps:\n  - register: {user: alice}\n  - register: {user: bob}\n  - register: {user: carol}\n  - group: {id: team, members: [alice, bob, carol]}\n  - send: {id: m0, from: alice, to: team}\n",
    );
    for i in 1..=extra {
        src.push_str(&format!("  - send: {{id: m{i}, from: bob, to: team}}\n"));
    }
    src.insert_str(0, &format!("title: A group of three, {extra} more messages\n"));
    Vector::parse(&format!("vectors/{id}.yaml"), id, &src).unwrap()
}

fn selection() -> Selection {
    let designs = ["ghost", "plaintext-relay", "ratchet"]
        .iter()
        .map(|id| {
            let src = format!(
                "id: {id}\ntitle: The {id} design\nsummary: A design for tests.\nimplementation: {{builtin: {id}}}\nclaims: [delivers]\n"
            );
            let spec = Spec::parse(&format!("specs/{id}.yaml"), id, &src).unwrap();
            Loaded { spec, design: doormat_designs::builtin(id).unwrap() }
        })
        .collect();
    // Ids in one order, sizes in another.
    let scenarios = vec![vector("a-small", 0), vector("b-large", 6), vector("c-middle", 3)];
    Selection { designs, scenarios }
}

/// Each design's JSON report from a run with `jobs` workers.
fn reports(selection: &Selection, jobs: usize) -> Vec<String> {
    let calls = AtomicUsize::new(0);
    let results = selection
        .run(jobs, &|_, _, _| {
            calls.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 9, "one call a (design, vector) pair");
    assert_eq!(results.len(), 3);
    for rs in &results {
        let ids: Vec<&str> = rs.iter().map(|r| r.vector.as_str()).collect();
        assert_eq!(ids, ["a-small", "b-large", "c-middle"], "each design's results in vector order");
    }
    selection.designs.iter().zip(results).map(|(l, rs)| render_json(&DesignAudit::new(&l.spec, rs))).collect()
}

#[test]
fn reports_are_the_same_on_1_2_and_16_workers() {
    let selection = selection();
    let one = reports(&selection, 1);
    assert!(one.iter().all(|r| r.contains("b-large") && r.contains("c-middle")), "every report covers every vector");
    for jobs in [2, 16] {
        let many = reports(&selection, jobs);
        for (a, b) in one.iter().zip(&many) {
            assert!(a == b, "a report differs between 1 and {jobs} workers");
        }
    }
}
