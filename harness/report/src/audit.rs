//! One design's audit: the spec's claims set against the oracles' verdicts
//! over every vector.

use doormat_formats::{Property, Spec};
use doormat_oracles::{Finding, VectorResult, Verdict};
use serde::Serialize;
use std::collections::BTreeSet;

/// Version of the JSON report's layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// How a verdict stands against the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Claim {
    /// Claimed, and it held.
    Holds,
    /// Claimed, and the audit found otherwise.
    Contradicted,
    /// Claimed, but nothing could test it.
    ClaimedNotTested,
    /// Claimed, but runs broke.
    ClaimedError,
    /// Not claimed; it does not hold.
    NotClaimedFails,
    /// Not claimed; it held anyway.
    NotClaimedHolds,
    /// Not claimed and not tested.
    NotClaimedNotTested,
    /// Claimed; it failed only where the spec states a limit.
    HoldsWithinLimits,
    /// Not claimed; runs broke.
    NotClaimedError,
    /// Claimed; it held, but only as far as the design's own client code
    /// shows (no forensic open): never a plain "yes".
    HoldsClientLevel,
    /// Not claimed; it held at client level only.
    NotClaimedHoldsClientLevel,
}

impl Claim {
    /// From the claim and the overall verdict.
    pub fn of(claimed: bool, verdict: Verdict) -> Claim {
        match (claimed, verdict) {
            (true, Verdict::Pass) => Claim::Holds,
            (true, Verdict::Fail) => Claim::Contradicted,
            (true, Verdict::NotTested) => Claim::ClaimedNotTested,
            (true, Verdict::Error) => Claim::ClaimedError,
            (false, Verdict::Pass) => Claim::NotClaimedHolds,
            (false, Verdict::Fail) => Claim::NotClaimedFails,
            (false, Verdict::NotTested) => Claim::NotClaimedNotTested,
            (false, Verdict::Error) => Claim::NotClaimedError,
        }
    }
}

/// One property across all vectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertySummary {
    /// The property.
    pub property: Property,
    /// Whether the spec claims it.
    pub claimed: bool,
    /// FAIL if any vector failed, else ERROR if any broke, else PASS if any
    /// passed, else NOT TESTED.
    pub verdict: Verdict,
    /// The claim's standing.
    pub claim: Claim,
    /// Vectors that passed.
    pub pass: usize,
    /// Vectors that failed.
    pub fail: usize,
    /// Vectors where it was not tested.
    pub not_tested: usize,
    /// Vectors that broke.
    pub error: usize,
    /// Failing vectors covered by a limit the spec states.
    pub within_limits: usize,
    /// Passing vectors observed at client level only (the design offers no
    /// forensic open).
    #[serde(skip_serializing_if = "is_zero")]
    pub client_level: usize,
    /// For *change-visible*: the worst grade over the vectors (see
    /// `Judgement::grade`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grade: Option<String>,
    /// Reasons it was not tested, without repeats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_tested_because: Vec<String>,
    /// The answer in the words every output uses, with counts: "no — 9 of
    /// 37 vectors", "yes, within stated limits — 6 of 7 vectors (warned
    /// before sending)", "not tested" (see [`LEGEND`]).
    pub answer: String,
}

/// What the answers mean; said once per report and in the scorecard.
pub const LEGEND: &str =
    "Answers count the vectors that could test the property: \"yes — 4 of 4 vectors\" (all passed), \
\"no — 9 of 37 vectors\" (9 failed), \"yes, within stated limits — 6 of 7 vectors\" (every failure lies inside a limit \
the design's spec states), \"client-level only\" (the design's own client refused, but the keys it holds could not be \
tried directly, so the refusal may be courtesy), \"not tested\" (no vector could observe it), \"could not be judged\" \
(runs broke). In brackets: how users were told of changes, the worst seen (prevented, warned before sending, warned \
only while sending, silent).";

impl PropertySummary {
    /// The one word (or phrase) of the answer: "yes", "yes, within stated
    /// limits", "client-level only", "no", "not tested", "could not be judged".
    pub fn word(&self) -> &'static str {
        match self.claim {
            Claim::Holds | Claim::NotClaimedHolds => "yes",
            Claim::HoldsWithinLimits => "yes, within stated limits",
            Claim::HoldsClientLevel | Claim::NotClaimedHoldsClientLevel => "client-level only",
            Claim::Contradicted | Claim::NotClaimedFails => "no",
            Claim::ClaimedNotTested | Claim::NotClaimedNotTested => "not tested",
            Claim::ClaimedError | Claim::NotClaimedError => "could not be judged",
        }
    }

    /// Vectors that could test the property (passed or failed).
    pub fn tested(&self) -> usize {
        self.pass + self.fail
    }

    fn answer_of(&self) -> String {
        let of = |k: usize, n: usize| format!("{k} of {n} vector{}", if n == 1 { "" } else { "s" });
        let mut a = match self.claim {
            Claim::ClaimedNotTested | Claim::NotClaimedNotTested => "not tested".to_owned(),
            Claim::ClaimedError | Claim::NotClaimedError => format!(
                "could not be judged — {} broke",
                of(self.error, self.pass + self.fail + self.not_tested + self.error)
            ),
            Claim::Contradicted | Claim::NotClaimedFails => format!("no — {}", of(self.fail, self.tested())),
            _ => format!("{} — {}", self.word(), of(self.pass, self.tested())),
        };
        if let Some(g) = &self.grade {
            a.push_str(&format!(" ({g})"));
        }
        a
    }

    /// The answer with the claim beside it, for tables: the answer alone
    /// when claimed and not contradicted, "… (not claimed)", or "…, though
    /// claimed" when the audit contradicts the claim or could not judge it
    /// (renderers show those as [`PropertySummary::alarming`]).
    pub fn cell(&self) -> String {
        match self.claim {
            Claim::Contradicted => format!("{}, though claimed", self.answer),
            Claim::ClaimedError => format!("{} (claimed)", self.answer),
            _ if !self.claimed => format!("{} (not claimed)", self.answer),
            _ => self.answer.clone(),
        }
    }

    /// Whether the audit contradicts the claim or could not judge it: the
    /// cells a reader must not miss.
    pub fn alarming(&self) -> bool {
        matches!(self.claim, Claim::Contradicted | Claim::ClaimedError)
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What a black-box audit cannot see, for every design.
pub const CANNOT_SEE: &[&str] = &[
    "A backdoor that looks like randomness (a kleptographic key or nonce choice) leaves no trace a black-box audit can find: the bytes look the same either way.",
    "What the implementation does outside the operations the harness drives: telemetry, crash reports, cloud backups or a second network connection are not observed.",
    "Metadata: who talks to whom, when and how much is visible to the provider in every design here, and no verdict covers it.",
    "Weak randomness on a real device: the harness seeds every device, so a broken random number generator in production is not exercised.",
    "Only the scenarios in the vector set are run; a property holds for those, not for every possible use.",
    "The provider-blind search knows the forms listed in its note; a message that reaches the provider in any other form (encrypted under a key the provider holds, split across records, compressed by an algorithm not listed, as raw deflate or brotli inside a layer larger than 64 KiB anywhere but at its start, or past the start of a smaller layer when what was compressed does not begin with text (for brotli, also when the stream is cut short), XORed with a key longer than 32 bytes, or decoded more than 4 layers deep) is not found, and a reused keystream is found only where the two texts sit at the same offset. Leaks through lengths, timing, padding or the order of records are not searched at all.",
    "Keys kept inside a seized state are tried through the design's own forensic open (every key it holds, no replay cache or address check) and the exported state is searched for earlier messages' text; a design that answers its forensic open dishonestly, or keeps keys in a form the search does not know, is not caught. A design without a forensic open gets forward-secrecy, post-compromise and outsider-blind verdicts at client level only.",
];

/// A design's audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesignAudit {
    /// Layout version of this JSON.
    pub schema_version: u32,
    /// The design's id.
    pub design: String,
    /// Its title.
    pub title: String,
    /// What it is, for a policy reader.
    pub summary: String,
    /// What its promoters say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promise: Option<String>,
    /// Properties it claims.
    pub claims: Vec<Property>,
    /// Per property, over all vectors.
    pub properties: Vec<PropertySummary>,
    /// Every finding, grouped by property then vector.
    pub findings: Vec<Finding>,
    /// Per-vector results (their findings are in `findings`).
    pub vectors: Vec<VectorResult>,
    /// Limits of this audit.
    pub cannot_see: Vec<String>,
    /// Limits the spec states for its claims.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<StatedLimit>,
    /// Visible access: readers the users were warned about.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Finding>,
    /// Known-answer tests of the design's primitives, when it exposes them
    /// and they were run (set by the caller after [`DesignAudit::new`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kat: Option<doormat_oracles::KatSummary>,
    /// How the audit ended, in the words every output uses.
    pub outcome: Outcome,
    /// The three lines every report opens with.
    pub in_short: InShort,
}

/// The three plain lines a report opens with: what the design promises,
/// what the audit found, and the one thing a reader should remember.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InShort {
    /// What the design promises ("only delivers; none of the other 7 properties").
    pub promises: String,
    /// What the audit found, with counts.
    pub found: String,
    /// The one thing to remember.
    pub remember: String,
}

fn list(ps: &[Property]) -> String {
    ps.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

impl InShort {
    fn of(claims: &[Property], properties: &[PropertySummary], outcome: &Outcome, limits: &[StatedLimit]) -> InShort {
        let total = Property::ALL.len();
        let unclaimed: Vec<Property> = Property::ALL.iter().copied().filter(|p| !claims.contains(p)).collect();
        let promises = match claims.len() {
            0 => format!("nothing: it claims none of the {total} properties below."),
            1 => format!("only {}; it claims none of the other {} properties.", claims[0], total - 1),
            n if n == total => format!("all {total} properties in the table below."),
            _ => format!(
                "{}; not {}.",
                list(claims),
                unclaimed.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or ")
            ),
        };
        let answers = |ps: &[Property]| {
            ps.iter()
                .filter_map(|p| properties.iter().find(|s| s.property == *p))
                .map(|s| format!("{}: {}", s.property, s.answer))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let lacks: Vec<Property> =
            properties.iter().filter(|s| !s.claimed && s.verdict == Verdict::Fail).map(|s| s.property).collect();
        let broke = match (outcome.broken_vectors, outcome.not_judged.is_empty()) {
            (0, _) => String::new(),
            (_, true) => format!(" {}.", capital(&outcome.broke())),
            (_, false) => {
                format!(" {}, so {} could not be judged.", capital(&outcome.broke()), list(&outcome.not_judged))
            }
        };
        let mut found = if !outcome.contradicted.is_empty() {
            format!(
                "{} of its {} claims {}: {}.{broke}",
                outcome.contradicted.len(),
                claims.len(),
                if outcome.contradicted.len() == 1 { "does not hold" } else { "do not hold" },
                answers(&outcome.contradicted)
            )
        } else if outcome.broken_vectors > 0 {
            format!("it could not be judged.{broke} Nothing here is a pass.")
        } else {
            let mut f = match claims.len() {
                0 => "it claims nothing, so nothing could be contradicted".to_owned(),
                1 => format!("its one claim held in {} vectors", outcome.vectors),
                n => format!("its {n} claims held in {} vectors", outcome.vectors),
            };
            if !outcome.within_limits.is_empty() {
                f.push_str(&format!("; {} only within limits its spec states", list(&outcome.within_limits)));
            }
            if !outcome.client_level.is_empty() {
                f.push_str(&format!("; {} only at client level", list(&outcome.client_level)));
            }
            f.push('.');
            f
        };
        if !lacks.is_empty() {
            found.push_str(&format!(" It does not claim, and does not have: {}.", answers(&lacks)));
        }
        let remember = if let Some(p) = outcome.contradicted.first() {
            format!("{}, though the design claims {p}.", capital(p.broken()))
        } else if outcome.broken_vectors > 0 {
            "an implementation that breaks during an audit has not shown it keeps any promise.".to_owned()
        } else if let Some(p) = lacks.first() {
            format!("{}; the design does not claim otherwise.", capital(p.broken()))
        } else if let Some(l) = outcome.within_limits.iter().find_map(|p| limits.iter().find(|l| l.property == *p)) {
            let first = l.reason.split(". ").next().unwrap_or("").trim_end_matches('.');
            if first.split_whitespace().count() <= 20 {
                format!("{} holds only within a limit its spec states: {}.", l.property, first.to_lowercase())
            } else {
                format!("{} holds only within a limit its spec states (see the limits below).", l.property)
            }
        } else {
            format!("a pass covers the {} vectors run, not every possible use.", outcome.vectors)
        };
        // A sentence that opens with a property's id keeps it as written.
        let remember =
            if Property::ALL.iter().any(|p| remember.starts_with(p.id())) { remember } else { capital(&remember) };
        InShort { promises, found: capital(&found), remember }
    }
}

/// How a design's audit ended: the one story that the console line, the
/// Markdown summary, the JSON report and the scorecard all tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Vectors run.
    pub vectors: usize,
    /// Vectors whose run broke (an ERROR verdict: the implementation
    /// crashed, hung or broke the protocol).
    pub broken_vectors: usize,
    /// Claimed properties the audit contradicted.
    pub contradicted: Vec<Property>,
    /// Claimed properties that could not be judged because runs broke.
    pub not_judged: Vec<Property>,
    /// Claimed properties that held only within the limits the spec states.
    pub within_limits: Vec<Property>,
    /// Claimed properties that held only at client level: the design offers
    /// no forensic open, so a refusal may be courtesy rather than a missing key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_level: Vec<Property>,
}

impl Outcome {
    fn of(properties: &[PropertySummary], vectors: &[VectorResult]) -> Outcome {
        let with = |c: Claim| properties.iter().filter(|p| p.claim == c).map(|p| p.property).collect::<Vec<_>>();
        Outcome {
            vectors: vectors.len(),
            broken_vectors: vectors.iter().filter(|v| v.error.is_some()).count(),
            contradicted: with(Claim::Contradicted),
            not_judged: with(Claim::ClaimedError),
            within_limits: with(Claim::HoldsWithinLimits),
            client_level: with(Claim::HoldsClientLevel),
        }
    }

    /// "3 of 32 vectors broke".
    pub fn broke(&self) -> String {
        format!("{} of {} vector{} broke", self.broken_vectors, self.vectors, if self.vectors == 1 { "" } else { "s" })
    }
}

/// A limit the spec states for a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatedLimit {
    /// The property.
    pub property: Property,
    /// Vector ids or `tag:NAME`.
    pub vectors: Vec<String>,
    /// Why.
    pub reason: String,
}

impl DesignAudit {
    /// Sets the spec's claims against the vectors' results.
    pub fn new(spec: &Spec, vectors: Vec<VectorResult>) -> DesignAudit {
        let properties: Vec<PropertySummary> = Property::ALL
            .iter()
            .map(|&p| {
                let verdicts: Vec<(Verdict, &str)> =
                    vectors.iter().filter_map(|v| v.judgement(p)).map(|j| (j.verdict, j.note.as_str())).collect();
                let count = |x: Verdict| verdicts.iter().filter(|(v, _)| *v == x).count();
                let (pass, fail, not_tested, error) =
                    (count(Verdict::Pass), count(Verdict::Fail), count(Verdict::NotTested), count(Verdict::Error));
                let verdict = if fail > 0 {
                    Verdict::Fail
                } else if error > 0 {
                    Verdict::Error
                } else if pass > 0 {
                    Verdict::Pass
                } else {
                    Verdict::NotTested
                };
                let reasons: BTreeSet<&str> =
                    verdicts.iter().filter(|(v, _)| *v == Verdict::NotTested).map(|(_, n)| *n).collect();
                let claimed = spec.claims(p);
                let within_limits = vectors
                    .iter()
                    .filter(|v| v.judgement(p).is_some_and(|j| j.verdict == Verdict::Fail))
                    .filter(|v| spec.limits.iter().any(|l| l.property == p && l.covers(&v.vector, &v.tags)))
                    .count();
                let client_level = vectors
                    .iter()
                    .filter_map(|v| v.judgement(p))
                    .filter(|j| j.verdict == Verdict::Pass && j.client_level)
                    .count();
                const GRADES: [&str; 4] = ["prevented", "warned before sending", "warned only while sending", "silent"];
                // The worst grade outside the limits the spec states (the
                // limits say why those differ), else the worst of all.
                let limited =
                    |v: &VectorResult| spec.limits.iter().any(|l| l.property == p && l.covers(&v.vector, &v.tags));
                let worst = |outside: bool| {
                    vectors
                        .iter()
                        .filter(|v| !outside || !limited(v))
                        .filter_map(|v| v.judgement(p))
                        .filter_map(|j| j.grade.as_deref())
                        .max_by_key(|g| GRADES.iter().position(|x| x == g))
                        .map(str::to_owned)
                };
                let grade = worst(true).or_else(|| worst(false));
                let mut claim = Claim::of(claimed, verdict);
                if claim == Claim::Contradicted && within_limits == fail {
                    claim = Claim::HoldsWithinLimits;
                }
                if client_level > 0 {
                    claim = match claim {
                        Claim::Holds => Claim::HoldsClientLevel,
                        Claim::NotClaimedHolds => Claim::NotClaimedHoldsClientLevel,
                        other => other,
                    };
                }
                let mut summary = PropertySummary {
                    property: p,
                    claimed,
                    verdict,
                    claim,
                    within_limits,
                    client_level,
                    grade,
                    pass,
                    fail,
                    not_tested,
                    error,
                    not_tested_because: if verdict == Verdict::NotTested {
                        reasons.into_iter().map(str::to_owned).collect()
                    } else {
                        Vec::new()
                    },
                    answer: String::new(),
                };
                summary.answer = summary.answer_of();
                summary
            })
            .collect();
        // Findings move to the top level (grouped by property, then vector);
        // each still names its vector and property.
        let mut vectors = vectors;
        let mut findings = Vec::new();
        let mut observations = Vec::new();
        for p in Property::ALL {
            for v in &mut vectors {
                for j in v.judgements.iter_mut().filter(|j| j.property == p) {
                    findings.append(&mut j.findings);
                    observations.append(&mut j.observations);
                }
            }
        }
        let outcome = Outcome::of(&properties, &vectors);
        let limits: Vec<StatedLimit> = spec
            .limits
            .iter()
            .map(|l| StatedLimit {
                property: l.property,
                vectors: l.vectors.clone(),
                reason: l.reason.trim().to_owned(),
            })
            .collect();
        let in_short = InShort::of(&spec.claims, &properties, &outcome, &limits);
        let mut cannot_see: Vec<String> = CANNOT_SEE.iter().map(|s| (*s).to_owned()).collect();
        cannot_see.extend(spec.cannot_see.iter().cloned());
        DesignAudit {
            schema_version: SCHEMA_VERSION,
            design: spec.id.clone(),
            title: spec.title.clone(),
            summary: spec.summary.trim().to_owned(),
            promise: spec.promise.as_ref().map(|s| s.trim().to_owned()),
            claims: spec.claims.clone(),
            properties,
            findings,
            vectors,
            cannot_see,
            limits,
            observations,
            kat: None,
            outcome,
            in_short,
        }
    }

    /// Claimed properties the audit contradicted or could not judge.
    pub fn broken_claims(&self) -> Vec<Property> {
        self.properties
            .iter()
            .filter(|s| matches!(s.claim, Claim::Contradicted | Claim::ClaimedError))
            .map(|s| s.property)
            .collect()
    }

    /// Expectations that failed for properties the design claims:
    /// (vector, expectation text).
    pub fn failed_expectations(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for v in &self.vectors {
            for e in &v.expectations {
                if !e.held && self.claims.contains(&e.property) && !self.limited(&v.vector, &v.tags, e.property) {
                    out.push((v.vector.clone(), e.expected.clone()));
                }
            }
        }
        out
    }

    /// Whether a limit the spec states covers `property` in this vector.
    pub fn limited(&self, vector: &str, tags: &[String], property: Property) -> bool {
        self.limits.iter().any(|l| {
            l.property == property
                && l.vectors.iter().any(|x| match x.strip_prefix("tag:") {
                    Some(t) => tags.iter().any(|g| g == t),
                    None => x == vector,
                })
        })
    }

    /// The stated limit covering a finding, if any.
    pub fn limit_for(&self, f: &Finding) -> Option<&StatedLimit> {
        let tags = self.vectors.iter().find(|v| v.vector == f.vector).map(|v| v.tags.as_slice()).unwrap_or_default();
        self.limits.iter().find(|l| {
            l.property == f.property
                && l.vectors.iter().any(|x| match x.strip_prefix("tag:") {
                    Some(t) => tags.iter().any(|g| g == t),
                    None => *x == f.vector,
                })
        })
    }

    /// Whether every claim held, every binding expectation was met and no
    /// known-answer case failed.
    pub fn ok(&self) -> bool {
        self.broken_claims().is_empty()
            && self.failed_expectations().is_empty()
            && self.kat.as_ref().is_none_or(doormat_oracles::KatSummary::ok)
    }

    /// How the design's claims fared, in a few words for the scorecard and
    /// the console: "no — 2 of 8 claims contradicted", "all 8 claims held",
    /// "claims only delivers: held", "could not be judged".
    pub fn claims_status(&self) -> String {
        let n = self.claims.len();
        let o = &self.outcome;
        if !o.contradicted.is_empty() {
            format!("no — {} of {n} claims contradicted", o.contradicted.len())
        } else if o.broken_vectors > 0 {
            format!("could not be judged — {}", o.broke())
        } else if !self.ok() {
            "no — expectations or known-answer tests failed".to_owned()
        } else {
            match n {
                0 => "claims nothing".to_owned(),
                1 => format!("claims only {}: held", self.claims[0]),
                n if n == Property::ALL.len() => format!("all {n} claims held"),
                n => format!("claims {n} of {}: all held", Property::ALL.len()),
            }
        }
    }

    /// The console's line for the design when something went wrong, e.g.
    /// "CLAIMS CONTRADICTED: recipients-only [no — 9 of 37 vectors]; 2 of
    /// 37 vectors broke, so forward-secrecy could not be judged".
    pub fn status_line(&self) -> String {
        let o = &self.outcome;
        let answers = |ps: &[Property]| {
            ps.iter()
                .filter_map(|p| self.property(*p))
                .map(|s| format!("{} [{}]", s.property, s.answer))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let broke = match (o.broken_vectors, o.not_judged.is_empty()) {
            (0, _) => None,
            (_, true) => Some(o.broke()),
            (_, false) => Some(format!("{}, so {} could not be judged", o.broke(), list(&o.not_judged))),
        };
        match (o.contradicted.is_empty(), broke) {
            (false, None) => format!("CLAIMS CONTRADICTED: {}", answers(&o.contradicted)),
            (false, Some(b)) => format!("CLAIMS CONTRADICTED: {}; {b}", answers(&o.contradicted)),
            (true, Some(b)) => format!("COULD NOT BE JUDGED: {b}"),
            (true, None) => self.claims_status(),
        }
    }

    /// What a reader must also know beside the opening lines, which judge
    /// the claims only: binding vector expectations not met, and
    /// known-answer cases of the design's primitives that failed (set
    /// after [`DesignAudit::new`]).
    pub fn also_found(&self) -> Vec<String> {
        let mut out = Vec::new();
        let expect_fail = self.failed_expectations().len();
        if expect_fail > 0 {
            out.push(format!(
                "{expect_fail} vector expectation(s) for claimed properties were not met (see the vector table)."
            ));
        }
        if let Some(k) = self.kat.as_ref().filter(|k| !k.ok()) {
            out.push(match &k.broken {
                Some(_) => {
                    "The implementation broke during the known-answer tests of its primitives (see Known-answer tests)."
                        .to_owned()
                }
                None => format!(
                    "{} known-answer case(s) of its primitives failed (see Known-answer tests).",
                    k.failures.len()
                ),
            });
        }
        out
    }

    /// The summary of one property.
    pub fn property(&self, p: Property) -> Option<&PropertySummary> {
        self.properties.iter().find(|s| s.property == p)
    }
}
