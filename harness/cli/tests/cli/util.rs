//! What the tests share: the repository root (every run of doormat starts
//! there), the binary, the fixtures, the example adapters' virtual
//! environment, and a report folder read back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `doormat` binary under test.
pub fn doormat_bin() -> String {
    env!("CARGO_BIN_EXE_doormat").to_owned()
}

/// Runs doormat with `args` in the repository root.
pub fn doormat(args: &[&str]) -> Output {
    Command::new(doormat_bin()).args(args).current_dir(root()).output().expect("run doormat")
}

/// Bytes as text, for messages.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The files of a report folder: (name, bytes), sorted by name.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

/// A kept hostile input file, relative to the repository root.
pub fn fixture(name: &str) -> String {
    format!("harness/cli/tests/fixtures/hostile/{name}")
}

/// The hostile implementation the exec tests run (`hostile.py MODE`).
pub fn hostile_script() -> PathBuf {
    root().join("harness/cli/tests/hostile.py")
}

/// A shipped vector, loaded as `doormat audit` loads it.
pub fn vector(path: &str) -> doormat_formats::Scenario {
    doormat_audit::load::vectors(&[root().join(path)]).unwrap().remove(0)
}

/// Runs the protocol self-test (`harness/adapters/selftest.py`, written
/// from PROTOCOL.md alone) on the implementation of the spec at `spec`
/// (from the repository root); asserts it passes and gives what it printed.
pub fn selftest(spec: &Path) -> String {
    let out = Command::new(root().join("harness/adapters/.venv/bin/python3"))
        .arg("harness/adapters/selftest.py")
        .arg(spec)
        .current_dir(root())
        .output()
        .expect("run selftest.py");
    let stdout = text(&out.stdout);
    assert!(out.status.success() && stdout.starts_with("PASS"), "{stdout}{}", text(&out.stderr));
    stdout
}

/// Makes `harness/adapters/.venv` (the example adapters' virtual
/// environment) once per test binary, with the project's own script; a
/// failure is loud, never a skip.
pub fn setup_adapters() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        let out =
            Command::new("bash").arg("harness/adapters/setup.sh").current_dir(root()).output().expect("run setup.sh");
        assert!(out.status.success(), "harness/adapters/setup.sh failed:\n{}{}", text(&out.stdout), text(&out.stderr));
    });
}
