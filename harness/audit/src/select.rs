//! What an audit runs: the designs and vectors of a [`Selection`], and the
//! designs whose primitives `doormat kat` tests ([`KatTarget`]).
//!
//! **Invariant:** results come back in spec order, each design's in vector
//! order, whatever the number of workers and the order they finish in.

use crate::load::{self, ExecOptions, Loaded};
use crate::{judge_pair, kat, Error};
use doormat_engine::timings::{self, Times};
use doormat_engine::Design;
use doormat_formats::{KatAccept, KatFile, Scenario};
use doormat_oracles::VectorResult;
use doormat_report::shard::Shard;
use doormat_report::DesignAudit;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

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

    /// Runs every design on every scenario and judges each run, calling
    /// `done(design, vector, times)` after each pair (`times`: where its CPU
    /// time went, zeros unless [`timings::enable`] was called). The results are in spec
    /// order, each design's in vector order.
    ///
    /// The (design, vector) pairs wait in one queue, largest vector first
    /// (most steps; ties in spec then vector order), and `jobs` workers
    /// (at least 1, at most one per pair) take the next pair as they free
    /// up. A design that cannot run two vectors at once (an external
    /// implementation) gives each worker an instance of its own
    /// ([`Design::for_worker`]). Each result is placed by its pair's index,
    /// so the results, and the reports, are the same for any `jobs`.
    pub fn run(
        &self,
        jobs: usize,
        done: &(dyn Fn(&str, &str, &Times) + Sync),
    ) -> Result<Vec<Vec<VectorResult>>, Error> {
        let (designs, vectors) = (self.designs.len(), self.scenarios.len());
        let mut queue: Vec<(usize, usize)> = (0..designs).flat_map(|d| (0..vectors).map(move |v| (d, v))).collect();
        // A stable sort: equal sizes stay in (design, vector) order.
        queue.sort_by_key(|&(_, v)| std::cmp::Reverse(self.scenarios[v].steps.len()));
        let workers = jobs.clamp(1, queue.len().max(1));
        let next = AtomicUsize::new(0);
        let mut results: Vec<Vec<Option<VectorResult>>> = vec![vec![None; vectors]; designs];
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let (queue, next) = (&queue, &next);
                    scope.spawn(move || {
                        // Worker 0 uses the designs as loaded; the others,
                        // an instance of their own where a design needs one.
                        let mut own: Vec<Option<Box<dyn Design>>> = (0..designs).map(|_| None).collect();
                        let mut finished = Vec::new();
                        while let Some(&(d, v)) = queue.get(next.fetch_add(1, Ordering::Relaxed)) {
                            let Loaded { spec, design } = &self.designs[d];
                            if w > 0 && own[d].is_none() {
                                own[d] = design.for_worker();
                            }
                            let design = own[d].as_deref().unwrap_or(design.as_ref());
                            let sc = &self.scenarios[v];
                            let (result, times) = timings::measure(|| judge_pair(design, sc, &spec.parameters));
                            finished.push((d, v, result));
                            done(&spec.id, &sc.id, &times);
                        }
                        finished
                    })
                })
                .collect();
            for h in handles {
                if let Ok(finished) = h.join() {
                    for (d, v, r) in finished {
                        results[d][v] = Some(r);
                    }
                }
            }
        });
        results
            .into_iter()
            .map(|rs| rs.into_iter().collect::<Option<Vec<_>>>())
            .collect::<Option<_>>()
            .ok_or(Error::Panicked)
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
