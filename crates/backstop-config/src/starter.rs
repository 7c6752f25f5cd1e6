//! The commented starter config written by `backstop init`.

/// A small, commented `backstop.toml` that documents the common keys.
pub const STARTER_CONFIG: &str = r#"# backstop.toml: the services backstop keeps alive.
# Every key is documented in docs/configuration.md. Check this file with
# `backstop validate`, run it with `backstop up`.

# [daemon]
# state_dir = ".backstop"          # sockets, state, logs (relative to this file)
# listen = "127.0.0.1:9107"        # the web dashboard and HTTP API; `backstop up` prints it
# token_file = ".backstop/token"   # made on first start (0600); paste it in the dashboard to act

# [logs]                           # output in .backstop/logs/<service>.log
# max_size = "100MB"               # rotate at this size (and/or rotate = "daily")
# keep = 10                        # rotated files kept, gzip-compressed
# max_age = "10d"

[services.api]
# A string is split like a shell would; use an array to avoid quoting.
command = "python3 -m http.server ${BACKSTOP_PORT} --bind 127.0.0.1"   # its `port`
# dir = "backend"                  # working directory (default: this file's directory)
# env_file = ".env"                # dotenv file read at every start
env = { PYTHONUNBUFFERED = "1" }
port = 8080                        # checked before each start; a stale holder is named
# user = "www-data"                # drop privileges when backstop runs as root
restart = { policy = "always", backoff_initial = "1s", backoff_max = "5m", max_restarts = 10, window = "1h" }
stop = { signal = "TERM", timeout = "10s", mode = "group" }
# limits = { memory_warn = "400MB", memory_max = "480MB", nofile = 65536 }  # memory_max: kernel-held in cgroup mode
# preflight = ["python3 -c 'import main'"]  # run by `backstop diagnose` to test a start
# pre_start = "python3 manage.py migrate --noinput"  # before every start; failing = a failed start
# watch = ["**/*.py"]              # development: restart when these files change
# instances = 2                    # api.1 on 8080, api.2 on 8081; `backstop scale api N` live

# A health check: `backstop check` runs it once; the daemon runs it every interval
# ([[…health]] tables come after the service's own keys).
# [[services.api.health]]
# http = "http://127.0.0.1:8080/"
# expect = { status = 200 }
# interval = "10s"

# [services.worker]
# command = ["python3", "worker.py"]
# depends_on = { api = "started" } # or "healthy", or "completed" for one-shot jobs
# restart = "on-failure"
# stop = { mode = "main" }         # signal only the main process (celery warm shutdown)

# A scheduled job instead of a cron line (`backstop jobs`, `backstop run-job backup`,
# `backstop logs job:backup`); a failed run raises the `job-failed` alert:
# [jobs.backup]
# command = ["sh", "-c", "pg_dump --format=custom --file=backups/app-$(date +%F).dump app"]
# schedule = "0 2 * * *"           # cron (or every = "6h"); timezone = "Europe/Berlin"
# timeout = "1h"
# depends_on = { api = "started" } # a run waits for it; docs/recipes.md has more

# Something backstop does not run, checked too (`backstop check`, alerts):
# [checks.db]
# postgres = "postgres://monitor@127.0.0.1:5432/app"
# connections_used = "< 80%"       # also longest_query, blocked, idle_in_transaction
# longest_query = "< 30s"

# `backstop fix api` diagnoses and proposes a playbook (clean-restart, free-port,
# restart-dependency are built in); your own, run with `backstop fix api deploy-fix`:
# [playbooks.deploy-fix]
# steps = ["stop", "kill-leftovers", "clear-cache", "start", "wait-healthy", { action = "verify", for = "5m" }]

# Let backstop run a playbook by itself, at most 3 times an hour, then alert a person:
# [[remediate]]
# when = "crash-loop"
# run = "clean-restart"
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn starter_config_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = crate::parse(
            &dir.path().join("backstop.toml"),
            super::STARTER_CONFIG.to_string(),
        )
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
        assert_eq!(loaded.config.services[0].name, "api");
        assert_eq!(loaded.config.services[0].port, Some(8080));
    }

    /// Uncommenting the examples (a line `# key = …` or `# [table]`) gives
    /// a valid file too: what users will do with it.
    #[test]
    fn starter_config_with_every_example_uncommented_is_valid() {
        let mut uncommented = String::new();
        for line in super::STARTER_CONFIG
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once(" = ").is_some_and(|(k, _)| {
                            k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        }) =>
                {
                    rest
                }
                _ => l,
            })
        {
            uncommented.push_str(line);
            uncommented.push('\n');
        }
        let dir = tempfile::tempdir().unwrap();
        let loaded = crate::parse(&dir.path().join("backstop.toml"), uncommented.clone())
            .unwrap_or_else(|e| panic!("{}\n{uncommented}", e.render(false)));
        // With `instances` uncommented, `api` is its copies.
        let api = loaded.config.members("api")[0];
        assert_eq!(api.name, "api.1");
        assert!(api.pre_start.is_some() && api.watch.is_some());
        assert_eq!(api.limits.memory_max, Some(480_000_000));
        assert_eq!(api.health.len(), 2, "its check and the limits check");
        assert_eq!(loaded.config.remediate.len(), 1);
        assert!(loaded.config.service("worker").is_some());
    }
}
