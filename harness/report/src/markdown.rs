//! The per-design Markdown report, written for a policy reader: the
//! scorecard first, then each finding as one plain sentence with its
//! evidence, then a table per vector, then the known-answer tests of the
//! primitives (when run), then what the audit cannot see.

use crate::audit::DesignAudit;
use doormat_formats::Property;
use doormat_oracles::Verdict;
use std::fmt::Write;

/// Escapes text from a spec, vector or known-answer file for a Markdown
/// table cell or a line: pipes, newlines, HTML's `<` and `>` and control
/// characters. (Text an implementation wrote goes through
/// [`crate::inert::markdown`], which escapes all Markdown punctuation.)
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in crate::inert::terminal(s).chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// One vector's verdict as shown in the vector table, in the words of the
/// answers: "yes", "**no**", "not tested", "**could not be judged**".
pub fn verdict_mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "yes",
        Verdict::Fail => "**no**",
        Verdict::NotTested => "not tested",
        Verdict::Error => "**could not be judged**",
    }
}

/// Pieces of evidence a finding shows here (the JSON report has up to
/// `doormat_oracles::verdict::EVIDENCE_CAP`).
const EVIDENCE_SHOWN: usize = 3;

fn evidence(s: &mut String, f: &doormat_oracles::Finding) {
    for e in f.evidence.iter().take(EVIDENCE_SHOWN) {
        let _ = writeln!(s, "- {}", e.text);
    }
    let shown = f.evidence.len().min(EVIDENCE_SHOWN);
    if f.evidence_total > shown {
        let _ = writeln!(
            s,
            "- … and {} more (the JSON report lists the first {})",
            f.evidence_total - shown,
            f.evidence.len()
        );
    }
    s.push('\n');
}

/// Most bytes of sequence diagrams in one report; the vectors past it are
/// named, and drawn in the HTML report.
const DIAGRAM_BUDGET: usize = 10 * 1024;

/// Renders one design's report.
pub fn render_markdown(a: &DesignAudit) -> String {
    let mut s = String::new();
    in_short(&mut s, a);
    contents(&mut s, a);
    properties(&mut s, a);
    findings(&mut s, a, false);
    observed(&mut s, a);
    not_tested(&mut s, a);
    vector_table(&mut s, a);
    step_by_step(&mut s, a, false);
    if let Some(k) = &a.kat {
        known_answers(&mut s, k);
    }
    let _ = writeln!(s, "## What this audit cannot see\n");
    for c in &a.cannot_see {
        let _ = writeln!(s, "- {c}");
    }
    if has_appendix(a) {
        let _ = writeln!(s, "\n## Appendix: generated regressions\n");
        let _ = writeln!(
            s,
            "Vectors the property tests generated when they found a bug, kept so that it stays fixed. \
Their findings count in every answer above; they are shown here, apart from the hand-written vectors, because \
their long generated scripts are harder to read.\n"
        );
        findings(&mut s, a, true);
        step_by_step(&mut s, a, true);
    }
    s
}

fn has_appendix(a: &DesignAudit) -> bool {
    !crate::layout::groups(a, true).is_empty()
}

/// The title, the three opening lines, then what the design is and what
/// its promoters say.
fn in_short(s: &mut String, a: &DesignAudit) {
    let _ = writeln!(s, "# Audit of `{}`: {}\n", a.design, a.title);
    let i = &a.in_short;
    let _ = writeln!(s, "**Promises:** {}  ", i.promises);
    let _ = writeln!(s, "**Found:** {}  ", i.found);
    let _ = writeln!(s, "**Remember:** {}\n", i.remember);
    for line in a.also_found() {
        let _ = writeln!(s, "**Also:** {line}\n");
    }
    let _ = writeln!(s, "{}\n", a.summary);
    if let Some(p) = &a.promise {
        let _ = writeln!(s, "What its promoters say:\n");
        for line in p.lines() {
            let _ = writeln!(s, "> {line}");
        }
        s.push('\n');
    }
}

/// The table of contents.
fn contents(s: &mut String, a: &DesignAudit) {
    let mut toc: Vec<(&str, &str)> = vec![("Properties", "properties"), ("Findings", "findings")];
    if !a.observations.is_empty() {
        toc.push(("Visible access", "visible-access"));
    }
    if !a.limits.is_empty() {
        toc.push(("Limits the spec states", "limits-the-spec-states"));
    }
    if a.properties.iter().any(|p| p.verdict == Verdict::NotTested) {
        toc.push(("Not tested", "not-tested"));
    }
    toc.push(("Vectors", "vectors"));
    if !diagrams(a, false).is_empty() {
        toc.push(("Step by step", "step-by-step"));
    }
    if a.kat.is_some() {
        toc.push(("Known-answer tests", "known-answer-tests"));
    }
    toc.push(("What this audit cannot see", "what-this-audit-cannot-see"));
    if has_appendix(a) {
        toc.push(("Appendix: generated regressions", "appendix-generated-regressions"));
    }
    let links: Vec<String> = toc.iter().map(|(t, id)| format!("[{t}](#{id})")).collect();
    let _ = writeln!(s, "Contents: {}\n", links.join(" · "));
}

/// The "Properties" section: one row per property, the answer in the words
/// every output uses, then the legend.
fn properties(s: &mut String, a: &DesignAudit) {
    let _ = writeln!(s, "## Properties\n");
    let _ = writeln!(s, "| Property | What it means | Answer |");
    let _ = writeln!(s, "|---|---|---|");
    for p in &a.properties {
        let cell = if p.alarming() { format!("**{}**", p.cell()) } else { p.cell() };
        let _ = writeln!(s, "| {} | {} | {cell} |", p.property, p.property.plain());
    }
    let _ = writeln!(s, "\n{}\n", crate::audit::LEGEND);
}

/// The findings of the hand-written vectors (or, in the appendix, of the
/// generated ones), grouped by kind.
fn findings(s: &mut String, a: &DesignAudit, appendix: bool) {
    let o = &a.outcome;
    let groups = crate::layout::groups(a, appendix);
    let _ = writeln!(s, "{} Findings\n", if appendix { "###" } else { "##" });
    if appendix {
        // Only called when there is something to show.
    } else if a.findings.is_empty() && o.broken_vectors > 0 {
        let _ = writeln!(s, "None observed in the runs that finished; {} (see \"Runs that broke\").\n", o.broke());
    } else if a.findings.is_empty() {
        let _ = writeln!(s, "None: no oracle observed a violation.\n");
    } else if groups.is_empty() {
        let _ = writeln!(s, "None in the hand-written vectors; see the appendix for the generated ones.\n");
    }
    let h = if appendix { "####" } else { "###" };
    for (i, g) in groups.iter().enumerate() {
        let f = g.first();
        let vs = g.vectors();
        let where_ = match vs.len() {
            1 => format!("vector `{}`", vs[0]),
            n => format!("{n} vectors, the first `{}`", vs[0]),
        };
        let _ = writeln!(s, "{h} {}. {}\n", i + 1, f.sentence);
        let _ = writeln!(s, "*{}; {where_}.*\n", f.property);
        evidence(s, f);
        if let Some(l) = a.limit_for(f) {
            let _ = writeln!(s, "*Within a limit the spec states:* {}\n", l.reason);
        }
        if g.findings.len() > 1 {
            let rest = &g.findings[1..];
            let _ = writeln!(s, "The same kind of finding {}:\n", plural(rest.len(), "more time", "more times"));
            let named = rest.len().min(crate::layout::SHOWN_PER_GROUP - 1);
            for f in &rest[..named] {
                let _ = writeln!(s, "- vector `{}`: {}", f.vector, f.sentence);
            }
            let unnamed = &rest[named..];
            if !unnamed.is_empty() {
                let mut vs: Vec<&str> = Vec::new();
                for f in unnamed {
                    if !vs.contains(&f.vector.as_str()) {
                        vs.push(&f.vector);
                    }
                }
                let _ = writeln!(
                    s,
                    "- and {} more in {}: {} (the JSON report has each, with its evidence)",
                    unnamed.len(),
                    plural(vs.len(), "vector", "vectors"),
                    vs.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
                );
            }
            s.push('\n');
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The visible access and the limits the spec states.
fn observed(s: &mut String, a: &DesignAudit) {
    if !a.observations.is_empty() {
        let _ = writeln!(s, "## Visible access\n");
        let _ = writeln!(
            s,
            "Readers the provider introduced, whom the sender's client did warn about before sending. \
This is not counted as a failure — the design told the user — but the user may not have understood the warning.\n"
        );
        for f in &a.observations {
            let _ = writeln!(s, "- **{}** (vector `{}`)", f.sentence, f.vector);
            for e in &f.evidence {
                let _ = writeln!(s, "  - {}", e.text);
            }
            if f.evidence_total > f.evidence.len() {
                let _ = writeln!(s, "  - … and {} more", f.evidence_total - f.evidence.len());
            }
        }
        s.push('\n');
    }
    if !a.limits.is_empty() {
        let _ = writeln!(s, "## Limits the spec states\n");
        for l in &a.limits {
            let vs: Vec<String> = l.vectors.iter().map(|v| format!("`{v}`")).collect();
            let _ = writeln!(s, "- *{}* in {}: {}", l.property, vs.join(", "), l.reason);
        }
        s.push('\n');
    }
}

/// The vectors whose diagrams a section draws: those with a finding, the
/// hand-written ones (or, in the appendix, the generated ones).
fn diagrams(a: &DesignAudit, appendix: bool) -> Vec<(&doormat_oracles::VectorResult, String)> {
    crate::layout::vectors(a)
        .into_iter()
        .filter(|v| crate::layout::generated(v) == appendix)
        .filter_map(|v| crate::mermaid::sequence(&v.timeline).map(|d| (v, d)))
        .collect()
}

/// The "Not tested" section, when any property was not tested.
fn not_tested(s: &mut String, a: &DesignAudit) {
    let nt: Vec<_> = a.properties.iter().filter(|p| p.verdict == Verdict::NotTested).collect();
    if !nt.is_empty() {
        let _ = writeln!(s, "## Not tested\n");
        for p in nt {
            let _ = writeln!(s, "- *{}*: {}.", p.property, p.not_tested_because.join("; "));
        }
        s.push('\n');
    }
}

/// The "Vectors" section: one row per vector, then the runs that broke.
fn vector_table(s: &mut String, a: &DesignAudit) {
    let _ = writeln!(s, "## Vectors\n");
    let _ = write!(s, "| Vector | Steps | Messages | Envelopes |");
    for p in Property::ALL {
        let _ = write!(s, " {p} |");
    }
    let _ = writeln!(s, " Expectations |");
    let _ = write!(s, "|---|---:|---:|---:|");
    for _ in Property::ALL {
        s.push_str("---|");
    }
    s.push_str("---|\n");
    for v in crate::layout::vectors(a) {
        let gen = if crate::layout::generated(v) { " (generated)" } else { "" };
        let _ = write!(
            s,
            "| `{}`{gen} {} | {} | {} | {} |",
            v.vector,
            cell(&v.title),
            v.stats.steps,
            v.stats.messages,
            v.stats.envelopes
        );
        for p in Property::ALL {
            let mark = v.judgement(p).map_or("—", |j| {
                if j.client_level {
                    "client-level only"
                } else {
                    verdict_mark(j.verdict)
                }
            });
            let _ = write!(s, " {mark} |");
        }
        let _ = writeln!(s, " {} |", crate::layout::expectations(a, v).map_or_else(|| "—".to_owned(), |e| cell(&e)));
    }
    s.push('\n');
    let errors: Vec<_> = a.vectors.iter().filter_map(|v| v.error.as_ref().map(|e| (&v.vector, e))).collect();
    if !errors.is_empty() {
        let _ = writeln!(s, "Runs that broke:\n");
        for (v, e) in errors {
            // The reason is doormat's first line; what follows is the
            // implementation's standard error, quoted inert.
            let (first, rest) = e.split_once('\n').unwrap_or((e, ""));
            let _ = writeln!(s, "- `{v}`: {}", crate::inert::markdown(first));
            if !rest.trim().is_empty() {
                s.push('\n');
                s.push_str(&crate::inert::markdown_block(rest, 2));
            }
        }
        s.push('\n');
    }
}

/// The "Step by step" section: a sequence diagram per vector with a
/// finding, hand-written vectors first (generated ones in the appendix),
/// until [`DIAGRAM_BUDGET`]; the vectors past it are named.
fn step_by_step(s: &mut String, a: &DesignAudit, appendix: bool) {
    let stories = diagrams(a, appendix);
    if stories.is_empty() {
        return;
    }
    // One budget for the whole report: the appendix gets what is left.
    let mut used =
        if appendix { diagrams(a, false).iter().map(|(_, d)| d.len()).sum::<usize>().min(DIAGRAM_BUDGET) } else { 0 };
    let _ = writeln!(s, "{} Step by step\n", if appendix { "###" } else { "##" });
    let _ = writeln!(
        s,
        "Each vector with a finding, as a sequence diagram: what was sent, what the provider delivered and to whom, \
the notices each device showed, and where a reader got what it should not have (marked on the reader).\n"
    );
    let mut skipped = Vec::new();
    let h = if appendix { "####" } else { "###" };
    for (v, d) in stories {
        if used + d.len() > DIAGRAM_BUDGET && (used > 0 || appendix) {
            skipped.push(format!("`{}`", v.vector));
            continue;
        }
        used += d.len();
        let _ = writeln!(s, "{h} `{}`: {}\n", v.vector, cell(&v.title));
        s.push_str(&d);
        s.push('\n');
    }
    if !skipped.is_empty() {
        let _ = writeln!(
            s,
            "Not drawn here, to keep this page short ({}; the HTML report, `--format html`, draws them all): {}.\n",
            plural(skipped.len(), "vector", "vectors"),
            skipped.join(", ")
        );
    }
}

/// The "Known-answer tests" section: counts per algorithm and expected
/// result, then every failed case and every acceptable case whose flags the
/// spec does not list.
fn known_answers(s: &mut String, k: &doormat_oracles::KatSummary) {
    let _ = writeln!(s, "## Known-answer tests\n");
    let _ = writeln!(
        s,
        "The design's primitives against published test vectors{} ({}). A `valid` case must give the published answer, an `invalid` one must be refused, an `acceptable` one passes only when the spec lists one of its flags.\n",
        k.protocol.as_deref().map_or_else(String::new, |p| format!(
            ", and the functions of its protocol `{}` against fixed-input vectors that a re-implementation must match byte for byte",
            cell(p)
        )),
        k.files.iter().map(|f| format!("`{}`", cell(f))).collect::<Vec<_>>().join(", ")
    );
    if let Some(why) = &k.broken {
        let one_line: Vec<&str> = why.lines().map(str::trim).collect();
        let _ = writeln!(
            s,
            "**The implementation broke during these tests**, so the cases from there on count as failed: {}\n",
            crate::inert::markdown(&one_line.join(" "))
        );
    }
    let _ = writeln!(s, "| algorithm | expected | passed | failed | flags not listed | skipped |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for c in &k.counts {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&c.algorithm),
            c.result,
            c.passed,
            c.failed,
            c.unlisted,
            c.skipped
        );
    }
    s.push('\n');
    if !k.not_offered.is_empty() {
        let _ = writeln!(s, "Skipped because the design does not offer the primitive:\n");
        for (alg, why) in &k.not_offered {
            let _ = writeln!(s, "- {}: {}", cell(alg), crate::inert::markdown(why));
        }
        s.push('\n');
    }
    for (title, list) in [("Failed", &k.failures), ("Acceptable, with flags the spec does not list", &k.unlisted)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "{title}:\n");
        for i in list {
            let _ = writeln!(
                s,
                "- {} tcId {} ({}; expected {}; flags: {}): {} — {}",
                cell(&i.algorithm),
                i.tc_id,
                cell(&i.file),
                i.expected,
                if i.flags.is_empty() { "none".to_owned() } else { cell(&i.flags.join(", ")) },
                if i.comment.is_empty() { "no comment".to_owned() } else { crate::inert::markdown(&i.comment) },
                crate::inert::markdown(&i.got)
            );
        }
        s.push('\n');
    }
}
