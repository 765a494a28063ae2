//! Rendering the report set, writing it (the directory replaced whole), and
//! checking it for drift against the files on disk.

use anyhow::Context;
use doormat_report::{
    render_html, render_html_index, render_json, render_junit, render_markdown, render_sarif, render_scorecard,
    DesignAudit, Gate,
};
use similar::TextDiff;
use std::path::Path;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `<design>.md` per design and `SCORECARD.md`.
    Md,
    /// `<design>.json` per design.
    Json,
    /// `junit.xml`.
    Junit,
    /// `doormat.sarif` (SARIF 2.1.0).
    Sarif,
    /// `<design>.html` per design and `index.html` (the scorecard): pages to
    /// open in a browser.
    Html,
}

/// Every report file of the chosen formats: (file name, contents), in a
/// fixed order.
pub fn render(audits: &[DesignAudit], gate: &Gate, formats: &[Format]) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for a in audits {
        if formats.contains(&Format::Md) {
            files.push((format!("{}.md", a.design), render_markdown(a)));
        }
        if formats.contains(&Format::Json) {
            files.push((format!("{}.json", a.design), render_json(a)));
        }
        if formats.contains(&Format::Html) {
            files.push((doormat_report::html::page_name(&a.design), render_html(a)));
        }
    }
    if formats.contains(&Format::Html) {
        files.push((doormat_report::html::INDEX.to_owned(), render_html_index(audits)));
    }
    if formats.contains(&Format::Md) {
        files.push(("SCORECARD.md".to_owned(), render_scorecard(audits)));
    }
    if formats.contains(&Format::Junit) {
        files.push(("junit.xml".to_owned(), render_junit(audits, gate)));
    }
    if formats.contains(&Format::Sarif) {
        files.push(("doormat.sarif".to_owned(), render_sarif(audits, gate)));
    }
    files
}

/// Writes the report set: `dir` is replaced whole (see [`crate::replace`]),
/// so a kill at any moment leaves the old set or the new one, never a mix.
pub fn write_all(dir: &Path, files: &[(String, String)]) -> anyhow::Result<()> {
    crate::replace::replace_dir(dir, files)
}

/// Compares `files` with `dir`, prints a unified diff per drifted file (one
/// line for a file missing from `dir`, rather than the whole file as added),
/// and returns how many drifted. Files in `dir` of formats not rendered are
/// not looked at.
#[allow(clippy::print_stdout)]
pub fn check(dir: &Path, files: &[(String, String)]) -> anyhow::Result<usize> {
    let mut drift = 0;
    for (name, fresh) in files {
        let path = dir.join(name);
        let committed = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                drift += 1;
                out!("{}: missing (the fresh audit has {} lines)", path.display(), fresh.lines().count());
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if committed != *fresh {
            drift += 1;
            let old = format!("{} (committed)", path.display());
            let new = format!("{} (fresh audit)", path.display());
            out_raw!("{}", TextDiff::from_lines(&committed, fresh).unified_diff().context_radius(2).header(&old, &new));
        }
    }
    Ok(drift)
}
