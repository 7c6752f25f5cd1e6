//! `backstop import`: one real-world file of each format (written for the
//! tests, in `tests/fixtures/import/`) is imported into a `backstop.toml`
//! that validates, and brought up: its services run and `/health` is 200.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Sandbox, free_port};

const T: Duration = Duration::from_secs(30);

/// A sandbox holding the fixture `files`, `{PORT}` and `{DIR}` filled in.
fn sandbox(files: &[&str], port: u16) -> Sandbox {
    let s = Sandbox::new("");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import");
    let dir = s.dir.path().display().to_string();
    for f in files {
        let text = std::fs::read_to_string(fixtures.join(f)).unwrap();
        s.write(
            f,
            &text
                .replace("{PORT}", &port.to_string())
                .replace("{DIR}", &dir),
        );
    }
    s
}

/// `backstop import FILES --force`: the config it wrote, and what it said.
fn import(s: &Sandbox, files: &[&str]) -> (String, String) {
    let mut args = vec!["import", "--force", "--out", "backstop.toml"];
    args.extend_from_slice(files);
    let out = s.command(&args).current_dir(s.dir.path()).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("validate` passes"), "{said}");
    (std::fs::read_to_string(s.config()).unwrap(), said)
}

/// The imported config is up and `/health` says healthy; the daemon runs
/// until the guard is dropped.
#[must_use]
fn comes_up_healthy(s: &Sandbox, running: &[&str]) -> support::Daemon {
    let _ = s.stdout(&["validate"]);
    let daemon = s.up();
    for name in running {
        s.wait_state(name, "running", T);
    }
    support::wait_until("/health to answer 200", T, || {
        let (code, body) = s.api("GET", "/health");
        (code == 200).then_some(body)
    });
    daemon
}

#[test]
fn a_supervisord_config_imports_and_comes_up_healthy() {
    let port = free_port();
    let s = sandbox(&["supervisord.conf"], port);
    let (toml, said) = import(&s, &["supervisord.conf"]);
    assert!(said.contains("3 services (web, worker, flower)"), "{said}");
    for expected in [
        &format!(
            "command = [\"python3\", \"-m\", \"http.server\", \"{port}\", \"--bind\", \"127.0.0.1\"]"
        ) as &str,
        "env = { APP_ENV = \"production\", GREETING = \"hello, world\" }",
        "restart = { policy = \"always\", max_restarts = 3 }",
        "stop = { signal = \"TERM\", timeout = \"5s\" }",
        "instances = 2",
        "${BACKSTOP_INSTANCE}",
        "disabled = true",
        "# not imported: stdout_logfile",
        "# not imported: priority=10",
        "# not imported: [group:app]",
    ] {
        assert!(toml.contains(expected), "{expected}\n---\n{toml}");
    }
    let _daemon = comes_up_healthy(&s, &["web", "worker.1", "worker.2"]);
    let log = s.wait_log("worker.2", "worker 2 up", T);
    assert!(log.contains("worker 2 up"));
    assert_eq!(s.service("flower")["state"], "stopped");
}

#[test]
fn a_pm2_ecosystem_file_imports_through_node_and_comes_up_healthy() {
    let port = free_port();
    let s = sandbox(&["ecosystem.config.js", "server.js", "jobs.py"], port);
    let (toml, _) = import(&s, &["ecosystem.config.js"]);
    for expected in [
        &format!("command = [\"node\", \"server.js\", \"--port\", \"{port}\"]") as &str,
        &format!("env = {{ NODE_ENV = \"production\", PORT = \"{port}\" }}"),
        "restart = { backoff_initial = \"500ms\", max_restarts = 10 }",
        "stop = { timeout = \"3s\" }",
        "limits = { memory_max = \"300MiB\" }",
        "command = [\"python3\", \"jobs.py\"]",
        "backoff_factor = 1.5",
        "# not imported: cron_restart",
        "# not imported: env_production",
        "# not imported: out_file",
    ] {
        assert!(toml.contains(expected), "{expected}\n---\n{toml}");
    }
    let _daemon = comes_up_healthy(&s, &["api", "jobs"]);
    s.wait_log("api", &format!("api listening on {port}"), T);
    s.wait_log("jobs", "jobs up", T);
}

#[test]
fn pm2_jlist_json_imports_too() {
    let s = Sandbox::new("");
    s.write(
        "apps.json",
        r#"[{"name":"api","pid":4242,"pm2_env":{"name":"api","pm_exec_path":"/srv/app/server.js","pm_cwd":"/srv/app","exec_interpreter":"node","args":["--port","3000"],"instances":2,"exec_mode":"cluster_mode","autorestart":true,"env":{"PORT":"3000","PM2_HOME":"/root/.pm2","PATH":"/usr/bin","NODE_ENV":"production"}}}]"#,
    );
    let out = s
        .command(&["import", "apps.json", "--out", "-"])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    let toml = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        toml.contains("command = [\"node\", \"/srv/app/server.js\", \"--port\", \"3000\"]"),
        "{toml}"
    );
    assert!(toml.contains("dir = \"/srv/app\""), "{toml}");
    assert!(toml.contains("instances = 2"), "{toml}");
    assert!(
        toml.contains("env = { NODE_ENV = \"production\", PORT = \"3000\" }"),
        "PM2's own variables are left out: {toml}"
    );
    assert!(toml.contains("# not imported: exec_mode cluster"), "{toml}");
}

#[test]
fn a_procfile_imports_with_foremans_ports_and_comes_up() {
    let s = sandbox(&["Procfile", "jobs.py"], 0);
    let (toml, _) = import(&s, &["Procfile"]);
    assert!(
        toml.contains(
            "command = [\"sh\", \"-c\", \"python3 -m http.server $PORT --bind 127.0.0.1\"]"
        ),
        "{toml}"
    );
    assert!(
        toml.contains("env = { PORT = \"5000\" }") && toml.contains("port = 5000"),
        "{toml}"
    );
    let _daemon = comes_up_healthy(&s, &["web", "worker"]);
}

#[test]
fn a_compose_file_imports_its_commands_and_comes_up_healthy() {
    let port = free_port();
    let s = sandbox(&["docker-compose.yml"], port);
    let (toml, said) = import(&s, &["docker-compose.yml"]);
    assert!(said.contains("2 services (migrate, web)"), "{said}");
    for expected in [
        "# not imported: service db runs the image postgres:15 with no command",
        "depends_on = { migrate = \"completed\" }",
        "# not imported: depends_on db: not imported (an image)",
        "restart = { policy = \"never\" }",
        "restart = { policy = \"always\" }",
        &format!("port = {port}"),
        "stop = { timeout = \"5s\" }",
        "startup = \"10s\"",
        "[[services.web.health]]",
        "exec = [\"sh\", \"-c\",",
        "interval = \"2s\"",
        "failures = 3",
        "# not imported: working_dir /app is a path in the container",
        "# not imported: volumes",
    ] {
        assert!(toml.contains(expected), "{expected}\n---\n{toml}");
    }
    let _daemon = comes_up_healthy(&s, &["web"]);
    assert_eq!(s.service("migrate")["state"], "exited");
    assert_eq!(s.service("web")["health"], "healthy");
}

#[test]
fn systemd_units_import_with_their_order_and_come_up() {
    let port = free_port();
    let s = sandbox(&["api.service", "worker.service", "jobs.py"], port);
    let (toml, _) = import(&s, &["api.service", "worker.service"]);
    for expected in [
        &format!(
            "command = [\"/usr/bin/python3\", \"-m\", \"http.server\", \"{port}\", \"--bind\", \"127.0.0.1\"]"
        ) as &str,
        "env = { APP_ENV = \"production\", GREETING = \"hi there\" }",
        "restart = { policy = \"on-failure\", backoff_initial = \"2s\", max_restarts = 4, window = \"60s\" }",
        "stop = { timeout = \"5s\", mode = \"main\" }",
        "limits = { memory_max = \"512MiB\", nofile = 4096 }",
        "depends_on = { api = \"started\" }",
        "stop = { signal = \"INT\" }",
        "# not imported: ProtectSystem",
    ] {
        assert!(toml.contains(expected), "{expected}\n---\n{toml}");
    }
    let _daemon = comes_up_healthy(&s, &["api", "worker"]);
}

#[test]
fn what_cannot_be_read_is_said() {
    let s = Sandbox::new("");
    s.write("notes.txt", "hello\n");
    let out = s
        .command(&["import", "notes.txt"])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--format procfile|supervisord|pm2|compose|systemd")
    );
    // An existing backstop.toml is not replaced without --force.
    s.write("Procfile", "web: python3 -m http.server 8000\n");
    let out = s
        .command(&["import", "Procfile"])
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --force"));
}
