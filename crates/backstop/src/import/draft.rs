//! What every importer produces: services as backstop would declare them,
//! with the notes on what did not map; and the `backstop.toml` text made
//! from them (a comment per note, next to what it concerns).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One service found in the imported file.
#[derive(Clone, Debug, Default)]
pub(crate) struct DraftService {
    pub(crate) name: String,
    /// Program and arguments; a command line that needs a shell is
    /// `["sh", "-c", LINE]`.
    pub(crate) command: Vec<String>,
    pub(crate) dir: Option<String>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) env_file: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) port: Option<u16>,
    /// `(service, condition)`: `started`, `healthy` or `completed`.
    pub(crate) depends_on: Vec<(String, &'static str)>,
    /// `always`, `on-failure` or `never`.
    pub(crate) restart: Option<&'static str>,
    pub(crate) backoff_initial: Option<String>,
    pub(crate) backoff_factor: Option<f64>,
    pub(crate) max_restarts: Option<u32>,
    pub(crate) window: Option<String>,
    pub(crate) stop_signal: Option<String>,
    pub(crate) stop_timeout: Option<String>,
    /// `group` or `main`.
    pub(crate) stop_mode: Option<&'static str>,
    pub(crate) startup: Option<String>,
    pub(crate) memory_max: Option<String>,
    pub(crate) cpu_max: Option<f64>,
    pub(crate) nofile: Option<u64>,
    pub(crate) instances: Option<u32>,
    pub(crate) disabled: bool,
    pub(crate) watch: Vec<String>,
    pub(crate) pre_start: Option<Vec<String>>,
    pub(crate) post_stop: Option<Vec<String>>,
    pub(crate) checks: Vec<DraftCheck>,
    /// What did not map, said as a comment above the service.
    pub(crate) notes: Vec<String>,
}

/// A health check found in the imported file.
#[derive(Clone, Debug)]
pub(crate) struct DraftCheck {
    /// `exec = [...]`, `http = "..."` or `tcp = "..."`.
    pub(crate) probe: Probe,
    pub(crate) interval: Option<String>,
    pub(crate) timeout: Option<String>,
    pub(crate) failures: Option<u32>,
}

#[derive(Clone, Debug)]
pub(crate) enum Probe {
    Exec(Vec<String>),
}

/// Everything imported from one or more files.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    /// Where it came from, for the header.
    pub(crate) sources: Vec<String>,
    pub(crate) services: Vec<DraftService>,
    /// Notes about the file as a whole.
    pub(crate) notes: Vec<String>,
}

/// Characters that make a command line need a shell.
const SHELL: &[char] = &[
    '$', '|', '&', ';', '<', '>', '*', '?', '`', '(', ')', '~', '{', '}',
];

/// A command line as argv: split like a shell when it is a plain one,
/// else run by `sh -c` (variables, pipes, `&&`, redirections, globs).
pub(crate) fn command_line(line: &str) -> Vec<String> {
    let line = line.trim();
    if !line.contains(SHELL) {
        if let Ok(words) = shell_words::split(line) {
            if !words.is_empty() {
                return words;
            }
        }
    }
    vec!["sh".to_string(), "-c".to_string(), line.to_string()]
}

/// A size written the systemd/PM2 way (`512M`, `1G`, bytes when bare) as
/// backstop reads one (`512MiB`).
pub(crate) fn binary_size(v: &str) -> Option<String> {
    let v = v.trim();
    let (number, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    if number.is_empty() || number.parse::<f64>().is_err() {
        return None;
    }
    Some(match unit.to_ascii_uppercase().as_str() {
        "" => format!("{number}B"),
        "K" | "KB" => format!("{number}KiB"),
        "M" | "MB" => format!("{number}MiB"),
        "G" | "GB" => format!("{number}GiB"),
        _ => return None,
    })
}

/// A service name backstop accepts: letters, digits, `-` and `_`.
pub(crate) fn service_name(raw: &str) -> String {
    let name: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "service".to_string()
    } else {
        name
    }
}

/// A TOML basic string (JSON's escapes are TOML's).
pub(crate) fn string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

fn strings(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| string(s)).collect::<Vec<_>>().join(", ")
    )
}

/// A bare key when TOML allows one, quoted otherwise.
fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        k.to_string()
    } else {
        string(k)
    }
}

fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "# {line}");
    }
}

impl Draft {
    /// The `backstop.toml` text.
    pub(crate) fn to_toml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Imported by `backstop import` from {}.\n# Check it with `backstop validate`, then `backstop up`. Notes marked\n# \"not imported\" name what has no backstop equivalent or needs a decision.",
            self.sources.join(", ")
        );
        for n in &self.notes {
            comment(&mut out, &format!("not imported: {n}"));
        }
        for s in &self.services {
            out.push('\n');
            for n in &s.notes {
                comment(&mut out, &format!("not imported: {n}"));
            }
            let _ = writeln!(out, "[services.{}]", key(&s.name));
            let _ = writeln!(out, "command = {}", strings(&s.command));
            if let Some(d) = &s.dir {
                let _ = writeln!(out, "dir = {}", string(d));
            }
            if !s.env.is_empty() {
                let pairs: Vec<String> = s
                    .env
                    .iter()
                    .map(|(k, v)| format!("{} = {}", key(k), string(v)))
                    .collect();
                let _ = writeln!(out, "env = {{ {} }}", pairs.join(", "));
            }
            if let Some(f) = &s.env_file {
                let _ = writeln!(out, "env_file = {}", string(f));
            }
            if let Some(u) = &s.user {
                let _ = writeln!(out, "user = {}", string(u));
            }
            if let Some(g) = &s.group {
                let _ = writeln!(out, "group = {}", string(g));
            }
            if let Some(p) = s.port {
                let _ = writeln!(out, "port = {p}");
            }
            if let Some(n) = s.instances {
                let _ = writeln!(out, "instances = {n}");
            }
            if s.disabled {
                let _ = writeln!(out, "disabled = true");
            }
            if !s.depends_on.is_empty() {
                let pairs: Vec<String> = s
                    .depends_on
                    .iter()
                    .map(|(d, c)| format!("{} = {}", key(d), string(c)))
                    .collect();
                let _ = writeln!(out, "depends_on = {{ {} }}", pairs.join(", "));
            }
            let mut restart = Vec::new();
            if let Some(p) = s.restart {
                restart.push(format!("policy = {}", string(p)));
            }
            if let Some(b) = &s.backoff_initial {
                restart.push(format!("backoff_initial = {}", string(b)));
            }
            if let Some(f) = s.backoff_factor {
                restart.push(format!("backoff_factor = {f}"));
            }
            if let Some(m) = s.max_restarts {
                restart.push(format!("max_restarts = {m}"));
            }
            if let Some(w) = &s.window {
                restart.push(format!("window = {}", string(w)));
            }
            if !restart.is_empty() {
                let _ = writeln!(out, "restart = {{ {} }}", restart.join(", "));
            }
            let mut stop = Vec::new();
            if let Some(sig) = &s.stop_signal {
                stop.push(format!("signal = {}", string(sig)));
            }
            if let Some(t) = &s.stop_timeout {
                stop.push(format!("timeout = {}", string(t)));
            }
            if let Some(m) = s.stop_mode {
                stop.push(format!("mode = {}", string(m)));
            }
            if !stop.is_empty() {
                let _ = writeln!(out, "stop = {{ {} }}", stop.join(", "));
            }
            if let Some(t) = &s.startup {
                let _ = writeln!(out, "startup = {}", string(t));
            }
            let mut limits = Vec::new();
            if let Some(m) = &s.memory_max {
                limits.push(format!("memory_max = {}", string(m)));
            }
            if let Some(c) = s.cpu_max {
                limits.push(format!("cpu_max = {c}"));
            }
            if let Some(n) = s.nofile {
                limits.push(format!("nofile = {n}"));
            }
            if !limits.is_empty() {
                let _ = writeln!(out, "limits = {{ {} }}", limits.join(", "));
            }
            if !s.watch.is_empty() {
                let _ = writeln!(out, "watch = {}", strings(&s.watch));
            }
            if let Some(c) = &s.pre_start {
                let _ = writeln!(out, "pre_start = {}", strings(c));
            }
            if let Some(c) = &s.post_stop {
                let _ = writeln!(out, "post_stop = {}", strings(c));
            }
            for c in &s.checks {
                let _ = writeln!(out, "\n[[services.{}.health]]", key(&s.name));
                match &c.probe {
                    Probe::Exec(cmd) => {
                        let _ = writeln!(out, "exec = {}", strings(cmd));
                    }
                }
                if let Some(i) = &c.interval {
                    let _ = writeln!(out, "interval = {}", string(i));
                }
                if let Some(t) = &c.timeout {
                    let _ = writeln!(out, "timeout = {}", string(t));
                }
                if let Some(f) = c.failures {
                    let _ = writeln!(out, "failures = {f}");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_split_and_shell_lines_go_to_sh() {
        assert_eq!(
            command_line("python app.py --port 80"),
            ["python", "app.py", "--port", "80"]
        );
        assert_eq!(
            command_line("gunicorn 'app:create()'"),
            ["sh", "-c", "gunicorn 'app:create()'"]
        );
        assert_eq!(
            command_line("bundle exec puma -p $PORT"),
            ["sh", "-c", "bundle exec puma -p $PORT"]
        );
    }

    #[test]
    fn sizes_are_binary_as_systemd_and_pm2_mean_them() {
        assert_eq!(binary_size("512M").as_deref(), Some("512MiB"));
        assert_eq!(binary_size("1G").as_deref(), Some("1GiB"));
        assert_eq!(binary_size("1000").as_deref(), Some("1000B"));
        assert_eq!(binary_size("lots"), None);
    }

    #[test]
    fn names_and_strings_are_valid_toml() {
        assert_eq!(service_name("celery:worker"), "celery-worker");
        assert_eq!(string("a \"b\"\n"), "\"a \\\"b\\\"\\n\"");
        assert_eq!(key("X-Y"), "X-Y");
        assert_eq!(key("a.b"), "\"a.b\"");
    }
}
