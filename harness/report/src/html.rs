//! The HTML pages: `index.html` (the scorecard, designs × properties) and
//! one page per design with the content of its Markdown report, for
//! reading in a browser, on a phone or on paper.
//!
//! **Invariants:** every page is self-contained: one inline `<style>`, no
//! script, nothing fetched (no external stylesheet, font or image), links
//! only relative (`./<design>.html`, `#anchor`). Every piece of text from a
//! spec, a vector, a finding or an implementation goes through
//! [`crate::inert::html`] exactly once; only markup written here, and the
//! diagrams of [`crate::svg`], reach a page unescaped. The answers are the
//! words of [`crate::audit`] (`PropertySummary::answer`, `cell`, `LEGEND`,
//! `DesignAudit::in_short`), so a page says what the Markdown and the JSON
//! say. One element or row per line, so a drift check's diff reads.

use crate::audit::{DesignAudit, PropertySummary, LEGEND};
use crate::inert::html as esc;
use doormat_formats::Property;
use doormat_oracles::{Finding, KatSummary, Verdict};
use std::fmt::Write;

/// The file name of the scorecard page.
pub const INDEX: &str = "index.html";

/// The file name of a design's page.
pub fn page_name(design: &str) -> String {
    format!("{design}.html")
}

/// A relative link to a design's page (`./` first, so no design name reads
/// as a URL scheme).
fn page_href(design: &str) -> String {
    format!("./{}", esc(&page_name(design)))
}

/// The one stylesheet: readable on a phone (tables scroll sideways inside
/// their wrapper, nothing has a fixed width) and on paper (no background is
/// needed to read, links print as plain text).
const STYLE: &str = "\
:root { color-scheme: light; }
body { font: 1rem/1.5 system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif; color: #1b1b1b; background: #fff; margin: 0 auto; padding: 1rem; max-width: 72rem; }
h1 { font-size: 1.6rem; line-height: 1.25; }
h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05rem; }
code { font-family: ui-monospace, \"SFMono-Regular\", Menlo, Consolas, monospace; font-size: 0.92em; overflow-wrap: break-word; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; border: 1px solid #ccc; padding: 0.5rem; }
a { color: #0645ad; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #bbb; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
th code { white-space: nowrap; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.alarm { color: #b00020; font-weight: bold; }
.in-short p { margin: 0.3rem 0; }
.legend, .note { font-size: 0.92rem; color: #444; }
blockquote { margin: 0.5rem 0; padding-left: 1rem; border-left: 3px solid #ccc; }
nav.toc ol { padding-left: 1.5rem; }
figure { margin: 1rem 0; }
figcaption { font-weight: bold; }
@media print {
  body { max-width: none; padding: 0; color: #000; }
  a { color: inherit; text-decoration: none; }
  th { background: none; }
  .scroll { overflow: visible; }
  .alarm { color: #000; }
  .legend, .note { color: #000; }
  h2, h3, figcaption { break-after: avoid; }
  tr, figure, .finding { break-inside: avoid; }
}
";

/// The page up to the opening of `<main>`.
fn head(s: &mut String, title: &str) {
    s.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(s, "<title>{}</title>", esc(title));
    let _ = write!(s, "<style>\n{STYLE}</style>\n</head>\n<body>\n");
}

fn foot(s: &mut String) {
    s.push_str("</main>\n</body>\n</html>\n");
}

/// One answer for a table: [`PropertySummary::cell`], in bold red when
/// [`PropertySummary::alarming`].
fn answer_cell(p: &PropertySummary) -> String {
    if p.alarming() {
        format!("<td class=\"alarm\"><strong>{}</strong></td>", esc(&p.cell()))
    } else {
        format!("<td>{}</td>", esc(&p.cell()))
    }
}

/// `index.html`: the scorecard of the audited designs (in the given order),
/// each linking to its page.
pub fn render_html_index(audits: &[DesignAudit]) -> String {
    let mut s = String::new();
    head(&mut s, "doormat scorecard");
    s.push_str("<main>\n<h1>doormat scorecard</h1>\n");
    s.push_str(
        "<p>Each cell answers the property's question for one design, from what the audit observed; \
the design's name leads to its report.</p>\n",
    );
    s.push_str("<div class=\"scroll\">\n<table>\n<thead>\n<tr><th scope=\"col\">Design</th>");
    for p in Property::ALL {
        let _ = write!(s, "<th scope=\"col\">{}</th>", esc(&p.to_string()));
    }
    s.push_str("<th scope=\"col\">Claims</th></tr>\n</thead>\n<tbody>\n");
    for a in audits {
        let _ = write!(
            s,
            "<tr><th scope=\"row\"><a href=\"{}\"><code>{}</code></a></th>",
            page_href(&a.design),
            esc(&a.design)
        );
        for p in Property::ALL {
            match a.property(p) {
                Some(x) => s.push_str(&answer_cell(x)),
                None => s.push_str("<td>—</td>"),
            }
        }
        let status = a.claims_status();
        let held = if status.starts_with("no") || status.starts_with("could") {
            format!("<td class=\"alarm\"><strong>{}</strong></td>", esc(&status))
        } else {
            format!("<td>{}</td>", esc(&status))
        };
        let _ = writeln!(s, "{held}</tr>");
    }
    s.push_str("</tbody>\n</table>\n</div>\n");
    let _ = writeln!(s, "<p class=\"legend\">{}</p>", esc(LEGEND));
    s.push_str("<h2 id=\"properties\">The properties</h2>\n<ul>\n");
    for p in Property::ALL {
        let _ = writeln!(s, "<li><strong>{}</strong>: {}.</li>", esc(&p.to_string()), esc(p.plain()));
    }
    s.push_str("</ul>\n<h2 id=\"designs\">The designs</h2>\n<ul>\n");
    for a in audits {
        let _ = writeln!(
            s,
            "<li><a href=\"{}\"><code>{}</code></a> — {}. <em>Remember:</em> {} {}</li>",
            page_href(&a.design),
            esc(&a.design),
            esc(&a.title),
            esc(&a.in_short.remember),
            esc(&a.summary.split_whitespace().collect::<Vec<_>>().join(" "))
        );
    }
    s.push_str("</ul>\n");
    foot(&mut s);
    s
}

/// `<design>.html`: one design's report, with a table of contents and a
/// link back to `index.html`.
pub fn render_html(a: &DesignAudit) -> String {
    let mut sections: Vec<(&str, &str, String)> =
        vec![("properties", "Properties", properties(a)), ("findings", "Findings", findings(a, false))];
    if !a.observations.is_empty() {
        sections.push(("visible-access", "Visible access", visible_access(a)));
    }
    if !a.limits.is_empty() {
        sections.push(("limits", "Limits the spec states", limits(a)));
    }
    if let Some(n) = not_tested(a) {
        sections.push(("not-tested", "Not tested", n));
    }
    sections.push(("vectors", "Vectors", vectors(a)));
    if let Some(d) = diagrams(a, false) {
        sections.push(("step-by-step", "Step by step", d));
    }
    if let Some(k) = &a.kat {
        sections.push(("known-answer-tests", "Known-answer tests", known_answers(k)));
    }
    sections.push(("cannot-see", "What this audit cannot see", cannot_see(a)));
    if !crate::layout::groups(a, true).is_empty() {
        let mut body = String::from(
            "<p>Vectors the property tests generated when they found a bug, kept so that it stays fixed. Their findings \
count in every answer above; they are shown here, apart from the hand-written vectors, because their long generated \
scripts are harder to read.</p>\n<h3>Findings</h3>\n",
        );
        body.push_str(&findings(a, true));
        if let Some(d) = diagrams(a, true) {
            body.push_str("<h3>Step by step</h3>\n");
            body.push_str(&d);
        }
        sections.push(("appendix", "Appendix: generated regressions", body));
    }

    let mut s = String::new();
    head(&mut s, &format!("Audit of {}: {}", a.design, a.title));
    let _ = writeln!(s, "<nav aria-label=\"Back\"><a href=\"./{INDEX}\">← doormat scorecard</a></nav>\n<main>");
    let _ = writeln!(s, "<h1>Audit of <code>{}</code>: {}</h1>", esc(&a.design), esc(&a.title));
    in_short(&mut s, a);
    s.push_str("<nav class=\"toc\" aria-label=\"Contents\">\n<h2 id=\"contents\">Contents</h2>\n<ol>\n");
    for (id, title, _) in &sections {
        let _ = writeln!(s, "<li><a href=\"#{id}\">{title}</a></li>");
    }
    s.push_str("</ol>\n</nav>\n");
    for (id, title, body) in &sections {
        let _ = write!(s, "<section id=\"{id}\">\n<h2>{title}</h2>\n{body}</section>\n");
    }
    foot(&mut s);
    s
}

/// The three opening lines, then what the design is and what its
/// promoters say.
fn in_short(s: &mut String, a: &DesignAudit) {
    let i = &a.in_short;
    s.push_str("<div class=\"in-short\">\n");
    for (label, line) in [("Promises", &i.promises), ("Found", &i.found), ("Remember", &i.remember)] {
        let _ = writeln!(s, "<p><strong>{label}:</strong> {}</p>", esc(line));
    }
    s.push_str("</div>\n");
    for line in a.also_found() {
        let _ = writeln!(s, "<p class=\"alarm\"><strong>Also:</strong> {}</p>", esc(&line));
    }
    let _ = writeln!(s, "<p>{}</p>", esc(&a.summary));
    if let Some(p) = &a.promise {
        s.push_str("<p>What its promoters say:</p>\n<blockquote>\n");
        for paragraph in p.split("\n\n").map(str::trim).filter(|x| !x.is_empty()) {
            let _ = writeln!(s, "<p>{}</p>", esc(paragraph));
        }
        s.push_str("</blockquote>\n");
    }
}

/// The table of properties: the answer, whether claimed, and the counts.
fn properties(a: &DesignAudit) -> String {
    let mut s = String::from("<div class=\"scroll\">\n<table>\n<thead>\n<tr><th scope=\"col\">Property</th><th scope=\"col\">What it means</th><th scope=\"col\">Answer</th><th scope=\"col\">Vectors: pass / fail / not tested</th></tr>\n</thead>\n<tbody>\n");
    for p in &a.properties {
        let err = if p.error > 0 { format!(" / {} error", p.error) } else { String::new() };
        let _ = writeln!(
            s,
            "<tr><th scope=\"row\">{}</th><td>{}</td>{}<td class=\"n\">{} / {} / {}{err}</td></tr>",
            esc(&p.property.to_string()),
            esc(p.property.plain()),
            answer_cell(p),
            p.pass,
            p.fail,
            p.not_tested
        );
    }
    s.push_str("</tbody>\n</table>\n</div>\n");
    let _ = writeln!(s, "<p class=\"legend\">{}</p>", esc(LEGEND));
    s
}

/// A vector's id as a link to its row in the vector table.
fn vector_link(id: &str) -> String {
    format!("<a href=\"#vector-{0}\"><code>{0}</code></a>", esc(id))
}

/// A finding's evidence, as a list.
fn evidence(s: &mut String, f: &Finding) {
    if f.evidence.is_empty() {
        return;
    }
    s.push_str("<ul>\n");
    for e in &f.evidence {
        let _ = writeln!(s, "<li>{}</li>", esc(&e.text));
    }
    if f.evidence_total > f.evidence.len() {
        let _ = writeln!(
            s,
            "<li>… and {} more (the JSON report lists the same first {})</li>",
            f.evidence_total - f.evidence.len(),
            f.evidence.len()
        );
    }
    s.push_str("</ul>\n");
}

/// Every finding, in the order of `a.findings`, with its evidence and the
/// stated limit covering it.
fn findings(a: &DesignAudit, appendix: bool) -> String {
    let mut s = String::new();
    let o = &a.outcome;
    let groups = crate::layout::groups(a, appendix);
    if appendix {
        // Only called when there is something to show.
    } else if a.findings.is_empty() && o.broken_vectors > 0 {
        let _ = writeln!(
            s,
            "<p>None observed in the runs that finished; {} (see <a href=\"#runs-that-broke\">Runs that broke</a>).</p>",
            esc(&o.broke())
        );
    } else if a.findings.is_empty() {
        s.push_str("<p>None: no oracle observed a violation.</p>\n");
    } else if groups.is_empty() {
        s.push_str("<p>None in the hand-written vectors; see the appendix for the generated ones.</p>\n");
    }
    let (h, prefix) = if appendix { ("h4", "appendix-finding") } else { ("h3", "finding") };
    for (i, g) in groups.iter().enumerate() {
        let n = i + 1;
        let f = g.first();
        let vs = g.vectors();
        let where_ = match vs.len() {
            1 => format!("vector {}", vector_link(vs[0])),
            k => format!("{k} vectors, the first {}", vector_link(vs[0])),
        };
        let _ = writeln!(
            s,
            "<article class=\"finding\" id=\"{prefix}-{n}\">\n<{h}>{n}. {}</{h}>\n<p><em>{}; {where_}.</em></p>",
            esc(&f.sentence),
            esc(&f.property.to_string()),
        );
        evidence(&mut s, f);
        if let Some(l) = a.limit_for(f) {
            let _ = writeln!(s, "<p><em>Within a limit the spec states:</em> {}</p>", esc(&l.reason));
        }
        if g.findings.len() > 1 {
            let rest = &g.findings[1..];
            let _ = writeln!(
                s,
                "<p>The same kind of finding {} more time{}:</p>\n<ul>",
                rest.len(),
                if rest.len() == 1 { "" } else { "s" }
            );
            for f in rest {
                let _ = writeln!(s, "<li>vector {}: {}</li>", vector_link(&f.vector), esc(&f.sentence));
            }
            s.push_str("</ul>\n");
        }
        s.push_str("</article>\n");
    }
    s
}

/// Readers the users were warned about.
fn visible_access(a: &DesignAudit) -> String {
    let mut s = String::from(
        "<p>Readers the provider introduced, whom the sender's client did warn about before sending. \
This is not counted as a failure — the design told the user — but the user may not have understood the warning.</p>\n<ul>\n",
    );
    for f in &a.observations {
        let _ = writeln!(s, "<li><strong>{}</strong> (vector {})", esc(&f.sentence), vector_link(&f.vector));
        evidence(&mut s, f);
        s.push_str("</li>\n");
    }
    s.push_str("</ul>\n");
    s
}

/// The limits the spec states.
fn limits(a: &DesignAudit) -> String {
    let mut s = String::from("<ul>\n");
    for l in &a.limits {
        let vs: Vec<String> = l.vectors.iter().map(|v| format!("<code>{}</code>", esc(v))).collect();
        let _ =
            writeln!(s, "<li><em>{}</em> in {}: {}</li>", esc(&l.property.to_string()), vs.join(", "), esc(&l.reason));
    }
    s.push_str("</ul>\n");
    s
}

/// Properties no vector could observe, and why; `None` when every one was
/// tested.
fn not_tested(a: &DesignAudit) -> Option<String> {
    let nt: Vec<_> = a.properties.iter().filter(|p| p.verdict == Verdict::NotTested).collect();
    if nt.is_empty() {
        return None;
    }
    let mut s = String::from("<ul>\n");
    for p in nt {
        let _ = writeln!(
            s,
            "<li><em>{}</em>: {}.</li>",
            esc(&p.property.to_string()),
            esc(&p.not_tested_because.join("; "))
        );
    }
    s.push_str("</ul>\n");
    Some(s)
}

/// A vector's verdict on one property, as a table cell.
fn verdict_cell(j: Option<&doormat_oracles::Judgement>) -> &'static str {
    match j {
        None => "<td>—</td>",
        Some(j) if j.client_level => "<td>PASS (client-level only)</td>",
        Some(j) => match j.verdict {
            Verdict::Pass => "<td>PASS</td>",
            Verdict::Fail => "<td class=\"alarm\"><strong>FAIL</strong></td>",
            Verdict::NotTested => "<td>not tested</td>",
            Verdict::Error => "<td class=\"alarm\"><strong>ERROR</strong></td>",
        },
    }
}

/// One row per vector, then the runs that broke.
fn vectors(a: &DesignAudit) -> String {
    let mut s = String::from("<div class=\"scroll\">\n<table>\n<thead>\n<tr><th scope=\"col\">Vector</th><th scope=\"col\">Steps</th><th scope=\"col\">Messages</th><th scope=\"col\">Envelopes</th>");
    for p in Property::ALL {
        let _ = write!(s, "<th scope=\"col\">{}</th>", esc(&p.to_string()));
    }
    s.push_str("<th scope=\"col\">Expectations</th></tr>\n</thead>\n<tbody>\n");
    for v in crate::layout::vectors(a) {
        let _ = write!(
            s,
            "<tr id=\"vector-{}\"><th scope=\"row\"><code>{}</code> {}</th><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            esc(&v.vector),
            esc(&v.vector),
            esc(&v.title),
            v.stats.steps,
            v.stats.messages,
            v.stats.envelopes
        );
        for p in Property::ALL {
            s.push_str(verdict_cell(v.judgement(p)));
        }
        let _ = writeln!(
            s,
            "<td>{}</td></tr>",
            crate::layout::expectations(a, v).map_or_else(|| "—".to_owned(), |e| esc(&e))
        );
    }
    s.push_str("</tbody>\n</table>\n</div>\n");
    let errors: Vec<_> = a.vectors.iter().filter_map(|v| v.error.as_ref().map(|e| (&v.vector, e))).collect();
    if !errors.is_empty() {
        s.push_str("<h3 id=\"runs-that-broke\">Runs that broke</h3>\n<ul>\n");
        for (v, e) in errors {
            // The reason is doormat's first line; what follows is the
            // implementation's standard error, quoted as it is.
            let (first, rest) = e.split_once('\n').unwrap_or((e, ""));
            let _ = write!(s, "<li><code>{}</code>: {}", esc(v), esc(first));
            if !rest.trim().is_empty() {
                let _ = write!(s, "\n<pre>{}</pre>\n", esc(rest));
            }
            s.push_str("</li>\n");
        }
        s.push_str("</ul>\n");
    }
    s
}

/// A sequence diagram per vector with a finding ([`crate::svg::sequence`]);
/// `None` when no vector has one.
fn diagrams(a: &DesignAudit, appendix: bool) -> Option<String> {
    let mut s = String::new();
    for v in crate::layout::vectors(a).into_iter().filter(|v| crate::layout::generated(v) == appendix) {
        if let Some(svg) = crate::svg::sequence(&v.timeline) {
            let _ = write!(
                s,
                "<figure id=\"diagram-{}\">\n<figcaption><code>{}</code>: {}</figcaption>\n<div class=\"scroll\">\n{svg}\n</div>\n</figure>\n",
                esc(&v.vector),
                esc(&v.vector),
                esc(&v.title)
            );
        }
    }
    if s.is_empty() {
        return None;
    }
    Some(format!(
        "<p>Each vector with a finding, as a sequence diagram: what was sent, what the provider delivered and to whom, \
the notices each device showed, and where a reader got what it should not have (marked on the reader).</p>\n{s}"
    ))
}

/// Counts per algorithm and expected result, then every failed case and
/// every acceptable case whose flags the spec does not list.
fn known_answers(k: &KatSummary) -> String {
    let mut s = String::new();
    let files: Vec<String> = k.files.iter().map(|f| format!("<code>{}</code>", esc(f))).collect();
    let protocol = k.protocol.as_deref().map_or_else(String::new, |p| {
        format!(
            ", and the functions of its protocol <code>{}</code> against fixed-input vectors that a re-implementation must match byte for byte",
            esc(p)
        )
    });
    let _ = writeln!(
        s,
        "<p>The design's primitives against published test vectors{protocol} ({}). A <code>valid</code> case must give the published answer, an <code>invalid</code> one must be refused, an <code>acceptable</code> one passes only when the spec lists one of its flags.</p>",
        files.join(", ")
    );
    if let Some(why) = &k.broken {
        let one_line: Vec<&str> = why.lines().map(str::trim).collect();
        let _ = writeln!(
            s,
            "<p class=\"alarm\">The implementation broke during these tests, so the cases from there on count as failed: {}</p>",
            esc(&one_line.join(" "))
        );
    }
    s.push_str("<div class=\"scroll\">\n<table>\n<thead>\n<tr><th scope=\"col\">algorithm</th><th scope=\"col\">expected</th><th scope=\"col\">passed</th><th scope=\"col\">failed</th><th scope=\"col\">flags not listed</th><th scope=\"col\">skipped</th></tr>\n</thead>\n<tbody>\n");
    for c in &k.counts {
        let failed = if c.failed > 0 {
            format!("<td class=\"n alarm\"><strong>{}</strong></td>", c.failed)
        } else {
            "<td class=\"n\">0</td>".to_owned()
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td>{failed}<td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&c.algorithm),
            esc(&c.result),
            c.passed,
            c.unlisted,
            c.skipped
        );
    }
    s.push_str("</tbody>\n</table>\n</div>\n");
    if !k.not_offered.is_empty() {
        s.push_str("<p>Skipped because the design does not offer the primitive:</p>\n<ul>\n");
        for (alg, why) in &k.not_offered {
            let _ = writeln!(s, "<li>{}: {}</li>", esc(alg), esc(why));
        }
        s.push_str("</ul>\n");
    }
    for (title, list) in [("Failed", &k.failures), ("Acceptable, with flags the spec does not list", &k.unlisted)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "<p>{title}:</p>\n<ul>");
        for i in list {
            let _ = writeln!(
                s,
                "<li>{} tcId {} ({}; expected {}; flags: {}): {} — {}</li>",
                esc(&i.algorithm),
                i.tc_id,
                esc(&i.file),
                esc(&i.expected),
                if i.flags.is_empty() { "none".to_owned() } else { esc(&i.flags.join(", ")) },
                if i.comment.is_empty() { "no comment".to_owned() } else { esc(&i.comment) },
                esc(&i.got)
            );
        }
        s.push_str("</ul>\n");
    }
    s
}

/// The limits of a black-box audit, and those the spec adds.
fn cannot_see(a: &DesignAudit) -> String {
    let mut s = String::from("<ul>\n");
    for c in &a.cannot_see {
        let _ = writeln!(s, "<li>{}</li>", esc(c));
    }
    s.push_str("</ul>\n");
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use doormat_formats::Spec;
    use doormat_oracles::{Evidence, ExpectationResult, Judgement, VectorResult};

    const SCRIPT: &str = "<script>alert(1)</script>";

    /// A design whose spec, vector, finding, evidence, expectation and
    /// implementation error all carry markup, quotes and terminal controls.
    fn hostile() -> DesignAudit {
        let src = "id: d\ntitle: \"T <b>bold</b> & 'q'\"\nsummary: \"S </p><img src=x onerror=alert(1)>\"\npromise: |\n  one \"quoted\" line\n\n  a second paragraph <i>\nimplementation: {builtin: ratchet}\nclaims: [recipients-only, delivers]\nlimits:\n  - {property: delivers, vectors: [v1], reason: \"because </li><script>x</script>\"}\n";
        let spec = Spec::parse("specs/d.yaml", "d", src).unwrap();
        let evidence = Evidence {
            step: 3,
            message: Some("m1".to_owned()),
            party: Some("bob".to_owned()),
            record: None,
            offset: None,
            encoding: None,
            text: format!("\x1b[2J read {SCRIPT} \"here\""),
        };
        let finding = Finding::new(
            Property::RecipientsOnly,
            "v1",
            format!("a ghost read it {SCRIPT} & '\u{202e}'"),
            vec![evidence; 12],
        );
        let v = VectorResult {
            vector: "v1".to_owned(),
            title: format!("title {SCRIPT}"),
            stats: doormat_oracles::Stats::default(),
            judgements: vec![
                Judgement::from_findings(Property::RecipientsOnly, vec![finding], "looked".to_owned(), "fine"),
                Judgement::not_tested(Property::ProviderBlind, format!("no reason {SCRIPT}")),
            ],
            expectations: vec![ExpectationResult {
                line: Some(4),
                property: Property::Delivers,
                expected: format!("expected {SCRIPT}"),
                held: false,
                observed: Some("\"observed\" <x>".to_owned()),
            }],
            error: Some(format!("the run broke {SCRIPT}\nstderr line </pre>{SCRIPT}\n\x07bell")),
            tags: Vec::new(),
            file: "vectors/v1.yaml".to_owned(),
            timeline: Vec::new(),
            step_lines: Vec::new(),
        };
        DesignAudit::new(&spec, vec![v])
    }

    /// The tags of a page: (name, attribute names), as a browser reads them
    /// (the text outside a tag holds no `<`, the stylesheet none either).
    fn tags(page: &str) -> Vec<(String, Vec<String>)> {
        page.split('<')
            .skip(1)
            .map(|t| {
                let t = &t[..t.find('>').unwrap()];
                let name: String = t
                    .trim_start_matches(['/', '!'])
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_ascii_lowercase();
                // Attribute names: what precedes each `=` outside quotes.
                let mut attrs = Vec::new();
                let mut quoted = false;
                let mut word = String::new();
                for c in t.chars() {
                    match c {
                        '"' => quoted = !quoted,
                        '=' if !quoted => attrs.push(std::mem::take(&mut word)),
                        c if !quoted && (c.is_ascii_alphanumeric() || c == '-') => word.push(c),
                        _ if !quoted => word.clear(),
                        _ => {}
                    }
                }
                (name, attrs)
            })
            .collect()
    }

    const ATTRIBUTES: &[&str] = &["lang", "charset", "name", "content", "href", "id", "class", "aria-label", "scope"];

    const ALLOWED: &[&str] = &[
        "doctype",
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "nav",
        "main",
        "h1",
        "h2",
        "h3",
        "p",
        "div",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "ul",
        "ol",
        "li",
        "a",
        "code",
        "strong",
        "em",
        "br",
        "blockquote",
        "section",
        "article",
        "pre",
        "figure",
        "figcaption",
    ];

    #[test]
    fn text_from_every_source_is_escaped() {
        let a = hostile();
        for page in [render_html(&a), render_html_index(std::slice::from_ref(&a))] {
            for (t, attrs) in tags(&page) {
                assert!(ALLOWED.contains(&t.as_str()), "element <{t}> in\n{page}");
                for x in attrs {
                    assert!(ATTRIBUTES.contains(&x.as_str()), "attribute {x} of <{t}> in\n{page}");
                }
            }
            assert!(!page.contains('\x1b') && !page.contains('\x07') && !page.contains('\u{202e}'));
            assert!(page.contains("T &lt;b&gt;bold&lt;/b&gt; &amp; &#39;q&#39;"), "{page}");
        }
        let page = render_html(&a);
        assert!(page.contains("a ghost read it &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;\\u{202e}&#39;"));
        assert!(page.contains("\\x1b[2J read &lt;script&gt;alert(1)&lt;/script&gt; &quot;here&quot;"));
        assert!(page.contains("stderr line &lt;/pre&gt;&lt;script&gt;"), "{page}");
        assert!(page.contains("\\x07bell"), "{page}");
        assert!(page.contains("because &lt;/li&gt;&lt;script&gt;x&lt;/script&gt;"), "{page}");
        assert!(page.contains("&quot;observed&quot; &lt;x&gt;"), "{page}");
        let more = 12 - doormat_oracles::verdict::EVIDENCE_CAP;
        assert!(page.contains(&format!("… and {more} more")), "{page}");
    }

    #[test]
    fn a_page_is_whole_and_links_only_inside_the_set() {
        let a = hostile();
        let page = render_html(&a);
        for want in [
            "<!doctype html>\n<html lang=\"en\">",
            "<meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>Audit of d: T &lt;b&gt;bold&lt;/b&gt; &amp; &#39;q&#39;</title>",
            "@media print",
            "<a href=\"./index.html\">",
        ] {
            assert!(page.contains(want), "no {want:?} in\n{page}");
        }
        assert!(page.ends_with("</html>\n"));
        // Every in-page link has its target, and every other link is a page
        // of the set: nothing is fetched.
        for href in page.split("href=\"").skip(1).map(|h| &h[..h.find('"').unwrap()]) {
            match href.strip_prefix('#') {
                Some(id) => assert!(page.contains(&format!("id=\"{id}\"")), "no target for #{id}"),
                None => assert!(href.starts_with("./") && href.ends_with(".html"), "{href}"),
            }
        }
        assert!(!STYLE.contains("url(") && !STYLE.contains("@import") && !STYLE.contains('<'));
        // The contents come before the sections they list, in their order.
        let toc = page.find("<nav class=\"toc\"").unwrap();
        let mut last = toc;
        for id in ["properties", "findings", "limits", "not-tested", "vectors", "cannot-see"] {
            let at = page.find(&format!("<section id=\"{id}\">")).unwrap_or_else(|| panic!("no section {id}"));
            assert!(at > last, "{id} out of order");
            last = at;
        }
        // The opening lines are the audit's own, first.
        let promises = page.find("<strong>Promises:</strong>").unwrap();
        assert!(promises < toc && page.find("<strong>Found:</strong>").unwrap() > promises);
        assert!(page.contains(&esc(&a.in_short.remember)));
        assert_eq!(page.matches(&esc(LEGEND)).count(), 1, "the legend is said once");
    }

    #[test]
    fn answers_are_the_audit_words_and_alarming_ones_stand_out() {
        let a = hostile();
        let recipients = a.property(Property::RecipientsOnly).unwrap();
        assert!(recipients.alarming(), "{recipients:?}");
        let cell = format!("<td class=\"alarm\"><strong>{}</strong></td>", esc(&recipients.cell()));
        let index = render_html_index(std::slice::from_ref(&a));
        for page in [render_html(&a), index.clone()] {
            assert!(page.contains(&cell), "no {cell} in\n{page}");
            for p in &a.properties {
                assert!(page.contains(&esc(&p.cell())), "no answer for {}", p.property);
            }
        }
        assert!(index.contains("<a href=\"./d.html\"><code>d</code></a>"), "{index}");
    }

    #[test]
    fn pages_are_the_same_every_time() {
        let (a, b) = (hostile(), hostile());
        assert_eq!(render_html(&a), render_html(&b));
        assert_eq!(render_html_index(&[a.clone(), b.clone()]), render_html_index(&[a, b]));
    }
}
