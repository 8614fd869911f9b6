#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| phoneverify_fuzz::config(data));
