//! Reading `[[services.NAME.health]]` and `[checks.NAME]` tables.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use crate::diagnostic::Diagnostic;
use crate::health::{
    CheckConfig, HealthCheck, HttpProbe, JsonCondition, JsonExpect, OnFailure, PostgresLimits,
    Probe, RedisLimits, SecretUrl, parse_comparison,
};
use crate::model::EnvVars;
use crate::reader::{Reader, Value};

const PROBE_KINDS: &[&str] = &[
    "http", "tcp", "exec", "postgres", "redis", "disk", "process",
];
const COMMON_KEYS: &[&str] = &[
    "name",
    "http",
    "tcp",
    "exec",
    "postgres",
    "redis",
    "disk",
    "process",
    "max_used",
    "max_inodes",
    "connections_used",
    "longest_query",
    "blocked",
    "idle_in_transaction",
    "replication_lag",
    "memory_used",
    "evicted_keys_per_minute",
    "rejected_connections_per_minute",
    "blocked_clients",
    "persistence",
    "warn_only",
    "method",
    "headers",
    "expect",
    "insecure",
    "ca_file",
    "interval",
    "timeout",
    "failures",
    "successes",
];
const EXPECT_KEYS: &[&str] = &["status", "body", "json"];
const ON_FAILURE: &[(&str, OnFailure)] = &[
    ("restart", OnFailure::Restart),
    ("report", OnFailure::Report),
];

/// `health = [...]` of a service: an array of tables, or one table.
pub(crate) fn read_service_health(
    r: &mut Reader,
    v: &Value<'_>,
    service: &str,
    base: &Path,
) -> Vec<HealthCheck> {
    let tables: Vec<&Value<'_>> = match v.get_ref() {
        DeValue::Array(items) => items.iter().collect(),
        DeValue::Table(_) => vec![v],
        _ => {
            r.expected(
                v,
                &format!("`health` in service `{service}`"),
                "a [[services.NAME.health]] table",
            );
            return Vec::new();
        }
    };
    let mut keys: Vec<&str> = COMMON_KEYS.to_vec();
    keys.push("on_failure");
    let mut checks = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for item in tables {
        let context = format!("a health check of service `{service}`");
        let Some(table) = r.table(item, &context) else {
            continue;
        };
        // A service key written after a `[[…health]]` header belongs, for
        // TOML, to that table: say so, instead of "unknown key".
        let header = r.line_of(item.span().start);
        let (misplaced, rest): (Vec<_>, Vec<_>) = table.iter().partition(|(k, _)| {
            let k: &str = k.get_ref();
            !keys.contains(&k) && crate::load::SERVICE_KEYS.contains(&k)
        });
        for (key, _) in misplaced {
            r.error(
                Diagnostic::error(
                    format!(
                        "`{}` is read as part of the `[[services.{service}.health]]` table above (line {header})",
                        key.get_ref()
                    ),
                    key.span(),
                    "a key of the service, not of the check",
                )
                .with_help(format!(
                    "in TOML every key after a table header belongs to that table: put `{}` and the other keys of service `{service}` before its `[[services.{service}.health]]` tables",
                    key.get_ref()
                )),
            );
        }
        let rest: toml::de::DeTable<'_> = rest
            .into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        r.unknown_keys(&rest, &keys, &context);
        if let Some(mut check) = read_check(r, table, item.span(), &context, base) {
            let n = seen.entry(check.name.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                check.name = format!("{}#{n}", check.name);
            }
            checks.push(check);
        }
    }
    checks
}

/// `[checks.NAME]`.
pub(crate) fn read_checks(r: &mut Reader, v: &Value<'_>, base: &Path) -> Vec<CheckConfig> {
    let Some(table) = r.table(v, "`[checks]`") else {
        return Vec::new();
    };
    let mut keys: Vec<&str> = COMMON_KEYS.to_vec();
    // `on_failure` gets its own, clearer error below.
    keys.extend(["dir", "env", "on_failure", "severity"]);
    let mut out = Vec::new();
    for (key, value) in table {
        let name: &str = key.get_ref();
        let context = format!("check `{name}`");
        let Some(t) = r.table(value, &format!("`[checks.{name}]`")) else {
            continue;
        };
        if let Some((k, _)) = t.get_key_value("process") {
            r.error(
                Diagnostic::error(
                    format!("`process` is not allowed in check `{name}`"),
                    k.span(),
                    "a process check measures a service's own processes",
                )
                .with_help("put it under [[services.NAME.health]]"),
            );
        }
        if let Some((k, _)) = t.get_key_value("on_failure") {
            r.error(
                Diagnostic::error(
                    format!("`on_failure` is not allowed in check `{name}`"),
                    k.span(),
                    "a [checks] entry has no service of its own to restart",
                )
                .with_help("to restart a service when this fails, put the check under [[services.NAME.health]]"),
            );
        }
        r.unknown_keys(t, &keys, &context);
        let dir = t
            .get_key_value("dir")
            .and_then(|(_, v)| r.non_empty_string(v, &format!("`dir` in check `{name}`")))
            .map_or_else(|| base.to_path_buf(), |d| crate::load::resolve(base, &d));
        let env = t
            .get_key_value("env")
            .and_then(|(_, v)| {
                crate::load::read_string_map(
                    r,
                    v,
                    &format!("`env` in {context}"),
                    "environment variable",
                )
            })
            .unwrap_or_default();
        let severity = t.get_key_value("severity").map_or(
            Some(crate::alerts::AlertSeverity::Warning),
            |(_, v)| {
                r.choice(
                    v,
                    &format!("`severity` in {context}"),
                    &[
                        ("info", crate::alerts::AlertSeverity::Info),
                        ("warning", crate::alerts::AlertSeverity::Warning),
                        ("critical", crate::alerts::AlertSeverity::Critical),
                    ],
                )
            },
        );
        if let Some(mut check) = read_check(r, t, key.span(), &context, base)
            && let Some(severity) = severity
        {
            if !t.contains_key("name") {
                name.clone_into(&mut check.name);
            }
            out.push(CheckConfig {
                name: name.to_string(),
                check,
                dir,
                env: EnvVars(env),
                severity,
            });
        }
    }
    out
}

fn read_check(
    r: &mut Reader,
    table: &DeTable<'_>,
    span: std::ops::Range<usize>,
    context: &str,
    base: &Path,
) -> Option<HealthCheck> {
    let what = |k: &str| format!("`{k}` in {context}");
    let kinds: Vec<&str> = PROBE_KINDS
        .iter()
        .copied()
        .filter(|k| table.contains_key(*k))
        .collect();
    let kind = match kinds.as_slice() {
        [one] => *one,
        [] => {
            r.error(
                Diagnostic::error(
                    format!("{context} has no probe"),
                    span,
                    "expected one of `http`, `tcp`, `exec`, `postgres` or `redis`",
                )
                .with_help("for example: http = \"http://127.0.0.1:8000/health\""),
            );
            return None;
        }
        [_, second, ..] => {
            let (k, _) = table.get_key_value(*second).expect("UNWRAP: found above");
            r.error(Diagnostic::error(
                format!("{context} has more than one probe"),
                k.span(),
                "one check tests one thing: split this into two checks",
            ));
            return None;
        }
    };
    let (_, target) = table.get_key_value(kind).expect("UNWRAP: found above");
    if kind != "redis" {
        for key in RedisLimits::KEYS {
            if let Some((k, _)) = table.get_key_value(key) {
                r.error(Diagnostic::error(
                    format!("`{key}` is not a key of a {kind} check"),
                    k.span(),
                    "it applies to a `redis` check",
                ));
            }
        }
    }
    if kind != "postgres"
        && kind != "redis"
        && let Some((k, _)) = table.get_key_value("warn_only")
    {
        r.error(Diagnostic::error(
            format!("`warn_only` is not a key of a {kind} check"),
            k.span(),
            "it applies to the limits of a `postgres` or `redis` check",
        ));
    }
    if kind != "postgres" {
        for key in PostgresLimits::KEYS {
            if let Some((k, _)) = table.get_key_value(key) {
                r.error(Diagnostic::error(
                    format!("`{key}` is not a key of a {kind} check"),
                    k.span(),
                    "it applies to a `postgres` check",
                ));
            }
        }
    }
    // A bad probe does not stop the reading: the other keys may hold errors too.
    let probe = match kind {
        "http" => read_http(r, table, target, context, base),
        "tcp" => r
            .non_empty_string(target, &what("tcp"))
            .and_then(|address| {
                if address
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
                {
                    Some(Probe::Tcp { address })
                } else {
                    r.error(Diagnostic::error(
                        format!("invalid {}", what("tcp")),
                        target.span(),
                        "expected \"host:port\", e.g. \"127.0.0.1:5432\"",
                    ));
                    None
                }
            }),
        "postgres" => read_url(
            r,
            target,
            &what("postgres"),
            &UrlForm {
                schemes: &["postgres://", "postgresql://"],
                key_value: true,
                expected: "a DSN such as \"postgres://user:password@127.0.0.1:5432/db\"",
            },
        )
        .and_then(|dsn| {
            let limits = read_postgres_limits(r, table, &what)?;
            Some(Probe::Postgres {
                dsn: SecretUrl(dsn),
                limits,
            })
        }),
        "redis" => read_url(
            r,
            target,
            &what("redis"),
            &UrlForm {
                schemes: &["redis://", "redis+unix://"],
                key_value: false,
                expected: "a URL such as \"redis://:password@127.0.0.1:6379/0\"",
            },
        )
        .and_then(|url| {
            let limits = read_redis_limits(r, table, &what)?;
            Some(Probe::Redis {
                url: SecretUrl(url),
                limits,
            })
        }),
        "process" => read_process(r, target, context),
        "disk" => {
            let path = r
                .non_empty_string(target, &what("disk"))
                .map(|p| crate::load::resolve(base, &p));
            let percent = |r: &mut Reader, key: &str| match table.get_key_value(key) {
                None => Some(90.0),
                Some((_, v)) => read_percent(r, v, &what(key)),
            };
            let max_used = percent(r, "max_used");
            let max_inodes = percent(r, "max_inodes");
            Some(Probe::Disk {
                path: path?,
                max_used: max_used?,
                max_inodes: max_inodes?,
            })
        }
        _ => crate::load::read_command(r, target, &what("exec"))
            .map(|command| Probe::Exec { command }),
    };
    if kind != "disk" {
        for key in ["max_used", "max_inodes"] {
            if let Some((k, _)) = table.get_key_value(key) {
                r.error(Diagnostic::error(
                    format!("`{key}` in {context}"),
                    k.span(),
                    "only a `disk` check takes this key",
                ));
            }
        }
    }
    let get = |k: &str| table.get_key_value(k).map(|(_, v)| v);
    let name = get("name")
        .and_then(|v| r.non_empty_string(v, &what("name")))
        .unwrap_or_else(|| kind.to_string());
    let interval = get("interval").map_or(Some(Duration::from_secs(10)), |v| {
        r.duration(v, &what("interval"))
    });
    let timeout = get("timeout").map_or(Some(Duration::from_secs(2)), |v| {
        r.duration(v, &what("timeout"))
    });
    let failures = get("failures").map_or(Some(3), |v| r.integer(v, &what("failures"), 1..1000));
    let successes = get("successes").map_or(Some(1), |v| r.integer(v, &what("successes"), 1..1000));
    let on_failure = get("on_failure").map_or(Some(OnFailure::Report), |v| {
        r.choice(v, &what("on_failure"), ON_FAILURE)
    });
    if let (Some(i), Some(v)) = (interval, get("interval"))
        && i.is_zero()
    {
        r.error(Diagnostic::error(
            format!("invalid {}", what("interval")),
            v.span(),
            "must be longer than zero",
        ));
    }
    Some(HealthCheck {
        name,
        probe: probe?,
        interval: interval?,
        timeout: timeout?,
        failures: failures? as u32,
        successes: successes? as u32,
        on_failure: on_failure?,
    })
}

const PROCESS_KEYS: &[&str] = &[
    "memory_warn",
    "memory_max",
    "cpu_warn",
    "cpu_for",
    "leak_window",
];

fn read_process(r: &mut Reader, v: &Value<'_>, context: &str) -> Option<Probe> {
    let what = |k: &str| format!("`process.{k}` in {context}");
    let table = r.table(v, &format!("`process` in {context}"))?;
    r.unknown_keys(table, PROCESS_KEYS, &format!("`process` of {context}"));
    let mut limits = process_defaults();
    let mut ok = true;
    for (key, value) in table {
        let key: &str = key.get_ref();
        let read = match key {
            "memory_warn" | "memory_max" => read_size(r, value, &what(key)).map(|b| {
                if key == "memory_warn" {
                    limits.memory_warn = Some(b);
                } else {
                    limits.memory_max = Some(b);
                }
            }),
            "cpu_warn" => read_percent_of(r, value, &what(key), 0.0..=10_000.0)
                .map(|p| limits.cpu_warn = Some(p)),
            "cpu_for" => r.duration(value, &what(key)).map(|d| limits.cpu_for = d),
            "leak_window" => r
                .duration(value, &what(key))
                .map(|d| limits.leak_window = d),
            _ => Some(()),
        };
        ok &= read.is_some();
    }
    if let (Some(warn), Some(max)) = (limits.memory_warn, limits.memory_max)
        && warn > max
        && let Some((_, v)) = table.get_key_value("memory_warn")
    {
        r.error(Diagnostic::error(
            format!("invalid {}", what("memory_warn")),
            v.span(),
            "must not be above `memory_max`",
        ));
        ok = false;
    }
    ok.then_some(Probe::Process(limits))
}

fn process_defaults() -> crate::health::ProcessLimits {
    crate::health::ProcessLimits {
        memory_warn: None,
        memory_max: None,
        cpu_warn: None,
        cpu_for: Duration::from_secs(60),
        leak_window: Duration::from_secs(30 * 60),
    }
}

pub(crate) fn read_size(r: &mut Reader, v: &Value<'_>, what: &str) -> Option<u64> {
    let parsed = match v.get_ref() {
        DeValue::String(s) => crate::health::parse_size(s),
        _ => None,
    };
    if parsed.is_none() {
        r.error(Diagnostic::error(
            format!("invalid {what}"),
            v.span(),
            "expected a size such as \"400MB\" (10^6 bytes) or \"400MiB\" (2^20 bytes)",
        ));
    }
    parsed
}

/// How a connection string may be written.
struct UrlForm<'a> {
    schemes: &'a [&'a str],
    /// PostgreSQL also takes `host=… user=…`.
    key_value: bool,
    expected: &'a str,
}

/// A URL with one of the form's schemes (or a `key=value` DSN where allowed).
fn read_url(r: &mut Reader, v: &Value<'_>, what: &str, form: &UrlForm<'_>) -> Option<String> {
    let url = r.non_empty_string(v, what)?;
    let key_value = form.key_value && url.contains('=') && !url.contains("://");
    if form.schemes.iter().any(|s| url.starts_with(s)) || key_value {
        Some(url)
    } else {
        r.error(Diagnostic::error(
            format!("invalid {what}"),
            v.span(),
            format!("expected {}", form.expected),
        ));
        None
    }
}

/// `"90%"` or `90`, from 0 to 100.
fn read_percent(r: &mut Reader, v: &Value<'_>, what: &str) -> Option<f64> {
    read_percent_of(r, v, what, 0.0..=100.0)
}

/// A CPU percentage of one core (`"80%"`, `150`), 0 to 10 000.
pub(crate) fn read_cpu_percent(r: &mut Reader, v: &Value<'_>, what: &str) -> Option<f64> {
    read_percent_of(r, v, what, 0.0..=10_000.0)
}

/// `"80%"` or `80` within `range` (CPU may exceed 100% on several cores).
fn read_percent_of(
    r: &mut Reader,
    v: &Value<'_>,
    what: &str,
    range: std::ops::RangeInclusive<f64>,
) -> Option<f64> {
    let n = match v.get_ref() {
        DeValue::String(s) => s
            .trim()
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| n as f64),
        DeValue::Float(f) => f.as_str().parse().ok(),
        _ => None,
    };
    match n {
        Some(n) if range.contains(&n) => Some(n),
        _ => {
            r.error(Diagnostic::error(
                format!("invalid {what}"),
                v.span(),
                "expected a percentage such as \"90%\"",
            ));
            None
        }
    }
}

fn read_http(
    r: &mut Reader,
    table: &DeTable<'_>,
    target: &Value<'_>,
    context: &str,
    base: &Path,
) -> Option<Probe> {
    let what = |k: &str| format!("`{k}` in {context}");
    let url = r.non_empty_string(target, &what("http"))?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        r.error(Diagnostic::error(
            format!("invalid {}", what("http")),
            target.span(),
            "expected a URL starting with http:// or https://",
        ));
        return None;
    }
    let get = |k: &str| table.get_key_value(k).map(|(_, v)| v);
    let method = get("method")
        .and_then(|v| r.non_empty_string(v, &what("method")))
        .map_or_else(|| "GET".to_string(), |m| m.to_ascii_uppercase());
    let headers = get("headers")
        .and_then(|v| crate::load::read_string_map(r, v, &what("headers"), "header"))
        .unwrap_or_default();
    let insecure = match get("insecure") {
        Some(v) => {
            if let DeValue::Boolean(b) = v.get_ref() {
                *b
            } else {
                r.expected(v, &what("insecure"), "true or false");
                false
            }
        }
        None => false,
    };
    let ca_file = get("ca_file")
        .and_then(|v| r.non_empty_string(v, &what("ca_file")))
        .map(|f| crate::load::resolve(base, &f));
    if !url.starts_with("https://")
        && let Some((k, _)) = table
            .get_key_value("insecure")
            .or_else(|| table.get_key_value("ca_file"))
    {
        r.error(Diagnostic::error(
            format!("`{}` in {context}", k.get_ref()),
            k.span(),
            "only an https:// check takes this key",
        ));
    }
    let mut probe = HttpProbe {
        url,
        method,
        headers: EnvVars(headers),
        status: Vec::new(),
        body: None,
        json: Vec::new(),
        insecure,
        ca_file,
    };
    if let Some(v) = get("expect")
        && let Some(expect) = r.table(v, &what("expect"))
    {
        r.unknown_keys(expect, EXPECT_KEYS, &format!("`expect` of {context}"));
        read_expect(r, expect, context, &mut probe);
    }
    Some(Probe::Http(probe))
}

fn read_expect(r: &mut Reader, expect: &DeTable<'_>, context: &str, probe: &mut HttpProbe) {
    if let Some((_, v)) = expect.get_key_value("status") {
        let what = format!("`expect.status` in {context}");
        let items: Vec<&Value<'_>> = match v.get_ref() {
            DeValue::Array(a) => a.iter().collect(),
            _ => vec![v],
        };
        for item in items {
            if let Some(code) = r.integer(item, &what, 100..600) {
                probe.status.push(code as u16);
            }
        }
    }
    if let Some((_, v)) = expect.get_key_value("body") {
        probe.body = r.string(v, &format!("`expect.body` in {context}"));
    }
    if let Some((_, v)) = expect.get_key_value("json")
        && let Some(json) = r.table(v, &format!("`expect.json` in {context}"))
    {
        for (path, value) in json {
            let path = path.get_ref().to_string();
            let expect = match value.get_ref() {
                DeValue::String(s) => Some(parse_comparison(s).map_or_else(
                    || JsonExpect::String(s.to_string()),
                    |(op, n)| JsonExpect::Compare(op, n),
                )),
                DeValue::Boolean(b) => Some(JsonExpect::Bool(*b)),
                DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                    .ok()
                    .map(|n| JsonExpect::Number(n as f64)),
                DeValue::Float(f) => f.as_str().parse().ok().map(JsonExpect::Number),
                _ => {
                    r.expected(
                        value,
                        &format!("condition on `{path}` in {context}"),
                        "a string, a number, a boolean, or a comparison such as \"< 60\"",
                    );
                    None
                }
            };
            if let Some(expect) = expect {
                probe.json.push(JsonCondition { path, expect });
            }
        }
    }
}

/// What an upper bound of a database check is written in.
#[derive(Clone, Copy)]
enum Bound {
    /// `"< 80%"`.
    Percent,
    /// `"< 30s"`.
    Span,
    /// `"< 5"`, or `5`: at least 1 (`"< 1"`: none allowed).
    Count,
}

/// An upper bound read from `"< LIMIT"`.
enum Limit {
    Percent(f64),
    Span(Duration),
    Count(u64),
}

/// Reads `key` of `table` as a bound of `kind`; `Ok(None)` when absent,
/// `Err(())` after reporting a malformed one.
fn read_bound(
    r: &mut Reader,
    table: &DeTable<'_>,
    key: &str,
    kind: Bound,
    what: &dyn Fn(&str) -> String,
) -> Result<Option<Limit>, ()> {
    let Some((_, v)) = table.get_key_value(key) else {
        return Ok(None);
    };
    let text = match v.get_ref() {
        DeValue::String(s) => s.to_string(),
        DeValue::Integer(i) => format!("< {i}"),
        _ => String::new(),
    };
    let bound = text.trim().strip_prefix('<').map(str::trim);
    let limit = bound.and_then(|b| match kind {
        Bound::Percent => b
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .filter(|n| (0.0..=100.0).contains(n))
            .map(Limit::Percent),
        Bound::Span => crate::parse_duration(b).map(Limit::Span),
        Bound::Count => b.parse::<u64>().ok().filter(|n| *n >= 1).map(Limit::Count),
    });
    if limit.is_none() {
        let expected = match kind {
            Bound::Percent => "a percentage bound such as \"< 80%\"",
            Bound::Span => "a duration bound such as \"< 30s\"",
            Bound::Count => "a count bound of at least 1 such as \"< 5\" (\"< 1\": none)",
        };
        r.error(Diagnostic::error(
            format!("invalid {}", what(key)),
            v.span(),
            format!("expected {expected}"),
        ));
        return Err(());
    }
    Ok(limit)
}

/// `warn_only = true`: a limit passed degrades instead of failing.
fn read_warn_only(
    r: &mut Reader,
    table: &DeTable<'_>,
    what: &dyn Fn(&str) -> String,
) -> Result<bool, ()> {
    match table.get_key_value("warn_only") {
        None => Ok(false),
        Some((_, v)) => r.boolean(v, &what("warn_only")).ok_or(()),
    }
}

/// `connections_used = "< 80%"`, `longest_query = "< 30s"`, `blocked = "< 5"`,
/// `idle_in_transaction = "< 5m"`, `replication_lag = "< 10s"`.
fn read_postgres_limits(
    r: &mut Reader,
    table: &DeTable<'_>,
    what: &dyn Fn(&str) -> String,
) -> Option<PostgresLimits> {
    let warn_only = read_warn_only(r, table, what);
    let mut read = |key, kind| read_bound(r, table, key, kind, what);
    let span = |l: Option<Limit>| match l {
        Some(Limit::Span(d)) => Some(d),
        _ => None,
    };
    // Every key is read (and every error reported) before giving up.
    let (connections, longest, blocked, idle, lag) = (
        read("connections_used", Bound::Percent),
        read("longest_query", Bound::Span),
        read("blocked", Bound::Count),
        read("idle_in_transaction", Bound::Span),
        read("replication_lag", Bound::Span),
    );
    Some(PostgresLimits {
        connections_used: match connections.ok()? {
            Some(Limit::Percent(p)) => Some(p),
            _ => None,
        },
        longest_query: span(longest.ok()?),
        blocked: match blocked.ok()? {
            Some(Limit::Count(n)) => Some(n),
            _ => None,
        },
        idle_in_transaction: span(idle.ok()?),
        replication_lag: span(lag.ok()?),
        warn_only: warn_only.ok()?,
    })
}

/// `memory_used = "< 90%"`, `evicted_keys_per_minute = "< 100"`,
/// `rejected_connections_per_minute = "< 1"`, `blocked_clients = "< 10"`,
/// `persistence = true`.
fn read_redis_limits(
    r: &mut Reader,
    table: &DeTable<'_>,
    what: &dyn Fn(&str) -> String,
) -> Option<RedisLimits> {
    let mut persistence = Ok(false);
    if let Some((_, v)) = table.get_key_value("persistence") {
        persistence = if let DeValue::Boolean(b) = v.get_ref() {
            Ok(*b)
        } else {
            r.expected(v, &what("persistence"), "true or false");
            Err(())
        };
    }
    let warn_only = read_warn_only(r, table, what);
    let mut read = |key, kind| read_bound(r, table, key, kind, what);
    let count = |l: Option<Limit>| match l {
        Some(Limit::Count(n)) => Some(n),
        _ => None,
    };
    let (memory, evicted, rejected, blocked) = (
        read("memory_used", Bound::Percent),
        read("evicted_keys_per_minute", Bound::Count),
        read("rejected_connections_per_minute", Bound::Count),
        read("blocked_clients", Bound::Count),
    );
    Some(RedisLimits {
        memory_used: match memory.ok()? {
            Some(Limit::Percent(p)) => Some(p),
            _ => None,
        },
        evicted_keys_per_minute: count(evicted.ok()?),
        rejected_connections_per_minute: count(rejected.ok()?),
        blocked_clients: count(blocked.ok()?),
        persistence: persistence.ok()?,
        warn_only: warn_only.ok()?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn redis_limits_are_read_and_refused_elsewhere() {
        let load = |source: &str| {
            crate::parse(
                std::path::Path::new("/tmp/backstop.toml"),
                source.to_string(),
            )
        };
        let loaded = load(
            "[checks.cache]\nredis = \"redis://127.0.0.1:6379/0\"\nmemory_used = \"< 90%\"\nevicted_keys_per_minute = \"< 100\"\nrejected_connections_per_minute = 1\nblocked_clients = \"< 10\"\npersistence = true\n",
        )
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
        let crate::Probe::Redis { limits, .. } = &loaded.config.checks[0].check.probe else {
            panic!("redis")
        };
        assert_eq!(
            (
                limits.memory_used,
                limits.evicted_keys_per_minute,
                limits.rejected_connections_per_minute,
                limits.blocked_clients,
                limits.persistence
            ),
            (Some(90.0), Some(100), Some(1), Some(10), true)
        );
        let err = load("[checks.db]\npostgres = \"postgres://h/d\"\nmemory_used = \"< 90%\"\n")
            .expect_err("refused")
            .render(false);
        assert!(
            err.contains("`memory_used` is not a key of a postgres check"),
            "{err}"
        );
    }

    #[test]
    fn postgres_limits_are_read_and_refused_elsewhere_or_malformed() {
        let load = |source: &str| {
            crate::parse(
                std::path::Path::new("/tmp/backstop.toml"),
                source.to_string(),
            )
        };
        let loaded = load(
            r#"
[checks.db]
postgres = "postgres://u:p@127.0.0.1:5432/app"
connections_used = "< 80%"
longest_query = "< 30s"
blocked = "< 5"
idle_in_transaction = "<5m"
replication_lag = "< 10s"
"#,
        )
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
        let crate::Probe::Postgres { limits, .. } = &loaded.config.checks[0].check.probe else {
            panic!("postgres")
        };
        assert_eq!(limits.connections_used, Some(80.0));
        assert_eq!(
            limits.longest_query,
            Some(std::time::Duration::from_secs(30))
        );
        assert_eq!(limits.blocked, Some(5));
        assert_eq!(
            limits.idle_in_transaction,
            Some(std::time::Duration::from_secs(300))
        );
        assert_eq!(
            limits.replication_lag,
            Some(std::time::Duration::from_secs(10))
        );

        let err = load("[checks.web]\nhttp = \"http://127.0.0.1:1/\"\nblocked = \"< 5\"\n")
            .expect_err("refused")
            .render(false);
        assert!(
            err.contains("`blocked` is not a key of a http check") && err.contains(":3:1"),
            "{err}"
        );
        let err = load("[checks.db]\npostgres = \"postgres://h/d\"\nconnections_used = \"80\"\n")
            .expect_err("refused")
            .render(false);
        assert!(
            err.contains("expected a percentage bound such as \"< 80%\""),
            "{err}"
        );
    }

    #[test]
    fn check_env_and_headers_read_like_service_env() {
        let source = r#"
[checks.job]
exec = "true"
env = { RETRIES = 3, VERBOSE = true, NAME = "x" }

[checks.web]
http = "http://127.0.0.1:1/"
headers = { X-Version = 2 }
"#;
        let loaded = crate::parse(
            std::path::Path::new("/tmp/backstop.toml"),
            source.to_string(),
        )
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
        let env = &loaded.config.checks[0].env.0;
        assert_eq!(
            (env["RETRIES"].as_str(), env["VERBOSE"].as_str()),
            ("3", "true")
        );
        let crate::Probe::Http(h) = &loaded.config.checks[1].check.probe else {
            panic!("http")
        };
        assert_eq!(h.headers.0["X-Version"], "2");
    }
}
