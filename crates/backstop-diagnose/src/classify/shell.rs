//! A wrapper script's own failures: a program that is not there or not
//! executable, a directory that is gone, a file it sources that is missing.

use super::{Context, Named, Runtime, SOURCED_MISSING, TerminalError, missing_file, named};

/// A wrapper script's own failures: a program that is not there or not
/// executable, a directory that is gone, an env file that is missing.
pub(super) fn shell(t: &TerminalError, ctx: &Context) -> Option<Named> {
    let m = t.error.message.as_str();
    let exit = ctx.exit.as_deref().unwrap_or("");
    let subject = |m: &str| {
        m.split(": ")
            .find(|p| !p.is_empty() && *p != "exec" && *p != "cd" && *p != "." && *p != "source")
            .unwrap_or(m)
            .to_string()
    };
    if let Some(rest) = m
        .strip_prefix("cd: ")
        .or_else(|| m.strip_prefix("line 1: cd: "))
    {
        // dash: `cd: can't cd to /srv/app/current`; bash: `cd: /srv/app: No such …`.
        let dir = rest.split(": ").next().unwrap_or(rest);
        let dir = dir.strip_prefix("can't cd to ").unwrap_or(dir);
        return named(
            "workdir-missing",
            format!("the directory {dir} does not exist"),
        );
    }
    if let Some(rest) = m.strip_prefix(".: ").or_else(|| m.strip_prefix("source: ")) {
        let file = rest.split(": ").next().unwrap_or(rest);
        return named(
            "env-file-missing",
            format!("the file it sources, {file}, is missing"),
        );
    }
    if let Some(file) = m.strip_suffix(": No such file or directory")
        && exit != "code 127"
        && let Some(n) = missing_file(file, ctx)
        && n.id == "env-file-missing"
    {
        return Some(n);
    }
    if m.ends_with(": not found") || m.ends_with("command not found") || exit == "code 127" {
        return named(
            "command-not-found",
            format!("the program `{}` does not exist", subject(m)),
        );
    }
    if m.ends_with("Permission denied") && exit == "code 126" {
        return named(
            "command-not-found",
            format!("the program `{}` is not executable", subject(m)),
        );
    }
    if let Some(what) = m
        .strip_prefix("syntax error")
        .or_else(|| m.strip_prefix("Syntax error"))
    {
        // `deploy.sh:13`: bash says the line (of a file cut short, the last).
        let script = t
            .place
            .as_deref()
            .or(t.detail.first().map(String::as_str))
            .unwrap_or("the script");
        return named(
            "syntax-error",
            format!("the script {script} does not parse: syntax error{what}"),
        );
    }
    if m.ends_with("unbound variable") {
        let name = subject(m);
        return named(
            "missing-config",
            format!("a required setting is missing: {name}"),
        );
    }
    None
}

/// The script a launcher printed it runs (`> node --max-old-space-size=64
/// indexer.js`, npm's and yarn's echo of the start command), with a heap
/// limit it sets.
pub(super) fn launched_script(before: &[String]) -> Option<String> {
    let line = before
        .iter()
        .find(|l| l.starts_with("> ") && !l.contains('@'))?;
    let words: Vec<&str> = line[2..].split_whitespace().collect();
    let script = words.iter().find(|w| {
        std::path::Path::new(w).extension().is_some_and(|e| {
            ["js", "mjs", "cjs", "ts", "py", "rb", "jar"]
                .iter()
                .any(|x| e.eq_ignore_ascii_case(x))
        })
    })?;
    let limit = words
        .iter()
        .find(|w| w.starts_with("--max-old-space-size") || w.starts_with("-Xmx"))
        .map_or_else(String::new, |l| format!(" (with {l})"));
    Some(format!("{script}{limit}"))
}

/// `./run: line 5: /etc/default/app: No such file or directory` with a
/// status other than 127 is a file a shell script sources (a missing
/// program exits 127): its defaults, an env file by another name.
pub(super) fn sourced_file_missing(t: &TerminalError, exit: &str) -> Option<Named> {
    let m = t.error.message.as_str();
    // The shell's own line, or its message once `script: line 5: ` is read off.
    let file = match SOURCED_MISSING.captures(m) {
        Some(c) => c.name("file")?.as_str(),
        None if t.runtime == Runtime::Shell => m
            .strip_suffix(": No such file or directory")
            .filter(|f| f.starts_with('/') && !f.contains(": "))?,
        None => return None,
    };
    let plain = std::path::Path::new(file).extension().is_none_or(|e| {
        ["env", "sh", "conf", "cfg", "defaults", "rc"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    });
    (exit != "code 127" && plain).then(|| Named {
        id: "env-file-missing",
        summary: format!("the file it sources, {file}, is missing"),
        strong: true,
    })
}
