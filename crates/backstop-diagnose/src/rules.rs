//! The cause rules: data, one entry per cause id, each with the phrasings
//! that show it. Patterns use Rust's `regex` syntax; named groups fill the
//! summary template (`{module}`, `{port}`, `{target}`, `{path}`, …).

/// One cause and how to recognise it.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The stable cause id.
    pub id: &'static str,
    /// How sure a match makes us, 0 to 1.
    pub confidence: f64,
    /// Any of these, in any evidence line.
    pub patterns: &'static [&'static str],
    /// The one-line summary; `{group}` is replaced by a named group.
    pub summary: &'static str,
    /// What fixes it, by hand.
    pub remedy: &'static str,
}

/// What fixes cause `id` by hand: the remedy of its first rule, else a
/// general one.
pub fn remedy_of(id: &str) -> &'static str {
    match id {
        "resource-limit" => {
            "raise the limit (`limits = { nofile = 65536 }`, `ulimit -n`, `pids_max`), or find what holds so many files or processes (`ls /proc/PID/fd | wc -l`)"
        }
        _ => RULES
            .iter()
            .find(|r| r.id == id)
            .map_or("read the quoted lines and 05-logs.txt", |r| r.remedy),
    }
}

/// Every rule, most specific first where phrasings overlap.
pub const RULES: &[Rule] = &[
    Rule {
        id: "import-cycle",
        confidence: 0.97,
        patterns: &[
            r"cannot import name '(?P<name>[^']+)' from partially initialized module '(?P<module>[^']+)'",
            r"import cycle not allowed",
            r"(?i)circular (import|dependency).*?'?(?P<module>[\w./-]+)?'?",
        ],
        summary: "a circular import: `{module}` is imported while it is still initialising",
        remedy: "move the import inside the function that needs it, or the shared code to a third module",
    },
    Rule {
        id: "missing-module",
        confidence: 0.95,
        patterns: &[
            r"ModuleNotFoundError: No module named '(?P<module>[^']+)'",
            r"ImportError: No module named '?(?P<module>[\w.]+)'?",
            r"Error: Cannot find module '(?P<module>[^']+)'",
            r"Error \[ERR_MODULE_NOT_FOUND\]: Cannot find (package|module) '(?P<module>[^']+)'",
            r"cannot find package \x22?(?P<module>[^\x22 ]+)",
            r"no required module provides package (?P<module>\S+)",
            r"java\.lang\.(ClassNotFoundException|NoClassDefFoundError): (?P<module>[\w.$/]+)",
            r"Could not find or load main class (?P<module>[\w.$]+)",
        ],
        summary: "the runtime cannot import `{module}`",
        remedy: "install it in the environment the service runs in (the venv, node_modules), or fix the module path / PYTHONPATH / `dir`",
    },
    Rule {
        id: "missing-module",
        confidence: 0.95,
        // gunicorn, and uvicorn's "Attribute "app" not found in module "main"."
        patterns: &[
            r"Failed to find (?:attribute|application object) '(?P<name>[^']+)' in '(?P<module>[^']+)'",
            r#"Attribute "(?P<name>[^"]+)" not found in module "(?P<module>[^"]+)""#,
        ],
        summary: "the runtime cannot import `{module}:{name}`: module `{module}` has no `{name}`",
        remedy: "fix the application path (`module:attribute`) in the command, or the name in the module",
    },
    Rule {
        id: "missing-module",
        confidence: 0.95,
        patterns: &[r#"Could not import module "(?P<module>[^"]+)""#],
        summary: "the runtime cannot import `{module}`",
        remedy: "fix the module name in the command (`module:app`), or the service's `dir` / PYTHONPATH",
    },
    Rule {
        id: "workdir-missing",
        confidence: 0.99,
        // backstop's own spawn failure.
        patterns: &[r"working directory does not exist: (?P<path>\S+)"],
        summary: "the service's dir {path} does not exist",
        remedy: "restore the directory (a release symlink pointing at a removed release: re-point it), or fix `dir`",
    },
    Rule {
        id: "command-not-found",
        confidence: 0.95,
        patterns: &[r"Unable to access jarfile (?P<program>\S+)"],
        summary: "the program `{program}` does not exist",
        remedy: "check `command`: the path of the jar, the release it points into, the service's `dir`",
    },
    Rule {
        id: "syntax-error",
        confidence: 0.96,
        // esbuild (tsx, ts-node's swc, bundlers): `src/routes.ts:17:5: ERROR: Expected ")"`.
        patterns: &[r"(?P<file>\S+\.[cm]?[jt]sx?):(?P<line>\d+):(?P<col>\d+): ERROR: (?P<what>.+)"],
        summary: "the code does not parse: {what} ({file}:{line}:{col})",
        remedy: "fix the syntax error at the file and line quoted; `tsc --noEmit` or `node --check` confirm it",
    },
    Rule {
        id: "missing-module",
        confidence: 0.95,
        // javac (and `java File.java`): an import of a package the class path lacks.
        patterns: &[
            r"^(?P<file>\S+\.java):(?P<line>\d+): error: package (?P<module>[\w.]+) does not exist",
        ],
        summary: "the runtime cannot import `{module}` ({file}:{line}): the jar is not on the class path",
        remedy: "add the jar that provides the package to the class path (`-cp`), or fix the import",
    },
    Rule {
        id: "syntax-error",
        confidence: 0.93,
        // javac (and `java File.java`): `DiscountRules.java:5: error: ';' expected`;
        // the first of its run of errors is the fault.
        patterns: &[r"^(?P<file>\S+\.java):(?P<line>\d+): error: (?P<what>.+)"],
        summary: "the code does not compile: {what} ({file}:{line})",
        remedy: "fix the error at the file and line quoted; `javac FILE` confirms it",
    },
    Rule {
        id: "syntax-error",
        confidence: 0.93,
        // Ruby: `digest.rb:27: syntax error, unexpected `end'`.
        patterns: &[
            r"^(?P<file>\S+\.rb):(?P<line>\d+): (?P<what>syntax errors? found|syntax error, .+)",
        ],
        summary: "the code does not parse: {what} ({file}:{line})",
        remedy: "fix the syntax error at the file and line quoted; `ruby -c FILE` confirms it",
    },
    Rule {
        id: "syntax-error",
        confidence: 0.93,
        // Perl's last word after its list of errors (the first is the one).
        patterns: &[r"^Execution of (?P<file>\S+) aborted due to compilation errors"],
        summary: "the script {file} does not parse: compilation errors (the first is quoted in the evidence)",
        remedy: "fix the first error quoted in the evidence; `perl -c FILE` confirms it",
    },
    Rule {
        id: "syntax-error",
        confidence: 0.9,
        patterns: &[
            r"^\s*(SyntaxError|IndentationError|TabError): (?P<what>.+)",
            r"SyntaxError: (?P<what>Unexpected .+|missing .+|Invalid .+)",
            r"syntax error: (?P<what>.+)",
            r"error: (?P<what>'.' expected|class, interface, enum, or record expected)",
        ],
        summary: "the code does not parse: {what}",
        remedy: "fix the syntax error at the file and line quoted in the evidence; `python -m py_compile` or `node --check` confirm it",
    },
    Rule {
        id: "command-not-found",
        confidence: 0.95,
        patterns: &[
            r"command not found: (?P<program>\S+)",
            r"^(?:\S+: )?(?:(?:line )?\d+: )?(?P<program>[\w./-]+): (command )?not found",
            r"exec: \x22(?P<program>[^\x22]+)\x22: executable file not found",
            // `bash: /opt/app/bin/run: No such file or directory`, not
            // `cannot create /var/spool/x: No such file or directory`.
            r"^(?:[\w.-]+: )?(?:line \d+: )?(?P<program>/\S+): No such file or directory$",
            r"env: '?(?P<program>[^':]+)'?: No such file or directory",
            r"can't open file '(?P<program>[^']+)': \[Errno 2\]",
        ],
        summary: "the program `{program}` does not exist or is not executable",
        remedy: "check `command`: the path, the venv (`venv/bin/…`), or the service's PATH",
    },
    Rule {
        id: "env-file-missing",
        confidence: 0.95,
        patterns: &[
            r"cannot read env file (?P<path>\S+): no such file",
            r"(?i)(\.env|env file) (?P<path>\S*)\s*(not found|does not exist|is missing)",
        ],
        summary: "the env file {path} is missing",
        remedy: "create it (from `.env.example` if there is one), or fix `env_file`",
    },
    Rule {
        id: "dependency-auth-failed",
        confidence: 0.92,
        patterns: &[
            r#"password authentication failed for user "?[^"\s]+"?"#,
            r"(?:WRONGPASS|NOAUTH) ",
            r"invalid username-password pair",
            r"Access denied for user '(?P<target>[^']+)'",
            r"(?i)authentication failed.*?(?P<target>(postgres|redis|mysql|mongo)\w*)",
        ],
        summary: "the credentials are rejected by {target}",
        remedy: "compare the password in the env file with the server's; rotate both together",
    },
    Rule {
        id: "port-in-use",
        confidence: 0.95,
        patterns: &[
            r"port (?P<port>\d+) is already in use by (?P<holder>pid \d+.*)",
            r"EADDRINUSE: address already in use (?:(?P<addr>\S*):)?(?P<port>\d+)",
            r"listen tcp (?P<addr>\S*?):(?P<port>\d+): bind: address already in use",
            r"bind on address \('(?P<addr>[^']*)', (?P<port>\d+)\).*address already in use",
            r"(?i)\[Errno 98\].*?(?P<port>\d{2,5})?.*address already in use",
            r"(?i)(java\.net\.BindException|OSError|Error): address already in use",
            r"Address already in use \(os error 98\)",
            r"(?i)address already in use",
        ],
        summary: "the port {port} is already in use",
        remedy: "stop the process that holds the port (04-ports.txt names it) or change the port; a stale instance of this service is stopped by backstop itself before each start when the service declares `port`",
    },
    Rule {
        id: "disk-full",
        confidence: 0.9,
        patterns: &[
            r"No space left on device",
            r"ENOSPC",
            r"\[Errno 28\]",
            r"could not extend file .*: No space left",
            r"^filesystem of (?P<path>\S+) is full",
        ],
        summary: "no space left where the service writes",
        remedy: "free space (old logs, temp files, docker images); `df -h` names the full filesystem",
    },
    Rule {
        id: "out-of-memory",
        confidence: 0.99,
        patterns: &[r"(?P<detail>RSS [\d.]+ \w+ above memory_max [\d.]+ \w+)"],
        summary: "it went over its memory limit and was restarted: {detail}",
        remedy: "find the growth (the `memory-max` events show each restart), then raise `memory_max` if the service simply needs more, or fix the leak",
    },
    Rule {
        id: "out-of-memory",
        confidence: 0.99,
        // backstop's `oom-killed` event (cgroup mode).
        patterns: &[r"killed by the kernel's OOM killer \((?P<detail>oom-kill at [^;)]+)"],
        summary: "the kernel's OOM killer killed it at its cgroup's memory limit: {detail}",
        remedy: "find the growth, then raise `limits.memory_max` if the service simply needs more, or fix the leak; `memory_warn` below it warns first",
    },
    Rule {
        id: "out-of-memory",
        confidence: 0.85,
        patterns: &[
            r"^MemoryError",
            r"JavaScript heap out of memory",
            r"java\.lang\.OutOfMemoryError",
            r"fatal error: runtime: out of memory",
            r"memory allocation of \d+ bytes failed",
            r"Out of memory: Killed process (?P<pid>\d+)",
            r"went over its memory_max",
            r"over memory_max",
            r"(?i)oom[- ]?kill",
        ],
        summary: "it ran out of memory: {line}",
        remedy: "find the growth (`backstop status` shows the tree's memory over time in the events), raise `memory_max` or the machine's memory, or reduce workers",
    },
    Rule {
        id: "dependency-unavailable",
        confidence: 0.8,
        patterns: &[
            r"^dependency (?P<target>`[^`]+`) is unavailable",
            r#"connection to server at "(?P<target>[^"]+)"(, port (?P<port>\d+))? failed"#,
            r"could not connect to server: (Connection refused|No such file or directory)",
            r"Error \d+ connecting to (?P<target>[\w.-]+:\d+)",
            r"Could not connect to Redis at (?P<target>\S+?):? Connection refused",
            r"connect ECONNREFUSED (?P<target>[\w.:\[\]-]+)",
            r"dial tcp (?P<target>[\w.:\[\]-]+): connect: connection refused",
            r"Connection to (?P<target>[\w.-]+:\d+) refused",
            r"(?i)(connection refused|ETIMEDOUT|timed out connecting|could not translate host name)",
        ],
        summary: "a dependency refuses or times out: {target}",
        remedy: "start the dependency (`backstop start NAME` if backstop runs it) and add it to `depends_on` with \"healthy\"",
    },
    Rule {
        id: "permission-denied",
        confidence: 0.7,
        patterns: &[
            r"PermissionError: \[Errno 13\] Permission denied: '(?P<path>[^']+)'",
            r"EACCES: permission denied, \w+ '(?P<path>[^']+)'",
            r"open (?P<path>\S+): permission denied",
            r"java\.nio\.file\.AccessDeniedException: (?P<path>\S+)",
            r"permission denied: cannot execute (?P<path>\S+)",
            r"can't open file '(?P<path>[^']+)': \[Errno 13\] Permission denied",
            r"(?i)bind: permission denied",
            r"Permission denied \(os error 13\)",
        ],
        summary: "access denied: {path}",
        remedy: "check the owner and mode of the path against the service's `user`; ports below 1024 need root or CAP_NET_BIND_SERVICE",
    },
    Rule {
        id: "missing-config",
        confidence: 0.9,
        patterns: &[r"env file (?P<path>\S+) is not valid dotenv syntax: (?P<why>.+)"],
        summary: "the env file {path} is not valid: {why}",
        remedy: "fix the line it names: `KEY=value`, one per line, values with spaces in quotes",
    },
    Rule {
        id: "missing-config",
        confidence: 0.85,
        // A program's own words: `invalid config /etc/feedsync.xml: XML syntax error …`.
        patterns: &[r"(?i)\binvalid config(?:uration)?(?: file)? (?P<path>/[^\s:]+):? (?P<why>.+)"],
        summary: "the configuration {path} is invalid: {why}",
        remedy: "fix the file at the line the evidence quotes",
    },
    Rule {
        id: "missing-config",
        confidence: 0.85,
        // Perl's Config::General: `The file "/etc/x.conf" does not exist within ConfigPath`.
        patterns: &[r#"The file "(?P<path>[^"]+)" does not exist"#],
        summary: "the configuration {path} does not exist",
        remedy: "restore the file, or point the service at the right one",
    },
    Rule {
        id: "missing-config",
        confidence: 0.85,
        patterns: &[
            r"(?i)missing required (?:setting|option|key|value) (?P<name>.+?) in (?P<path>/\S+)",
        ],
        summary: "a required setting is missing: {name} (in {path})",
        remedy: "set it in the file named",
    },
    Rule {
        id: "missing-config",
        confidence: 0.75,
        patterns: &[
            r"KeyError: '(?P<name>[A-Z][A-Z0-9_]+)'",
            r"(?i)environment variable (?P<name>[A-Z][A-Z0-9_]+) (is )?(not set|missing|required|undefined)",
            r"(?i)missing (required )?(environment variable|env var|setting)s?:? (?P<name>[A-Z][A-Z0-9_]+)",
            r"required key (?P<name>\w+) missing value",
            r"(?m)^(?P<name>[a-z_][a-z0-9_.]*)\s*\n\s*[Ff]ield required",
            r"environment variable not found",
        ],
        summary: "a required setting is missing: {name}",
        remedy: "set it in the env file or `env` (the names of what is set are in `08-environment.txt`)",
    },
    Rule {
        id: "startup-timeout",
        confidence: 0.6,
        // backstop's own `startup-timeout` event.
        patterns: &[r"no health check passed within its startup period"],
        summary: "alive, but never healthy within its startup period",
        remedy: "look at the failing check's detail; raise `startup` if it is only slow",
    },
    Rule {
        id: "unhealthy",
        confidence: 0.5,
        patterns: &[
            // backstop's `check-failing` event and diagnose's own run of the check.
            r"^(?:[\w.-]+: )?check (?P<check>\S+) (?:fails|fails now): (?P<detail>.+)",
        ],
        summary: "its check {check} fails: {detail}",
        remedy: "the check's detail says what it saw; `backstop check` runs it again now",
    },
];

#[cfg(test)]
mod tests {
    use crate::{Diagnoser, Evidence};

    static DIAGNOSER: std::sync::OnceLock<Diagnoser> = std::sync::OnceLock::new();

    /// A `[[remediate]]` rule may name every cause a rule can find (the
    /// config reader checks `when` against that list).
    #[test]
    fn every_cause_id_is_one_a_remediation_rule_may_name() {
        for rule in super::RULES {
            assert!(
                backstop_config::Trigger::parse(rule.id).is_some(),
                "{} is not in backstop_config::remediate::CAUSE_IDS",
                rule.id
            );
        }
    }

    fn first(lines: &[&str]) -> (String, String) {
        let evidence: Vec<Evidence> = lines
            .iter()
            .enumerate()
            .map(|(i, t)| Evidence {
                source: "logs/api.log".into(),
                line: Some(i + 1),
                text: (*t).to_string(),
            })
            .collect();
        let c = DIAGNOSER
            .get_or_init(Diagnoser::new)
            .diagnose(&evidence)
            .remove(0);
        (c.id, c.summary)
    }

    #[track_caller]
    fn is(lines: &[&str], id: &str, summary_has: &str) {
        let (got, summary) = first(lines);
        assert_eq!(got, id, "{lines:?}");
        assert!(summary.contains(summary_has), "{summary}");
    }

    #[test]
    fn javac_names_its_first_error_by_file_and_line() {
        // `java File.java` compiles first; each error is followed by the
        // source line and a caret, so the run is not of adjacent lines.
        let run = [
            "Rules.java:5: error: ';' expected",
            "    LOG.info(\"loading\")",
            "                      ^",
            "Rules.java:9: error: illegal start of expression",
            "    }",
            "    ^",
            "2 errors",
            "error: compilation failed",
        ];
        is(&run, "syntax-error", "';' expected (Rules.java:5)");
        is(
            &[
                "Mailer.java:3: error: package jakarta.mail does not exist",
                "import jakarta.mail.Session;",
                "                   ^",
                "1 error",
            ],
            "missing-module",
            "`jakarta.mail` (Mailer.java:3)",
        );
    }

    #[test]
    fn modules_and_imports() {
        is(
            &[
                "Traceback (most recent call last):",
                "  File \"main.py\", line 1, in <module>",
                "ModuleNotFoundError: No module named 'backend'",
            ],
            "missing-module",
            "`backend`",
        );
        is(
            &[
                "Error: Cannot find module 'express'",
                "Require stack:",
                "- /app/server.js",
            ],
            "missing-module",
            "`express`",
        );
        is(
            &["main.go:4:2: no required module provides package github.com/lib/pq; to add it:"],
            "missing-module",
            "github.com/lib/pq",
        );
        is(
            &["Exception in thread \"main\" java.lang.NoClassDefFoundError: com/example/App"],
            "missing-module",
            "com/example/App",
        );
        is(
            &[
                "ImportError: cannot import name 'db' from partially initialized module 'app' (most likely due to a circular import) (/srv/app/__init__.py)",
            ],
            "import-cycle",
            "`app`",
        );
        is(
            &[
                "package example.com/a",
                "\timports example.com/b",
                "\timports example.com/a: import cycle not allowed",
            ],
            "import-cycle",
            "circular",
        );
    }

    #[test]
    fn syntax_and_commands() {
        is(
            &[
                "  File \"/srv/main.py\", line 12",
                "    def f(:",
                "SyntaxError: invalid syntax",
            ],
            "syntax-error",
            "invalid syntax",
        );
        is(
            &["/app/server.js:3", "SyntaxError: Unexpected token '}'"],
            "syntax-error",
            "Unexpected token",
        );
        is(
            &["command not found: uvicorn (not in PATH=/usr/bin:/bin)"],
            "command-not-found",
            "`uvicorn`",
        );
        is(
            &["sh: 1: gunicorn: not found"],
            "command-not-found",
            "`gunicorn`",
        );
        is(
            &["exec: \"server\": executable file not found in $PATH"],
            "command-not-found",
            "`server`",
        );
        is(
            &["python3: can't open file '/srv/app/main.py': [Errno 2] No such file or directory"],
            "command-not-found",
            "/srv/app/main.py",
        );
        is(
            &["cannot read env file /srv/app/.env: no such file"],
            "env-file-missing",
            "/srv/app/.env",
        );
    }

    #[test]
    fn ports_and_dependencies() {
        is(
            &[
                "ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 8000): address already in use",
            ],
            "port-in-use",
            "8000",
        );
        is(
            &["Error: listen EADDRINUSE: address already in use :::3000"],
            "port-in-use",
            "3000",
        );
        is(
            &["Error: listen EADDRINUSE: address already in use 127.0.0.1:46451"],
            "port-in-use",
            "port 46451 is",
        );
        is(
            &["2026/11/22 10:00:00 listen tcp :8080: bind: address already in use"],
            "port-in-use",
            "8080",
        );
        is(
            &["port 8000 is already in use by pid 4242 (python3 -m http.server 8000)"],
            "port-in-use",
            "8000",
        );
        is(
            &["Caused by: java.net.BindException: Address already in use"],
            "port-in-use",
            "already in use",
        );
        is(
            &[
                "psycopg2.OperationalError: connection to server at \"127.0.0.1\", port 5432 failed: Connection refused",
            ],
            "dependency-unavailable",
            "127.0.0.1",
        );
        is(
            &[
                "redis.exceptions.ConnectionError: Error 111 connecting to localhost:6379. Connection refused.",
            ],
            "dependency-unavailable",
            "localhost:6379",
        );
        is(
            &["Could not connect to Redis at 127.0.0.1:6379: Connection refused"],
            "dependency-unavailable",
            "127.0.0.1:6379",
        );
        is(
            &[
                "psql: error: connection to server at \"127.0.0.1\", port 5432 failed: Connection refused",
                "\tIs the server running on that host and accepting TCP/IP connections?",
            ],
            "dependency-unavailable",
            "127.0.0.1",
        );
        is(
            &[
                "thread 'main' panicked at src/main.rs:9:47: called `Result::unwrap()` on an `Err` value: Os { code: 98, kind: AddrInUse, message: \"Address already in use\" }",
            ],
            "port-in-use",
            "already in use",
        );
        is(
            &["Error: connect ECONNREFUSED 127.0.0.1:5432"],
            "dependency-unavailable",
            "127.0.0.1:5432",
        );
        is(
            &["dial tcp 127.0.0.1:6379: connect: connection refused"],
            "dependency-unavailable",
            "127.0.0.1:6379",
        );
        is(
            &[
                "psycopg2.OperationalError: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"app\"",
            ],
            "dependency-auth-failed",
            "rejects the credentials",
        );
        is(
            &[
                "redis.exceptions.AuthenticationError: WRONGPASS invalid username-password pair or user is disabled.",
            ],
            "dependency-auth-failed",
            "rejects the credentials",
        );
    }

    #[test]
    fn resources_and_settings() {
        is(
            &["RSS 512.3 MB above memory_max 480.0 MB; restarting"],
            "out-of-memory",
            "restarted: RSS 512.3 MB above memory_max 480.0 MB",
        );
        is(
            &["Traceback (most recent call last):", "MemoryError"],
            "out-of-memory",
            "memory",
        );
        is(
            &["FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"],
            "out-of-memory",
            "memory",
        );
        is(
            &["Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space"],
            "out-of-memory",
            "memory",
        );
        is(
            &["OSError: [Errno 28] No space left on device: '/var/lib/app/upload.tmp'"],
            "disk-full",
            "space",
        );
        is(
            &["PermissionError: [Errno 13] Permission denied: '/var/log/app/app.log'"],
            "permission-denied",
            "/var/log/app/app.log",
        );
        is(
            &["python3: can't open file '/srv/app/app.py': [Errno 13] Permission denied"],
            "permission-denied",
            "/srv/app/app.py",
        );
        is(
            &["Error: EACCES: permission denied, open '/etc/app/secret.json'"],
            "permission-denied",
            "/etc/app/secret.json",
        );
        is(
            &[
                "env file /srv/app/.env is not valid dotenv syntax: Error parsing line: 'export = 1', error at line index: 7",
            ],
            "missing-config",
            "the env file /srv/app/.env is not valid: Error parsing line",
        );
        is(
            &["  File \"settings.py\", line 3", "KeyError: 'DATABASE_URL'"],
            "missing-config",
            "DATABASE_URL",
        );
        is(
            &[
                "pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings",
                "database_url",
                "  Field required [type=missing, input_value={}, input_type=dict]",
            ],
            "missing-config",
            "database_url",
        );
    }

    #[test]
    fn the_last_specific_cause_wins_and_nothing_known_is_crashed() {
        // A refused connection, then the real reason: an import error.
        let (id, _) = first(&[
            "ModuleNotFoundError: No module named 'redis'",
            "Error: connect ECONNREFUSED 127.0.0.1:6379",
        ]);
        assert_eq!(id, "missing-module", "more certain beats later");
        let odd = |t: &str| Evidence {
            source: "05-logs.txt".into(),
            line: Some(1),
            text: t.into(),
        };
        let lines = [odd("starting"), odd("something odd happened")];
        assert!(
            Diagnoser::new().diagnose(&lines).is_empty(),
            "no rule matches"
        );
        let c = crate::crashed(&lines, Some("code 3"));
        assert_eq!(c.id, "crashed");
        assert!(c.summary.contains("(code 3)"), "{}", c.summary);
        assert!(
            c.summary.ends_with("something odd happened"),
            "{}",
            c.summary
        );
        let repeated = [odd("boom"), odd("boom"), odd("boom")];
        assert_eq!(
            crate::crashed(&repeated, None).evidence.len(),
            1,
            "a repeat is quoted once"
        );
    }
}
