//! Reads `[playbooks.NAME]`.
//!
//! ```toml
//! [playbooks.deploy-fix]
//! steps = [
//!   "stop",
//!   { action = "clear-cache", paths = ["**/__pycache__", "*.pyc"] },
//!   { action = "exec", command = "alembic upgrade head", timeout = "2m" },
//!   "start",
//!   { action = "verify", for = "5m" },
//! ]
//! ```

use std::time::Duration;

use toml::de::DeValue;

use crate::diagnostic::Diagnostic;
use crate::playbooks::{ACTIONS, Action, OnError, Playbook, Step};
use crate::reader::{Reader, Value, suggest};

const PLAYBOOK_KEYS: &[&str] = &["steps"];
const STEP_KEYS: &[&str] = &[
    "action", "timeout", "on_error", "force", "paths", "above", "for", "command", "message",
];
const ON_ERROR: &[(&str, OnError)] = &[("stop", OnError::Stop), ("continue", OnError::Continue)];

pub(crate) fn read_playbooks(r: &mut Reader, v: &Value<'_>) -> Vec<Playbook> {
    let Some(table) = r.table(v, "`[playbooks]`") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in table {
        let name: &str = name.get_ref();
        let what = format!("`[playbooks.{name}]`");
        let Some(t) = r.table(value, &what) else {
            continue;
        };
        r.unknown_keys(t, PLAYBOOK_KEYS, &what);
        let Some((_, steps)) = t.get_key_value("steps") else {
            r.error(
                Diagnostic::error(
                    format!("{what} has no `steps`"),
                    value.span(),
                    "a playbook needs steps",
                )
                .with_help("steps = [\"stop\", \"kill-leftovers\", \"start\", \"wait-healthy\"]"),
            );
            continue;
        };
        let DeValue::Array(items) = steps.get_ref() else {
            r.expected(steps, &format!("`steps` of {what}"), "an array of steps");
            continue;
        };
        let steps: Vec<Step> = items
            .iter()
            .enumerate()
            .filter_map(|(n, item)| read_step(r, item, &format!("step {} of {what}", n + 1)))
            .collect();
        if steps.len() == items.len() {
            out.push(Playbook {
                name: name.to_string(),
                steps,
            });
        }
    }
    out
}

fn read_step(r: &mut Reader, v: &Value<'_>, what: &str) -> Option<Step> {
    if let DeValue::String(_) = v.get_ref() {
        let action = action_named(r, v, what, None)?;
        return Some(Step {
            timeout: action.default_timeout(),
            action,
            on_error: OnError::Stop,
        });
    }
    let t = r.table(v, what)?;
    r.unknown_keys(t, STEP_KEYS, what);
    let Some((_, name)) = t.get_key_value("action") else {
        r.error(Diagnostic::error(
            format!("{what} has no `action`"),
            v.span(),
            format!("expected one of: {}", ACTIONS.join(", ")),
        ));
        return None;
    };
    let action = action_named(r, name, what, Some(t))?;
    let timeout = match t.get_key_value("timeout") {
        Some((_, v)) => r.duration(v, &format!("`timeout` of {what}"))?,
        None => action.default_timeout(),
    };
    let on_error = match t.get_key_value("on_error") {
        Some((_, v)) => r.choice(v, &format!("`on_error` of {what}"), ON_ERROR)?,
        None => OnError::Stop,
    };
    Some(Step {
        action,
        timeout,
        on_error,
    })
}

fn action_named(
    r: &mut Reader,
    v: &Value<'_>,
    what: &str,
    keys: Option<&toml::de::DeTable<'_>>,
) -> Option<Action> {
    let name = r.string(v, &format!("the action of {what}"))?;
    let key = |k: &str| keys.and_then(|t| t.get_key_value(k)).map(|(_, v)| v);
    let needs = |r: &mut Reader, k: &str| {
        r.error(Diagnostic::error(
            format!("`{name}` in {what} needs `{k}`"),
            v.span(),
            format!("write {{ action = \"{name}\", {k} = … }}"),
        ));
    };
    let action = match name.as_str() {
        "stop" => Action::Stop,
        "start" => Action::Start,
        "restart" => Action::Restart,
        "kill-leftovers" => Action::KillLeftovers,
        "free-port" => Action::FreePort {
            force: match key("force") {
                Some(v) => r.boolean(v, &format!("`force` of {what}"))?,
                None => false,
            },
        },
        "clear-cache" => Action::ClearCache {
            paths: match key("paths") {
                Some(v) => read_globs(r, v, what)?,
                None => crate::playbooks::DEFAULT_CACHE_GLOBS
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            },
        },
        "rotate-logs" => Action::RotateLogs {
            above: match key("above") {
                Some(v) => Some(crate::health_reader::read_size(
                    r,
                    v,
                    &format!("`above` of {what}"),
                )?),
                None => None,
            },
        },
        "wait-healthy" => Action::WaitHealthy,
        "verify" => Action::Verify {
            window: match key("for") {
                Some(v) => r.duration(v, &format!("`for` of {what}"))?,
                None => Duration::from_secs(60),
            },
        },
        "exec" => {
            let Some(v) = key("command") else {
                needs(r, "command");
                return None;
            };
            Action::Exec {
                command: r.non_empty_string(v, &format!("`command` of {what}"))?,
            }
        }
        "notify" => {
            let Some(v) = key("message") else {
                needs(r, "message");
                return None;
            };
            Action::Notify {
                message: r.non_empty_string(v, &format!("`message` of {what}"))?,
            }
        }
        "diagnose" => Action::Diagnose,
        "restart-dependencies" => Action::RestartDependencies,
        other => {
            let mut d = Diagnostic::error(
                format!("unknown action `{other}` in {what}"),
                v.span(),
                "unknown action",
            );
            d = match suggest(other, ACTIONS.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!("expected one of: {}", ACTIONS.join(", "))),
            };
            r.error(d);
            return None;
        }
    };
    Some(action)
}

/// Globs relative to the service's directory: never absolute, never `..`.
fn read_globs(r: &mut Reader, v: &Value<'_>, what: &str) -> Option<Vec<String>> {
    let DeValue::Array(items) = v.get_ref() else {
        r.expected(v, &format!("`paths` of {what}"), "an array of globs");
        return None;
    };
    let mut out = Vec::new();
    for item in items {
        let glob = r.non_empty_string(item, &format!("a path of {what}"))?;
        let escapes = glob.starts_with('/') || glob.split('/').any(|part| part == "..");
        if escapes {
            r.error(Diagnostic::error(
                format!("invalid path `{glob}` in {what}"),
                item.span(),
                "a glob relative to the service's `dir`, without `..`",
            ));
            return None;
        }
        if let Err(e) = globset::Glob::new(&glob) {
            r.error(Diagnostic::error(
                format!("invalid glob `{glob}` in {what}"),
                item.span(),
                e.kind().to_string(),
            ));
            return None;
        }
        out.push(glob);
    }
    Some(out)
}
