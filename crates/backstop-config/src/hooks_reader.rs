//! Reading `pre_start`, `post_stop` ([`crate::hooks`]): a command string,
//! an array, or `{ command = …, timeout = "2m" }`.

use std::time::Duration;

use toml::de::DeValue;

use crate::hooks::Hook;
use crate::reader::{Reader, Value};

const HOOK_KEYS: &[&str] = &["command", "timeout"];

/// `key` of service `name`, with `timeout` unless the file sets one.
pub(crate) fn read_hook(
    r: &mut Reader,
    v: &Value<'_>,
    name: &str,
    key: &str,
    timeout: Duration,
) -> Option<Hook> {
    let what = format!("`{key}` in service `{name}`");
    let DeValue::Table(table) = v.get_ref() else {
        let command = crate::load::read_command(r, v, &what)?;
        return Some(Hook { command, timeout });
    };
    r.unknown_keys(table, HOOK_KEYS, &format!("`{key}` of service `{name}`"));
    let Some((_, c)) = table.get_key_value("command") else {
        r.error(crate::diagnostic::Diagnostic::error(
            format!("{what} has no `command`"),
            v.span(),
            "expected `{ command = \"program args…\", timeout = \"2m\" }`",
        ));
        return None;
    };
    let command = crate::load::read_command(r, c, &format!("`{key}.command` in service `{name}`"));
    let timeout = match table.get_key_value("timeout") {
        Some((_, t)) => r.duration(t, &format!("`{key}.timeout` in service `{name}`"))?,
        None => timeout,
    };
    Some(Hook {
        command: command?,
        timeout,
    })
}
