//! Several hosts watched together: `backstop status --remote` reads another
//! daemon over its TCP API with its token (a second daemon on loopback
//! stands for the other host).

mod support;

use std::time::Duration;

use support::{Sandbox, free_port};

fn host(services: &str) -> (Sandbox, String) {
    let port = free_port();
    let s = Sandbox::new(&format!(
        "[daemon]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"token\"\n\n{services}"
    ));
    (s, format!("http://127.0.0.1:{port}"))
}

#[test]
fn status_remote_reads_another_hosts_daemon_with_its_token() {
    let (web, _) = host("[services.web]\ncommand = \"sleep 1000\"\n");
    let (db, db_url) = host("[services.queue]\ncommand = \"sleep 1000\"\n");
    let _web = web.up();
    let _db = db.up();
    db.wait_state("queue", "running", Duration::from_secs(30));

    // From the web host's directory, the other host's services.
    let token = db.path("token");
    let token = token.to_str().unwrap();
    let out = web.stdout(&["status", "--remote", &db_url, "--token-file", token]);
    let queue = out
        .lines()
        .find(|l| l.starts_with("queue "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(queue.contains("running"), "{out}");
    assert!(
        !out.contains("web "),
        "only the remote host's services: {out}"
    );

    let json = web.stdout(&[
        "--json",
        "status",
        "--remote",
        &db_url,
        "--token-file",
        token,
    ]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["services"][0]["name"], "queue");
    assert_eq!(report["services"][0]["state"], "running");

    // Without the token, or with a wrong one: refused, saying what to do.
    let out = web.run(&["status", "--remote", &db_url]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs its API token: pass --token-file"),
        "{err}"
    );
    web.write("wrong", "not-the-token");
    let wrong = web.path("wrong");
    let out = web.run(&[
        "status",
        "--remote",
        &db_url,
        "--token-file",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the token"));

    // Nothing there: the no-daemon exit code, naming the address.
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let out = web.run(&["status", "--remote", &nobody, "--token-file", token]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("nothing answers at {nobody}")));

    // Not an http URL: a usage error.
    let out = web.run(&["status", "--remote", "https://db:9107"]);
    assert_eq!(out.status.code(), Some(2));
}
