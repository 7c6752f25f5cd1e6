//! Files and paths an error names: a missing file with the variable that
//! points at it, the configuration file loaded just before a failure, a
//! program's own source versus its data.

use super::{
    BARE_PATH, CONFIG_FILE, CONFIG_WORD, Context, DEPENDENCIES_DIR, NODE_EXCERPT, NODE_PATH_FIELD,
    Named, QUOTED_PATH, TerminalError, env_file_name, named,
};

/// `command-not-found` for a program the service runs (`ffmpeg`, not its
/// own command) that is not installed.
pub(super) fn program_not_installed(program: &str, t: &TerminalError) -> Option<Named> {
    named(
        "command-not-found",
        format!(
            "the program `{program}` it runs is not installed (not found in PATH): {}",
            t.quote()
        ),
    )
}

/// A file that is not there: an env file, or any other it needs, with the
/// variable (or flag) of the service that points at it.
pub(super) fn missing_file(path: &str, ctx: &Context) -> Option<Named> {
    if let Some(c) = DEPENDENCIES_DIR.captures(path) {
        return named(
            "missing-module",
            format!(
                "the runtime cannot import `{}`: the installed dependencies are missing (run the install step: composer install, npm ci, pip install)",
                &c["path"]
            ),
        );
    }
    if env_file_name(path) {
        return named(
            "env-file-missing",
            format!("the env file {path} is missing"),
        );
    }
    let by = crate::env_hints::paths(ctx)
        .into_iter()
        .find(|(_, v)| *v == path || ctx.absolute(v) == path)
        .map_or_else(String::new, |(name, _)| format!(" ({name})"));
    let what = if crate::env_hints::key_material(path) {
        "the key or certificate it needs is missing"
    } else {
        "a file it needs is missing"
    };
    named("missing-config", format!("{what}: {path}{by}"))
}

/// A file the program was pointed at that is not the archive it should be
/// (jszip's `Can't find end of central directory : is this a zip file ?`,
/// Phar's `"/srv/rates.tar.gz" is a corrupted tar file`, Python's
/// `BadZipFile`, zlib's `incorrect header check`): a damaged download or
/// the wrong file, named with the variable that points at it.
pub(super) fn not_an_archive(t: &TerminalError, all: &str, ctx: &Context) -> Option<Named> {
    if !ARCHIVE_DAMAGED.is_match(all) {
        return None;
    }
    let archive = |p: &str| crate::env_hints::data_or_key(p) && !DEPENDENCIES_DIR.is_match(p);
    let said = data_path_in(all).filter(|p| archive(p));
    let path = said.or_else(|| {
        let shown: Vec<&str> = crate::env_hints::paths(ctx)
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| archive(v))
            .filter(|v| all.contains(v) || t.before.iter().any(|l| l.contains(v)))
            .collect();
        crate::env_hints::sole(&shown)
    })?;
    named(
        "missing-config",
        format!(
            "the file {} is not a valid archive (damaged, truncated, or another file): {}",
            ctx.absolute(&path),
            t.quote()
        ),
    )
}

/// A native library the program loads is not installed (PHP FFI's
/// `Failed loading 'libvips.so.42'`, ctypes' `cannot open shared object
/// file`, the loader's `error while loading shared libraries`, Java's
/// `UnsatisfiedLinkError: no vips in java.library.path`).
pub(super) fn shared_library_missing(t: &TerminalError, all: &str) -> Option<Named> {
    let c = SHARED_LIBRARY_MISSING.captures(all)?;
    let library = ["lib", "lib2", "lib3", "lib4"]
        .iter()
        .find_map(|n| c.name(n))
        .map_or_else(String::new, |m| format!(" `{}`", m.as_str()));
    named(
        "missing-module",
        format!(
            "the shared library{library} it loads is not installed (or not on the loader's path): {}",
            t.quote()
        ),
    )
}

/// A key or certificate the program was pointed at that its crypto
/// library cannot read (OpenSSL's `Neither PUB key nor PRIV key`, `no
/// start line`, `bad decrypt`; `Could not deserialize key data`): the one
/// key file of its settings.
pub(super) fn key_unreadable(t: &TerminalError, all: &str, ctx: &Context) -> Option<Named> {
    if !KEY_UNREADABLE.is_match(all) {
        return None;
    }
    let keys: Vec<&str> = crate::env_hints::paths(ctx)
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| crate::env_hints::key_material(v))
        .collect();
    let key = crate::env_hints::sole(&keys)?;
    named(
        "missing-config",
        format!(
            "the key or certificate {} cannot be read (damaged, truncated, or not a key): {}",
            ctx.absolute(&key),
            t.quote()
        ),
    )
}

re!(
    KEY_UNREADABLE,
    r"(?i)neither pub key nor priv key|\bno start line\b|\bbad decrypt\b|could not deserialize key|PEM_read_bio|unsupported key format|invalid (?:private|public) key|(?:unable|failed) to (?:load|parse|read) (?:the )?(?:private |public )?key\b|not a valid (?:PEM|private key|public key)"
);

re!(
    SHARED_LIBRARY_MISSING,
    r"Failed loading '(?P<lib>[^']+\.so[^']*)'|UnsatisfiedLinkError: no (?P<lib2>\S+) in java\.library\.path|error while loading shared libraries: (?P<lib3>[^\s:]+)|(?P<lib4>lib[\w.+-]+\.so[\w.]*): cannot open shared object file|cannot open shared object file"
);

re!(
    ARCHIVE_DAMAGED,
    r"(?i)end of central directory|is this a zip file|not a zip file|BadZipFile|ZipException|corrupted (?:tar|zip|gzip) (?:file|archive)|invalid tar (?:header|file)|not in gzip format|not a gzip file|incorrect header check|invalid (?:gzip|zip) (?:header|file)|unexpected end of (?:archive|zip|gzip)|Unrecognized archive format|TAR_BAD_ARCHIVE|is not a (?:zip|tar|gzip) (?:file|archive)"
);

/// A path `text` names that is not the program's own source file (a
/// script's path in "… in /srv/app/bin/run.php on line 19").
pub(super) fn data_path_in(text: &str) -> Option<String> {
    let source = |p: &str| {
        std::path::Path::new(p).extension().is_some_and(|e| {
            [
                "php", "py", "rb", "pl", "pm", "js", "mjs", "cjs", "ts", "go", "java", "psgi",
            ]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
        })
    };
    NODE_PATH_FIELD
        .captures(text)
        .map(|c| c["path"].to_string())
        .into_iter()
        .chain(
            QUOTED_PATH
                .captures_iter(text)
                .map(|c| c["path"].to_string()),
        )
        .chain(
            BARE_PATH
                .captures_iter(text)
                .map(|c| c["path"].trim_end_matches([':', ',', '.', ')']).to_string()),
        )
        .find(|p| (p.contains('/') || p.contains('.')) && !source(p))
}

/// A file path `text` names, quoted or bare.
pub(super) fn path_in(text: &str) -> Option<String> {
    QUOTED_PATH
        .captures_iter(text)
        .map(|c| c["path"].to_string())
        .find(|p| p.contains('/') || p.contains('.'))
        .or_else(|| {
            BARE_PATH
                .captures(text)
                .map(|c| c["path"].trim_end_matches([':', ',', '.']).to_string())
        })
}

/// The dotted module name of the Python file at `place`
/// (`/srv/app/ledger/models.py, line 2` → `ledger.models`), read from the
/// top package of `sibling` (a module of the same package tree).
pub(super) fn dotted_module(place: &str, sibling: &str) -> Option<String> {
    let file = place.split(", line").next()?.trim();
    let top = sibling.split('.').next()?;
    let at = file.rfind(&format!("/{top}/"))?;
    let rel = file[at + 1..].strip_suffix(".py")?;
    let rel = rel.strip_suffix("/__init__").unwrap_or(rel);
    Some(rel.replace('/', "."))
}

/// Whether a place (`main.py, line 3`, `app.pl line 4`) is in the
/// program's own source code.
pub(super) fn source_place(place: &str) -> bool {
    let file = place.split([',', ':', ' ']).next().unwrap_or(place);
    std::path::Path::new(file).extension().is_some_and(|e| {
        [
            "py", "rb", "pl", "pm", "js", "mjs", "cjs", "ts", "go", "java", "php", "rs",
        ]
        .iter()
        .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// The configuration file a line just before the error says is being
/// loaded (`loading configuration from /etc/agent.toml`).
pub(super) fn loaded_config(t: &TerminalError) -> Option<String> {
    // Node prints the throwing line of its source first (`file:1294`, the
    // code, a caret): not what the program was doing.
    t.before
        .iter()
        .filter(|l| *l != "^" && !NODE_EXCERPT.is_match(l))
        .take(3)
        // A piped stdout's lines come out at exit, after the error.
        .chain(t.after.iter())
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            CONFIG_WORD.is_match(l)
                || ["load", "read", "open", "pars", "validat"]
                    .iter()
                    .any(|w| lower.contains(w))
        })
        .find_map(|l| {
            CONFIG_FILE
                .find_iter(l)
                // `agent.conf.rb` is not `agent.conf`.
                .find(|m| {
                    let rest = &l[m.end()..];
                    !(rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_alphanumeric()))
                })
                .map(|m| m.as_str().to_string())
                // A dated file is a batch of input, not the configuration.
                .filter(|f| !f.starts_with("in JSON") && !crate::env_hints::dated(f))
        })
}

/// Whether `t` was raised in an installed package (a dependency), not in
/// the program's own code.
pub(super) fn raised_in_dependency(t: &TerminalError) -> bool {
    t.library.is_some()
        || t.place
            .as_deref()
            .is_some_and(|p| DEPENDENCIES_DIR.is_match(p))
}
