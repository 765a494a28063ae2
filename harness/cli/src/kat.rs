//! `doormat kat FILE...`: runs known-answer files (doormat's
//! `vectors/kat/*.yaml` or upstream Wycheproof JSON files) against the
//! primitives of built-in designs or of the designs of spec files
//! (external programs included), and prints what each design got.
//! Reading and judging the files is [`doormat_audit::kat`]'s.

use crate::{Failure, EXIT_BROKEN, EXIT_FINDINGS, EXIT_OK};
use doormat_audit::kat::load;
use doormat_audit::KatTarget;
use std::path::PathBuf;

/// Every case of some known-answer files judged against some primitives
/// (`adapter-check` judges an implementation on doormat's own file).
pub use doormat_audit::kat::judge;

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

/// `doormat kat FILE...`: prints, per design, the counts and every failed
/// or unlisted case; exits 1 if any case failed, 4 if an implementation
/// broke.
pub fn run(args: &KatArgs) -> Result<u8, Failure> {
    let files = load(&args.files)?;
    let designs = if args.spec_files.is_empty() {
        KatTarget::builtin(&args.designs, &args.specs)?
    } else {
        let exec = crate::exec_options(
            crate::limits(args.timeout)?,
            args.implementation.as_deref(),
            &args.spec_files,
            args.allow_exec,
        )?;
        KatTarget::of_specs(&args.spec_files, &exec)?
    };
    let explicit = !args.designs.is_empty() || !args.spec_files.is_empty();
    let (mut failed, mut broke) = (false, false);
    let mut ran = 0;
    for KatTarget { name, design, accepts } in &designs {
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
