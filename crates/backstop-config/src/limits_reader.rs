//! Reads `limits = { memory_warn = "400MB", memory_max = "480MB", cpu_warn = "80%",
//! cpu_for = "5m", cpu_max = "150%", pids_max = 512, nofile = 65536 }`.

use crate::diagnostic::Diagnostic;
use crate::limits::Limits;
use crate::reader::{Reader, Value};

const LIMIT_KEYS: &[&str] = &[
    "memory_warn",
    "memory_max",
    "cpu_warn",
    "cpu_for",
    "cpu_max",
    "pids_max",
    "nofile",
];

pub(crate) fn read_limits(r: &mut Reader, v: &Value<'_>, service: &str) -> Option<Limits> {
    let context = format!("`limits` of service `{service}`");
    let table = r.table(v, &context)?;
    r.unknown_keys(table, LIMIT_KEYS, &context);
    let what = |k: &str| format!("`limits.{k}` of service `{service}`");
    let mut limits = Limits::default();
    let mut ok = true;
    for (key, value) in table {
        let key: &str = key.get_ref();
        let read = match key {
            "memory_warn" => crate::health_reader::read_size(r, value, &what(key))
                .map(|b| limits.memory_warn = Some(b)),
            "memory_max" => crate::health_reader::read_size(r, value, &what(key))
                .map(|b| limits.memory_max = Some(b)),
            "cpu_warn" => crate::health_reader::read_cpu_percent(r, value, &what(key))
                .map(|p| limits.cpu_warn = Some(p)),
            "cpu_max" => crate::health_reader::read_cpu_percent(r, value, &what(key))
                .map(|p| limits.cpu_max = Some(p)),
            "cpu_for" => r
                .duration(value, &what(key))
                .map(|d| limits.cpu_for = Some(d)),
            "pids_max" => r
                .integer(value, &what(key), 1..4_194_305)
                .map(|n| limits.pids_max = Some(n as u64)),
            "nofile" => r
                .integer(value, &what(key), 8..1_073_741_817)
                .map(|n| limits.nofile = Some(n as u64)),
            _ => Some(()),
        };
        ok &= read.is_some();
    }
    if let (Some(warn), Some(max)) = (limits.memory_warn, limits.memory_max)
        && warn >= max
        && let Some((_, v)) = table.get_key_value("memory_warn")
    {
        r.error(Diagnostic::error(
            format!("invalid {}", what("memory_warn")),
            v.span(),
            "must be below `memory_max`",
        ));
        ok = false;
    }
    if let (Some(warn), Some(max)) = (limits.cpu_warn, limits.cpu_max)
        && warn >= max
        && let Some((_, v)) = table.get_key_value("cpu_warn")
    {
        r.error(Diagnostic::error(
            format!("invalid {}", what("cpu_warn")),
            v.span(),
            "must be below `cpu_max`",
        ));
        ok = false;
    }
    if limits.cpu_for.is_some()
        && limits.cpu_warn.is_none()
        && let Some((_, v)) = table.get_key_value("cpu_for")
    {
        r.error(Diagnostic::error(
            format!("invalid {}", what("cpu_for")),
            v.span(),
            "`cpu_for` is how long `cpu_warn` must hold: set `cpu_warn` too",
        ));
        ok = false;
    }
    ok.then_some(limits)
}

#[cfg(test)]
mod tests {
    /// The line docs/DESIGN show is what users write: it must load.
    #[test]
    fn the_design_example_loads_and_adds_the_limits_check() {
        let loaded = crate::parse(
            std::path::Path::new("/srv/backstop.toml"),
            r#"
[services.api]
command = "uvicorn main:app"
limits = { memory_warn = "400MB", memory_max = "480MB", cpu_warn = "80%", nofile = 65536 }
"#
            .to_string(),
        )
        .unwrap();
        let api = loaded.config.service("api").unwrap();
        assert_eq!(api.limits.memory_max, Some(480_000_000));
        assert_eq!(api.limits.nofile, Some(65536));
        assert_eq!(api.health.len(), 1);
        assert_eq!(api.health[0].name, "limits");
    }
}
