//! The per-design Markdown report, written for a policy reader: the
//! scorecard first, then each finding as one plain sentence with its
//! evidence, then a table per vector, then the known-answer tests of the
//! primitives (when run), then what the audit cannot see.

use crate::audit::{Claim, DesignAudit};
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

/// The verdict as shown in tables.
pub fn verdict_mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "**FAIL**",
        Verdict::NotTested => "not tested",
        Verdict::Error => "**ERROR**",
    }
}

fn claim_mark(c: Claim) -> String {
    match c {
        Claim::Contradicted | Claim::ClaimedError => format!("**{}**", c.words()),
        _ => c.words().to_owned(),
    }
}

fn evidence(s: &mut String, f: &doormat_oracles::Finding) {
    for e in &f.evidence {
        let _ = writeln!(s, "- {}", e.text);
    }
    if f.evidence_total > f.evidence.len() {
        let _ = writeln!(
            s,
            "- … and {} more (the JSON report lists the same first {})",
            f.evidence_total - f.evidence.len(),
            f.evidence.len()
        );
    }
    s.push('\n');
}

/// Renders one design's report.
pub fn render_markdown(a: &DesignAudit) -> String {
    let mut s = String::new();
    in_short(&mut s, a);
    scorecard(&mut s, a);
    findings(&mut s, a);
    not_tested(&mut s, a);
    vector_table(&mut s, a);
    step_by_step(&mut s, a);
    if let Some(k) = &a.kat {
        known_answers(&mut s, k);
    }
    let _ = writeln!(s, "## What this audit cannot see\n");
    for c in &a.cannot_see {
        let _ = writeln!(s, "- {c}");
    }
    s
}

/// The title, the summary, what the design's promoters say, and the
/// outcome in one paragraph ("In short").
fn in_short(s: &mut String, a: &DesignAudit) {
    let _ = writeln!(s, "# Audit of `{}`: {}\n", a.design, a.title);
    let _ = writeln!(s, "{}\n", a.summary);
    if let Some(p) = &a.promise {
        let _ = writeln!(s, "What its promoters say:\n");
        for line in p.lines() {
            let _ = writeln!(s, "> {line}");
        }
        s.push('\n');
    }
    let o = &a.outcome;
    let ids = |ps: &[Property]| ps.iter().map(|p| format!("*{p}*")).collect::<Vec<_>>().join(", ");
    let vectors = match a.vectors.len() {
        1 => "1 vector".to_owned(),
        n => format!("{n} vectors"),
    };
    let broke = if o.broken_vectors == 0 {
        String::new()
    } else if o.not_judged.is_empty() {
        format!(" {} before finishing (see \"Runs that broke\").", o.broke())
    } else {
        format!(
            " {} before finishing (see \"Runs that broke\"), so {} could not be judged.",
            o.broke(),
            ids(&o.not_judged)
        )
    };
    if !o.contradicted.is_empty() {
        let _ = writeln!(
            s,
            "**In short:** the audit contradicts what this design claims: {} did not hold ({vectors} run; see the findings).{broke}\n",
            ids(&o.contradicted)
        );
    } else if o.broken_vectors > 0 {
        let _ = writeln!(s, "**In short:** the audit could not judge this design:{broke} Nothing here is a pass.\n");
    } else {
        let _ = write!(s, "**In short:** every property this design claims held or could not be tested in {vectors}");
        if !o.within_limits.is_empty() {
            let _ = write!(s, "; {} held only within the limits its spec states", ids(&o.within_limits));
        }
        let unclaimed: Vec<Property> =
            a.properties.iter().filter(|p| p.verdict == Verdict::Fail && !p.claimed).map(|p| p.property).collect();
        if unclaimed.is_empty() {
            let _ = writeln!(s, ".\n");
        } else {
            let _ = writeln!(s, ". It does not claim, and does not have: {}.\n", ids(&unclaimed));
        }
    }
    let expect_fail = a.failed_expectations();
    if !expect_fail.is_empty() {
        let _ = writeln!(
            s,
            "{} vector expectation(s) for claimed properties were not met (see the vector table).\n",
            expect_fail.len()
        );
    }
}

/// The "Scorecard" section: one row per property.
fn scorecard(s: &mut String, a: &DesignAudit) {
    let _ = writeln!(s, "## Scorecard\n");
    let _ = writeln!(s, "| Property | What it means | Claim | Verdict | Vectors: pass / fail / not tested |");
    let _ = writeln!(s, "|---|---|---|---|---|");
    for p in &a.properties {
        let err = if p.error > 0 { format!(" / {} error", p.error) } else { String::new() };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} / {} / {}{err} |",
            p.property,
            p.property.plain(),
            claim_mark(p.claim),
            if p.client_level > 0 && p.verdict == Verdict::Pass {
                "PASS (client-level only)"
            } else {
                verdict_mark(p.verdict)
            },
            p.pass,
            p.fail,
            p.not_tested
        );
    }
    s.push('\n');
}

/// The "Findings" section, then the visible access and the limits the
/// spec states.
fn findings(s: &mut String, a: &DesignAudit) {
    let o = &a.outcome;
    let _ = writeln!(s, "## Findings\n");
    if a.findings.is_empty() && o.broken_vectors > 0 {
        let _ = writeln!(s, "None observed in the runs that finished; {} (see \"Runs that broke\").\n", o.broke());
    } else if a.findings.is_empty() {
        let _ = writeln!(s, "None: no oracle observed a violation.\n");
    }
    for (i, f) in a.findings.iter().enumerate() {
        let _ = writeln!(s, "### {}. {} ({}, vector `{}`)\n", i + 1, f.sentence, f.property, f.vector);
        evidence(s, f);
        if let Some(l) = a.limit_for(f) {
            let _ = writeln!(s, "*Within a limit the spec states:* {}\n", l.reason);
        }
    }
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
    for v in &a.vectors {
        let _ = write!(
            s,
            "| `{}` {} | {} | {} | {} |",
            v.vector,
            cell(&v.title),
            v.stats.steps,
            v.stats.messages,
            v.stats.envelopes
        );
        for p in Property::ALL {
            let mark = v.judgement(p).map_or("—", |j| {
                if j.client_level {
                    "PASS (client-level only)"
                } else {
                    verdict_mark(j.verdict)
                }
            });
            let _ = write!(s, " {mark} |");
        }
        let held = v.expectations.iter().filter(|e| e.held).count();
        let total = v.expectations.len();
        let binding_failed: Vec<String> = v
            .expectations
            .iter()
            .filter(|e| !e.held)
            .map(|e| {
                let bind = if a.claims.contains(&e.property) { "" } else { " (not claimed)" };
                format!("not met{bind}: {} — {}", e.expected, e.observed.as_deref().unwrap_or(""))
            })
            .collect();
        if total == 0 {
            s.push_str(" — |\n");
        } else if binding_failed.is_empty() {
            let _ = writeln!(s, " {held} of {total} met |");
        } else {
            let _ = writeln!(s, " {held} of {total} met; {} |", cell(&binding_failed.join("; ")));
        }
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
/// finding.
fn step_by_step(s: &mut String, a: &DesignAudit) {
    let stories: Vec<(&doormat_oracles::VectorResult, String)> =
        a.vectors.iter().filter_map(|v| crate::mermaid::sequence(&v.timeline).map(|d| (v, d))).collect();
    if !stories.is_empty() {
        let _ = writeln!(s, "## Step by step\n");
        let _ = writeln!(
            s,
            "Each vector with a finding, as a sequence diagram; the steps where access happened are marked.\n"
        );
        for (v, d) in stories {
            let _ = writeln!(s, "### `{}`: {}\n", v.vector, v.title);
            s.push_str(&d);
            s.push('\n');
        }
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
