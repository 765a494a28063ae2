//! The engine: the adapter trait designs implement, the simulated provider,
//! and the runner that replays a [`Scenario`](doormat_formats::Scenario)
//! against a design and records a [`Run`](run::Run).
//!
//! **Invariants:** no file I/O, no clock, no thread-local or global
//! randomness: every random byte comes from a seed derived from the vector's
//! seed ([`seed`]). Implementations talk to nothing but the provider
//! ([`provider`]); everything they publish or send is recorded, in order, as
//! the provider view. Ground truth ([`truth`]) is kept apart from what the
//! provider serves.

pub mod adapter;
pub mod canary;
pub mod provider;
pub mod run;
pub mod seed;
pub mod timings;
pub mod truth;

pub use adapter::{
    AeadAlg, Authority, Bundle, Capabilities, Design, Device, DirectoryEntry, DirectoryUpdate, EncryptRequest, Event,
    EventKind, ImplError, InEnvelope, KeyService, OutEnvelope, Primitives, ProtocolBytes, Received, Seed, Sent,
    Strategy, TargetContent, UserAction,
};
pub use run::{named_strategy, run, run_with, Run};
