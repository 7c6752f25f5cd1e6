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
