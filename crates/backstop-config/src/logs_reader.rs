//! Reads `[logs]` and a service's `logs = {…}` over inherited settings.

use toml::de::DeValue;

use crate::diagnostic::Diagnostic;
use crate::logs::{Compression, LogFormat, LogSettings, RotateEvery, StderrFile};
use crate::reader::{Reader, Value};

const LOG_KEYS: &[&str] = &[
    "max_size",
    "rotate",
    "keep",
    "max_age",
    "compress",
    "format",
    "stderr",
    "error_patterns",
    "ignore_patterns",
    "builtin_error_patterns",
];
const ROTATE: &[(&str, RotateEvery)] = &[
    ("daily", RotateEvery::Daily),
    ("hourly", RotateEvery::Hourly),
];
const COMPRESS: &[(&str, Compression)] = &[
    ("gzip", Compression::Gzip),
    ("zstd", Compression::Zstd),
    ("none", Compression::None),
];
const FORMATS: &[(&str, LogFormat)] = &[
    ("timestamped", LogFormat::Timestamped),
    ("raw", LogFormat::Raw),
];
const STDERR: &[(&str, StderrFile)] = &[
    ("merged", StderrFile::Merged),
    ("separate", StderrFile::Separate),
];
/// Smaller files would rotate on every burst; nobody means that.
const MIN_SIZE: u64 = 4_000;

/// `inherited` with the fields of the table `v` (called `what`) applied.
pub(crate) fn read_logs(
    r: &mut Reader,
    v: &Value<'_>,
    what: &str,
    inherited: &LogSettings,
) -> Option<LogSettings> {
    let table = r.table(v, what)?;
    r.unknown_keys(table, LOG_KEYS, what);
    let mut s = inherited.clone();
    let mut ok = true;
    for (key, value) in table {
        let key: &str = key.get_ref();
        let field = format!("`{key}` in {what}");
        let read = match key {
            "max_size" => read_size(r, value, &field).map(|n| s.max_size = n),
            "rotate" => r.choice(value, &field, ROTATE).map(|e| s.rotate = Some(e)),
            "keep" => r
                .integer(value, &field, 0..100_000)
                .map(|n| s.keep = n as u32),
            "max_age" => r.duration(value, &field).map(|d| s.max_age = Some(d)),
            "compress" => r.choice(value, &field, COMPRESS).map(|c| s.compress = c),
            "format" => r.choice(value, &field, FORMATS).map(|f| s.format = f),
            "stderr" => r.choice(value, &field, STDERR).map(|f| s.stderr = f),
            "error_patterns" => read_patterns(r, value, &field).map(|p| s.error_patterns = p),
            "ignore_patterns" => read_patterns(r, value, &field).map(|p| s.ignore_patterns = p),
            "builtin_error_patterns" => r
                .boolean(value, &field)
                .map(|b| s.builtin_error_patterns = b),
            _ => Some(()), // reported by unknown_keys
        };
        ok &= read.is_some();
    }
    ok.then_some(s)
}

fn read_size(r: &mut Reader, v: &Value<'_>, what: &str) -> Option<u64> {
    let n = crate::health_reader::read_size(r, v, what)?;
    if n < MIN_SIZE {
        r.error(Diagnostic::error(
            format!("invalid {what}"),
            v.span(),
            "expected at least \"4KB\": smaller files would rotate on every burst",
        ));
        return None;
    }
    Some(n)
}

/// An array of regular expressions, each checked here so that a typo is a
/// config error with its place, not a surprise in the daemon.
fn read_patterns(r: &mut Reader, v: &Value<'_>, what: &str) -> Option<Vec<String>> {
    let DeValue::Array(items) = v.get_ref() else {
        r.expected(v, what, "an array of regular expressions");
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        let Some(p) = r.non_empty_string(item, what) else {
            ok = false;
            continue;
        };
        match regex::bytes::Regex::new(&p) {
            Ok(_) => out.push(p),
            Err(e) => {
                let detail = e.to_string();
                let last = detail.lines().last().unwrap_or("invalid").trim();
                let last = last.strip_prefix("error: ").unwrap_or(last).to_string();
                r.error(
                    Diagnostic::error(format!("invalid {what}"), item.span(), last)
                        .with_help("the syntax is Rust's `regex` crate; escape `(`, `[`, `.` and `\\` with `\\\\` in a basic string, or use a 'literal string'"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}
