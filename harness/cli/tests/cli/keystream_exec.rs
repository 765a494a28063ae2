//! Keystream reuse behind a valid MAC, through the exec protocol: the Python
//! example `harness/adapters/keystream` (AES-256-CTR with a counter block
//! fixed per pair of devices, HMAC-SHA256 over the whole envelope) delivers
//! every message with a valid tag, and `doormat_oracles::keystream` finds
//! the two-time pads in what the provider stored. Its virtual environment is
//! made by the project's own script (python3 and PyPI; a failure is loud).

use crate::util::{doormat, root, selftest, setup_adapters, text, vector};
use doormat_audit::{run_judged, Judged};
use doormat_formats::{Parameters, Property};
use doormat_oracles::keystream::{self, Kind};
use doormat_oracles::Verdict;
use std::path::Path;

fn design() -> doormat_exec::ExecDesign {
    let python = root().join("harness/adapters/.venv/bin/python3");
    let cmd = doormat_exec::Command {
        program: python.display().to_string(),
        args: vec!["adapter.py".to_owned()],
        cwd: Some(root().join("harness/adapters/keystream")),
    };
    doormat_exec::ExecDesign::new("keystream", cmd, doormat_exec::Limits::default())
}

/// The library-level check: run the design through the engine and ask the
/// keystream module directly (it is not yet part of the provider-blind
/// verdict).
#[test]
fn keystream_reuse_behind_a_valid_mac_is_caught_through_the_exec_protocol() {
    setup_adapters();
    // It speaks the protocol as PROTOCOL.md says (the self-test written
    // from it alone).
    selftest(Path::new("harness/adapters/keystream/keystream.yaml"));
    let d = design();
    // Every tag verifies and nothing tampered is accepted: the messages are
    // delivered, and the copies the provider flipped, cut, spliced and
    // forged are refused.
    let Judged { run: tampered, result: judged } =
        run_judged(&d, &vector("vectors/provider-moves/tamper.yaml"), &Parameters::default());
    assert_eq!(tampered.aborted, None, "{:?}", tampered.failures);
    for p in [Property::Delivers, Property::Integrity] {
        let j = judged.judgement(p).unwrap();
        assert_eq!(j.verdict, Verdict::Pass, "{p:?}: {j:#?}");
    }
    let pads = keystream::find(&tampered);
    assert!(pads.iter().any(|r| r.kind == Kind::TwoTimePad), "{pads:?}");

    let Judged { run, result: judged } =
        run_judged(&d, &vector("vectors/basic/one-to-one.yaml"), &Parameters::default());
    assert_eq!(run.aborted, None, "{:?}", run.failures);
    assert_eq!(judged.judgement(Property::Delivers).unwrap().verdict, Verdict::Pass);
    let found = keystream::find(&run);
    let id = |m: usize| run.truth.messages[m].id.as_str();
    let pads: Vec<(&str, &str)> = found
        .iter()
        .filter(|r| r.kind == Kind::TwoTimePad)
        .map(|r| (id(r.first.message), id(r.second.message)))
        .collect();
    // alice → bob: m1, m3, m4; bob → alice: m2, m5.
    for pair in [("m1", "m3"), ("m1", "m4"), ("m2", "m5")] {
        assert!(pads.contains(&pair), "{pair:?} in {pads:?}");
    }
    // The headers differ in length (the counter's digits, the sender's name),
    // the keystream is found wherever the ciphertext starts.
    for r in &found {
        let (p1, p2) =
            (&run.truth.messages[r.first.message].plaintext, &run.truth.messages[r.second.message].plaintext);
        let (b1, b2) = (&run.envelopes[r.first.envelope].body, &run.envelopes[r.second.envelope].body);
        assert!(r.len >= 32, "{r:?}");
        for i in 0..r.len.min(p1.len() - r.first.plaintext).min(p2.len() - r.second.plaintext) {
            assert_eq!(
                b1[r.first.offset + i] ^ b2[r.second.offset + i],
                p1[r.first.plaintext + i] ^ p2[r.second.plaintext + i]
            );
        }
    }
    let f = keystream::findings(&run);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].sentence.starts_with("A provider who knows or guesses one message reads another"),
        "{}",
        f[0].sentence
    );
    assert!(
        f[0].evidence[0].text.starts_with("a provider who knows or guesses m1 reads m3"),
        "{}",
        f[0].evidence[0].text
    );
}

/// The report-level check, for when the keystream findings are part of
/// provider-blind: the audit contradicts the claim.
#[test]
fn the_audit_contradicts_provider_blind_for_keystream_reuse() {
    setup_adapters();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ks");
    let r = doormat(&[
        "audit",
        "--allow-exec",
        "--spec",
        "harness/adapters/keystream/keystream.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(1), "{}{}", text(&r.stdout), text(&r.stderr));
    assert!(text(&r.stdout).contains("CLAIMS CONTRADICTED: provider-blind [no — "), "{}", text(&r.stdout));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("keystream.json")).unwrap()).unwrap();
    let pb = report["findings"].as_array().unwrap().iter().find(|f| f["property"] == "provider-blind").unwrap();
    assert!(
        pb["sentence"].as_str().unwrap().starts_with("A provider who knows or guesses one message reads another"),
        "{pb}"
    );
}
