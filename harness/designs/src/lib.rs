//! The built-in designs: real implementations, on real cryptography crates,
//! of the messaging designs the audit compares (the reference zoo). Each
//! implements the engine's [`Design`] and [`Device`](doormat_engine::Device)
//! traits and is chosen by name with [`builtin`].
//!
//! - [`PlaintextRelay`] (`plaintext-relay`): transport encryption only; the
//!   provider reads everything. A positive control.
//! - [`Ratchet`] (`ratchet`): X3DH and the Double Ratchet per device pair,
//!   the honest end-to-end encrypted baseline.
//!
//! **Invariants:** no design here is known by name to any oracle: a design
//! that leaks must be caught by the generic checks, so nothing outside
//! this crate may branch on these names. Every random byte a device uses
//! comes from the seed it was created with, so the same seed gives the same
//! bytes. No design panics on input from the provider: malformed, foreign or
//! tampered envelopes are refused with
//! [`ImplError::Rejected`](doormat_engine::ImplError::Rejected).

mod persist;
mod plaintext_relay;
mod ratchet;
mod wire;

use doormat_engine::Design;

pub use plaintext_relay::PlaintextRelay;
pub use ratchet::Ratchet;

/// Names of the built-in designs, sorted.
pub const BUILTIN: &[&str] = &["plaintext-relay", "ratchet"];

/// The built-in design called `name`, if there is one.
pub fn builtin(name: &str) -> Option<Box<dyn Design>> {
    match name {
        "plaintext-relay" => Some(Box::new(PlaintextRelay)),
        "ratchet" => Some(Box::new(Ratchet)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_builds_that_design() {
        assert!(BUILTIN.windows(2).all(|w| w[0] < w[1]), "BUILTIN must be sorted and unique");
        for name in BUILTIN {
            assert_eq!(builtin(name).unwrap().name(), *name);
        }
        assert!(builtin("no-such-design").is_none());
    }
}
