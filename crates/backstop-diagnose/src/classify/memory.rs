//! Out of memory: where it ran out (the program's own frame, the script
//! its command runs) and under which limit (`-Xmx96m`,
//! `--max-old-space-size=192`, PHP's `memory_limit`), read from its
//! command line, its environment and the runtime's own echo of them; and
//! the `ulimit`s a command line sets, which the other limits (open files,
//! processes, file size) name too.

use super::{Context, Named, TerminalError, launched_script, named};

/// A flag that caps a runtime's heap, with its value.
const LIMIT_FLAGS: [&str; 6] = [
    "-Xmx",
    "--max-old-space-size=",
    "-XX:MaxRAM",
    "memory_limit=",
    "GOMEMLIMIT=",
    "--max-semi-space-size=",
];

/// `out-of-memory`, naming the program and the heap limit it ran under.
pub(super) fn out_of_memory(t: &TerminalError, all: &str, ctx: &Context) -> Option<Named> {
    let program = t
        .place
        .clone()
        .or_else(|| launched_script(&t.before))
        .or_else(|| command_script(ctx))
        .map_or_else(String::new, |p| format!(" in {p}"));
    // The program's own function that was allocating (`preload_frames`).
    let program = match t.own_frame.as_ref().and_then(|f| f.function.as_deref()) {
        Some(f) if !program.is_empty() => format!(" in {f} ({})", &program[4..]),
        _ => program,
    };
    let limit = heap_limit(all, ctx).map_or_else(String::new, |l| format!(" (heap limit {l})"));
    named(
        "out-of-memory",
        format!("it ran out of memory{program}{limit}: {}", t.quote()),
    )
}

/// The script the service's command runs (`perl sales_matrix.pl`,
/// `node cluster.js`).
pub(super) fn command_script(ctx: &Context) -> Option<String> {
    ctx.command
        .iter()
        .skip(1)
        .find(|w| {
            !w.starts_with('-')
                && std::path::Path::new(w.as_str())
                    .extension()
                    .is_some_and(|e| {
                        [
                            "js", "mjs", "cjs", "ts", "py", "rb", "pl", "php", "java", "jar",
                        ]
                        .iter()
                        .any(|x| e.eq_ignore_ascii_case(x))
                    })
        })
        .cloned()
}

/// The heap limit: a flag of its command, of a variable of its
/// environment (`NODE_OPTIONS`, `JAVA_TOOL_OPTIONS`) or of the runtime's
/// echo (`Picked up JAVA_TOOL_OPTIONS: -Xmx96m`), with where it was set.
fn heap_limit(all: &str, ctx: &Context) -> Option<String> {
    let flag_in = |text: &str| {
        text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .find(|w| {
                LIMIT_FLAGS
                    .iter()
                    .any(|f| w.starts_with(f) && w.len() > f.len())
            })
            .map(str::to_string)
    };
    if let Some(f) = ctx.command.iter().find_map(|w| flag_in(w)) {
        return Some(f);
    }
    if let Some(f) = ctx.env.iter().find_map(|(name, value)| {
        if LIMIT_FLAGS.contains(&format!("{name}=").as_str()) {
            return Some(format!("{name}={value}"));
        }
        flag_in(value).map(|f| format!("{f} from {name}"))
    }) {
        return Some(f);
    }
    all.lines()
        .find_map(flag_in)
        .or_else(|| command_ulimit(ctx, &['v', 'm', 'd']))
}

/// A `ulimit -n 64` the service's command line sets (a `sh -c 'ulimit …;
/// exec …'` wrapper), for one of `flags`, as written.
pub(super) fn command_ulimit(ctx: &Context, flags: &[char]) -> Option<String> {
    static ULIMIT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"\bulimit\s+(?:-[SH]+\s+)?-(?P<flag>[a-zA-Z])\s+(?P<value>\d+|unlimited)\b",
        )
        .expect("UNWRAP: a constant pattern")
    });
    let command = ctx.command.join(" ");
    ULIMIT
        .captures_iter(&command)
        .find(|c| c["flag"].chars().next().is_some_and(|f| flags.contains(&f)))
        .map(|c| format!("ulimit -{} {}", &c["flag"], &c["value"]))
}

/// The setting that asks for more than a `ulimit` allows: a count or size
/// variable (`REPORT_POOL_SIZE=40` under `ulimit -n 32`) whose value is at
/// least half the limit (each connection, worker or file takes at least
/// one), when exactly one does; as `NAME=value`.
pub(super) fn count_over_limit(ctx: &Context, ulimit: &str) -> Option<String> {
    let limit: u64 = ulimit.rsplit(' ').next()?.parse().ok()?;
    let counts = [
        "POOL",
        "SIZE",
        "WORKERS",
        "CONCURRENCY",
        "CONNECTIONS",
        "CONNS",
        "THREADS",
        "PROCS",
        "PROCESSES",
        "PARALLEL",
        "PARALLELISM",
        "JOBS",
        "SHARDS",
        "FILES",
        "MAX",
    ];
    let hits: Vec<String> = ctx
        .env
        .iter()
        .filter(|(n, v)| {
            n.split('_').any(|p| counts.contains(&p))
                && v.trim().parse::<u64>().is_ok_and(|v| v * 2 >= limit)
        })
        .map(|(n, v)| format!("{n}={}", v.trim()))
        .collect();
    crate::env_hints::sole(&hits)
}

#[cfg(test)]
mod tests {
    use super::{Context, heap_limit};

    #[test]
    fn the_heap_limit_comes_from_the_command_the_environment_or_the_echo() {
        let mut ctx = Context {
            command: vec!["java".into(), "-Xmx256m".into(), "App.java".into()],
            ..Context::default()
        };
        assert_eq!(heap_limit("", &ctx).as_deref(), Some("-Xmx256m"));
        ctx.command = vec!["node".into(), "cluster.js".into()];
        ctx.env = vec![("NODE_OPTIONS".into(), "--max-old-space-size=192".into())];
        assert_eq!(
            heap_limit("", &ctx).as_deref(),
            Some("--max-old-space-size=192 from NODE_OPTIONS")
        );
        ctx.env.clear();
        assert_eq!(
            heap_limit("Picked up JAVA_TOOL_OPTIONS: -Xmx96m\n", &ctx).as_deref(),
            Some("-Xmx96m")
        );
        assert_eq!(heap_limit("Out of memory!\n", &ctx), None);
    }
}
