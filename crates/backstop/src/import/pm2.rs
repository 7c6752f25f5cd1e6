//! A PM2 ecosystem file (`ecosystem.config.js`, evaluated with `node`
//! when it is JavaScript; or JSON), or the JSON of `pm2 jlist`: each app
//! becomes a service.
//!
//! | PM2 | backstop |
//! |---|---|
//! | `script`, `args`, `interpreter` (node for `.js`, python3 for `.py`) | `command` |
//! | `cwd`, `env` | `dir`, `env` |
//! | `instances: N` | `instances = N` (`"max"`: the number of CPUs here) |
//! | `autorestart: false` | `restart = "never"` |
//! | `max_restarts`, `restart_delay`, `exp_backoff_restart_delay` | `max_restarts`, `backoff_initial` (factor 1.5 with the exponential one) |
//! | `min_uptime` | `startup` |
//! | `max_memory_restart` | `limits.memory_max` |
//! | `kill_timeout` | `stop.timeout` |
//! | `watch` | `watch` |
//!
//! Notes for `exec_mode: "cluster"` (copies get their own ports instead of
//! sharing one), `cron_restart`, `env_production` and log file settings.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::draft::{Draft, DraftService, binary_size, command_line, service_name};

/// The apps of an ecosystem file: `node` loads a `.js`/`.cjs` file (it is
/// code), JSON is read as it is.
pub(crate) fn load(path: &Path, text: &str) -> Result<Vec<Value>, String> {
    let is_js = path
        .extension()
        .is_some_and(|e| e == "js" || e == "cjs" || e == "mjs");
    let value: Value = if is_js {
        let absolute = std::path::absolute(path).map_err(|e| e.to_string())?;
        let script = format!(
            "const m = require({}); process.stdout.write(JSON.stringify(m.default || m))",
            serde_json::to_string(&absolute.display().to_string()).unwrap_or_default()
        );
        let out = Command::new("node")
            .args(["-e", &script])
            .output()
            .map_err(|e| format!("cannot run node to read {} (it is JavaScript): {e}; export it with `pm2 jlist > apps.json` and import that", path.display()))?;
        if !out.status.success() {
            return Err(format!(
                "node could not load {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?
    } else {
        serde_json::from_str(text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?
    };
    Ok(match value {
        Value::Array(apps) => apps,
        Value::Object(mut o) => match o.remove("apps") {
            Some(Value::Array(apps)) => apps,
            Some(app @ Value::Object(_)) => vec![app],
            _ => vec![Value::Object(o)],
        },
        _ => Vec::new(),
    })
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A duration in PM2's milliseconds (a number, or a string such as "5s").
fn millis(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => n.as_u64().map(|ms| {
            if ms % 1000 == 0 {
                format!("{}s", ms / 1000)
            } else {
                format!("{ms}ms")
            }
        }),
        Value::String(s) => backstop_config::parse_duration(s)
            .map(|_| s.clone())
            .or_else(|| s.parse::<u64>().ok().map(|ms| format!("{ms}ms"))),
        _ => None,
    }
}

pub(crate) fn import(apps: &[Value], draft: &mut Draft) {
    for raw in apps {
        // `pm2 jlist` nests the app's settings under pm2_env.
        let app = raw.get("pm2_env").unwrap_or(raw);
        let get = |k: &str| app.get(k).or_else(|| raw.get(k)).filter(|v| !v.is_null());
        let Some(name) = get("name").and_then(text) else {
            draft.notes.push("an app without a name".to_string());
            continue;
        };
        let Some(script) = get("script").or_else(|| get("pm_exec_path")).and_then(text) else {
            draft.notes.push(format!("app {name} has no script"));
            continue;
        };
        let args: Vec<String> = match get("args") {
            Some(Value::Array(a)) => a.iter().filter_map(text).collect(),
            Some(Value::String(s)) => shell_words::split(s).unwrap_or_default(),
            _ => Vec::new(),
        };
        let interpreter = get("interpreter")
            .or_else(|| get("exec_interpreter"))
            .and_then(text)
            .filter(|i| i != "none");
        let interpreter = interpreter.or_else(|| {
            let ext = Path::new(&script).extension()?.to_str()?;
            match ext {
                "js" | "cjs" | "mjs" => Some("node".to_string()),
                "py" => Some("python3".to_string()),
                "rb" => Some("ruby".to_string()),
                "sh" => Some("bash".to_string()),
                _ => None,
            }
        });
        let mut command = match &interpreter {
            Some(i) => {
                let mut c = vec![i.clone(), script.clone()];
                c.extend(args);
                c
            }
            // A binary or a command line (`script: "npm start"`).
            None if args.is_empty() => command_line(&script),
            None => {
                let mut c = vec![script.clone()];
                c.extend(args);
                c
            }
        };
        if command.is_empty() {
            command = vec![script];
        }
        let mut s = DraftService {
            name: service_name(&name),
            command,
            ..DraftService::default()
        };
        s.dir = get("cwd").or_else(|| get("pm_cwd")).and_then(text);
        if let Some(Value::Object(env)) = get("env") {
            for (k, v) in env {
                if let Some(v) = text(v) {
                    s.env.insert(k.clone(), v);
                }
            }
        }
        if raw.get("pm2_env").is_some() {
            // pm2 jlist's env is the whole environment PM2 gave the app.
            s.env.retain(|k, _| {
                !k.starts_with("PM2")
                    && !k.starts_with("pm_")
                    && !matches!(
                        k.as_str(),
                        "PATH"
                            | "HOME"
                            | "PWD"
                            | "SHELL"
                            | "USER"
                            | "LOGNAME"
                            | "TERM"
                            | "SHLVL"
                            | "OLDPWD"
                            | "_"
                            | "NODE_APP_INSTANCE"
                            | "unique_id"
                            | "status"
                            | "name"
                    )
            });
        }
        match get("instances") {
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 1) => {
                s.instances = n.as_u64().and_then(|n| u32::try_from(n).ok());
            }
            Some(Value::String(m)) if m == "max" || m == "-1" || m == "0" => {
                let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
                s.instances = u32::try_from(cpus).ok().filter(|n| *n > 1);
                s.notes
                    .push(format!("instances: \"{m}\" is one per CPU: {cpus} here"));
            }
            _ => {}
        }
        if get("exec_mode")
            .and_then(text)
            .is_some_and(|m| m.contains("cluster"))
        {
            s.notes.push("exec_mode cluster: PM2's copies share one port; backstop's copies are separate processes, each with its own port (port + i - 1 in PORT) behind your proxy".to_string());
        }
        if get("autorestart") == Some(&Value::Bool(false)) {
            s.restart = Some("never");
        }
        if let Some(n) = get("max_restarts").and_then(Value::as_u64) {
            s.max_restarts = u32::try_from(n).ok();
        }
        if let Some(d) = get("exp_backoff_restart_delay").and_then(millis) {
            s.backoff_initial = Some(d);
            s.backoff_factor = Some(1.5);
        } else if let Some(d) = get("restart_delay").and_then(millis) {
            s.backoff_initial = Some(d);
        }
        s.startup = get("min_uptime").and_then(millis);
        if let Some(m) = get("max_memory_restart").and_then(text) {
            match binary_size(&m) {
                Some(size) => s.memory_max = Some(size),
                None => s
                    .notes
                    .push(format!("max_memory_restart: {m} is not a size")),
            }
        }
        s.stop_timeout = get("kill_timeout").and_then(millis);
        match get("watch") {
            Some(Value::Bool(true)) => s.watch = vec!["**/*".to_string()],
            Some(Value::Array(paths)) => {
                s.watch = paths
                    .iter()
                    .filter_map(text)
                    .map(|p| {
                        if p.contains('*') {
                            p
                        } else {
                            format!("{}/**/*", p.trim_end_matches('/'))
                        }
                    })
                    .collect();
            }
            _ => {}
        }
        if let Some(c) = get("cron_restart").and_then(text) {
            s.notes.push(format!("cron_restart \"{c}\": schedule `backstop restart {name}` with cron or a systemd timer"));
        }
        if get("env_production").is_some() {
            s.notes.push("env_production: only `env` is imported; put the production values in env or an env_file".to_string());
        }
        for key in ["out_file", "error_file", "log_file", "log_date_format"] {
            if get(key).is_some() {
                s.notes.push(format!(
                    "{key}: backstop keeps the output, timestamped, in .backstop/logs/{}.log",
                    s.name
                ));
                break;
            }
        }
        draft.services.push(s);
    }
}
