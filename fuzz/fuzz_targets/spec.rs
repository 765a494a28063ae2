#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| doormat_gen::fuzz::spec(data));
