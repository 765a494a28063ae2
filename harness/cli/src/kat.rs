//! Known-answer tests from the command line: `doormat kat FILE...` runs
//! known-answer files (doormat's `vectors/kat/*.yaml` or upstream Wycheproof
//! JSON files) against the primitives of built-in designs or of the designs
//! of spec files (external programs included), and [`load_dir`] +
//! [`summary`] give the audit its "Known-answer tests" section.
//!
//! [`judge`] runs [`doormat_oracles::kat::run`], which asks the primitives
//! after each case whether they broke ([`Primitives::broken`]: an external
//! implementation that crashed, hung or broke the protocol). A broken
//! implementation's errors are not refusals: the case during which it broke
//! and every later case it would have answered count as failed (the first
//! with the reason, the others as not run), never as passed; cases before
//! the break keep their verdicts.
//!
//! **Invariant:** every file is read through [`crate::files::read`] (a
//! known-answer entry that points to a file kept elsewhere is followed by
//! [`read_one`]); parsing is
//! [`doormat_formats::KatFile::parse`], judging is [`doormat_oracles::kat`].

use crate::files::{self, Kind};
use crate::{Failure, EXIT_BROKEN, EXIT_FINDINGS, EXIT_OK};
use doormat_engine::{Design, Primitives};
use doormat_formats::{KatAccept, KatFile, KatPointer, LoadError, LoadErrors, Spec};
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
    #[arg(long = "design", conflicts_with = "spec_files")]
    pub designs: Vec<String>,
    /// Folder of specs, for each built-in design's `kat_accepts`
    #[arg(long, default_value = "specs")]
    pub specs: PathBuf,
    /// Test the design of this spec file instead (repeatable): built in, or an external program
    #[arg(long = "spec", value_name = "PATH")]
    pub spec_files: Vec<PathBuf>,
    /// Run this external implementation for the one --spec given: `exec:CMD ARG...`
    #[arg(long = "impl", value_name = "exec:CMD", requires = "spec_files")]
    pub implementation: Option<String>,
    /// Run the external program a --spec names (`implementation: {exec: ...}`); without it such a spec is refused
    #[arg(long)]
    pub allow_exec: bool,
    /// Seconds to wait for each answer of an external implementation
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
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
///
/// An `include` may name a file anywhere, but only a regular file whose
/// name ends in `.json`, `.yaml` or `.yml`, read as a known-answer file
/// ([`Kind::Kat`]: its size cap too). A problem inside the included file is
/// reported by its position only: doormat never prints what a file it was
/// pointed to contains (a pointer to `/proc/self/environ` or a private key
/// must not echo it); `doormat kat` on that file itself shows the problem.
pub fn read_one(path: &Path) -> Result<KatFile, LoadError> {
    let name = path.display().to_string();
    let src = files::read_text(path, Kind::Kat)?;
    let Some(pointer) = KatPointer::parse(&name, &src)? else {
        return KatFile::parse(&name, &src);
    };
    // At the path on the `include` line, when it is written there as is.
    let column = pointer.line.and_then(|l| src.lines().nth(l.checked_sub(1)?)).and_then(|text| {
        let at = text.find(&pointer.include)?;
        Some(text[..at].chars().count() + 1)
    });
    let at = |msg: String| LoadError::at(&name, &src, pointer.line, column, msg);
    let target = path.parent().unwrap_or(Path::new("")).join(&pointer.include);
    let shown = target.display().to_string();
    if !target.extension().is_some_and(|x| x == "json" || x == "yaml" || x == "yml") {
        return Err(at(format!(
            "`include` names {shown}: expected a known-answer file, whose name ends in .json, .yaml or .yml"
        )));
    }
    let unreadable = |e: files::ReadError| at(format!("`include` names {shown}, which cannot be read: {e}"));
    let bytes = files::read(&target, Kind::Kat).map_err(unreadable)?;
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
    let text = files::text(bytes, Kind::Kat).map_err(unreadable)?;
    // Where the included file is wrong, without a word of what it holds.
    let hidden = |e: LoadError| {
        let place = match (e.line, e.column) {
            (Some(l), Some(c)) => format!(" (at its line {l}, column {c})"),
            (Some(l), None) => format!(" (at its line {l})"),
            _ => String::new(),
        };
        at(format!(
            "`include` names {shown}, which is not a known-answer file{place}; its contents are not shown here (`doormat kat {shown}` shows the problem): expected a known-answer file in Wycheproof's shape"
        ))
    };
    match KatPointer::parse(&shown, &text) {
        Ok(Some(_)) => {
            return Err(at(format!("{shown} is itself a pointer (`include`): expected a known-answer file")));
        }
        Ok(None) => {}
        Err(e) => return Err(hidden(e)),
    }
    KatFile::parse(&shown, &text).map_err(hidden)
}

/// Adds the "Known-answer tests" section to each audit whose design exposes
/// its primitives, from `<vectors>/kat/`. The audit flow calls it once,
/// after [`doormat_report::DesignAudit::new`]:
/// `let (audits, broke) = kat::attach(audits, &selected, &args.vectors)?;`
/// (the files were already checked by `load::vectors`, before anything ran).
/// Also gives why each implementation that broke during its known-answer
/// tests broke.
pub fn attach(
    mut audits: Vec<DesignAudit>,
    selected: &[crate::load::Loaded],
    vectors: &Path,
) -> Result<(Vec<DesignAudit>, Vec<String>), LoadErrors> {
    let files = load_dir(vectors)?;
    let mut broke = Vec::new();
    for (a, (spec, design)) in audits.iter_mut().zip(selected) {
        if let Some((summary, why)) = summary(spec, design.as_ref(), &files) {
            a.kat = Some(summary);
            broke.extend(why);
        }
    }
    Ok((audits, broke))
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

/// The design's known-answer results and why its implementation broke, if
/// it did; `None` when it exposes no primitives or there are no files.
pub fn summary(spec: &Spec, design: &dyn Design, files: &[KatFile]) -> Option<(KatSummary, Option<String>)> {
    if files.is_empty() {
        return None;
    }
    let prims = design.primitives()?;
    Some(judge(prims.as_ref(), files, &spec.kat_accepts))
}

/// Every case of `files` judged against `prims`, and why the primitives
/// broke, if they did (see the module's documentation).
pub fn judge(prims: &dyn Primitives, files: &[KatFile], accepts: &[KatAccept]) -> (KatSummary, Option<String>) {
    let summary = doormat_oracles::kat::run(prims, files, accepts);
    (summary, prims.broken())
}

/// A design to test: its name, the design, and its spec's `kat_accepts`
/// (`None`: no spec found).
type Selected = (String, Box<dyn Design>, Option<Vec<KatAccept>>);

/// `doormat kat FILE...`: prints, per design, the counts and every failed
/// or unlisted case; exits 1 if any case failed, 4 if an implementation
/// broke.
pub fn run(args: &KatArgs) -> Result<u8, Failure> {
    let files = load(&args.files)?;
    let mut designs: Vec<Selected> = Vec::new();
    if args.spec_files.is_empty() {
        let specs: Vec<Spec> = crate::load::yaml_files(&args.specs)
            .map(|l| l.iter().filter_map(|p| crate::load::parse_spec(p).ok()).collect())
            .unwrap_or_default();
        let names: Vec<String> = if args.designs.is_empty() {
            doormat_designs::names().into_iter().map(str::to_owned).collect()
        } else {
            args.designs.clone()
        };
        for name in names {
            let design = doormat_designs::builtin(&name).ok_or_else(|| {
                Failure::Usage(format!(
                    "unknown built-in design `{name}`: expected one of {}",
                    doormat_designs::names().join(", ")
                ))
            })?;
            let accepts = specs.iter().find(|s| s.builtin() == Some(&name)).map(|s| s.kat_accepts.clone());
            designs.push((name, design, accepts));
        }
    } else {
        let exec = crate::load::ExecOptions {
            limits: crate::limits(args.timeout)?,
            replace: match &args.implementation {
                None => None,
                Some(i) if args.spec_files.len() == 1 => Some(crate::exec_command(i)?),
                Some(_) => {
                    return Err(Failure::Usage(
                        "--impl needs exactly one --spec (the spec of that implementation)".to_owned(),
                    ))
                }
            },
            allow: args.allow_exec,
        };
        for p in &args.spec_files {
            let (spec, design) = crate::load::spec_file(p, &exec)?;
            designs.push((spec.id.clone(), design, Some(spec.kat_accepts)));
        }
    }
    let explicit = !args.designs.is_empty() || !args.spec_files.is_empty();
    let (mut failed, mut broke) = (false, false);
    let mut ran = 0;
    for (name, design, accepts) in &designs {
        let Some(prims) = design.primitives() else {
            // An external implementation whose handshake failed offers nothing: say why.
            if let Err(e) = design.begin_run() {
                out!("{name}: ERROR: {e}");
                broke = true;
                continue;
            }
            design.end_run();
            if explicit {
                out!("{name}: exposes no primitives; nothing to test");
            }
            continue;
        };
        ran += 1;
        let (s, why) = judge(prims.as_ref(), &files, accepts.as_deref().unwrap_or_default());
        let protocol = prims.protocol();
        drop(prims);
        out!("{name}:");
        if accepts.is_none() {
            out!("  (no spec for `{name}` in {}: no flags accepted)", args.specs.display());
        }
        for f in files.iter().filter(|f| !s.files.contains(&f.file)) {
            let theirs = protocol.as_ref().map_or_else(|| "none".to_owned(), |p| format!("`{p}`"));
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
        if let Some(why) = why {
            out!("  ERROR: {why}");
            broke = true;
        }
        failed |= !s.ok();
    }
    if ran == 0 && !broke {
        return Err(Failure::Usage("no selected design exposes its primitives".to_owned()));
    }
    Ok(if broke {
        EXIT_BROKEN
    } else if failed {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use doormat_engine::{AeadAlg, ImplError};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn committed() -> Vec<KatFile> {
        load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")).unwrap()
    }

    /// The built-in primitives, until call `breaks_at` breaks them; from
    /// then on every call fails, as a broken external implementation's do.
    #[derive(Debug)]
    struct Breaking {
        inner: doormat_designs::RustCrypto,
        calls: AtomicUsize,
        breaks_at: usize,
    }

    impl Breaking {
        fn call(&self) -> Result<(), ImplError> {
            if self.calls.fetch_add(1, Ordering::SeqCst) + 1 >= self.breaks_at {
                Err(ImplError::Failed("the implementation broke".to_owned()))
            } else {
                Ok(())
            }
        }
    }

    impl Primitives for Breaking {
        fn x25519(&self, private: &[u8], public: &[u8]) -> Result<Vec<u8>, ImplError> {
            self.call().and_then(|()| self.inner.x25519(private, public))
        }
        fn ed25519_verify(&self, public: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, ImplError> {
            self.call().and_then(|()| self.inner.ed25519_verify(public, msg, sig))
        }
        fn aead_seal(&self, a: AeadAlg, k: &[u8], n: &[u8], aad: &[u8], m: &[u8]) -> Result<Vec<u8>, ImplError> {
            self.call().and_then(|()| self.inner.aead_seal(a, k, n, aad, m))
        }
        fn aead_open(&self, a: AeadAlg, k: &[u8], n: &[u8], aad: &[u8], c: &[u8]) -> Result<Vec<u8>, ImplError> {
            self.call().and_then(|()| self.inner.aead_open(a, k, n, aad, c))
        }
        fn hkdf_sha256(&self, ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Vec<u8>, ImplError> {
            self.call().and_then(|()| self.inner.hkdf_sha256(ikm, salt, info, len))
        }
        fn hmac_sha256(&self, key: &[u8], msg: &[u8]) -> Result<Vec<u8>, ImplError> {
            self.call().and_then(|()| self.inner.hmac_sha256(key, msg))
        }
        fn broken(&self) -> Option<String> {
            (self.calls.load(Ordering::SeqCst) >= self.breaks_at).then(|| "it broke at a known call".to_owned())
        }
    }

    /// A break fails the case where it happened and every later one; no
    /// case counts as passed once the implementation broke, though its
    /// errors would have passed every `invalid` case.
    #[test]
    fn a_break_fails_the_case_where_it_happened_and_every_later_one() {
        let files = committed();
        let whole = judge(&doormat_designs::RustCrypto, &files, &[]).0;
        let total: usize = whole.counts.iter().map(|c| c.passed + c.failed + c.unlisted + c.skipped).sum();
        // AES-256-GCM makes 6 calls; the 8th is ChaCha20-Poly1305 tcId 1's open.
        let p = Breaking { inner: doormat_designs::RustCrypto, calls: AtomicUsize::new(0), breaks_at: 8 };
        let (s, broke) = judge(&p, &files, &[]);
        assert_eq!(broke.as_deref(), Some("it broke at a known call"));
        let n: usize = s.counts.iter().map(|c| c.passed + c.failed + c.unlisted + c.skipped).sum();
        assert_eq!(n, total, "every case is counted once");
        let passed: usize = s.counts.iter().map(|c| c.passed).sum();
        let aes = s.counts.iter().filter(|c| c.algorithm == "AES-256-GCM").map(|c| c.passed).sum::<usize>();
        assert_eq!((passed, aes), (4, 4), "only the AES-256-GCM cases, all before the break, passed: {s:?}");
        assert_eq!(s.failures[0].got, "it broke at a known call");
        assert_eq!((s.failures[0].algorithm.as_str(), s.failures[0].tc_id), ("ChaCha20-Poly1305", 1));
        assert!(
            s.failures[1..].iter().all(|f| f.got.starts_with("not run: the implementation broke earlier (")
                && f.got.ends_with("chacha20poly1305.yaml tcId 1)")),
            "{:?}",
            s.failures
        );
        assert_eq!(s.failures.len(), total - 4);
        assert!(s.unlisted.is_empty());
    }
}
