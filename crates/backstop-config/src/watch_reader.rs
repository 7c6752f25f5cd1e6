//! Reading `watch` ([`crate::watch`]): globs checked here, at file:line:col.

use toml::de::DeValue;

use crate::diagnostic::Diagnostic;
use crate::reader::{Reader, Value};
use crate::watch::{DEBOUNCE, Watch};

const WATCH_KEYS: &[&str] = &["paths", "ignore", "debounce"];

/// `watch` of service `name`.
pub(crate) fn read_watch(r: &mut Reader, v: &Value<'_>, name: &str) -> Option<Watch> {
    let what = |k: &str| format!("`{k}` in service `{name}`");
    if let DeValue::Array(_) = v.get_ref() {
        let paths = read_globs(r, v, &what("watch"))?;
        return Some(Watch {
            paths,
            ignore: Vec::new(),
            debounce: DEBOUNCE,
        });
    }
    let table = r.table(v, &what("watch"))?;
    r.unknown_keys(table, WATCH_KEYS, &format!("`watch` of service `{name}`"));
    let Some((_, p)) = table.get_key_value("paths") else {
        r.error(Diagnostic::error(
            format!("{} has no `paths`", what("watch")),
            v.span(),
            "expected `{ paths = [\"src/**/*.py\"], ignore = […], debounce = \"500ms\" }`",
        ));
        return None;
    };
    let paths = read_globs(r, p, &what("watch.paths"));
    let ignore = match table.get_key_value("ignore") {
        Some((_, i)) => read_globs(r, i, &what("watch.ignore")),
        None => Some(Vec::new()),
    };
    let debounce = match table.get_key_value("debounce") {
        Some((_, d)) => r.duration(d, &what("watch.debounce")),
        None => Some(DEBOUNCE),
    };
    Some(Watch {
        paths: paths?,
        ignore: ignore?,
        debounce: debounce?,
    })
}

/// A non-empty array of valid globs, relative to the service's `dir`.
fn read_globs(r: &mut Reader, v: &Value<'_>, what: &str) -> Option<Vec<String>> {
    let DeValue::Array(items) = v.get_ref() else {
        r.expected(
            v,
            what,
            "an array of file patterns such as [\"src/**/*.py\"]",
        );
        return None;
    };
    if items.is_empty() {
        r.error(Diagnostic::error(
            format!("invalid {what}"),
            v.span(),
            "expected at least one pattern, such as \"src/**/*.py\"",
        ));
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        let Some(glob) = r.non_empty_string(item, what) else {
            ok = false;
            continue;
        };
        if let Err(e) = globset::Glob::new(&glob) {
            r.error(Diagnostic::error(
                format!("invalid pattern in {what}"),
                item.span(),
                e.kind().to_string(),
            ));
            ok = false;
        } else if glob.starts_with('/') || glob.split('/').any(|c| c == "..") {
            r.error(
                Diagnostic::error(
                    format!("invalid pattern in {what}"),
                    item.span(),
                    "a pattern is relative to the service's `dir`, inside it",
                )
                .with_help("set the service's `dir` to the tree to watch"),
            );
            ok = false;
        } else {
            out.push(glob);
        }
    }
    ok.then_some(out)
}
