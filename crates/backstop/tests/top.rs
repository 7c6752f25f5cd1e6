//! `backstop top`, driven in a real terminal: tmux runs it, `send-keys`
//! presses keys, `capture-pane` reads the screen (with `-e`, its colours).

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Sandbox, alive, wait_until};

const T: Duration = Duration::from_secs(30);

/// A tmux server of the test's own (its own socket), killed at the end.
struct Tmux(String);

impl Tmux {
    fn new() -> Self {
        // One server per test, also when tests share a process (cargo test).
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(format!("bstop{}-{n}", std::process::id()))
    }

    /// `backstop top` on the config of `s`, with `env` (`NAME=value`
    /// words) before it, in a new 80×24 session named `top`.
    fn top(s: &Sandbox, env: &str) -> Self {
        let tmux = Self::new();
        let top = format!(
            "{env} {} -c {} top",
            env!("CARGO_BIN_EXE_backstop"),
            s.config().display()
        );
        let started = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "80",
            "-y",
            "24",
            &top,
        ]);
        assert!(started.status.success(), "{started:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.0)
            .args(args)
            .output()
            .expect("tmux (Debian package tmux) is installed by scripts/test")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "top"]).stdout).into_owned()
    }

    /// The screen line of `service`'s row.
    fn row(&self, service: &str) -> Option<String> {
        self.screen()
            .lines()
            .find(|l| l.split_whitespace().next() == Some(service))
            .map(str::to_string)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn top_shows_the_services_live_and_acts_on_keys() {
    let s = Sandbox::new(
        r#"
[services.api]
command = ["sh", "-c", "echo hello-from-api; exec sleep 1000"]

[services.worker]
command = "sleep 1000"
restart = { backoff_initial = "300ms" }
"#,
    );
    let _daemon = s.up();
    s.wait_state("worker", "running", T);
    let tmux = Tmux::top(&s, "NO_COLOR=1");

    // Both services, running.
    wait_until("top to show both services running", T, || {
        let (api, worker) = (tmux.row("api")?, tmux.row("worker")?);
        (api.contains("running") && worker.contains("running")).then_some(())
    });

    // `r` restarts the selected (first) service: a new process.
    let before = s.service("api")["pid"].as_i64().unwrap();
    tmux.run(&["send-keys", "-t", "top", "r"]);
    wait_until("api restarted by the r key", T, || {
        let now = s.service("api");
        (now["state"] == "running" && now["pid"].as_i64() != Some(before)).then_some(())
    });

    // Killed from outside: top shows it restarted, with one restart counted.
    let pid = s.service("worker")["pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until(
        "top to show the worker running again after 1 restart",
        T,
        || {
            let row = tmux.row("worker")?;
            let cols: Vec<&str> = row.split_whitespace().collect();
            // NAME STATE HEALTH PID UP RESTARTS …
            (cols.get(1) == Some(&"running") && cols.get(5) == Some(&"1")).then_some(())
        },
    );
    let screen = tmux.screen();
    assert!(
        screen.lines().any(|l| l.contains(" worker: ")),
        "the worker's restart is among the newest events:\n{screen}"
    );

    // `s` on the second row stops it; `q` quits and gives the terminal back.
    tmux.run(&["send-keys", "-t", "top", "j", "s"]);
    s.wait_state("worker", "stopped", T);
    // The other screens, each left with Esc, in 80×24.
    let shows = |what: &str, needle: &str| {
        wait_until(what, T, || {
            let screen = tmux.screen();
            screen.contains(needle).then_some(screen)
        })
    };
    // Esc alone: an Esc followed at once by a key reads as Alt+key.
    let back = || {
        tmux.run(&["send-keys", "-t", "top", "Escape"]);
        wait_until("back on the table", T, || tmux.row("worker").map(|_| ()));
    };
    tmux.run(&["send-keys", "-t", "top", "k", "l"]);
    shows("api's log, followed", "hello-from-api");
    back();
    tmux.run(&["send-keys", "-t", "top", "Enter"]);
    let details = shows("api's details", "exits (newest last):");
    assert!(details.contains("checks:"), "{details}");
    back();
    tmux.run(&["send-keys", "-t", "top", "?"]);
    shows("the help", "this help");
    back();
    tmux.run(&["send-keys", "-t", "top", "/", "w", "o", "r", "Enter"]);
    wait_until("the filter to leave only the worker", T, || {
        (tmux.row("api").is_none() && tmux.row("worker").is_some()).then_some(())
    });
    tmux.run(&["send-keys", "-t", "top", "Escape"]);
    wait_until("Esc to clear the filter", T, || tmux.row("api").map(|_| ()));
    tmux.run(&["send-keys", "-t", "top", "g", "d"]);
    let diagnosis = shows("the diagnosis of api", "bundle:");
    assert!(diagnosis.contains("api"), "{diagnosis}");
    back();

    tmux.run(&["send-keys", "-t", "top", "q"]);
    wait_until("top to exit on q", T, || {
        (!tmux.run(&["has-session", "-t", "top"]).status.success()).then_some(())
    });
    assert!(!alive(pid));
}

/// The SGR colour of the line of `service` on the screen (tmux writes the
/// colours it shows as `ESC[3Xm`, `ESC[9Xm` or `ESC[38;5;Xm`).
fn colour_of(screen: &str, service: &str) -> Option<&'static str> {
    let line = screen.lines().find(|l| {
        let plain: String = strip_sgr(l);
        plain.split_whitespace().next() == Some(service)
    })?;
    for (name, codes) in [
        (
            "red",
            ["\x1b[31m", "\x1b[91m", "\x1b[38;5;1m", "\x1b[38;5;9m"],
        ),
        (
            "green",
            ["\x1b[32m", "\x1b[92m", "\x1b[38;5;2m", "\x1b[38;5;10m"],
        ),
        (
            "yellow",
            ["\x1b[33m", "\x1b[93m", "\x1b[38;5;3m", "\x1b[38;5;11m"],
        ),
    ] {
        if codes.iter().any(|c| line.contains(c)) {
            return Some(name);
        }
    }
    None
}

fn strip_sgr(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn a_service_killed_from_outside_turns_red_then_green() {
    let s = Sandbox::new(
        r#"
[services.web]
command = "sleep 1000"
restart = { backoff_initial = "3s" }
"#,
    );
    let _daemon = s.up();
    s.wait_state("web", "running", T);
    let tmux = Tmux::top(&s, "TERM=xterm-256color");
    let coloured = || {
        String::from_utf8_lossy(&tmux.run(&["capture-pane", "-e", "-p", "-t", "top"]).stdout)
            .into_owned()
    };
    wait_until("web green while it runs", T, || {
        (colour_of(&coloured(), "web") == Some("green")).then_some(())
    });
    let pid = s.service("web")["pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // Down after a fault, waiting its 3 s backoff: red.
    wait_until("web red while it waits to be restarted", T, || {
        (colour_of(&coloured(), "web") == Some("red")).then_some(())
    });
    // Restarted: green again, with the restart counted.
    wait_until("web green again", T, || {
        let screen = coloured();
        let row = screen
            .lines()
            .map(strip_sgr)
            .find(|l| l.split_whitespace().next() == Some("web"))?;
        let cols: Vec<&str> = row.split_whitespace().collect();
        (colour_of(&screen, "web") == Some("green") && cols.get(5) == Some(&"1")).then_some(())
    });
    tmux.run(&["send-keys", "-t", "top", "q"]);
    wait_until("top to exit on q", T, || {
        (!tmux.run(&["has-session", "-t", "top"]).status.success()).then_some(())
    });
}
