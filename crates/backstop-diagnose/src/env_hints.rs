//! What the service's environment says about an error that does not: the
//! file a path variable holds (`Error: Os { code: 2, kind: NotFound }` of a
//! program started with `AGENT_CONFIG=/etc/agent.conf`), the variable an
//! exception calls by a word (`BadDsn` → `SENTRY_DSN`), the directory a
//! write that filled the disk went to (`BACKUP_DIR`).
//!
//! Only names and path values are ever shown: a value that is not a path
//! may be a secret.

use crate::classify::Context;

/// Variables every process has: never the program's own settings.
const SYSTEM: &[&str] = &[
    "PATH",
    "HOME",
    "PWD",
    "OLDPWD",
    "SHELL",
    "TMPDIR",
    "TMP",
    "TEMP",
    "USER",
    "LOGNAME",
    "MAIL",
    "TERM",
    "LANG",
    "LC_ALL",
    "PYTHONPATH",
    "NODE_PATH",
    "GOPATH",
    "GOROOT",
    "GOCACHE",
    "GOMODCACHE",
    "JAVA_HOME",
    "VIRTUAL_ENV",
    "PERL5LIB",
    "GEM_HOME",
    "GEM_PATH",
    "RUBYLIB",
    "INVOCATION_ID",
    "NOTIFY_SOCKET",
];

fn system(name: &str) -> bool {
    SYSTEM.contains(&name)
        || [
            "XDG_",
            "BACKSTOP_",
            "CARGO_",
            "RUSTUP_",
            "NVM_",
            "PYENV_",
            "SDKMAN_",
        ]
        .iter()
        .any(|p| name.starts_with(p))
}

/// The one item of `items`, when there is exactly one: a guess that more
/// than one candidate fits is no answer.
pub(crate) fn sole<T: AsRef<str>>(items: &[T]) -> Option<String> {
    match items {
        [one] => Some(one.as_ref().to_string()),
        _ => None,
    }
}

/// Whether `value` reads as a file or directory path.
pub(crate) fn is_path(value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() || v.contains("://") || v.contains([':', ' ', ',', ';', '=']) {
        return false;
    }
    // A bare file name with the extension of a data file (`rules.json`),
    // relative to the service's directory.
    v.starts_with('/')
        || v.starts_with("./")
        || v.starts_with("../")
        || v.contains('/')
        || data_or_key(v)
}

/// The variables of the environment that hold paths, and the paths the
/// command line passes with a flag (`--config /etc/app.toml`,
/// `-Dconfig.file=/srv/app.conf`, named by the flag): `(name, path)`.
pub(crate) fn paths(ctx: &Context) -> Vec<(&str, &str)> {
    let flagged = ctx
        .command
        .iter()
        .enumerate()
        .skip(1)
        .filter_map(|(i, arg)| {
            if let Some((flag, value)) = arg.split_once('=')
                && flag.starts_with('-')
            {
                return is_path(value).then_some((flag, value));
            }
            let flag = ctx.command[i - 1].as_str();
            (flag.starts_with('-') && !arg.starts_with('-') && is_path(arg))
                .then_some((flag, arg.as_str()))
        });
    ctx.env
        .iter()
        .filter(|(n, _)| !system(n))
        .flat_map(|(n, v)| {
            // A bare name is a directory when the variable says so
            // (`EXPORT_DIR=exports`, relative to the service's dir).
            let bare = v.trim();
            let listed = if dir_named(n) && !bare.is_empty() && is_path(&format!("./{bare}")) {
                vec![bare]
            } else {
                listed_paths(v)
            };
            listed.into_iter().map(move |p| (n.as_str(), p))
        })
        .chain(flagged)
        .collect()
}

/// A variable called a directory (`EXPORT_DIR`, `SPOOL_FOLDER`,
/// `DATA_ROOT`).
fn dir_named(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["DIR", "DIRECTORY", "FOLDER", "ROOT"]
        .iter()
        .any(|w| upper.rsplit('_').next() == Some(w))
}

/// The paths a value holds: itself, or each of a list of paths
/// (`CONFIG_LAYERS=/etc/base.yaml:/etc/prod.yaml`, comma-separated too).
fn listed_paths(value: &str) -> Vec<&str> {
    let v = value.trim();
    if is_path(v) {
        return vec![v];
    }
    for sep in [':', ','] {
        let parts: Vec<&str> = v.split(sep).map(str::trim).collect();
        if parts.len() > 1 && parts.iter().all(|p| is_path(p)) {
            return parts;
        }
    }
    Vec::new()
}

/// A variable every service may be given that says nothing of its own
/// settings (`PORT`, `NODE_ENV`, `LOG_LEVEL`, `TZ`).
pub(crate) fn generic_variable(name: &str) -> bool {
    system(name)
        || matches!(
            name,
            "PORT"
                | "HOST"
                | "NODE_ENV"
                | "APP_ENV"
                | "RAILS_ENV"
                | "RACK_ENV"
                | "ENV"
                | "DEBUG"
                | "LOG_LEVEL"
                | "TZ"
                | "PYTHONPATH"
                | "PYTHONUNBUFFERED"
                | "NODE_OPTIONS"
        )
}

/// A value that tells one variable from another: not `true`, `10` or
/// `localhost`.
fn distinctive(v: &str) -> bool {
    v.len() >= 4
        && (v.chars().any(char::is_alphabetic) || v.len() >= 5)
        && !["true", "false", "null", "none", "localhost", "127.0.0.1"]
            .contains(&v.to_ascii_lowercase().as_str())
}

/// The one variable whose value (or a word of it) the texts quote
/// (`'MONDAY-FRI'`, `"0 8 * * mon-fry"`).
pub(crate) fn variable_of_quoted(ctx: &Context, texts: &[&str]) -> Option<String> {
    static QUOTED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"'([^'\n]{3,80})'|"([^"\n]{3,80})"|`([^`\n]{3,80})`"#)
            .expect("UNWRAP: a constant pattern")
    });
    let own: Vec<(&str, &str)> = ctx
        .env
        .iter()
        .filter(|(n, v)| !system(n) && !v.trim().is_empty())
        .map(|(n, v)| (n.as_str(), v.trim()))
        .collect();
    let quoted: Vec<&str> = texts
        .iter()
        .flat_map(|t| QUOTED.captures_iter(t))
        .filter_map(|c| c.iter().skip(1).flatten().next().map(|m| m.as_str().trim()))
        .filter(|q| distinctive(q))
        .collect();
    let by_quote: Vec<&str> = own
        .iter()
        .filter(|(_, v)| {
            quoted.iter().any(|q| {
                *v == *q
                    || v.split(|c: char| c.is_whitespace() || ",;".contains(c))
                        .any(|w| w == *q)
            })
        })
        .map(|(n, _)| *n)
        .collect();
    let mut hits = by_quote;
    hits.sort_unstable();
    hits.dedup();
    sole(&hits)
}

/// The one variable holding a value the error quotes or names: a quoted
/// word of its value (`'MONDAY-FRI'` of `DIGEST_SCHEDULE=0 7 * * MONDAY-FRI`),
/// else its whole value as a word (`America/Sao_Paolo` of `TZ`). Values
/// too plain to tell apart (`true`, `10`) are not matched.
pub(crate) fn variable_of_value(ctx: &Context, texts: &[&str]) -> Option<String> {
    if let Some(one) = variable_of_quoted(ctx, texts) {
        return Some(one);
    }
    let own: Vec<(&str, &str)> = ctx
        .env
        .iter()
        .filter(|(n, v)| !system(n) && !v.trim().is_empty())
        .map(|(n, v)| (n.as_str(), v.trim()))
        .collect();
    let only = |mut hits: Vec<&str>| -> Option<String> {
        hits.sort_unstable();
        hits.dedup();
        sole(&hits)
    };
    // The whole value, or one item of a list (`10.0.0.0/8, 10.20.300.0/24`).
    let items = |v: &'_ str| -> Vec<String> {
        let mut all = vec![v.to_string()];
        if v.contains([',', ';']) {
            all.extend(v.split([',', ';']).map(|i| i.trim().to_string()));
        }
        all
    };
    only(
        own.iter()
            .filter(|(_, v)| {
                items(v)
                    .iter()
                    .any(|i| distinctive(i) && texts.iter().any(|t| value_in(t, i)))
            })
            .map(|(n, _)| *n)
            .collect(),
    )
}

/// The one variable holding a number (of four digits or more) the output
/// shows (`map_size=1048576` of `INDEX_MAP_SIZE=1048576`): the size a
/// limit was configured with.
pub(crate) fn variable_of_number(ctx: &Context, texts: &[&str]) -> Option<String> {
    variable_of_number_shown(ctx, texts, |_, v| v.len() >= 4)
}

/// The one variable holding a count or size (`PREFORK_WORKERS=40`,
/// `VECTOR_INDEX_MB=4096`) that the program's own lines show as a whole
/// number (`forking 40 workers`, `mapping 4096 MB`): what asked for more
/// memory or processes than the limit gives. Not ports, not 0 or 1.
pub(crate) fn variable_of_count(ctx: &Context, lines: &[&str]) -> Option<String> {
    variable_of_number_shown(ctx, lines, |name, v| {
        !name.to_ascii_uppercase().contains("PORT") && v.parse::<u64>().is_ok_and(|n| n >= 2)
    })
}

/// The one variable of the service's own holding a whole number that
/// `texts` show as a word, among those `keep(name, value)` accepts.
fn variable_of_number_shown(
    ctx: &Context,
    texts: &[&str],
    keep: impl Fn(&str, &str) -> bool,
) -> Option<String> {
    let hits: Vec<&String> = ctx
        .env
        .iter()
        .filter(|(n, v)| {
            let v = v.trim();
            !system(n)
                && v.parse::<u64>().is_ok()
                && keep(n, v)
                && texts.iter().any(|t| value_in(t, v))
        })
        .map(|(n, _)| n)
        .collect();
    sole(&hits)
}

/// The one variable holding the process id the error is about
/// (`/proc/1/environ`, psutil's `(pid=1, name='init')`, `pid 4242`):
/// `WATCH_PID=1` aims the program at a process it may not touch, or that
/// is gone.
pub(crate) fn variable_of_pid(ctx: &Context, texts: &[&str]) -> Option<String> {
    static PID: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"/proc/(\d+)/|\bpid[= ](\d+)\b|\bprocess (\d+)\b")
            .expect("UNWRAP: a constant pattern")
    });
    let pids: Vec<&str> = texts
        .iter()
        .flat_map(|t| PID.captures_iter(t))
        .filter_map(|c| c.iter().skip(1).flatten().next().map(|m| m.as_str()))
        .collect();
    let hits: Vec<&String> = ctx
        .env
        .iter()
        .filter(|(n, v)| !system(n) && pids.contains(&v.trim()))
        .map(|(n, _)| n)
        .collect();
    sole(&hits)
}

/// Whether `value` stands in `text` as a whole (not inside a longer word
/// or path).
fn value_in(text: &str, value: &str) -> bool {
    text.match_indices(value).any(|(i, _)| {
        let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || "_/-.".contains(c));
        let after = text[i + value.len()..].chars().next();
        let after_ok = !part(after)
            || (after == Some('.') && !part(text[i + value.len() + 1..].chars().next()));
        !part(text[..i].chars().next_back()) && after_ok
    })
}

/// A name that says the variable points at a configuration or another
/// file the program reads at start.
fn names_a_file(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "CONFIG", "CONF", "CFG", "SETTINGS", "FILE", "PATH", "INI", "YAML", "JSON", "TOML",
    ]
    .iter()
    .any(|w| upper.split('_').any(|part| part == *w) || upper.ends_with(w))
}

/// The file an error without a path is most likely about: a path variable
/// whose name appears in the error's code lines (`fileConfig(LOG_CONFIG)`),
/// else the one variable whose name says it is a file the program reads.
pub(crate) fn file_meant(ctx: &Context, text: &str) -> Option<(String, String)> {
    let candidates = paths(ctx);
    if let Some((n, v)) = candidates.iter().find(|(n, _)| word_in(text, n)) {
        return Some(((*n).to_string(), (*v).to_string()));
    }
    let files: Vec<&(&str, &str)> = candidates.iter().filter(|(n, _)| names_a_file(n)).collect();
    match files.as_slice() {
        [(n, v)] => Some(((*n).to_string(), (*v).to_string())),
        _ => None,
    }
}

/// Extensions of a program's own source files.
const SOURCE_EXTENSIONS: &[&str] = &[
    "py", "js", "mjs", "cjs", "ts", "rb", "go", "java", "kt", "php", "pl", "pm", "rs", "c", "cs",
];

/// Extensions of files a program reads as data or configuration.
const DATA_EXTENSIONS: &[&str] = &[
    "toml",
    "yaml",
    "yml",
    "json",
    "json5",
    "jsonc",
    "hjson",
    "xml",
    "ini",
    "conf",
    "cfg",
    "properties",
    "hocon",
    "hcl",
    "pem",
    "key",
    "crt",
    "cert",
    // Archives a program is pointed at (a plugin bundle, a rates dump).
    "zip",
    "gz",
    "tgz",
    "tar",
    "bz2",
    "xz",
    "zst",
];

/// Whether `path` is a data or configuration file, a key or a certificate,
/// by its extension.
pub(crate) fn data_or_key(path: &str) -> bool {
    std::path::Path::new(path)
        .extension()
        .is_some_and(|e| DATA_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Whether `path`'s name carries a date (`orders-2026-12-02.json`): a
/// batch of input the program processes, not a file it is configured by.
pub(crate) fn dated(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let digits: Vec<usize> = name
        .char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    // Eight digits in a run, dashes allowed between: 2026-12-02, 20261202.
    let mut run = 0;
    let mut prev: Option<usize> = None;
    for i in digits {
        run = match prev {
            Some(p) if i == p + 1 || (i == p + 2 && name.as_bytes()[p + 1] == b'-') => run + 1,
            _ => 1,
        };
        if run >= 8 {
            return true;
        }
        prev = Some(i);
    }
    false
}

/// Whether `path` (perhaps followed by ` (VARIABLE)`) is a key or a
/// certificate by its extension.
pub(crate) fn key_material(path: &str) -> bool {
    let file = path.split(' ').next().unwrap_or(path);
    std::path::Path::new(file).extension().is_some_and(|e| {
        ["pem", "key", "crt", "cert"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// The data or configuration file (by its extension) a variable points at
/// that a failure to read one is about: the one `text` names (its path or
/// its variable), else the only one, else the only one whose name says it
/// is a file. `(name, path)`.
pub(crate) fn data_file(ctx: &Context, text: &str) -> Option<(String, String)> {
    let files: Vec<(&str, &str)> = paths(ctx)
        .into_iter()
        .filter(|(_, p)| {
            std::path::Path::new(p)
                .extension()
                .is_some_and(|e| DATA_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
                && !dated(p)
        })
        .collect();
    let own = |(n, p): &(&str, &str)| ((*n).to_string(), (*p).to_string());
    if let Some(f) = files
        .iter()
        .find(|(n, p)| text.contains(p) || word_in(text, n))
    {
        return Some(own(f));
    }
    if let [one] = files.as_slice() {
        return Some(own(one));
    }
    match files
        .iter()
        .filter(|(n, _)| names_a_file(n))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [one] => Some(own(one)),
        _ => None,
    }
}

/// The user a dependency's credentials are for, when an error says the
/// credentials are rejected: the one its own words name (`for user
/// "billing"`), else the user variable of the same dependency
/// (`SMTP_HOST` → `SMTP_USER`, `BILLING_JDBC_URL` → `BILLING_DB_USER`),
/// else the user part of its URL, else the only user variable there is.
pub(crate) fn credentials_user(ctx: &Context, summary: &str, texts: &[&str]) -> Option<String> {
    static SAID: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"(?i)\bfor user(?:name)? ['"]?(?P<user>[\w.@+-]+)|\buser(?:name)?[= ]['"](?P<quoted>[\w.@+-]+)['"]"#,
        )
        .expect("UNWRAP: a constant pattern")
    });
    if let Some(user) = texts.iter().find_map(|t| {
        SAID.captures(t)
            .and_then(|c| c.name("user").or_else(|| c.name("quoted")))
            .map(|m| m.as_str().trim_end_matches(['.', ',']).to_string())
    }) {
        return Some(user);
    }
    let user_var = |n: &str| {
        !system(n)
            && n.split('_')
                .any(|p| ["USER", "USERNAME", "LOGIN", "USR"].contains(&p))
    };
    let users: Vec<&(String, String)> = ctx
        .env
        .iter()
        .filter(|(n, v)| user_var(n) && !v.trim().is_empty())
        .collect();
    // The variables the summary names (`SMTP_HOST/SMTP_PORT at …`).
    let named: Vec<&str> = ctx
        .env
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !system(n) && word_in(summary, n))
        .collect();
    let first_part = |n: &str| n.split('_').next().unwrap_or(n).to_string();
    if let Some((_, v)) = users
        .iter()
        .find(|(u, _)| named.iter().any(|n| first_part(n) == first_part(u)))
    {
        return Some(v.trim().to_string());
    }
    if let Some(user) = named.iter().find_map(|n| {
        let value = &ctx.env.iter().find(|(k, _)| k == n)?.1;
        let rest = value.split_once("://")?.1;
        let (userinfo, _) = rest.split_once('@')?;
        let user = userinfo.split(':').next()?;
        (!user.is_empty()).then(|| user.to_string())
    }) {
        return Some(user);
    }
    match users.as_slice() {
        [(_, v)] => Some(v.trim().to_string()),
        _ => None,
    }
}

/// Whether `word` stands alone in `text` (not inside a longer name).
fn word_in(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !part(before) && !part(after)
    })
}

/// The variable an error calls by one of `words` (the words of a type name
/// such as `BadDsn`, or of its message): a variable one of whose `_`-parts
/// is that word (`SENTRY_DSN`), when exactly one variable has it.
pub(crate) fn variable_called(ctx: &Context, words: &[&str]) -> Option<String> {
    for w in words.iter().filter(|w| w.len() >= 3) {
        let hits: Vec<&str> = ctx
            .env
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !system(n))
            .filter(|n| n.split('_').any(|part| part.eq_ignore_ascii_case(w)))
            .collect();
        if let Some(one) = sole(&hits) {
            return Some(one);
        }
    }
    None
}

/// The variable a setting's field is read from: `worker_concurrency` or
/// `workerConcurrency` from `WORKER_CONCURRENCY` or a prefixed
/// `PAYOUTS_WORKER_CONCURRENCY`, when exactly one variable ends so.
pub(crate) fn variable_for_field(ctx: &Context, field: &str) -> Option<String> {
    let mut upper = String::with_capacity(field.len() + 4);
    for (i, c) in field.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 && !upper.ends_with('_') {
            upper.push('_');
        }
        upper.push(if c == '-' || c == '.' {
            '_'
        } else {
            c.to_ascii_uppercase()
        });
    }
    if upper.len() < 3 {
        return None;
    }
    let suffix = format!("_{upper}");
    let hits: Vec<&String> = ctx
        .env
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !system(n) && (**n == upper || n.ends_with(&suffix)))
        .collect();
    sole(&hits)
}

/// Whether `text` names a variable of the service's environment.
pub(crate) fn names_a_variable(ctx: &Context, text: &str) -> bool {
    ctx.env
        .iter()
        .any(|(n, _)| !system(n) && n.len() >= 2 && word_in(text, n))
}

/// The variable a rejection of a value is about: the one it names
/// (`invalid QUOTA_LIMIT: strconv.Atoi: parsing "1k"`), else the one whose
/// value it quotes (`invalid value for Integer(): "eight"` of a service
/// started with `WORKERS=eight`), when exactly one holds that value.
pub(crate) fn variable_rejected(ctx: &Context, message: &str) -> Option<String> {
    let own = || ctx.env.iter().filter(|(n, _)| !system(n));
    if let Some((name, _)) = own().find(|(n, _)| n.len() >= 3 && word_in(message, n)) {
        return Some(name.clone());
    }
    variable_quoted(ctx, message)
}

/// The one variable of the environment `text` names (none when it names
/// several: a list of settings is no verdict on one), else the one whose
/// value it quotes.
pub(crate) fn only_variable_named(ctx: &Context, text: &str) -> Option<String> {
    let named: Vec<&String> = ctx
        .env
        .iter()
        .filter(|(n, _)| !system(n) && n.len() >= 3 && word_in(text, n))
        .map(|(n, _)| n)
        .collect();
    match named.as_slice() {
        [one] => Some((*one).clone()),
        [] => variable_quoted(ctx, text),
        _ => None,
    }
}

/// The one variable whose value `text` quotes whole (`"0 8 * * MON-FRI"`),
/// or whose scheme it quotes (`'postgress://'`).
pub(crate) fn variable_quoted(ctx: &Context, text: &str) -> Option<String> {
    let own = || ctx.env.iter().filter(|(n, _)| !system(n));
    let quoted = |v: &str| {
        let v = v.trim();
        !v.is_empty()
            && ['"', '\'', '`']
                .iter()
                .any(|q| text.contains(&format!("{q}{v}{q}")))
    };
    // Or its scheme (`Scheme 'postgress://' is unknown`).
    let scheme_quoted = |v: &str| {
        v.split_once("://").is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && ['"', '\'', '`']
                    .iter()
                    .any(|q| text.contains(&format!("{q}{scheme}://{q}")))
        })
    };
    let holders: Vec<&String> = own()
        .filter(|(_, v)| quoted(v) || scheme_quoted(v))
        .map(|(n, _)| n)
        .collect();
    sole(&holders)
}

/// The variables that hold the credentials a dependency rejected, to
/// check: its user and its secret (`SMTP_USER`, `SMTP_PASS`;
/// `CART_REDIS_PASSWORD`; `CARRIER_API_TOKEN`), those of the dependency
/// the summary names (sharing its variable's first word), else the only
/// secret variable there is.
pub(crate) fn credentials_variables(ctx: &Context, summary: &str) -> Vec<String> {
    let parts = |n: &str| n.split('_').map(str::to_string).collect::<Vec<_>>();
    let secret = |n: &str| {
        let p = parts(n);
        // `CRM_TOKEN_URL` is where a token comes from, not one.
        let address = p.last().is_some_and(|w| {
            ["URL", "URI", "ENDPOINT", "HOST", "ADDR", "PORT"].contains(&w.as_str())
        });
        !address && p.iter().any(|w| {
            [
                "PASSWORD",
                "PASS",
                "PASSWD",
                "PWD",
                "TOKEN",
                "SECRET",
                "APIKEY",
                "AUTH",
                "CREDENTIALS",
            ]
            .contains(&w.as_str())
        }) || n.ends_with("API_KEY")
            || n.ends_with("ACCESS_KEY")
            // libpq's own `PGPASSWORD`, `MYSQL_PWD`-style names in one word.
            || n.ends_with("PASSWORD")
    };
    let user = |n: &str| {
        parts(n)
            .iter()
            .any(|w| ["USER", "USERNAME", "LOGIN"].contains(&w.as_str()))
            || n.len() > 4 && n.ends_with("USER")
    };
    let own: Vec<&str> = ctx
        .env
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !system(n))
        .collect();
    let named: Vec<&str> = own
        .iter()
        .copied()
        .filter(|n| word_in(summary, n))
        .collect();
    // The longest run of leading words shared with a named variable:
    // `CART_REDIS_HOST` → `CART_REDIS_PASSWORD` over `CART_DB_PASSWORD`.
    let shared = |n: &str| {
        named
            .iter()
            .map(|m| {
                let words = parts(n)
                    .iter()
                    .zip(parts(m).iter())
                    .take_while(|(a, b)| a == b)
                    .count();
                // libpq's one-word names: `PGHOST` and `PGPASSWORD`.
                let one_word_family = !n.contains('_')
                    && !m.contains('_')
                    && n.get(..2).is_some_and(|p| m.starts_with(p));
                words.max(usize::from(one_word_family))
            })
            .max()
            .unwrap_or(0)
    };
    let pick = |is: &dyn Fn(&str) -> bool| -> Option<String> {
        let all: Vec<&str> = own.iter().copied().filter(|n| is(n)).collect();
        let best = all.iter().map(|n| shared(n)).max().unwrap_or(0);
        let near: Vec<&str> = all.iter().copied().filter(|n| shared(n) == best).collect();
        match near.as_slice() {
            // Of the dependency the summary names; with none named, the
            // only one there is.
            [one] if best > 0 || (named.is_empty() && all.len() == 1) => Some((*one).to_string()),
            _ => None,
        }
    };
    pick(&user).into_iter().chain(pick(&secret)).collect()
}

/// `text` with the variable (or flag) that points at a path it names
/// written after that path: `/etc/app/flags.toml (FLAGS_TOML)`, the
/// directory variable for a file under it (`/var/log/app/access.log
/// (ACCESS_LOG_DIR)`). Unchanged when it names no such path, or names the
/// variable already.
pub(crate) fn with_path_variable(ctx: &Context, text: &str) -> Option<String> {
    // A relative path as the program resolved it, too (`rates.tar.gz` in
    // the service's directory, quoted whole).
    let mut candidates: Vec<(&str, String)> = paths(ctx)
        .into_iter()
        .flat_map(|(n, v)| {
            let absolute = (!v.starts_with('/')).then(|| (n, ctx.absolute(v)));
            std::iter::once((n, v.to_string())).chain(absolute)
        })
        .collect();
    // The most specific first: a file's own variable before its directory's.
    candidates.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    for (name, value) in &candidates {
        let value = value.trim_end_matches('/');
        if value.len() < 2 || text.contains(name) {
            continue;
        }
        let Some(at) = text.match_indices(value).find_map(|(i, _)| {
            let rest = &text[i + value.len()..];
            let whole = !rest.starts_with(|c: char| c.is_alphanumeric() || "._-".contains(c));
            let before_ok = text[..i]
                .chars()
                .last()
                .is_none_or(|c| !(c.is_alphanumeric() || "._-/".contains(c)));
            (whole && before_ok).then_some(i)
        }) else {
            continue;
        };
        // The end of the path as written (a file under the directory).
        let token = text[at..]
            .find(|c: char| c.is_whitespace() || "'\"`,;)".contains(c))
            .map_or(&text[at..], |n| &text[at..at + n]);
        let end = at + token.trim_end_matches([':', '.']).len();
        // The program's own source under a directory variable is no
        // setting to change.
        if std::path::Path::new(&text[at..end])
            .extension()
            .is_some_and(|e| SOURCE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
        {
            continue;
        }
        return Some(format!("{} ({name}){}", &text[..end], &text[end..]));
    }
    None
}

/// The one variable named as a port (`STATUS_PORT`, `PORT`) whose value
/// is not a port number (`http`, empty).
pub(crate) fn port_variable_not_a_number(ctx: &Context) -> Option<String> {
    let bad: Vec<&String> = ctx
        .env
        .iter()
        .filter(|(n, v)| {
            !system(n)
                && n.split('_').any(|p| p.eq_ignore_ascii_case("PORT"))
                && v.trim().parse::<u16>().is_err()
        })
        .map(|(n, _)| n)
        .collect();
    sole(&bad)
}

/// The variable of the environment that sets a port the service listens
/// on (`LISTEN_ADDR=127.0.0.1:8080`, `API_PORT=8080`): where to change it.
pub(crate) fn variable_with_port(ctx: &Context, port: u16) -> Option<String> {
    let port = port.to_string();
    let holds = |v: &str| {
        let v = v.trim().trim_end_matches('/');
        v == port || v.rsplit_once(':').is_some_and(|(_, p)| p == port)
    };
    let holders: Vec<&String> = ctx
        .env
        .iter()
        .filter(|(n, v)| !system(n) && holds(v))
        .map(|(n, _)| n)
        .collect();
    sole(&holders)
}

/// The directory variable a write that filled the disk went to: of the
/// path variables that `texts` (oldest first) mention a path under, the
/// one named as a destination (`-> /backups/x.tar.gz`, `writing /exports/…`),
/// else the one mentioned last. With it, the path as mentioned.
pub(crate) fn written_dir(ctx: &Context, texts: &[&str]) -> Option<(String, String, String)> {
    let candidates = paths(ctx);
    let mut last: Option<(String, String, String)> = None;
    for text in texts {
        let text = text.replace("\\/", "/");
        for (n, v) in &candidates {
            let Some(at) = text.find(v) else { continue };
            let mentioned: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/._-@+".contains(*c))
                .collect();
            let mentioned = mentioned.trim_end_matches(['.', ':']).to_string();
            let lead = text[..at].trim_end();
            let destination = lead.ends_with("->")
                || lead.ends_with(" to")
                || lead.ends_with("into")
                || lead.to_ascii_lowercase().ends_with("writing");
            let found = ((*n).to_string(), (*v).to_string(), mentioned);
            if destination {
                return Some(found);
            }
            last = Some(found);
        }
    }
    last
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A context with this environment and nothing else.
    pub(crate) fn ctx(env: &[(&str, &str)]) -> Context {
        Context {
            env: env
                .iter()
                .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
                .collect(),
            ..Context::default()
        }
    }

    #[test]
    fn a_path_variable_names_the_file_an_error_does_not() {
        let c = ctx(&[
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/root"),
            ("LOG_CONFIG", "/srv/app/logging.ini"),
            ("DATA_DIR", "/var/lib/app"),
        ]);
        assert_eq!(
            file_meant(&c, "logging.config.fileConfig(LOG_CONFIG)"),
            Some(("LOG_CONFIG".into(), "/srv/app/logging.ini".into()))
        );
        assert_eq!(
            file_meant(&c, "Error: Os { code: 2 }").map(|(n, _)| n),
            Some("LOG_CONFIG".into())
        );
        assert!(
            !is_path("postgres://u@db/x") && !is_path("/usr/bin:/bin") && is_path("etc/app.toml")
        );
    }

    #[test]
    fn a_word_of_a_type_finds_its_variable() {
        let c = ctx(&[("SENTRY_DSN", "https://x@sentry"), ("APP_ENV", "prod")]);
        assert_eq!(
            variable_called(&c, &["Bad", "Dsn"]),
            Some("SENTRY_DSN".into())
        );
        assert_eq!(variable_called(&c, &["Bad", "Url"]), None);
    }

    #[test]
    fn the_destination_of_a_write_wins_over_its_source() {
        let c = ctx(&[
            ("SOURCE_DIR", "/srv/uploads"),
            ("BACKUP_DIR", "/mnt/backups"),
        ]);
        let lines = [
            "archiving /srv/uploads -> /mnt/backups/u.tar.gz",
            "gzip: stdout: No space left on device",
        ];
        assert_eq!(
            written_dir(&c, &lines).map(|(n, _, w)| (n, w)),
            Some(("BACKUP_DIR".into(), "/mnt/backups/u.tar.gz".into()))
        );
        let json = [r#"{"msg":"export started","path":"\/mnt\/backups\/o.csv"}"#];
        assert_eq!(
            written_dir(&c, &json).map(|(n, _, w)| (n, w)),
            Some(("BACKUP_DIR".into(), "/mnt/backups/o.csv".into()))
        );
    }

    #[test]
    fn the_user_of_rejected_credentials_is_the_dependency_s_own() {
        // Said by the error itself.
        assert_eq!(
            credentials_user(
                &ctx(&[]),
                "x",
                &["FATAL: password authentication failed for user \"billing\""]
            )
            .as_deref(),
            Some("billing")
        );
        // The user variable of the dependency the summary names, among others.
        let c = ctx(&[
            ("USER", "root"),
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_USER", "relay@svc.test"),
            ("REPORTS_DB_USER", "reports"),
        ]);
        assert_eq!(
            credentials_user(&c, "SMTP_HOST/SMTP_PORT at 127.0.0.1:587 rejects", &["535"])
                .as_deref(),
            Some("relay@svc.test")
        );
        // Its URL's user part.
        let c = ctx(&[
            ("QUEUE_URL", "amqp://orders:secret@127.0.0.1:5672/"),
            ("A_USER", "a"),
            ("B_USER", "b"),
        ]);
        assert_eq!(
            credentials_user(&c, "QUEUE_URL at amqp://127.0.0.1:5672 rejects", &[]).as_deref(),
            Some("orders")
        );
        // Nothing to go by: no guess among several.
        assert_eq!(credentials_user(&c, "a dependency rejects", &[]), None);
    }

    #[test]
    fn a_dated_file_is_input_not_configuration() {
        assert!(dated("/srv/in/shipped-2026-12-02.json"));
        assert!(dated("orders_20261202.csv"));
        assert!(!dated("/etc/app/config.json"));
        assert!(!dated("/srv/app/v2/settings-2026.toml"));
    }

    #[test]
    fn libpq_s_one_word_variables_are_one_family() {
        let c = ctx(&[
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", "5432"),
            ("PGUSER", "reporter"),
            ("PGPASSWORD", "x"),
        ]);
        assert_eq!(
            credentials_variables(
                &c,
                "PGHOST/PGPORT at 127.0.0.1:5432 rejects the credentials"
            ),
            vec!["PGUSER".to_string(), "PGPASSWORD".to_string()]
        );
    }

    #[test]
    fn the_credentials_to_check_are_those_of_the_rejecting_dependency() {
        let c = ctx(&[
            ("CART_REDIS_HOST", "127.0.0.1"),
            ("CART_REDIS_PASSWORD", "x"),
            ("CART_DB_PASSWORD", "y"),
            ("SMTP_USER", "u"),
        ]);
        assert_eq!(
            credentials_variables(&c, "CART_REDIS_HOST at 127.0.0.1:6379 rejects"),
            vec!["CART_REDIS_PASSWORD".to_string()]
        );
        let c = ctx(&[("CRM_API_URL", "http://x"), ("CRM_API_KEY", "k")]);
        assert_eq!(
            credentials_variables(&c, "CRM_API_URL at http://x rejects"),
            vec!["CRM_API_KEY".to_string()]
        );
        assert!(credentials_variables(&ctx(&[]), "a dependency rejects").is_empty());
    }

    #[test]
    fn the_variable_of_a_port_is_the_one_that_holds_it() {
        let c = ctx(&[("LISTEN_ADDR", "127.0.0.1:8080"), ("DB_PORT", "5432")]);
        assert_eq!(variable_with_port(&c, 8080).as_deref(), Some("LISTEN_ADDR"));
        assert_eq!(variable_with_port(&c, 5432).as_deref(), Some("DB_PORT"));
        assert_eq!(variable_with_port(&c, 9000), None);
    }

    #[test]
    fn a_path_in_a_verdict_gets_the_variable_that_points_at_it() {
        let c = ctx(&[
            ("ACCESS_LOG_DIR", "/var/log/checkout"),
            ("PID_FILE", "/run/agent.pid"),
        ]);
        assert_eq!(
            with_path_variable(&c, "access denied: /var/log/checkout/access.log (EACCES)")
                .as_deref(),
            Some("access denied: /var/log/checkout/access.log (ACCESS_LOG_DIR) (EACCES)")
        );
        assert_eq!(
            with_path_variable(&c, "access denied: /run/agent.pid: x").as_deref(),
            Some("access denied: /run/agent.pid (PID_FILE): x")
        );
        // Named already, or another path: unchanged.
        assert_eq!(with_path_variable(&c, "PID_FILE /run/agent.pid"), None);
        assert_eq!(with_path_variable(&c, "/run/agent.pidfile"), None);
    }

    #[test]
    fn a_value_quoted_or_named_whole_finds_the_one_variable_holding_it() {
        let c = ctx(&[
            ("DIGEST_SCHEDULE", "0 7 * * MONDAY-FRI"),
            ("TZ", "America/Sao_Paolo"),
            ("WORKERS", "10"),
        ]);
        // A quoted word of a value.
        assert_eq!(
            variable_of_value(&c, &["a day name has to stand alone ('MONDAY-FRI')"]).as_deref(),
            Some("DIGEST_SCHEDULE")
        );
        // A whole value, unquoted, ending a sentence.
        assert_eq!(
            variable_of_value(&c, &["timezones like America/Sao_Paolo. Please use"]).as_deref(),
            Some("TZ")
        );
        // Too plain to tell, or inside a longer path: nothing.
        assert_eq!(variable_of_value(&c, &["got '10' workers"]), None);
        assert_eq!(variable_of_value(&c, &["America/Sao_Paolo/x"]), None);
    }

    #[test]
    fn a_count_the_program_said_it_asked_for_finds_its_variable() {
        let c = ctx(&[("PREFORK_WORKERS", "40"), ("PORT", "40"), ("DEBUG", "1")]);
        assert_eq!(
            variable_of_count(&c, &["scoring-master: forking 40 workers"]).as_deref(),
            Some("PREFORK_WORKERS")
        );
        assert_eq!(variable_of_count(&c, &["forking 400 workers"]), None);
    }

    #[test]
    fn a_bare_name_in_a_variable_called_a_directory_is_a_path() {
        let c = Context {
            dir: Some("/srv/export".into()),
            ..ctx(&[("EXPORT_DIR", "exports"), ("EXPORT_MODE", "full")])
        };
        assert_eq!(paths(&c), [("EXPORT_DIR", "exports")]);
        assert_eq!(
            with_path_variable(&c, "access denied: exports/customers-1.ndjson").as_deref(),
            Some("access denied: exports/customers-1.ndjson (EXPORT_DIR)")
        );
    }

    #[test]
    fn the_url_a_token_comes_from_is_no_credential() {
        let c = ctx(&[
            ("CRM_CLIENT_SECRET", "x"),
            ("CRM_TOKEN_URL", "http://127.0.0.1:9/token"),
        ]);
        assert_eq!(
            credentials_variables(&c, "a dependency rejects the credentials"),
            ["CRM_CLIENT_SECRET"]
        );
    }

    #[test]
    fn a_process_id_the_error_names_finds_the_variable_holding_it() {
        let c = ctx(&[("WATCH_PID", "1"), ("PORT", "8080")]);
        for said in [
            "access denied: /proc/1/environ",
            "psutil.AccessDenied: (pid=1, name='init')",
        ] {
            assert_eq!(variable_of_pid(&c, &[said]).as_deref(), Some("WATCH_PID"));
        }
        assert_eq!(variable_of_pid(&c, &["/proc/17/environ"]), None);
        assert_eq!(variable_of_pid(&c, &["listening on 1"]), None);
    }

    #[test]
    fn a_list_of_paths_gives_each_path_its_variable() {
        let c = ctx(&[("CONFIG_LAYERS", "/etc/app/base.yaml:/etc/app/prod.yaml")]);
        assert_eq!(
            with_path_variable(&c, "the configuration /etc/app/prod.yaml does not parse")
                .as_deref(),
            Some("the configuration /etc/app/prod.yaml (CONFIG_LAYERS) does not parse")
        );
        // A URL list is no list of paths.
        assert!(paths(&ctx(&[("NODES", "redis://a:1,redis://b:2")])).is_empty());
    }

    #[test]
    fn a_number_the_output_shows_finds_the_size_it_was_configured_with() {
        let c = ctx(&[
            ("INDEX_PATH", "/var/lib/idx"),
            ("INDEX_MAP_SIZE", "1048576"),
            ("RETRIES", "3"),
        ]);
        assert_eq!(
            variable_of_number(&c, &["opening /var/lib/idx map_size=1048576"]).as_deref(),
            Some("INDEX_MAP_SIZE")
        );
        assert_eq!(variable_of_number(&c, &["map_size=10485760"]), None);
    }
}
