//! A value of the service's environment that the code it was handed to
//! rejects: a setting with a wrong value (`ONCALL_EMAIL=oncall@@example.com`,
//! `REPORT_START=next monday 06:00`, `SPOOLER_RUN_AS=spooler` of no user),
//! or a plugin, driver or provider that a setting asks for and is not there.

use super::types::{has_word, programming_type, short, type_words, unreachable_type};
use super::{Context, Named, TerminalError, named};

re!(
    PLUGIN_MISSING,
    r"(?i)\bno\b[^\n]*?(?:driver|provider|plugin|backend|adapter|dialect|engine|codec|extension)s?\b[^\n]*?\b(?:found|registered|available|installed|loaded)\b|\b(?:driver|provider|plugin|backend|adapter|dialect)\b[^\n]*?\bnot (?:found|registered|installed|available)\b"
);
re!(
    KEY_SIZE,
    r"(?i)\bkey\b[^\n]*\b(?:must|should) be\b[^\n]*\b(?:bytes|bits|characters|long)\b|\binvalid key (?:length|size)\b|\bkey (?:length|size) (?:is )?(?:invalid|wrong)\b"
);
re!(
    REGEX_INVALID,
    r"(?i)\binvalid regular expression\b|\bre\.error\b|\berror parsing regexp\b|\bPatternSyntaxException\b"
);

re!(THROWS_NEW, r"^\s*throw (?:new )?[A-Z]\w*\(");

/// The words of a type name that say nothing of which setting it is.
const GENERIC_WORDS: &[&str] = &[
    "Error",
    "Exception",
    "Syntax",
    "Format",
    "Value",
    "Invalid",
    "Parse",
    "Parser",
    "Type",
    "Key",
    "Bad",
    "Unknown",
    "Validation",
    "Runtime",
    "Illegal",
    "Argument",
    "State",
];

/// The words of a type name that say a value failed a validation.
const VALIDATOR_WORDS: &[&str] = &["Syntax", "Format", "Validation", "Invalid", "Value"];

/// A plugin, driver or provider the configuration asks for is not
/// installed (stevedore's `No 'app.storage' driver found, looking for
/// 's3'`, Java's `No SinkProvider registered for scheme 'parquet'`):
/// `missing-module`, with the variable that asks for it.
pub(super) fn plugin_missing(t: &TerminalError, ctx: &Context) -> Option<Named> {
    let message = &t.error.message;
    if !PLUGIN_MISSING.is_match(message) {
        return None;
    }
    let by = crate::env_hints::variable_quoted(ctx, message)
        .or_else(|| crate::env_hints::variable_of_value(ctx, &[message]))
        .map(|v| format!(" (asked for by {v})"))
        .unwrap_or_default();
    named(
        "missing-module",
        format!(
            "a plugin or driver it is configured to use is not installed{by}: {}",
            t.quote()
        ),
    )
}

/// A value of the environment rejected where it was used: the error
/// quotes or names the value of exactly one variable, or its type names
/// one (`EmailSyntaxError` → `ONCALL_EMAIL`); a key of the wrong size
/// (`Argument #3 ($key) must be … bytes long`) is the key variable's; a
/// regular expression that does not compile is the pattern variable's.
/// Not for the program's own bugs (`TypeError`, `NameError`) nor for a
/// dependency out of reach.
pub(super) fn value_rejected(t: &TerminalError, ctx: &Context) -> Option<Named> {
    let kind = t.error.kind.as_deref().map(short);
    // A package that throws a `TypeError` itself (`throw new
    // TypeError(\`Invalid Version: ${version}\`)` in node_modules) is
    // validating its input, not failing on the program's bug.
    let thrown_by_package =
        super::files::raised_in_dependency(t) && t.before.iter().any(|l| THROWS_NEW.is_match(l));
    if kind.is_some_and(|k| {
        programming_type(k) && !has_word(k, VALIDATOR_WORDS) && !thrown_by_package
            || unreachable_type(k)
    }) {
        return None;
    }
    let messages: Vec<&str> = std::iter::once(t.error.message.as_str())
        .chain(t.chain.iter().map(|r| r.message.as_str()))
        .collect();
    let var = if REGEX_INVALID.is_match(&t.quote()) {
        pattern_variable(ctx, &messages)
    } else if KEY_SIZE.is_match(&t.error.message) {
        spelled_out(ctx, &messages)
            .or_else(|| crate::env_hints::variable_called(ctx, &["KEY", "SECRET"]))
    } else {
        // Not a path, an address or a command line's flags: those are
        // files, dependencies and runtimes, which other rules name.
        let plain = Context {
            env: ctx
                .env
                .iter()
                .filter(|(_, v)| {
                    let v = v.trim();
                    !crate::env_hints::is_path(v)
                        && !v.starts_with('-')
                        && !v.contains("://")
                        && crate::address::find(v).is_none_or(|a| a.port.is_none())
                        && !ctx
                            .known
                            .iter()
                            .any(|k| k.host.as_deref().is_some_and(|h| v.contains(h)))
                })
                .cloned()
                .collect(),
            ..Context::default()
        };
        // The program's own words just before a library refused the value
        // (`schedule "0 8 * * mon-fry"`, then cron-parser's `cannot
        // resolve alias "fry"`).
        let said_before: Vec<&str> = t
            .before
            .iter()
            .map(String::as_str)
            .filter(|l| !l.trim_start().starts_with('^'))
            .collect();
        crate::env_hints::variable_of_value(&plain, &messages)
            .or_else(|| {
                (!said_before.is_empty() && super::files::raised_in_dependency(t))
                    .then(|| crate::env_hints::variable_of_quoted(&plain, &said_before))
                    .flatten()
            })
            .or_else(|| empty_variable(ctx, &messages))
            .or_else(|| spelled_out(ctx, &messages))
            .or_else(|| concept_variable(t, ctx))
            .or_else(|| {
                // A package refusing a value, and the service is given
                // one variable of its own: that one.
                thrown_by_package
                    .then(|| {
                        let own: Vec<&String> = plain
                            .env
                            .iter()
                            .filter(|(n, _)| !crate::env_hints::generic_variable(n))
                            .map(|(n, _)| n)
                            .collect();
                        crate::env_hints::sole(&own)
                    })
                    .flatten()
            })
            .or_else(|| {
                // A validator's type (`EmailSyntaxError`, `AddrFormatError`):
                // its other words name the setting.
                let words = kind.map(type_words).unwrap_or_default();
                if !words.iter().any(|w| VALIDATOR_WORDS.contains(w)) {
                    return None;
                }
                let named: Vec<&str> = words
                    .into_iter()
                    .filter(|w| !GENERIC_WORDS.contains(w))
                    .collect();
                crate::env_hints::variable_called(&plain, &named)
            })
    }?;
    named(
        "missing-config",
        format!(
            "the value of {var}{} is rejected: {}",
            shown_value(ctx, &var),
            t.quote()
        ),
    )
}

/// ` (sha265)`: the value of `var` when it is short and no secret; of a
/// list, the item that is no valid address or network (`10.0.0.0/33`).
fn shown_value(ctx: &Context, var: &str) -> String {
    let Some((_, value)) = ctx.env.iter().find(|(n, _)| n == var) else {
        return String::new();
    };
    let value = value.trim();
    if crate::redact::is_secret_name(var) || value.is_empty() || value.contains("***") {
        return String::new();
    }
    if let Some(bad) = value
        .split([',', ' ', ';'])
        .map(str::trim)
        .find(|item| not_a_network(item))
    {
        return format!(" ({bad})");
    }
    if value.len() <= 40 {
        format!(" ({value})")
    } else {
        String::new()
    }
}

/// An item written as an IPv4 network or address (`10.0.0.0/33`,
/// `300.1.2.3`) that is none.
fn not_a_network(item: &str) -> bool {
    re!(IPV4_SHAPED, r"^\d{1,3}(?:\.\d{1,3}){3}(?:/\d+)?$");
    if !IPV4_SHAPED.is_match(item) {
        return false;
    }
    let (address, prefix) = item.split_once('/').unwrap_or((item, "32"));
    address.parse::<std::net::Ipv4Addr>().is_err() || prefix.parse::<u8>().is_ok_and(|p| p > 32)
}

/// The one variable the message spells out in words (`Vapid public key
/// should be 65 bytes` → `VAPID_PUBLIC_KEY`; `Missing or invalid default
/// region` → `SMS_DEFAULT_REGION`, its prefix aside): every part of its
/// name a word of the message, else every part but a leading prefix (two
/// parts at least).
fn spelled_out(ctx: &Context, messages: &[&str]) -> Option<String> {
    // Words of a refusal, not a variable's name quoted as such
    // (`Picked up JAVA_TOOL_OPTIONS`) nor a file that is not there.
    if !messages.iter().any(|m| {
        super::INVALID_SAID.is_match(m) || super::VALUE_REJECTED.is_match(m) || KEY_SIZE.is_match(m)
    }) {
        return None;
    }
    let written = |n: &str| messages.iter().any(|m| m.contains(n));
    let words: Vec<String> = messages
        .iter()
        .flat_map(|m| m.split(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| w.len() >= 2)
        .map(str::to_ascii_uppercase)
        .collect();
    let said = |parts: &[&str]| parts.iter().all(|p| words.iter().any(|w| w == p));
    let names: Vec<(&String, Vec<&str>)> = ctx
        .env
        .iter()
        .map(|(n, _)| {
            (
                n,
                n.split('_').filter(|p| !p.is_empty()).collect::<Vec<_>>(),
            )
        })
        .filter(|(n, parts)| parts.len() >= 2 && !written(n))
        .collect();
    let whole: Vec<&String> = names
        .iter()
        .filter(|(_, p)| said(p))
        .map(|(n, _)| *n)
        .collect();
    if !whole.is_empty() {
        return crate::env_hints::sole(&whole);
    }
    let unprefixed: Vec<&String> = names
        .iter()
        .filter(|(_, p)| p.len() >= 3 && said(&p[1..]))
        .map(|(n, _)| *n)
        .collect();
    crate::env_hints::sole(&unprefixed)
}

/// The one variable set but empty, when the error says a value was empty
/// (ms's `val is not a non-empty string … val=""`).
fn empty_variable(ctx: &Context, messages: &[&str]) -> Option<String> {
    re!(
        EMPTY_SAID,
        r#"(?i)=""|=''|\bnon-empty\b|\bempty (?:string|value)\b|\bmust not be (?:empty|blank)\b|\bis (?:empty|blank)\b"#
    );
    if !messages.iter().any(|m| EMPTY_SAID.is_match(m)) {
        return None;
    }
    let empty: Vec<&String> = ctx
        .env
        .iter()
        .filter(|(n, v)| v.trim().is_empty() && !n.starts_with('_'))
        .map(|(n, _)| n)
        .collect();
    crate::env_hints::sole(&empty)
}

/// What kind of value an error is about, by the words of its message, its
/// type, its library and the parameter it names (`ipaddr: … CIDR range`,
/// `IPAddr::InvalidPrefixError`, `Error parsing time`, `Invalid salt` of
/// bcrypt, `Argument #1 ($algo)`), and the words a variable holding such a
/// value is called by.
const CONCEPTS: &[(&[&str], &[&str])] = &[
    (
        &["cidr", "subnet", "netmask", "prefix", "ipaddr"],
        &["CIDR", "SUBNET", "NETWORK", "NETMASK", "RANGE"],
    ),
    (&["cron", "crontab"], &["CRON", "SCHEDULE"]),
    (
        &[
            "time",
            "date",
            "datetime",
            "timestamp",
            "month",
            "day",
            "year",
        ],
        &[
            "DATE",
            "TIME",
            "DATETIME",
            "TIMESTAMP",
            "CUTOFF",
            "SINCE",
            "UNTIL",
        ],
    ),
    (&["salt", "bcrypt", "argon2"], &["HASH"]),
    (&["algo", "algorithm"], &["ALGO", "ALG", "ALGORITHM"]),
    (
        &["duration", "interval"],
        &["TTL", "TIMEOUT", "INTERVAL", "DURATION", "EXPIRY"],
    ),
    (&["locale"], &["LOCALE", "LANG", "LANGUAGE"]),
    (&["currency"], &["CURRENCY"]),
    (&["charset", "encoding"], &["CHARSET", "ENCODING"]),
    (&["version", "semver"], &["VERSION"]),
    (&["url", "uri", "dsn"], &["URL", "URI", "DSN"]),
    (
        &["quotation", "shlex"],
        &["ARGS", "OPTS", "FLAGS", "OPTIONS"],
    ),
    (&["uuid", "guid"], &["UUID", "GUID"]),
];

/// The one variable called by the kind of value the error is about.
fn concept_variable(t: &TerminalError, ctx: &Context) -> Option<String> {
    re!(PARAMETER, r"\(\$(?P<name>\w+)\)");
    let mut words: Vec<String> = Vec::new();
    let mut push = |text: &str| {
        words.extend(
            text.split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| w.len() >= 2)
                .map(str::to_ascii_lowercase),
        );
    };
    push(&t.error.message);
    if let Some(kind) = t.error.kind.as_deref() {
        for w in type_words(short(kind)) {
            push(w);
        }
        push(kind);
    }
    if let Some(library) = t.library.as_deref() {
        push(library);
    }
    let parameters: Vec<String> = PARAMETER
        .captures_iter(&t.error.message)
        .map(|c| c["name"].to_ascii_uppercase())
        .collect();
    let parts: Vec<&str> = CONCEPTS
        .iter()
        .filter(|(said, _)| words.iter().any(|w| said.contains(&w.as_str())))
        .flat_map(|(_, called)| called.iter().copied())
        .chain(parameters.iter().map(String::as_str))
        .collect();
    if parts.is_empty() {
        return None;
    }
    let called = |name: &str| {
        name.split('_').any(|part| {
            let part = part.to_ascii_uppercase();
            let singular = part.strip_suffix('S').unwrap_or(&part);
            parts.iter().any(|p| *p == part || *p == singular)
        })
    };
    let hits: Vec<&String> = ctx
        .env
        .iter()
        .filter(|(n, v)| {
            let v = v.trim();
            called(n) && !v.is_empty() && !crate::env_hints::is_path(v) && !v.contains("://")
        })
        .map(|(n, _)| n)
        .collect();
    crate::env_hints::sole(&hits)
}

/// A regular expression compiled at run time from a value that does not
/// compile: a `SyntaxError: Invalid regular expression` that V8 raised in
/// `new RegExp(…)` (the excerpt shows the call, or a package raised it),
/// not a literal of the program's source, which is a syntax error.
pub(super) fn pattern_rejected(t: &TerminalError, ctx: &Context) -> Option<Named> {
    let at_run_time =
        t.before.iter().any(|l| l.contains("RegExp(")) || super::files::raised_in_dependency(t);
    if !(REGEX_INVALID.is_match(&t.error.message) && at_run_time) {
        return None;
    }
    let var = pattern_variable(ctx, &[t.error.message.as_str()])?;
    named(
        "missing-config",
        format!("the value of {var} is rejected: {}", t.quote()),
    )
}

/// The variable holding the pattern an error prints between slashes or
/// quotes; as written, or once a library rewrote its named groups
/// (xregexp prints `([a-z]+)` for `(?<slug>[a-z]+)`); else the one
/// variable called a pattern.
fn pattern_variable(ctx: &Context, messages: &[&str]) -> Option<String> {
    re!(NAMED_GROUP, r"\?P?<[A-Za-z_]\w*>");
    let holds = |v: &str| {
        let v = v.trim();
        let unnamed = NAMED_GROUP.replace_all(v, "");
        v.len() >= 3
            && messages
                .iter()
                .any(|m| m.contains(v) || m.contains(unnamed.as_ref()))
    };
    let holders: Vec<&String> = ctx
        .env
        .iter()
        .filter(|(_, v)| holds(v))
        .map(|(n, _)| n)
        .collect();
    crate::env_hints::sole(&holders).or_else(|| {
        crate::env_hints::variable_called(ctx, &["PATTERN", "REGEX", "REGEXP", "MATCH"])
    })
}

/// Node's `TypeError: Invalid URL` (`ERR_INVALID_URL`): a URL the program
/// was given (from its environment or configuration) is not one, or is
/// unset: a setting, at the program's line that parsed it.
pub(super) fn invalid_url(t: &TerminalError) -> Option<Named> {
    let code = super::node_code(t)
        .map(|c| c.trim_matches(['\'', ',']))
        .unwrap_or_default();
    if code != "ERR_INVALID_URL"
        && !(t.error.message.starts_with("Invalid URL")
            && t.error.kind.as_deref() == Some("TypeError"))
    {
        return None;
    }
    let place = t
        .own_frame
        .as_ref()
        .map(|f| format!(" at {}:{}", f.file, f.line))
        .unwrap_or_default();
    named(
        "missing-config",
        format!(
            "a URL it was given is invalid or unset{place}: {}",
            t.quote()
        ),
    )
}

/// `ImportError: cannot import name 'DSSKey' from 'paramiko'`: the
/// installed version of a package lacks what another expects.
pub(super) fn version_mismatch(t: &TerminalError) -> Option<Named> {
    re!(
        CANNOT_IMPORT_NAME,
        r"cannot import name '(?P<name>[\w.]+)' from '(?P<module>[\w.]+)'"
    );
    if t.error.kind.as_deref().map(short) != Some("ImportError") {
        return None;
    }
    let c = CANNOT_IMPORT_NAME.captures(&t.error.message)?;
    named(
        "missing-module",
        format!(
            "the installed `{}` has no `{}`: a package version that does not fit the code that imports it ({})",
            &c["module"],
            &c["name"],
            t.quote()
        ),
    )
}
