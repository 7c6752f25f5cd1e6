//! The config reader: any text either loads or gives diagnostics that
//! render (with file:line:col), never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let path = std::path::Path::new("/nonexistent-fuzz/backstop.toml");
    if let Err(e) = backstop_config::parse(path, text.to_string()) {
        let _ = e.render(false);
    }
});
