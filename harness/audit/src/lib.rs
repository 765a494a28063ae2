//! The audit library: everything `doormat audit`, `kat`, `merge` and
//! `validate` do apart from reading the command line and writing to the
//! terminal or the report folder.
//!
//! - [`load`] reads specs, vectors, expected deviations and shards from
//!   disk ([`files`] is the one folder walk and the one reader), [`kat`]
//!   reads known-answer files and judges a design's primitives on them;
//! - a [`Selection`] holds the designs and vectors of one audit, narrows
//!   them (`--design`, `--partition`) and runs every (design, vector) pair,
//!   designs in parallel, results in spec order;
//! - [`run_judged`] is the one place that runs a design through a scenario
//!   and judges the run ([`judge_pair`] keeps only the judgement);
//!   [`audit_one`] sets a spec's claims against one
//!   design's verdicts;
//! - an [`Audit`] is the finished set: every design's
//!   [`DesignAudit`] (known-answer section attached) and the CI [`Gate`];
//!   [`merge`] makes one from the shards of a partitioned audit.
//!
//! **Invariant:** nothing here writes to standard output or standard error
//! or writes a file: what a user should be told comes back to the caller
//! (a `notice` callback, [`Audit::unused_deviations`], why an
//! implementation broke), and rendering and writing reports is the CLI's.
//! This crate and the CLI are the only ones that read files.

pub mod files;
pub mod kat;
pub mod load;
mod select;

pub use load::{ExecOptions, Loaded};
pub use select::{KatTarget, Selection};

use doormat_engine::timings::{self, Phase};
use doormat_engine::{Design, Run};
use doormat_formats::{Deviations, LoadErrors, Parameters, Scenario};
use doormat_oracles::VectorResult;
use doormat_report::{DesignAudit, Gate};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why an audit could not be made, by who is at fault.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Bad input files: specs, vectors, known-answer files, deviations,
    /// shards.
    Input(LoadErrors),
    /// A request the inputs cannot meet: an unknown design, no vectors,
    /// shards that do not fit together.
    Usage(String),
    /// A thread running designs panicked (a bug of the harness).
    Panicked,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(e) => write!(f, "{e}"),
            Error::Usage(msg) => write!(f, "{msg}"),
            Error::Panicked => write!(f, "an audit thread panicked"),
        }
    }
}

impl std::error::Error for Error {}

impl From<LoadErrors> for Error {
    fn from(e: LoadErrors) -> Self {
        Error::Input(e)
    }
}

/// A run and its judgement.
#[derive(Debug)]
pub struct Judged {
    /// What the engine recorded.
    pub run: Run,
    /// What the oracles made of it.
    pub result: VectorResult,
}

/// Runs `design` through `scenario` and judges the run with every oracle
/// under `params`, keeping the run: the one place that joins the engine
/// and the oracles.
pub fn run_judged(design: &dyn Design, scenario: &Scenario, params: &Parameters) -> Judged {
    let run = doormat_engine::run(design, scenario);
    let result = timings::phase(Phase::Judge, || doormat_oracles::judge(&run, params));
    Judged { run, result }
}

/// [`run_judged`]'s judgement alone: one (design, vector) pair's result.
pub fn judge_pair(design: &dyn Design, scenario: &Scenario, params: &Parameters) -> VectorResult {
    run_judged(design, scenario, params).result
}

/// One spec's design over every scenario, each judged with the spec's
/// parameters, and the spec's claims set against the verdicts (no
/// known-answer section).
pub fn audit_one(loaded: &Loaded, scenarios: &[Scenario]) -> DesignAudit {
    let results = scenarios.iter().map(|sc| judge_pair(loaded.design.as_ref(), sc, &loaded.spec.parameters)).collect();
    DesignAudit::new(&loaded.spec, results)
}

/// A finished audit: what CI gates and the renderers render.
#[derive(Debug)]
pub struct Audit {
    /// Each design's audit, in spec order.
    pub designs: Vec<DesignAudit>,
    /// What fails CI, with the expected deviations taken into account.
    pub gate: Gate,
    /// Designs that expected deviations were given for but that were not
    /// audited.
    pub unused_deviations: Vec<String>,
    /// How many vectors the audit ran (the most any design ran, after a
    /// merge).
    pub vectors: usize,
}

impl Audit {
    /// Gates `designs` against the expected `deviations` (keyed by design).
    pub fn new(designs: Vec<DesignAudit>, deviations: &BTreeMap<String, Deviations>, vectors: usize) -> Audit {
        let unused_deviations =
            deviations.keys().filter(|id| !designs.iter().any(|a| a.design == **id)).cloned().collect();
        let mut gate = Gate::default();
        for a in &designs {
            gate.add(a, deviations.get(&a.design));
        }
        Audit { designs, gate, unused_deviations, vectors }
    }
}

/// Where [`merge`] finds what it needs besides the shards.
#[derive(Debug, Clone, Copy)]
pub struct MergeInputs<'a> {
    /// The folder of specs, when `spec_files` is empty.
    pub specs: &'a Path,
    /// Spec files instead of the folder.
    pub spec_files: &'a [PathBuf],
    /// The vector folder the audit used (its `kat/` holds the known-answer
    /// files).
    pub vectors: &'a Path,
    /// The folder of expected-deviations files, if any.
    pub expected: Option<&'a Path>,
}

/// The shards of a partitioned audit (`doormat audit --partition K/N`)
/// made into the audit of one run. Specs are read, never run; the
/// known-answer tests of built-in designs run here (they are cheap, so
/// shards do not carry them); an external design gets no known-answer
/// section, since merging never starts a program.
pub fn merge(shards: &[PathBuf], inputs: MergeInputs<'_>) -> Result<Audit, Error> {
    let shards = shards.iter().map(|p| load::shard(p)).collect::<Result<Vec<_>, _>>()?;
    let merged = doormat_report::shard::merge(shards).map_err(Error::Usage)?;
    let specs = load::parse_specs(inputs.specs, inputs.spec_files)?;
    let deviations = match inputs.expected {
        Some(dir) => load::deviations(dir)?,
        None => BTreeMap::new(),
    };
    let kat_files = kat::load_dir(inputs.vectors)?;
    let mut audits = Vec::new();
    let mut vectors = 0;
    for (design, results) in merged {
        let spec = specs.iter().find(|s| s.id == design).ok_or_else(|| {
            Error::Usage(format!(
                "no spec with id `{design}` (the shards name it): give its spec with --specs or --spec"
            ))
        })?;
        vectors = vectors.max(results.len());
        let mut audit = DesignAudit::new(spec, results);
        if let Some(d) = spec.builtin().and_then(doormat_designs::builtin) {
            audit.kat = kat::summary(spec, d.as_ref(), &kat_files).map(|(k, _)| k);
        }
        audits.push(audit);
    }
    Ok(Audit::new(audits, &deviations, vectors))
}
