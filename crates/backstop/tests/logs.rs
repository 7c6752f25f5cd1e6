//! `backstop logs` over what the daemon really captured.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{LineStream, Sandbox, wait_until};

const T: Duration = Duration::from_secs(20);

#[test]
fn tail_grep_stream_json_and_follow() {
    let s = Sandbox::new(
        r#"
[services.api]
command = ["sh", "-c", "echo 'api up'; echo 'Traceback: boom' >&2; while [ ! -e more ]; do sleep 0.05; done; echo 'api later'; exec sleep 1000"]

[services.worker]
command = ["sh", "-c", "echo 'worker up'; printf 'bad \\377 byte\\n'; exec sleep 1000"]
"#,
    );
    let before = s.run(&["logs"]);
    assert!(before.status.success());
    assert!(
        String::from_utf8_lossy(&before.stderr).starts_with("no logs yet in "),
        "{before:?}"
    );
    let _daemon = s.up();
    wait_until("all lines captured", T, || {
        let text = s.stdout(&["logs"]);
        (text.contains("Traceback: boom") && text.contains("worker up") && text.contains("bad"))
            .then_some(())
    });
    let api = s.stdout(&["logs", "api"]);
    let lines: Vec<&str> = api.lines().collect();
    assert_eq!(lines.len(), 2, "{api}");
    assert!(
        lines[0].starts_with("api | ") && lines[0].ends_with(" api up"),
        "{api}"
    );
    let errors = s.stdout(&["logs", "--stream", "stderr"]);
    assert!(
        errors.trim().ends_with("Traceback: boom") && errors.lines().count() == 1,
        "{errors}"
    );
    let grep = s.stdout(&["logs", "--grep", "(?i)traceback"]);
    assert_eq!(grep.lines().count(), 1, "{grep}");
    let json: Vec<Value> = s
        .stdout(&["logs", "--json", "worker"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(json[0]["service"], "worker");
    assert_eq!(json[0]["stream"], "stdout");
    assert_eq!(
        json[1]["line"], "bad \u{fffd} byte",
        "invalid UTF-8 is kept in the file and shown replaced"
    );
    assert!(
        std::fs::read(s.path(".backstop/logs/worker.log"))
            .unwrap()
            .windows(5)
            .any(|w| w == b"bad \xff")
    );
    let since = s.stdout(&["logs", "--since", "1h", "-n", "1"]);
    assert_eq!(since.lines().count(), 1);

    // Follow: new lines appear as they are written.
    // The last existing line comes first; once it is shown, the follower
    // has fixed its starting point and nothing written later is missed.
    let follower = LineStream::spawn(s.command(&["logs", "-f", "-n", "1", "api"]));
    let first = follower.next("the last existing line", T);
    assert!(first.ends_with("Traceback: boom"), "{first}");
    std::fs::write(s.path("more"), "").unwrap();
    let line = follower.next("the new line", T);
    assert!(line.ends_with(" api later"), "{line}");
    drop(follower);

    let bad = s.run(&["logs", "--since", "yesterday-ish"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid --since"));
}

#[test]
fn lines_that_cannot_be_written_are_counted_and_reported_not_lost_silently() {
    let s = Sandbox::new(
        r#"
[services.talker]
command = ["sh", "-c", "i=0; while [ ! -e stop ]; do i=$((i+1)); echo line $i; sleep 0.02; done; echo done; exec sleep 1000"]
"#,
    );
    // The log file's place is taken by a directory: every write fails, even as root.
    std::fs::create_dir_all(s.path(".backstop/logs/talker.log")).unwrap();
    let _daemon = s.up();
    wait_until("the failure reported", T, || {
        s.daemon_output().contains("cannot write").then_some(())
    });
    assert_eq!(
        s.service("talker")["state"],
        "running",
        "the service keeps running"
    );
    std::fs::remove_dir(s.path(".backstop/logs/talker.log")).unwrap();
    std::fs::write(s.path("stop"), "").unwrap();
    let text = wait_until("writing to resume", T, || {
        let text = s.stdout(&["logs", "talker", "-n", "1000"]);
        text.contains(" done").then_some(text)
    });
    let marker = text
        .lines()
        .find(|l| l.contains("[backstop] "))
        .expect(&text);
    assert!(
        marker.contains("lines (")
            && marker.contains("bytes) of output were lost here: cannot write "),
        "{marker}"
    );
    assert!(
        s.daemon_output()
            .contains("talker: output is being dropped: cannot write")
            && s.daemon_output()
                .contains("of output were lost: cannot write"),
        "{}",
        s.daemon_output()
    );
}
