//! Replacing a report directory whole.
//!
//! A report set is many files (`<design>.md`, `<design>.json`,
//! `SCORECARD.md`, ...) that only make sense together. Renaming them one by
//! one leaves a mix of old and new files when the process is killed halfway,
//! so the set is replaced as one directory instead:
//!
//! 1. an exclusive lock on the parent directory keeps two doormat processes
//!    from replacing the same directory at once;
//! 2. a *staging* directory is created beside `--out`
//!    (`.NAME.doormat-PID-N`, with `mkdir`, which never follows a symlink
//!    and fails if the name exists);
//! 3. everything already in `--out` is hard-linked into it (files this run
//!    does not write, such as other designs' reports, stay), and the new
//!    files are created in it exclusively, each synced to disk;
//! 4. one `renameat2(RENAME_EXCHANGE)` swaps the two directories (where the
//!    file system lacks it: rename `--out` aside, rename the staging
//!    directory in, a moment in which `--out` is absent but never mixed);
//! 5. the staging name, which now holds the old set, is removed.
//!
//! **Invariant:** a kill at any moment leaves `--out` holding the complete
//! old set or the complete new set. What a killed run leaves behind is a
//! staging directory beside `--out`, never a file inside it; the next run
//! removes it (under the lock, so no live run's). Every error path removes
//! what it made.

use anyhow::{bail, Context};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Most entries carried over from the old directory: `--out` is meant to be
/// a directory of reports, not a project tree.
const MAX_CARRIED: usize = 10_000;

/// Replaces the directory `dir` with one holding its current entries and
/// `files` (which win over entries of the same name).
pub fn replace_dir(dir: &Path, files: &[(String, String)]) -> anyhow::Result<()> {
    replace_dir_until(dir, files, &mut Steps::unlimited())
}

/// Counts the steps that change the file system, so that tests can stop
/// the work after any of them, as a kill would.
#[derive(Debug)]
pub(crate) struct Steps {
    left: Option<usize>,
}

/// The work was stopped by [`Steps`] (tests only).
#[derive(Debug)]
pub(crate) struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stopped (simulated kill)")
    }
}

impl std::error::Error for Stopped {}

impl Steps {
    pub(crate) fn unlimited() -> Steps {
        Steps { left: None }
    }

    #[cfg(test)]
    pub(crate) fn stop_after(n: usize) -> Steps {
        Steps { left: Some(n) }
    }

    fn step(&mut self) -> anyhow::Result<()> {
        match &mut self.left {
            None => Ok(()),
            Some(0) => Err(Stopped.into()),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
        }
    }
}

/// Where `dir` really is: its parent, its file name, and whether it exists.
fn resolve(dir: &Path) -> anyhow::Result<(PathBuf, std::ffi::OsString, bool)> {
    let exists = match std::fs::symlink_metadata(dir) {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let full = if exists {
        // A symlinked report directory: replace the directory it points to.
        let real = std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
        if !real.is_dir() {
            bail!("{} is not a directory: expected a directory for the reports", dir.display());
        }
        real
    } else {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the report directory's parent {}", parent.display()))?;
        let parent = std::fs::canonicalize(parent).with_context(|| format!("cannot resolve {}", parent.display()))?;
        match dir.file_name() {
            Some(name) => parent.join(name),
            None => bail!("{}: expected a directory name for the reports", dir.display()),
        }
    };
    match (full.parent(), full.file_name()) {
        (Some(parent), Some(name)) => Ok((parent.to_path_buf(), name.to_owned(), exists)),
        _ => bail!("{}: cannot replace the root directory: expected a directory for the reports", dir.display()),
    }
}

/// A directory that is removed when dropped, unless disarmed.
struct Scratch(Option<PathBuf>);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

fn staging_prefix(name: &std::ffi::OsStr) -> String {
    format!(".{}.doormat-", name.to_string_lossy())
}

/// Removes the staging directories that killed runs left beside `dir`.
/// Called under the lock, so no other doormat process is using them.
fn sweep(parent: &Path, name: &std::ffi::OsStr) {
    let prefix = staging_prefix(name);
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        let ours = e.file_name().to_string_lossy().starts_with(&prefix);
        // A symlink of that name is not ours: left alone, never followed.
        if ours && e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

pub(crate) fn replace_dir_until(dir: &Path, files: &[(String, String)], steps: &mut Steps) -> anyhow::Result<()> {
    for (name, _) in files {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            bail!("`{name}`: expected a plain file name for a report");
        }
    }
    let (parent, name, exists) = resolve(dir)?;
    let lock = File::open(&parent).with_context(|| format!("cannot open {}", parent.display()))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .with_context(|| format!("cannot lock {} for writing the reports", parent.display()))?;
    sweep(&parent, &name);

    // 2. The staging directory, made exclusively.
    let prefix = staging_prefix(&name);
    let mut staging = None;
    for n in 0..100 {
        let p = parent.join(format!("{prefix}{}-{n}", std::process::id()));
        steps.step()?;
        match std::fs::create_dir(&p) {
            Ok(()) => {
                staging = Some(p);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", p.display())),
        }
    }
    let Some(staging) = staging else { bail!("cannot create a staging directory in {}", parent.display()) };
    let mut scratch = Scratch(Some(staging.clone()));
    let target = parent.join(&name);

    // 3. The old entries, then the new files.
    if exists {
        let mode = std::fs::metadata(&target).with_context(|| format!("cannot read {}", target.display()))?;
        std::fs::set_permissions(&staging, mode.permissions())
            .with_context(|| format!("cannot set the permissions of {}", staging.display()))?;
        let mut carried = 0;
        let skip: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        carry(&target, &staging, &skip, &mut carried, steps)?;
    }
    for (file, contents) in files {
        let path = staging.join(file);
        steps.step()?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        f.write_all(contents.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
        f.sync_all().with_context(|| format!("cannot write {}", path.display()))?;
    }

    // 4. The swap.
    steps.step()?;
    if exists {
        swap(&staging, &target, steps)?;
        // The staging name now holds the old set.
    } else {
        std::fs::rename(&staging, &target)
            .with_context(|| format!("cannot move {} into place as {}", staging.display(), target.display()))?;
        scratch.0 = None;
    }
    if let Ok(d) = File::open(&parent) {
        let _ = d.sync_all();
    }
    // 5. The old set goes (by `scratch`'s drop).
    steps.step()?;
    drop(scratch);
    Ok(())
}

/// Exchanges `staging` and `target`; falls back to two renames where the
/// file system cannot exchange.
fn swap(staging: &Path, target: &Path, steps: &mut Steps) -> anyhow::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, staging, CWD, target, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        Err(e) if [rustix::io::Errno::INVAL, rustix::io::Errno::NOSYS, rustix::io::Errno::OPNOTSUPP].contains(&e) => {
            // `target` is absent for a moment, never mixed. The old set is
            // parked under a name of its own, then removed by the caller.
            let mut parked = staging.as_os_str().to_owned();
            parked.push("-old");
            let parked = PathBuf::from(parked);
            std::fs::rename(target, &parked).with_context(|| format!("cannot move {} aside", target.display()))?;
            steps.step()?;
            if let Err(e) = std::fs::rename(staging, target) {
                let _ = std::fs::rename(&parked, target);
                return Err(e).with_context(|| format!("cannot move the new reports into {}", target.display()));
            }
            std::fs::rename(&parked, staging).with_context(|| format!("cannot move {} away", parked.display()))?;
            Ok(())
        }
        Err(e) => Err(std::io::Error::from(e))
            .with_context(|| format!("cannot exchange {} with {}", staging.display(), target.display())),
    }
}

/// Hard-links every entry of `from` into `to` (directories recursively),
/// except the top-level names in `skip`.
fn carry(from: &Path, to: &Path, skip: &[&str], carried: &mut usize, steps: &mut Steps) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?;
    for e in entries {
        let e = e.with_context(|| format!("cannot read {}", from.display()))?;
        let name = e.file_name();
        if skip.iter().any(|s| name == **s) {
            continue;
        }
        *carried += 1;
        if *carried > MAX_CARRIED {
            bail!(
                "{} holds more than {MAX_CARRIED} entries: doormat replaces its report directory whole, expected a directory of its own for the reports",
                from.display()
            );
        }
        let (src, dst) = (e.path(), to.join(&name));
        let kind = e.file_type().with_context(|| format!("cannot read {}", src.display()))?;
        steps.step()?;
        if kind.is_dir() {
            std::fs::create_dir(&dst).with_context(|| format!("cannot create {}", dst.display()))?;
            if let Ok(m) = std::fs::metadata(&src) {
                let _ = std::fs::set_permissions(&dst, m.permissions());
            }
            carry(&src, &dst, &[], carried, steps)?;
        } else if std::fs::hard_link(&src, &dst).is_err() {
            // No hard links here (or not allowed): a copy of a regular file.
            if !kind.is_file() {
                bail!("cannot carry {} over into the new report directory", src.display());
            }
            std::fs::copy(&src, &dst).with_context(|| format!("cannot copy {}", src.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn contents(dir: &Path) -> Vec<(String, String)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap_or_default())
            })
            .collect();
        v.sort();
        v
    }

    fn set(tag: &str) -> Vec<(String, String)> {
        ["a.md", "a.json", "b.md", "b.json", "SCORECARD.md"]
            .iter()
            .map(|n| ((*n).to_owned(), format!("{tag} {n}")))
            .collect()
    }

    /// A kill after any step leaves the complete old set or the complete
    /// new set, files this run does not write carried over either way.
    #[test]
    fn a_kill_at_any_step_leaves_the_old_set_or_the_new_set() {
        let mut n = 0;
        let (mut killed_old, mut killed_new) = (0, 0);
        loop {
            let root = tempfile::tempdir().unwrap();
            let out = root.path().join("reports");
            replace_dir(&out, &set("old")).unwrap();
            std::fs::write(out.join("README.txt"), "mine").unwrap();
            let before = contents(&out);
            let r = replace_dir_until(&out, &set("new"), &mut Steps::stop_after(n));
            let after = contents(&out);
            let mut new = set("new");
            new.push(("README.txt".to_owned(), "mine".to_owned()));
            new.sort();
            assert!(after == before || after == new, "after step {n}: {after:?}");
            // The next run finishes the job and sweeps what the kill left.
            replace_dir(&out, &set("new")).unwrap();
            assert_eq!(contents(&out), new);
            let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(left, vec![std::ffi::OsString::from("reports")], "after step {n}");
            if r.is_ok() {
                assert_eq!(after, new);
                break;
            }
            if after == before {
                killed_old += 1;
            } else {
                killed_new += 1;
            }
            n += 1;
        }
        // Kills before the swap keep the old set; a kill after it (before
        // the old set is removed) already shows the new one.
        assert!(killed_old >= 7 && killed_new >= 1, "{killed_old} kills kept the old set, {killed_new} the new one");
    }

    /// Temporary files are never opened through a symlink planted in the
    /// report directory or beside it.
    #[test]
    fn planted_symlinks_are_never_followed() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("reports");
        std::fs::create_dir(&out).unwrap();
        let victim = root.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, out.join(".a.md.tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, out.join("a.md")).unwrap();
        for n in 0..4 {
            std::os::unix::fs::symlink(
                &victim,
                root.path().join(format!(".reports.doormat-{}-{n}", std::process::id())),
            )
            .unwrap();
        }
        replace_dir(&out, &set("new")).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(out.join("a.md")).unwrap(), "new a.md");
        assert!(!std::fs::symlink_metadata(out.join("a.md")).unwrap().file_type().is_symlink());
    }

    #[test]
    fn a_new_directory_is_created_and_errors_leave_nothing() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("deep/reports");
        replace_dir(&out, &set("new")).unwrap();
        assert_eq!(contents(&out).len(), 5);
        let file = root.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        let e = replace_dir(&file, &set("new")).unwrap_err();
        assert!(format!("{e:#}").contains("not a directory"), "{e:#}");
        let bad = replace_dir(&out, &[("../x".to_owned(), String::new())]).unwrap_err();
        assert!(format!("{bad:#}").contains("plain file name"), "{bad:#}");
        let left: Vec<_> =
            std::fs::read_dir(root.path().join("deep")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1);
    }
}
