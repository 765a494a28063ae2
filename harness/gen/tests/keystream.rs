//! Generated scenarios (the proptest-driven `GenScenario` of the fuzzers):
//! the ratchet, and plaintext-relay, escrow and client-scan (honest or not),
//! never give a keystream-reuse or deterministic-encryption finding
//! (`doormat_oracles::keystream`), whatever the moves. A failing case
//! prints its vector.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arbitrary::{Arbitrary, Unstructured};
use doormat_gen::GenScenario;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_keystream_finding_on_generated_scenarios(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let g = GenScenario::arbitrary_take_rest(Unstructured::new(&bytes)).unwrap();
        let (sc, gen) = g.scenario().map_err(|e| TestCaseError::fail(format!("the generator made an invalid vector: {e}")))?;
        for name in ["ratchet", "plaintext-relay", "escrow", "client-scan"] {
            let d = doormat_designs::builtin(name).unwrap();
            let run = doormat_engine::run(d.as_ref(), &sc);
            let found = doormat_oracles::keystream::find(&run);
            prop_assert!(found.is_empty(), "{name}: {found:?}\n{}", gen.yaml);
        }
    }
}
