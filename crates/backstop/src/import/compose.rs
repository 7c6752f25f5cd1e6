//! A docker-compose file: each service that has a `command` becomes a
//! backstop service running that command on this host (backstop runs
//! commands, not images: a service with only an `image` is a note).
//!
//! | compose | backstop |
//! |---|---|
//! | `entrypoint` + `command` (string or list) | `command` |
//! | `working_dir`, `user`, `environment` (map or list), `env_file` (the first) | `dir`, `user`, `env`, `env_file` |
//! | `ports: ["8000:8000"]` | `port` (the container's side) |
//! | `depends_on` (list, or `condition: service_started / service_healthy / service_completed_successfully`) | `depends_on` started / healthy / completed |
//! | `healthcheck.test` (`CMD`, `CMD-SHELL`), `interval`, `timeout`, `retries`, `start_period` | an `exec` check, `startup` |
//! | `restart: always / unless-stopped / on-failure / no` | `restart` always / always / on-failure / never |
//! | `stop_signal`, `stop_grace_period` | `stop.signal`, `stop.timeout` |
//! | `deploy.replicas`, `deploy.resources.limits.memory` | `instances`, `limits.memory_max` |

use yaml_rust2::{Yaml, YamlLoader};

use super::draft::{
    Draft, DraftCheck, DraftService, Probe, binary_size, command_line, service_name,
};

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A string is a command line; a list is argv.
fn argv(y: &Yaml) -> Option<Vec<String>> {
    match y {
        Yaml::Array(items) => Some(items.iter().filter_map(scalar).collect()),
        other => scalar(other).map(|s| command_line(&s)),
    }
}

/// Compose durations (`30s`, `1m30s`) are backstop's.
fn span(y: &Yaml) -> Option<String> {
    scalar(y).filter(|s| backstop_config::parse_duration(s).is_some())
}

pub(crate) fn import(text: &str, draft: &mut Draft) -> Result<(), String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let Some(doc) = docs.first() else {
        return Err("empty file".to_string());
    };
    let Some(services) = doc["services"].as_hash() else {
        return Err("no `services:` mapping (is it a compose file?)".to_string());
    };
    for (key, svc) in services {
        let Some(raw_name) = scalar(key) else {
            continue;
        };
        let name = service_name(&raw_name);
        let entrypoint = argv(&svc["entrypoint"]).unwrap_or_default();
        let command = argv(&svc["command"]).unwrap_or_default();
        if command.is_empty() && entrypoint.is_empty() {
            draft.notes.push(format!(
                "service {raw_name} runs the image {} with no command: backstop runs commands on this host, not images (run its program directly, or keep it in compose)",
                scalar(&svc["image"]).unwrap_or_else(|| "(built)".to_string())
            ));
            continue;
        }
        let mut full = entrypoint;
        full.extend(command);
        let mut s = DraftService {
            name,
            command: full,
            ..DraftService::default()
        };
        if svc["image"].as_str().is_some() || !svc["build"].is_badvalue() {
            s.notes.push(format!(
                "image/build: the command runs on this host, not in the container {}; its programs must be installed here",
                scalar(&svc["image"]).unwrap_or_default()
            ));
        }
        s.dir = scalar(&svc["working_dir"]);
        s.user = scalar(&svc["user"]);
        match &svc["environment"] {
            Yaml::Hash(map) => {
                for (k, v) in map {
                    if let (Some(k), Some(v)) = (scalar(k), scalar(v)) {
                        s.env.insert(k, v);
                    }
                }
            }
            Yaml::Array(items) => {
                for item in items.iter().filter_map(scalar) {
                    if let Some((k, v)) = item.split_once('=') {
                        s.env.insert(k.to_string(), v.to_string());
                    }
                }
            }
            _ => {}
        }
        s.env_file = match &svc["env_file"] {
            Yaml::Array(items) => {
                if items.len() > 1 {
                    s.notes
                        .push("several env_file: only the first is imported".to_string());
                }
                items.first().and_then(scalar)
            }
            other => scalar(other),
        };
        if let Some(ports) = svc["ports"].as_vec() {
            if let Some(first) = ports.first().and_then(scalar) {
                let container = first.rsplit(':').next().unwrap_or(&first);
                let container = container.split('/').next().unwrap_or(container);
                s.port = container.parse().ok();
            }
            if ports.len() > 1 {
                s.notes
                    .push("several ports: only the first is the service's port".to_string());
            }
        }
        match &svc["depends_on"] {
            Yaml::Array(items) => {
                for d in items.iter().filter_map(scalar) {
                    s.depends_on.push((service_name(&d), "started"));
                }
            }
            Yaml::Hash(map) => {
                for (k, v) in map {
                    let Some(d) = scalar(k) else { continue };
                    let condition = match v["condition"].as_str() {
                        Some("service_healthy") => "healthy",
                        Some("service_completed_successfully") => "completed",
                        _ => "started",
                    };
                    s.depends_on.push((service_name(&d), condition));
                }
            }
            _ => {}
        }
        let hc = &svc["healthcheck"];
        if hc["disable"].as_bool() != Some(true) {
            if let Some(test) = argv(&hc["test"]) {
                let probe = match test.first().map(String::as_str) {
                    Some("CMD") => Some(test[1..].to_vec()),
                    Some("CMD-SHELL") => Some(vec![
                        "sh".to_string(),
                        "-c".to_string(),
                        test[1..].join(" "),
                    ]),
                    Some("NONE") => None,
                    _ => Some(test.clone()),
                };
                if let Some(cmd) = probe.filter(|c| !c.is_empty()) {
                    s.checks.push(DraftCheck {
                        probe: Probe::Exec(cmd),
                        interval: span(&hc["interval"]),
                        timeout: span(&hc["timeout"]),
                        failures: hc["retries"].as_i64().and_then(|n| u32::try_from(n).ok()),
                    });
                    s.startup = span(&hc["start_period"]);
                }
            }
        }
        s.restart = match svc["restart"].as_str() {
            Some("always" | "unless-stopped") => Some("always"),
            Some(r) if r.starts_with("on-failure") => Some("on-failure"),
            Some("no") => Some("never"),
            _ => None,
        };
        s.stop_signal =
            scalar(&svc["stop_signal"]).map(|v| v.trim_start_matches("SIG").to_string());
        s.stop_timeout = span(&svc["stop_grace_period"]);
        if let Some(n) = svc["deploy"]["replicas"]
            .as_i64()
            .and_then(|n| u32::try_from(n).ok())
        {
            if n > 1 {
                s.instances = Some(n);
            }
        }
        if let Some(m) = scalar(&svc["deploy"]["resources"]["limits"]["memory"]) {
            s.memory_max = binary_size(&m.to_ascii_uppercase().replace('B', ""));
        }
        for key in ["volumes", "networks", "network_mode"] {
            if !svc[key].is_badvalue() {
                s.notes.push(format!(
                    "{key}: containers only; the command sees this host's files and network"
                ));
            }
        }
        draft.services.push(s);
    }
    // A dependency on a service that was not imported (an image) is dropped.
    let names: Vec<String> = draft.services.iter().map(|s| s.name.clone()).collect();
    for s in &mut draft.services {
        let (kept, dropped): (Vec<_>, Vec<_>) =
            s.depends_on.drain(..).partition(|(d, _)| names.contains(d));
        s.depends_on = kept;
        for (d, _) in dropped {
            s.notes.push(format!(
                "depends_on {d}: not imported (an image); start it before backstop, or check it with a [checks] entry"
            ));
        }
    }
    Ok(())
}
