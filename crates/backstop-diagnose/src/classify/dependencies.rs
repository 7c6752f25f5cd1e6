//! Which dependency an error is about: the addresses and names the service
//! declares, matched against the one the error names; the service's own port
//! is never a dependency.

use super::{AUTH, Address, Context, Known, Named, TerminalError, address, named};

/// `code: ERR_…` that the Node extractor put first in the detail.
pub(super) fn node_code(t: &TerminalError) -> Option<&str> {
    t.detail.first()?.strip_prefix("code: ")
}

/// The dependency a text names: the address and, when the service
/// declares it, its name. An address on the service's own port is not a
/// dependency.
pub(super) fn dependency<'k>(text: &str, ctx: &'k Context) -> Option<(Address, Option<&'k Known>)> {
    let a = address::find(text)?;
    if own(&a, ctx) {
        return None;
    }
    let k = address::name(&a, &ctx.known);
    Some((a, k))
}

/// Words that name a kind of server, to tell which declared address an
/// error without one is about.
pub(super) const KINDS: &[&[&str]] = &[
    &["postgres", "psql", "pg", "psycopg", "libpq", "pq", "npgsql"],
    &["mysql", "maria"],
    &["redis", "valkey"],
    &["mongo"],
    &["amqp", "rabbit", "pika", "kombu"],
    &["kafka"],
    &["elastic", "opensearch"],
    &["nats"],
    &["mqtt"],
    &["memcache"],
    &["ssh", "paramiko", "sftp"],
];

/// A connection closed right after the server refused the credentials
/// (`WRONGPASS` logged, then "Connection is closed"): the credentials are
/// the cause.
pub(super) fn auth_said_before(t: &TerminalError, all: &str, ctx: &Context) -> Option<Named> {
    let said = t.before.iter().take(3).find(|l| AUTH.is_match(l))?;
    let who = dependency_of(t, all, ctx)
        .map_or_else(|| "a dependency".to_string(), |(a, k)| describe(&a, k));
    named(
        "dependency-auth-failed",
        format!("{who} rejects the credentials: {said}"),
    )
}

/// The kind of server a client library is for (`ioredis` → `redis`), by
/// the words of [`KINDS`] (a short word must be the whole name: `pg`).
pub(super) fn server_kind(library: &str) -> Option<&'static str> {
    let lower = library.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    KINDS
        .iter()
        .find(|words| {
            words.iter().any(|w| {
                if w.len() <= 3 {
                    name == *w
                } else {
                    name.contains(w)
                }
            })
        })
        .map(|words| words[0])
}

/// [`dependency`] of the error, else of the lines printed before it, else
/// the one declared address it can be (by the kind of server the error
/// names, or the only one there is).
pub(super) fn dependency_of<'k>(
    t: &TerminalError,
    all: &str,
    ctx: &'k Context,
) -> Option<(Address, Option<&'k Known>)> {
    if let Some(found) = dependency(all, ctx) {
        return Some(found);
    }
    if address::find(all).is_some_and(|a| own(&a, ctx)) {
        return None;
    }
    if let Some(found) = dependency(&t.before.join("\n"), ctx) {
        return Some(found);
    }
    // `connecting to 10.0.0.5:5672`, on a piped stdout flushed at exit.
    if let Some(found) = dependency(&t.after.join("\n"), ctx) {
        return Some(found);
    }
    declared_for(all, ctx)
}

/// What a phrase rule's `{target}` names when its line has no address:
/// the address the line names, else the one declared dependency the line
/// can be about.
pub fn target_of(text: &str, ctx: &Context) -> Option<String> {
    if let Some((a, k)) = dependency(text, ctx) {
        return Some(describe(&a, k));
    }
    if address::find(text).is_some_and(|a| own(&a, ctx)) {
        return None;
    }
    declared_for(text, ctx).map(|(a, k)| describe(&a, k))
}

/// The one declared address an error without one can be about: by the
/// kind of server `all` names, or the only one there is.
pub(super) fn declared_for<'k>(
    all: &str,
    ctx: &'k Context,
) -> Option<(Address, Option<&'k Known>)> {
    let lower = all.to_ascii_lowercase();
    let candidates: Vec<&Known> = ctx
        .known
        .iter()
        .filter(|k| k.host.is_some())
        .filter(|k| k.port.is_none_or(|p| !ctx.own_ports.contains(&p)))
        .collect();
    let by_kind = KINDS.iter().find_map(|words| {
        if !words.iter().any(|w| lower.contains(w)) {
            return None;
        }
        // By its name (`LEDGER_PG_URL`), its scheme (`postgresql://`) or
        // the kind's well-known port (5432).
        let port = default_port(words);
        let hits: Vec<&Known> = candidates
            .iter()
            .copied()
            .filter(|k| {
                let name = k.name.to_ascii_lowercase();
                let scheme = k.scheme.as_deref().unwrap_or("").to_ascii_lowercase();
                words.iter().any(|w| name.contains(w) || scheme.contains(w))
                    || (port.is_some() && k.port == port)
            })
            .collect();
        one_name(&hits)
    });
    let k = by_kind.or_else(|| one_name(&candidates))?;
    Some((
        Address {
            host: k.host.clone(),
            port: k.port,
        },
        Some(k),
    ))
}

/// The first of `known` when they are all one declaration (a list of
/// cluster nodes is one dependency), else none.
pub(super) fn one_name<'k>(known: &[&'k Known]) -> Option<&'k Known> {
    let first = *known.first()?;
    known.iter().all(|k| k.name == first.name).then_some(first)
}

/// Whether `text` names an address of the service itself.
pub fn names_own_address(text: &str, ctx: &Context) -> bool {
    address::find(text).is_some_and(|a| own(&a, ctx))
}

/// An address of the service itself: one of its ports, on this host.
pub(super) fn own(a: &Address, ctx: &Context) -> bool {
    a.port.is_some_and(|p| ctx.own_ports.contains(&p))
        && a.host.as_deref().is_none_or(|h| {
            h.starts_with("127.") || h == "localhost" || h == "0.0.0.0" || h == "::1"
        })
}

/// "`AMQP_URL` at amqp://localhost:5672", the address as the service
/// declares it (and as the error wrote it, when that differs:
/// `localhost` resolved to `127.0.0.1`), or the address alone.
pub(super) fn describe(a: &Address, k: Option<&Known>) -> String {
    let Some(k) = k else {
        return a.to_string();
    };
    let declared = Address {
        host: k.host.clone().or_else(|| a.host.clone()),
        port: k.port.or(a.port),
    };
    let written = if declared.to_string() == a.to_string() {
        String::new()
    } else {
        format!(" ({a})")
    };
    match &k.scheme {
        Some(scheme) => format!("{} at {scheme}://{declared}{written}", k.name),
        None => format!("{} at {declared}{written}", k.name),
    }
}

/// The port a service binds, when the message does not say: its declared
/// port, else a `PORT` variable of its environment.
pub(super) fn service_port(all: &str, ctx: &Context) -> Option<u16> {
    address::find(all)
        .and_then(|a| a.port)
        .or_else(|| ctx.own_ports.first().copied())
        .or_else(|| {
            ctx.known
                .iter()
                .find(|k| {
                    let n = k.name.to_ascii_uppercase();
                    ["BIND", "LISTEN", "ADDR"].iter().any(|w| n.contains(w))
                })
                .and_then(|k| k.port)
        })
        .or_else(|| {
            ctx.known
                .iter()
                .find(|k| k.name.to_ascii_uppercase().contains("PORT"))
                .and_then(|k| k.port)
        })
}

/// The well-known port of a kind of server (the first word of its
/// [`KINDS`] entry).
fn default_port(words: &[&str]) -> Option<u16> {
    Some(match *words.first()? {
        "postgres" => 5432,
        "mysql" => 3306,
        "redis" => 6379,
        "mongo" => 27017,
        "amqp" => 5672,
        "kafka" => 9092,
        "elastic" => 9200,
        "nats" => 4222,
        "mqtt" => 1883,
        "memcache" => 11211,
        "ssh" => 22,
        _ => return None,
    })
}

/// A name that does not resolve: of the addresses the service declares,
/// the only one whose host is a name (not an IP address, not localhost).
pub(super) fn only_named_host(ctx: &Context) -> Option<(Address, Option<&Known>)> {
    let named: Vec<&Known> = ctx
        .known
        .iter()
        .filter(|k| {
            k.host.as_deref().is_some_and(|h| {
                h.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_err()
                    && !h.eq_ignore_ascii_case("localhost")
            })
        })
        .collect();
    let k = one_name(&named)?;
    Some((
        Address {
            host: k.host.clone(),
            port: k.port,
        },
        Some(k),
    ))
}
