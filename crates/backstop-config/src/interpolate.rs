//! `${VAR}` in `backstop.toml`: every string value may name variables of
//! backstop's own environment, or of the `[daemon] env_file`, which is read
//! first (backstop's environment wins over the file, as in Compose).
//!
//! - `${VAR}`: its value; unset is a config error at the value's line:col.
//! - `${VAR:-default}`: the default when `VAR` is unset or empty.
//! - `$${`: a literal `${`, for a shell snippet that expands at run time
//!   (`sh -c "exec gunicorn -b 0.0.0.0:$${PORT}"`).
//! - `$VAR` without braces and `$$` are left alone: shell commands use them.
//! - `${BACKSTOP_INSTANCE}` and `${BACKSTOP_PORT}` are each service's own
//!   (its copy number and port, see `instances`), filled in later.
//!
//! The parsed tree is rewritten in place, so every later message still
//! points at the file's own text.

use std::collections::HashMap;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::diagnostic::Diagnostic;
use crate::reader::Reader;

/// Why a value cannot be expanded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// `${NAME}` with `NAME` unset and no default.
    Unset(String),
    /// `${` without its `}`.
    Unterminated,
    /// `${}` or a name that is not one.
    BadName(String),
}

/// `text` with its `${…}` expanded from `vars`; `None` when it has none.
pub(crate) fn expand(
    text: &str,
    vars: &HashMap<String, String>,
) -> Result<Option<String>, ExpandError> {
    if !text.contains("${") {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        // `$${` is a literal `${`.
        if at > 0 && rest.as_bytes()[at - 1] == b'$' {
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let inner_start = at + 2;
        let Some(len) = rest[inner_start..].find('}') else {
            return Err(ExpandError::Unterminated);
        };
        let inner = &rest[inner_start..inner_start + len];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(ExpandError::BadName(inner.to_string()));
        }
        // Filled in per copy of a service (see `instances`), not from here.
        if crate::instances::INSTANCE_VARIABLES.contains(&name) && !vars.contains_key(name) {
            let end = inner_start + len;
            out.push_str(&rest[at..=end]);
            rest = &rest[end + 1..];
            continue;
        }
        match (
            vars.get(name)
                .filter(|v| !v.is_empty() || default.is_none()),
            default,
        ) {
            (Some(v), _) => out.push_str(v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => return Err(ExpandError::Unset(name.to_string())),
        }
        rest = &rest[inner_start + len + 1..];
    }
    out.push_str(rest);
    Ok(Some(out))
}

/// Expands every string of `root` in place; errors go to `r`.
pub(crate) fn interpolate(r: &mut Reader, root: &mut DeTable<'_>, base: &Path) {
    let mut vars: HashMap<String, String> = HashMap::new();
    // The `[daemon] env_file` first: its own path may use backstop's environment.
    let process: HashMap<String, String> = std::env::vars().collect();
    if let Some(daemon) = root.get_mut("daemon")
        && let DeValue::Table(t) = daemon.get_mut()
        && let Some(file) = t.get_mut("env_file")
    {
        let span = file.span();
        if let DeValue::String(s) = file.get_mut() {
            match expand(s, &process) {
                Ok(Some(expanded)) => *s = expanded.into(),
                Ok(None) => {}
                Err(e) => report(r, span.clone(), &e),
            }
            let path = crate::load::resolve(base, s);
            match crate::environment::read_env_file(&path) {
                Ok(pairs) => vars.extend(pairs),
                Err(e) => r.error(Diagnostic::error(
                    format!("`daemon.env_file` cannot be read: {e}"),
                    span,
                    "the variables for `${…}` in this file",
                )),
            }
        }
    }
    vars.extend(process);
    walk_table(r, root, &vars);
}

fn walk_table(r: &mut Reader, table: &mut DeTable<'_>, vars: &HashMap<String, String>) {
    for (_, value) in table.iter_mut() {
        let span = value.span();
        walk_value(r, value.get_mut(), span, vars);
    }
}

fn walk_value(
    r: &mut Reader,
    value: &mut DeValue<'_>,
    span: std::ops::Range<usize>,
    vars: &HashMap<String, String>,
) {
    match value {
        DeValue::String(s) => match expand(s, vars) {
            Ok(Some(expanded)) => *s = expanded.into(),
            Ok(None) => {}
            Err(e) => report(r, span, &e),
        },
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                let span = item.span();
                walk_value(r, item.get_mut(), span, vars);
            }
        }
        DeValue::Table(t) => walk_table(r, t, vars),
        _ => {}
    }
}

fn report(r: &mut Reader, span: std::ops::Range<usize>, e: &ExpandError) {
    let d = match e {
        ExpandError::Unset(name) => Diagnostic::error(
            format!("`${{{name}}}` is not set"),
            span,
            format!("{name} is not in backstop's environment nor in `[daemon] env_file`"),
        )
        .with_help(format!(
            "set it, give a default (`${{{name}:-value}}`), or write `$${{{name}}}` to leave it to the service's shell at run time"
        )),
        ExpandError::Unterminated => Diagnostic::error(
            "`${` without its closing `}`".to_string(),
            span,
            "a variable is written `${NAME}` or `${NAME:-default}`",
        ),
        ExpandError::BadName(inner) => Diagnostic::error(
            format!("`${{{inner}}}` does not name a variable"),
            span,
            "a variable name is letters, digits and `_`",
        ),
    };
    r.error(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> HashMap<String, String> {
        HashMap::from([
            ("HOST".to_string(), "127.0.0.1".to_string()),
            ("EMPTY".to_string(), String::new()),
        ])
    }

    #[test]
    fn expands_defaults_and_escapes() {
        let v = vars();
        assert_eq!(expand("plain $HOME and $$", &v), Ok(None));
        assert_eq!(
            expand("http://${HOST}:${PORT:-8000}/", &v),
            Ok(Some("http://127.0.0.1:8000/".into()))
        );
        assert_eq!(expand("${EMPTY:-x}", &v), Ok(Some("x".into())));
        assert_eq!(expand("${EMPTY}", &v), Ok(Some(String::new())));
        assert_eq!(
            expand("sh -c 'echo $${PORT}'", &v),
            Ok(Some("sh -c 'echo ${PORT}'".into()))
        );
        assert_eq!(
            expand("${NOPE}", &v),
            Err(ExpandError::Unset("NOPE".into()))
        );
        assert_eq!(expand("${HOST", &v), Err(ExpandError::Unterminated));
        assert_eq!(expand("${1A}", &v), Err(ExpandError::BadName("1A".into())));
    }
}
