//! Fuzz target: see `checks::deliver_conf` for the property checked.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::deliver_conf(data));
