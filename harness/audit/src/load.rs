//! Reading specs, vectors, expected deviations and shards from disk, with
//! every problem reported as a [`LoadError`] naming the file. Folders are
//! walked by [`files::walk`], files read by [`files::read`]; known-answer
//! files found among vectors are checked by [`crate::kat::read_one`].
//!
//! Nothing here writes to the terminal: what a user should be told while
//! specs load (a spec skipped) goes to the caller's `notice`.

use crate::files::{self, read_text, show, Kind, Walk};
use doormat_engine::Design;
use doormat_formats::{locate, Implementation, LoadError, LoadErrors, Scenario, Spec, Vector};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A spec with the design it names.
#[derive(Debug)]
pub struct Loaded {
    /// The spec.
    pub spec: Spec,
    /// Its design: built in, or an external program.
    pub design: Box<dyn Design>,
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// How external implementations are run.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Time, line and output limits.
    pub limits: doormat_exec::Limits,
    /// `--impl exec:CMD`: replaces the spec's implementation, run in the
    /// current directory.
    pub replace: Option<String>,
    /// `--allow-exec`: the user agrees to run the programs that specs name.
    /// Without it (and without `--impl`), a spec found by a folder walk that
    /// names a program is skipped with a notice, and one given by path is
    /// refused: auditing a checkout must not run its programs unasked.
    pub allow: bool,
}

/// Why a spec's program will not run: the user did not ask for it.
pub fn not_allowed(p: &Path, cmd: &str) -> String {
    format!(
        "{} names an external program (`{cmd}`): doormat runs a spec's program only when asked to, with --allow-exec (or with --impl)",
        show(p)
    )
}

fn at_key(file: &str, src: &str, key: &str, msg: String) -> LoadError {
    let (l, c) = locate::top_key(src, key).map_or((None, None), |(l, c)| (Some(l), Some(c)));
    LoadError::at(file, src, l, c, msg)
}

/// Parses one spec file and checks what can be checked without running
/// anything: its fields, and that its implementation exists (built in) or
/// its command parses (external).
pub fn parse_spec(p: &Path) -> Result<Spec, LoadErrors> {
    parse_spec_text(p).map(|(spec, _)| spec)
}

/// [`parse_spec`], with the text it read.
fn parse_spec_text(p: &Path) -> Result<(Spec, String), LoadErrors> {
    let src = read_text(p, Kind::Spec)?;
    let file = show(p);
    let spec = Spec::parse(&file, &stem(p), &src)?;
    match &spec.implementation {
        Implementation::Builtin(name) if !doormat_designs::known().contains(&name.as_str()) => {
            let known = doormat_designs::known().join(", ");
            Err(at_key(
                &file,
                &src,
                "implementation",
                format!("unknown built-in implementation `{name}`: expected one of {known}"),
            )
            .into())
        }
        Implementation::Exec(cmd) => match doormat_exec::Command::parse(cmd, None) {
            Err(e) => Err(at_key(&file, &src, "implementation", format!("bad command `{cmd}`: {e}")).into()),
            Ok(_) => Ok((spec, src)),
        },
        _ => Ok((spec, src)),
    }
}

/// Parses one spec file and makes the design it names: a built-in one, or
/// an external program (whose handshake runs now).
pub fn spec_file(p: &Path, exec: &ExecOptions) -> Result<Loaded, LoadErrors> {
    let (spec, src) = parse_spec_text(p)?;
    let file = show(p);
    let exec_cmd = match (&exec.replace, &spec.implementation) {
        (Some(cmd), _) => Some((cmd.clone(), None)),
        (None, Implementation::Exec(cmd)) if !exec.allow => {
            return Err(at_key(&file, &src, "implementation", not_allowed(p, cmd)).into());
        }
        (None, Implementation::Exec(cmd)) => {
            let dir =
                p.parent().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d }).map(Path::to_path_buf);
            Some((cmd.clone(), dir))
        }
        (None, _) => None,
    };
    let design: Box<dyn Design> = match exec_cmd {
        Some((cmd, cwd)) => {
            let command = doormat_exec::Command::parse(&cmd, cwd)
                .map_err(|e| at_key(&file, &src, "implementation", format!("bad command `{cmd}`: {e}")))?;
            Box::new(doormat_exec::ExecDesign::new(&spec.id, command, exec.limits))
        }
        None => match spec.builtin().and_then(doormat_designs::builtin) {
            Some(d) => d,
            None => {
                let name = spec.builtin().unwrap_or_default();
                let msg = format!("the `{name}` design is not compiled into this build: expected a build with its cargo feature (the default features include it)");
                return Err(at_key(&file, &src, "implementation", msg).into());
            }
        },
    };
    let declared: Vec<&str> = spec.roles.iter().map(|r| r.id.as_str()).collect();
    let has = design.authorities();
    if declared != has.iter().map(String::as_str).collect::<Vec<_>>() {
        let want = if has.is_empty() { "none".to_owned() } else { has.join(", ") };
        return Err(at_key(
            &file,
            &src,
            if spec.roles.is_empty() { "implementation" } else { "roles" },
            format!(
                "the spec declares roles [{}] but the implementation has these third parties: expected {want}",
                declared.join(", ")
            ),
        )
        .into());
    }
    Ok(Loaded { spec, design })
}

/// Every spec in a directory, sorted by id. A spec that names an external
/// program is skipped, with a notice, unless `exec.allow`.
pub fn specs(dir: &Path, exec: &ExecOptions, notice: &mut dyn FnMut(String)) -> Result<Vec<Loaded>, LoadErrors> {
    let mut files = files::walk(dir, Walk::Inputs)?;
    if !exec.allow {
        files.retain(|p| match parse_spec(p) {
            Ok(Spec { implementation: Implementation::Exec(cmd), .. }) => {
                notice(format!("skipping {}", not_allowed(p, &cmd)));
                false
            }
            _ => true,
        });
    }
    specs_in(&files, exec, dir, notice)
}

/// Specs from files, sorted by id. A spec whose built-in design is not
/// compiled into this build is skipped, with a notice.
pub fn specs_in(
    files: &[PathBuf],
    exec: &ExecOptions,
    shown: &Path,
    notice: &mut dyn FnMut(String),
) -> Result<Vec<Loaded>, LoadErrors> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for p in files {
        if let Ok(spec) = parse_spec(p) {
            if let Some(name) = spec.builtin().filter(|n| doormat_designs::builtin(n).is_none()) {
                notice(format!("skipping {}: the `{name}` design is not compiled into this build", show(p)));
                continue;
            }
        }
        match spec_file(p, exec) {
            Ok(s) => out.push(s),
            Err(e) => errors.extend(e.0),
        }
    }
    if !errors.is_empty() {
        return Err(LoadErrors(errors));
    }
    if out.is_empty() {
        return Err(
            LoadError::file(&show(shown), "no spec files (*.yaml) found: expected at least one design spec").into()
        );
    }
    out.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
    if let Some(w) = out.windows(2).find(|w| w[0].spec.id == w[1].spec.id) {
        return Err(LoadError::file(
            &show(shown),
            format!("two specs have the id `{}`: expected unique ids", w[0].spec.id),
        )
        .into());
    }
    Ok(out)
}

/// Every vector under the paths, sorted by id; ids must be unique. Files in
/// a folder named `kat` are known-answer vectors: parsed as such (so
/// `validate` checks them) and left out.
pub fn vectors(paths: &[PathBuf]) -> Result<Vec<Scenario>, LoadErrors> {
    let mut errors = Vec::new();
    let mut by_id: BTreeMap<String, (PathBuf, Scenario)> = BTreeMap::new();
    for path in paths {
        let files = match files::walk(path, Walk::Inputs) {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for p in files {
            // A folder named `kat` holds known-answer vectors for primitives
            // (see `kat.rs`): checked here, never run as scenarios.
            if files::in_kat(&p) {
                if let Err(e) = crate::kat::read_one(&p) {
                    errors.push(e);
                }
                continue;
            }
            let src = match read_text(&p, Kind::Vector) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            match Vector::parse(&show(&p), &stem(&p), &src) {
                Ok(sc) => {
                    if let Some((other, _)) = by_id.get(&sc.id) {
                        errors.push(LoadError::file(
                            &show(&p),
                            format!(
                                "vector id `{}` is also used by {}: expected unique file names",
                                sc.id,
                                show(other)
                            ),
                        ));
                    } else {
                        by_id.insert(sc.id.clone(), (p, sc));
                    }
                }
                Err(e) => errors.extend(e.0),
            }
        }
    }
    if errors.is_empty() {
        Ok(by_id.into_values().map(|(_, s)| s).collect())
    } else {
        Err(LoadErrors(errors))
    }
}

/// Splits paths into spec files and vector paths: files under a directory
/// named `specs` are specs. A folder with no such file is an error: there
/// is nothing to validate in it.
pub fn classify(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>), LoadErrors> {
    let mut specs = Vec::new();
    let mut vectors = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match files::walk(p, Walk::Inputs) {
            Ok(files) if files.is_empty() => errors.push(LoadError::file(
                &show(p),
                "nothing to validate: expected spec or vector files (*.yaml, *.yml; *.json in a `kat` folder) in this folder",
            )),
            Ok(files) => {
                for f in files {
                    if f.components().any(|c| c.as_os_str() == "specs") {
                        specs.push(f);
                    } else {
                        vectors.push(f);
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok((specs, vectors))
    } else {
        Err(LoadErrors(errors))
    }
}

/// Expected-deviations files in `dir`: `<design>.yaml`, keyed by design.
pub fn deviations(dir: &Path) -> Result<BTreeMap<String, doormat_formats::Deviations>, LoadErrors> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for p in files::walk(dir, Walk::Inputs)? {
        let src = read_text(&p, Kind::Deviations)?;
        match doormat_formats::Deviations::parse(&show(&p), &src) {
            Ok(d) if d.design == stem(&p) => {
                out.insert(d.design.clone(), d);
            }
            Ok(d) => errors.push(at_key(
                &show(&p),
                &src,
                "design",
                format!("design `{}` does not match the file name: expected `{}`", d.design, stem(&p)),
            )),
            Err(e) => errors.extend(e.0),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(LoadErrors(errors))
    }
}

/// Every spec in `dir` that parses, sorted by path; the others, and a
/// missing folder, quietly left out (for listings and the `kat_accepts` of
/// built-in designs).
pub fn readable_specs(dir: &Path) -> Vec<Spec> {
    files::walk(dir, Walk::Inputs).map(|l| l.iter().filter_map(|p| parse_spec(p).ok()).collect()).unwrap_or_default()
}

/// The specs of `files`, or of every file in `dir` when `files` is empty,
/// read and checked, never run; the first bad one is the error.
pub fn parse_specs(dir: &Path, files: &[PathBuf]) -> Result<Vec<Spec>, LoadErrors> {
    let walked;
    let files = if files.is_empty() {
        walked = files::walk(dir, Walk::Inputs)?;
        &walked
    } else {
        files
    };
    files.iter().map(|p| parse_spec(p)).collect()
}

/// One shard of a partitioned audit, as `doormat audit --partition`
/// wrote it.
pub fn shard(p: &Path) -> Result<doormat_report::shard::Shard, LoadErrors> {
    let text = read_text(p, Kind::Shard)?;
    serde_json::from_str(&text).map_err(|e| LoadError::file(&show(p), format!("not a doormat shard: {e}")).into())
}

/// What [`validate`] found valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Valid {
    /// Spec files.
    pub specs: usize,
    /// Vectors (known-answer files are checked and not counted).
    pub vectors: usize,
}

/// Checks spec and vector files (files under a folder named `specs` are
/// specs, all others vectors), cross-references included, without running
/// anything; every problem in every file is an error.
pub fn validate(paths: &[PathBuf]) -> Result<Valid, LoadErrors> {
    let (specs, vectors) = classify(paths)?;
    let mut errors = LoadErrors::default();
    let mut n_specs = 0;
    for p in &specs {
        match parse_spec(p) {
            Ok(_) => n_specs += 1,
            Err(e) => errors.0.extend(e.0),
        }
    }
    let n_vectors = match self::vectors(&vectors) {
        Ok(v) => v.len(),
        Err(e) => {
            errors.0.extend(e.0);
            0
        }
    };
    if errors.0.is_empty() {
        Ok(Valid { specs: n_specs, vectors: n_vectors })
    } else {
        Err(errors)
    }
}
