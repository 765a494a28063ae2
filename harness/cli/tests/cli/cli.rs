//! End-to-end tests of the `doormat` binary: the audit loop on the real
//! specs and vectors, determinism, the drift check, and input errors.

use crate::util::{doormat, doormat_bin, files, root, text};
use std::path::Path;
use std::process::{Command, Output};

fn audit_into(dir: &Path) -> Output {
    doormat(&["audit", "--out", dir.to_str().unwrap()])
}

fn json(dir: &Path, design: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(format!("{design}.json"))).unwrap()).unwrap()
}

fn verdict(report: &serde_json::Value, property: &str) -> String {
    report["properties"].as_array().unwrap().iter().find(|p| p["property"] == property).unwrap()["verdict"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The whole loop: an audit of the default set gives, byte for byte, the
/// reports committed in `reports/` (written by another run, of a release
/// build, on another machine); the positive control is caught; the honest
/// baseline passes.
#[test]
fn audit_is_deterministic_and_judges_the_controls() {
    let a = tempfile::tempdir().unwrap();
    let out_a = audit_into(a.path());
    // The backdoored designs contradict their claims: exit 1.
    assert_eq!(out_a.status.code(), Some(1), "stdout: {}\nstderr: {}", text(&out_a.stdout), text(&out_a.stderr));
    let stdout = text(&out_a.stdout);
    assert!(
        stdout.contains("ratchet          all 8 claims held (37 vectors; yes, within stated limits: recipients-only, "),
        "{stdout}"
    );
    assert!(stdout.contains("plaintext-relay  claims only delivers: held"), "{stdout}");
    assert!(
        stdout.contains(
            "ghost            CLAIMS CONTRADICTED: recipients-only [no — 9 of 37 vectors], change-visible [no — "
        ),
        "{stdout}"
    );
    let reports = files(a.path());
    assert_eq!(
        reports,
        files(&root().join("reports")),
        "an audit must give the committed reports byte for byte (regenerate them with the change that moves them)"
    );
    let names: Vec<&str> = reports.iter().map(|(n, _)| n.as_str()).collect();
    // Every built-in design has a spec in `specs/`, so each has its reports.
    let designs = doormat_designs::names();
    let want = designs.iter().flat_map(|d| [format!("{d}.md"), format!("{d}.json")]);
    for want in want.chain(["SCORECARD.md".to_owned()]) {
        assert!(names.contains(&want.as_str()), "missing {want} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "temporary files left: {names:?}");

    let relay = json(a.path(), "plaintext-relay");
    assert_eq!(relay["schema_version"], 1);
    assert_eq!(verdict(&relay, "provider-blind"), "fail", "plaintext-relay must be caught by provider-blind");
    assert_eq!(verdict(&relay, "outsider-blind"), "fail");
    assert_eq!(verdict(&relay, "recipients-only"), "fail");
    assert_eq!(verdict(&relay, "delivers"), "pass");
    let finding = relay["findings"].as_array().unwrap().iter().find(|f| f["property"] == "provider-blind").unwrap();
    let ev = &finding["evidence"][0];
    assert!(
        ev["record"].is_u64() && ev["offset"].is_u64() && ev["encoding"].is_string(),
        "evidence names record, offset, encoding: {ev}"
    );

    let ratchet = json(a.path(), "ratchet");
    for p in ratchet["properties"].as_array().unwrap() {
        assert_ne!(p["claim"], "contradicted", "ratchet must keep its claim of {}", p["property"]);
        assert_ne!(p["verdict"], "error", "ratchet must not error on {}", p["property"]);
    }
    for p in ["provider-blind", "outsider-blind", "integrity", "post-compromise"] {
        assert_eq!(verdict(&ratchet, p), "pass", "ratchet {p}");
    }
    // Trust on first use, the message a newcomer misses while its sender is
    // being told, and a session begun on the signed prekey alone: the limits
    // the spec states.
    for p in ["recipients-only", "change-visible", "delivers", "forward-secrecy"] {
        let claim =
            ratchet["properties"].as_array().unwrap().iter().find(|x| x["property"] == p).unwrap()["claim"].clone();
        assert_eq!(claim, "holds-within-limits", "ratchet {p}: only the vectors of its stated limits may fail");
    }
    // Every headline says who read what, or what changed and who was not
    // told, in at most 30 words; no report for readers is over 50 KB.
    for f in std::fs::read_dir(a.path()).unwrap().map(|e| e.unwrap().path()) {
        let text = std::fs::read_to_string(&f).unwrap();
        if f.extension().is_some_and(|e| e == "md") {
            assert!(text.len() <= 50 * 1024, "{}: {} bytes", f.display(), text.len());
        }
        if f.extension().is_some_and(|e| e == "json") {
            let report: serde_json::Value = serde_json::from_str(&text).unwrap();
            for x in report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .chain(report["observations"].as_array().into_iter().flatten())
            {
                let s = x["sentence"].as_str().unwrap();
                assert!(s.split_whitespace().count() <= 30, "{}: headline over 30 words: {s}", f.display());
            }
        }
    }
    let md = std::fs::read_to_string(a.path().join("ratchet.md")).unwrap();
    let order = [
        "**Promises:**",
        "**Found:**",
        "**Remember:**",
        "## Properties",
        "## Findings",
        "## Vectors",
        "## What this audit cannot see",
    ];
    let pos: Vec<usize> = order.iter().map(|h| md.find(h).unwrap_or_else(|| panic!("{h} missing"))).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "sections out of order");
}

#[test]
fn check_reports_drift_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert_eq!(doormat(&["audit", "--design", "plaintext-relay", "--out", d]).status.code(), Some(0));
    // Timings change no report; they go to standard error and the file.
    let timings = dir.path().with_extension("timings.json");
    let t = timings.to_str().unwrap();
    let ok =
        doormat(&["audit", "--design", "plaintext-relay", "--out", d, "--check", "--timings", "--timings-file", t]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    let table = text(&ok.stderr);
    for row in ["send", "deliver", "trial decrypts", "scan", "judge", "render", "doormat's own share"] {
        assert!(table.contains(row), "no `{row}` in the timings:\n{table}");
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&timings).unwrap()).unwrap();
    let pairs = json["pairs"].as_array().unwrap();
    let said = text(&ok.stdout);
    let vectors: usize =
        said.split(" vectors").next().and_then(|s| s.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap();
    assert_eq!(pairs.len(), vectors, "one entry per (design, vector) pair: {said}");
    assert!(pairs.iter().all(|p| p["design"] == "plaintext-relay"), "{json}");
    let scan: f64 = pairs
        .iter()
        .flat_map(|p| p["phases"].as_array().unwrap())
        .filter(|ph| ph["phase"] == "scan")
        .map(|ph| ph["doormat"].as_f64().unwrap())
        .sum();
    assert!(scan > 0.0, "the scan took no time: {json}");
    assert_eq!(doormat(&["audit", "--timings-file", t]).status.code(), Some(2), "--timings-file needs --timings");
    let md = dir.path().join("plaintext-relay.md");
    let original = std::fs::read_to_string(&md).unwrap();
    std::fs::write(&md, original.replace("## Findings", "## Findingz")).unwrap();
    let before = files(dir.path());
    let drift = doormat(&["audit", "--design", "plaintext-relay", "--out", d, "--check"]);
    assert_eq!(drift.status.code(), Some(1));
    let out = text(&drift.stdout);
    assert!(out.contains("-## Findingz") && out.contains("+## Findings"), "unified diff expected:\n{out}");
    assert_eq!(before, files(dir.path()), "--check must write nothing");
}

#[test]
fn unknown_design_is_a_usage_error() {
    let out = doormat(&["audit", "--design", "nope", "--out", "/nonexistent/never"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown design `nope`"), "{}", text(&out.stderr));
}

#[test]
fn bad_flags_exit_2() {
    assert_eq!(doormat(&["audit", "--frobnicate"]).status.code(), Some(2));
    assert_eq!(doormat(&["validate"]).status.code(), Some(2));
}

#[test]
fn list_shows_designs_and_vectors() {
    let out = doormat(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    let s = text(&out.stdout);
    assert!(s.contains("ratchet") && s.contains("plaintext-relay") && s.contains("thousand-messages"), "{s}");
}

#[test]
fn validate_accepts_the_shipped_files() {
    let out = doormat(&["validate", "specs", "vectors", "bench/vectors"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Malformed inputs: the message names file:line:column and what was
/// expected, shows the line, and the exit code is 2.
#[test]
fn malformed_vectors_exit_2_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("unknown-field", "title: t\nseed: 1\ncolour: red\nusers: [a]\nsteps:\n  - register: {user: a}\n", ":3:1: unknown field `colour`, expected one of"),
        ("wrong-type", "title: t\nseed: one\nusers: [a]\nsteps:\n  - register: {user: a}\n", ":2:7: seed: invalid type: string \"one\", expected u64"),
        ("bad-indent", "title: t\n seed: 1\nusers: [a]\nsteps: []\n", ":2:"),
        ("duplicate-key", "title: t\nseed: 1\nusers: [a]\nseed: 2\nsteps:\n  - register: {user: a}\n", ":4:1: duplicate key `seed`"),
        ("unknown-user", "title: t\nseed: 1\nusers: [alice, bob]\nsteps:\n  - register: {user: alice}\n  - register: {user: bob}\n  - send: {id: m1, from: alice, to: zed}\n", ":7:"),
    ];
    for (name, src, want) in cases {
        let p = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&p, src).unwrap();
        let out = doormat(&["validate", p.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(want), "{name}: expected {want:?} in:\n{err}");
        assert!(err.contains(" | "), "{name}: the source line is shown:\n{err}");
        let first = err.lines().next().unwrap();
        assert!(!first.ends_with('.'), "{name}: no trailing period: {first}");
    }
    let missing = doormat(&["validate", "vectors/does-not-exist.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("vectors/does-not-exist.yaml: no such file or directory"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn bad_vector_stops_the_audit_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let vectors = dir.path().join("v");
    std::fs::create_dir(&vectors).unwrap();
    std::fs::write(
        vectors.join("x.yaml"),
        "title: t\nseed: 1\nusers: [a]\nsteps:\n  - send: {id: m1, from: a, to: b}\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = doormat(&["audit", "--vectors", vectors.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!out_dir.exists(), "no report may be written on bad input");
}

/// README.md quotes the scorecard; the quote must match the committed one.
#[test]
fn readme_quotes_the_committed_scorecard() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let scorecard = std::fs::read_to_string(root().join("reports/SCORECARD.md")).unwrap();
    for line in scorecard.lines().filter(|l| l.starts_with("| [`")) {
        let quoted = line.replace("](", "](reports/");
        assert!(readme.contains(&quoted), "README.md is missing or has a stale scorecard row:\n{quoted}");
    }
}

/// A closed pipe on standard output ends the program quietly.
#[test]
fn a_closed_pipe_is_not_a_panic() {
    let cmd = format!("'{}' list | head -n 1", doormat_bin());
    let out = Command::new("sh").args(["-c", &cmd]).current_dir(root()).output().unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "designs (built in):\n");
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
}

/// RFC 7748 section 6.1 in Wycheproof's JSON shape (one valid case).
const X25519_JSON: &str = r#"{"algorithm": "XDH", "numberOfTests": 1, "testGroups": [{"type": "XdhComp", "curve": "curve25519",
  "tests": [{"tcId": 1, "comment": "RFC 7748 6.1", "flags": [], "result": "valid",
    "private": "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    "public": "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
    "shared": "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"}]}]}"#;

/// A known-answer entry may point to a file kept elsewhere, pinned by its
/// SHA-256; a missing file, a changed one and a pointer to a pointer are
/// input errors naming the entry's line.
#[test]
fn kat_entries_point_to_upstream_files() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("upstream")).unwrap();
    std::fs::create_dir_all(dir.path().join("kat")).unwrap();
    std::fs::write(dir.path().join("upstream/x25519_test.json"), X25519_JSON).unwrap();
    let sha = hex::encode(Sha256::digest(X25519_JSON.as_bytes()));
    let entry = dir.path().join("kat/x25519-upstream.yaml");
    let kat = |body: &str| {
        std::fs::write(&entry, body).unwrap();
        doormat(&["kat", entry.to_str().unwrap(), "--design", "ratchet"])
    };
    let out = kat(&format!("comment: upstream X25519\ninclude: ../upstream/x25519_test.json\nsha256: \"{sha}\"\n"));
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("X25519") && text(&out.stdout).contains("passed    1"), "{}", text(&out.stdout));

    let wrong = sha.replace(&sha[..2], if &sha[..2] == "00" { "11" } else { "00" });
    let out = kat(&format!("include: ../upstream/x25519_test.json\nsha256: \"{wrong}\"\n"));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("x25519-upstream.yaml:1") && err.contains("the file changed since it was pinned"), "{err}");

    let out = kat("include: ../upstream/missing.json\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.json, which cannot be read"), "{}", text(&out.stderr));

    std::fs::write(dir.path().join("upstream/again.yaml"), "include: x25519_test.json\n").unwrap();
    let out = kat("include: ../upstream/again.yaml\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is itself a pointer"), "{}", text(&out.stderr));

    let out = kat("include: ../upstream/x25519_test.json\nsha: typo\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("sha"), "{}", text(&out.stderr));

    // `validate` reads JSON known-answer files in a `kat` folder too.
    std::fs::remove_file(&entry).unwrap();
    std::fs::write(
        dir.path().join("kat/broken.json"),
        "{\"algorithm\": \"XDH\", \"testGroups\": [{\"tests\": [{\"tcId\": 1}]}]}",
    )
    .unwrap();
    let out = doormat(&["validate", dir.path().join("kat").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("broken.json"), "{}", text(&out.stderr));
}

/// A protocol file runs against the design that implements the protocol
/// only; a changed answer fails with its tcId and exit code 1.
#[test]
fn kat_protocol_files_fail_on_a_changed_answer() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(root().join("vectors/kat/ratchet-protocol.yaml")).unwrap();
    let out = doormat(&["kat", "vectors/kat/ratchet-protocol.yaml", "--design", "ratchet", "--design", "ghost"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let s = text(&out.stdout);
    assert!(s.contains("doormat-ratchet-v1 kdf-chain") && s.contains("not applicable"), "{s}");
    // Change the first byte of tcId 1's identity output.
    let changed = src.replacen("identity: \"5f", "identity: \"60", 1);
    assert_ne!(changed, src);
    let f = dir.path().join("ratchet-protocol.yaml");
    std::fs::write(&f, changed).unwrap();
    let out = doormat(&["kat", f.to_str().unwrap(), "--design", "ratchet"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let s = text(&out.stdout);
    assert!(s.contains("FAILED: doormat-ratchet-v1 device-keys tcId 1") && s.contains("`identity` is 5f"), "{s}");
}
