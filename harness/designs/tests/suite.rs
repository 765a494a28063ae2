//! The generic tests (`common/suite/`), mounted once per built-in design, the
//! way rustls mounts its API tests once per crypto provider: a failure names
//! the design (`olm::a_replay_is_rejected`), and a design added to the
//! registry gets every test with one line below (`every_design_is_mounted`
//! fails until it has it).

#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/suite/mod.rs"]
mod suite;

/// One `#[test]` per generic test, each calling it with `$design`.
macro_rules! tests {
    ($design:expr; $($group:ident :: $name:ident,)+) => {
        $(
            #[test]
            fn $name() {
                $group::$name($design);
            }
        )+
    };
}

/// One module per design, holding every generic test for it.
macro_rules! mount {
    ($($(#[$attr:meta])* $module:ident: $design:literal,)+) => {
        $(
            $(#[$attr])*
            mod $module {
                use crate::suite::*;

                each_test!(tests, $design);
            }
        )+

        /// The designs mounted here (a `cfg` per line, hence no `vec!`).
        #[allow(clippy::vec_init_then_push)]
        fn mounted() -> Vec<&'static str> {
            let mut all = Vec::new();
            $($(#[$attr])* all.push($design);)+
            all
        }
    };
}

mount! {
    backup_escrow: "backup-escrow",
    client_scan: "client-scan",
    escrow: "escrow",
    ghost: "ghost",
    #[cfg(feature = "olm")]
    megolm: "megolm",
    #[cfg(feature = "mls")]
    mls: "mls",
    #[cfg(feature = "olm")]
    olm: "olm",
    plaintext_relay: "plaintext-relay",
    ratchet: "ratchet",
}

#[test]
fn every_design_is_mounted() {
    assert_eq!(mounted(), doormat_designs::names());
}
