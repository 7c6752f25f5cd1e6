//! `watch`: file changes restart a service (and start a failed one again),
//! ignored and skipped files do not.

mod support;

use std::time::Duration;

use support::{Sandbox, wait_until};

const T: Duration = Duration::from_secs(30);

#[test]
fn a_saved_file_restarts_the_service_and_a_fix_starts_a_failed_one_again() {
    let s = Sandbox::new(
        r#"
[services.app]
# Runs only while src/state.txt says "ok", as an app that fails on bad code.
command = ["sh", "-c", "echo start; grep -qx ok src/state.txt && exec sleep 1000"]
watch = { paths = ["src/**/*.txt"], ignore = ["src/tmp/**"], debounce = "100ms" }
restart = { max_restarts = 1, backoff_initial = "50ms" }

[services.marker]
# Its watch event tells the test that a change written before was seen.
command = "sleep 1000"
watch = { paths = ["marker/*.txt"], debounce = "100ms" }
"#,
    );
    for dir in ["src/tmp", "src/node_modules/pkg", "marker"] {
        std::fs::create_dir_all(s.path(dir)).unwrap();
    }
    s.write("src/state.txt", "broken\n");
    let _daemon = s.up();
    s.wait_state("app", "crash-loop", T);

    // Ignored and skipped files change: nothing happens for them; the fix
    // then starts the crash-looping service again, and the event names only
    // the fix.
    s.write("src/tmp/scratch.txt", "x");
    s.write("src/node_modules/pkg/index.txt", "x");
    s.write("src/state.txt", "ok\n");
    s.wait_state("app", "running", T);
    let events = s.event_messages("watch");
    assert_eq!(
        events,
        ["app: src/state.txt changed; starting it again"],
        "one burst, the ignored files not in it"
    );

    // A new directory and a file in it: a restart.
    let pid = s.service("app")["pid"].as_i64().unwrap();
    std::fs::create_dir_all(s.path("src/feature")).unwrap();
    s.write("src/feature/flag.txt", "on");
    wait_until("a restart for src/feature/flag.txt", T, || {
        let svc = s.service("app");
        (svc["state"] == "running" && svc["pid"].as_i64() != Some(pid)).then_some(())
    });
    let events = s.event_messages("watch");
    assert!(
        events
            .iter()
            .any(|m| m.starts_with("app: src/feature") && m.ends_with("; restarting")),
        "{events:?}"
    );

    // Stopped by hand: a change does not start it. The marker's change,
    // written after it with the same debounce, is reported no earlier.
    s.stdout(&["stop", "app"]);
    s.write("src/state.txt", "ok\n\n");
    s.write("marker/now.txt", "1");
    wait_until("the marker's restart", T, || {
        s.event_messages("watch")
            .iter()
            .any(|m| m.starts_with("marker: marker/now.txt changed"))
            .then_some(())
    });
    assert_eq!(s.service("app")["state"], "stopped");
    let app_events = s
        .event_messages("watch")
        .into_iter()
        .filter(|m| m.starts_with("app:"))
        .count();
    assert_eq!(app_events, 2, "no event for the stopped service");
}
