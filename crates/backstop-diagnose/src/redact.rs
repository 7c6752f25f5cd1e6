//! Redaction: what a diagnostic bundle must never contain.
//!
//! Three layers, applied to every line of every bundle file:
//! 1. **Known values**: the values of secret-named variables and of every
//!    variable from the service's env file, wherever they appear (a log
//!    line that prints the password, a command line, a probe detail).
//! 2. **Passwords inside URLs and DSNs**: `postgres://app:s3cret@db/x`
//!    becomes `postgres://app:***@db/x`.
//! 3. **Secret-named assignments** in free text: `password=…`,
//!    `"api_key": "…"`, `Authorization: Bearer …`, `--token=…`,
//!    `--password …`.
//!
//! A name suggests a secret when it contains `SECRET`, `PASSWORD`,
//! `PASSWD`, `TOKEN`, `CREDENTIAL`, `APIKEY`/`API_KEY`, `AUTHORIZATION`,
//! or has `KEY`, `AUTH`, `PASS`, `PWD`, `PRIVATE`, `COOKIE` or `SALT` as
//! one of its `_`/`-`/`.`-separated words (so `KeyError` and `monkey` are
//! not secrets, `SECRET_KEY` and `db.pass` are).

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::bytes::Regex as BytesRegex;

/// What replaces a secret.
pub const MASK: &str = "***";

/// Substrings that make any name a secret's.
const SECRET_PARTS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "token",
    "credential",
    "apikey",
    "api_key",
    "authorization",
];

/// Whole words (between `_`, `-`, `.`) that make a name a secret's.
const SECRET_WORDS: &[&str] = &["key", "auth", "pass", "pwd", "private", "cookie", "salt"];

/// Known secret values shorter than this are not searched for in free
/// text (a 2-character value would mask every other word); they are still
/// masked where they are shown as a variable's value.
const MIN_KNOWN_VALUE: usize = 4;

/// Values from the env file whose names do not suggest a secret are only
/// searched for in free text when at least this long: `DEBUG=true` and
/// `WORKERS=4` must not mask every "true" and "4" in the logs.
const MIN_PLAIN_VALUE: usize = 8;

/// True when `name` (a variable, a config key, a header) suggests a secret.
pub fn is_secret_name(name: &str) -> bool {
    // The shell's working directories, not passwords.
    if matches!(name, "PWD" | "OLDPWD") {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    let lower = lower.trim_start_matches('-');
    SECRET_PARTS.iter().any(|p| lower.contains(p))
        || lower
            .split(['_', '-', '.'])
            .any(|word| SECRET_WORDS.contains(&word))
}

/// Masks secrets in text. Build one per bundle with every known value.
#[derive(Clone, Debug)]
pub struct Redactor {
    known: Vec<String>,
    matcher: Option<AhoCorasick>,
    url_password: BytesRegex,
    assignment: BytesRegex,
    flag: BytesRegex,
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

impl Redactor {
    /// A redactor that knows no values yet (URL and assignment rules apply).
    pub fn new() -> Self {
        Self {
            known: Vec::new(),
            matcher: None,
            // scheme://user:password@ — the password may hold anything but `@` and spaces.
            url_password: ascii_regex(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@"),
            // name = value, name: value, "name": "value", --name=value.
            assignment: ascii_regex(
                r#"(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)(?P<sep>["']?\s*[:=]\s*["']?)(?P<value>(?:(?:Bearer|Basic|Token)\s+)?[^\s"',;&}]+)"#,
            ),
            // --name value (the `=` form is an assignment).
            flag: ascii_regex(
                r#"(?P<flag>--[A-Za-z][A-Za-z0-9_-]*)(?P<sep>\s+)(?P<value>[^\s"',;&}-][^\s"',;&}]*)"#,
            ),
        }
    }

    /// Remembers the value of variable `name`; `from_env_file` values are
    /// secrets whatever their name.
    pub fn learn(&mut self, name: &str, value: &str, from_env_file: bool) {
        let value = value.trim();
        let wanted = if is_secret_name(name) {
            value.len() >= MIN_KNOWN_VALUE
        } else {
            from_env_file && value.len() >= MIN_PLAIN_VALUE && !value.contains(['/', ' '])
        };
        if wanted {
            self.remember(value);
        }
    }

    /// Remembers a secret value, such as a bearer token read from a file.
    pub fn learn_value(&mut self, value: &str) {
        let value = value.trim();
        if value.len() >= MIN_KNOWN_VALUE {
            self.remember(value);
        }
    }

    /// Remembers the password inside a URL or DSN (`scheme://user:pw@…`),
    /// as written and percent-decoded, so that it is masked wherever it
    /// appears on its own.
    pub fn learn_url(&mut self, url: &str) {
        let Some((_, rest)) = url.split_once("://") else {
            return;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let Some((userinfo, _)) = authority.rsplit_once('@') else {
            return;
        };
        if let Some((_, password)) = userinfo.split_once(':') {
            self.learn_value(password);
            self.learn_value(&percent_decode(password));
        }
    }

    /// Remembers secrets on a command line: the value of a secret-named
    /// flag (`--password X`, `--token=X`, `--requirepass X`) and URL passwords.
    pub fn learn_command(&mut self, words: &[String]) {
        for (i, word) in words.iter().enumerate() {
            self.learn_url(word);
            let Some(flag) = word.strip_prefix('-') else {
                continue;
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (flag, None),
            };
            let name = name.trim_start_matches('-');
            if is_secret_name(name) || name.to_ascii_lowercase().ends_with("pass") {
                match inline {
                    Some(v) => self.learn_value(v),
                    None => {
                        if let Some(next) = words.get(i + 1).filter(|n| !n.starts_with('-')) {
                            self.learn_value(next);
                        }
                    }
                }
            }
        }
    }

    /// How many secret values it knows (to tell whether learning added one).
    pub fn known_values(&self) -> usize {
        self.known.len()
    }

    /// Also knows every value `other` knows (a reload keeps masking the
    /// secrets of the config it replaces: their processes may still print them).
    pub fn absorb(&mut self, other: &Redactor) {
        for value in &other.known {
            self.remember(value);
        }
    }

    fn remember(&mut self, value: &str) {
        if self.known.iter().any(|k| k == value) {
            return;
        }
        self.known.push(value.to_string());
        self.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&self.known)
            .ok();
    }

    /// `text` with every secret masked.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out: Cow<'a, str> = Cow::Borrowed(text);
        if let Some(m) = &self.matcher
            && m.is_match(out.as_ref())
        {
            out = Cow::Owned(m.replace_all(out.as_ref(), &vec![MASK; self.known.len()]));
        }
        if self.url_password.is_match(out.as_bytes()) {
            let masked = self
                .url_password
                .replace_all(out.as_bytes(), format!("${{head}}{MASK}@").as_bytes());
            out = Cow::Owned(utf8(&masked));
        }
        let secret_key = |c: &regex::bytes::Captures<'_>| is_secret_name(&text_of(&c["key"]));
        out = mask_values(&self.assignment, out, "key", secret_key);
        let secret_flag = |c: &regex::bytes::Captures<'_>| {
            let flag = text_of(&c["flag"]);
            let name = flag.trim_start_matches('-');
            is_secret_name(name) || name.to_ascii_lowercase().ends_with("pass")
        };
        out = mask_values(&self.flag, out, "flag", secret_flag);
        out
    }

    /// The value of variable `name` as a bundle shows it: masked when the
    /// name suggests a secret or the value came from the env file.
    pub fn show_value(&self, name: &str, value: &str, from_env_file: bool) -> String {
        if from_env_file || is_secret_name(name) {
            MASK.to_string()
        } else {
            self.redact(value).into_owned()
        }
    }
}

impl Redactor {
    /// Every secret a config carries: the variables of each service's env
    /// file, secret-named `env` entries of services and `[checks]`, URL
    /// passwords anywhere in them, secret flags of commands, probe URLs
    /// and headers, and the API token. This is what the daemon's outward
    /// texts (events, the API, `/health`, alerts, `daemon.log`) are passed
    /// through; a bundle adds what only a running process shows.
    pub fn for_config(config: &backstop_config::Config) -> Self {
        let mut r = Self::new();
        for s in &config.services {
            if let Some(file) = &s.env_file {
                r.learn_env_file(file);
            }
            r.learn_command(&s.command);
            for (k, v) in &s.env.0 {
                r.learn(k, v, false);
                r.learn_url(v);
            }
        }
        for c in &config.checks {
            for (k, v) in &c.env.0 {
                r.learn(k, v, false);
                r.learn_url(v);
            }
        }
        let checks = config
            .services
            .iter()
            .flat_map(|s| s.health.iter())
            .chain(config.checks.iter().map(|c| &c.check));
        for check in checks {
            r.learn_probe(&check.probe);
        }
        for sink in &config.alerts.sinks {
            match &sink.kind {
                backstop_config::SinkKind::Webhook { url, .. }
                | backstop_config::SinkKind::Alertmanager { url } => r.learn_url(url),
                backstop_config::SinkKind::Command { command, .. } => r.learn_command(command),
            }
        }
        match &config.daemon.token {
            Some(backstop_config::TokenSource::File(path)) => {
                if let Ok(token) = std::fs::read_to_string(path) {
                    r.learn_value(&token);
                }
            }
            Some(backstop_config::TokenSource::Env(name)) => {
                if let Ok(token) = std::env::var(name) {
                    r.learn_value(&token);
                }
            }
            None => {}
        }
        r
    }

    /// Learns every value of a dotenv file (all of them are secrets). A
    /// file that does not parse is learnt line by line, so that the line a
    /// parse error quotes (`DB_PASSWORD hunter2`, no `=`) is masked too.
    pub fn learn_env_file(&mut self, file: &std::path::Path) {
        match backstop_config::read_env_file(file) {
            Ok(pairs) => {
                for (k, v) in pairs {
                    self.learn(&k, &v, true);
                }
            }
            Err(_) => {
                for line in std::fs::read_to_string(file).unwrap_or_default().lines() {
                    let line = line.trim().trim_start_matches("export ");
                    if let Some((k, v)) = line.split_once(['=', ' ', '\t', ':']) {
                        self.learn(k.trim(), v.trim().trim_matches(['"', '\'']), true);
                    }
                }
            }
        }
    }

    /// The secrets a probe carries: URL passwords, secret-named headers,
    /// secrets on an exec command line.
    pub fn learn_probe(&mut self, probe: &backstop_config::Probe) {
        use backstop_config::Probe;
        match probe {
            Probe::Http(h) => {
                self.learn_url(&h.url);
                for (k, v) in &h.headers.0 {
                    self.learn(k, v, false);
                }
            }
            Probe::Postgres { dsn, .. } => self.learn_url(&dsn.0),
            Probe::Redis { url, .. } => self.learn_url(&url.0),
            Probe::Exec { command } => self.learn_command(command),
            Probe::Tcp { .. } | Probe::Disk { .. } | Probe::Process(_) => {}
        }
    }
}

/// The redactor's patterns match ASCII structure (`name=`, `--flag`, `://`)
/// byte by byte: Unicode classes would cost over half a megabyte of
/// automaton per daemon for nothing, since a value runs until an ASCII
/// delimiter and keeps whatever bytes it holds. Replacements are ASCII and
/// spans end at ASCII bytes, so the text stays valid UTF-8.
fn ascii_regex(pattern: &str) -> BytesRegex {
    regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .expect("UNWRAP: a constant pattern")
}

/// Text of a matched span (ASCII by construction of the patterns).
fn text_of(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Replaces the `value` of every match of `pattern` that `secret` accepts
/// with the mask, keeping the `key` group and the separator.
fn mask_values<'a>(
    pattern: &BytesRegex,
    text: Cow<'a, str>,
    key: &str,
    secret: impl Fn(&regex::bytes::Captures<'_>) -> bool,
) -> Cow<'a, str> {
    let pending = pattern
        .captures_iter(text.as_bytes())
        .any(|c| secret(&c) && &c["value"] != MASK.as_bytes());
    if !pending {
        return text;
    }
    let masked = pattern.replace_all(text.as_bytes(), |c: &regex::bytes::Captures<'_>| {
        if secret(c) {
            [&c[key], &c["sep"], MASK.as_bytes()].concat()
        } else {
            c[0].to_vec()
        }
    });
    Cow::Owned(utf8(&masked))
}

/// `p%40ss` → `p@ss`; invalid escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for name in [
            "SECRET_KEY",
            "DATABASE_PASSWORD",
            "db.pass",
            "API_KEY",
            "apiKey",
            "GITHUB_TOKEN",
            "Authorization",
            "--password",
            "AWS_SECRET_ACCESS_KEY",
            "REDIS_AUTH",
            "PRIVATE_KEY_PATH",
            "X-Auth-Token",
            "PGPASSWD",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "KeyError",
            "monkey",
            "PATH",
            "DATABASE_URL",
            "PORT",
            "HOME",
            "keys",
            "PWD",
            "OLDPWD",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn urls_assignments_and_known_values() {
        let mut r = Redactor::new();
        r.learn("DB_PASSWORD", "hunter2-db", false);
        r.learn("STRIPE_WEBHOOK", "whsec_0123456789", true);
        r.learn("DEBUG", "true", true);
        r.learn("WORKERS", "4", true);
        let cases = [
            (
                "connecting to postgres://app:s3cr3t@127.0.0.1:5432/app",
                "connecting to postgres://app:***@127.0.0.1:5432/app",
            ),
            (
                "redis://:p%40ss@localhost:6379/0",
                "redis://:***@localhost:6379/0",
            ),
            ("login failed with hunter2-db", "login failed with ***"),
            (
                "signature whsec_0123456789 mismatch",
                "signature *** mismatch",
            ),
            ("password=abc host=db", "password=*** host=db"),
            (
                r#"{"api_key": "sk-live-1", "user": "bob"}"#,
                r#"{"api_key": "***", "user": "bob"}"#,
            ),
            ("Authorization: Bearer eyJhbGci.x.y", "Authorization: ***"),
            ("gunicorn --token=abcd1234 app", "gunicorn --token=*** app"),
            (
                "redis-server --requirepass s3cr3t-pw --port 6379",
                "redis-server --requirepass *** --port 6379",
            ),
            (
                "serve --password hunter3 --verbose",
                "serve --password *** --verbose",
            ),
            // Evidence must survive: these name secrets but hold none.
            ("KeyError: 'SECRET_KEY'", "KeyError: 'SECRET_KEY'"),
            ("DEBUG is true, 4 workers", "DEBUG is true, 4 workers"),
            (
                "environment variable API_TOKEN is not set",
                "environment variable API_TOKEN is not set",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(r.redact(input), want, "{input}");
        }
        assert_eq!(r.show_value("DEBUG", "true", true), MASK);
        assert_eq!(r.show_value("PATH", "/usr/bin", false), "/usr/bin");
        assert_eq!(r.show_value("API_KEY", "x", false), MASK);
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn secrets_learned_from_urls_and_command_lines() {
        let mut r = Redactor::new();
        r.learn_url("redis://:p%40ss-word@127.0.0.1:6379/0");
        r.learn_command(&[
            "redis-server".into(),
            "--requirepass".into(),
            "right-pass-123".into(),
            "--api-token=tok-98765".into(),
            "--port".into(),
            "6379".into(),
        ]);
        assert_eq!(
            r.redact("AUTH p@ss-word and right-pass-123 and tok-98765 on 6379"),
            "AUTH *** and *** and *** on 6379"
        );
    }
}
