//! What an audit runs: the designs and vectors of a [`Selection`], and the
//! designs whose primitives `doormat kat` tests ([`KatTarget`]).
//!
//! **Invariant:** results come back in spec order, whatever order the
//! threads finish in.

use crate::load::{self, ExecOptions, Loaded};
use crate::{judge_pair, kat, Error};
use doormat_engine::Design;
use doormat_formats::{KatAccept, KatFile, Scenario};
use doormat_oracles::VectorResult;
use doormat_report::shard::Shard;
use doormat_report::DesignAudit;
use std::path::{Path, PathBuf};

/// The designs and vectors of one audit.
#[derive(Debug)]
pub struct Selection {
    /// Specs with their designs, sorted by id.
    pub designs: Vec<Loaded>,
    /// Scenarios, sorted by id.
    pub scenarios: Vec<Scenario>,
}

impl Selection {
    /// Keeps the designs whose spec ids are `wanted` (all of them when
    /// `wanted` is empty); an id no spec has is an error naming the ids
    /// there are.
    pub fn keep_designs(&mut self, wanted: &[String]) -> Result<(), Error> {
        if wanted.is_empty() {
            return Ok(());
        }
        for w in wanted {
            if !self.designs.iter().any(|l| l.spec.id == *w) {
                let known = self.designs.iter().map(|l| l.spec.id.as_str()).collect::<Vec<_>>().join(", ");
                return Err(Error::Usage(format!("unknown design `{w}`: expected one of {known}")));
            }
        }
        self.designs.retain(|l| wanted.contains(&l.spec.id));
        Ok(())
    }

    /// Keeps part `k` of `n` (1-based) of the vectors: every `n`-th, from
    /// the `k`-th, in id order.
    pub fn keep_part(&mut self, k: usize, n: usize) {
        let all = std::mem::take(&mut self.scenarios);
        self.scenarios = all.into_iter().enumerate().filter(|(i, _)| i % n == k - 1).map(|(_, s)| s).collect();
    }

    /// Runs every design on every scenario and judges each run, designs in
    /// parallel (one thread per core), calling `done(design, vector)` after
    /// each pair. The results are in spec order, each design's in vector
    /// order.
    pub fn run(&self, done: &(dyn Fn(&str, &str) + Sync)) -> Result<Vec<Vec<VectorResult>>, Error> {
        let selected = &self.designs;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(selected.len().max(1));
        let mut results: Vec<Option<Vec<VectorResult>>> = vec![None; selected.len()];
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        (t..selected.len())
                            .step_by(threads)
                            .map(|i| {
                                let Loaded { spec, design } = &selected[i];
                                let rs = self
                                    .scenarios
                                    .iter()
                                    .map(|sc| {
                                        let r = judge_pair(design.as_ref(), sc, &spec.parameters);
                                        done(&spec.id, &sc.id);
                                        r
                                    })
                                    .collect::<Vec<_>>();
                                (i, rs)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                if let Ok(finished) = h.join() {
                    for (i, rs) in finished {
                        results[i] = Some(rs);
                    }
                }
            }
        });
        results.into_iter().collect::<Option<_>>().ok_or(Error::Panicked)
    }

    /// The results of [`Selection::run`] as shard `k` of `n`, for
    /// [`crate::merge`].
    pub fn shard(&self, k: usize, n: usize, results: Vec<Vec<VectorResult>>) -> Shard {
        Shard::new(k, n, self.designs.iter().map(|l| l.spec.id.clone()).zip(results).collect())
    }

    /// The results of [`Selection::run`] as each design's audit, with the
    /// "Known-answer tests" section of each design that exposes its
    /// primitives (from `kat_files`, [`kat::load_dir`] of the vector
    /// folder); also why each implementation that broke during its
    /// known-answer tests broke.
    pub fn audits(&self, results: Vec<Vec<VectorResult>>, kat_files: &[KatFile]) -> (Vec<DesignAudit>, Vec<String>) {
        let mut broke = Vec::new();
        let audits = self
            .designs
            .iter()
            .zip(results)
            .map(|(Loaded { spec, design }, rs)| {
                let mut audit = DesignAudit::new(spec, rs);
                if let Some((summary, why)) = kat::summary(spec, design.as_ref(), kat_files) {
                    audit.kat = Some(summary);
                    broke.extend(why);
                }
                audit
            })
            .collect();
        (audits, broke)
    }
}

/// A design whose primitives `doormat kat` tests.
#[derive(Debug)]
pub struct KatTarget {
    /// The name shown: the built-in design's, or the spec's id.
    pub name: String,
    /// The design.
    pub design: Box<dyn Design>,
    /// Its spec's `kat_accepts`; `None` when no spec was found.
    pub accepts: Option<Vec<KatAccept>>,
}

impl KatTarget {
    /// The built-in designs `names` (every compiled-in design that exists
    /// when `names` is empty), each with the `kat_accepts` of its spec in
    /// `specs`, if one is there.
    pub fn builtin(names: &[String], specs: &Path) -> Result<Vec<KatTarget>, Error> {
        let specs = load::readable_specs(specs);
        let names: Vec<String> = if names.is_empty() {
            doormat_designs::names().into_iter().map(str::to_owned).collect()
        } else {
            names.to_vec()
        };
        let mut targets = Vec::new();
        for name in names {
            let design = doormat_designs::builtin(&name).ok_or_else(|| {
                Error::Usage(format!(
                    "unknown built-in design `{name}`: expected one of {}",
                    doormat_designs::names().join(", ")
                ))
            })?;
            let accepts = specs.iter().find(|s| s.builtin() == Some(&name)).map(|s| s.kat_accepts.clone());
            targets.push(KatTarget { name, design, accepts });
        }
        Ok(targets)
    }

    /// The designs of spec files, built in or external (whose handshake
    /// runs now).
    pub fn of_specs(files: &[PathBuf], exec: &ExecOptions) -> Result<Vec<KatTarget>, Error> {
        let mut targets = Vec::new();
        for p in files {
            let Loaded { spec, design } = load::spec_file(p, exec)?;
            targets.push(KatTarget { name: spec.id.clone(), design, accepts: Some(spec.kat_accepts) });
        }
        Ok(targets)
    }
}
