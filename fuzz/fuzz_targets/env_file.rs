//! Env files: any bytes are read or refused with an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(&path, bytes).unwrap();
    let _ = backstop_config::read_env_file(&path);
});
