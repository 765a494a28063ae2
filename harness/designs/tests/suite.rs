//! The generic tests (`common/suite/`), run once per built-in design, the
//! way rustls runs its API tests once per crypto provider: one trial per
//! (design, test), named `olm::a_replay_is_rejected`, built from the
//! registry (`doormat_designs::names`), so a design added there gets every
//! test with no line here, and a failure names the design while the others
//! still run.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/suite/mod.rs"]
mod suite;

use libtest_mimic::{Arguments, Trial};
use suite::*;

/// Pushes one trial per generic test onto `$trials`, each calling it with `$design`.
macro_rules! trials {
    ($trials:ident, $design:expr; $($group:ident :: $name:ident,)+) => {
        $(
            let design: &'static str = $design;
            $trials.push(Trial::test(
                format!("{}::{}", design.replace('-', "_"), stringify!($name)),
                move || {
                    $group::$name(design);
                    Ok(())
                },
            ));
        )+
    };
}

fn main() {
    let args = Arguments::from_args();
    let mut all = Vec::new();
    // A design with a key service encrypts only to entries whose proof
    // holds, which the suite's directory does not give: the engine runs
    // it with the provider's proofs (tests/kt_ratchet.rs).
    let service =
        |name: &str| doormat_designs::builtin(name).and_then(|d| d.key_service([0; 32]).ok()).flatten().is_some();
    for design in doormat_designs::names().into_iter().filter(|d| !service(d)) {
        macro_rules! mount {
            ($design:expr; $($rest:tt)+) => {
                trials!(all, $design; $($rest)+)
            };
        }
        each_test!(mount, design);
    }
    libtest_mimic::run(&args, all).exit();
}
