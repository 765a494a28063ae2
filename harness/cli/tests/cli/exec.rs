//! The exec adapter end to end: a built-in design served over the protocol
//! gives the same reports as in-process, and hostile or broken
//! implementations become ERROR verdicts without hanging, crashing or
//! corrupting the audit, with every child reaped.

use crate::util::{doormat, doormat_bin, files, hostile_script, root, selftest, setup_adapters, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// python3 runs the hostile scripts; its absence is a loud failure, never a skip.
fn python3() -> &'static str {
    let ok = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "python3 is required by the exec-protocol tests (the hostile implementations are Python scripts); install it"
    );
    "python3"
}

/// The ratchet design over the protocol, on three workers, gives
/// byte-identical reports to the built-in one on one.
#[test]
fn a_design_served_over_the_protocol_gives_the_same_reports() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(root().join("specs/ratchet.yaml")).unwrap();
    let cmd = format!("{} serve ratchet", doormat_bin());
    let spec = spec.replace("implementation:\n  builtin: ratchet", &format!("implementation:\n  exec: \"{cmd}\""));
    assert!(spec.contains("exec:"), "the spec's implementation was replaced");
    std::fs::create_dir(dir.path().join("specs")).unwrap();
    let spec_path = dir.path().join("specs/ratchet.yaml");
    std::fs::write(&spec_path, spec).unwrap();
    // Every scenario vector and the known-answer files: served, the design
    // offers its primitives over the protocol, so the reports' "Known-answer
    // tests" sections must be the same too.
    let vectors = dir.path().join("vectors");
    copy_tree(&root().join("vectors"), &vectors);
    let v = vectors.to_str().unwrap();
    let (a, b) = (dir.path().join("in-process"), dir.path().join("exec"));
    // One worker in process; three over the protocol, each with a child
    // process of its own: the reports must not tell them apart.
    let inproc =
        doormat(&["audit", "--design", "ratchet", "--jobs", "1", "--vectors", v, "--out", a.to_str().unwrap()]);
    assert_eq!(inproc.status.code(), Some(0), "{}", text(&inproc.stderr));
    let exec = doormat(&[
        "audit",
        "--allow-exec",
        "--jobs",
        "3",
        "--spec",
        spec_path.to_str().unwrap(),
        "--vectors",
        v,
        "--out",
        b.to_str().unwrap(),
    ]);
    assert_eq!(exec.status.code(), Some(0), "{}{}", text(&exec.stdout), text(&exec.stderr));
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.len(), 3);
    for ((na, ca), (nb, cb)) in fa.iter().zip(&fb) {
        assert_eq!(na, nb);
        assert!(ca == cb, "{na} differs between the in-process and the exec audit");
    }
    // The known-answer summaries, explicitly: present, non-trivial, equal.
    let kat = |dir: &Path| -> serde_json::Value {
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("ratchet.json")).unwrap()).unwrap();
        report["kat"].clone()
    };
    let (ka, kb) = (kat(&a), kat(&b));
    assert_eq!(ka, kb, "the known-answer summaries differ");
    assert_eq!(ka["files"].as_array().unwrap().len(), 7, "{ka}");
    assert_eq!(ka["protocol"], "doormat-ratchet-v1", "the protocol's functions run over the protocol too: {ka}");
    let passed: u64 = ka["counts"].as_array().unwrap().iter().map(|c| c["passed"].as_u64().unwrap()).sum();
    assert!(passed >= 30, "{ka}");
    assert_eq!(ka["failures"], serde_json::json!([]));
}

/// Copies a folder tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if p.is_dir() {
            copy_tree(&p, &to.join(name));
        } else {
            std::fs::copy(&p, to.join(name)).unwrap();
        }
    }
}

/// Processes whose command line mentions `marker`.
fn running_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = text(&cmd).replace('\0', " ");
            if cmd.contains(marker) && !cmd.contains("cargo") {
                let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                // A zombie ("Z") is a child nobody reaped.
                found.push(format!("{cmd} [{}]", stat.split_whitespace().nth(2).unwrap_or("?")));
            }
        }
    }
    found
}

struct Case {
    mode: &'static str,
    reason: &'static str,
    extra: &'static [&'static str],
}

/// Each misbehaviour ends its vector with an ERROR verdict naming the
/// reason and quoting standard error; the other vector runs in a process
/// of its own and passes; no process is left behind.
#[test]
fn hostile_implementations_become_error_verdicts() {
    python3();
    let cases = [
        Case { mode: "garbage", reason: "is not a valid response object", extra: &[] },
        Case { mode: "wrong-id", reason: "expected 3 (answers must come in order)", extra: &[] },
        Case { mode: "stale", reason: "the response has id 2", extra: &[] },
        Case { mode: "no-result", reason: "needs exactly one of `ok` and `error`", extra: &[] },
        Case { mode: "extra-field", reason: "unknown field `surprise`", extra: &[] },
        Case { mode: "missing-field", reason: "malformed `ok`", extra: &[] },
        Case { mode: "bad-kind", reason: "is not a valid response object", extra: &[] },
        Case { mode: "exit", reason: "exited (exit status: 3)", extra: &[] },
        Case { mode: "kill", reason: "exited (signal: 9", extra: &[] },
        Case { mode: "hang", reason: "did not answer within 1.5 s", extra: &["--timeout", "1.5"] },
        Case { mode: "long-line", reason: "longer than 1048576 bytes", extra: &["--max-line", "1048576"] },
    ];
    let (dir, vectors) = two_vectors();
    for case in &cases {
        let started = Instant::now();
        let (out, out_dir) = hostile_audit(dir.path(), &vectors, case.mode, case.extra);
        assert!(started.elapsed() < Duration::from_secs(60), "{}: the audit took too long", case.mode);
        check_one_vector_broke(case, &out, &out_dir);
    }
}

/// A folder with the spec `hostile.yaml` (the ratchet design's, renamed)
/// and two vectors.
fn two_vectors() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let vectors = dir.path().join("vectors");
    std::fs::create_dir(&vectors).unwrap();
    for v in ["basic/one-to-one.yaml", "basic/third-party-outside.yaml"] {
        std::fs::copy(root().join("vectors").join(v), vectors.join(Path::new(v).file_name().unwrap())).unwrap();
    }
    hostile_spec(dir.path());
    (dir, vectors)
}

/// The audit exited 4; one vector (the one whose process got to the
/// misbehaviour first: vectors may run side by side) is an ERROR with the
/// case's reason and the quoted standard error, and the other ran in a
/// process of its own and passed.
fn check_one_vector_broke(case: &Case, out: &Output, out_dir: &Path) {
    assert_eq!(out.status.code(), Some(4), "{}: exit code; stderr: {}", case.mode, text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("hostile.json")).unwrap()).unwrap();
    let vectors = report["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 2, "{}", case.mode);
    let broke: Vec<&str> = vectors.iter().filter_map(|v| v["error"].as_str()).collect();
    let [first] = broke[..] else { panic!("{}: one vector has an error, not {}: {vectors:?}", case.mode, broke.len()) };
    assert!(first.contains(case.reason), "{}: reason {:?} not in:\n{first}", case.mode, case.reason);
    if !matches!(case.mode, "kill" | "long-line") {
        assert!(first.contains("hostile: misbehaving"), "{}: standard error is quoted:\n{first}", case.mode);
    }
    let md = std::fs::read_to_string(out_dir.join("hostile.md")).unwrap();
    assert!(
        md.contains("could not be judged") && md.contains("Runs that broke"),
        "{}: the Markdown report shows the error",
        case.mode
    );
}

/// Implementations that leave processes behind (background jobs holding
/// standard output, `setsid` daemons with and without the run's token,
/// twenty forked children) or that send too much (envelopes, requests,
/// list items, bytes): each ends its vector in an ERROR verdict with the
/// reason, within the timeout and a margin (the processes left behind
/// sleep 60 s, so a read that waited for end-of-file would take that long),
/// and nothing of it is left running.
#[test]
fn escaping_and_flooding_implementations_become_error_verdicts() {
    python3();
    let cases = [
        Case { mode: "background-holds-stdout", reason: "did not answer within 2 s", extra: &["--timeout", "2"] },
        Case { mode: "background-then-exit", reason: "exited (exit status: 3)", extra: &["--timeout", "2"] },
        Case { mode: "setsid-daemon", reason: "did not answer within 2 s", extra: &["--timeout", "2"] },
        Case { mode: "setsid-daemon-noenv", reason: "did not answer within 2 s", extra: &["--timeout", "2"] },
        Case { mode: "fork-20-children", reason: "did not answer within 2 s", extra: &["--timeout", "2"] },
        Case {
            mode: "envelope-flood@encrypt",
            reason: "(`encrypt`): 20000 envelopes in one answer: expected at most 10000 (the envelope limit)",
            extra: &["--timeout", "2"],
        },
        Case {
            mode: "huge-answer@encrypt",
            reason: "(`encrypt`): the implementation wrote a line longer than 8388608 bytes (the line limit)",
            extra: &["--timeout", "2"],
        },
        Case {
            mode: "request-flood@encrypt",
            reason: "the run needs more than 5000 requests of the implementation (the request limit)",
            extra: &["--timeout", "2", "--max-requests", "5000"],
        },
        Case {
            mode: "addressee-flood@encrypt",
            reason: "carry more than 20000 envelopes, addressees, events, keys and records in all (the item limit)",
            extra: &["--timeout", "2", "--max-items", "20000"],
        },
        Case {
            mode: "event-flood@encrypt",
            reason: "carry more than 20000 envelopes, addressees, events, keys and records in all (the item limit)",
            extra: &["--timeout", "2", "--max-items", "20000"],
        },
        Case {
            mode: "byte-flood",
            reason: "wrote more than 33554432 bytes in one run (the output limit)",
            extra: &["--timeout", "2"],
        },
    ];
    let (dir, vectors) = two_vectors();
    for case in &cases {
        let started = Instant::now();
        let (out, out_dir) = hostile_audit(dir.path(), &vectors, case.mode, case.extra);
        let took = started.elapsed();
        // Two vectors, the timeout at most once: far below the 60 s the
        // processes left behind would hold a pipe open.
        assert!(took < Duration::from_secs(2 + 15), "{}: the audit took {took:?}", case.mode);
        check_one_vector_broke(case, &out, &out_dir);
    }
}

/// A shell wrapper whose background job holds standard output for the whole
/// run (`sh -c 'JOB & exec ADAPTER'`) is audited as usual, and the job ends
/// with each vector.
#[test]
fn a_wrappers_background_job_ends_with_each_vector() {
    let py = python3();
    let (dir, vectors) = two_vectors();
    let script = hostile_script();
    let once = dir.path().join("once-wrapper");
    let (s, d, o) = (script.display(), doormat_bin(), once.display());
    let imp = format!("exec:sh -c '{py} {s} sleeper {d} {o} & exec {py} {s} none {d} {o}'");
    let started = Instant::now();
    let (out, _) = audit_through(dir.path(), &vectors, "wrapper", &imp, &[], &once.display().to_string());
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(40), "the audit took {:?}", started.elapsed());
}

/// `adapter-check` of a program that exits and leaves a background job
/// holding its standard output reports the exit at once, not when the job
/// ends, and the job does not outlive the check.
#[test]
fn adapter_check_does_not_wait_for_a_background_job() {
    let sleeper = format!("sleep 30.{}", std::process::id());
    let started = Instant::now();
    let out = doormat(&["adapter-check", "--timeout", "3", &format!("exec:sh -c '{sleeper} & exit 0'")]);
    let took = started.elapsed();
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("hello") && s.contains("FAIL") && s.contains("exited (exit status: 0)"), "{s}");
    assert!(took < Duration::from_secs(3 + 5), "adapter-check took {took:?}");
    assert_eq!(running_with(&sleeper), Vec::<String>::new(), "the background job was left running");
}

/// A flood of standard error neither blocks nor breaks a correct
/// implementation; the output limit and a wrong protocol version are
/// enforced.
#[test]
fn stderr_floods_output_limits_and_versions() {
    let py = python3();
    let dir = tempfile::tempdir().unwrap();
    let spec_path = hostile_spec(dir.path());
    let script = hostile_script();
    let run = |mode: &str, extra: &[&str]| {
        let imp = format!("exec:{py} {} {mode} {}", script.display(), doormat_bin());
        let out = dir.path().join(format!("out-{mode}"));
        let mut args = vec![
            "audit",
            "--spec",
            spec_path.to_str().unwrap(),
            "--impl",
            &imp,
            "--vectors",
            "vectors/basic/one-to-one.yaml",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        (doormat(&args), out)
    };
    let (flood, _) = run("flood-stderr", &[]);
    assert_eq!(flood.status.code(), Some(0), "a stderr flood must not break the audit: {}", text(&flood.stderr));
    let (small, out) = run("none", &["--max-output", "3000"]);
    assert_eq!(small.status.code(), Some(4));
    let report = std::fs::read_to_string(out.join("hostile.json")).unwrap();
    assert!(report.contains("(the output limit)"), "{report}");
    let (v2, out) = run("hello-v2@0", &[]);
    assert_eq!(v2.status.code(), Some(4), "{}", text(&v2.stderr));
    let report = std::fs::read_to_string(out.join("hostile.json")).unwrap();
    assert!(report.contains("it speaks protocol 2: expected 1"), "{report}");
}

#[test]
fn adapter_check_passes_a_conforming_implementation_and_fails_a_broken_one() {
    let good = doormat(&["adapter-check", &format!("exec:{} serve escrow", doormat_bin())]);
    let s = text(&good.stdout);
    assert_eq!(good.status.code(), Some(0), "{s}");
    assert!(s.contains("20 of 20 required operations conform") && s.contains("authority escrow-agent"), "{s}");
    for p in ["x25519", "ed25519", "chacha20-poly1305", "aes-256-gcm", "hkdf-sha256", "hmac-sha256"] {
        assert!(s.lines().any(|l| l.contains(&format!("kat {p}")) && l.contains(" ok ")), "kat {p}:\n{s}");
    }
    let py = python3();
    let script = hostile_script();
    let bad = doormat(&[
        "adapter-check",
        "--timeout",
        "2",
        &format!("exec:{py} {} garbage@4 {}", script.display(), doormat_bin()),
    ]);
    let s = text(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{s}");
    assert!(s.contains("FAIL") && s.contains("is not a valid response object"), "{s}");
    let missing = doormat(&["adapter-check", "exec:/nonexistent/adapter"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stdout).contains("cannot start `/nonexistent/adapter`"), "{}", text(&missing.stdout));
    let usage = doormat(&["adapter-check", "python3 x.py"]);
    assert_eq!(usage.status.code(), Some(2));
}

/// Runs `doormat audit` on one scenario vector and the known-answer files
/// through `hostile.py MODE`; gives the exit code, the report and stderr.
fn hostile_kat_audit(dir: &Path, mode: &str, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let vectors = dir.join("vectors");
    if !vectors.exists() {
        std::fs::create_dir_all(vectors.join("kat")).unwrap();
        std::fs::copy(root().join("vectors/basic/one-to-one.yaml"), vectors.join("one-to-one.yaml")).unwrap();
        copy_tree(&root().join("vectors/kat"), &vectors.join("kat"));
        hostile_spec(dir);
    }
    let (out, out_dir) = hostile_audit(dir, &vectors, mode, extra);
    let report = serde_json::from_str(&std::fs::read_to_string(out_dir.join("hostile.json")).unwrap()).unwrap();
    (out.status.code(), report, text(&out.stderr))
}

/// Runs `doormat audit` of the spec `dir/hostile.yaml` on `vectors` through
/// `hostile.py MODE`, and checks that no process of it is left behind; gives
/// the output and the report folder.
fn hostile_audit(dir: &Path, vectors: &Path, mode: &str, extra: &[&str]) -> (Output, PathBuf) {
    let py = python3();
    let script = hostile_script();
    let once = dir.join(format!("once-{mode}"));
    let imp = format!("exec:{py} {} {mode} {} {}", script.display(), doormat_bin(), once.display());
    audit_through(dir, vectors, mode, &imp, extra, &once.display().to_string())
}

/// Runs `doormat audit` of the spec `dir/hostile.yaml` on `vectors` through
/// the implementation `imp`, reports to `dir/out-LABEL`, and checks that no
/// process whose command line mentions `marker` is left behind.
fn audit_through(
    dir: &Path,
    vectors: &Path,
    label: &str,
    imp: &str,
    extra: &[&str],
    marker: &str,
) -> (Output, PathBuf) {
    let out_dir = dir.join(format!("out-{label}"));
    let spec = dir.join("hostile.yaml");
    let mut args = vec![
        "audit",
        "--spec",
        spec.to_str().unwrap(),
        "--impl",
        imp,
        "--vectors",
        vectors.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = doormat(&args);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !running_with(marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(running_with(marker), Vec::<String>::new(), "{label}: processes left behind");
    (out, out_dir)
}

/// The algorithms in the order of the files in `vectors/kat/` (the
/// protocol file's functions all at its place).
const KAT_ORDER: [&str; 7] =
    ["AES-256-GCM", "ChaCha20-Poly1305", "Ed25519", "HKDF-SHA-256", "HMAC-SHA-256", "doormat-ratchet-v1", "X25519"];

/// Where an algorithm's file comes in [`KAT_ORDER`].
fn kat_place(alg: &str) -> usize {
    let family = if alg.starts_with("doormat-ratchet-v1 ") { "doormat-ratchet-v1" } else { alg };
    KAT_ORDER.iter().position(|a| *a == family).unwrap()
}

/// A process that breaks during the known-answer tests (crash, garbage,
/// hang, protocol violations) fails the case where it broke, with the
/// reason, and every later case; earlier cases keep their verdicts; no case
/// after the break passes; the audit exits 4; nothing is left running.
#[test]
fn a_process_that_breaks_during_known_answer_tests_fails_them() {
    let cases: [(&str, &str, &str, &[&str]); 8] = [
        ("garbage@kat_hkdf_sha256", "HKDF-SHA-256", "is not a valid response object", &[]),
        ("exit@kat_x25519", "X25519", "exited (exit status: 3)", &[]),
        ("kill@kat_ed25519_verify", "Ed25519", "exited (signal: 9", &[]),
        ("hang@kat_aead_open", "AES-256-GCM", "did not answer within 1.5 s", &["--timeout", "1.5"]),
        ("wrong-id@kat_hmac_sha256", "HMAC-SHA-256", "(answers must come in order)", &[]),
        ("extra-field@kat_aead_seal", "AES-256-GCM", "unknown field `surprise`", &[]),
        ("missing-field@kat_x25519", "X25519", "malformed `ok`", &[]),
        ("long-line@kat_ed25519_verify", "Ed25519", "longer than 1048576 bytes", &["--max-line", "1048576"]),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (mode, at, reason, extra) in cases {
        let op = mode.split_once('@').unwrap().1;
        let (code, report, stderr) = hostile_kat_audit(dir.path(), mode, extra);
        assert_eq!(code, Some(4), "{mode}: exit code; stderr: {stderr}");
        assert!(stderr.contains("broke during the known-answer tests"), "{mode}: {stderr}");
        assert!(report["vectors"][0].get("error").is_none(), "{mode}: the scenario vector is not affected");
        let kat = &report["kat"];
        let broke = kat_place(at);
        for c in kat["counts"].as_array().unwrap() {
            let alg = c["algorithm"].as_str().unwrap();
            let n = |k: &str| c[k].as_u64().unwrap();
            if kat_place(alg) < broke {
                assert!(n("passed") > 0 && n("failed") == 0, "{mode}: before the break: {c}");
            } else {
                assert!(n("passed") == 0 && n("unlisted") == 0 && n("failed") > 0, "{mode}: from the break on: {c}");
            }
        }
        let failures = kat["failures"].as_array().unwrap();
        let first = failures[0]["got"].as_str().unwrap();
        assert_eq!(failures[0]["algorithm"], at, "{mode}");
        assert!(
            first.contains("`hostile`") && first.contains(&format!("(`{op}`)")) && first.contains(reason),
            "{mode}: the first failure names the implementation, the operation and the reason: {first}"
        );
        if !mode.starts_with("kill") && !mode.starts_with("long-line") {
            assert!(first.contains("hostile: misbehaving"), "{mode}: standard error is quoted: {first}");
        }
        assert!(
            failures[1..].iter().all(|f| f["got"].as_str().unwrap().starts_with("not run: the implementation broke")),
            "{mode}: {failures:?}"
        );
        let md = std::fs::read_to_string(dir.path().join(format!("out-{mode}/hostile.md"))).unwrap();
        let shown = doormat_report::inert::markdown(reason);
        assert!(md.contains("## Known-answer tests") && md.contains(&shown), "{mode}: the Markdown report shows it");
    }
    // The control: the same proxy, behaving, passes every case.
    let (code, report, stderr) = hostile_kat_audit(dir.path(), "none", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(report["kat"]["failures"], serde_json::json!([]));
}

/// An AEAD whose open skips the tag check is caught through the subprocess
/// by the `invalid` cases (modified tag, ciphertext, associated data), by
/// `doormat kat` and by `adapter-check`.
#[test]
fn an_aead_open_that_skips_the_tag_check_is_caught() {
    let py = python3();
    let dir = tempfile::tempdir().unwrap();
    let spec_path = hostile_spec(dir.path());
    let script = hostile_script();
    let kat = |mode: &str| {
        let imp = format!("exec:{py} {} {mode} {}", script.display(), doormat_bin());
        doormat(&[
            "kat",
            "vectors/kat/chacha20poly1305.yaml",
            "vectors/kat/aes256gcm.yaml",
            "--spec",
            spec_path.to_str().unwrap(),
            "--impl",
            &imp,
        ])
    };
    let honest = kat("none");
    assert_eq!(honest.status.code(), Some(0), "{}", text(&honest.stdout));
    let broken = kat("open-skips-tag");
    let s = text(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{s}");
    for line in [
        "ChaCha20-Poly1305    valid      passed    1  failed    0",
        "ChaCha20-Poly1305    invalid    passed    0  failed    3",
        "AES-256-GCM          valid      passed    2  failed    0",
        "AES-256-GCM          invalid    passed    0  failed    2",
    ] {
        assert!(s.contains(line), "{line:?} not in:\n{s}");
    }
    for (alg, tc, what) in [
        ("ChaCha20-Poly1305", 2, "accepted: gave the case's output"),
        ("ChaCha20-Poly1305", 3, "accepted with a different output"),
        ("ChaCha20-Poly1305", 4, "accepted: gave the case's output"),
        ("AES-256-GCM", 3, "accepted: gave the case's output"),
        ("AES-256-GCM", 4, "accepted with a different output"),
    ] {
        let found = s.lines().any(|l| l.contains(&format!("FAILED: {alg} tcId {tc} ")) && l.contains(what));
        assert!(found, "{alg} tcId {tc}: {what:?} not in:\n{s}");
    }
    let check =
        doormat(&["adapter-check", &format!("exec:{py} {} open-skips-tag {}", script.display(), doormat_bin())]);
    let s = text(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{s}");
    let line = s.lines().find(|l| l.contains("kat chacha20-poly1305")).unwrap_or_default();
    assert!(line.contains("FAIL") && line.contains("3 of 4 cases"), "{s}");
    assert!(
        s.contains("tcId 2 (RFC 8439 section 2.8.2, last bit of the tag flipped; expected invalid): accepted"),
        "{s}"
    );
}

/// The two example implementations in Python: the honest one keeps its
/// claims, the leaky one is caught. Their virtual environment is made by
/// the project's own script (it needs python3 and PyPI; a failure is loud).
#[test]
fn the_python_examples_are_judged_as_they_should_be() {
    python3();
    setup_adapters();
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).display().to_string();
    let honest = doormat(&[
        "audit",
        "--allow-exec",
        "--spec",
        "harness/adapters/sealed-box/sealed-box.yaml",
        "--out",
        &out("sb"),
    ]);
    assert_eq!(honest.status.code(), Some(0), "{}{}", text(&honest.stdout), text(&honest.stderr));
    // Its primitives, from `cryptography`, through the protocol: every case
    // of what it offers passes (the twist case by its spec's `kat_accepts`),
    // and what it does not offer is skipped, not passed.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sb/sealed-box.json")).unwrap()).unwrap();
    let kat = &report["kat"];
    assert_eq!(kat["failures"], serde_json::json!([]), "{kat}");
    assert_eq!(kat["unlisted"], serde_json::json!([]), "{kat}");
    for c in kat["counts"].as_array().unwrap() {
        let (alg, n) = (c["algorithm"].as_str().unwrap(), |k: &str| c[k].as_u64().unwrap());
        if ["AES-256-GCM", "HMAC-SHA-256"].contains(&alg) {
            assert!(n("passed") == 0 && n("skipped") > 0, "{c}");
        } else {
            assert!(n("passed") > 0 && n("skipped") == 0 && n("failed") == 0, "{c}");
        }
    }
    let md = std::fs::read_to_string(dir.path().join("sb/sealed-box.md")).unwrap();
    assert!(md.contains("## Known-answer tests"), "the report has the section");
    let check =
        doormat(&["adapter-check", "exec:harness/adapters/.venv/bin/python3 harness/adapters/sealed-box/adapter.py"]);
    let s = text(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{s}");
    assert!(s.contains("kat aes-256-gcm            skipped  not offered in hello"), "{s}");
    assert!(s.lines().any(|l| l.contains("kat chacha20-poly1305") && l.contains(" ok ")), "{s}");
    let leaky =
        doormat(&["audit", "--allow-exec", "--spec", "harness/adapters/name-key/name-key.yaml", "--out", &out("nk")]);
    assert_eq!(leaky.status.code(), Some(1), "{}{}", text(&leaky.stdout), text(&leaky.stderr));
    assert!(
        text(&leaky.stdout).contains("name-key         CLAIMS CONTRADICTED: recipients-only [no — ")
            && text(&leaky.stdout).contains("], outsider-blind [no — "),
        "{}",
        text(&leaky.stdout)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("nk/name-key.json")).unwrap()).unwrap();
    let ob = report["findings"].as_array().unwrap().iter().find(|f| f["property"] == "outsider-blind").unwrap();
    assert!(ob["sentence"].as_str().unwrap().starts_with("Someone holding only public data"), "{ob}");

    // The self-test, written from PROTOCOL.md alone, passes on a built-in
    // design served over the protocol (unknown operations and authority
    // operations without authorities answered `unsupported`, primitives
    // answered as published).
    let spec = std::fs::read_to_string(root().join("specs/ratchet.yaml")).unwrap();
    let cmd = format!("{} serve ratchet", doormat_bin());
    let spec = spec.replace("implementation:\n  builtin: ratchet", &format!("implementation:\n  exec: \"{cmd}\""));
    let spec_path = dir.path().join("ratchet.yaml");
    std::fs::write(&spec_path, spec).unwrap();
    let stdout = selftest(&spec_path);
    assert!(stdout.contains("known answers: x25519 gave the published answer"), "{stdout}");
}

/// A spec that names a program runs it only when the user asks on the
/// command line: found in --specs it is skipped with a notice (also by
/// `--check`, which writes nothing), given with --spec it is refused (exit
/// 2), and `--allow-exec` runs it.
#[test]
fn a_specs_program_runs_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    std::fs::copy(root().join("specs/plaintext-relay.yaml"), specs.join("plaintext-relay.yaml")).unwrap();
    let marker = dir.path().join("the-program-ran");
    let evil = std::fs::read_to_string(root().join("specs/plaintext-relay.yaml"))
        .unwrap()
        .replace("id: plaintext-relay", "id: planted")
        .replace("builtin: plaintext-relay", &format!("exec: \"touch {}\"", marker.display()));
    assert!(evil.contains("exec: \"touch"), "the fixture names a program: {evil}");
    let evil_spec = specs.join("planted.yaml");
    std::fs::write(&evil_spec, evil).unwrap();
    let out = dir.path().join("out");
    let (specs_s, out_s) = (specs.to_str().unwrap(), out.to_str().unwrap());
    let v = "vectors/basic/one-to-one.yaml";
    for check in [false, true] {
        let mut args = vec!["audit", "--specs", specs_s, "--vectors", v, "--out", out_s];
        if check {
            args.push("--check");
        }
        let r = doormat(&args);
        let err = text(&r.stderr);
        assert!(
            err.contains("skipping") && err.contains("planted.yaml") && err.contains("--allow-exec"),
            "check={check}: {err}"
        );
        assert!(!marker.exists(), "check={check}: the spec's program ran unasked");
        assert_eq!(err.lines().filter(|l| l.contains("skipping")).count(), 1, "one line of notice: {err}");
    }
    let named = doormat(&["audit", "--spec", evil_spec.to_str().unwrap(), "--vectors", v, "--out", out_s]);
    assert_eq!(named.status.code(), Some(2), "{}", text(&named.stderr));
    assert!(text(&named.stderr).contains("--allow-exec"), "{}", text(&named.stderr));
    assert!(!marker.exists(), "the spec's program ran unasked");
    let kat = doormat(&["kat", "vectors/kat/hkdf-sha256.yaml", "--spec", evil_spec.to_str().unwrap()]);
    assert_eq!(kat.status.code(), Some(2), "{}", text(&kat.stderr));
    assert!(!marker.exists(), "`kat --spec` ran the spec's program unasked");
    let allowed = doormat(&["audit", "--allow-exec", "--specs", specs_s, "--vectors", v, "--out", out_s]);
    assert!(marker.exists(), "--allow-exec runs it: {}", text(&allowed.stderr));
}

/// Writes an executable shell script that prints `stderr` to its standard
/// error and exits 1 before answering anything.
fn crashing_script(dir: &Path, stderr: &str) -> PathBuf {
    let p = dir.join("crash.sh");
    std::fs::write(&p, format!("#!/bin/sh\nprintf '%b' '{stderr}' >&2\nexit 1\n")).unwrap();
    let mut perm = std::fs::metadata(&p).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&p, perm).unwrap();
    p
}

/// Runs `doormat audit` of a fresh `dir/hostile.yaml` on `vectors` through
/// [`crashing_script`] (printing `stderr`), with `extra` arguments, reports
/// to `dir/out`; gives the output and the report folder.
fn crashing_audit(dir: &Path, stderr: &str, vectors: &str, extra: &[&str]) -> (Output, PathBuf) {
    let script = crashing_script(dir, stderr);
    let spec = hostile_spec(dir);
    let out = dir.join("out");
    let imp = format!("exec:{}", script.display());
    let mut args = vec!["audit", "--spec", spec.to_str().unwrap(), "--impl", imp.as_str(), "--vectors", vectors];
    args.extend_from_slice(extra);
    args.extend(["--out", out.to_str().unwrap()]);
    (doormat(&args), out)
}

/// A spec of the ratchet named `hostile`, in `dir`.
/// Writes `dir/hostile.yaml`: the ratchet's spec under the id `hostile`
/// (run with `--impl`); gives its path.
fn hostile_spec(dir: &Path) -> PathBuf {
    let spec =
        std::fs::read_to_string(root().join("specs/ratchet.yaml")).unwrap().replace("id: ratchet", "id: hostile");
    let p = dir.join("hostile.yaml");
    std::fs::write(&p, spec).unwrap();
    p
}

/// An implementation's standard error is quoted inert: no escape sequence
/// reaches the terminal or the reports, a backtick fence or `</details>` in
/// it cannot close or open anything in the Markdown, JUnit's XML stays
/// well-formed; the JSON keeps the text as it was.
#[test]
fn an_implementations_text_is_inert_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let (r, out) = crashing_audit(
        dir.path(),
        "\\033[2J\\007 boom\\n```\\n</details>\\n<script>alert(1)</script> | a | b |\\n\\033]0;title\\007",
        "vectors/basic/one-to-one.yaml",
        &["--format", "md,json,junit,sarif"],
    );
    assert_eq!(r.status.code(), Some(4), "{}", text(&r.stderr));
    for (what, bytes) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        assert!(!bytes.contains(&0x1b) && !bytes.contains(&0x07), "{what} carries raw control characters");
    }
    let md = std::fs::read_to_string(out.join("hostile.md")).unwrap();
    assert!(!md.contains('\x1b') && !md.contains('\x07'), "{md}");
    assert!(md.contains("\\x1b[2J\\x07 boom"), "shown, not dropped: {md}");
    // The quoted text sits inside a fence longer than its own ``` run.
    let quoted = md.find("</details>").expect("the text is quoted");
    let before = &md[..quoted];
    let fence_line = before.lines().rev().find(|l| l.trim_start().starts_with("```") && l.ends_with("text")).unwrap();
    assert!(fence_line.trim_start().starts_with("````"), "{fence_line}");
    assert_eq!(md.matches("<script>").count(), 1, "{md}");
    let after_block = &md[quoted..];
    let close = after_block.find(fence_line.trim_start().trim_end_matches("text")).unwrap();
    assert!(after_block[..close].contains("<script>"), "<script> only inside the block");
    assert!(!after_block[close..].contains("<script>") && !after_block[close..].contains("</details>"), "{md}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(!junit.chars().any(|c| c < ' ' && !matches!(c, '\t' | '\n' | '\r')), "{junit}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("hostile.json")).unwrap()).unwrap();
    let error = json["vectors"][0]["error"].as_str().unwrap();
    assert!(error.contains("\x1b[2J") && error.contains("```"), "JSON keeps the text: {error}");
}

/// When every vector breaks, the console line, the Markdown summary, the
/// JSON outcome and the scorecard say so, and none of them says the claims
/// held or were contradicted.
#[test]
fn a_design_whose_runs_all_broke_tells_one_story() {
    let dir = tempfile::tempdir().unwrap();
    let vectors = dir.path().join("vectors");
    std::fs::create_dir(&vectors).unwrap();
    for v in ["basic/one-to-one", "groups/group-of-three"] {
        let name = Path::new(v).file_name().unwrap();
        std::fs::copy(root().join(format!("vectors/{v}.yaml")), vectors.join(name).with_extension("yaml")).unwrap();
    }
    let (r, out) = crashing_audit(dir.path(), "no luck\\n", vectors.to_str().unwrap(), &[]);
    assert_eq!(r.status.code(), Some(4), "{}", text(&r.stderr));
    let console = text(&r.stdout);
    let line = console.lines().find(|l| l.starts_with("hostile")).unwrap();
    assert!(line.contains("COULD NOT BE JUDGED: 2 of 2 vectors broke"), "{line}");
    assert!(!line.contains("claims held") && !line.contains("CONTRADICTED"), "{line}");
    let md = std::fs::read_to_string(out.join("hostile.md")).unwrap();
    assert!(md.contains("**Found:** It could not be judged. 2 of 2 vectors broke"), "{md}");
    assert!(!md.contains("contradicts") && !md.contains("no oracle observed a violation"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("hostile.json")).unwrap()).unwrap();
    assert_eq!(json["outcome"]["broken_vectors"], 2);
    assert_eq!(json["outcome"]["contradicted"], serde_json::json!([]));
    assert_eq!(json["outcome"]["not_judged"].as_array().unwrap().len(), json["claims"].as_array().unwrap().len());
    let card = std::fs::read_to_string(out.join("SCORECARD.md")).unwrap();
    let row = card.lines().find(|l| l.starts_with("| [`hostile`]")).unwrap();
    assert!(row.ends_with("**could not be judged — 2 of 2 vectors broke** |"), "{row}");
}
