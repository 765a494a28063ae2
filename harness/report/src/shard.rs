//! Shards: one machine's part of a partitioned audit (`--partition K/N`),
//! kept losslessly so that merged shards render exactly the reports of a
//! single run.
//!
//! Shard files are doormat's own intermediate output, so the result types
//! they carry derive `Deserialize` outside the formats crate (see
//! ARCHITECTURE.md).

use doormat_oracles::{Item, VectorResult};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Layout version of shard files.
pub const SHARD_VERSION: u32 = 1;

/// One vector's complete result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardVector {
    /// The result as in the design report.
    pub result: VectorResult,
    /// Its timeline.
    pub timeline: Vec<Item>,
    /// Its step lines.
    pub step_lines: Vec<Option<usize>>,
}

/// One design's part of a shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardDesign {
    /// The design's id.
    pub design: String,
    /// Its vectors in this shard.
    pub vectors: Vec<ShardVector>,
}

/// A shard file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// Layout version.
    pub schema_version: u32,
    /// Which part: `K/N`.
    pub partition: String,
    /// The designs.
    pub designs: Vec<ShardDesign>,
}

impl Shard {
    /// A shard of results per design.
    pub fn new(k: usize, n: usize, designs: Vec<(String, Vec<VectorResult>)>) -> Shard {
        Shard {
            schema_version: SHARD_VERSION,
            partition: format!("{k}/{n}"),
            designs: designs
                .into_iter()
                .map(|(design, vs)| ShardDesign {
                    design,
                    vectors: vs
                        .into_iter()
                        .map(|r| {
                            let timeline = r.timeline.clone();
                            let step_lines = r.step_lines.clone();
                            ShardVector { result: r, timeline, step_lines }
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Merges shards into results per design, vectors sorted by id as in a
/// single run. Every part 1..=N must be present exactly once.
pub fn merge(shards: Vec<Shard>) -> Result<BTreeMap<String, Vec<VectorResult>>, String> {
    let mut parts = BTreeSet::new();
    let mut total = None;
    for s in &shards {
        if s.schema_version != SHARD_VERSION {
            return Err(format!(
                "shard {} has layout version {}: expected {SHARD_VERSION}",
                s.partition, s.schema_version
            ));
        }
        let (k, n) = parse_partition(&s.partition)?;
        if *total.get_or_insert(n) != n {
            return Err(format!(
                "shard {} belongs to a partition into {n}, others to {}",
                s.partition,
                total.unwrap_or(n)
            ));
        }
        if !parts.insert(k) {
            return Err(format!("shard {} is given twice", s.partition));
        }
    }
    let n = total.ok_or("no shard given")?;
    if parts.len() != n {
        let missing: Vec<String> = (1..=n).filter(|k| !parts.contains(k)).map(|k| format!("{k}/{n}")).collect();
        return Err(format!("missing shard(s): {}", missing.join(", ")));
    }
    let mut out: BTreeMap<String, Vec<VectorResult>> = BTreeMap::new();
    for s in shards {
        for d in s.designs {
            let list = out.entry(d.design).or_default();
            for v in d.vectors {
                let mut r = v.result;
                r.timeline = v.timeline;
                r.step_lines = v.step_lines;
                list.push(r);
            }
        }
    }
    for (design, list) in &mut out {
        list.sort_by(|a, b| a.vector.cmp(&b.vector));
        if let Some(w) = list.windows(2).find(|w| w[0].vector == w[1].vector) {
            return Err(format!("vector {} of {design} is in two shards", w[0].vector));
        }
    }
    Ok(out)
}

/// `K/N` with 1 ≤ K ≤ N.
pub fn parse_partition(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("`{s}`: expected K/N with 1 ≤ K ≤ N, for example 2/4");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}
