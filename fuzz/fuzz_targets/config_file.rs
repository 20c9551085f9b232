//! Fuzz target: see `checks::config_file` for the property checked.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::config_file(data));
