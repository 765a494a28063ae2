//! The cross-design scorecard: designs × properties, in the spirit of the
//! EFF Secure Messaging Scorecard.

use crate::audit::{DesignAudit, LEGEND};
use crate::markdown::cell;
use doormat_formats::Property;
use std::fmt::Write;

/// Renders `SCORECARD.md` for the audited designs (in the given order).
pub fn render_scorecard(audits: &[DesignAudit]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# doormat scorecard\n");
    let _ = writeln!(
        s,
        "Each cell answers the property's question for one design, from what the audit observed, in the words of \
every report; a claim the audit contradicts is in bold.\n"
    );
    let _ = write!(s, "| Design |");
    for p in Property::ALL {
        let _ = write!(s, " {p} |");
    }
    s.push_str(" Claims |\n|---|");
    for _ in Property::ALL {
        s.push_str("---|");
    }
    s.push_str("---|\n");
    for a in audits {
        let _ = write!(s, "| [`{}`]({}.md) |", a.design, a.design);
        for p in Property::ALL {
            let m = match a.property(p) {
                None => "—".to_owned(),
                Some(x) if x.alarming() => format!("**{}**", x.cell()),
                Some(x) => x.cell(),
            };
            let _ = write!(s, " {m} |");
        }
        let status = a.claims_status();
        let held =
            if status.starts_with("no") || status.starts_with("could") { format!("**{status}**") } else { status };
        let _ = writeln!(s, " {held} |");
    }
    let _ = writeln!(s, "\n{LEGEND}\n");
    let _ = writeln!(s, "## The properties\n");
    for p in Property::ALL {
        let _ = writeln!(s, "- **{p}**: {}.", p.plain());
    }
    let _ = writeln!(s, "\n## The designs\n");
    for a in audits {
        let _ = writeln!(
            s,
            "- **`{}`** — {}. *Remember:* {} {}",
            a.design,
            cell(&a.title),
            a.in_short.remember,
            a.summary.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    s
}
