//! Verdicts, findings and evidence: what oracles conclude, in a form both
//! renderers (Markdown for people, JSON for machines) read.
//!
//! **Invariant:** a verdict is PASS only when the oracle observed something
//! that could have failed; with nothing to observe it is NOT TESTED, with
//! the reason.

use doormat_formats::Property;
use serde::{Deserialize, Serialize};

/// Most evidence items kept per finding (the total is kept too).
pub const EVIDENCE_CAP: usize = 5;

/// The outcome of one oracle on one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Observed, and held.
    Pass,
    /// Observed, and violated; see the findings.
    Fail,
    /// Could not be observed; see the reason.
    NotTested,
    /// The run broke (an implementation error stopped it).
    Error,
}

impl Verdict {
    /// Upper-case label for reports.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NotTested => "NOT TESTED",
            Verdict::Error => "ERROR",
        }
    }
}

/// One piece of evidence: where, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Evidence {
    /// Step of the vector (1-based, after expansion; past the last step for
    /// the final delivery and the outsider's attempts).
    pub step: usize,
    /// The message concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The party that read, or failed to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    /// Position in the provider view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<usize>,
    /// Byte offset inside the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
    /// How the bytes were encoded where found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The whole observation as one line of text.
    pub text: String,
}

/// A violation, as one plain sentence with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The property violated.
    pub property: Property,
    /// The vector it happened in.
    pub vector: String,
    /// One plain sentence a policy reader understands.
    pub sentence: String,
    /// The first pieces of evidence (at most [`EVIDENCE_CAP`]).
    pub evidence: Vec<Evidence>,
    /// How many pieces of evidence there were in all.
    pub evidence_total: usize,
}

impl Finding {
    /// A finding keeping the first [`EVIDENCE_CAP`] of `evidence`.
    pub fn new(property: Property, vector: &str, sentence: String, mut evidence: Vec<Evidence>) -> Self {
        let evidence_total = evidence.len();
        evidence.truncate(EVIDENCE_CAP);
        Finding { property, vector: vector.to_owned(), sentence, evidence, evidence_total }
    }
}

/// One oracle's judgement of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judgement {
    /// The property judged.
    pub property: Property,
    /// The verdict.
    pub verdict: Verdict,
    /// What was observed (PASS), or why nothing could be (NOT TESTED, ERROR).
    pub note: String,
    /// Violations (FAIL only; in a design report they are moved to its top-level `findings`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// Things worth knowing that do not fail the property (visible access:
    /// the design warned the user).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Finding>,
    /// A PASS observed only through the design's own client code: it offers
    /// no forensic open, so a refusal may be courtesy (a replay cache, an
    /// address check) rather than a missing key. Never a plain "yes".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_level: bool,
    /// For *change-visible*: the worst way a sender stood towards a change
    /// in this run (`prevented`, `warned before sending`, `warned only
    /// while sending`, `silent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<String>,
}

impl Judgement {
    /// PASS with a note of what was observed.
    pub fn pass(property: Property, note: impl Into<String>) -> Self {
        Judgement {
            property,
            verdict: Verdict::Pass,
            note: note.into(),
            findings: Vec::new(),
            observations: Vec::new(),
            client_level: false,
            grade: None,
        }
    }

    /// NOT TESTED with the reason.
    pub fn not_tested(property: Property, reason: impl Into<String>) -> Self {
        Judgement {
            property,
            verdict: Verdict::NotTested,
            note: reason.into(),
            findings: Vec::new(),
            observations: Vec::new(),
            client_level: false,
            grade: None,
        }
    }

    /// FAIL with findings, or PASS when there are none. `observed` says what
    /// the oracle looked at; `conclusion` is added to it on PASS.
    pub fn from_findings(property: Property, findings: Vec<Finding>, observed: String, conclusion: &str) -> Self {
        if findings.is_empty() {
            Judgement {
                property,
                verdict: Verdict::Pass,
                note: format!("{observed}; {conclusion}"),
                findings,
                observations: Vec::new(),
                client_level: false,
                grade: None,
            }
        } else {
            Judgement {
                property,
                verdict: Verdict::Fail,
                note: observed,
                findings,
                observations: Vec::new(),
                client_level: false,
                grade: None,
            }
        }
    }

    /// Marks a PASS as observed at client level only (see
    /// [`Judgement::client_level`]), with the reason in the note.
    pub fn at_client_level(mut self, why: &str) -> Self {
        if self.verdict == Verdict::Pass {
            self.client_level = true;
            self.note = format!("{}; client-level only: {why}", self.note);
        }
        self
    }
}

/// Whether a vector expectation held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// Source line of the expectation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The property the expectation belongs to (it binds only designs that claim it).
    pub property: Property,
    /// What was expected, in words.
    pub expected: String,
    /// Whether it held.
    pub held: bool,
    /// What was observed instead, when it did not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
}
