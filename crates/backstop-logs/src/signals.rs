//! Error signals: which lines of a service's output are errors, counted per
//! minute, with a multi-line traceback counted once.
//!
//! A line matching an error pattern opens an *incident*. The lines that
//! follow it within a second and look like the rest of a stack trace
//! (indented lines, `Caused by:`, the `ValueError: …` summary of a Python
//! traceback, `goroutine 1 [running]:`, a chained `Traceback`) belong to the
//! same incident and are not counted again.
//!
//! Matching is done on a whole batch first: the usual batch has no error at
//! all and costs one pass of one automaton, not a match per line.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backstop_config::LogSettings;
use regex::bytes::{Regex, RegexBuilder};

/// The built-in error patterns, documented in docs/configuration.md.
pub const BUILTIN_ERROR_PATTERNS: &[&str] = &[
    // Python
    r"^Traceback \(most recent call last\):",
    // Log levels, plain and structured (`level=error`, `"level":"error"`)
    r"\b(ERROR|CRITICAL|FATAL|PANIC)\b",
    r#"\b(level|Level|LEVEL|severity|Severity|SEVERITY)"?\s*[=:]\s*"?(error|fatal|critical|panic|emerg|alert|Error|Fatal|Critical|Panic|ERROR|FATAL|CRITICAL|PANIC|EMERG|ALERT)\b"#,
    // Rust
    r"panicked at",
    r"^(error|fatal)(\[\w+\])?: ",
    // Go
    r"^panic: ",
    r"^fatal error: ",
    // Node.js and other JavaScript, Python exception summaries, Rust's `Error: …` from main
    r"^(Uncaught )?([A-Z]\w*)?Error(: |$)",
    r"\bUnhandledPromiseRejection",
    // Java and other JVM languages
    r#"^Exception in thread ""#,
    r"^[a-z][\w$]*(\.[\w$]+)+(Exception|Error)(: |$)",
    // The kernel or a shell about a crashed process
    r"\bSegmentation fault\b",
];

/// Every match of a built-in pattern contains one of these words, exactly
/// so written. A batch without any of them is skipped by a SIMD literal
/// search, many times faster than running the patterns' automaton over
/// every byte (the usual batch holds no error at all).
const BUILTIN_WORDS: &str = "error|Error|ERROR|fatal|Fatal|FATAL|critical|Critical|CRITICAL|panic|Panic|PANIC|Exception|Traceback|level|Level|LEVEL|severity|Severity|SEVERITY|Segmentation|Unhandled";

/// Lines that continue an open incident rather than start one.
const CONTINUATION: &str = concat!(
    r"^(\s|$)",
    r"|^Traceback \(most recent call last\):",
    r"|^During handling of the above exception",
    r"|^The above exception was the direct cause",
    r"|^Caused by: ",
    r"|^[\w$.]*(Error|Exception|Exit|Interrupt|Warning|Fault)\b",
    r"|^goroutine \d+ ",
    r"|^\[signal ",
    r"|^stack backtrace:",
    r"|^note: run with",
);

/// Lines of one incident arrive together; after this gap a new one begins.
const INCIDENT_GAP: Duration = Duration::from_secs(1);

/// The compiled patterns of one set of settings.
#[derive(Debug)]
pub struct ErrorPatterns {
    /// The literal prefilter and the built-in patterns.
    builtin: Option<(Regex, Regex)>,
    custom: Option<Regex>,
    ignore: Option<Regex>,
    continuation: Regex,
}

fn build(patterns: &[&str]) -> Result<Option<Regex>, regex::Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let joined: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
    // ASCII classes: smaller automata, and invalid UTF-8 in output still matches.
    RegexBuilder::new(&joined.join("|"))
        .multi_line(true)
        .unicode(false)
        .build()
        .map(Some)
}

impl ErrorPatterns {
    /// Compiles the patterns `settings` asks for. The config loader has
    /// already compiled each pattern, so an error here is a bug.
    pub fn new(settings: &LogSettings) -> Result<Self, regex::Error> {
        let builtin = if settings.builtin_error_patterns {
            let words = build(&[BUILTIN_WORDS])?.expect("not empty");
            build(BUILTIN_ERROR_PATTERNS)?.map(|all| (words, all))
        } else {
            None
        };
        let custom: Vec<&str> = settings.error_patterns.iter().map(String::as_str).collect();
        let ignore: Vec<&str> = settings
            .ignore_patterns
            .iter()
            .map(String::as_str)
            .collect();
        Ok(Self {
            builtin,
            custom: build(&custom)?,
            ignore: build(&ignore)?,
            continuation: build(&[CONTINUATION])?.expect("not empty"),
        })
    }

    /// Could `text` hold an error line at all?
    fn any_error(&self, text: &[u8]) -> bool {
        self.builtin
            .as_ref()
            .is_some_and(|(words, all)| words.is_match(text) && all.is_match(text))
            || self.custom.as_ref().is_some_and(|r| r.is_match(text))
    }

    /// True when `line` is an error line by these settings: a built-in or
    /// custom pattern matches, and no ignore pattern does.
    pub fn is_error(&self, line: &[u8]) -> bool {
        self.any_error(line) && !self.ignore.as_ref().is_some_and(|r| r.is_match(line))
    }
}

/// Finds error incidents in one stream of one service.
#[derive(Debug, Default)]
pub struct ErrorDetector {
    /// When the last line of an open incident arrived.
    open_until: Option<Instant>,
}

impl ErrorDetector {
    /// Scans `lines` (whole lines, each ending in `\n`) that arrived at
    /// `now`; calls `found` with the first line of each new incident.
    pub fn scan(
        &mut self,
        patterns: &ErrorPatterns,
        lines: &[u8],
        now: Instant,
        mut found: impl FnMut(&[u8]),
    ) {
        let open = self
            .open_until
            .is_some_and(|at| now.saturating_duration_since(at) < INCIDENT_GAP);
        if !open {
            self.open_until = None;
            if !patterns.any_error(lines) {
                return;
            }
        }
        let mut in_incident = open;
        for line in lines.split(|&b| b == b'\n') {
            if in_incident && patterns.continuation.is_match(line) {
                continue;
            }
            in_incident = false;
            if patterns.is_error(line) {
                found(line);
                in_incident = true;
            }
        }
        // The trailing empty piece after the last newline must not close an incident.
        self.open_until = in_incident.then_some(now);
    }
}

/// Longest error line kept for `status`.
const LAST_ERROR_MAX: usize = 300;

/// Counters of one service's output, shared by its capture tasks and read
/// by `status` (and later metrics and alerts).
#[derive(Debug, Default)]
pub struct LogStats {
    inner: Mutex<StatsInner>,
}

#[derive(Debug)]
struct StatsInner {
    lines: u64,
    bytes: u64,
    errors: u64,
    /// Error incidents per second for the last minute, by `second % 60`.
    per_second: [u32; 60],
    last_second: u64,
    last_error: Option<(SystemTime, String)>,
}

/// What [`LogStats`] knows at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Lines captured since the daemon started.
    pub lines: u64,
    /// Bytes captured since the daemon started.
    pub bytes: u64,
    /// Error incidents since the daemon started.
    pub errors: u64,
    /// Error incidents in the last 60 seconds.
    pub errors_last_minute: u32,
    /// The first line of the latest incident, and when it came.
    pub last_error: Option<(SystemTime, String)>,
}

impl Default for StatsInner {
    fn default() -> Self {
        Self {
            lines: 0,
            bytes: 0,
            errors: 0,
            per_second: [0; 60],
            last_second: 0,
            last_error: None,
        }
    }
}

fn unix_second(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl StatsInner {
    fn advance(&mut self, second: u64) {
        if second <= self.last_second {
            return;
        }
        let gap = (second - self.last_second).min(60);
        for s in 0..gap {
            self.per_second[((second - s) % 60) as usize] = 0;
        }
        self.last_second = second;
    }
}

impl LogStats {
    /// Counts captured output.
    pub fn add_output(&self, lines: u64, bytes: u64) {
        if let Ok(mut s) = self.inner.lock() {
            s.lines += lines;
            s.bytes += bytes;
        }
    }

    /// Counts one error incident whose first line is `line`.
    pub fn add_error(&self, at: SystemTime, line: &[u8]) {
        let Ok(mut s) = self.inner.lock() else { return };
        let second = unix_second(at);
        s.advance(second);
        s.errors += 1;
        let slot = &mut s.per_second[(second % 60) as usize];
        *slot = slot.saturating_add(1);
        let end = line.len().min(LAST_ERROR_MAX);
        let text = String::from_utf8_lossy(&line[..end]).trim_end().to_string();
        s.last_error = Some((at, text));
    }

    /// The counters now.
    pub fn snapshot(&self, now: SystemTime) -> StatsSnapshot {
        let Ok(mut s) = self.inner.lock() else {
            return StatsSnapshot::default();
        };
        s.advance(unix_second(now));
        StatsSnapshot {
            lines: s.lines,
            bytes: s.bytes,
            errors: s.errors,
            errors_last_minute: s.per_second.iter().sum(),
            last_error: s.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incidents(text: &str) -> Vec<String> {
        let patterns = ErrorPatterns::new(&LogSettings::default()).unwrap();
        let mut d = ErrorDetector::default();
        let mut found = Vec::new();
        let now = Instant::now();
        d.scan(&patterns, text.as_bytes(), now, |l| {
            found.push(String::from_utf8_lossy(l).into_owned());
        });
        found
    }

    #[test]
    fn a_python_traceback_counts_once_even_when_chained() {
        let text = "INFO started\n\
Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\n    main()\n\
KeyError: 'x'\n\nDuring handling of the above exception, another exception occurred:\n\n\
Traceback (most recent call last):\n  File \"app.py\", line 5, in <module>\n\
ValueError: bad\nINFO next request\n";
        assert_eq!(incidents(text), ["Traceback (most recent call last):"]);
    }

    #[test]
    fn a_logged_error_with_its_traceback_counts_once() {
        let text = "2026-11-22 10:00:00 ERROR app: request failed\n\
Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n\
requests.exceptions.ConnectionError: refused\n\
2026-11-22 10:00:01 ERROR app: again\n";
        assert_eq!(
            incidents(text),
            [
                "2026-11-22 10:00:00 ERROR app: request failed",
                "2026-11-22 10:00:01 ERROR app: again"
            ]
        );
    }

    #[test]
    fn other_runtimes_are_recognised() {
        let go = "panic: runtime error: index out of range [5] with length 3\n\n\
goroutine 1 [running]:\nmain.main()\n\t/app/main.go:5 +0x1d\nexit status 2\n";
        assert_eq!(incidents(go).len(), 1);
        let rust = "thread 'main' panicked at src/main.rs:2:5:\nboom\n\
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            incidents(rust),
            ["thread 'main' panicked at src/main.rs:2:5:"]
        );
        let node = "/app/server.js:3\n    throw new Error('boom');\n    ^\n\n\
Error: boom\n    at Object.<anonymous> (/app/server.js:3:11)\n    at node:internal/main:1:1\n\nNode.js v20.20.2\n";
        assert_eq!(incidents(node), ["Error: boom"]);
        let java = "Exception in thread \"main\" java.lang.IllegalStateException: boom\n\
\tat Main.main(Main.java:3)\nCaused by: java.io.IOException: disk\n\t... 5 more\n";
        assert_eq!(incidents(java).len(), 1);
        let structured =
            "{\"level\":\"error\",\"msg\":\"db down\"}\nlevel=info msg=ok\nlevel=error msg=x\n";
        assert_eq!(incidents(structured).len(), 2);
        let quiet = "INFO all good\nGET /health 200\nerrors: 0 so far\n";
        assert!(incidents(quiet).is_empty());
    }

    #[test]
    fn custom_and_ignored_patterns() {
        let settings = LogSettings {
            error_patterns: vec![r"^E\d{4} ".into()],
            ignore_patterns: vec!["expected in tests".into()],
            ..LogSettings::default()
        };
        let patterns = ErrorPatterns::new(&settings).unwrap();
        let mut d = ErrorDetector::default();
        let mut n = 0;
        d.scan(
            &patterns,
            b"E1234 disk\nok\nERROR expected in tests\n",
            Instant::now(),
            |_| n += 1,
        );
        assert_eq!(n, 1);
        let none = LogSettings {
            builtin_error_patterns: false,
            ..LogSettings::default()
        };
        let patterns = ErrorPatterns::new(&none).unwrap();
        d.scan(&patterns, b"ERROR x\n", Instant::now(), |_| n += 1);
        assert_eq!(n, 1);
    }

    #[test]
    fn an_incident_spans_batches_but_not_a_pause() {
        let patterns = ErrorPatterns::new(&LogSettings::default()).unwrap();
        let mut d = ErrorDetector::default();
        let t = Instant::now();
        let mut n = 0;
        d.scan(
            &patterns,
            b"Traceback (most recent call last):\n",
            t,
            |_| n += 1,
        );
        d.scan(&patterns, b"  File \"a.py\"\nValueError: x\n", t, |_| {
            n += 1;
        });
        assert_eq!(n, 1);
        d.scan(
            &patterns,
            b"ValueError: y\n",
            t + Duration::from_secs(5),
            |_| n += 1,
        );
        assert_eq!(n, 2);
    }

    #[test]
    fn stats_count_the_last_minute_only() {
        let stats = LogStats::default();
        let t = humantime::parse_rfc3339("2026-11-22T10:00:00Z").unwrap();
        stats.add_error(t, b"ERROR one");
        stats.add_error(t + Duration::from_secs(30), b"ERROR two");
        let s = stats.snapshot(t + Duration::from_secs(45));
        assert_eq!((s.errors, s.errors_last_minute), (2, 2));
        assert_eq!(s.last_error.unwrap().1, "ERROR two");
        let s = stats.snapshot(t + Duration::from_secs(75));
        assert_eq!((s.errors, s.errors_last_minute), (2, 1));
        let s = stats.snapshot(t + Duration::from_secs(500));
        assert_eq!(s.errors_last_minute, 0);
    }
}
