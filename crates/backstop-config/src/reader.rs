//! Typed reads from a spanned TOML tree that record a diagnostic instead of failing.
//!
//! serde stops at the first error; an operator fixing a config wants all of
//! them at once. So the loader walks the tree itself with this [`Reader`]:
//! each read either returns a value or records what was expected there and
//! returns `None`, and the walk goes on.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::Diagnostic;

/// A value with its place in the file.
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Collects diagnostics while values are read.
#[derive(Default)]
pub(crate) struct Reader {
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Byte offsets where the source's lines begin (for messages that name
    /// another line than the one they point at).
    pub(crate) line_starts: Vec<usize>,
}

/// Describes a found value for "expected X, found Y" labels.
pub(crate) fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The closest known word to `word`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

impl Reader {
    /// A reader of `source`.
    pub(crate) fn of(source: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            diagnostics: Vec::new(),
            line_starts,
        }
    }

    /// The 1-based line of byte `offset`.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&start| start <= offset)
            .max(1)
    }

    /// Records an error.
    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Records "invalid `what`: expected …, found …".
    pub(crate) fn expected(&mut self, value: &Value<'_>, what: &str, expected: &str) {
        self.error(Diagnostic::error(
            format!("invalid {what}"),
            value.span(),
            format!("expected {expected}, found {}", type_name(value.get_ref())),
        ));
    }

    /// Reports every key of `table` that is not in `known`, with a suggestion.
    pub(crate) fn unknown_keys(&mut self, table: &DeTable<'_>, known: &[&str], context: &str) {
        for (key, _) in table {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            let mut d = Diagnostic::error(
                format!("unknown key `{name}` in {context}"),
                key.span(),
                "unknown key",
            );
            d = match suggest(name, known.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("expected one of: {}", known.join(", "))),
            };
            self.error(d);
        }
    }

    /// A string.
    pub(crate) fn string(&mut self, value: &Value<'_>, what: &str) -> Option<String> {
        if let DeValue::String(s) = value.get_ref() {
            Some(s.to_string())
        } else {
            self.expected(value, what, "a string");
            None
        }
    }

    /// A non-empty string.
    pub(crate) fn non_empty_string(&mut self, value: &Value<'_>, what: &str) -> Option<String> {
        let s = self.string(value, what)?;
        if s.trim().is_empty() {
            self.error(Diagnostic::error(
                format!("invalid {what}"),
                value.span(),
                "expected a non-empty string",
            ));
            return None;
        }
        Some(s)
    }

    /// A boolean.
    pub(crate) fn boolean(&mut self, value: &Value<'_>, what: &str) -> Option<bool> {
        if let DeValue::Boolean(b) = value.get_ref() {
            Some(*b)
        } else {
            self.expected(value, what, "true or false");
            None
        }
    }

    /// A table.
    pub(crate) fn table<'t, 'i>(
        &mut self,
        value: &'t Value<'i>,
        what: &str,
    ) -> Option<&'t DeTable<'i>> {
        if let DeValue::Table(t) = value.get_ref() {
            Some(t)
        } else {
            self.expected(value, what, "a table");
            None
        }
    }

    /// An integer within `range`.
    pub(crate) fn integer(
        &mut self,
        value: &Value<'_>,
        what: &str,
        range: Range<i64>,
    ) -> Option<i64> {
        let DeValue::Integer(i) = value.get_ref() else {
            self.expected(value, what, "an integer");
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                self.error(Diagnostic::error(
                    format!("invalid {what}"),
                    value.span(),
                    format!(
                        "expected an integer from {} to {}",
                        range.start,
                        range.end - 1
                    ),
                ));
                None
            }
        }
    }

    /// A positive number (integer or float).
    pub(crate) fn positive_number(&mut self, value: &Value<'_>, what: &str) -> Option<f64> {
        let n = match value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            _ => {
                self.expected(value, what, "a number");
                return None;
            }
        };
        match n {
            Some(n) if n.is_finite() && n >= 1.0 => Some(n),
            _ => {
                self.error(Diagnostic::error(
                    format!("invalid {what}"),
                    value.span(),
                    "expected a number of at least 1",
                ));
                None
            }
        }
    }

    /// A duration written like `"500ms"`, `"10s"`, `"5m"`, `"1h30m"`, `"2d"`.
    pub(crate) fn duration(&mut self, value: &Value<'_>, what: &str) -> Option<Duration> {
        const EXPECTED: &str = "a duration such as \"500ms\", \"10s\", \"5m\" or \"1h\"";
        let DeValue::String(s) = value.get_ref() else {
            self.expected(value, what, EXPECTED);
            return None;
        };
        if let Some(d) = parse_duration(s) {
            Some(d)
        } else {
            self.error(Diagnostic::error(
                format!("invalid {what}"),
                value.span(),
                format!("expected {EXPECTED}"),
            ));
            None
        }
    }

    /// One of a fixed set of words.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        value: &Value<'_>,
        what: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let names: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        let expected = format!("one of {}", names.join(", "));
        let DeValue::String(s) = value.get_ref() else {
            self.expected(value, what, &expected);
            return None;
        };
        if let Some((_, v)) = choices.iter().find(|(n, _)| *n == s.as_ref()) {
            return Some(*v);
        }
        let mut d = Diagnostic::error(
            format!("invalid {what}"),
            value.span(),
            format!("expected {expected}"),
        );
        if let Some(s) = suggest(s, choices.iter().map(|(n, _)| *n)) {
            d = d.with_help(format!("did you mean \"{s}\"?"));
        }
        self.error(d);
        None
    }
}

/// Parses a human duration. A bare number is not accepted: `timeout = "10"`
/// is ambiguous, and the error says so.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() || text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    humantime::parse_duration(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("6m"), Some(Duration::from_secs(360)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn suggestions_need_a_close_match() {
        assert_eq!(
            suggest("comand", ["command", "dir", "env"]),
            Some("command")
        );
        assert_eq!(
            suggest("depend_on", ["depends_on", "dir"]),
            Some("depends_on")
        );
        assert_eq!(suggest("zzz", ["command", "dir"]), None);
    }
}
