//! libFuzzer target `client_assertion`: the body is [`m2m_fuzz_harness::client_assertion`], shared with the
//! stable smoke run (`fuzz/harness/tests/smoke.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| m2m_fuzz_harness::client_assertion(data));
