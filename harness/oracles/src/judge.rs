//! The generic oracles: each reads a [`Run`] and its ground truth and gives
//! a [`Judgement`] per property.
//!
//! **Invariant:** no oracle knows a design's name; `Run::design` is never
//! read here. Everything is judged from the provider view, the reads, the
//! deliveries and the ground truth.

use crate::delivers::{delivered_exactly, delivers};
use crate::readers::{outsider_blind, recipients_only};
use crate::timeline::{timeline, Item};
use crate::verdict::{ExpectationResult, Judgement, Verdict};
use doormat_engine::run::{Reader, Run};
use doormat_formats::{DeviceAddr, Outcome, Parameters, Party, Property};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Counts describing a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Steps after expansion.
    pub steps: usize,
    /// Messages sent.
    pub messages: usize,
    /// Envelopes the provider stored.
    pub envelopes: usize,
    /// Records in the provider view.
    pub records: usize,
    /// Bytes in the provider view.
    pub bytes: usize,
    /// Deliveries to addressees.
    pub deliveries: usize,
    /// Decryptions tried by devices on envelopes not addressed to them.
    pub attempts: usize,
}

/// Everything the oracles concluded about one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorResult {
    /// The vector's id.
    pub vector: String,
    /// Its title.
    pub title: String,
    /// Counts.
    pub stats: Stats,
    /// One judgement per property, in [`Property::ALL`] order.
    pub judgements: Vec<Judgement>,
    /// The vector's expectations.
    pub expectations: Vec<ExpectationResult>,
    /// Why the run stopped early, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The vector's tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The vector's file.
    pub file: String,
    /// The story of the run, for diagrams (not in the design report).
    #[serde(skip)]
    pub timeline: Vec<Item>,
    /// The source line of each step (not in the design report).
    #[serde(skip)]
    pub step_lines: Vec<Option<usize>>,
}

impl VectorResult {
    /// The judgement of `p`.
    pub fn judgement(&self, p: Property) -> Option<&Judgement> {
        self.judgements.iter().find(|j| j.property == p)
    }
}

/// Runs every oracle over `run`, with the spec's parameters.
pub fn judge(run: &Run, params: &Parameters) -> VectorResult {
    let stats = Stats {
        steps: run.scenario.steps.len(),
        messages: run.truth.messages.len(),
        envelopes: run.envelopes.len(),
        records: run.view.len(),
        bytes: run.view.iter().map(|r| r.bytes.len()).sum(),
        deliveries: run.deliveries.len(),
        attempts: run.attempts,
    };
    let judgements: Vec<Judgement> = match &run.aborted {
        Some(why) => Property::ALL
            .iter()
            .map(|&p| Judgement {
                property: p,
                verdict: Verdict::Error,
                note: format!("the run stopped: {why}"),
                findings: Vec::new(),
                observations: Vec::new(),
                client_level: false,
                grade: None,
            })
            .collect(),
        None => Property::ALL.iter().map(|&p| judge_property(run, p, params)).collect(),
    };
    let timeline = timeline(run, &judgements);
    VectorResult {
        vector: run.scenario.id.clone(),
        title: run.scenario.title.clone(),
        stats,
        judgements,
        expectations: expectations(run),
        error: run.aborted.clone(),
        tags: run.scenario.tags.clone(),
        file: run.scenario.file.clone(),
        timeline,
        step_lines: run.scenario.steps.iter().map(|s| s.line).collect(),
    }
}

fn judge_property(run: &Run, p: Property, params: &Parameters) -> Judgement {
    match p {
        Property::ProviderBlind => crate::leaks::provider_blind(run),
        Property::RecipientsOnly => recipients_only(run),
        Property::OutsiderBlind => outsider_blind(run),
        Property::Delivers => delivers(run),
        Property::ChangeVisible => crate::changes::change_visible(run),
        Property::Integrity => crate::integrity::integrity(run),
        Property::ForwardSecrecy => crate::seizure::forward_secrecy(run),
        Property::PostCompromise => crate::seizure::post_compromise(run, params.post_compromise_round_trips),
    }
}

fn expectations(run: &Run) -> Vec<ExpectationResult> {
    let ok = delivered_exactly(run);
    let mut out = Vec::new();
    for e in &run.scenario.expect {
        let Some((mi, m)) = run.truth.message(&e.message) else { continue };
        let devices_of = |party: &Party, only_intended: bool| -> Vec<DeviceAddr> {
            match party {
                Party::Device(d) => vec![d.clone()],
                Party::User(u) => run
                    .truth
                    .enrolled
                    .keys()
                    .filter(|d| d.user == *u && (!only_intended || m.intended.contains(d)))
                    .cloned()
                    .collect(),
            }
        };
        for party in &e.read_by {
            let missing: Vec<String> = devices_of(party, true)
                .into_iter()
                .filter(|d| !ok.contains(&(mi, d.clone())))
                .map(|d| d.to_string())
                .collect();
            out.push(ExpectationResult {
                line: e.line,
                property: Property::Delivers,
                expected: format!("{party} reads {}", m.id),
                held: missing.is_empty(),
                observed: (!missing.is_empty()).then(|| format!("{} did not read it", missing.join(", "))),
            });
        }
        for party in &e.not_read_by {
            let devs = devices_of(party, false);
            let readers: BTreeSet<String> = run
                .reads
                .iter()
                .filter(|r| r.messages.contains(&mi))
                .filter_map(|r| match &r.reader {
                    Reader::Device(d) if devs.contains(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect();
            out.push(ExpectationResult {
                line: e.line,
                property: Property::RecipientsOnly,
                expected: format!("{party} does not read {}", m.id),
                held: readers.is_empty(),
                observed: (!readers.is_empty())
                    .then(|| format!("{} read it", readers.into_iter().collect::<Vec<_>>().join(", "))),
            });
        }
        if let Some(outcome) = e.outcome {
            let got = m.intended.iter().filter(|d| ok.contains(&(mi, (*d).clone()))).count();
            let (held, expected) = match outcome {
                Outcome::Delivered => (
                    got == m.intended.len(),
                    format!("{} is delivered to all {} intended devices", m.id, m.intended.len()),
                ),
                Outcome::NotDelivered => (got == 0, format!("{} is delivered to none of its intended devices", m.id)),
            };
            out.push(ExpectationResult {
                line: e.line,
                property: Property::Delivers,
                expected,
                held,
                observed: (!held).then(|| format!("{got} of {} intended devices read it", m.intended.len())),
            });
        }
    }
    out
}
