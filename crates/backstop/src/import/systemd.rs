//! A systemd `.service` unit becomes a service named after the unit.
//!
//! | systemd | backstop |
//! |---|---|
//! | `ExecStart=` (its `-`, `@`, `+`, `!` prefixes dropped) | `command` |
//! | `WorkingDirectory=`, `User=`, `Group=` | `dir`, `user`, `group` |
//! | `Environment=`, `EnvironmentFile=` | `env`, `env_file` |
//! | `Restart=` always / on-failure, on-abnormal, on-watchdog, on-abort / no | `restart` always / on-failure / never |
//! | `RestartSec=`, `StartLimitBurst=`, `StartLimitIntervalSec=` | `backoff_initial`, `max_restarts`, `window` |
//! | `KillSignal=`, `TimeoutStopSec=`, `KillMode=` | `stop.signal`, `stop.timeout`, `stop.mode` |
//! | `TimeoutStartSec=` | `startup` |
//! | `ExecStartPre=`, `ExecStopPost=` (the first of each) | `pre_start`, `post_stop` |
//! | `After=`/`Requires=`/`Wants=` other imported units | `depends_on` (started) |
//! | `MemoryMax=`, `CPUQuota=`, `LimitNOFILE=` | `limits` |

use super::draft::{Draft, DraftService, command_line, service_name};
use super::ini;

/// A systemd time span (`5`, `5s`, `1min 30s`, `500ms`) as backstop writes one.
fn span(v: &str) -> Option<String> {
    let v = v.trim();
    if v.is_empty() || v == "infinity" {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("{v}s"));
    }
    let text = v.replace("min", "m").replace("sec", "s").replace(' ', "");
    backstop_config::parse_duration(&text).map(|_| text)
}

/// An `Exec…=` line as argv, without its special prefixes.
fn exec(v: &str) -> Vec<String> {
    let line = v.trim().trim_start_matches(['-', '@', '+', '!', ':']);
    command_line(line)
}

/// `Environment="A=1" B=2` as pairs.
fn environment(v: &str) -> Vec<(String, String)> {
    shell_words::split(v)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|w| {
            w.split_once('=')
                .map(|(k, val)| (k.to_string(), val.to_string()))
        })
        .collect()
}

/// The unit's service, and the units it orders itself after (to be made
/// `depends_on` once every file is read).
pub(crate) fn import(file_name: &str, text: &str, draft: &mut Draft) -> Vec<String> {
    let unit_name = file_name.trim_end_matches(".service");
    let sections = ini::parse(text);
    let section = |name: &str| sections.iter().find(|s| s.name == name);
    let Some(service) = section("Service") else {
        draft
            .notes
            .push(format!("{file_name}: no [Service] section"));
        return Vec::new();
    };
    let Some(start) = service.get("ExecStart") else {
        draft.notes.push(format!("{file_name}: no ExecStart="));
        return Vec::new();
    };
    let mut s = DraftService {
        name: service_name(unit_name),
        command: exec(start),
        ..DraftService::default()
    };
    if service.all("ExecStart").len() > 1 {
        s.notes.push(
            "several ExecStart= lines (Type=oneshot): only the last is the command".to_string(),
        );
    }
    s.dir = service
        .get("WorkingDirectory")
        .map(|d| d.trim_start_matches('-').to_string())
        .filter(|d| d != "~");
    s.user = service.get("User").map(str::to_string);
    s.group = service.get("Group").map(str::to_string);
    for v in service.all("Environment") {
        for (k, val) in environment(v) {
            s.env.insert(k, val);
        }
    }
    if let Some(f) = service.get("EnvironmentFile") {
        s.env_file = Some(f.trim_start_matches('-').to_string());
    }
    s.restart = match service.get("Restart").map(str::trim) {
        Some("always") => Some("always"),
        Some("on-failure" | "on-abnormal" | "on-watchdog" | "on-abort") => Some("on-failure"),
        Some("no") | None => Some("never"),
        Some(other) => {
            s.notes.push(format!("Restart={other}: read as on-failure"));
            Some("on-failure")
        }
    };
    s.backoff_initial = service.get("RestartSec").and_then(span);
    let unit = section("Unit");
    let get_unit = |k: &str| unit.and_then(|u| u.get(k)).or_else(|| service.get(k));
    if let Some(n) = get_unit("StartLimitBurst").and_then(|v| v.trim().parse::<u32>().ok()) {
        s.max_restarts = Some(n.saturating_sub(1).max(1));
    }
    s.window = get_unit("StartLimitIntervalSec").and_then(span);
    s.stop_signal = service
        .get("KillSignal")
        .map(|v| v.trim().trim_start_matches("SIG").to_ascii_uppercase());
    s.stop_timeout = service
        .get("TimeoutStopSec")
        .or_else(|| service.get("TimeoutSec"))
        .and_then(span);
    s.stop_mode = match service.get("KillMode").map(str::trim) {
        Some("mixed" | "process") => Some("main"),
        _ => None,
    };
    s.startup = service.get("TimeoutStartSec").and_then(span);
    if let Some(pre) = service.all("ExecStartPre").first() {
        s.pre_start = Some(exec(pre));
    }
    if let Some(post) = service.all("ExecStopPost").first() {
        s.post_stop = Some(exec(post));
    }
    if let Some(stop) = service.get("ExecStop") {
        s.notes.push(format!(
            "ExecStop={stop}: write it as stop = {{ command = … }} if the signal is not enough"
        ));
    }
    if let Some(m) = service
        .get("MemoryMax")
        .or_else(|| service.get("MemoryLimit"))
    {
        if m.trim() != "infinity" {
            s.memory_max = super::draft::binary_size(m);
        }
    }
    if let Some(q) = service
        .get("CPUQuota")
        .and_then(|q| q.trim().trim_end_matches('%').parse::<f64>().ok())
    {
        s.cpu_max = Some(q);
    }
    if let Some(n) = service
        .get("LimitNOFILE")
        .and_then(|v| v.trim().parse().ok())
    {
        s.nofile = Some(n);
    }
    if let Some(t) = service.get("Type") {
        if !matches!(t.trim(), "simple" | "exec" | "notify" | "oneshot") {
            s.notes.push(format!(
                "Type={t}: backstop supervises a program that stays in the foreground; run it without daemonizing"
            ));
        }
    }
    for key in [
        "Sandbox",
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "NoNewPrivileges",
    ] {
        if service.get(key).is_some() {
            s.notes.push(format!(
                "{key}= and systemd's other sandboxing options have no backstop equivalent"
            ));
            break;
        }
    }
    let mut after: Vec<String> = Vec::new();
    if let Some(u) = unit {
        for key in ["After", "Requires", "Wants", "BindsTo"] {
            for v in u.all(key) {
                after.extend(v.split_whitespace().map(str::to_string));
            }
        }
    }
    draft.services.push(s);
    after
}
