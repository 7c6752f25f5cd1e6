//! The two files written from what was found rather than collected:
//! `01-summary.md` (the verdict first) and `12-config.txt` (the resolved
//! service definition, secrets masked).

use std::time::SystemTime;

use backstop_config::ServiceConfig;
use backstop_diagnose::{Cause, Report};

use super::bundle::{Bundle, FILES, Part};
use super::history::View;

/// `01-summary.md`: the verdict, each cause with its evidence and fix, then
/// what the other files hold.
pub(crate) fn summary(
    b: &mut Bundle,
    report: &Report,
    view: &View,
    earlier: &[Cause],
    now: SystemTime,
) {
    let p = Part::Summary;
    b.line(p, format!("# {}", report.verdict()));
    b.line(p, "");
    b.line(
        p,
        format!(
            "Diagnosed {} by backstop {}. State: {}, health: {}{}.",
            humantime::format_rfc3339_seconds(now),
            env!("CARGO_PKG_VERSION"),
            report.state,
            report.health,
            if view.live.is_some() {
                ""
            } else {
                " (no daemon running: last recorded state)"
            }
        ),
    );
    for (n, c) in report.causes.iter().enumerate() {
        b.line(p, "");
        let title = if n == 0 {
            "Root cause"
        } else {
            "Also possible"
        };
        b.line(
            p,
            format!("## {title}: `{}` (confidence {:.2})", c.id, c.confidence),
        );
        b.line(p, "");
        b.line(p, c.summary.clone());
        b.line(p, "");
        b.line(p, "Evidence:");
        for e in &c.evidence {
            b.line(p, format!("- `{}`: {}", e.place(), e.text));
        }
        b.line(p, "");
        if let Some(playbook) = &c.remedy.playbook {
            b.line(
                p,
                format!("Fix: `backstop fix {} {playbook}`", report.service),
            );
        }
        if let Some(manual) = &c.remedy.manual {
            b.line(p, format!("Fix by hand: {manual}"));
        }
    }
    if !b.warnings.is_empty() {
        b.line(p, "");
        b.line(p, "## Warnings");
        for w in b.warnings.clone() {
            b.line(p, format!("- {w}"));
        }
    }
    if !earlier.is_empty() {
        b.line(p, "");
        b.line(
            p,
            "It is healthy now. Earlier trouble its logs and events still show:",
        );
        for c in earlier {
            b.line(p, format!("- `{}`: {}", c.id, c.summary));
        }
    }
    b.line(p, "");
    b.line(p, "## Files");
    for name in &FILES[1..] {
        b.line(p, format!("- {name}"));
    }
}

/// `12-config.txt`: the service as backstop resolved it.
pub(crate) fn config(b: &mut Bundle, s: &ServiceConfig) {
    let p = Part::Config;
    b.line(p, format!("[services.{}]", s.name));
    b.line(p, format!("command = {:?}", s.command));
    b.line(p, format!("dir = {:?}", s.dir.display().to_string()));
    if let Some(f) = &s.env_file {
        b.line(p, format!("env_file = {:?}", f.display().to_string()));
    }
    if !s.env.0.is_empty() {
        let shown: Vec<String> = s
            .env
            .0
            .iter()
            .map(|(k, v)| format!("{k} = {:?}", b.redactor.show_value(k, v, false)))
            .collect();
        b.line(p, format!("env = {{ {} }}", shown.join(", ")));
    }
    if let Some(u) = &s.user {
        b.line(p, format!("user = {u:?}"));
    }
    if let Some(g) = &s.group {
        b.line(p, format!("group = {g:?}"));
    }
    if let Some(port) = s.port {
        b.line(p, format!("port = {port}"));
    }
    if let Some(d) = s.startup {
        b.line(
            p,
            format!("startup = \"{}\"", humantime::format_duration(d)),
        );
    }
    if !s.depends_on.is_empty() {
        let deps: Vec<String> = s
            .depends_on
            .iter()
            .map(|d| format!("{} = {:?}", d.service, d.condition.as_str()))
            .collect();
        b.line(p, format!("depends_on = {{ {} }}", deps.join(", ")));
    }
    let r = &s.restart;
    b.line(
        p,
        format!(
            "restart = {{ policy = {:?}, max_restarts = {}, window = \"{}\", backoff_initial = \"{}\", backoff_max = \"{}\" }}",
            r.policy.as_str(),
            r.max_restarts,
            humantime::format_duration(r.window),
            humantime::format_duration(r.backoff_initial),
            humantime::format_duration(r.backoff_max)
        ),
    );
    b.line(
        p,
        format!(
            "stop = {{ signal = {:?}, timeout = \"{}\", mode = {:?} }}",
            s.stop.signal.name,
            humantime::format_duration(s.stop.timeout),
            s.stop.mode.as_str()
        ),
    );
    if !s.preflight.is_empty() {
        b.line(p, format!("preflight = {:?}", s.preflight));
    }
    for h in &s.health {
        b.line(p, "");
        b.line(p, format!("[[services.{}.health]]  # {}", s.name, h.name));
        b.line(p, format!("{} = {:?}", h.probe.kind(), h.probe.target()));
        b.line(
            p,
            format!(
                "interval = \"{}\", timeout = \"{}\", failures = {}, on_failure = {:?}",
                humantime::format_duration(h.interval),
                humantime::format_duration(h.timeout),
                h.failures,
                h.on_failure.as_str()
            ),
        );
    }
}
