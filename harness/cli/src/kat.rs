//! Known-answer tests from the command line: `doormat kat FILE...` runs
//! known-answer files (doormat's `vectors/kat/*.yaml` or upstream Wycheproof
//! JSON files) against the primitives of built-in designs, and
//! [`load_dir`] + [`summary`] give the audit its "Known-answer tests"
//! section.
//!
//! **Invariant:** file I/O stays here; parsing is
//! [`doormat_formats::KatFile::parse`], judging is [`doormat_oracles::kat`].

use crate::{Failure, EXIT_FINDINGS, EXIT_OK};
use doormat_engine::Design;
use doormat_formats::{KatFile, KatPointer, LoadError, LoadErrors, Spec};
use doormat_oracles::KatSummary;
use doormat_report::DesignAudit;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `doormat kat`.
#[derive(Debug, clap::Args)]
pub struct KatArgs {
    /// Known-answer files or folders of them (`.yaml`, `.yml` or Wycheproof `.json`)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Built-in designs to test (default: every built-in design that exposes its primitives)
    #[arg(long = "design")]
    pub designs: Vec<String>,
    /// Folder of specs, for each design's `kat_accepts`
    #[arg(long, default_value = "specs")]
    pub specs: PathBuf,
}

/// Every known-answer file under `paths` (files as given; folders searched
/// for `.yaml`, `.yml` and `.json`), sorted by path within each folder.
pub fn load(paths: &[PathBuf]) -> Result<Vec<KatFile>, LoadErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let list = if p.is_dir() {
            let mut l: Vec<PathBuf> = match std::fs::read_dir(p) {
                Ok(rd) => rd
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json"))
                    .collect(),
                Err(e) => {
                    errors.push(LoadError::file(&p.display().to_string(), e.to_string()));
                    continue;
                }
            };
            l.sort();
            l
        } else {
            vec![p.clone()]
        };
        for f in list {
            match read_one(&f) {
                Ok(k) => files.push(k),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(LoadErrors(errors))
    }
}

/// One known-answer file, following it if it is a [`KatPointer`] (to a
/// file named relative to the pointer's folder, checked against its
/// `sha256` if pinned).
pub fn read_one(path: &Path) -> Result<KatFile, LoadError> {
    let name = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| LoadError::file(&name, format!("cannot read: {e}")))?;
    let Some(pointer) = KatPointer::parse(&name, &src)? else {
        return KatFile::parse(&name, &src);
    };
    let at = |msg: String| LoadError::at(&name, &src, pointer.line, None, msg);
    let target = path.parent().unwrap_or(Path::new("")).join(&pointer.include);
    let shown = target.display().to_string();
    let bytes =
        std::fs::read(&target).map_err(|e| at(format!("`include` names {shown}, which cannot be read: {e}")))?;
    if let Some(want) = &pointer.sha256 {
        let got = Sha256::digest(&bytes);
        if got.as_slice() != want.as_slice() {
            return Err(at(format!(
                "{shown} has SHA-256 {}, expected {} (`sha256`): the file changed since it was pinned",
                hex::encode(got),
                hex::encode(want)
            )));
        }
    }
    let text = String::from_utf8(bytes).map_err(|_| at(format!("{shown} is not UTF-8 text")))?;
    if KatPointer::parse(&shown, &text)?.is_some() {
        return Err(at(format!("{shown} is itself a pointer (`include`): expected a known-answer file")));
    }
    KatFile::parse(&shown, &text)
}

/// Adds the "Known-answer tests" section to each audit whose design exposes
/// its primitives, from `<vectors>/kat/`. The audit flow calls it once,
/// after [`doormat_report::DesignAudit::new`]:
/// `let audits = kat::attach(audits, &selected, &args.vectors)?;`
/// (the files were already checked by `load::vectors`, before anything ran).
pub fn attach(
    mut audits: Vec<DesignAudit>,
    selected: &[crate::load::Loaded],
    vectors: &Path,
) -> Result<Vec<DesignAudit>, LoadErrors> {
    let files = load_dir(vectors)?;
    for (a, (spec, design)) in audits.iter_mut().zip(selected) {
        a.kat = summary(spec, design.as_ref(), &files);
    }
    Ok(audits)
}

/// The known-answer files of a vector folder: `<vectors>/kat/`, or none when
/// it does not exist.
pub fn load_dir(vectors: &Path) -> Result<Vec<KatFile>, LoadErrors> {
    let dir = vectors.join("kat");
    if dir.is_dir() {
        load(&[dir])
    } else {
        Ok(Vec::new())
    }
}

/// The design's known-answer results, or `None` when it exposes no
/// primitives or there are no files.
pub fn summary(spec: &Spec, design: &dyn Design, files: &[KatFile]) -> Option<KatSummary> {
    if files.is_empty() {
        return None;
    }
    let prims = design.primitives()?;
    Some(doormat_oracles::kat::run(prims.as_ref(), files, &spec.kat_accepts))
}

/// `doormat kat FILE...`: prints, per design, the counts and every failed
/// or unlisted case; exits 1 if any case failed.
pub fn run(args: &KatArgs) -> Result<u8, Failure> {
    let files = load(&args.files)?;
    let specs: Vec<Spec> = crate::load::yaml_files(&args.specs)
        .map(|l| l.iter().filter_map(|p| crate::load::parse_spec(p).ok()).collect())
        .unwrap_or_default();
    let names: Vec<String> = if args.designs.is_empty() {
        doormat_designs::names().into_iter().map(str::to_owned).collect()
    } else {
        args.designs.clone()
    };
    let mut failed = false;
    let mut ran = 0;
    for name in &names {
        let design = doormat_designs::builtin(name).ok_or_else(|| {
            Failure::Usage(format!(
                "unknown built-in design `{name}`: expected one of {}",
                doormat_designs::names().join(", ")
            ))
        })?;
        let Some(prims) = design.primitives() else {
            if !args.designs.is_empty() {
                out!("{name}: exposes no primitives; nothing to test");
            }
            continue;
        };
        ran += 1;
        let accepts = specs.iter().find(|s| s.builtin() == Some(name)).map(|s| s.kat_accepts.clone());
        let s = doormat_oracles::kat::run(prims.as_ref(), &files, accepts.as_deref().unwrap_or_default());
        out!("{name}:");
        if accepts.is_none() {
            out!("  (no spec for `{name}` in {}: no flags accepted)", args.specs.display());
        }
        for f in files.iter().filter(|f| !s.files.contains(&f.file)) {
            let theirs = prims.protocol().map_or_else(|| "none".to_owned(), |p| format!("`{p}`"));
            out!(
                "  not applicable: {} (functions of protocol `{}`; {name} implements {theirs})",
                f.file,
                f.protocol.as_deref().unwrap_or("?")
            );
        }
        let width = s.counts.iter().map(|c| c.algorithm.chars().count()).max().unwrap_or(0).max(20);
        for c in &s.counts {
            out!(
                "  {:<width$} {:<10} passed {:>4}  failed {:>4}  flags not listed {:>4}  skipped {:>4}",
                c.algorithm,
                c.result,
                c.passed,
                c.failed,
                c.unlisted,
                c.skipped
            );
        }
        for (alg, why) in &s.not_offered {
            out!("  not offered: {alg}: {why}");
        }
        for (what, list) in [("FAILED", &s.failures), ("not listed", &s.unlisted)] {
            for i in list {
                out!(
                    "  {what}: {} tcId {} [{}] ({}; expected {}): {} — {}",
                    i.algorithm,
                    i.tc_id,
                    i.flags.join(", "),
                    i.file,
                    i.expected,
                    i.comment,
                    i.got
                );
            }
        }
        failed |= !s.ok();
    }
    if ran == 0 {
        return Err(Failure::Usage("no selected design exposes its primitives".to_owned()));
    }
    Ok(if failed { EXIT_FINDINGS } else { EXIT_OK })
}
