//! The CI gate formats: JUnit and SARIF outputs, partitioned audits whose
//! shards merge into the reports of one run, expected deviations, and the
//! progress bar that only a terminal sees.

use crate::util::{doormat, doormat_bin, files, root, text};
use std::process::Command;

#[test]
fn shards_merge_into_the_reports_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = |s: &str| dir.path().join(s).display().to_string();
    let common = ["--design", "ratchet", "--design", "ghost", "--design", "plaintext-relay"];
    let single_out = d("single");
    let mut single = vec!["audit", "--out", &single_out, "--format", "md,json,junit,sarif"];
    single.extend_from_slice(&common);
    assert_eq!(doormat(&single).status.code(), Some(1));
    for k in ["1/3", "2/3", "3/3"] {
        let shards = d("shards");
        let mut args = vec!["audit", "--partition", k, "--out", &shards];
        args.extend_from_slice(&common);
        let out = doormat(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let shard_files: Vec<String> =
        files(&dir.path().join("shards")).into_iter().map(|(n, _)| d(&format!("shards/{n}"))).collect();
    assert_eq!(shard_files.len(), 3);
    let merged_out = d("merged");
    let mut merge = vec!["merge", "--out", &merged_out, "--format", "md,json,junit,sarif"];
    merge.extend(shard_files.iter().map(String::as_str));
    let out = doormat(&merge);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        files(&dir.path().join("single")),
        files(&dir.path().join("merged")),
        "merged shards must equal one run"
    );
    // A missing shard is refused.
    let out = doormat(&["merge", "--out", &d("bad"), &shard_files[0], &shard_files[1]]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing shard(s): 3/3"), "{}", text(&out.stderr));
    let out = doormat(&["audit", "--partition", "4/3", "--out", &d("x")]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn junit_and_sarif_carry_the_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().display().to_string();
    let out =
        doormat(&["audit", "--design", "ghost", "--design", "ratchet", "--out", &out_dir, "--format", "junit,sarif"]);
    assert_eq!(out.status.code(), Some(1));
    let names: Vec<String> = files(dir.path()).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["doormat.sarif", "junit.xml"]);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert!(
        junit.contains(r#"<testsuite name="ghost" tests="296" skipped="128" errors="0" failures="16">"#),
        "{}",
        &junit[..400]
    );
    assert!(junit.contains(r#"<testsuite name="ratchet" tests="296""#) && junit.contains(r#"failures="0">"#));
    assert!(junit.contains(r#"<testcase name="ghost-mid-group / recipients-only">"#));
    assert!(
        junit.contains("skipped message=\"fails within a limit the spec states\""),
        "ratchet's stated limit is a skip, not a failure"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("doormat.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 8);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let ghost = results
        .iter()
        .find(|r| r["ruleId"] == "recipients-only" && r["properties"]["vector"] == "ghost-mid-group")
        .unwrap();
    assert_eq!(ghost["level"], "error");
    let loc = &ghost["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "vectors/provider-moves/ghost-mid-group.yaml");
    let line = loc["region"]["startLine"].as_u64().unwrap() as usize;
    let src = std::fs::read_to_string(root().join("vectors/provider-moves/ghost-mid-group.yaml")).unwrap();
    assert!(
        src.lines().nth(line - 1).unwrap().contains("send: {id: m4"),
        "the result points at the step where access happened"
    );
}

#[test]
fn expected_deviations_pass_the_gate_and_stale_ones_fail_it() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected");
    std::fs::create_dir(&expected).unwrap();
    let dev = "design: ghost\ndeviations:\n  - vector: \"ghost-*\"\n    property: \"*\"\n    reason: the positive control for hidden participants\n  - vector: provider-adds-member\n    property: \"*\"\n    reason: same\n  - vector: \"substitute-*\"\n    property: \"*\"\n    reason: same\n  - vector: replay-before-delivery\n    property: \"*\"\n    reason: a generated regression with a ghost\n  - vector: double-substitution\n    property: \"*\"\n    reason: a generated regression with impostors\n";
    std::fs::write(expected.join("ghost.yaml"), dev).unwrap();
    let out_dir = dir.path().join("out").display().to_string();
    let run = || {
        doormat(&[
            "audit",
            "--design",
            "ghost",
            "--expected",
            expected.to_str().unwrap(),
            "--out",
            &out_dir,
            "--format",
            "md,junit",
        ])
    };
    let ok = run();
    assert_eq!(ok.status.code(), Some(0), "{}{}", text(&ok.stdout), text(&ok.stderr));
    assert!(text(&ok.stdout).contains("nothing unexpected: 16 expected deviation(s)"), "{}", text(&ok.stdout));
    let junit = std::fs::read_to_string(dir.path().join("out/junit.xml")).unwrap();
    assert!(junit.contains("expected deviation: the positive control for hidden participants"));
    // A deviation that no longer happens fails the gate, so the file stays honest.
    std::fs::write(
        expected.join("ghost.yaml"),
        format!("{dev}  - vector: one-to-one\n    property: integrity\n    reason: stale\n"),
    )
    .unwrap();
    let stale = run();
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        text(&stale.stdout).contains("expected deviation `one-to-one` / `integrity` no longer happens"),
        "{}",
        text(&stale.stdout)
    );
    // A deviation without a reason is bad input.
    std::fs::write(
        expected.join("ghost.yaml"),
        "design: ghost\ndeviations:\n  - vector: x\n    property: \"*\"\n    reason: \"\"\n",
    )
    .unwrap();
    assert_eq!(run().status.code(), Some(2));
}

/// The bar appears on a terminal (run under `script`, which gives the
/// program one), without colour codes under NO_COLOR, and never in a pipe.
#[test]
fn progress_is_shown_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let bin = doormat_bin();
    let cmd = format!("{bin} audit --design plaintext-relay --vectors vectors/long --out {}", dir.path().display());
    let piped = doormat(&[
        "audit",
        "--design",
        "plaintext-relay",
        "--vectors",
        "vectors/long",
        "--out",
        &dir.path().display().to_string(),
    ]);
    assert!(!text(&piped.stderr).contains("plaintext-relay: "), "no bar in a pipe: {:?}", text(&piped.stderr));
    let has_script = Command::new("script").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(has_script, "the `script` command (util-linux) is needed to give doormat a terminal");
    let tty = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let shown = text(&tty.stdout);
    assert!(shown.contains("plaintext-relay"), "{shown:?}");
    assert!(!shown.contains("\u{1b}[36m") && !shown.contains("\u{1b}[34m"), "no colour under NO_COLOR: {shown:?}");
}
