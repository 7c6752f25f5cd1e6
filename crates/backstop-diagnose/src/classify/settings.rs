//! Settings: a variable or key that is absent or rejected, an env file that
//! is not there, the variables an environment schema lists.

use super::{
    BARE_PATH, CODE_ENV_READ, CODEC_PATH_VARIABLE, CONFIG_KEY_INVALID, CONFIG_SAID, Context,
    DOTTED_SETTING, ENV_FILE_WORD, ENV_INVALID, ENV_LISTED, ENV_READ, ENV_SCHEMA_FAILED,
    ISSUE_MESSAGE, NAME_NOT_FOUND, NODE_EXCERPT, NONE_VALUE, Named, PARSE_POSITION, PYDANTIC_FIELD,
    QUOTED_NAME, QUOTED_PATH, QUOTED_SETTING, QUOTED_VARIABLE, SETTING, SETTING_SAID,
    TerminalError, absent_type, config_type, errno, has_word, named, programming_type,
};

/// The variables an environment schema's failure lists, as `: A, B`: in
/// its detail and stack (`STRIPE_KEY: required`), or in the issues it
/// printed just before (zod's `path: [ 'STRIPE_KEY' ]`, nearest block).
pub(super) fn env_schema_listed(t: &TerminalError) -> String {
    let mut vars: Vec<String> = t
        .detail
        .iter()
        .chain(t.stack.iter())
        .filter_map(|l| ENV_LISTED.captures(l).map(|c| c["var"].to_string()))
        .collect();
    if vars.is_empty() {
        // `before` is nearest first: the printed issues, up to the line
        // that opened them.
        let mut listed: Vec<String> = Vec::new();
        for l in t
            .before
            .iter()
            .filter(|l| *l != "^" && !NODE_EXCERPT.is_match(l))
        {
            listed.extend(
                QUOTED_VARIABLE
                    .captures_iter(l)
                    .chain(CODEC_PATH_VARIABLE.captures_iter(l))
                    .map(|c| c["var"].to_string()),
            );
            if ENV_SCHEMA_FAILED.is_match(l) {
                break;
            }
        }
        listed.reverse();
        vars = listed;
    }
    let mut seen = std::collections::HashSet::new();
    vars.retain(|v| seen.insert(v.clone()));
    if vars.is_empty() {
        String::new()
    } else {
        format!(": {}", vars.join(", "))
    }
}

/// Whether `path` names an env file (`.env`, `.env.production`,
/// `app.env`): its faults are the env file's, not a configuration file's.
pub(super) fn env_file_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == ".env"
        || name.starts_with(".env.")
        || std::path::Path::new(name)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("env"))
}

/// What the program listed just before refusing its configuration
/// (`config error: [tiers[3].points_multiplier] The property … is
/// required`), oldest first, as ` (a; b)`: where the file is wrong.
pub(super) fn listed_config_errors(t: &TerminalError) -> String {
    let mut listed: Vec<&str> = t
        .before
        .iter()
        .filter(|l| *l != "^" && !NODE_EXCERPT.is_match(l) && !l.starts_with("throw "))
        .skip_while(|l| !(CONFIG_SAID.is_match(l) || SETTING_SAID.is_match(l)))
        .take_while(|l| CONFIG_SAID.is_match(l) || SETTING_SAID.is_match(l))
        .take(3)
        .map(String::as_str)
        .collect();
    listed.reverse();
    if listed.is_empty() {
        String::new()
    } else {
        format!(" ({})", listed.join("; "))
    }
}

/// A library that reads configuration: its name says so (`config`,
/// `nconf`, `omegaconf`, `pydantic_settings`, `envalid`, `dotenv`) or it is
/// one of the common ones whose name does not.
pub(super) fn config_library(library: &str) -> bool {
    let lower = library.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    // By its words: `omegaconf`, `config-rs`, `pydantic_settings`, not
    // `confluent_kafka`.
    name.split(['-', '_', '.'])
        .any(|w| w.starts_with("config") || w.ends_with("conf") || w.contains("settings"))
        || name.starts_with("env")
        || name.ends_with("env")
        || ["decouple", "hydra", "everett", "convict", "confuse"].contains(&name)
}

/// A missing setting or an invalid configuration, in the forms of the
/// common frameworks and of programs' own checks.
pub(super) fn missing_setting(t: &TerminalError, kinds: &[&str], ctx: &Context) -> Option<Named> {
    let n = setting_named(t, kinds, ctx)?;
    // A setting missing because its env file was not found: the file is the cause.
    if n.summary.starts_with("a required setting is missing")
        && let Some(file) = t.before.iter().find_map(|l| unfound_env_file(l))
    {
        return named(
            "env-file-missing",
            format!("the env file {file} is missing, so {}", n.summary),
        );
    }
    Some(n)
}

/// `could not find configuration file /etc/app/app.env`: the env file.
pub(super) fn unfound_env_file(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    // A file that is there but does not parse ("missing quote … at line 2").
    if PARSE_POSITION.is_match(line) {
        return None;
    }
    let said_missing = [
        "could not find",
        "failed to find",
        "unable to find",
        "cannot find",
        "can't find",
        "unable to read",
        "could not read",
        "cannot read",
        "can't read",
        "not found",
        "no such file",
        "does not exist",
        "is missing",
        "file missing",
        "missing file",
        "missing env file",
    ]
    .iter()
    .any(|w| lower.contains(w))
        // `MISSING CONFIG FILE: /srv/app/.env.production`
        || lower.contains("missing") && lower.contains("file");
    if !said_missing {
        return None;
    }
    BARE_PATH
        .captures_iter(line)
        .chain(QUOTED_PATH.captures_iter(line))
        .chain(ENV_FILE_WORD.captures_iter(line))
        .map(|c| c["path"].trim_end_matches(['.', ',', ':']).to_string())
        .filter(|p| env_file_name(p))
        // `find .env file at path: .env.production`: the file, not the word.
        .max_by_key(String::len)
}

pub(super) fn setting_named(t: &TerminalError, kinds: &[&str], ctx: &Context) -> Option<Named> {
    let _ = ctx;
    let m = t.error.message.as_str();
    let first = kinds.first().copied().unwrap_or("");
    // os.environ['X'], ENV.fetch("X")
    if first == "KeyError" {
        let key = m
            .trim_start_matches("key not found: ")
            .trim_matches(['\'', '"', ' ']);
        if SETTING.is_match(key) {
            return named(
                "missing-config",
                format!("a required setting is missing: {key}"),
            );
        }
    }
    // pydantic: "1 validation error for Settings" + the field names.
    if first == "ValidationError" && m.contains("validation error") {
        let fields: Vec<&str> = t
            .detail
            .iter()
            .filter_map(|l| {
                PYDANTIC_FIELD
                    .captures(l)
                    .map(|c| c.get(1).map_or("", |f| f.as_str()))
            })
            .collect();
        let what = if fields.is_empty() {
            m.to_string()
        } else {
            // pydantic-settings reads `worker_concurrency` from
            // `PAYOUTS_WORKER_CONCURRENCY`: the variable to fix.
            fields
                .iter()
                .map(|f| match crate::env_hints::variable_for_field(ctx, f) {
                    Some(var) => format!("{f} ({var})"),
                    None => (*f).to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        return named(
            "missing-config",
            format!("the configuration is invalid: {what}"),
        );
    }
    // `UndefinedValueError: STRIPE_WEBHOOK_SECRET not found`,
    // `STRIPE_KEY was not found in the environment`.
    let said_absent = SETTING_SAID.is_match(m) || NAME_NOT_FOUND.is_match(m) || absent_type(first);
    if said_absent
        && first != "AssertionError"
        && !m.contains("AssertionError")
        && let Some(name) = setting_name(m).or_else(|| {
            absent_type(first)
                .then(|| setting_name(&t.detail.join("\n")))
                .flatten()
        })
    {
        return named(
            "missing-config",
            format!("a required setting is missing: {name}"),
        );
    }
    // `Missing required configuration property 'db.password'`.
    if said_absent
        && first != "AssertionError"
        && let Some(c) = QUOTED_SETTING.captures(m)
    {
        return named(
            "missing-config",
            format!("a required setting is missing: {}", &c["name"]),
        );
    }
    // `Invalid environment variables: { "JWT_SECRET": [ … ] }`: the names
    // are in the block below.
    if ENV_INVALID.is_match(m) {
        let below = t.detail.join("\n");
        let what = setting_name(&below).unwrap_or_else(|| t.quote());
        return named(
            "missing-config",
            format!("a required setting is missing or invalid: {what}"),
        );
    }
    // A time zone that does not exist (`ZoneInfoNotFoundError`, pytz's
    // `UnknownTimeZoneError`, Java's `ZoneRulesException`, TZInfo's
    // `InvalidTimezoneIdentifier`, Go's `unknown time zone X`): a setting's
    // value, whose variable the summary's post-pass names.
    if has_word(first, &["Zone", "Timezone"]) || m.contains("unknown time zone") {
        return named(
            "missing-config",
            format!("the time zone is not known: {}", t.quote()),
        );
    }
    // Guice's `ConfigurationException: No implementation for X was bound`
    // is the program's wiring, not its configuration.
    if config_type(first) && !m.contains("was bound") && !m.contains("Guice configuration") {
        return named(
            "missing-config",
            format!("the configuration is invalid: {}", t.quote()),
        );
    }
    // `Config validation error: "DATABASE_URL" must be a valid uri`.
    if CONFIG_SAID.is_match(m)
        && let Some(name) = QUOTED_NAME
            .captures(m)
            .map(|c| c["name"].to_string())
            .or_else(|| setting_name(m))
    {
        return named(
            "missing-config",
            format!("a setting is invalid or missing: {name}"),
        );
    }
    // `invalid partner configuration:` over a validator's list of issues
    // (z-schema's `"message": "Missing required property: feedUrl"`).
    if CONFIG_SAID.is_match(m)
        && let Some(issue) = t
            .detail
            .iter()
            .find_map(|l| ISSUE_MESSAGE.captures(l).map(|c| c["said"].to_string()))
    {
        return named(
            "missing-config",
            format!("the configuration is invalid: {issue} ({})", t.quote()),
        );
    }
    // `Required configuration option 'client' is missing`, `smtp.port: must be …`.
    if let Some(c) = CONFIG_KEY_INVALID.captures(m).or_else(|| {
        // `smtp.port: must be …`, not `redis.exceptions.ResponseError: …`
        // (a dotted exception type is no setting).
        DOTTED_SETTING.captures(m).filter(|c| {
            c["name"]
                .rsplit('.')
                .next()
                .is_some_and(|last| !last.starts_with(|ch: char| ch.is_ascii_uppercase()))
        })
    }) {
        return named(
            "missing-config",
            format!(
                "the configuration is invalid: `{}`: {}",
                &c["name"],
                t.quote()
            ),
        );
    }
    None
}

/// The setting a message names: an env-variable-shaped word
/// (`SMTP_ADDR` before `SMTP`), not a log level, a protocol or an error code.
pub(super) fn setting_name(m: &str) -> Option<String> {
    let names: Vec<&str> = SETTING
        .captures_iter(m)
        .filter_map(|c| c.name("name").map(|n| n.as_str()))
        .filter(|n| {
            !n.starts_with("ERR_")
                && errno::find(n).is_none()
                && !matches!(
                    *n,
                    "ERROR"
                        | "FATAL"
                        | "WARN"
                        | "INFO"
                        | "DEBUG"
                        | "HTTP"
                        // Perl's `Can't use an undefined value as an ARRAY
                        // reference`: kinds of reference, not settings.
                        | "ARRAY"
                        | "HASH"
                        | "CODE"
                        | "SCALAR"
                        | "GLOB"
                        | "URL"
                        | "API"
                        | "JSON"
                        | "ENV"
                        | "SQL"
                        | "GET"
                        | "POST"
                        | "PUT"
                        | "HEAD"
                        | "DELETE"
                        | "PATCH"
                        | "TLS"
                        | "SSL"
                        | "UTF"
                        | "NOT_FOUND"
                        | "AMQP"
                        | "SMTP"
                        | "TCP"
                        | "UDP"
                        | "DNS"
                )
        })
        .collect();
    names
        .iter()
        .find(|n| n.contains('_'))
        .or(names.first())
        .map(|n| (*n).to_string())
}

/// A value that is absent (`None`, `undefined`) fails a call, just after
/// the program said it reads a variable its environment does not have
/// (`signing key source: env TOKEN_SIGNING_SECRET`): the variable is unset.
pub(super) fn absent_variable(t: &TerminalError, kinds: &[&str], ctx: &Context) -> Option<Named> {
    let generic = t
        .error
        .kind
        .as_deref()
        .is_none_or(|k| k == "Error" || k == "Exception");
    if !(generic || kinds.first().is_some_and(|k| programming_type(k)))
        || !NONE_VALUE.is_match(&t.error.message)
    {
        return None;
    }
    let absent = |v: &String| !ctx.env.iter().any(|(n, _)| n == v);
    // What it said it reads, else what the code of the failing frames
    // reads (`key = os.environ.get("SIGNING_KEY")`, innermost first).
    let var = t
        .before
        .iter()
        .find_map(|l| {
            ENV_READ
                .captures_iter(l)
                .map(|c| c["var"].to_string())
                .find(absent)
        })
        .or_else(|| {
            t.stack.iter().rev().find_map(|l| {
                CODE_ENV_READ
                    .captures_iter(l)
                    .filter_map(|c| c.name("var").or_else(|| c.name("v2")))
                    .map(|m| m.as_str().to_string())
                    .find(absent)
            })
        })?;
    named(
        "missing-config",
        format!(
            "the setting {var} is not set: the program reads it and fails without it ({})",
            t.quote()
        ),
    )
}
