//! The honest fallback: `crashed`, quoting the terminal error, naming its
//! errno, runtime and place.

use super::{Runtime, TerminalError, errno, node_code};

/// `crashed`, from the terminal error: what to quote, the errno when there
/// is one, and the runtime.
pub fn crashed_summary(t: &TerminalError, exit: Option<&str>) -> String {
    let errno = t
        .texts()
        .find_map(errno::find)
        .map(|e| e.name().to_string())
        // Node's own error codes (`code: 'ERR_INVALID_ARG_TYPE'`) say what
        // kind of bug it is, and are what one searches for.
        .or_else(|| node_code(t).map(str::to_string))
        .filter(|name| !t.quote().contains(name.as_str()))
        .map_or_else(String::new, |name| format!(" ({name})"));
    let exits = exit.map_or_else(|| "it fails".to_string(), |e| format!("it exits ({e})"));
    let at = match (&t.place, &t.own_frame) {
        (place, Some(f)) => {
            let line = f.line.to_string();
            let in_it = f
                .function
                .as_ref()
                .map_or_else(String::new, |name| format!("in {name}, "));
            match place {
                // Raised in the program's own code: where, and in what.
                Some(p) if p.contains(&f.file) && p.contains(&line) => format!(" ({in_it}{p})"),
                // Raised in a library or the runtime: from where in the
                // program's code.
                Some(p) => format!(" ({p}, from {in_it}{}:{line})", f.file),
                None => format!(" ({in_it}{}:{line})", f.file),
            }
        }
        (Some(p), None) => format!(" ({p})"),
        (None, None) => String::new(),
    };
    // Python's "During handling of the above exception": the one it was
    // handling is often the real bug.
    let from = match (t.runtime, t.chain.last()) {
        (Runtime::Python, Some(cause)) => {
            let q = cause.kind.as_ref().map_or_else(
                || cause.message.clone(),
                |k| format!("{k}: {}", cause.message),
            );
            format!(", raised from {q}")
        }
        _ => String::new(),
    };
    // A message that only announces a list (`Guice configuration errors:`):
    // the list's first line says what.
    let listed = if t.error.message.trim_end().ends_with(':') {
        t.detail
            .iter()
            .map(|l| l.trim())
            .find(|l| l.len() > 3 && !l.starts_with("at "))
            .map_or_else(String::new, |l| format!(" {l}"))
    } else {
        // The error said on the line below (nunjucks: `Error: Unable to
        // call `formatMoney``).
        t.detail
            .iter()
            .find(|l| l.starts_with("Error: ") || l.contains("Error: "))
            .map_or_else(String::new, |l| format!(": {l}"))
    };
    format!(
        "{exits} on a {} error no known cause explains: {}{listed}{from}{errno}{at}",
        t.runtime.name(),
        t.quote()
    )
}
