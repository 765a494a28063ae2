//! Known-answer files: [`load`] reads them (doormat's `vectors/kat/*.yaml`
//! or upstream Wycheproof JSON files, following pointers with
//! [`read_one`]), [`judge`] runs them against a design's primitives, and
//! [`load_dir`] + [`summary`] give an audit its "Known-answer tests"
//! section.
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

use crate::files::{self, Kind, Walk};
use doormat_engine::{Design, Primitives};
use doormat_formats::{KatAccept, KatFile, KatPointer, LoadError, LoadErrors, Spec};
use doormat_oracles::KatSummary;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Every known-answer file under `paths` (files as given; folders searched
/// for `.yaml`, `.yml` and `.json`, not below), sorted by path within each folder.
pub fn load(paths: &[PathBuf]) -> Result<Vec<KatFile>, LoadErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let list = if p.is_dir() {
            match files::walk(p, Walk::Kat) {
                Ok(l) => l,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            }
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
