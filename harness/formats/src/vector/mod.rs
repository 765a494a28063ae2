//! Scenario vectors: a seeded, deterministic script of steps with
//! expectations, and its checked, expanded form [`Scenario`].
//!
//! **Invariant:** [`Vector::check`] resolves every name; a [`Scenario`]'s
//! steps are numbered 1.. after `repeat` expansion and remember their source
//! line, so evidence can point back to the file.
//!
//! `raw.rs` holds the schema as written, `scenario.rs` the checked form and
//! `check.rs` the checker between them; everything is re-exported here.

mod check;
mod raw;
mod scenario;

pub use check::MAX_STEPS;
pub use raw::{
    CompelStep, DeliverStep, DropStep, ExpectationSrc, GhostStep, GossipStep, GroupStep, LinkStep, MemberStep, Outcome,
    ProviderAddStep, RegisterStep, RepeatStep, ReplayStep, SeizeStep, SendStep, Step, SubstituteStep, Tamper,
    TamperStep, TargetStep, Vector, VerifyStep, WithholdStep, EVERY_BIT_HEAD,
};
pub use scenario::{
    Action, AllStrategies, Expectation, Party, Scenario, ScenarioStep, Strategy, StrategyChoice, Target, TargetAim,
};
