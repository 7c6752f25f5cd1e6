//! Reads `[[remediate]]`.
//!
//! ```toml
//! [[remediate]]
//! when = "memory-max"
//! service = "api"
//! run = "clean-restart"
//! max_runs = 3
//! per = "1h"
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use toml::de::DeValue;

use crate::diagnostic::Diagnostic;
use crate::reader::{Reader, Value, suggest};
use crate::remediate::{RemediateRule, Trigger, trigger_names};

const RULE_KEYS: &[&str] = &["when", "service", "for", "run", "max_runs", "per"];

/// The names a rule may refer to.
pub(crate) struct Known<'a> {
    pub(crate) services: &'a BTreeSet<String>,
    pub(crate) playbooks: Vec<String>,
}

pub(crate) fn read_rules(r: &mut Reader, v: &Value<'_>, known: &Known<'_>) -> Vec<RemediateRule> {
    let DeValue::Array(items) = v.get_ref() else {
        r.expected(
            v,
            "`remediate`",
            "an array of tables: write each rule as `[[remediate]]`",
        );
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(n, item)| read_rule(r, item, &format!("`[[remediate]]` #{}", n + 1), known))
        .collect()
}

fn read_rule(
    r: &mut Reader,
    v: &Value<'_>,
    what: &str,
    known: &Known<'_>,
) -> Option<RemediateRule> {
    let table = r.table(v, what)?;
    r.unknown_keys(table, RULE_KEYS, what);
    let key = |k: &str| table.get_key_value(k).map(|(_, v)| v);
    let missing = |r: &mut Reader, k: &str, help: &str| {
        r.error(
            Diagnostic::error(
                format!("{what} has no `{k}`"),
                v.span(),
                format!("a rule needs `{k}`"),
            )
            .with_help(help.to_string()),
        );
    };
    let mut ok = true;
    let when = match key("when") {
        None => {
            missing(
                r,
                "when",
                "when = \"crash-loop\" (or memory-max, unhealthy, startup-timeout, a cause id)",
            );
            None
        }
        Some(w) => read_when(r, w, what),
    };
    let run = match key("run") {
        None => {
            missing(r, "run", "run = \"clean-restart\"");
            None
        }
        Some(p) => named(
            r,
            p,
            &format!("`run` of {what}"),
            "playbook",
            &known.playbooks,
        ),
    };
    let service = match key("service") {
        None => Some(None),
        Some(s) => {
            let names: Vec<String> = known.services.iter().cloned().collect();
            named(r, s, &format!("`service` of {what}"), "service", &names).map(Some)
        }
    };
    let hold = match key("for") {
        None => Some(Duration::ZERO),
        Some(d) => {
            let hold = r.duration(d, &format!("`for` of {what}"));
            if let (Some(w), Some(_)) = (&when, hold)
                && !w.is_state()
            {
                r.error(
                    Diagnostic::error(
                        format!(
                            "`for` does not apply to `when = \"{}\"` in {what}",
                            w.name()
                        ),
                        d.span(),
                        "an event happens at a moment: the rule acts on it at once",
                    )
                    .with_help(
                        "`for` applies to states that last: crash-loop, unhealthy, startup-timeout",
                    ),
                );
                ok = false;
            }
            hold
        }
    };
    let max_runs = match key("max_runs") {
        None => Some(3),
        Some(n) => r
            .integer(n, &format!("`max_runs` of {what}"), 1..1001)
            .map(|n| n as u32),
    };
    let per = match key("per") {
        None => Some(Duration::from_secs(3600)),
        Some(window) => match r.duration(window, &format!("`per` of {what}")) {
            Some(p) if p.is_zero() => {
                r.error(Diagnostic::error(
                    format!("`per` of {what} is zero"),
                    window.span(),
                    "the window in which `max_runs` counts: \"1h\", \"30m\"",
                ));
                None
            }
            other => other,
        },
    };
    if !ok {
        return None;
    }
    Some(RemediateRule {
        when: when?,
        service: service?,
        hold: hold?,
        run: run?,
        max_runs: max_runs?,
        per: per?,
    })
}

fn read_when(r: &mut Reader, v: &Value<'_>, what: &str) -> Option<Trigger> {
    let text = r.non_empty_string(v, &format!("`when` of {what}"))?;
    if let Some(t) = Trigger::parse(&text) {
        return Some(t);
    }
    let names = trigger_names();
    let mut d = Diagnostic::error(
        format!("unknown `when = \"{text}\"` in {what}"),
        v.span(),
        "not a condition backstop knows",
    );
    d = match suggest(&text, names.iter().copied()) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help(format!("expected one of: {}", names.join(", "))),
    };
    r.error(d);
    None
}

/// A string that must be one of `known` (a service, a playbook).
fn named(
    r: &mut Reader,
    v: &Value<'_>,
    what: &str,
    kind: &str,
    known: &[String],
) -> Option<String> {
    let name = r.non_empty_string(v, what)?;
    if known.contains(&name) {
        return Some(name);
    }
    let mut d = Diagnostic::error(
        format!("{what} names an unknown {kind} `{name}`"),
        v.span(),
        format!("no {kind} of that name"),
    );
    d = match suggest(&name, known.iter().map(String::as_str)) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help(format!("known: {}", known.join(", "))),
    };
    r.error(d);
    None
}
