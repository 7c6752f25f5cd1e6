//! Data that does not parse: a configuration file, a key, a data file the
//! program was reading when a parser or a schema refused it (`ScannerError`
//! of PyYAML, `JSON.parse`'s position, toml-rb's `ParseError`, a schema's
//! `StructError`), told apart from the runtime's verdict on the program's
//! own source.

use super::types::{has_word, parse_type};
use super::{
    CONFIG_FILE, CONFIG_WORD, Context, DATA_VERDICT, DEPENDENCIES_DIR, FORMAT_FAILURE,
    LINE_OF_FILE, MARKED_LINE, Named, PARSE_FAILED_SAID, PARSE_SAID, SYNTAX_TYPES, TerminalError,
    data_path_in, loaded_config, named, raised_in_dependency, source_place,
};
use crate::errno;

/// The runtime's verdict on source code: an un-namespaced `SyntaxError`
/// (PHP's `ParseError`); `Oj::ParseError` and `JSON::ParserError` are a
/// library's verdict on data.
pub(super) fn runtime_syntax(t: &TerminalError, kinds: &[&str]) -> bool {
    kinds.first().is_some_and(|k| SYNTAX_TYPES.contains(k))
        && !t
            .error
            .kind
            .as_deref()
            .is_some_and(|k| k.contains("::") || k.contains('\\') || k.contains('.'))
}

/// The runtime's verdict on the program's own source: not raised in an
/// installed package (a PEG parser's `SyntaxError` from node_modules is
/// about data).
pub(super) fn own_syntax_error(t: &TerminalError, kinds: &[&str]) -> bool {
    runtime_syntax(t, kinds) && !raised_in_dependency(t)
}

/// `missing-config` for a configuration, key or data file that does not
/// parse or is not valid, named from the error, the lines before it, or
/// the variable that points at it.
pub(super) fn data_does_not_parse(
    t: &TerminalError,
    ctx: &Context,
    kinds: &[&str],
    texts: &[&str],
    all: &str,
) -> Option<Named> {
    let is = |set: &[&str]| kinds.first().is_some_and(|k| set.contains(k));
    let message = t.error.message.as_str();
    // A configuration file that does not parse, named from the lines
    // before when the error does not: a parser library's syntax error
    // (Psych, PyYAML, json), or "while parsing config".
    // The runtime's verdict on source code is un-namespaced (`SyntaxError`,
    // PHP's `ParseError`); `Oj::ParseError`, `JSON::ParserError` are a
    // library's verdict on data.
    let parse_error = is(SYNTAX_TYPES) || kinds.first().is_some_and(|k| parse_type(k));
    // `@iarna/toml`, `@std/yaml`: the package's own name.
    let parser_library = t
        .library
        .as_deref()
        .map(|l| l.rsplit('/').next().unwrap_or(l))
        .is_some_and(|l| {
            [
                "psych",
                "yaml",
                "ruamel",
                "json",
                "toml",
                "tomllib",
                "tomli",
                "configparser",
            ]
            .contains(&l.to_ascii_lowercase().as_str())
        });
    let configish = CONFIG_WORD.is_match(all) || t.before.iter().any(|l| CONFIG_WORD.is_match(l));
    if parse_error && parser_library && configish && !CONFIG_FILE.is_match(all)
        || PARSE_SAID.is_match(message) && CONFIG_WORD.is_match(message)
    {
        let file = CONFIG_FILE
            .find(all)
            .map(|m| m.as_str().to_string())
            .or_else(|| loaded_config(t))
            .or_else(|| {
                t.before
                    .iter()
                    .filter(|l| CONFIG_WORD.is_match(l) || l.contains("load"))
                    .find_map(|l| data_path_in(l))
            })
            .map_or_else(String::new, |f| format!(" {f}"));
        // The parser's excerpt marks the line it stopped at (`15> key = 1`);
        // else a line before that says where in the file (AppConfig's
        // `target_tabel: no such variable at tuner.conf line 3`, then the
        // program's vaguer `failed to parse config`).
        let marked = t
            .detail
            .iter()
            .find(|d| MARKED_LINE.is_match(d))
            .map(|d| format!(" (at `{d}`)"))
            .or_else(|| {
                let name = file.trim().rsplit('/').next().filter(|n| !n.is_empty())?;
                (!all.contains(name))
                    .then(|| {
                        t.before
                            .iter()
                            .rev()
                            .find(|l| l.contains(name) && LINE_OF_FILE.is_match(l))
                    })
                    .flatten()
                    .map(|l| format!(" ({})", l.trim()))
            })
            .unwrap_or_default();
        return named(
            "missing-config",
            format!(
                "the configuration{file} does not parse: {}{marked}",
                t.quote()
            ),
        );
    }
    // `Syntax Error: line:8` of a parser, just after `loading configuration
    // from /etc/agent.toml`: the file does not parse (not the code: a
    // program's own syntax error says where in its source).
    if (PARSE_FAILED_SAID.is_match(message) || parse_error)
        && !t
            .place
            .as_deref()
            .is_some_and(|p| source_place(p) && !DEPENDENCIES_DIR.is_match(p))
        && let Some(file) = loaded_config(t)
    {
        return named(
            "missing-config",
            format!("the configuration file {file} is not valid: {}", t.quote()),
        );
    }
    if (is(SYNTAX_TYPES) || kinds.first().is_some_and(|k| parse_type(k)))
        && CONFIG_FILE.is_match(all)
    {
        // `JSON.parse`'s `… in JSON at position 59` names no file: the one
        // a variable or a line before points at is the one it parsed.
        let file = CONFIG_FILE
            .find_iter(all)
            .map(|m| m.as_str().to_string())
            .find(|f| !f.starts_with("in JSON"))
            .or_else(|| loaded_config(t))
            .or_else(|| crate::env_hints::file_meant(ctx, all).map(|(n, p)| format!("{p} ({n})")))
            .unwrap_or_else(|| "it parsed".to_string());
        return named(
            "missing-config",
            format!("the configuration file {file} is not valid: {message}"),
        );
    }

    // A parser library's error (`JsonException`, pyparsing's
    // `ParseSyntaxException`, toml-rb's `ParseError`, a PEG parser's
    // `SyntaxError` thrown from node_modules), not the runtime's verdict on
    // the program's own code: the file it was reading does not parse,
    // named by the lines before, or by the variable that points at it.
    let own_code = own_syntax_error(t, kinds);
    // Not an I/O failure: one with an errno (a full disk, a denied open,
    // a name that does not resolve) is named by it further down.
    // A schema's verdict (`StructError: At path: campaigns.1.startsAt`,
    // voluptuous' `MultipleInvalid: required key not provided`) or a
    // parser's position (`(8, 1): missing comma`, `at line 6 col 30`) is
    // about data too: the file the program just loaded.
    let data_verdict = kinds.iter().any(|k| {
        has_word(
            k,
            &[
                "Struct",
                "Schema",
                "Invalid",
                "Deserialize",
                "Serde",
                "Decode",
                "Decoding",
                "Conversion",
                "Coercion",
            ],
        )
    }) || DATA_VERDICT.is_match(message);
    let parsed_badly = parse_error
        || kinds.iter().any(|k| parse_type(k))
        || PARSE_SAID.is_match(message)
        || FORMAT_FAILURE.is_match(message);
    let format_failure =
        (parsed_badly || data_verdict) && !texts.iter().any(|x| errno::find(x).is_some());
    // A Go panic is the program's own (`uuid.MustParse` on a value), not
    // a file that does not parse.
    let panicked = message.starts_with("panic:") || t.error.kind.as_deref() == Some("panic");
    if format_failure
        && !own_code
        && !panicked
        && let Some(file) = loaded_config(t).or_else(|| {
            let code = format!("{}\n{all}", t.stack.join("\n"));
            crate::env_hints::data_file(ctx, &code)
                .or_else(|| {
                    crate::env_hints::file_meant(ctx, &code)
                        .filter(|(_, path)| crate::env_hints::data_or_key(path))
                })
                .filter(|(_, path)| !crate::env_hints::dated(path))
                .map(|(name, path)| format!("{path} ({name})"))
        })
    {
        let what = if crate::env_hints::key_material(&file) {
            "the key or certificate"
        } else {
            "the configuration file"
        };
        // A schema's verdict on data that parsed: not valid, rather than
        // does not parse.
        let verdict = if data_verdict && !parsed_badly {
            "is not valid"
        } else {
            "does not parse"
        };
        return named(
            "missing-config",
            format!("{what} {file} {verdict}: {}", t.quote()),
        );
    }
    None
}
