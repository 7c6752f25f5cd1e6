//! Real PostgreSQL and Redis servers, started by backstop itself (which also
//! tests `user =` and `depends_on = "healthy"`), probed over their protocols.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{free_port, postgres_sandbox as sandbox, postgres_services, wait_until};

const T: Duration = Duration::from_secs(60);

fn check_row<'v>(v: &'v Value, name: &str) -> &'v Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {v}"))
}

#[test]
fn postgres_and_redis_gate_the_api_and_losing_one_degrades_it() {
    let (pg, rd) = (free_port(), free_port());
    let pg_services = postgres_services(pg);
    let s = sandbox(&format!(
        r#"
{pg_services}
[services.redis]
command = ["redis-server", "--port", "{rd}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", "r3dis"]

[[services.redis.health]]
redis = "redis://:r3dis@127.0.0.1:{rd}/0"
interval = "200ms"

[services.api]
command = "sleep 1000"
depends_on = {{ postgres = "healthy", redis = "healthy" }}

[checks.wrong-pg-password]
postgres = "postgres://postgres:wrong@127.0.0.1:{pg}/postgres"

[checks.wrong-redis-password]
redis = "redis://:wrong@127.0.0.1:{rd}/0"
"#
    ));
    let _daemon = s.up();
    s.wait_state("api", "running", T);
    let pg_status = s.service("postgres");
    assert_eq!(pg_status["health"], "healthy");
    let detail = pg_status["checks"][0]["detail"].as_str().unwrap();
    assert!(detail.starts_with("PostgreSQL "), "{detail}");
    assert!(
        detail.contains(&format!("at 127.0.0.1:{pg}: ")) && detail.ends_with(" connections"),
        "{detail}"
    );
    let redis_detail = s.service("redis")["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        redis_detail.starts_with(&format!("Redis at 127.0.0.1:{rd}: PONG, ")),
        "{redis_detail}"
    );

    // Wrong passwords: clear authentication errors, and the services' own checks pass.
    let out = s.run(&["check", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "only [checks] fail: {v}");
    assert_eq!(
        check_row(&v, "wrong-pg-password")["detail"],
        format!(
            "PostgreSQL at 127.0.0.1:{pg} rejected the credentials of user `postgres`: password authentication failed for user \"postgres\""
        )
    );
    let redis_auth = check_row(&v, "wrong-redis-password")["detail"]
        .as_str()
        .unwrap();
    assert!(
        redis_auth.starts_with(&format!("Redis at 127.0.0.1:{rd} rejected the credentials")),
        "{redis_auth}"
    );
    // No secret in any output.
    let all = format!(
        "{v} {}",
        s.run(&["status", "--json", "postgres", "redis", "api"])
            .stdout
            .escape_ascii()
    );
    for secret in ["s3cret", "r3dis", ":wrong@"] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }

    // PostgreSQL goes away: the API keeps running, degraded, naming it.
    let api_pid = s.service("api")["pid"].clone();
    assert!(s.run(&["stop", "postgres"]).status.success());
    let api = s.wait_service("api", "api degraded", T, |api| api["health"] == "degraded");
    assert_eq!(api["detail"], "dependency postgres is stopped");
    assert_eq!(api["pid"], api_pid);
    let out = s.run(&["check", "--json", "postgres"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        check_row(&v, "postgres/postgres")["detail"],
        format!("cannot connect to PostgreSQL at 127.0.0.1:{pg}: connection refused")
    );

    // Back: healthy again, the API no longer degraded.
    assert!(s.run(&["start", "postgres"]).status.success());
    s.wait_state("postgres", "running", T);
    wait_until("api recovered", T, || {
        (s.service("api")["health"] != "degraded").then_some(())
    });
    assert_eq!(s.service("postgres")["health"], "healthy");
}

#[test]
fn a_crash_caused_by_a_stopped_postgres_spends_no_restart_and_heals_when_it_is_back() {
    let pg = free_port();
    let pg_services = postgres_services(pg);
    let bin = support::postgres_bin();
    let s = sandbox(&format!(
        r#"
{pg_services}
[services.api]
# Exits (as an app does on a lost database connection) when PostgreSQL goes away.
command = ["sh", "-c", "echo $$ >> api.pids; while {bin}/pg_isready -q -h 127.0.0.1 -p {pg}; do sleep 0.1; done; echo 'database connection lost' >&2; exit 1"]
depends_on = {{ postgres = "healthy" }}
restart = {{ max_restarts = 1, backoff_initial = "100ms" }}
"#
    ));
    let _daemon = s.up();
    let first = s.wait_state("api", "running", T)["pid"].clone();
    assert!(s.run(&["stop", "postgres"]).status.success());
    let api = s.wait_state("api", "pending", T);
    assert_eq!(
        api["restarts"], 0,
        "no restart spent on a dependency's fault: {api}"
    );
    assert_eq!(
        api["detail"], "waiting for postgres to be healthy: postgres is stopped",
        "{api}"
    );
    let waits = wait_until("the dependency-wait event", T, || {
        let out = s.run(&["events", "--kind", "dependency-wait", "--json"]);
        let text = String::from_utf8(out.stdout).ok()?;
        (!text.is_empty()).then_some(text)
    });
    assert!(
        waits.contains("api: exited while a dependency is down"),
        "{waits}"
    );
    // Back by itself once PostgreSQL is healthy again; still no restart counted.
    assert!(s.run(&["start", "postgres"]).status.success());
    let api = s.wait_service("api", "api running again", T, |api| {
        api["state"] == "running" && api["pid"] != first
    });
    assert_eq!(api["restarts"], 0, "{api}");
    // A second outage, with max_restarts = 1: a crash loop if budgets were spent.
    assert!(s.run(&["stop", "postgres"]).status.success());
    s.wait_state("api", "pending", T);
    assert!(s.run(&["start", "postgres"]).status.success());
    let api = s.wait_service("api", "api running a third time", T, |api| {
        api["state"] == "running" && api["pid"] != first
    });
    assert_eq!(api["restarts"], 0, "{api}");
}

/// `psql` as the `postgres` user of the sandbox's server on `port`,
/// running `sql` (`-X`: no psqlrc).
fn psql_command(port: u16, flags: &str, sql: &str) -> std::process::Command {
    let mut command = std::process::Command::new(format!("{}/psql", support::postgres_bin()));
    let port = port.to_string();
    command
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-X",
        ])
        .args([flags, "-c", sql])
        .env("PGPASSWORD", "s3cret");
    command
}

/// `psql` as the test's own client, in its own process group (killed with it).
fn psql(port: u16, sql: &str) -> support::Reap {
    use std::os::unix::process::CommandExt;
    let child = psql_command(port, "-q", sql)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("psql (Debian package postgresql-client) comes with postgresql");
    support::Reap(child)
}

/// One value of a query, by `psql -tA` (empty when it fails).
fn psql_value(port: u16, sql: &str) -> String {
    let out = psql_command(port, "-tA", sql)
        .output()
        .expect("psql comes with postgresql");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn postgres_limits_name_the_connection_hog_the_long_query_and_the_lock() {
    let pg = free_port();
    let services = postgres_services(pg).replace(
        "\"listen_addresses=127.0.0.1\"]",
        "\"listen_addresses=127.0.0.1\", \"-c\", \"max_connections=10\"]",
    );
    let s = sandbox(&format!(
        r#"
{services}
[checks.pg-limits]
postgres = "postgres://postgres:s3cret@127.0.0.1:{pg}/postgres"
connections_used = "< 80%"
longest_query = "< 1s"
blocked = "< 1"

[checks.pg-soft]
postgres = "postgres://postgres:s3cret@127.0.0.1:{pg}/postgres"
connections_used = "< 50%"
warn_only = true
"#
    ));
    let _daemon = s.up();
    s.wait_state("postgres", "running", T);
    let check = |s: &support::Sandbox| -> (i32, String) {
        let out = s.run(&["check", "--json", "pg-limits"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let detail = check_row(&v, "pg-limits")["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (out.status.code().unwrap_or(-1), detail)
    };
    // Quiet: the figures, passing.
    let (code, detail) = wait_until("pg-limits passing", T, || {
        let (code, detail) = check(&s);
        (code == 0).then_some((code, detail))
    });
    assert_eq!(code, 0);
    assert!(
        detail.contains("/10 connections") && detail.contains("0 waiting on locks"),
        "{detail}"
    );

    // A lock held by one session and waited on by another.
    psql_value(pg, "CREATE TABLE orders (id int, email text)");
    assert_eq!(psql_value(pg, "SELECT count(*) FROM orders"), "0");
    let _holder = psql(
        pg,
        "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);",
    );
    // The waiter comes once the lock is held, or it would not wait.
    wait_until("the holder's lock", T, || {
        (psql_value(
            pg,
            "SELECT count(*) FROM pg_locks WHERE relation = 'orders'::regclass AND granted",
        ) == "1")
            .then_some(())
    });
    let _waiter = psql(pg, "SELECT * FROM orders WHERE email = 'ceo@example.com'");
    let detail = wait_until("the lock reported", T, || {
        let (code, detail) = check(&s);
        (code == 1 && detail.contains("wait on a lock")).then_some(detail)
    });
    assert!(detail.contains("is blocked by pid"), "{detail}");
    assert!(
        detail.contains("WHERE email = $?"),
        "the waiter's query, masked: {detail}"
    );
    assert!(!detail.contains("ceo@example.com"), "no literal: {detail}");
    // The holder's pg_sleep has run past 1 s: the longest query, masked.
    let detail = wait_until("the long query reported", T, || {
        let (_, detail) = check(&s);
        detail.contains("a query has run for").then_some(detail)
    });
    assert!(
        detail.contains("pg_sleep($?)") && detail.contains("user postgres"),
        "{detail}"
    );

    // Connections: with 8 more sleeping clients, 10 of 10 are in use (the
    // check's own included) and the address holding most is named.
    let _hogs: Vec<support::Reap> = (0..6).map(|_| psql(pg, "SELECT pg_sleep(120)")).collect();
    let detail = wait_until("the connections reported", T, || {
        let (_, detail) = check(&s);
        detail.contains("connections in use").then_some(detail)
    });
    assert!(
        detail.contains("limit 80%") && detail.contains("most from 127.0.0.1: "),
        "{detail}"
    );
    // `warn_only`: past its limit, the check passes with a warning (degraded).
    let out = s.run(&["check", "--json", "pg-soft"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let soft = check_row(&v, "pg-soft");
    assert_eq!(soft["passed"], true, "{v}");
    assert_eq!(soft["warning"], true, "{v}");
    assert!(
        soft["detail"].as_str().unwrap().contains("limit 50%"),
        "{v}"
    );
    assert_eq!(v["status"], "degraded");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn redis_limits_name_a_full_cache_and_its_evictions() {
    let rd = free_port();
    let s = support::Sandbox::new(&format!(
        r#"
[services.redis]
command = ["redis-server", "--port", "{rd}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"]

[[services.redis.health]]
redis = "redis://127.0.0.1:{rd}/0"
interval = "200ms"

[checks.cache]
redis = "redis://127.0.0.1:{rd}/0"
memory_used = "< 80%"
evicted_keys_per_minute = "< 1"
blocked_clients = "< 5"
persistence = true
interval = "200ms"
failures = 1
"#
    ));
    let _daemon = s.up();
    s.wait_state("redis", "running", T);
    let cache = |s: &support::Sandbox| -> Value {
        s.status()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "cache")
            .cloned()
            .unwrap_or(Value::Null)
    };
    let quiet = wait_until("the cache check passing with its figures", T, || {
        let c = cache(&s);
        (c["state"] == "passing"
            && c["detail"]
                .as_str()
                .is_some_and(|d| d.contains("keys evicted/min")))
        .then_some(c)
    });
    let detail = quiet["detail"].as_str().unwrap();
    assert!(
        detail.contains("of maxmemory 2.1 MB") && detail.contains("0 blocked clients"),
        "{detail}"
    );

    // Values of 1 kB written without pause into a 2 MB cache that evicts:
    // full, and evicting for as long as the writer runs (killed at the end).
    let fill = format!(
        "import socket\ns = socket.create_connection(('127.0.0.1', {rd}))\ni = 0\nwhile True:\n    s.sendall(b'SET k%d %s\\r\\n' % (i, b'x' * 1000))\n    i += 1\n    if i % 100 == 0:\n        s.recv(65536)\n"
    );
    let _writer = {
        use std::os::unix::process::CommandExt;
        support::Reap(
            std::process::Command::new("python3")
                .args(["-c", &fill])
                .process_group(0)
                .spawn()
                .unwrap(),
        )
    };
    let failing = wait_until("the cache check failing", T, || {
        let c = cache(&s);
        (c["state"] == "failing"
            && c["detail"]
                .as_str()
                .is_some_and(|d| d.contains("in use (") && d.contains("keys evicted per minute")))
        .then_some(c)
    });
    let detail = failing["detail"].as_str().unwrap();
    assert!(
        detail.contains("limit 80%), policy allkeys-lru"),
        "{detail}"
    );
    assert!(detail.contains("since the server started"), "{detail}");
}

/// `diagnose api` once `api` has failed: the report, and the summary of
/// its first cause, which must be `dependency-unavailable`.
fn dependency_verdict(s: &support::Sandbox) -> (Value, String) {
    s.wait_state("api", "failed", T);
    let out = s.run(&["diagnose", "--json", "api"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &report["causes"][0];
    assert_eq!(first["id"], "dependency-unavailable", "{report:#}");
    let summary = first["summary"].as_str().unwrap().to_string();
    (report, summary)
}

#[test]
fn a_crash_while_postgres_is_at_its_connection_limit_is_named_with_the_figures() {
    let pg = free_port();
    let services = postgres_services(pg)
        .replace(
            "\"listen_addresses=127.0.0.1\"]",
            "\"listen_addresses=127.0.0.1\", \"-c\", \"max_connections=10\"]",
        )
        .replace(
            "interval = \"200ms\"",
            "interval = \"200ms\"\nconnections_used = \"< 80%\"",
        );
    let s = sandbox(&format!(
        r#"
{services}
[services.api]
command = ["sh", "-c", "echo 'psycopg.OperationalError: connection failed: FATAL:  sorry, too many clients already'; exit 1"]
env = {{ DATABASE_URL = "postgresql://app@127.0.0.1:{pg}/app" }}
depends_on = {{ postgres = "started" }}
restart = "never"
"#
    ));
    let _daemon = s.up();
    s.wait_state("postgres", "running", T);
    let _hogs: Vec<support::Reap> = (0..8).map(|_| psql(pg, "SELECT pg_sleep(120)")).collect();
    wait_until("postgres at its limit", T, || {
        (s.service("postgres")["health"] == "unhealthy").then_some(())
    });
    let (report, summary) = dependency_verdict(&s);
    assert!(
        summary.contains("PostgreSQL `postgres`")
            && summary.contains("/10 connections")
            && summary.contains("most from 127.0.0.1: "),
        "{summary}"
    );
    let bundle = report["bundle"].as_str().unwrap();
    let deps = std::fs::read_to_string(format!("{bundle}/10-dependencies.txt")).unwrap();
    assert!(deps.contains("connections in use"), "{deps}");
}

#[test]
fn a_crash_while_redis_is_full_is_named_with_the_figures() {
    let rd = free_port();
    let s = support::Sandbox::new(&format!(
        r#"
[services.redis]
command = ["redis-server", "--port", "{rd}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]

[[services.redis.health]]
redis = "redis://127.0.0.1:{rd}/0"
memory_used = "< 80%"
interval = "200ms"

[services.api]
command = ["sh", "-c", "echo \"redis.exceptions.ResponseError: OOM command not allowed when used memory > 'maxmemory'.\"; exit 1"]
env = {{ REDIS_URL = "redis://127.0.0.1:{rd}/0" }}
depends_on = {{ redis = "started" }}
restart = "never"
"#
    ));
    let _daemon = s.up();
    s.wait_state("redis", "running", T);
    // Fill it: 1 kB values until Redis refuses (noeviction).
    let fill = format!(
        "import socket\ns = socket.create_connection(('127.0.0.1', {rd}))\nf = s.makefile('rb')\nfor i in range(5000):\n    s.sendall(b'SET k%d %s\\r\\n' % (i, b'x' * 1000))\n    if f.readline().startswith(b'-OOM'):\n        break\n"
    );
    let filled = std::process::Command::new("python3")
        .args(["-c", &fill])
        .status()
        .unwrap();
    assert!(filled.success());
    wait_until("redis over its limit", T, || {
        (s.service("redis")["health"] == "unhealthy").then_some(())
    });
    let (_, summary) = dependency_verdict(&s);
    assert!(
        summary.contains("Redis `redis`")
            && summary.contains("of maxmemory")
            && summary.contains("noeviction"),
        "{summary}"
    );
}

#[test]
fn redis_stopped_and_started_under_a_writing_worker_costs_no_restart_and_it_resumes() {
    let rd = free_port();
    let s = sandbox(&format!(
        r#"
[services.redis]
command = ["redis-server", "--port", "{rd}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

[[services.redis.health]]
redis = "redis://127.0.0.1:{rd}/0"
interval = "200ms"

[services.worker]
# Writes as fast as redis-cli goes; exits on the first failed write, as a
# worker does on a lost connection. Each write it saw succeed is counted.
command = ["sh", "-c", "while redis-cli -p {rd} INCR writes >/dev/null 2>&1; do echo ok >> done; done; echo 'redis connection lost' >&2; exit 1"]
depends_on = {{ redis = "healthy" }}
restart = {{ max_restarts = 1, backoff_initial = "100ms" }}
"#
    ));
    let _daemon = s.up();
    let first = s.wait_state("worker", "running", T)["pid"].clone();
    let count = |s: &support::Sandbox| {
        std::fs::read_to_string(s.path("done")).map_or(0, |t| t.lines().count())
    };
    wait_until("some load", T, || (count(&s) >= 50).then_some(()));
    for round in 1..=2 {
        assert!(s.run(&["stop", "redis"]).status.success());
        let worker = s.wait_state("worker", "pending", T);
        assert_eq!(worker["restarts"], 0, "round {round}: {worker}");
        assert_eq!(
            worker["detail"], "waiting for redis to be healthy: redis is stopped",
            "{worker}"
        );
        let before = count(&s);
        assert!(s.run(&["start", "redis"]).status.success());
        let worker = s.wait_service("worker", "the worker writing again", T, |w| {
            w["state"] == "running" && w["pid"] != first
        });
        assert_eq!(worker["restarts"], 0, "round {round}: {worker}");
        wait_until("writes after the outage", T, || {
            (count(&s) >= before + 50).then_some(())
        });
    }
    // Each round's lost connection is in the history, not a crash loop.
    let waits = s.event_messages("dependency-wait");
    assert!(
        waits
            .iter()
            .filter(|m| m.contains("worker: exited while a dependency is down"))
            .count()
            >= 2,
        "{waits:?}"
    );
    assert!(s.event_messages("crash-loop").is_empty());
}
