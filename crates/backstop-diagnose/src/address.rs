//! Addresses in error messages, and which dependency each one is.
//!
//! A client names what it could not reach in its own way: `127.0.0.1:5432`,
//! `('127.0.0.1', 5432)`, `address: '127.0.0.1', port: 5432`,
//! `at "127.0.0.1", port 5432`, `for "127.0.0.1" port 6390`, a DSN, or a
//! bare host name that does not resolve. Whatever the phrasing, the host
//! and port are matched against what the service's environment and config
//! declare ([`Known`]), so the summary says *which* dependency.

use std::sync::LazyLock;

use regex::Regex;

/// An address found in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The host, as written (`127.0.0.1`, `orders-db.invalid`).
    pub host: Option<String>,
    /// The port, when written.
    pub port: Option<u16>,
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.host, self.port) {
            (Some(h), Some(p)) if h.contains(':') => write!(f, "[{h}]:{p}"),
            (Some(h), Some(p)) => write!(f, "{h}:{p}"),
            (Some(h), None) => f.write_str(h),
            (None, Some(p)) => write!(f, "port {p}"),
            (None, None) => f.write_str("an address"),
        }
    }
}

/// An address the service is configured with: an env variable holding a
/// URL, a DSN or `host:port`, a `[checks]` target, a service's port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    /// How an operator calls it: `DATABASE_URL`, `check ledger_db`, `service postgres`.
    pub name: String,
    /// The host, when known.
    pub host: Option<String>,
    /// The port, when known.
    pub port: Option<u16>,
    /// The URL scheme it was written with (`postgresql`, `redis`, `amqp`).
    pub scheme: Option<String>,
}

/// The `(flag, value)` pairs of a command line: `--flag=value` and
/// `--flag value`.
fn flagged(args: &[String]) -> impl Iterator<Item = (&str, &str)> {
    args.iter()
        .enumerate()
        .skip(1)
        .filter_map(|(i, arg)| match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with('-') => Some((flag, value)),
            _ => {
                let flag = args[i - 1].as_str();
                (flag.starts_with('-') && !flag.contains('=') && !arg.starts_with('-'))
                    .then_some((flag, arg.as_str()))
            }
        })
}

/// Whether a flag gives the program's own address (`--bind`, `-b`,
/// `--listen`, `--port`, `--http-port`), not a dependency's.
fn binds(flag: &str) -> bool {
    let f = flag.trim_start_matches('-').to_ascii_lowercase();
    ["bind", "listen", "host", "port", "addr", "address", "b"]
        .iter()
        .any(|w| f == *w || f.starts_with(&format!("{w}-")) || f.ends_with(&format!("-{w}")))
}

/// The ports a command line tells the program to listen on
/// (`gunicorn -b 127.0.0.1:8000`, `uvicorn --port 8000`): its own, never
/// a dependency's.
#[must_use]
pub fn own_ports_from_command(args: &[String]) -> Vec<u16> {
    flagged(args)
        .filter(|(flag, _)| binds(flag))
        .filter_map(|(_, value)| {
            let port = value.rsplit(':').next().unwrap_or(value);
            port.parse().ok()
        })
        .collect()
}

/// The stem of a variable that holds a host (`ORDERS_DB_HOST` →
/// `ORDERS_DB_`): `…HOST`, `…HOSTS`, `…HOSTNAME`, and `…SERVER` when its
/// value reads as a host (a dotted name, an address, `localhost`).
fn host_stem<'n>(upper: &'n str, value: &str) -> Option<&'n str> {
    upper
        .strip_suffix("HOSTNAME")
        .or_else(|| upper.strip_suffix("HOSTS"))
        .or_else(|| upper.strip_suffix("HOST"))
        .or_else(|| {
            let v = value.trim();
            (v.contains('.') || v.eq_ignore_ascii_case("localhost"))
                .then(|| upper.strip_suffix("SERVER"))
                .flatten()
        })
}

/// The port variable of a host variable's stem: `{stem}PORT`, else the one
/// port variable that begins with the stem (`DEPLOY_` → `DEPLOY_SSH_PORT`).
fn port_of<'v>(vars: &[(&'v str, &'v str)], stem: &str) -> Option<(&'v str, &'v str)> {
    let exact = format!("{stem}PORT");
    if let Some(found) = vars.iter().find(|(n, _)| n.eq_ignore_ascii_case(&exact)) {
        return Some(*found);
    }
    if stem.is_empty() {
        return None;
    }
    let near: Vec<&(&str, &str)> = vars
        .iter()
        .filter(|(n, _)| {
            let n = n.to_ascii_uppercase();
            n.starts_with(stem) && n.ends_with("PORT")
        })
        .collect();
    match near.as_slice() {
        [one] => Some(**one),
        _ => None,
    }
}

impl Known {
    /// The address a value holds, if it holds one: `postgresql://u:p@db:5432/x`,
    /// `redis://127.0.0.1:6390/0`, `127.0.0.1:5432`, `host=db port=5432`.
    pub fn parse(name: &str, value: &str) -> Option<Self> {
        let a = if let Some(c) = URL.captures(value) {
            Address {
                host: c
                    .name("host")
                    .map(|m| m.as_str().trim_matches(['[', ']']).to_string()),
                port: c.name("port").and_then(|m| m.as_str().parse().ok()),
            }
        } else if let Some(c) = HOST_PORT.captures(value.trim()) {
            Address {
                host: Some(c["host"].to_string()),
                port: c["port"].parse().ok(),
            }
        } else if let Some(c) = INNER_HOST_PORT.captures(value) {
            // `user:pw@tcp(127.0.0.1:3306)/db`, a host:port inside a value.
            Address {
                host: Some(c["host"].to_string()),
                port: c["port"].parse().ok(),
            }
        } else if let Some(c) = KEYWORDS.captures(value) {
            Address {
                host: c.name("host").map(|m| m.as_str().to_string()),
                port: c.name("port").and_then(|m| m.as_str().parse().ok()),
            }
        } else {
            return None;
        };
        let scheme = value
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .filter(|s| {
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            });
        (a.host.is_some() || a.port.is_some()).then(|| Self {
            name: name.to_string(),
            host: a.host,
            port: a.port,
            scheme,
        })
    }

    /// The addresses an environment declares: URLs, DSNs and `host:port`
    /// values, `X_HOST` with `X_PORT` as one, a bare `PORT` as a port.
    pub fn from_env<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Self> {
        let vars: Vec<(&str, &str)> = vars.into_iter().collect();
        let mut out: Vec<Self> = Vec::new();
        for (name, value) in &vars {
            // A list: `REDIS_NODES=10.0.0.1:7000,10.0.0.2:7000`, Kafka's brokers.
            let listed: Vec<Self> = value
                .split([',', ' ', ';'])
                .filter(|v| !v.is_empty())
                .filter_map(|v| Self::parse(name, v))
                .collect();
            if listed.len() > 1 {
                out.extend(listed);
                continue;
            }
            if let Some(k) = Self::parse(name, value) {
                out.push(k);
                continue;
            }
            let upper = name.to_ascii_uppercase();
            if let Some(stem) = host_stem(&upper, value) {
                let port_var = port_of(&vars, stem);
                let port = port_var.and_then(|(_, v)| v.trim().parse().ok());
                let host = value.trim();
                if !host.is_empty() && !host.contains(char::is_whitespace) {
                    out.push(Self {
                        name: match (port, port_var) {
                            (Some(_), Some((p, _))) => format!("{name}/{p}"),
                            _ => (*name).to_string(),
                        },
                        host: Some(host.to_string()),
                        port,
                        scheme: None,
                    });
                }
            } else if upper.ends_with("PORT")
                && let Ok(port) = value.trim().parse::<u16>()
            {
                let paired = vars.iter().any(|(n, v)| {
                    let n = n.to_ascii_uppercase();
                    host_stem(&n, v).is_some_and(|s| {
                        port_of(&vars, s).is_some_and(|(p, _)| p.eq_ignore_ascii_case(name))
                    })
                });
                if !paired {
                    out.push(Self {
                        name: (*name).to_string(),
                        host: None,
                        port: Some(port),
                        scheme: None,
                    });
                }
            }
        }
        out
    }

    /// The addresses a command line passes with a flag (`--redis
    /// redis://cache:6379/0`, `--db=postgres://…`), named by the flag. Not
    /// what the service listens on (`--bind`, `--listen`, `--host`, `--port`).
    pub fn from_command(args: &[String]) -> Vec<Self> {
        flagged(args)
            .filter(|(flag, _)| !binds(flag))
            .filter_map(|(flag, value)| Self::parse(flag, value))
            .collect()
    }

    /// How well `a` is this one: 2 (host and port), 1 (port, or a host
    /// name that is not a loopback address), 0 (no).
    fn matches(&self, a: &Address) -> u8 {
        let same_host = match (&self.host, &a.host) {
            (Some(k), Some(h)) => k.eq_ignore_ascii_case(h) || (loopback(k) && loopback(h)),
            _ => false,
        };
        let same_port = self.port.is_some() && self.port == a.port;
        match (same_host, same_port) {
            (true, true) => 2,
            (true, false) if a.port.is_none() && !self.host.as_deref().is_some_and(loopback) => 1,
            (false, true) if self.host.is_none() || a.host.is_none() => 1,
            _ => 0,
        }
    }
}

fn loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "0.0.0.0") || host.starts_with("127.")
}

re!(
    URL,
    r"(?i)\b[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?(?P<host>\[[0-9a-f:]+\]|[\w.-]+)(?::(?P<port>\d{1,5}))?"
);
re!(
    HOST_PORT,
    r"^(?P<host>[\w.-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$"
);
re!(
    INNER_HOST_PORT,
    r"(?:^|[(@=,\s]|\b(?:tcp|udp)[46]?:)(?P<host>(?:\d{1,3}\.){3}\d{1,3}|localhost|[a-zA-Z][\w-]*(?:\.[\w-]+)+):(?P<port>\d{2,5})\b"
);
re!(
    KEYWORDS,
    r"(?:host=(?P<host>[\w.-]+))?.*?(?:port=(?P<port>\d{1,5}))"
);
/// The shapes an address takes in messages, most specific first.
static IN_TEXT: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // ('127.0.0.1', 5432) — Python's socket tuples.
        r"\('(?P<host>[^']+)', (?P<port>\d{1,5})\)",
        // address: '127.0.0.1', port: 5432 — Node's error objects.
        r"address: '(?P<host>[^']+)',\s*port: (?P<port>\d{1,5})",
        // at "127.0.0.1", port 5432 / for "127.0.0.1" port 6390 / host "x", port 5432
        r#""(?P<host>[\w.:-]+)"?,? port (?P<port>\d{1,5})"#,
        // a URL or DSN
        r"(?i)\b[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?(?P<host>[\w.-]+):(?P<port>\d{1,5})",
        // wait-on's and socat's `tcp:127.0.0.1:5996`
        r"\b(?:tcp|udp|tcp4|tcp6):(?P<host>(?:\d{1,3}\.){3}\d{1,3}|localhost|[a-zA-Z][\w-]*(?:\.[\w-]+)*):(?P<port>\d{1,5})\b",
        // host:port, [v6]:port
        r"(?:^|[\s(/'\x22=,@])(?:\[(?P<host6>[0-9a-fA-F:]+)\]|(?P<host>(?:\d{1,3}\.){3}\d{1,3}|localhost|[a-zA-Z][\w-]*(?:\.[\w-]+)+)):(?P<port>\d{1,5})\b",
        // a host name that does not resolve
        r#"(?:ENOTFOUND|EAI_AGAIN|EAI_NONAME|UnknownHostException:|lookup|translate host name "?|getaddrinfo\S* for|resolve host:?|host "?)\s*"?(?P<host>[a-zA-Z][\w-]*(?:\.[\w-]+)+)"#,
        // `TCP port 58587 on 127.0.0.1`
        r"(?i)port (?P<port>\d{2,5}) on (?P<host>(?:\d{1,3}\.){3}\d{1,3}|localhost|[a-zA-Z][\w-]*(?:\.[\w-]+)+)",
        // `listen tcp :80`, `bind :8080`
        r"(?:tcp|bind|listen|on)\s+:(?P<port>\d{2,5})\b",
        // port 5432 alone
        r"(?i)\bport (?P<port>\d{2,5})\b",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("UNWRAP: a constant pattern"))
    .collect()
});

/// The first address `text` names, in the most specific shape it has.
pub fn find(text: &str) -> Option<Address> {
    // Go's `read tcp 127.0.0.1:57254->127.0.0.1:65011`: the local end
    // first, the peer after the arrow.
    let text = GO_LOCAL_END.replace_all(text, "$net ");
    let text = text.as_ref();
    IN_TEXT.iter().find_map(|re| {
        re.captures_iter(text).find_map(|c| {
            let port = c.name("port").and_then(|m| m.as_str().parse().ok());
            let host = c
                .name("host")
                .or_else(|| c.name("host6"))
                .map(|m| m.as_str().to_string());
            // `12:30:01` is a time, `socket.rb:227` a source line.
            if host
                .as_deref()
                .is_some_and(|h| h.chars().all(|c| c.is_ascii_digit()) || source_file(h))
            {
                return None;
            }
            Some(Address { host, port })
        })
    })
}

re!(GO_LOCAL_END, r"\b(?P<net>(?:tcp|udp)[46]?) [\w.:\[\]-]+->");

/// `socket.rb`, `App.java`, `main.py`: a file, not a host.
fn source_file(host: &str) -> bool {
    const EXTENSIONS: &[&str] = &[
        "rb", "py", "js", "mjs", "cjs", "ts", "go", "java", "kt", "pl", "pm", "rs", "c", "h", "cc",
        "cpp", "json", "yml", "yaml", "toml", "cfg", "ini", "txt", "log", "sh", "class", "jar",
        "php", "ex", "exs", "scala", "cs",
    ];
    host.rsplit('.')
        .next()
        .is_some_and(|ext| EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// The known dependency `a` is, if any (the best match).
pub fn name<'k>(a: &Address, known: &'k [Known]) -> Option<&'k Known> {
    known
        .iter()
        .map(|k| (k.matches(a), k))
        .filter(|(score, _)| *score > 0)
        .max_by_key(|(score, _)| *score)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> String {
        find(text).map(|a| a.to_string()).unwrap_or_default()
    }

    #[test]
    fn the_ports_a_command_line_binds_are_its_own() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            own_ports_from_command(&args("gunicorn app:app -b 127.0.0.1:8021 -w 2")),
            [8021]
        );
        assert_eq!(
            own_ports_from_command(&args("uvicorn main:app --host 0.0.0.0 --port=8000")),
            [8000]
        );
        // A dependency's address passed by a flag is not its own.
        assert!(
            own_ports_from_command(&args("celery -A tasks --broker=redis://cache:6379/0"))
                .is_empty()
        );
    }

    #[test]
    fn every_phrasing_gives_the_host_and_port() {
        // Go names its own end first; wait-on writes `tcp:host:port`.
        assert_eq!(
            at("read tcp 127.0.0.1:57254->127.0.0.1:65011: i/o timeout"),
            "127.0.0.1:65011"
        );
        assert_eq!(
            at("Error: Timed out waiting for: tcp:127.0.0.1:5996"),
            "127.0.0.1:5996"
        );
        assert_eq!(
            at("OSError: Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 5433)"),
            "127.0.0.1:5433"
        );
        assert_eq!(at("connect ECONNREFUSED 127.0.0.1:6390"), "127.0.0.1:6390");
        assert_eq!(
            at("connection to server at \"127.0.0.1\", port 5433 failed: Connection refused"),
            "127.0.0.1:5433"
        );
        assert_eq!(
            at("dial tcp [::1]:8080: connect: connection refused"),
            "[::1]:8080"
        );
        assert_eq!(
            at("getaddrinfo ENOTFOUND orders-db.invalid"),
            "orders-db.invalid"
        );
        assert_eq!(
            at("java.net.UnknownHostException: orders-db.invalid"),
            "orders-db.invalid"
        );
        assert_eq!(
            at("Error 111 connecting to localhost:6379. Connection refused."),
            "localhost:6379"
        );
        assert_eq!(at("12:30:01 started"), "");
    }

    #[test]
    fn an_address_is_named_by_what_declares_it() {
        let known = [
            Known::parse("DATABASE_URL", "postgresql://app:pw@127.0.0.1:5433/ledger").unwrap(),
            Known::parse("REDIS_URL", "redis://localhost:6390/0").unwrap(),
            Known::parse("ORDERS_HOST", "orders-db.invalid:5432").unwrap(),
        ];
        let name_of = |text: &str| name(&find(text).unwrap(), &known).map(|k| k.name.clone());
        assert_eq!(
            name_of("connect ECONNREFUSED 127.0.0.1:5433").as_deref(),
            Some("DATABASE_URL")
        );
        assert_eq!(
            name_of("Error 111 connecting to 127.0.0.1:6390.").as_deref(),
            Some("REDIS_URL")
        );
        assert_eq!(
            name_of("getaddrinfo ENOTFOUND orders-db.invalid").as_deref(),
            Some("ORDERS_HOST")
        );
        assert_eq!(name_of("connect ECONNREFUSED 127.0.0.1:9999"), None);
    }

    #[test]
    fn a_command_line_declares_the_addresses_its_flags_pass() {
        let args: Vec<String> = [
            "celery",
            "--broker=redis://cache.internal:6379/0",
            "--db",
            "postgresql://app@10.0.0.5:5432/app",
            "--bind",
            "0.0.0.0:8000",
            "--listen-addr=127.0.0.1:9000",
            "--workers",
            "4",
        ]
        .map(String::from)
        .to_vec();
        let known = Known::from_command(&args);
        let names: Vec<&str> = known.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["--broker", "--db"]);
        assert_eq!(known[1].port, Some(5432));
    }
}
