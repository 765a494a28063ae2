//! Reading specs and vectors from disk, with every problem reported as a
//! [`LoadError`] naming the file.

use crate::files::{read_text, Kind};
use doormat_engine::Design;
use doormat_formats::{locate, Implementation, LoadError, LoadErrors, Scenario, Spec, Vector};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A spec with the design it names.
pub type Loaded = (Spec, Box<dyn Design>);

fn show(p: &Path) -> String {
    p.display().to_string()
}

/// `*.yaml` / `*.yml` files under `p` (or `p` itself, when it is not a
/// folder), and `*.json` files in folders named `kat` (known-answer files),
/// sorted. The walk follows symbolic links to folders but enters each
/// folder once (a link loop ends), and never opens a file: a FIFO or a
/// device with such a name is listed, and the reader refuses it.
pub fn yaml_files(p: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let meta = std::fs::metadata(p).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
            _ => e.to_string(),
        };
        LoadError::file(&show(p), what)
    })?;
    if !meta.is_dir() {
        return Ok(vec![p.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(dir) = stack.pop() {
        // The folder itself, whatever links led here: each is walked once.
        let real = std::fs::canonicalize(&dir).map_err(|e| LoadError::file(&show(&dir), e.to_string()))?;
        if !seen.insert(real) {
            continue;
        }
        let entries = std::fs::read_dir(&dir).map_err(|e| LoadError::file(&show(&dir), e.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|e| LoadError::file(&show(&dir), e.to_string()))?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(|e| LoadError::file(&show(&path), e.to_string()))?;
            // A link counts as what it points to (a broken one as a file, which the reader reports).
            let is_dir =
                file_type.is_dir() || (file_type.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_dir()));
            if is_dir {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml" || (x == "json" && in_kat(&path))) {
                // JSON only as a known-answer file (upstream Wycheproof's shape).
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether a file sits in a folder named `kat` (known-answer files).
fn in_kat(p: &Path) -> bool {
    p.parent().and_then(Path::file_name).is_some_and(|n| n == "kat")
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
        Implementation::Builtin(name) if !doormat_designs::KNOWN.contains(&name.as_str()) => {
            let known = doormat_designs::KNOWN.join(", ");
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
    Ok((spec, design))
}

/// Every spec in a directory, sorted by id. A spec that names an external
/// program is skipped, with a notice, unless `exec.allow`.
pub fn specs(dir: &Path, exec: &ExecOptions) -> Result<Vec<Loaded>, LoadErrors> {
    let mut files = yaml_files(dir)?;
    if !exec.allow {
        files.retain(|p| match parse_spec(p) {
            Ok(Spec { implementation: Implementation::Exec(cmd), .. }) => {
                err!("doormat: skipping {}", not_allowed(p, &cmd));
                false
            }
            _ => true,
        });
    }
    specs_in(&files, exec, dir)
}

/// Specs from files, sorted by id.
pub fn specs_in(files: &[PathBuf], exec: &ExecOptions, shown: &Path) -> Result<Vec<Loaded>, LoadErrors> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for p in files {
        if let Ok(spec) = parse_spec(p) {
            if let Some(name) = spec.builtin().filter(|n| doormat_designs::builtin(n).is_none()) {
                err!("doormat: skipping {}: the `{name}` design is not compiled into this build", show(p));
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
    out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    if let Some(w) = out.windows(2).find(|w| w[0].0.id == w[1].0.id) {
        return Err(LoadError::file(
            &show(shown),
            format!("two specs have the id `{}`: expected unique ids", w[0].0.id),
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
        let files = match yaml_files(path) {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for p in files {
            // A folder named `kat` holds known-answer vectors for primitives
            // (see `kat.rs`): checked here, never run as scenarios.
            if in_kat(&p) {
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
        match yaml_files(p) {
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
    for p in yaml_files(dir)? {
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
