//! The red team over the exec protocol: `harness/adapters/tricks/adapter.py`
//! runs one honest design (Python, on `cryptography`) with exactly one cheap
//! trick chosen by `--trick`, and each spec of `harness/adapters/tricks/`
//! claims the property its trick pretends to have. Each trick must be caught
//! by the oracle named, with the evidence a reader needs; the same spec run
//! with `--trick none` (the control, through `--impl`) must not be, so each
//! test shows that its vector tells the trick from the honest design. The
//! control's own spec keeps every claim over every default vector.
//!
//! This is the exec-protocol twin of `harness/oracles/tests/tricks.rs`.

use crate::util::{doormat, setup_adapters, text};
use serde_json::Value;

const SEIZE: &str = "vectors/seizure/seize-and-heal.yaml";
const GHOST: &str = "vectors/provider-moves/ghost-one-to-one.yaml";
const MEMBER: &str = "vectors/provider-moves/provider-adds-member.yaml";
const BASIC: &str = "vectors/basic/one-to-one.yaml";

/// The control's implementation, run from the repository root.
const CONTROL: &str = "exec:harness/adapters/.venv/bin/python3 harness/adapters/tricks/adapter.py --trick none";

/// One audit's JSON report and exit code.
struct Audit {
    code: Option<i32>,
    report: Value,
    console: String,
}

impl Audit {
    /// The verdict of `property` in the one vector audited.
    fn verdict(&self, property: &str) -> String {
        let vectors = self.report["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 1, "{}", self.console);
        let j = vectors[0]["judgements"].as_array().unwrap().iter().find(|j| j["property"] == property).unwrap();
        j["verdict"].as_str().unwrap().to_owned()
    }

    /// The claim about `property` over the whole audit (`contradicted`, `holds`, ...).
    fn claim(&self, property: &str) -> String {
        let p = self.report["properties"].as_array().unwrap().iter().find(|p| p["property"] == property).unwrap();
        p["claim"].as_str().unwrap().to_owned()
    }

    /// Every evidence line of the findings about `property`, one per line.
    fn evidence(&self, property: &str) -> String {
        let mut lines = Vec::new();
        for f in self.report["findings"].as_array().unwrap().iter().filter(|f| f["property"] == property) {
            for e in f["evidence"].as_array().unwrap() {
                lines.push(e["text"].as_str().unwrap().to_owned());
            }
        }
        lines.join("\n")
    }
}

/// Audits the spec `tricks/<trick>.yaml` on `vectors` (a file or folder),
/// with the implementation the spec names, or with `implementation`.
fn audit(trick: &str, vectors: &str, implementation: Option<&str>) -> Audit {
    setup_adapters();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let spec = format!("harness/adapters/tricks/{trick}.yaml");
    let mut args = vec!["audit", "--spec", &spec, "--vectors", vectors, "--out", out.to_str().unwrap()];
    match implementation {
        Some(imp) => args.extend(["--impl", imp]),
        None => args.push("--allow-exec"),
    }
    let o = doormat(&args);
    let console = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert!(matches!(o.status.code(), Some(0 | 1)), "doormat audit {args:?} broke:\n{console}");
    let json = std::fs::read_to_string(out.join(format!("{trick}.json"))).unwrap();
    Audit { code: o.status.code(), report: serde_json::from_str(&json).unwrap(), console }
}

/// The control keeps every claim (provider-blind, recipients-only,
/// outsider-blind, change-visible, delivers, integrity) over every default
/// vector, within the limits its spec states: no false finding.
#[test]
fn the_control_keeps_every_claim_over_every_vector() {
    let a = audit("none", "vectors", None);
    assert_eq!(a.code, Some(0), "{}", a.console);
    assert_eq!(a.report["outcome"]["contradicted"], serde_json::json!([]), "{}", a.console);
    assert_eq!(a.report["outcome"]["broken_vectors"], 0, "{}", a.console);
    assert!(a.report["vectors"].as_array().unwrap().len() >= 30, "every default vector ran: {}", a.console);
    for p in ["provider-blind", "recipients-only", "outsider-blind", "change-visible", "delivers", "integrity"] {
        assert!(a.claim(p).starts_with("holds"), "{p}: {}", a.claim(p));
    }
}

/// A replay cache is not forward secrecy: the seized copy's own decrypt
/// refuses every old envelope (its "seen" set), its forensic open reads them.
#[test]
fn a_replay_cache_does_not_pass_for_forward_secrecy() {
    let a = audit("replay-cache", SEIZE, None);
    assert_eq!(a.code, Some(1), "{}", a.console);
    assert_eq!(a.verdict("forward-secrecy"), "fail");
    assert_eq!(a.claim("forward-secrecy"), "contradicted");
    let ev = a.evidence("forward-secrecy");
    assert!(ev.contains("a copy of bob/phone's state seized at step 7"), "{ev}");
    assert!(ev.contains("opened the provider's copy with the keys the state holds"), "{ev}");
    // The trick at work: only the keys read, the copy's client refused all.
    assert!(!ev.contains("decrypted it with the design's own code"), "{ev}");
}

/// Plaintext kept in the state (as JSON numbers) is found in the seized
/// state, although no key of the device opens the message again.
#[test]
fn plaintext_history_in_the_state_fails_forward_secrecy() {
    let a = audit("history-in-state", SEIZE, None);
    assert_eq!(a.code, Some(1), "{}", a.console);
    assert_eq!(a.verdict("forward-secrecy"), "fail");
    assert_eq!(a.claim("forward-secrecy"), "contradicted");
    let ev = a.evidence("forward-secrecy");
    // m2 is bob's own: no key of his opens it again, but his state kept it.
    assert!(ev.contains("holds the text of m2") && ev.contains("JSON array of byte numbers"), "{ev}");
    let control = audit("history-in-state", SEIZE, Some(CONTROL));
    assert!(!control.evidence("forward-secrecy").contains("holds the text of"), "the control keeps no history");
}

/// One key in every copy of the app, behind an address check: the twin
/// (same names, never enrolled) reads.
#[test]
fn an_app_wide_key_behind_an_address_check_fails_outsider_blind() {
    let a = audit("app-key", BASIC, None);
    assert_eq!(a.code, Some(1), "{}", a.console);
    assert_eq!(a.verdict("outsider-blind"), "fail");
    assert_eq!(a.claim("outsider-blind"), "contradicted");
    let ev = a.evidence("outsider-blind");
    assert!(ev.contains("a fresh install of the app calling itself bob/phone"), "{ev}");
    assert_eq!(a.verdict("recipients-only"), "pass", "the address check keeps the other devices out");
    let control = audit("app-key", BASIC, Some(CONTROL));
    assert_eq!(control.verdict("outsider-blind"), "pass", "{}", control.evidence("outsider-blind"));
}

/// A warning in the same operation that sends to the ghost is not "told".
#[test]
fn a_warning_while_sending_does_not_count_as_told() {
    let a = audit("late-warning", GHOST, None);
    assert_eq!(a.code, Some(1), "{}", a.console);
    assert_eq!(a.verdict("change-visible"), "fail");
    assert_eq!(a.claim("change-visible"), "contradicted");
    let ev = a.evidence("change-visible");
    assert!(ev.contains("warned only while sending"), "{ev}");
    assert_eq!(a.verdict("recipients-only"), "fail", "the ghost's read is hidden access");
    let control = audit("late-warning", GHOST, Some(CONTROL));
    assert_eq!(control.verdict("change-visible"), "pass", "{}", control.evidence("change-visible"));
    assert_eq!(control.verdict("recipients-only"), "pass", "{}", control.evidence("recipients-only"));
}

/// A member the provider lists, added at once and announced with the
/// message that already goes to it, was not told about.
#[test]
fn a_member_the_provider_lists_and_announces_while_sending_is_not_told() {
    let a = audit("provider-member", MEMBER, None);
    assert_eq!(a.code, Some(1), "{}", a.console);
    assert_eq!(a.verdict("change-visible"), "fail");
    assert_eq!(a.claim("change-visible"), "contradicted");
    let ev = a.evidence("change-visible");
    assert!(ev.contains("warned only while sending") && ev.contains("mallory"), "{ev}");
    let control = audit("provider-member", MEMBER, Some(CONTROL));
    assert_eq!(control.verdict("change-visible"), "pass", "{}", control.evidence("change-visible"));
}

/// A design that names no sender has not delivered.
#[test]
fn a_null_sender_is_not_a_delivery() {
    let a = audit("no-sender", BASIC, None);
    assert_eq!(a.code, Some(1), "{}", a.console);
    assert_eq!(a.verdict("delivers"), "fail");
    assert_eq!(a.claim("delivers"), "contradicted");
    let ev = a.evidence("delivers");
    assert!(ev.contains("attributed to nobody"), "{ev}");
    let control = audit("no-sender", BASIC, Some(CONTROL));
    assert_eq!(control.verdict("delivers"), "pass", "{}", control.evidence("delivers"));
}
