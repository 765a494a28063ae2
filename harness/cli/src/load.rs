//! Reading specs and vectors from disk, with every problem reported as a
//! [`LoadError`] naming the file.

use doormat_engine::Design;
use doormat_formats::{locate, LoadError, LoadErrors, Scenario, Spec, Vector};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A spec with the design it names.
pub type Loaded = (Spec, Box<dyn Design>);

fn show(p: &Path) -> String {
    p.display().to_string()
}

fn read(p: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(p).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_owned(),
            std::io::ErrorKind::InvalidData => "not UTF-8 text: expected a YAML file".to_owned(),
            _ => e.to_string(),
        };
        LoadError::file(&show(p), what)
    })
}

/// `*.yaml` / `*.yml` files under `p` (or `p` itself), sorted.
fn yaml_files(p: &Path) -> Result<Vec<PathBuf>, LoadError> {
    if !p.exists() {
        return Err(LoadError::file(&show(p), "no such file or directory"));
    }
    if p.is_file() {
        return Ok(vec![p.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| LoadError::file(&show(&dir), e.to_string()))?;
        for entry in entries {
            let path = entry.map_err(|e| LoadError::file(&show(&dir), e.to_string()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Parses one spec file and checks its implementation exists.
pub fn spec_file(p: &Path) -> Result<Loaded, LoadErrors> {
    let src = read(p)?;
    let file = show(p);
    let spec = Spec::parse(&file, &stem(p), &src)?;
    match doormat_designs::builtin(spec.builtin()) {
        Some(d) => {
            let declared: Vec<&str> = spec.roles.iter().map(|r| r.id.as_str()).collect();
            let has = d.authorities();
            if declared != has.iter().map(String::as_str).collect::<Vec<_>>() {
                let (l, c) = locate::top_key(&src, "roles").map_or((None, None), |(l, c)| (Some(l), Some(c)));
                let want = if has.is_empty() { "none".to_owned() } else { has.join(", ") };
                return Err(LoadError::at(
                    &file,
                    &src,
                    l,
                    c,
                    format!(
                        "the spec declares roles [{}] but `{}` has these third parties: expected {want}",
                        declared.join(", "),
                        spec.builtin()
                    ),
                )
                .into());
            }
            Ok((spec, d))
        }
        None => {
            let (l, c) = locate::top_key(&src, "implementation").map_or((None, None), |(l, c)| (Some(l), Some(c)));
            let known = doormat_designs::BUILTIN.join(", ");
            Err(LoadError::at(
                &file,
                &src,
                l,
                c,
                format!("unknown built-in implementation `{}`: expected one of {known}", spec.builtin()),
            )
            .into())
        }
    }
}

/// Every spec in a directory, sorted by id.
pub fn specs(dir: &Path) -> Result<Vec<Loaded>, LoadErrors> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for p in yaml_files(dir)? {
        match spec_file(&p) {
            Ok(s) => out.push(s),
            Err(e) => errors.extend(e.0),
        }
    }
    if !errors.is_empty() {
        return Err(LoadErrors(errors));
    }
    if out.is_empty() {
        return Err(
            LoadError::file(&show(dir), "no spec files (*.yaml) found: expected at least one design spec").into()
        );
    }
    out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    Ok(out)
}

/// Every vector under the paths, sorted by id; ids must be unique.
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
            let src = match read(&p) {
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
/// named `specs` are specs.
pub fn classify(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>), LoadErrors> {
    let mut specs = Vec::new();
    let mut vectors = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match yaml_files(p) {
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
