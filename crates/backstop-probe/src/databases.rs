//! PostgreSQL and Redis probes over their real protocols.
//!
//! Details name the server and say what is wrong in the words an operator
//! searches for: "connection refused", "authentication failed", and on
//! success what matters for capacity (connections against
//! `max_connections`, used memory against `maxmemory`).

use std::str::FromStr;

use crate::io_reason;

/// A database check that answered: within its limits, or past one of them
/// with `warn_only` (the owner degraded, not failed).
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Within every limit: the figures.
    Pass(String),
    /// Past a limit, and `warn_only`: what is past.
    Warn(String),
}

/// `SELECT 1`, then version and connection use; with `limits`, what
/// `pg_stat_activity` says about them, the culprit named when one is passed.
pub(crate) async fn postgres(
    dsn: &str,
    limits: &backstop_config::PostgresLimits,
) -> Result<Verdict, String> {
    let config = tokio_postgres::Config::from_str(dsn)
        .map_err(|e| format!("invalid PostgreSQL DSN: {e}"))?;
    let target = describe_target(&config);
    let user = config.get_user().unwrap_or("(default user)").to_string();
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| postgres_error(&e, &target, &user))?;
    tokio::spawn(connection);
    let fail = |e: tokio_postgres::Error| postgres_error(&e, &target, &user);
    client.simple_query("SELECT 1").await.map_err(fail)?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), \
             (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), \
             current_setting('max_connections')::int8",
            &[],
        )
        .await
        .map_err(fail)?;
    let version: String = row.get(0);
    let used: i64 = row.get(1);
    let max: i64 = row.get(2);
    let mut figures = vec![format!("{used}/{max} connections")];
    let mut passed = Vec::new();
    if let Some(limit) = limits.connections_used {
        #[allow(clippy::cast_precision_loss, reason = "a percentage")]
        let percent = used as f64 * 100.0 / max.max(1) as f64;
        if percent >= limit {
            let top = client
                .query_opt(
                    "SELECT coalesce(host(client_addr), 'local socket'), count(*) FROM pg_stat_activity \
                     WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
                    &[],
                )
                .await
                .map_err(fail)?
                .map(|r| format!(" (most from {}: {})", r.get::<_, String>(0), r.get::<_, i64>(1)))
                .unwrap_or_default();
            passed.push(format!(
                "{used}/{max} connections in use ({percent:.0}%, limit {limit}%){top}"
            ));
        }
    }
    if let Some(limit) = limits.longest_query {
        let row = client
            .query_opt(
                "SELECT pid, coalesce(usename, ''), extract(epoch FROM now() - query_start)::float8, query \
                 FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() \
                 AND backend_type = 'client backend' ORDER BY query_start LIMIT 1",
                &[],
            )
            .await
            .map_err(fail)?;
        if let Some(r) = row {
            let (pid, who, secs, query): (i32, String, f64, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            figures.push(format!("longest query {secs:.1}s"));
            if secs >= limit.as_secs_f64() {
                passed.push(format!(
                    "a query has run for {secs:.1}s (limit {}): pid {pid}, user {who}: {}",
                    humantime::format_duration(limit),
                    mask_literals(&query)
                ));
            }
        }
    }
    if let Some(limit) = limits.blocked {
        let rows = client
            .query(
                "SELECT pid, pg_blocking_pids(pid)::text, coalesce(usename, ''), query FROM pg_stat_activity \
                 WHERE wait_event_type = 'Lock' ORDER BY query_start",
                &[],
            )
            .await
            .map_err(fail)?;
        figures.push(format!("{} waiting on locks", rows.len()));
        if let Some(r) = rows.first().filter(|_| rows.len() as u64 >= limit) {
            let (pid, by, who, query): (i32, String, String, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            passed.push(format!(
                "{} session(s) wait on a lock (limit {limit}): pid {pid} (user {who}: {}) is blocked by pid {}",
                rows.len(),
                mask_literals(&query),
                by.trim_matches(['{', '}'])
            ));
        }
    }
    if let Some(limit) = limits.idle_in_transaction {
        let row = client
            .query_opt(
                "SELECT pid, coalesce(usename, ''), extract(epoch FROM now() - state_change)::float8, \
                 coalesce(host(client_addr), 'local socket') FROM pg_stat_activity \
                 WHERE state LIKE 'idle in transaction%' ORDER BY state_change LIMIT 1",
                &[],
            )
            .await
            .map_err(fail)?;
        if let Some(r) = row {
            let (pid, who, secs, from): (i32, String, f64, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            if secs >= limit.as_secs_f64() {
                passed.push(format!(
                    "a session has been idle in a transaction for {secs:.0}s (limit {}): pid {pid}, user {who}, from {from}",
                    humantime::format_duration(limit)
                ));
            }
        }
    }
    if let Some(limit) = limits.replication_lag {
        let lag: Option<f64> = client
            .query_one(
                "SELECT CASE WHEN pg_is_in_recovery() THEN \
                 extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END",
                &[],
            )
            .await
            .map_err(fail)?
            .get(0);
        if let Some(lag) = lag {
            figures.push(format!("replication lag {lag:.1}s"));
            if lag >= limit.as_secs_f64() {
                passed.push(format!(
                    "the replica replays {lag:.1}s behind (limit {})",
                    humantime::format_duration(limit)
                ));
            }
        }
    }
    if passed.is_empty() {
        Ok(Verdict::Pass(format!(
            "PostgreSQL {version} at {target}: {}",
            figures.join(", ")
        )))
    } else if limits.warn_only {
        Ok(Verdict::Warn(format!(
            "PostgreSQL at {target}: {}",
            passed.join("; ")
        )))
    } else {
        Err(format!("PostgreSQL at {target}: {}", passed.join("; ")))
    }
}

/// A query with its literals masked (`WHERE email = $?`): what it does,
/// never the data it carries.
fn mask_literals(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut chars = query.chars().peekable();
    let mut prev_word = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            // A string literal, '' escapes included.
            while let Some(d) = chars.next() {
                if d == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
            out.push_str("$?");
            prev_word = false;
        } else if c.is_ascii_digit() && !prev_word {
            while chars
                .peek()
                .is_some_and(|d| d.is_ascii_digit() || *d == '.')
            {
                chars.next();
            }
            out.push_str("$?");
        } else {
            prev_word = c.is_alphanumeric() || c == '_' || c == '$';
            out.push(c);
        }
    }
    let squeezed: Vec<&str> = out.split_whitespace().collect();
    let one_line = squeezed.join(" ");
    if one_line.chars().count() > 200 {
        format!("{}…", one_line.chars().take(200).collect::<String>())
    } else {
        one_line
    }
}

fn describe_target(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

fn postgres_error(e: &tokio_postgres::Error, target: &str, user: &str) -> String {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return match code {
            // invalid_password, invalid_authorization_specification
            "28P01" | "28000" => format!(
                "PostgreSQL at {target} rejected the credentials of user `{user}`: {}",
                db.message()
            ),
            // invalid_catalog_name
            "3D000" => format!("PostgreSQL at {target}: {}", db.message()),
            // too_many_connections
            "53300" => format!(
                "PostgreSQL at {target} has no free connection: {}",
                db.message()
            ),
            _ => format!("PostgreSQL at {target}: {} ({code})", db.message()),
        };
    }
    // Walk to the root cause: "error connecting to server: Connection refused".
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return format!(
                "cannot connect to PostgreSQL at {target}: {}",
                io_reason(io)
            );
        }
        source = s.source();
    }
    format!("PostgreSQL at {target}: {e}")
}

/// `PING`, then used memory against `maxmemory`.
pub(crate) async fn redis(
    url: &str,
    limits: &backstop_config::RedisLimits,
) -> Result<Verdict, String> {
    let client = redis::Client::open(url).map_err(|e| format!("invalid Redis URL: {e}"))?;
    let target = {
        let info = client.get_connection_info();
        format!("{}", info.addr())
    };
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| redis_error(&e, &target))?;
    let pong: String = redis::cmd("PING")
        .query_async(&mut con)
        .await
        .map_err(|e| redis_error(&e, &target))?;
    // The default sections: memory, stats, clients, persistence among them.
    let info: String = redis::cmd("INFO")
        .query_async(&mut con)
        .await
        .map_err(|e| redis_error(&e, &target))?;
    let text = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let field = |name: &str| text(name).and_then(|v| v.parse::<u64>().ok());
    let used = field("used_memory").unwrap_or(0);
    let max = field("maxmemory").filter(|m| *m > 0);
    let memory = match max {
        Some(max) => format!("{} of maxmemory {}", mb(used), mb(max)),
        None => format!("{} used, no maxmemory", mb(used)),
    };
    let mut figures = vec![pong, memory];
    let mut passed = Vec::new();
    if let (Some(limit), Some(max)) = (limits.memory_used, max) {
        #[allow(clippy::cast_precision_loss, reason = "a percentage")]
        let percent = used as f64 * 100.0 / max as f64;
        if percent >= limit {
            passed.push(format!(
                "{} of maxmemory {} in use ({percent:.0}%, limit {limit}%), policy {}",
                mb(used),
                mb(max),
                text("maxmemory_policy").unwrap_or("unknown")
            ));
        }
    }
    let evicted = field("evicted_keys").unwrap_or(0);
    let rejected = field("rejected_connections").unwrap_or(0);
    // Per minute since this check's previous run: keyed by the check's URL
    // and limits, so that another check of the same server (a service's
    // ping) does not take the increments.
    let rates = (limits.evicted_keys_per_minute.is_some()
        || limits.rejected_connections_per_minute.is_some())
    .then(|| rates(&format!("{url} {limits:?}"), evicted, rejected))
    .flatten();
    for (limit, total, rate, what) in [
        (
            limits.evicted_keys_per_minute,
            evicted,
            rates.map(|r| r.0),
            "keys evicted",
        ),
        (
            limits.rejected_connections_per_minute,
            rejected,
            rates.map(|r| r.1),
            "connections rejected (maxclients)",
        ),
    ] {
        let Some(limit) = limit else { continue };
        match rate {
            Some(per_minute) => {
                figures.push(format!("{per_minute:.0} {what}/min"));
                #[allow(clippy::cast_precision_loss, reason = "a rate")]
                if per_minute >= limit as f64 {
                    passed.push(format!(
                        "{per_minute:.0} {what} per minute (limit {limit}; {total} since the server started)"
                    ));
                }
            }
            None => figures.push(format!("{total} {what} since the server started")),
        }
    }
    if let Some(limit) = limits.blocked_clients {
        let blocked = field("blocked_clients").unwrap_or(0);
        figures.push(format!("{blocked} blocked clients"));
        if blocked >= limit {
            passed.push(format!("{blocked} clients are blocked (limit {limit})"));
        }
    }
    if limits.persistence {
        if let Some(status) = text("rdb_last_bgsave_status").filter(|s| *s != "ok") {
            passed.push(format!(
                "the last RDB save failed ({status}); changes since {} are not on disk",
                text("rdb_changes_since_last_save").unwrap_or("?")
            ));
        }
        if text("aof_enabled") == Some("1") {
            if let Some(status) = text("aof_last_write_status").filter(|s| *s != "ok") {
                passed.push(format!("the last AOF write failed ({status})"));
            }
        }
    }
    if passed.is_empty() {
        Ok(Verdict::Pass(format!(
            "Redis at {target}: {}",
            figures.join(", ")
        )))
    } else if limits.warn_only {
        Ok(Verdict::Warn(format!(
            "Redis at {target}: {}",
            passed.join("; ")
        )))
    } else {
        Err(format!("Redis at {target}: {}", passed.join("; ")))
    }
}

/// Evictions and rejections per minute since the previous run of the check
/// `key` in this process (`None` on the first run, or after the
/// server restarted and its counters fell).
fn rates(key: &str, evicted: u64, rejected: u64) -> Option<(f64, f64)> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock, PoisonError};
    use std::time::Instant;
    /// When, and the evicted and rejected totals, of the last run per URL.
    type Seen = HashMap<String, (Instant, u64, u64)>;
    static SEEN: OnceLock<Mutex<Seen>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let now = Instant::now();
    let before = seen.insert(key.to_string(), (now, evicted, rejected))?;
    let minutes = now.duration_since(before.0).as_secs_f64() / 60.0;
    if minutes <= 0.0 || evicted < before.1 || rejected < before.2 {
        return None;
    }
    #[allow(clippy::cast_precision_loss, reason = "a rate")]
    Some((
        (evicted - before.1) as f64 / minutes,
        (rejected - before.2) as f64 / minutes,
    ))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn redis_error(e: &redis::RedisError, target: &str) -> String {
    if e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("WRONGPASS" | "NOAUTH"))
    {
        return format!(
            "Redis at {target} rejected the credentials: {}",
            e.detail().unwrap_or("authentication failed")
        );
    }
    if e.is_connection_refusal() {
        return format!("cannot connect to Redis at {target}: connection refused");
    }
    format!("Redis at {target}: {e}")
}

#[cfg(test)]
mod mask_tests {
    use super::mask_literals;

    #[test]
    fn literals_are_masked_and_names_kept() {
        assert_eq!(
            mask_literals(
                "SELECT * FROM users WHERE email = 'a@b.c' AND id = 42 AND t2.x1 = 'it''s'"
            ),
            "SELECT * FROM users WHERE email = $? AND id = $? AND t2.x1 = $?"
        );
        assert_eq!(mask_literals("select pg_sleep(60)"), "select pg_sleep($?)");
    }
}
