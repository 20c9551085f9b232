//! Fuzz target: see `checks::provider_answer` for the property checked.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::provider_answer(data));
