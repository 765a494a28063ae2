//! Oracles: generic checks that turn a [`Run`](doormat_engine::Run) into
//! verdicts with evidence.
//!
//! **Invariant:** oracles never know a design's name; they judge only what
//! the provider saw, what each party recovered, and the ground truth. A
//! property with nothing to observe is NOT TESTED with the reason, never PASS.

pub mod judge;
pub mod scan;
pub mod verdict;

pub use judge::{judge, Stats, VectorResult};
pub use verdict::{Evidence, ExpectationResult, Finding, Judgement, Verdict};
