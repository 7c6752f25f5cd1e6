//! API request parsing: any request target parses or is refused (the
//! query strings of `/api/v1/events` and the logs tail), never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|target: &str| {
    let Ok(uri) = target.parse::<axum::http::Uri>() else {
        return;
    };
    let _ = axum::extract::Query::<backstop_api::EventFilter>::try_from_uri(&uri);
});
