//! Diagnostics: what is wrong in a config file, where, and what was expected.
//!
//! Every problem found while reading `backstop.toml` becomes a [`Diagnostic`]
//! with a byte span into the source. Nothing stops at the first problem: the
//! loader collects them all, and [`ConfigError`] renders them together in the
//! style of rustc and `just` (`--> file:line:col`, the line, a caret underline).

use std::fmt::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::{Level, Renderer, Snippet};

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The config cannot be used.
    Error,
    /// The config can be used, but something will probably not work.
    Warning,
}

/// One problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The headline, e.g. ``unknown key `comand` in service `api` ``.
    pub message: String,
    /// Byte range of the offending text, when it has a place in the file.
    pub span: Option<Range<usize>>,
    /// Short text under the caret: what was expected there.
    pub label: String,
    /// An extra hint, e.g. ``did you mean `command`?``.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(message: impl Into<String>, span: Range<usize>, label: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            span: Some(span),
            label: label.into(),
            help: None,
        }
    }

    /// A warning at `span`.
    pub fn warning(
        message: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(message, span, label)
        }
    }

    /// Adds a hint shown below the source excerpt.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders this diagnostic against `source` (the text of `path`).
    pub fn render(&self, path: &Path, source: &str, color: bool) -> String {
        let level = match self.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        };
        let origin = path.display().to_string();
        let mut message = level.title(&self.message);
        if let Some(span) = &self.span {
            let span = clamp_span(span.clone(), source);
            message = message.snippet(
                Snippet::source(source)
                    .line_start(1)
                    .origin(&origin)
                    .fold(true)
                    .annotation(level.span(span).label(&self.label)),
            );
        }
        if let Some(help) = &self.help {
            message = message.footer(Level::Help.title(help));
        }
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        renderer.render(message).to_string()
    }
}

/// Keeps a span inside the source, on character boundaries and at least
/// one character wide, so that a problem at the end of the file still gets
/// a caret (and a span inside a multi-byte character, which the renderer
/// would panic on, never reaches it: found by `cargo fuzz run config`).
fn clamp_span(span: Range<usize>, source: &str) -> Range<usize> {
    let floor = |mut i: usize| {
        i = i.min(source.len());
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let end = floor(span.end);
    let start = floor(span.start).min(end);
    if start < end {
        start..end
    } else {
        let next = source[end..].chars().next().map_or(0, char::len_utf8);
        start..end + next
    }
}

/// 1-based line and column of a byte offset, for messages without a snippet.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A config that could not be loaded: the file, its text and every problem in it.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The config file as the user named it.
    pub path: PathBuf,
    /// Its text (empty when it could not be read).
    pub source_text: String,
    /// Every problem found, errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    /// How many of the diagnostics are errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Renders every diagnostic, then a one-line summary.
    pub fn render(&self, color: bool) -> String {
        render_all(&self.path, &self.source_text, &self.diagnostics, color)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// Renders a list of diagnostics followed by a summary line.
pub fn render_all(path: &Path, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.render(path, source, color));
        out.push_str("\n\n");
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if errors > 0 {
        let _ = write!(
            out,
            "error: {} in {}",
            [
                Some(plural(errors, "error")),
                (warnings > 0).then(|| plural(warnings, "warning"))
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and "),
            path.display()
        );
    } else if warnings > 0 {
        let _ = write!(
            out,
            "warning: {} in {}",
            plural(warnings, "warning"),
            path.display()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_at_a_multi_byte_character_renders() {
        // `cargo fuzz run config` found it: a carriage return before "…".
        for source in ["\r…", "a = \"…", "…", "x\r\n…\r"] {
            let err = crate::parse(Path::new("/tmp/backstop.toml"), source.to_string())
                .expect_err("not a config");
            let text = err.render(false);
            assert!(text.contains("error"), "{text}");
        }
    }

    #[test]
    fn line_col_counts_from_one() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 8), (2, 3));
    }

    #[test]
    fn renders_caret_under_the_span() {
        let src = "[services.api]\ncomand = \"x\"\n";
        let d = Diagnostic::error("unknown key `comand`", 15..21, "not a service key")
            .with_help("did you mean `command`?");
        let text = d.render(Path::new("backstop.toml"), src, false);
        assert!(text.contains("--> backstop.toml:2:1"), "{text}");
        assert!(text.contains("^^^^^^ not a service key"), "{text}");
        assert!(text.contains("help: did you mean `command`?"), "{text}");
    }
}
