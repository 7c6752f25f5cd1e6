//! Root causes from evidence.
//!
//! # Theory of operation
//! A diagnosis collects evidence lines (log lines, exit descriptions,
//! probe results, spawn errors), each with where it came from. The
//! [`rules`] table, data not code, maps the usual phrasings of Python,
//! Node.js, Go, Java and Rust servers and of PostgreSQL and Redis clients
//! to the stable cause ids of docs/diagnose.md (`missing-module`,
//! `port-in-use`, …), with a confidence and a summary template filled from
//! the pattern's named groups (the missing module, the port, the address).
//! [`Diagnoser::diagnose`] runs every rule over the evidence and ranks the causes:
//! higher confidence first, then the later evidence (the last error before
//! a crash is usually the cause, the first ones often its symptoms).
//!
//! This crate reasons and redacts ([`redact`]); collecting the evidence
//! and writing bundles is the binary's job, so the rules are unit-tested on
//! real error texts. [`Report`] is the `diagnose --json` contract.

/// `re!(NAME, r"…")`: a constant pattern, compiled on first use (one
/// definition for every module of the crate).
macro_rules! re {
    ($name:ident, $pattern:expr) => {
        static $name: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new($pattern).expect("UNWRAP: a constant pattern")
        });
    };
}

pub mod address;
pub mod classify;
mod env_hints;
pub mod errno;
pub mod redact;
pub mod rules;
pub mod terminal;

pub use classify::Context;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// `backstop diagnose --json`: one service's verdict (docs/diagnose.md).
///
/// Field names are a public contract: add fields freely, never rename one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The service.
    pub service: String,
    /// Its lifecycle state when diagnosed (`crash-loop`, `running`, …).
    pub state: String,
    /// Its health (`healthy`, `unhealthy`, …).
    pub health: String,
    /// True when nothing is wrong (then `causes` is empty).
    pub healthy: bool,
    /// The bundle directory written.
    pub bundle: Option<String>,
    /// The `.tar.gz` written with `--archive`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub archive: Option<String>,
    /// Every cause found, most likely first.
    pub causes: Vec<Cause>,
    /// Problems worth fixing that are not the cause, such as an env file
    /// readable by others.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub warnings: Vec<String>,
}

impl Report {
    /// Stopped (or finished) on purpose with nothing against it: not a fault.
    pub fn at_rest(&self) -> bool {
        self.causes.is_empty() && matches!(self.state.as_str(), "stopped" | "exited")
    }

    /// The verdict in one line: `api: missing-module: the runtime cannot import `x``.
    pub fn verdict(&self) -> String {
        match self.causes.first() {
            Some(c) => format!("{}: {}: {}", self.service, c.id, c.summary),
            None if self.healthy => format!("{}: healthy, nothing to diagnose", self.service),
            None if self.at_rest() => format!(
                "{}: {}, and nothing in its logs, exits or checks points to a fault",
                self.service, self.state
            ),
            None => format!(
                "{}: {} and {}; no known cause found in its logs, exits or checks (read the bundle)",
                self.service, self.state, self.health
            ),
        }
    }
}

/// One line of evidence and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Where: `logs/api.log`, `exit`, `check http`, `spawn`.
    pub source: String,
    /// Line number in the source, when it has lines.
    pub line: Option<usize>,
    /// The text.
    pub text: String,
}

impl Evidence {
    /// Where it stands: `05-logs.txt:12`, or the source alone.
    pub fn place(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{line}", self.source),
            None => self.source.clone(),
        }
    }
}

/// A named cause, with what shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    /// The stable id (`missing-module`, `port-in-use`, …).
    pub id: String,
    /// 0 to 1.
    pub confidence: f64,
    /// One line naming the specifics.
    pub summary: String,
    /// The lines that show it.
    pub evidence: Vec<Evidence>,
    /// What fixes it.
    pub remedy: Remedy,
}

/// What fixes a cause: a playbook of `backstop fix`, a manual step, or both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remedy {
    /// The playbook that fixes it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub playbook: Option<String>,
    /// What to do by hand.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub manual: Option<String>,
}

impl Remedy {
    /// The remedy of cause `id`: the playbook that fixes it by itself, if
    /// any ([`playbook_for`]), and what to do by hand.
    fn of(id: &str, manual: &str) -> Self {
        Self {
            playbook: playbook_for(id).map(str::to_string),
            manual: Some(manual.to_string()),
        }
    }
}

/// The built-in playbook (`backstop fix SERVICE PLAYBOOK`) that can fix a
/// cause without a person: `free-port` for a port held (by a leftover of
/// the service; the collector withdraws it for a stranger), `clean-restart`
/// for a crash or a module missing after a deploy, `restart-dependency`
/// for a dependency down (when it is a backstop service). Causes that need
/// an edit (syntax, configuration, credentials, permissions) have none.
pub fn playbook_for(id: &str) -> Option<&'static str> {
    match id {
        "port-in-use" => Some("free-port"),
        "crashed" | "missing-module" => Some("clean-restart"),
        "dependency-unavailable" => Some("restart-dependency"),
        _ => None,
    }
}

/// `crashed`: it fails and no rule matched. Quotes the last three
/// different of `lines` (the caller puts the error lines first in line, or
/// alone), and names the last exit when it is known (`code 3`, `SIGKILL`).
pub fn crashed(lines: &[Evidence], exit: Option<&str>) -> Cause {
    let quoted = last_distinct(lines.iter(), 3);
    let summary = match (exit, quoted.last()) {
        (Some(exit), Some(last)) => format!(
            "it exits ({exit}) and no known cause matched; the last error: {}",
            last.text
        ),
        (Some(exit), None) => {
            format!("it exits ({exit}) without printing anything, and no known cause matched")
        }
        (None, Some(last)) => format!(
            "it fails and no known cause matched; the last line: {}",
            last.text
        ),
        (None, None) => "it fails without printing anything, and no known cause matched".into(),
    };
    Cause {
        id: "crashed".to_string(),
        confidence: 0.3,
        summary,
        evidence: quoted,
        remedy: Remedy::of(
            "crashed",
            "read the quoted lines and 05-logs.txt; `backstop logs SERVICE -n 200` shows more",
        ),
    }
}

/// Compiled rules, built once.
pub struct Diagnoser {
    rules: Vec<(rules::Rule, Vec<Regex>)>,
}

impl Default for Diagnoser {
    fn default() -> Self {
        Self::new()
    }
}

impl Diagnoser {
    /// Compiles [`rules::RULES`]. The patterns are tested; a failure here is a bug.
    pub fn new() -> Self {
        let rules = rules::RULES
            .iter()
            .map(|r| {
                let patterns = r
                    .patterns
                    .iter()
                    .map(|p| Regex::new(p).unwrap_or_else(|e| panic!("rule {}: {e}", r.id)))
                    .collect();
                (r.clone(), patterns)
            })
            .collect();
        Self { rules }
    }

    /// Every cause the evidence shows, most likely first; empty when no rule
    /// matched (the caller may then say [`crashed`], knowing the state).
    pub fn diagnose(&self, evidence: &[Evidence]) -> Vec<Cause> {
        self.diagnose_in(evidence, &Context::default())
    }

    /// [`Self::diagnose`], knowing what backstop knows of the service
    /// (its declared addresses, its own ports, its last exit): the terminal
    /// error is classified by structure first ([`classify`]), the phrase
    /// rules after.
    pub fn diagnose_in(&self, evidence: &[Evidence], ctx: &Context) -> Vec<Cause> {
        // Colour codes of a program's logger are not words.
        let plain: Vec<Evidence>;
        let evidence = if evidence.iter().any(|e| e.text.contains('\x1b')) {
            plain = evidence
                .iter()
                .map(|e| Evidence {
                    text: strip_ansi(&e.text),
                    ..e.clone()
                })
                .collect();
            &plain[..]
        } else {
            evidence
        };
        let mut found: Vec<(Cause, usize)> = Vec::new();
        let mut from_structure = None;
        if let Some((index, n, same, shaped)) = structural(evidence, ctx) {
            from_structure = Some((n.id, n.summary.clone()));
            found.push((
                Cause {
                    id: n.id.to_string(),
                    confidence: if shaped { STRUCTURAL } else { LAST_WORDS },
                    summary: n.summary,
                    evidence: last_distinct(same.iter().map(|i| &evidence[*i]), 5),
                    remedy: Remedy::of(n.id, rules::remedy_of(n.id)),
                },
                index,
            ));
        }
        for (rule, patterns) in &self.rules {
            let mut hits: Vec<(usize, &Evidence, String)> = Vec::new();
            for (position, e) in evidence.iter().enumerate() {
                // Some messages name the subject on the line before (pydantic
                // prints the field, then "Field required"): try the pair too.
                let pair = position
                    .checked_sub(1)
                    .map(|p| format!("{}\n{}", evidence[p].text, e.text));
                // A pair counts only when the match spans both lines: the
                // line before alone is its own evidence, at its own place.
                let split = position
                    .checked_sub(1)
                    .map_or(0, |p| evidence[p].text.len());
                let found = patterns.iter().find_map(|p| {
                    p.captures(&e.text).or_else(|| {
                        pair.as_deref().and_then(|t| p.captures(t)).filter(|c| {
                            c.get(0)
                                .is_some_and(|m| m.start() < split && m.end() > split)
                        })
                    })
                });
                if let Some(caps) = found {
                    hits.push((position, e, fill(rule.summary, &caps, e.text.trim(), ctx)));
                }
            }
            // A compiler lists every syntax error: of the last run of
            // them (adjacent, or a source line and a caret apart), the
            // first is the fault.
            if rule.id == "syntax-error" {
                while hits.len() > 1 && hits[hits.len() - 2].0 + 3 >= hits[hits.len() - 1].0 {
                    hits.pop();
                }
            }
            if let Some((last, _, summary)) = hits.last().cloned() {
                found.push((
                    Cause {
                        id: rule.id.to_string(),
                        confidence: rule.confidence,
                        summary,
                        evidence: last_distinct(hits.iter().map(|(_, e, _)| *e), 5),
                        remedy: Remedy::of(rule.id, rule.remedy),
                    },
                    last,
                ));
            }
        }
        // A refusal on the service's own port is the service not
        // listening, never a dependency's outage.
        for (c, _) in &mut found {
            if c.id == "dependency-unavailable" {
                c.evidence
                    .retain(|e| !classify::names_own_address(&e.text, ctx));
            }
        }
        found.retain(|(c, _)| !c.evidence.is_empty());
        found.sort_by(|(a, pa), (b, pb)| b.confidence.total_cmp(&a.confidence).then(pb.cmp(pa)));
        // Two rules may name one cause (a memory_max restart, a MemoryError):
        // the better-ranked one speaks for it, with the evidence of both.
        let mut out: Vec<Cause> = Vec::new();
        for (c, _) in found {
            match out.iter_mut().find(|o| o.id == c.id) {
                Some(kept) => {
                    // A template whose blanks the line could not fill
                    // gives way to a summary that names the specifics.
                    let blank = |s: &str| s.contains(" ?") || s.ends_with('?') || s.contains("`?`");
                    if blank(&kept.summary) && !blank(&c.summary) {
                        kept.summary.clone_from(&c.summary);
                    }
                    let mut all = kept.evidence.clone();
                    all.extend(c.evidence);
                    let mut seen = std::collections::HashSet::new();
                    all.retain(|e| seen.insert((e.source.clone(), e.line, e.text.clone())));
                    all.truncate(5);
                    kept.evidence = all;
                }
                None => out.push(c),
            }
        }
        // Of one cause, the terminal error's summary says the most (it
        // quotes the error), unless backstop's own fact speaks for it.
        if let Some((id, summary)) = from_structure
            && let Some(c) = out.iter_mut().find(|c| c.id == id && c.confidence < FACT)
        {
            c.summary = summary;
        }
        // A path named without what points at it: its variable.
        for c in &mut out {
            if let Some(named) = env_hints::with_path_variable(ctx, &c.summary) {
                c.summary = named;
            }
        }
        // A setting's value rejected, or a limit reached, without the
        // variable that holds it: the one whose value the error quotes.
        let ids = ["missing-config", "resource-limit", "command-not-found"];
        name_variable(&mut out, ctx, &ids, "set by", |said| {
            env_hints::variable_of_value(ctx, said)
        });
        // Out of memory or processes: the count or size the program said
        // it asked for, when a variable holds it.
        let output: Vec<&str> = evidence
            .iter()
            .filter(|e| ctx.output_sources.is_empty() || ctx.output_sources.contains(&e.source))
            .map(|e| e.text.as_str())
            .collect();
        let ids = ["out-of-memory", "resource-limit"];
        name_variable(&mut out, ctx, &ids, "asked for by", |_| {
            env_hints::variable_of_count(ctx, &output)
        });
        // A process the program was pointed at and may not touch.
        let ids = ["permission-denied", "missing-config"];
        name_variable(&mut out, ctx, &ids, "set by", |said| {
            env_hints::variable_of_pid(ctx, said)
        });
        // Rejected credentials: whose.
        for c in out.iter_mut().filter(|c| c.id == "dependency-auth-failed") {
            let texts = said_in(c);
            if let Some(user) = env_hints::credentials_user(ctx, &c.summary, &texts)
                && !c.summary.contains(&user)
            {
                c.summary = format!("{} (user `{user}`)", c.summary);
            }
            let check: Vec<String> = env_hints::credentials_variables(ctx, &c.summary)
                .into_iter()
                .filter(|v| !c.summary.contains(v.as_str()))
                .collect();
            if !check.is_empty() {
                c.summary = format!("{}; check {}", c.summary, check.join(" and "));
            }
        }
        out
    }
}

/// What a cause says: its summary, then its evidence lines.
fn said_in(c: &Cause) -> Vec<&str> {
    std::iter::once(c.summary.as_str())
        .chain(c.evidence.iter().map(|e| e.text.as_str()))
        .collect()
}

/// To each cause of `ids` whose summary names no variable yet, ` ({how}
/// VAR)` with the variable `find` gives from what the cause says.
fn name_variable(
    out: &mut [Cause],
    ctx: &Context,
    ids: &[&str],
    how: &str,
    find: impl Fn(&[&str]) -> Option<String>,
) {
    for c in out.iter_mut().filter(|c| ids.contains(&c.id.as_str())) {
        if env_hints::names_a_variable(ctx, &c.summary) {
            continue;
        }
        if let Some(var) = find(&said_in(c)) {
            c.summary = format!("{} ({how} {var})", c.summary);
        }
    }
}

/// `text` without its ANSI escape sequences (colours, cursor moves).
fn strip_ansi(text: &str) -> String {
    static ANSI: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
            .expect("UNWRAP: a constant pattern")
    });
    ANSI.replace_all(text, "").into_owned()
}

/// How sure backstop's own facts are (its `memory_max` restart with the
/// figures): nothing outranks them.
const FACT: f64 = 0.99;

/// How sure a cause named by the structure of the terminal error is:
/// above every phrase rule (of the same cause, its summary is the one
/// kept), below backstop's own facts.
const STRUCTURAL: f64 = 0.98;
/// How sure a cause named from a program's last words (an error line of no
/// known shape) is: below the specific phrase rules.
const LAST_WORDS: f64 = 0.9;

/// The last terminal error of `evidence` that its structure names, with
/// its index, and the indexes of every terminal error named the same
/// (the same failure in the log and in the preflight run, say).
fn structural(
    evidence: &[Evidence],
    ctx: &Context,
) -> Option<(usize, classify::Named, Vec<usize>, bool)> {
    // The program's own output only, each line with its index in `evidence`;
    // a traceback a JSON log line carries in a field (`"exc_info":
    // "Traceback …\n  File …"`) is read as the lines it holds, at that
    // line's index.
    let mut at: Vec<usize> = Vec::new();
    let mut texts: Vec<std::borrow::Cow<'_, str>> = Vec::new();
    for (i, e) in evidence
        .iter()
        .enumerate()
        .filter(|(_, e)| ctx.output_sources.is_empty() || ctx.output_sources.contains(&e.source))
    {
        at.push(i);
        texts.push(node_shaped(evidence, i));
        for l in terminal::embedded_trace(&e.text) {
            at.push(i);
            texts.push(std::borrow::Cow::Owned(l));
        }
    }
    let lines: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
    let mut named: Vec<(usize, classify::Named)> = terminal::find(&lines)
        .iter()
        .filter_map(|t| classify::classify(t, ctx).map(|n| (at[t.index], n)))
        .collect();
    if named.is_empty() {
        // No error of a known shape says what happened: the last words
        // that do.
        return terminal::last_words_all(&lines).into_iter().find_map(|t| {
            let n = classify::classify(&t, ctx)?;
            let strong = n.strong;
            Some((at[t.index], n, vec![at[t.index]], strong))
        });
    }
    let (mut index, mut last) = named.pop()?;
    // A compiler lists every syntax error; the first of the run is the one.
    while last.id == "syntax-error"
        && let Some((i, n)) = named.pop()
    {
        if n.id != "syntax-error" {
            named.push((i, n));
            break;
        }
        (index, last) = (i, n);
    }
    named.push((index, last.clone()));
    let same = named
        .iter()
        .filter(|(_, n)| n.id == last.id)
        .map(|(i, _)| *i)
        .collect();
    Some((index, last, same, true))
}

/// The text of `evidence[i]`, a pretty-printing logger's error line in
/// Node's own shape ([`terminal::in_node_shape`], which needs the line
/// before it).
fn node_shaped(evidence: &[Evidence], i: usize) -> std::borrow::Cow<'_, str> {
    let previous = i.checked_sub(1).map(|p| evidence[p].text.as_str());
    terminal::in_node_shape(previous, &evidence[i].text).map_or(
        std::borrow::Cow::Borrowed(evidence[i].text.as_str()),
        std::borrow::Cow::Owned,
    )
}

/// `crashed`, quoting the terminal error when there is one (not the
/// `Traceback (most recent call last):` line, not backstop's own
/// messages), with its errno and runtime; else as [`crashed`].
pub fn crashed_in(evidence: &[Evidence], fallback: &[Evidence], exit: Option<&str>) -> Cause {
    let texts: Vec<std::borrow::Cow<'_, str>> = (0..evidence.len())
        .map(|i| node_shaped(evidence, i))
        .collect();
    let lines: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
    // A panic that only reports another thread's (`worker panicked: Any {
    // .. }`, a poisoned lock) gives way to the one it reports.
    let mut found = terminal::find(&lines);
    while found.len() > 1
        && found.last().is_some_and(|t| {
            let m = &t.error.message;
            m.contains("panicked") || m.contains("Any { .. }") || m.contains("PoisonError")
        })
    {
        found.pop();
    }
    match found.pop().or_else(|| terminal::last_words(&lines)) {
        Some(t) => Cause {
            id: "crashed".to_string(),
            confidence: 0.3,
            summary: classify::crashed_summary(&t, exit),
            evidence: vec![evidence[t.index].clone()],
            remedy: Remedy::of(
                "crashed",
                "read the quoted lines and 05-logs.txt; `backstop logs SERVICE -n 200` shows more",
            ),
        },
        None => crashed(fallback, exit),
    }
}

/// The last `n` of `items` that differ in source or text (a crash loop repeats its
/// error once per start), oldest first.
fn last_distinct<'a>(
    items: impl DoubleEndedIterator<Item = &'a Evidence>,
    n: usize,
) -> Vec<Evidence> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<Evidence> = items
        .rev()
        .filter(|e| seen.insert((e.source.as_str(), e.text.as_str())))
        .take(n)
        .cloned()
        .collect();
    out.reverse();
    out
}

/// `{name}` in `template` replaced by the named group `name`; `{line}` by
/// the whole line; a `{target}` the line does not name by the dependency
/// it is about ([`classify::target_of`]).
fn fill(template: &str, caps: &regex::Captures<'_>, line: &str, ctx: &Context) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + end];
        // `{line}` is the evidence line, unless the pattern captures a
        // line number by that name (`file.rb:{line}`).
        if name == "line" && caps.name("line").is_none() {
            out.push_str(line);
        } else if name == "target" && caps.name(name).is_none() {
            out.push_str(&classify::target_of(line, ctx).unwrap_or_else(|| "?".to_string()));
        } else {
            out.push_str(caps.name(name).map_or("?", |m| m.as_str()));
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{Context, Diagnoser, Evidence};

    #[test]
    fn a_traceback_inside_a_json_log_line_names_the_bug_with_that_line_as_evidence() {
        let line = r#"{"levelname": "ERROR", "message": "settlement run aborted", "exc_info": "Traceback (most recent call last):\n  File \"/srv/settlement.py\", line 9, in settle_batch\n    net += e[\"amount\"] - e[\"fee\"]\nKeyError: 'fee'"}"#;
        let evidence = vec![Evidence {
            source: "05-logs.txt".into(),
            line: Some(4),
            text: line.to_string(),
        }];
        let causes = Diagnoser::new().diagnose_in(&evidence, &Context::default());
        let first = causes.first().expect("a cause");
        assert_eq!(first.id, "crashed", "{}", first.summary);
        assert!(first.summary.contains("settle_batch"), "{}", first.summary);
        assert_eq!(first.evidence[0].line, Some(4));
    }

    #[test]
    fn colour_codes_are_not_words() {
        assert_eq!(
            super::strip_ansi("\x1b[33mMissing\x1b[0m environment variables:\x1b]0;title\x07"),
            "Missing environment variables:"
        );
    }
}
