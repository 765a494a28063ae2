//! The CI gate: what makes `doormat audit` fail, after the limits a spec
//! states and the expected deviations a CI system declares.
//!
//! A FAIL of a claimed property, or an unmet expectation of a claimed
//! property, fails the gate unless a stated limit (in the spec) or an
//! expected deviation (in a deviations file) covers it. An expected
//! deviation that covers nothing that fails also fails the gate: the file
//! must say what really happens. A run that broke (ERROR) fails it too.

use crate::audit::DesignAudit;
use doormat_formats::{Deviations, Property};
use doormat_oracles::Verdict;

/// Why an item is in the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateKind {
    /// A claimed property failed, or a binding expectation was not met, and nothing excuses it.
    Unexpected,
    /// It failed as a deviations file expects (the reason).
    Expected(String),
    /// A deviation expected a failure that did not happen (the reason it gave).
    Stale(String),
    /// The run broke (the reason).
    Broken(String),
}

/// One entry of the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateItem {
    /// The design.
    pub design: String,
    /// The vector (or the deviation's pattern, for a stale one).
    pub vector: String,
    /// The property, when one.
    pub property: Option<Property>,
    /// What failed, in words.
    pub what: String,
    /// Its standing.
    pub kind: GateKind,
}

/// The gate over one or more designs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gate {
    /// Every item, in design, vector, property order.
    pub items: Vec<GateItem>,
}

impl Gate {
    /// Whether the gate passes: nothing unexpected, stale or broken.
    pub fn passes(&self) -> bool {
        self.items.iter().all(|i| matches!(i.kind, GateKind::Expected(_)))
    }

    /// Adds the items of one design's audit.
    pub fn add(&mut self, a: &DesignAudit, deviations: Option<&Deviations>) {
        let devs = deviations.map(|d| d.deviations.as_slice()).unwrap_or_default();
        let mut used = vec![false; devs.len()];
        for v in &a.vectors {
            if let Some(e) = &v.error {
                let first = e.lines().next().unwrap_or_default().to_owned();
                self.items.push(GateItem {
                    design: a.design.clone(),
                    vector: v.vector.clone(),
                    property: None,
                    what: first.clone(),
                    kind: GateKind::Broken(first),
                });
                continue;
            }
            let mut failing: Vec<(Property, String)> = Vec::new();
            for j in v.judgements.iter().filter(|j| j.verdict == Verdict::Fail) {
                // Deviations may cover unclaimed failures too; only claimed ones gate.
                for (i, d) in devs.iter().enumerate() {
                    if d.covers(&v.vector, j.property) {
                        used[i] = true;
                    }
                }
                if a.claims.contains(&j.property) && !a.limited(&v.vector, &v.tags, j.property) {
                    let what = a
                        .findings
                        .iter()
                        .find(|f| f.vector == v.vector && f.property == j.property)
                        .map_or_else(|| format!("{} failed", j.property), |f| f.sentence.clone());
                    failing.push((j.property, what));
                }
            }
            for e in v
                .expectations
                .iter()
                .filter(|e| !e.held && a.claims.contains(&e.property) && !a.limited(&v.vector, &v.tags, e.property))
            {
                for (i, d) in devs.iter().enumerate() {
                    if d.covers(&v.vector, e.property) {
                        used[i] = true;
                    }
                }
                failing.push((
                    e.property,
                    format!("expectation not met: {} ({})", e.expected, e.observed.as_deref().unwrap_or("")),
                ));
            }
            for (p, what) in failing {
                let kind = match devs.iter().find(|d| d.covers(&v.vector, p)) {
                    Some(d) => GateKind::Expected(d.reason.clone()),
                    None => GateKind::Unexpected,
                };
                self.items.push(GateItem {
                    design: a.design.clone(),
                    vector: v.vector.clone(),
                    property: Some(p),
                    what,
                    kind,
                });
            }
        }
        for k in a.kat.iter().flat_map(|k| &k.failures) {
            self.items.push(GateItem {
                design: a.design.clone(),
                vector: k.file.clone(),
                property: None,
                what: format!(
                    "known-answer test {} tcId {} failed: expected {}, got {}",
                    k.algorithm, k.tc_id, k.expected, k.got
                ),
                kind: GateKind::Unexpected,
            });
        }
        for (d, used) in devs.iter().zip(used) {
            if !used {
                self.items.push(GateItem {
                    design: a.design.clone(),
                    vector: d.vector.clone(),
                    property: Property::ALL.iter().copied().find(|p| p.id() == d.property),
                    what: format!(
                        "expected deviation `{}` / `{}` no longer happens: remove it from the deviations file",
                        d.vector, d.property
                    ),
                    kind: GateKind::Stale(d.reason.clone()),
                });
            }
        }
    }
}
