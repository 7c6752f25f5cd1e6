//! A supervisord config: each `[program:NAME]` becomes a service.
//!
//! | supervisord | backstop |
//! |---|---|
//! | `command`, `directory`, `user` | `command`, `dir`, `user` |
//! | `environment=A="1",B="2"` | `env` |
//! | `autostart=false` | `disabled = true` |
//! | `autorestart=true` / `false` / `unexpected` | `restart` `always` / `never` / `on-failure` |
//! | `startretries` | `max_restarts` |
//! | `startsecs` | `startup` |
//! | `stopsignal`, `stopwaitsecs` | `stop.signal`, `stop.timeout` |
//! | `stopasgroup`/`killasgroup` false | `stop.mode = "main"` (backstop signals the group by default) |
//! | `numprocs` | `instances` (`%(process_num)d` → `${BACKSTOP_INSTANCE}`) |
//! | `%(program_name)s`, `%(here)s`, `%(ENV_X)s` | filled in, `${X}` |
//!
//! Log file settings are notes (backstop keeps each service's output in
//! its own rotated files), as are `priority` (say the order with
//! `depends_on`), event listeners and groups.

use std::path::Path;

use super::draft::{Draft, DraftService, command_line, service_name};
use super::ini;

/// `%(name)s`-style expansions supervisord knows.
fn expand(value: &str, program: &str, here: &Path) -> String {
    let mut out = value
        .replace("%(program_name)s", program)
        .replace("%(here)s", &here.display().to_string())
        .replace("%(process_num)d", "${BACKSTOP_INSTANCE}")
        .replace("%(process_num)02d", "${BACKSTOP_INSTANCE}")
        .replace("%(process_num)s", "${BACKSTOP_INSTANCE}");
    while let Some(start) = out.find("%(ENV_") {
        let Some(end) = out[start..].find(")s") else {
            break;
        };
        let var = out[start + 6..start + end].to_string();
        out.replace_range(start..start + end + 2, &format!("${{{var}}}"));
    }
    out
}

/// `A="1",B='2',C=3` as pairs.
fn environment(value: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let after = after.trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
        let (val, tail) = if let Some(q) = quote {
            let body = &after[1..];
            let end = body.find(q).unwrap_or(body.len());
            (body[..end].to_string(), body.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        pairs.push((key.trim().trim_start_matches(',').trim().to_string(), val));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    pairs
}

fn truthy(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

pub(crate) fn import(text: &str, here: &Path, draft: &mut Draft) {
    for section in ini::parse(text) {
        let Some(program) = section.name.strip_prefix("program:") else {
            match section.name.split(':').next().unwrap_or("") {
                "supervisord" | "supervisorctl" | "unix_http_server" | "inet_http_server"
                | "rpcinterface" | "include" => {}
                other => draft.notes.push(format!(
                    "[{}]: {} sections have no backstop equivalent",
                    section.name, other
                )),
            }
            continue;
        };
        let program = program.trim();
        let ex = |v: &str| expand(v, program, here);
        let Some(command) = section.get("command") else {
            draft
                .notes
                .push(format!("[program:{program}] has no command"));
            continue;
        };
        let mut s = DraftService {
            name: service_name(program),
            command: command_line(&ex(command)),
            ..DraftService::default()
        };
        s.dir = section.get("directory").map(ex);
        s.user = section.get("user").map(ex);
        for (k, v) in section
            .get("environment")
            .map(environment)
            .unwrap_or_default()
        {
            s.env.insert(k, ex(&v));
        }
        if section.get("autostart").and_then(truthy) == Some(false) {
            s.disabled = true;
        }
        s.restart = match section
            .get("autorestart")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            Some(v) if v == "unexpected" => Some("on-failure"),
            Some(v) => match truthy(&v) {
                Some(true) => Some("always"),
                Some(false) => Some("never"),
                None => None,
            },
            // supervisord's default is `unexpected`.
            None => Some("on-failure"),
        };
        if let Some(n) = section
            .get("startretries")
            .and_then(|v| v.trim().parse().ok())
        {
            s.max_restarts = Some(n);
        }
        if let Some(n) = section
            .get("startsecs")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            if n > 0 {
                s.startup = Some(format!("{n}s"));
            }
        }
        if let Some(sig) = section.get("stopsignal") {
            s.stop_signal = Some(sig.trim().trim_start_matches("SIG").to_ascii_uppercase());
        }
        if let Some(n) = section
            .get("stopwaitsecs")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            s.stop_timeout = Some(format!("{n}s"));
        }
        let as_group = section.get("stopasgroup").and_then(truthy);
        let kill_group = section.get("killasgroup").and_then(truthy);
        if as_group == Some(false) && kill_group != Some(true) {
            s.notes.push("stopasgroup is false: backstop stops only the main process first, then kills what is left after it exits (mode = \"main\")".to_string());
            s.stop_mode = Some("main");
        }
        if let Some(n) = section
            .get("numprocs")
            .and_then(|v| v.trim().parse::<u32>().ok())
        {
            if n > 1 {
                s.instances = Some(n);
            }
        }
        if s.instances.is_none() {
            // Without numprocs, supervisord's process_num is 0.
            let zero = |v: &str| v.replace("${BACKSTOP_INSTANCE}", "0");
            s.command = s.command.iter().map(|a| zero(a)).collect();
            for v in s.env.values_mut() {
                *v = zero(v);
            }
        }
        for key in [
            "stdout_logfile",
            "stderr_logfile",
            "stdout_logfile_maxbytes",
            "stdout_logfile_backups",
            "logfile",
        ] {
            if section.get(key).is_some() {
                s.notes.push(format!(
                    "{key}: backstop keeps the output in .backstop/logs/{}.log, rotated ([logs] max_size, keep)",
                    s.name
                ));
                break;
            }
        }
        if let Some(p) = section.get("priority") {
            s.notes.push(format!(
                "priority={}: say the start order with depends_on = {{ OTHER = \"started\" }}",
                p.trim()
            ));
        }
        if let Some(u) = section.get("umask") {
            s.notes.push(format!(
                "umask={}: set it in the command (`sh -c 'umask {u}; exec …'`)",
                u.trim()
            ));
        }
        draft.services.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_lists_keep_quoted_commas() {
        assert_eq!(
            environment(r#"A="1,2",B='x',C=3"#),
            [
                ("A".into(), "1,2".into()),
                ("B".into(), "x".into()),
                ("C".into(), "3".into())
            ]
        );
    }

    #[test]
    fn expansions_become_values_or_variables() {
        let here = Path::new("/etc/supervisor");
        assert_eq!(
            expand(
                "%(here)s/%(program_name)s-%(process_num)02d %(ENV_HOME)s",
                "web",
                here
            ),
            "/etc/supervisor/web-${BACKSTOP_INSTANCE} ${HOME}"
        );
    }
}
