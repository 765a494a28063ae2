//! The `doormat` binary end to end, in one test binary: each module is one
//! concern, and `util` holds what they share (the repository root, running
//! doormat, the adapters' virtual environment, report folders).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ci_outputs;
mod cli;
mod exec;
mod hostile_files;
mod html;
mod keystream;
mod keystream_exec;
mod tricks_exec;
mod util;
