//! Naming by errno: what an `ENOENT`, `EACCES`, `EADDRINUSE`, `ENOSPC`,
//! `EMFILE`… means for the path, port or address the error names.

use super::memory::command_ulimit;
use super::{
    Address, BIND_SAID, Context, Errno, LAST_QUOTED_NAME, LAUNCHED_MISSING, Named, OPENED,
    PORT_SAID, RUN_COMMAND_FAILED, Runtime, SPAWN_ENOENT, TerminalError, address, data_path_in,
    dependency_of, describe, missing_file, named, only_named_host, path_in, program_not_installed,
    service_port,
};

static LOOKUP_ON: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\blookup (?P<host>[\w.-]+) on \S+:53\b")
        .expect("UNWRAP: a constant pattern")
});

pub(super) fn by_errno(e: Errno, t: &TerminalError, all: &str, ctx: &Context) -> Option<Named> {
    match e {
        Errno::AddrInUse => {
            // `binding 127.0.0.1:8080` said just before it.
            let said = t
                .before
                .iter()
                .find(|l| {
                    BIND_SAID.is_match(l) && address::find(l).is_some_and(|a| a.port.is_some())
                })
                .cloned()
                .unwrap_or_default();
            let all = &format!("{all}\n{said}");
            let port = service_port(all, ctx)
                .or_else(|| PORT_SAID.captures(all).and_then(|c| c["port"].parse().ok()));
            let host = address::find(all)
                .filter(|a| a.port.is_some() && a.port == port)
                .and_then(|a| a.host)
                .or_else(|| {
                    ctx.known
                        .iter()
                        .find(|k| k.port.is_some() && k.port == port)
                        .and_then(|k| k.host.clone())
                });
            let on = match (&host, port) {
                (Some(h), Some(p)) => format!(" on {h}:{p}"),
                _ => String::new(),
            };
            let set_by = port
                .and_then(|p| crate::env_hints::variable_with_port(ctx, p))
                .map_or_else(String::new, |v| format!(" (set by {v})"));
            let port = port.map_or_else(|| "?".to_string(), |p| p.to_string());
            named(
                "port-in-use",
                format!("the port {port} is already in use{on}{set_by}"),
            )
        }
        Errno::ConnRefused
        | Errno::TimedOut
        | Errno::ConnReset
        | Errno::Unreachable
        | Errno::NoSuchHost => {
            // Go's resolver names the name it looked up and the DNS server
            // it asked (`lookup nats.orders.invalid on 10.0.0.53:53: no such
            // host`): the name is the dependency, never the DNS server.
            if e == Errno::NoSuchHost
                && let Some(c) = LOOKUP_ON.captures(all)
            {
                let host = c["host"].to_string();
                let k = ctx.known.iter().find(|k| {
                    k.host
                        .as_deref()
                        .is_some_and(|h| h.eq_ignore_ascii_case(&host))
                });
                let a = Address {
                    host: Some(host),
                    port: k.and_then(|k| k.port),
                };
                return named(
                    "dependency-unavailable",
                    format!("{} does not resolve (ENOTFOUND)", describe(&a, k)),
                );
            }
            // The client library that raised it says which kind of server
            // (`asyncpg` → PostgreSQL), and only a name can fail to resolve.
            let hinted = format!("{all}\n{}", t.library.as_deref().unwrap_or(""));
            let (a, k) = dependency_of(t, &hinted, ctx).or_else(|| {
                (e == Errno::NoSuchHost)
                    .then(|| only_named_host(ctx))
                    .flatten()
            })?;
            let what = match e {
                Errno::ConnRefused => "refuses connections",
                Errno::TimedOut => "does not answer (timed out)",
                Errno::ConnReset => "resets the connection",
                Errno::Unreachable => "is unreachable",
                _ => "does not resolve",
            };
            named(
                "dependency-unavailable",
                format!("{} {what} ({})", describe(&a, k), e.name()),
            )
        }
        Errno::TooManyFiles => {
            let limit = command_ulimit(ctx, &['n'])
                .map(|u| match super::memory::count_over_limit(ctx, &u) {
                    Some(asks) => {
                        format!(" (the limit is set by `{u}` in its command; {asks} asks for about as many)")
                    }
                    None => format!(" (the limit is set by `{u}` in its command)"),
                })
                .or_else(|| ctx.open_files_limit.map(|n| format!(" (the limit is {n})")))
                .unwrap_or_default();
            named(
                "resource-limit",
                format!("too many open files (EMFILE){limit}: {}", t.quote()),
            )
        }
        Errno::NoProcesses => named(
            "resource-limit",
            format!(
                "no more processes or threads (EAGAIN: the process limit, {} or the cgroup's pids.max): {}",
                command_ulimit(ctx, &['u']).map_or_else(
                    || "`ulimit -u`".to_string(),
                    |u| format!("`{u}` in its command")
                ),
                t.quote()
            ),
        ),
        Errno::NoSpace => {
            let mut texts: Vec<&str> = t.before.iter().rev().map(String::as_str).collect();
            texts.push(all);
            if let Some((name, dir, written)) = crate::env_hints::written_dir(ctx, &texts) {
                let file = if written == dir {
                    String::new()
                } else {
                    format!(", writing {written}")
                };
                return named(
                    "disk-full",
                    format!(
                        "no space left on the device holding {dir} ({name}){file}: {}",
                        t.quote()
                    ),
                );
            }
            let path = data_path_in(all)
                .map(|p| format!(" holding {p}"))
                .or_else(|| {
                    let before = t.before.join("\n");
                    data_path_in(&before).map(|p| format!(" (it was writing {p})"))
                })
                .or_else(|| {
                    // Nothing says where: the one directory its environment
                    // names (`EXPORT_DIR=/mnt/exports`) is where it writes.
                    let dirs: Vec<(&str, &str)> = crate::env_hints::paths(ctx)
                        .into_iter()
                        .filter(|(_, p)| std::path::Path::new(p).extension().is_none())
                        .collect();
                    match dirs.as_slice() {
                        [(name, dir)] => Some(format!(" holding {dir} ({name})")),
                        _ => None,
                    }
                })
                .unwrap_or_default();
            named(
                "disk-full",
                format!("no space left on the device{path}: {}", t.quote()),
            )
        }
        Errno::Access => {
            // The stack's `self.socket.bind(…)` too, when the message has no
            // word of it (Python's bare `[Errno 13] Permission denied`).
            let binding = ["bind", "listen", "Bind"]
                .iter()
                .any(|w| all.contains(w) || t.stack.iter().any(|l| l.contains(&format!(".{w}("))));
            // `serving … on 0.0.0.0:80` said just before.
            let before = t.before.join("\n");
            let all = &format!("{all}\n{before}");
            let port = || {
                service_port(all, ctx).map(|p| {
                    let set_by = crate::env_hints::variable_with_port(ctx, p)
                        .map_or_else(String::new, |v| format!(", set by {v}"));
                    format!(
                        "binding :{p} (a port below 1024 needs root or CAP_NET_BIND_SERVICE{set_by})"
                    )
                })
            };
            let what = if binding {
                port().or_else(|| data_path_in(all))
            } else {
                data_path_in(all)
                    .or_else(|| data_path_in(&t.before.join("\n")))
                    .or_else(port)
            };
            named(
                "permission-denied",
                format!("access denied: {}", what.unwrap_or_else(|| t.quote())),
            )
        }
        Errno::NoEntry => {
            // Exit 127 and `xargs: wkhtmltopdf: No such file or directory`:
            // the program a launcher ran is not installed.
            if ctx.exit.as_deref() == Some("code 127")
                && let Some(c) = LAUNCHED_MISSING.captures(&t.error.message)
            {
                return program_not_installed(&c["program"], t);
            }
            if let Some(n) = missing_socket(t, all, ctx) {
                return Some(n);
            }
            // `timeout: failed to run command ‘azcopy’: No such file or
            // directory` (timeout, nohup, env, chpst): the program it ran.
            if let Some(c) = RUN_COMMAND_FAILED.captures(all) {
                return program_not_installed(super::either(&c, "program", "program2"), t);
            }
            // A program it runs is not installed: Node's `spawn ffmpeg
            // ENOENT`, Python's `FileNotFoundError` out of `subprocess`'s
            // `_execute_child`.
            let spawned = SPAWN_ENOENT
                .captures(all)
                .map(|c| c["program"].to_string())
                .or_else(|| {
                    t.stack
                        .iter()
                        .any(|l| l.contains("_execute_child") || l.contains("in _spawn"))
                        .then(|| LAST_QUOTED_NAME.captures(&t.error.message))
                        .flatten()
                        .map(|c| c["name"].to_string())
                })
                .or_else(|| {
                    // Ruby's `No such file or directory - zint` out of
                    // `spawn`, `popen3`, `system`: a file operation's says
                    // where (`@ rb_sysopen - config.yml`), a spawn's not.
                    (t.runtime == Runtime::Ruby && !t.error.message.contains(" @ "))
                        .then(|| t.error.message.rsplit_once(" - "))
                        .flatten()
                        .map(|(_, program)| program.trim().to_string())
                        .filter(|p| !p.is_empty() && !p.contains(' '))
                });
            if let Some(program) = spawned {
                return program_not_installed(&program, t);
            }
            let path = OPENED
                .captures(all)
                .map(|c| c["path"].to_string())
                .or_else(|| path_in(all));
            if let Some(path) = path {
                return missing_file(&path, ctx);
            }
            // The error does not say which file: the one a variable of its
            // environment points at, if one does.
            let code = format!("{}\n{all}", t.stack.join("\n"));
            let (name, path) = crate::env_hints::file_meant(ctx, &code)?;
            missing_file(&path, ctx).map(|n| Named {
                summary: if n.summary.contains(&format!("({name})")) {
                    n.summary
                } else {
                    format!("{} ({name})", n.summary)
                },
                ..n
            })
        }
        Errno::NoMemory => None,
    }
}

/// Perl's `die` exits with the errno of the failure (`$!`): a status that
/// is one of the table's faults, where the message says something failed.
/// Not 1 and 2: a stale `$!` is often EPERM or ENOENT.
pub(super) fn perl_errno(t: &TerminalError, ctx: &Context) -> Option<Errno> {
    if t.runtime != Runtime::Perl {
        return None;
    }
    let code: i64 = ctx.exit.as_deref()?.strip_prefix("code ")?.parse().ok()?;
    if !(3..255).contains(&code) {
        return None;
    }
    let lower = t.error.message.to_ascii_lowercase();
    ["unable to", "cannot", "can't", "could not", "failed"]
        .iter()
        .any(|w| lower.contains(w))
        .then(|| Errno::of_number(code))
        .flatten()
}

/// The SQLite database a variable of the environment points at.
pub(super) fn sqlite_file(ctx: &Context) -> Option<String> {
    crate::env_hints::paths(ctx)
        .into_iter()
        .find(|(_, p)| {
            std::path::Path::new(p).extension().is_some_and(|e| {
                ["db", "sqlite", "sqlite3"]
                    .iter()
                    .any(|x| e.eq_ignore_ascii_case(x))
            })
        })
        .map(|(_, p)| p.to_string())
}

/// A Unix socket the environment points at is not there
/// (`/run/clamav/clamd.ctl`; Sys::Syslog's `setlogsock(): type='unix':
/// path not available`): its server is not running.
pub(super) fn missing_socket(t: &TerminalError, all: &str, ctx: &Context) -> Option<Named> {
    // `socket`, `setlogsock`, `/run/app.sock:`.
    let about_a_socket = all.to_ascii_lowercase().contains("sock")
        || t.stack.iter().any(|l| l.contains("Socket"))
        || t.library
            .as_deref()
            .is_some_and(|l| l.to_ascii_lowercase().contains("socket"));
    if !about_a_socket {
        return None;
    }
    let sockets: Vec<(&str, &str)> = crate::env_hints::paths(ctx)
        .into_iter()
        .filter(|(n, p)| {
            n.contains("SOCK") || [".sock", ".ctl", ".socket"].iter().any(|x| p.ends_with(x))
        })
        .collect();
    let [(name, path)] = sockets.as_slice() else {
        return None;
    };
    named(
        "dependency-unavailable",
        format!(
            "the socket {path} ({name}) does not exist: its server is not running ({})",
            t.quote()
        ),
    )
}
