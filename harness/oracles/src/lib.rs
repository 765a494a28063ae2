//! Oracles: generic checks that turn a [`Run`](doormat_engine::Run) into
//! verdicts with evidence.
//!
//! **Invariant:** oracles never know a design's name; they judge only what
//! the provider saw, what each party recovered, the notices clients showed,
//! and the ground truth. A property with nothing to observe is NOT TESTED
//! with the reason, never PASS.

mod changes;
mod common;
mod delivers;
mod integrity;
pub mod judge;
pub mod kat;
pub mod keystream;
mod leaks;
mod readers;
pub mod scan;
mod seizure;
pub mod timeline;
pub mod verdict;

pub use judge::{judge, Stats, VectorResult};
pub use kat::KatSummary;
pub use timeline::Item;
pub use verdict::{Evidence, ExpectationResult, Finding, Judgement, Verdict};
