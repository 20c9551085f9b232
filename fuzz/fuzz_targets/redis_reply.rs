//! Fuzz target: see `checks::redis_reply` for the property checked.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::redis_reply(data));
