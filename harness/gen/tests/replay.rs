//! The fuzz targets' committed seed corpora and every crash input kept in
//! `fuzz/regressions/`, replayed as ordinary tests through the same entry
//! points the fuzzers call.
#![allow(clippy::unwrap_used)]

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for (dir, seeds_only) in [("corpus", true), ("regressions", false)] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else { continue };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if (seeds_only && !name.starts_with("seed-")) || name.starts_with('.') {
                continue;
            }
            run(&std::fs::read(&f).unwrap());
            n += 1;
        }
    }
    n
}

#[test]
fn fuzz_inputs_replay_without_panics() {
    use doormat_gen::fuzz;
    let counts = [
        ("spec", replay("spec", fuzz::spec)),
        ("vector", replay("vector", fuzz::vector)),
        ("wire", replay("wire", fuzz::wire)),
        ("decrypt", replay("decrypt", fuzz::decrypt)),
        ("scenario", replay("scenario", fuzz::scenario)),
    ];
    for (t, n) in counts {
        assert!(n > 0, "no committed inputs for fuzz target `{t}`");
    }
}
