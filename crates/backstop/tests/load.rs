//! The API under load while services restart: about 1,000 requests a
//! second for 10 s, on the control socket and on TCP, each answer complete
//! and well-formed, and the daemon's memory flat from the first half of the
//! load to the second (no leak per request).

mod support;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Sandbox, free_port, rss_kb};

const T: Duration = Duration::from_secs(30);

const PATHS: [&str; 5] = [
    "/api/v1/services",
    "/health",
    "/metrics",
    "/api/v1/services/steady",
    "/api/v1/events?limit=20",
];

/// One request on a fresh connection; the whole answer.
fn ask(stream: &mut dyn ReadWrite, path: &str, token: Option<&str>) -> std::io::Result<String> {
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Whether `answer` to `path` is complete and well-formed.
fn well_formed(path: &str, answer: &str) -> Result<(), String> {
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{path}: no header end: {answer:.200}"))?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    let ok = status == "200" || path == "/health" && status == "503";
    if !ok {
        return Err(format!("{path}: status {status}: {answer:.300}"));
    }
    if let Some(length) = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-length: ")
            .map(str::to_string)
    }) {
        let length: usize = length.trim().parse().unwrap();
        if body.len() != length {
            return Err(format!("{path}: {} bytes of {length}", body.len()));
        }
    }
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_string()
    };
    let body = body.as_str();
    if path == "/metrics" {
        // The text format: complete lines, each sample `name{…} value`.
        let samples = body.lines().filter(|l| !l.starts_with('#'));
        let broken = samples.clone().find(|l| {
            l.rsplit_once(' ')
                .is_none_or(|(_, v)| v.parse::<f64>().is_err())
        });
        if !body.ends_with('\n') || samples.count() == 0 || broken.is_some() {
            return Err(format!("{path}: a broken sample: {broken:?}"));
        }
    } else if serde_json::from_str::<serde_json::Value>(body).is_err() {
        return Err(format!("{path}: not JSON: {body:.300}"));
    }
    Ok(())
}

/// A chunked body, joined; an error when it is cut short.
fn dechunk(mut rest: &str) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let (size, after) = rest
            .split_once("\r\n")
            .ok_or("a chunk without its size line")?;
        let size =
            usize::from_str_radix(size.trim(), 16).map_err(|e| format!("chunk size: {e}"))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = after.get(..size).ok_or("a chunk cut short")?;
        out.push_str(chunk);
        rest = after[size..]
            .strip_prefix("\r\n")
            .ok_or("a chunk without its end")?;
    }
}

/// `per_client` requests from each of 4 threads, each paced at 250 a
/// second (about 1,000 a second in all, on a machine fast enough; a loaded
/// one takes longer, never fewer); returns how many were answered well,
/// the failures, and the slowest answer.
fn burst(s: &Sandbox, port: u16, per_client: u32) -> (u64, Vec<String>, Duration) {
    let socket = s.path(".backstop/backstop.sock");
    let done = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let slowest = Arc::new(Mutex::new(Duration::ZERO));
    // 4 clients at 250 requests a second each: about 1,000 a second.
    let threads: Vec<_> = (0..4)
        .map(|client| {
            let (socket, done, failures, slowest) = (
                socket.clone(),
                done.clone(),
                failures.clone(),
                slowest.clone(),
            );
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut n: u32 = 0;
                while n < per_client {
                    let path = PATHS[(n as usize + client) % PATHS.len()];
                    let asked = Instant::now();
                    let answer = if client % 2 == 0 {
                        std::os::unix::net::UnixStream::connect(&socket).and_then(|mut c| {
                            c.set_read_timeout(Some(T))?;
                            ask(&mut c, path, None)
                        })
                    } else {
                        std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut c| {
                            c.set_read_timeout(Some(T))?;
                            ask(&mut c, path, Some("load-test-token-0123456789"))
                        })
                    };
                    let took = asked.elapsed();
                    {
                        let mut s = slowest.lock().unwrap();
                        *s = (*s).max(took);
                    }
                    match answer
                        .map_err(|e| format!("{path}: {e}"))
                        .and_then(|a| well_formed(path, &a))
                    {
                        Ok(()) => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                    n += 1;
                    // Pace the client (a load generator's rate, not a wait for a state).
                    let due = start + Duration::from_millis(4) * n;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    let slowest = *slowest.lock().unwrap();
    (done.load(Ordering::Relaxed), failures, slowest)
}

/// Requests per client per half of the load: 5 s at its pace.
const PER_CLIENT: u32 = 1_250;

#[test]
fn a_thousand_requests_a_second_while_services_restart_are_all_answered_and_leak_nothing() {
    let port = free_port();
    let s = Sandbox::new(&format!(
        r#"
[daemon]
listen = "127.0.0.1:{port}"
token_file = "token"

[services.steady]
command = "sleep 1000"

[services.flappy]
command = ["sh", "-c", "echo up; sleep 0.1; exit 1"]
restart = {{ backoff_initial = "50ms", backoff_max = "50ms", max_restarts = 100000 }}
"#
    ));
    s.write("token", "load-test-token-0123456789\n");
    let daemon = s.up();
    s.wait_state("steady", "running", T);
    let (first, failed, slow1) = burst(&s, port, PER_CLIENT);
    assert!(
        failed.is_empty(),
        "{} failures: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    let after_first = rss_kb(daemon.pid());
    let (second, failed, slow2) = burst(&s, port, PER_CLIENT);
    assert!(
        failed.is_empty(),
        "{} failures: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    let after_second = rss_kb(daemon.pid());
    let restarts = s.service("flappy")["restarts"].as_u64().unwrap();
    println!(
        "answered {first} + {second} requests; slowest {slow1:?} / {slow2:?}; RSS {after_first} kB after the first half, {after_second} kB after the second; {restarts} restarts meanwhile"
    );
    assert_eq!((first, second), (5_000, 5_000), "every request answered");
    assert!(restarts >= 10, "services restarted meanwhile: {restarts}");
    // Steady state: the second half of the load adds no memory (1 MB of
    // allocator slack allowed; a leak per request would be 5,000 × its size).
    assert!(
        after_second <= after_first + 1024,
        "RSS grew from {after_first} kB to {after_second} kB over 5 s of the same load"
    );
}
