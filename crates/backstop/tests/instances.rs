//! `instances = N` and `backstop scale`: copies of one service, each with
//! its own process, port, check and state, and a dependency on all of them.

mod support;

use std::time::Duration;

use support::{Sandbox, alive, curl, wait_until};

/// A port `p` with `p` … `p + n - 1` free a moment ago.
fn free_ports(n: u16) -> u16 {
    loop {
        let base = support::free_port();
        if base > 65000 {
            continue;
        }
        let all_free = (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return base;
        }
    }
}

fn config(base: u16) -> String {
    format!(
        r#"
[services.web]
command = ["sh", "-c", "echo copy $BACKSTOP_INSTANCE on $PORT; exec python3 -m http.server ${{BACKSTOP_PORT}} --bind 127.0.0.1"]
port = {base}
instances = 2
stop = {{ timeout = "3s" }}

[[services.web.health]]
http = "http://127.0.0.1:{base}/"
interval = "200ms"
failures = 1

[services.client]
command = "sleep 1000"
depends_on = {{ web = "healthy" }}
"#
    )
}

fn pid(s: &Sandbox, name: &str) -> i32 {
    s.service(name)["pid"].as_i64().unwrap() as i32
}

#[test]
fn copies_run_on_their_own_ports_and_scale_live() {
    let base = free_ports(3);
    let s = Sandbox::new(&config(base));
    let _daemon = s.up();
    let t = Duration::from_secs(30);

    // Both copies run, each on its port, each checked there; `client`
    // waited for both to be healthy.
    for (name, port) in [("web.1", base), ("web.2", base + 1)] {
        wait_until(&format!("{name} healthy"), t, || {
            let svc = s.service(name);
            (svc["state"] == "running" && svc["health"] == "healthy").then_some(())
        });
        let (code, _) = curl(&[&format!("http://127.0.0.1:{port}/")]);
        assert_eq!(code, 200, "{name} answers on {port}");
    }
    s.wait_state("client", "running", t);
    s.wait_log("web.2", &format!("copy 2 on {}", base + 1), t);

    // `web` names every copy.
    let logs = s.stdout(&["logs", "web"]);
    assert!(
        logs.contains("copy 1 on") && logs.contains("copy 2 on"),
        "{logs}"
    );
    let (one, two) = (pid(&s, "web.1"), pid(&s, "web.2"));
    let out = s.stdout(&["restart", "web"]);
    assert!(
        out.contains("web.1: running") && out.contains("web.2: running"),
        "{out}"
    );
    assert!(pid(&s, "web.1") != one && pid(&s, "web.2") != two);

    // Up to three: the third runs on base + 2.
    let out = s.stdout(&["scale", "web", "3"]);
    assert!(out.contains("web.3: running"), "{out}");
    wait_until("web.3 healthy", t, || {
        (s.service("web.3")["health"] == "healthy").then_some(())
    });
    assert_eq!(curl(&[&format!("http://127.0.0.1:{}/", base + 2)]).0, 200);

    // Down to one: the others stop and leave the status.
    let (two, three) = (pid(&s, "web.2"), pid(&s, "web.3"));
    let out = s.stdout(&["scale", "web", "1"]);
    assert!(out.contains("stopped: web.2, web.3"), "{out}");
    wait_until("web.2 and web.3 gone", t, || {
        let st = s.status();
        let names: Vec<String> = st["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_string())
            .collect();
        (!names.contains(&"web.2".to_string()) && !names.contains(&"web.3".to_string()))
            .then_some(())
    });
    assert!(
        !alive(two) && !alive(three),
        "the removed copies' processes are gone"
    );
    assert_eq!(s.service("web.1")["state"], "running");

    // A copy is not what scales; a count of 0 is refused.
    let out = s.run(&["scale", "web.1", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`web.1` is one copy of `web`: scale `web`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = s.run(&["scale", "web", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected 1 to 256"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // `events web` is the story of every copy.
    let events = s.stdout(&["events", "web", "--kind", "spawned"]);
    for copy in ["web.1:", "web.2:", "web.3:"] {
        assert!(events.contains(copy), "{copy} in {events}");
    }
    let last = s.stdout(&["events", "web", "--kind", "spawned", "-n", "1"]);
    assert_eq!(last.lines().count(), 1, "{last}");

    // A reload keeps the scale while the file's `instances` stays.
    let out = s.stdout(&["reload"]);
    assert!(out.contains("removed none"), "{out}");
    assert_eq!(s.service("web.1")["state"], "running");
}
