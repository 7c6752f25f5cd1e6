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
    r"(?i)\bkey\b[^\n]*\bmust be\b[^\n]*\b(?:bytes|bits|characters|long)\b|\binvalid key (?:length|size)\b|\bkey (?:length|size) (?:is )?(?:invalid|wrong)\b"
);
re!(
    REGEX_INVALID,
    r"(?i)\binvalid regular expression\b|\bre\.error\b|\berror parsing regexp\b|\bPatternSyntaxException\b"
);

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
    if kind.is_some_and(|k| {
        programming_type(k) && !has_word(k, VALIDATOR_WORDS) || unreachable_type(k)
    }) {
        return None;
    }
    let messages: Vec<&str> = std::iter::once(t.error.message.as_str())
        .chain(t.chain.iter().map(|r| r.message.as_str()))
        .collect();
    let var = if REGEX_INVALID.is_match(&t.quote()) {
        pattern_variable(ctx, &messages)
    } else if KEY_SIZE.is_match(&t.error.message) {
        crate::env_hints::variable_called(ctx, &["KEY", "SECRET"])
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
        crate::env_hints::variable_of_value(&plain, &messages).or_else(|| {
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
        format!("the value of {var} is rejected: {}", t.quote()),
    )
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
