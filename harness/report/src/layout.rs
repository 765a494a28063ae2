//! The order and grouping every rendering of a design's report shares:
//! hand-written vectors before generated regressions, and findings of one
//! kind grouped, so that a design that fails the same way in every vector
//! reads as one finding with its count, not as a hundred.

use crate::audit::DesignAudit;
use doormat_formats::Property;
use doormat_oracles::{Finding, VectorResult};

/// The tag of vectors a generator wrote (regressions the property tests
/// found): they go in an appendix, after the hand-written ones.
pub const GENERATED_TAG: &str = "generated";

/// Findings of a group shown with their headline (the first with its
/// evidence too); the rest are counted and named by vector.
pub const SHOWN_PER_GROUP: usize = 3;

/// Whether a generator wrote the vector.
pub fn generated(v: &VectorResult) -> bool {
    v.tags.iter().any(|t| t == GENERATED_TAG)
}

/// The vectors, hand-written first, each part in the audit's order.
pub fn vectors(a: &DesignAudit) -> Vec<&VectorResult> {
    let (mut hand, gen): (Vec<&VectorResult>, Vec<&VectorResult>) = a.vectors.iter().partition(|v| !generated(v));
    hand.extend(gen);
    hand
}

/// A vector's expectations in words: `None` when it has none, else "2 of 3
/// met", then each one not met ("not met (not claimed): … — …").
pub fn expectations(a: &DesignAudit, v: &VectorResult) -> Option<String> {
    let total = v.expectations.len();
    if total == 0 {
        return None;
    }
    let held = v.expectations.iter().filter(|e| e.held).count();
    let failed: Vec<String> = v
        .expectations
        .iter()
        .filter(|e| !e.held)
        .map(|e| {
            let bind = if a.claims.contains(&e.property) { "" } else { " (not claimed)" };
            format!("not met{bind}: {} — {}", e.expected, e.observed.as_deref().unwrap_or(""))
        })
        .collect();
    Some(if failed.is_empty() {
        format!("{held} of {total} met")
    } else {
        format!("{held} of {total} met; {}", failed.join("; "))
    })
}

/// Findings of one kind: one property, the same sentence but for its
/// numbers and lists, and the same standing towards the spec's limits.
#[derive(Debug)]
pub struct Group<'a> {
    /// The property.
    pub property: Property,
    /// Whether a limit the spec states covers these findings.
    pub within_limit: bool,
    /// The findings, in vector order; never empty.
    pub findings: Vec<&'a Finding>,
}

impl<'a> Group<'a> {
    /// The first finding: shown with its evidence.
    pub fn first(&self) -> &'a Finding {
        self.findings[0]
    }

    /// The vectors the group's findings come from, without repeats.
    pub fn vectors(&self) -> Vec<&'a str> {
        let mut vs: Vec<&str> = Vec::new();
        for f in &self.findings {
            if !vs.contains(&f.vector.as_str()) {
                vs.push(&f.vector);
            }
        }
        vs
    }
}

/// A finding's kind: the first clause of its sentence (up to a colon or
/// semicolon), without numbers, without what stands in brackets (message
/// lists), with every device address as one placeholder and plurals as
/// singulars. So "bob/phone read 2 messages (m4 and m5) that were not meant
/// for it: …" and "carol/laptop read 1 message (m7) that was not meant for
/// it: …" are one kind; so are the impostors of two devices.
pub fn kind(f: &Finding) -> String {
    let mut clause = String::with_capacity(f.sentence.len());
    let mut depth = 0usize;
    for c in f.sentence.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            ':' | ';' => break,
            c => clause.push(c),
        }
    }
    clause
        .split_whitespace()
        .map(|w| {
            let word = w.trim_end_matches([',', '.']);
            if word.contains('/') {
                "@".to_owned()
            } else if word.chars().any(|c| c.is_ascii_digit()) {
                "#".to_owned()
            } else {
                match word {
                    "messages" => "message",
                    "envelopes" => "envelope",
                    "senders" => "sender",
                    "were" => "was",
                    w => w,
                }
                .to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The findings of the hand-written vectors (`appendix == false`) or of
/// the generated ones, grouped by kind; groups in the order of their first
/// finding (by property, then vector).
pub fn groups(a: &DesignAudit, appendix: bool) -> Vec<Group<'_>> {
    let is_generated = |f: &Finding| a.vectors.iter().find(|v| v.vector == f.vector).is_some_and(generated);
    let mut out: Vec<(String, Group<'_>)> = Vec::new();
    for f in a.findings.iter().filter(|f| is_generated(f) == appendix) {
        let within_limit = a.limit_for(f).is_some();
        let k = kind(f);
        match out.iter_mut().find(|(key, g)| *key == k && g.property == f.property && g.within_limit == within_limit) {
            Some((_, g)) => g.findings.push(f),
            None => out.push((k, Group { property: f.property, within_limit, findings: vec![f] })),
        }
    }
    out.into_iter().map(|(_, g)| g).collect()
}

#[cfg(test)]
mod tests {
    use super::kind;
    use doormat_formats::Property;
    use doormat_oracles::Finding;

    fn finding(sentence: &str) -> Finding {
        Finding::new(Property::ProviderBlind, "v", sentence.to_owned(), Vec::new())
    }

    #[test]
    fn kind_ignores_numbers_lists_devices_and_details() {
        assert_eq!(
            kind(&finding("bob/tablet read 2 messages (m4 and m5) that were not meant for it: bob left")),
            kind(&finding("carol/phone read 1 message (m17) that was not meant for it: sent before carol joined"))
        );
        assert_ne!(
            kind(&finding("The provider could read 2 of 2 messages")),
            kind(&finding("Someone holding only public data read 2 of 2 messages"))
        );
        assert_eq!(kind(&finding("read 12 of 140 (a (nested) list) messages; and more")), "read # of # message");
    }
}
