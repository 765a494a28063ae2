//! Input formats of doormat: design specifications (`specs/*.yaml`) and
//! scenario vectors (`vectors/**/*.yaml`).
//!
//! It also holds the exec protocol's messages ([`wire`]) and known-answer
//! vectors for primitives ([`kat`]).
//!
//! This crate is the only place that derives `Deserialize` for inputs, and
//! [`yaml::parse`] is the only function that calls the YAML parser, so the
//! parser can be swapped without touching anything else. It does no file I/O:
//! callers hand it a display name and the source text.
//!
//! **Invariant:** a [`vector::Scenario`] only exists if every cross-reference
//! in its vector (users, devices, groups, messages) resolved; the engine never
//! re-checks names.

pub mod deviations;
pub mod error;
pub mod ids;
pub mod kat;
pub mod locate;
pub mod nesting;
pub mod property;
pub mod spec;
pub mod vector;
pub mod wire;
pub mod yaml;

pub use deviations::{Deviation, Deviations};
pub use error::{LoadError, LoadErrors};
pub use ids::{DeviceAddr, GroupId, MessageId, UserId};
pub use kat::{KatAlgorithm, KatFile, KatPointer};
pub use property::Property;
pub use spec::{Implementation, KatAccept, Limit, Parameters, Role, Spec};
pub use vector::{
    Action, Expectation, Outcome, Party, Scenario, ScenarioStep, Strategy, StrategyChoice, Tamper, Target, TargetAim,
    Vector,
};
