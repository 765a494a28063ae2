//! The exec protocol (`../PROTOCOL.md`), both ends: the exec adapter, which
//! audits an implementation in any language by running it as a child
//! process that speaks the protocol on its standard input and output, and
//! [`serve`], which answers the protocol with a design in process.
//!
//! The protocol's messages are plain serde types in
//! `doormat_formats::wire` (the crate that derives `Deserialize` for
//! inputs); what they mean for the engine, every conversion in both
//! directions, is `convert.rs`, used by both ends. [`ExecDesign`]
//! implements the engine's [`Design`](doormat_engine::Design) trait; its
//! devices and authorities are handles into the child process
//! (`design.rs`). When the implementation's `hello` offers primitives, its
//! [`Design::primitives`](doormat_engine::Design::primitives) forwards each
//! known-answer call to one child process of their own (`primitives.rs`).
//! Both talk to their process through a `Session` (`session.rs`): request
//! numbering, answers checked, the handshake, the budget.
//!
//! **Invariants:** this is the only code in doormat that spawns processes.
//! The child is never trusted: every response is checked against the
//! protocol, every wait has a timeout, lines and total output are capped,
//! standard error is drained continuously into a bounded tail, and every
//! child is killed and reaped, whatever happens: each runs in a process
//! group of its own, marked with a token in its environment, and ending a
//! run ends the group and every process that carries the token or holds
//! the run's pipes. Each run (one vector) has a budget: envelopes per
//! answer, requests, and bytes received ([`Limits`]). A misbehaving child marks
//! the design *broken* for the current run (the engine then stops the run
//! with an ERROR verdict); the next run starts a fresh process.

#[cfg(not(unix))]
compile_error!("doormat-exec needs a Unix: process groups, signals and poll(2) keep hostile implementations in check");

mod convert;
mod design;
mod primitives;
mod process;
mod serve;
mod session;
mod sweep;

pub use design::{ExecDesign, Probe};
pub use process::{Command, Limits};
pub use serve::serve;
