//! PostgreSQL and Redis probes over their real protocols.
//!
//! Details name the server and say what is wrong in the words an operator
//! searches for: "connection refused", "authentication failed", and on
//! success what matters for capacity (connections against
//! `max_connections`, used memory against `maxmemory`).

use std::str::FromStr;

use crate::io_reason;

/// `SELECT 1`, then version and connection use.
pub(crate) async fn postgres(dsn: &str) -> Result<String, String> {
    let config = tokio_postgres::Config::from_str(dsn)
        .map_err(|e| format!("invalid PostgreSQL DSN: {e}"))?;
    let target = describe_target(&config);
    let user = config.get_user().unwrap_or("(default user)").to_string();
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| postgres_error(&e, &target, &user))?;
    tokio::spawn(connection);
    client
        .simple_query("SELECT 1")
        .await
        .map_err(|e| postgres_error(&e, &target, &user))?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), \
             (SELECT count(*) FROM pg_stat_activity), \
             current_setting('max_connections')::int8",
            &[],
        )
        .await
        .map_err(|e| postgres_error(&e, &target, &user))?;
    let version: String = row.get(0);
    let used: i64 = row.get(1);
    let max: i64 = row.get(2);
    Ok(format!(
        "PostgreSQL {version} at {target}: {used}/{max} connections"
    ))
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
pub(crate) async fn redis(url: &str) -> Result<String, String> {
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
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut con)
        .await
        .map_err(|e| redis_error(&e, &target))?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let used = field("used_memory").unwrap_or(0);
    let memory = match field("maxmemory") {
        Some(max) if max > 0 => format!("{} of maxmemory {}", mb(used), mb(max)),
        _ => format!("{} used, no maxmemory", mb(used)),
    };
    Ok(format!("Redis at {target}: {pong}, {memory}"))
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
