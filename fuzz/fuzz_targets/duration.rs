//! Durations (`"1h30m"`): any text parses or is refused, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = backstop_config::parse_duration(text);
});
