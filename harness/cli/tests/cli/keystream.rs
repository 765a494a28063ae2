//! No built-in design (mls, olm and megolm included: this crate builds them)
//! is caught by `doormat_oracles::keystream` on any scenario vector: neither
//! a two-time pad nor deterministic encryption.

use crate::util::root;

/// Every shipped scenario vector, as `doormat audit` loads them.
fn every_vector() -> Vec<doormat_formats::Scenario> {
    let all = doormat_audit::load::vectors(&[root().join("vectors")]).unwrap();
    assert!(all.len() > 20, "{} vectors", all.len());
    all
}

#[test]
fn no_builtin_design_is_caught_on_any_vector() {
    let vectors = every_vector();
    let names = doormat_designs::names();
    assert!(names.contains(&"mls") && names.contains(&"olm") && names.contains(&"megolm"), "{names:?}");
    // One thread per design, at most two at a time.
    let names: std::sync::Mutex<Vec<&str>> = std::sync::Mutex::new(names);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(name) = names.lock().unwrap().pop() else { break };
                let design = doormat_designs::builtin(name).unwrap();
                for v in &vectors {
                    let run = doormat_engine::run(design.as_ref(), v);
                    let found = doormat_oracles::keystream::find(&run);
                    assert_eq!(found, Vec::new(), "{name} on {}", v.id);
                }
            });
        }
    });
}
