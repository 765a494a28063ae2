//! The HTML pages (`--format html`): the same bytes on every run, checked
//! for drift like the other formats, and opened in a real headless browser
//! (Debian's Chromium), which must load them without a console error and
//! show every answer of the JSON reports.

use crate::util::{doormat, files, text};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A small audit with findings: the positive control and the honest
/// baseline on the basic vectors.
const SELECTION: [&str; 6] = ["--design", "plaintext-relay", "--design", "ratchet", "--vectors", "vectors/basic"];

const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one page may take to load and dump before the browser is killed.
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `doormat audit` on [`SELECTION`] with `extra` arguments.
fn audit(extra: &[&str]) -> std::process::Output {
    let mut args = vec!["audit"];
    args.extend_from_slice(&SELECTION);
    args.extend_from_slice(extra);
    doormat(&args)
}

#[test]
fn html_pages_are_the_same_every_run_and_checked_for_drift() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = audit(&["--format", "html", "--out", d]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let names: Vec<String> = files(dir.path()).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["index.html", "plaintext-relay.html", "ratchet.html"]);
    // A second run gives the same bytes: the check finds no drift and
    // writes nothing.
    let before = files(dir.path());
    let same = audit(&["--format", "html", "--out", d, "--check"]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stdout));
    assert!(text(&same.stdout).contains("3 report files"), "{}", text(&same.stdout));
    assert_eq!(before, files(dir.path()));
    // A page missing from the folder is drift, named in one line (not the
    // whole page as a diff); formats not asked for are not looked at.
    std::fs::remove_file(dir.path().join("ratchet.html")).unwrap();
    let missing = audit(&["--format", "html", "--out", d, "--check"]);
    assert_eq!(missing.status.code(), Some(1));
    let said = text(&missing.stdout);
    assert!(said.contains("ratchet.html: missing (the fresh audit has "), "{said}");
    assert!(said.lines().count() < 5, "{said}");
    let md_only = audit(&["--format", "md", "--out", d, "--check"]);
    assert_eq!(md_only.status.code(), Some(1), "md files were never written here");
}

/// What a headless browser made of one page.
struct Dumped {
    /// The DOM as the browser serialised it.
    dom: String,
    /// Its standard error, where console messages go.
    stderr: String,
}

/// Opens `page` in Chromium with a fresh profile and no network services,
/// and dumps its DOM; kills the browser's process group after
/// [`DEADLINE`].
fn dump_dom(page: &Path) -> Dumped {
    use std::os::unix::process::CommandExt;
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.path().display()),
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            &format!("file://{}", page.display()),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start chromium");
    // Both pipes are drained while the browser runs (a page's DOM is
    // larger than a pipe's buffer).
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = r.read_to_end(&mut b);
            b
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let group = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            let _ = child.wait();
            panic!("chromium did not finish {} within {DEADLINE:?}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Helpers the browser left behind hold the pipes open; end them too.
    let group = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    let dumped = Dumped { dom: text(&out.join().unwrap()), stderr: text(&err.join().unwrap()) };
    assert!(status.success(), "chromium exited with {status} on {}:\n{}", page.display(), dumped.stderr);
    dumped
}

/// The pages in a real browser: each loads without a console error, each
/// design's page shows every answer of that design's JSON report, and the
/// index shows them too and links to every design's page.
#[test]
fn html_pages_open_in_a_browser() {
    if !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} is missing: `.ci/run` should have installed it (apt-get install chromium)"
        );
        // Not `eprintln!`, which panics when standard error is closed.
        let _ = writeln!(
            std::io::stderr().lock(),
            "note: {CHROMIUM} is missing, so the HTML pages were not opened in a browser (apt-get install chromium)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = audit(&["--format", "html,json", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let dir = dir.path().canonicalize().unwrap();
    let index = dump_dom(&dir.join("index.html"));
    let mut pages = vec![("index.html".to_owned(), index)];
    let mut answers = Vec::new();
    for (name, _) in files(&dir).iter().filter(|(n, _)| n.ends_with(".json")) {
        let design = name.trim_end_matches(".json");
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        let mine: Vec<String> = report["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["answer"].as_str().expect("every property has an answer").to_owned())
            .collect();
        assert_eq!(mine.len(), 8, "{design}");
        let link = format!("href=\"./{design}.html\"");
        assert!(pages[0].1.dom.contains(&link), "the index does not link to {design}:\n{}", pages[0].1.dom);
        let page = dump_dom(&dir.join(format!("{design}.html")));
        assert!(page.dom.contains("href=\"./index.html\""), "{design}.html does not link to the index");
        for answer in &mine {
            assert!(page.dom.contains(answer.as_str()), "{design}.html does not show `{answer}`:\n{}", page.dom);
            assert!(pages[0].1.dom.contains(answer.as_str()), "index.html does not show {design}'s `{answer}`");
        }
        answers.push((design.to_owned(), mine));
        pages.push((format!("{design}.html"), page));
    }
    assert_eq!(answers.len(), 2, "{answers:?}");
    for (name, page) in &pages {
        assert!(page.dom.contains("</html>"), "{name}: no whole document:\n{}", page.dom);
        let logged = console(&page.stderr);
        assert!(logged.is_empty(), "{name}: the browser logged:\n{}", logged.join("\n"));
    }
    // The control: a page with a script error is caught by the same check.
    let control = dir.join("control.html");
    std::fs::write(&control, "<!doctype html><title>c</title><script>undefinedFunction()</script>").unwrap();
    let control = dump_dom(&control);
    let logged = console(&control.stderr);
    assert!(logged.iter().any(|l| l.contains("Uncaught")), "a script error went unseen: {logged:?}");
}

/// The lines of a browser's standard error that tell of the page: console
/// messages (Chromium writes `INFO:CONSOLE:1]` or `ERROR:CONSOLE(…)`),
/// uncaught errors, resources that did not load.
fn console(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| ["Uncaught", ":CONSOLE", "Failed to load resource"].iter().any(|bad| l.contains(bad)))
        .collect()
}
