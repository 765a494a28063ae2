//! The cross-design scorecard: designs × properties, in the spirit of the
//! EFF Secure Messaging Scorecard.

use crate::audit::{Claim, DesignAudit};
use crate::markdown::cell;
use doormat_formats::Property;
use std::fmt::Write;

fn mark(c: Claim) -> &'static str {
    match c {
        Claim::Holds => "yes",
        Claim::Contradicted => "**NO — claimed**",
        Claim::ClaimedNotTested => "claimed, not tested",
        Claim::ClaimedError => "**error**",
        Claim::NotClaimedFails => "no",
        Claim::NotClaimedHolds => "yes (not claimed)",
        Claim::NotClaimedNotTested => "not tested",
        Claim::NotClaimedError => "error",
        Claim::HoldsWithinLimits => "yes, within stated limits",
        Claim::HoldsClientLevel => "client-level only",
        Claim::NotClaimedHoldsClientLevel => "client-level only (not claimed)",
    }
}

/// Renders `SCORECARD.md` for the audited designs (in the given order).
pub fn render_scorecard(audits: &[DesignAudit]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# doormat scorecard\n");
    let _ = writeln!(
        s,
        "Each cell answers the property's question for one design, from what the audit observed. \
\"yes\" means every vector that could test it passed; \"no\" means at least one vector shows it does not hold, \
and **NO — claimed** means the design's promoters claim it anyway. \"not tested\" means no vector could observe it \
(see the design's report for why). \"client-level only\" means the design's own client code refused, but the design offers \
no way to try every key its state holds, so the refusal may be courtesy rather than cryptography.\n"
    );
    let _ = write!(s, "| Design |");
    for p in Property::ALL {
        let _ = write!(s, " {p} |");
    }
    s.push_str(" Claims held |\n|---|");
    for _ in Property::ALL {
        s.push_str("---|");
    }
    s.push_str("---|\n");
    for a in audits {
        let _ = write!(s, "| [`{}`]({}.md) |", a.design, a.design);
        for p in Property::ALL {
            let m = match a.property(p) {
                None => "—".to_owned(),
                Some(x) => match &x.grade {
                    Some(g) => format!("{} ({g})", mark(x.claim)),
                    None => mark(x.claim).to_owned(),
                },
            };
            let _ = write!(s, " {m} |");
        }
        let held = match a.outcome.status() {
            "all" if !a.ok() => "**no**".to_owned(),
            "all" => "all".to_owned(),
            "no" => "**no**".to_owned(),
            other => format!("**{other}** ({})", a.outcome.broke()),
        };
        let _ = writeln!(s, " {held} |");
    }
    let _ = writeln!(s, "\n## The properties\n");
    for p in Property::ALL {
        let _ = writeln!(s, "- **{p}**: {}.", p.plain());
    }
    let _ = writeln!(s, "\n## The designs\n");
    for a in audits {
        let _ = writeln!(
            s,
            "- **`{}`** — {}: {}",
            a.design,
            cell(&a.title),
            a.summary.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    s
}
