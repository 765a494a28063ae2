//! The built-in designs: real implementations, on real cryptography crates,
//! of the messaging designs the audit compares (the reference zoo). Each
//! implements the engine's [`Design`] and [`Device`](doormat_engine::Device)
//! traits and is chosen by name with [`builtin`].
//!
//! - [`PlaintextRelay`] (`plaintext-relay`): transport encryption only; the
//!   provider reads everything. A positive control.
//! - [`Ratchet`] (`ratchet`): X3DH and the Double Ratchet per device pair,
//!   the honest end-to-end encrypted baseline.
//! - [`Ghost`] (`ghost`): ratchet whose client encrypts to whatever the
//!   provider serves and shows no notice (GCHQ's "ghost user").
//! - [`Escrow`] (`escrow`): ratchet plus a LEAF wrapping every message key
//!   to an escrow agent (Clipper-style key escrow).
//! - [`ClientScan`] (`client-scan`) and [`BackupEscrow`] (`backup-escrow`):
//!   see their modules.
//!
//! **Invariants:** no design here is known by name to any oracle: a design
//! that leaks must be caught by the generic checks, so nothing outside
//! this crate may branch on these names. Every random byte a device uses
//! comes from the seed it was created with, so the same seed gives the same
//! bytes. No design panics on input from the provider: malformed, foreign or
//! tampered envelopes are refused with
//! [`ImplError::Rejected`](doormat_engine::ImplError::Rejected).

/// The opening of an `impl Design` whose devices can export their state:
/// `name` answers `$name`, `capabilities` is
/// [`Capabilities::with_export`](doormat_engine::Capabilities::with_export),
/// and `primitives` answers `$primitives`. `unseeded: $name` is the same
/// for a design that draws its own randomness, without `primitives` (each
/// such design says its own). Defined before the modules so that each of
/// them can use it.
macro_rules! exportable_design {
    ($name:expr, $primitives:expr) => {
        fn name(&self) -> &str {
            $name
        }

        fn capabilities(&self) -> doormat_engine::Capabilities {
            doormat_engine::Capabilities::with_export(true)
        }

        fn primitives(&self) -> Option<Box<dyn doormat_engine::Primitives>> {
            $primitives
        }
    };
    (unseeded: $name:expr) => {
        fn name(&self) -> &str {
            $name
        }

        fn capabilities(&self) -> doormat_engine::Capabilities {
            doormat_engine::Capabilities::with_export(true).unseeded()
        }
    };
}

/// The `publish`, `encrypt`, `decrypt` and `fork` of a `Device` built on
/// the vodozemac [`Channel`](crate::vodo::Channel) (`olm`, `megolm`): the
/// first three work on a copy kept only on success
/// ([`transactional`](crate::persist::transactional)), through the type's
/// `ch.publish()`, `encrypt_all` and `decrypt_one`; a fork is a clone.
#[cfg(feature = "olm")]
macro_rules! channel_device {
    () => {
        fn publish(&mut self) -> Result<doormat_engine::Bundle, doormat_engine::ImplError> {
            crate::persist::transactional(self, |next| next.ch.publish())
        }

        fn encrypt(
            &mut self,
            req: &doormat_engine::EncryptRequest<'_>,
        ) -> Result<doormat_engine::Sent, doormat_engine::ImplError> {
            crate::persist::transactional(self, |next| next.encrypt_all(req))
        }

        fn decrypt(
            &mut self,
            env: &doormat_engine::InEnvelope<'_>,
        ) -> Result<doormat_engine::Received, doormat_engine::ImplError> {
            crate::persist::transactional(self, |next| next.decrypt_one(env))
        }

        fn fork(&self) -> Result<Box<dyn doormat_engine::Device>, doormat_engine::ImplError> {
            Ok(Box::new(self.clone()))
        }
    };
}

mod backup_escrow;
mod client_scan;
mod escrow;
mod framing;
mod ghost;
#[cfg(feature = "kt")]
pub mod kt;
#[cfg(feature = "kt")]
mod kt_ratchet;
mod leaf;
#[cfg(feature = "olm")]
mod megolm;
#[cfg(feature = "mls")]
mod mls;
#[cfg(feature = "olm")]
mod olm;
mod persist;
mod plaintext_relay;
mod primitives;
mod ratchet;
mod seen;
#[cfg(feature = "olm")]
mod vodo;

use doormat_engine::Design;

pub use backup_escrow::BackupEscrow;
pub use client_scan::ClientScan;
pub use escrow::Escrow;
pub use ghost::Ghost;
pub use plaintext_relay::PlaintextRelay;
pub use primitives::RustCrypto;
pub use ratchet::Ratchet;

/// How to make a design, or `None` where a cargo feature compiled it out.
type Make = Option<fn() -> Box<dyn Design>>;

/// `Some(make)` when cargo feature `$feature` is on, else `None` (and the
/// module behind it is never named).
macro_rules! with_feature {
    ($feature:literal, $make:expr) => {{
        #[cfg(feature = $feature)]
        let make: Make = Some($make);
        #[cfg(not(feature = $feature))]
        let make: Make = None;
        make
    }};
}

/// The registry: every design doormat knows, sorted by name. Adding a
/// built-in design is its module, one line here and its spec
/// (`specs/<name>.yaml`); the shared tests mount it by itself.
fn registry() -> [(&'static str, Make); 10] {
    [
        ("backup-escrow", Some(|| Box::new(BackupEscrow))),
        ("client-scan", Some(|| Box::new(ClientScan))),
        ("escrow", Some(|| Box::new(Escrow))),
        ("ghost", Some(|| Box::new(Ghost))),
        ("kt-ratchet", with_feature!("kt", || Box::new(kt_ratchet::KtRatchet))),
        ("megolm", with_feature!("olm", || Box::new(megolm::Megolm))),
        ("mls", with_feature!("mls", || Box::new(mls::Mls))),
        ("olm", with_feature!("olm", || Box::new(olm::Olm))),
        ("plaintext-relay", Some(|| Box::new(PlaintextRelay))),
        ("ratchet", Some(|| Box::new(Ratchet))),
    ]
}

/// Names of every design doormat knows, sorted, including those behind
/// cargo features that may be compiled out (see [`names`]).
pub fn known() -> Vec<&'static str> {
    registry().iter().map(|(name, _)| *name).collect()
}

/// Names of the designs compiled into this build, sorted.
pub fn names() -> Vec<&'static str> {
    registry().iter().filter(|(_, make)| make.is_some()).map(|(name, _)| *name).collect()
}

/// The built-in design called `name`, if there is one.
pub fn builtin(name: &str) -> Option<Box<dyn Design>> {
    registry().iter().find(|(n, _)| *n == name).and_then(|(_, make)| *make).map(|make| make())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_builds_that_design() {
        assert!(known().windows(2).all(|w| w[0] < w[1]), "the registry must be sorted and unique");
        for name in names() {
            assert_eq!(builtin(name).unwrap().name(), name);
        }
        assert!(builtin("no-such-design").is_none());
    }
}
