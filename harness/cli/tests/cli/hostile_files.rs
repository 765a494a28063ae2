//! Hostile input files: whatever a spec, vector, known-answer file,
//! `include:` target or shard is (a FIFO, a device, a huge file, a file
//! whose sizes ask for terabytes, text nested 100,000 deep, the process
//! environment), doormat exits 2 with a message naming the path, writes
//! nothing, and never hangs, panics or aborts. The files that can be kept
//! are in `fixtures/hostile/`; FIFOs, devices, links and huge files are made
//! in a temporary folder.
//!
//! Every run of doormat here is a child process killed if it is still
//! running after [`GUARD`]: a regression that hangs (a FIFO read, an
//! endless device) fails the test instead of blocking it. The guard is a
//! safety net, not a timing assertion: these runs take milliseconds.
#![cfg(unix)]

use crate::util::{doormat_bin, fixture, root};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a run may take before it is killed as hung.
const GUARD: Duration = Duration::from_secs(120);

/// A finished run of doormat.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Exit 2 with `want` on standard error, nothing panicked.
    fn input_error(&self, want: &str) {
        assert_eq!(self.code, Some(2), "{self:#?}");
        assert!(self.stderr.contains(want), "expected {want:?} in:\n{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let first = self.stderr.lines().next().unwrap_or_default();
        assert!(!first.ends_with('.'), "no trailing period: {first}");
    }
}

/// Runs doormat with `args` in the repository root and `env` added; kills it
/// after [`GUARD`].
fn doormat_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(doormat_bin())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run doormat");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = r.read_to_end(&mut b);
            String::from_utf8_lossy(&b).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("doormat {args:?} still ran after {GUARD:?}: killed as hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run { code: status.code(), stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

fn doormat(args: &[&str]) -> Run {
    doormat_env(args, &[])
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Makes a FIFO at `p`.
fn mkfifo(p: &Path) {
    let status = Command::new("mkfifo").arg(p).status().expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", p.display());
}

/// A real vector, to sit beside a hostile file.
fn copy_vector(dir: &Path) {
    std::fs::copy(root().join("vectors/basic/one-to-one.yaml"), dir.join("one-to-one.yaml")).unwrap();
}

// ------------------------------------------------------------ known answers

/// An HKDF `size` of 2^64 - 1 panicked (capacity overflow, exit 101) and a
/// terabyte aborted the process; now both are input errors at the value,
/// for `validate`, `kat` and `audit` alike, and nothing runs.
#[test]
fn huge_known_answer_sizes_are_input_errors() {
    let u64max = fixture("kat/hkdf-size-max-u64.yaml");
    let tera = fixture("kat/hkdf-size-terabyte.json");
    let want_u64 = "hkdf-size-max-u64.yaml:12:15: tcId 1: `size` is 18446744073709551615 bytes: expected at most 65536 (HKDF-SHA-256 gives at most 8160";
    let want_tera = "hkdf-size-terabyte.json:16:19: tcId 1: `size` is 1000000000000 bytes: expected at most 65536";
    for design in ["ratchet", "mls"] {
        doormat(&["kat", &u64max, "--design", design]).input_error(want_u64);
        doormat(&["kat", &tera, "--design", design]).input_error(want_tera);
    }
    doormat(&["validate", &u64max]).input_error(want_u64);
    doormat(&["validate", &tera]).input_error(want_tera);
    doormat(&["validate", &fixture("kat/aead-tag-size.yaml")])
        .input_error("aead-tag-size.yaml:6:14: the test group's `tagSize` is 4294967295 bits: expected at most 65536");

    // In an audit's vector folder: refused before anything runs or is written.
    let dir = tempfile::tempdir().unwrap();
    let vectors = dir.path().join("vectors");
    std::fs::create_dir_all(vectors.join("kat")).unwrap();
    copy_vector(&vectors);
    std::fs::copy(root().join(&tera), vectors.join("kat/hkdf-size-terabyte.json")).unwrap();
    let out = dir.path().join("out");
    doormat(&["audit", "--design", "ratchet", "--vectors", path(&vectors), "--out", path(&out)])
        .input_error("hkdf-size-terabyte.json:16:19: tcId 1: `size` is 1000000000000 bytes");
    assert!(!out.exists(), "nothing may be written on bad input");
}

// ------------------------------------------------------------ special files

/// A FIFO hung `audit` (the read waited for a writer forever); as a vector,
/// a spec, a known-answer file, an `include:` target or a shard it is now
/// refused by what it is.
#[test]
fn a_fifo_is_refused_wherever_a_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let vectors = dir.path().join("vectors");
    std::fs::create_dir_all(vectors.join("kat")).unwrap();
    copy_vector(&vectors);
    mkfifo(&vectors.join("pipe.yaml"));
    let fifo = "a FIFO (named pipe), not a regular file: expected a vector file";
    doormat(&["validate", path(&vectors)]).input_error(&format!("pipe.yaml: {fifo}"));
    doormat(&["validate", path(&vectors.join("pipe.yaml"))]).input_error(&format!("pipe.yaml: {fifo}"));
    let out = dir.path().join("out");
    doormat(&["audit", "--design", "ratchet", "--vectors", path(&vectors), "--out", path(&out)])
        .input_error(&format!("pipe.yaml: {fifo}"));
    assert!(!out.exists());
    std::fs::remove_file(vectors.join("pipe.yaml")).unwrap();

    let spec = dir.path().join("spec.yaml");
    mkfifo(&spec);
    doormat(&["audit", "--spec", path(&spec), "--vectors", path(&vectors), "--out", path(&out)])
        .input_error("spec.yaml: a FIFO (named pipe), not a regular file: expected a spec file");

    mkfifo(&vectors.join("kat/pipe.json"));
    doormat(&["kat", path(&vectors.join("kat")), "--design", "ratchet"])
        .input_error("pipe.json: a FIFO (named pipe), not a regular file: expected a known-answer file");
    std::fs::remove_file(vectors.join("kat/pipe.json")).unwrap();

    let entry = vectors.join("kat/entry.yaml");
    mkfifo(&dir.path().join("upstream.json"));
    std::fs::write(&entry, "include: ../../upstream.json\n").unwrap();
    doormat(&["kat", path(&entry), "--design", "ratchet"]).input_error(
        "entry.yaml:1:10: `include` names ", // the path, then:
    );
    let run = doormat(&["validate", path(&vectors)]);
    run.input_error(
        "upstream.json, which cannot be read: a FIFO (named pipe), not a regular file: expected a known-answer file",
    );

    let shard = dir.path().join("shard-1-of-1.json");
    mkfifo(&shard);
    doormat(&["merge", path(&shard), "--out", path(&out)])
        .input_error("shard-1-of-1.json: a FIFO (named pipe), not a regular file: expected a shard file");
    assert!(!out.exists());
}

/// `/dev/zero` grew to 5 GB in memory; as a vector path, a known-answer
/// file, an `include:` target (by name, or through a `.json` link) it is
/// refused without a byte read.
#[test]
fn an_endless_device_is_refused() {
    let device = "/dev/zero: a character device, not a regular file";
    doormat(&["validate", "/dev/zero"]).input_error(&format!("{device}: expected a vector file"));
    doormat(&["kat", "/dev/zero", "--design", "ratchet"])
        .input_error(&format!("{device}: expected a known-answer file"));
    doormat(&["kat", &fixture("kat/include-dev-zero.yaml"), "--design", "ratchet"]).input_error(
        "include-dev-zero.yaml:2:10: `include` names /dev/zero: expected a known-answer file, whose name ends in .json, .yaml or .yml",
    );
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.json")).unwrap();
    let entry = dir.path().join("entry.yaml");
    std::fs::write(&entry, "include: zero.json\n").unwrap();
    doormat(&["kat", path(&entry), "--design", "ratchet"]).input_error(
        "entry.yaml:1:10: `include` names ", // then the path and:
    );
    let run = doormat(&["kat", path(&entry), "--design", "ratchet"]);
    run.input_error(
        "zero.json, which cannot be read: a character device, not a regular file: expected a known-answer file",
    );
}

/// Files over their kind's cap are refused (cap + 1 bytes are read, never
/// more); the caps are documented in vectors/README.md.
#[test]
fn oversized_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = |name: &str, len: u64| {
        let p = dir.path().join(name);
        // Sparse: no disk is used for the zeros.
        std::fs::File::create(&p).unwrap().set_len(len).unwrap();
        p
    };
    let vector = big("big.yaml", (4 << 20) + 1);
    doormat(&["validate", path(&vector)])
        .input_error("big.yaml: larger than 4 MiB: expected a vector file of at most 4194304 bytes");
    let kat = big("big.json", (16 << 20) + 1);
    doormat(&["kat", path(&kat), "--design", "ratchet"])
        .input_error("big.json: larger than 16 MiB: expected a known-answer file of at most 16777216 bytes");
    let entry = dir.path().join("entry.yaml");
    std::fs::write(&entry, "include: big.json\n").unwrap();
    doormat(&["kat", path(&entry), "--design", "ratchet"])
        .input_error("big.json, which cannot be read: larger than 16 MiB: expected a known-answer file");
    let spec = big("spec.yaml", (1 << 20) + 1);
    doormat(&["audit", "--spec", path(&spec), "--out", path(&dir.path().join("out"))])
        .input_error("spec.yaml: larger than 1 MiB: expected a spec file of at most 1048576 bytes");
    // At the cap itself the file is read (and judged on what it holds).
    let at_cap = big("at-cap.yaml", 4 << 20);
    doormat(&["validate", path(&at_cap)]).input_error("at-cap.yaml:");
    let run = doormat(&["validate", path(&at_cap)]);
    assert!(!run.stderr.contains("larger than"), "{}", run.stderr);
}

/// `include: /proc/self/environ` printed the whole environment in its
/// error. Now it is refused by its name; and through a `.json` link the
/// file is read but its contents are never shown, only where it is wrong.
#[test]
fn an_include_never_echoes_the_included_file() {
    let secret = "doormat-canary-3f9a1c0e7b";
    let env = [("DOORMAT_TEST_SECRET", secret)];
    let run = doormat_env(&["kat", &fixture("kat/include-environ.yaml"), "--design", "ratchet"], &env);
    run.input_error("include-environ.yaml:4:10: `include` names /proc/self/environ: expected a known-answer file");
    assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret), "{run:#?}");
    let run = doormat_env(&["validate", &fixture("kat/include-environ.yaml")], &env);
    assert!(run.code == Some(2) && !run.stderr.contains(secret), "{run:#?}");

    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", dir.path().join("environ.json")).unwrap();
    std::fs::write(dir.path().join("secret.yaml"), format!("key: {secret}\n")).unwrap();
    let entry = dir.path().join("entry.yaml");
    std::fs::write(&entry, "include: secret.yaml\n").unwrap();
    let run = doormat_env(&["kat", path(&entry), "--design", "ratchet"], &env);
    run.input_error("secret.yaml, which is not a known-answer file (at its line 1, column 1); its contents are not shown here (`doormat kat ");
    assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret), "{run:#?}");
    // The environment holds NUL bytes, which YAML refuses somewhere in it.
    std::fs::write(&entry, "include: environ.json\n").unwrap();
    let run = doormat_env(&["kat", path(&entry), "--design", "ratchet"], &env);
    run.input_error("environ.json, which ");
    assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret), "{run:#?}");
}

// ---------------------------------------------------------------- folders

/// A symbolic link loop in a vector folder is walked once, and a FIFO in it
/// is refused, not read.
#[test]
fn folder_walks_end_on_link_loops() {
    let dir = tempfile::tempdir().unwrap();
    let vectors = dir.path().join("vectors");
    std::fs::create_dir_all(vectors.join("a")).unwrap();
    copy_vector(&vectors.join("a"));
    std::os::unix::fs::symlink("..", vectors.join("a/up")).unwrap();
    std::os::unix::fs::symlink(".", vectors.join("a/here")).unwrap();
    let run = doormat(&["validate", path(&vectors)]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(run.stdout.contains("1 vector(s)"), "{}", run.stdout);
}

/// An empty folder, or one with no YAML in it, has nothing to validate.
#[test]
fn validate_of_nothing_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    doormat(&["validate", path(dir.path())]).input_error("nothing to validate: expected spec or vector files");
    std::fs::write(dir.path().join("notes.txt"), "not a vector\n").unwrap();
    doormat(&["validate", path(dir.path())]).input_error("nothing to validate");
    // Named among others, it is still reported.
    doormat(&["validate", "vectors/basic", path(dir.path())]).input_error("nothing to validate");
}

// ------------------------------------------------------------ text

/// A UTF-8 byte order mark shifted every position of line 1 (and made
/// `title` unknown); now it is dropped, and positions are an editor's.
#[test]
fn a_byte_order_mark_is_accepted() {
    let run = doormat(&["validate", &fixture("bom-valid.yaml")]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let run = doormat(&["validate", &fixture("bom-then-error.yaml")]);
    run.input_error("bom-then-error.yaml:7:33: unknown recipient `zed`: expected a user or a group created earlier");
    assert!(
        run.stderr.contains("7 |   - send: {id: m1, from: a, to: zed}\n  |                                 ^"),
        "{}",
        run.stderr
    );
}

/// A 100,000-deep `[[[...]]]` took 39 s in the YAML parser; it is refused
/// before the parser, at the bracket that goes too deep, with a short
/// message.
#[test]
fn deep_nesting_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("deep.yaml");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(&p, format!("title: t\nseed: 1\nusers: [alice]\nsteps: {deep}\n")).unwrap();
    let run = doormat(&["validate", path(&p)]);
    run.input_error(
        "deep.yaml:4:71: lists and mappings nest more than 64 levels deep here: expected at most 64 levels",
    );
    assert!(run.stderr.len() < 2000, "the line is quoted around the column, not whole: {} bytes", run.stderr.len());
    let json = dir.path().join("kat");
    std::fs::create_dir(&json).unwrap();
    std::fs::write(json.join("deep.json"), format!("{{\"algorithm\": \"XDH\", \"testGroups\": {deep}}}")).unwrap();
    doormat(&["kat", path(&json.join("deep.json")), "--design", "ratchet"])
        .input_error("deep.json:1:99: lists and mappings nest more than 64 levels deep here");
}

/// `deliver` of a message that was never held is an error at `validate`.
#[test]
fn delivering_a_message_never_held_is_an_input_error() {
    doormat(&["validate", &fixture("deliver-never-held.yaml")]).input_error(
        "deliver-never-held.yaml:11:30: message `m2` was not held: expected a message sent with `hold: true` to deliver",
    );
}

// ------------------------------------------------------------ usage

/// `--timeout` states the range it accepts: 0 is refused, so the message
/// does not say "between 0 and ...".
#[test]
fn timeout_out_of_range_states_the_real_range() {
    let want = "expected a number of seconds greater than 0 and at most 86400";
    for t in ["0", "-1", "NaN", "inf", "86401", "1e300"] {
        let flag = format!("--timeout={t}");
        doormat(&["audit", "--spec", "specs/ratchet.yaml", &flag, "--out", "/nonexistent/never"])
            .input_error(&format!("--timeout {}: {want}", t.parse::<f64>().unwrap()));
        doormat(&["adapter-check", "exec:true", &flag]).input_error(want);
    }
}

// ------------------------------------------------------------ closed pipes

/// The write end of a pipe whose read end is already closed: writing to it
/// fails with a broken pipe, every time.
fn closed_pipe() -> Stdio {
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().expect("run true");
    let write_end = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    Stdio::from(write_end)
}

/// `doormat validate bad 2>&1 | true` could exit 101: `eprintln!` panics on
/// a closed standard error. Now the message is dropped and the exit code
/// is the command's own; the same for standard output.
#[test]
fn a_closed_stderr_or_stdout_is_not_a_panic() {
    let bad = fixture("bom-then-error.yaml");
    let status = Command::new(env!("CARGO_BIN_EXE_doormat"))
        .args(["validate", &bad])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(closed_pipe())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2), "exit code with standard error closed");
    let status = Command::new(env!("CARGO_BIN_EXE_doormat"))
        .args(["audit", "--timeout", "0"])
        .current_dir(root())
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2), "usage error with both closed");
    let status = Command::new(env!("CARGO_BIN_EXE_doormat"))
        .args(["validate", &fixture("bom-valid.yaml")])
        .current_dir(root())
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "success with both closed");
}
