//! No built-in design (mls, olm and megolm included: this crate builds them)
//! is caught by `doormat_oracles::keystream` on any scenario vector: neither
//! a two-time pad nor deterministic encryption.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use doormat_formats::Vector;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn every_vector() -> Vec<doormat_formats::Scenario> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "kat") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&root().join("vectors"), &mut paths);
    paths.sort();
    assert!(paths.len() > 20, "{paths:?}");
    paths
        .iter()
        .map(|p| {
            let src = std::fs::read_to_string(p).unwrap();
            let id = p.file_stem().unwrap().to_string_lossy().into_owned();
            Vector::parse(&p.display().to_string(), &id, &src).unwrap()
        })
        .collect()
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
