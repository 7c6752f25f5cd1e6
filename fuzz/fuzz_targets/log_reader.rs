//! The reverse log reader (`backstop logs -n N`): any file content is read
//! back, never a panic, and the last N lines are at most N.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, bool, &[u8])| {
    let (last, raw, bytes) = input;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.log"), bytes).unwrap();
    let source = backstop_logs::Source {
        service: "api".to_string(),
        dir: dir.path().to_path_buf(),
        family: backstop_logs::Family::Main,
        format: if raw {
            backstop_config::LogFormat::Raw
        } else {
            backstop_config::LogFormat::Timestamped
        },
    };
    let query = backstop_logs::Query {
        last: Some(usize::from(last)),
        ..backstop_logs::Query::default()
    };
    let entries = backstop_logs::read::read(&[(source, None)], &query).unwrap();
    assert!(entries.len() <= usize::from(last));
});
