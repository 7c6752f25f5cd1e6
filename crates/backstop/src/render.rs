//! Human output: the status table and its units.

use std::fmt::Write;

use backstop_api::{Health, ServiceState, ServiceStatus};

/// `45s`, `3m12s`, `2h05m`, `3d04h`.
pub(crate) fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86400, secs % 86400 / 3600),
    }
}

/// `812 kB`, `24.1 MB`, `1.2 GB` (powers of 10, like `ps` users expect from `free -h`... close enough).
pub(crate) fn bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1e6 {
        format!("{:.0} kB", n / 1e3)
    } else if n < 1e9 {
        format!("{:.1} MB", n / 1e6)
    } else {
        format!("{:.2} GB", n / 1e9)
    }
}

fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn state_color(state: ServiceState) -> &'static str {
    match state {
        ServiceState::Running | ServiceState::Exited => "32",
        ServiceState::Pending
        | ServiceState::Starting
        | ServiceState::Stopping
        | ServiceState::Backoff => "33",
        ServiceState::CrashLoop | ServiceState::Failed | ServiceState::StartupTimeout => "31",
        ServiceState::Stopped => "2",
    }
}

fn health_color(health: Health) -> &'static str {
    match health {
        Health::Healthy => "32",
        Health::Degraded => "33",
        Health::Unhealthy => "31",
        Health::Unknown => "2",
    }
}

/// The status table, one row per service and an indented line for details.
pub(crate) fn status_table(services: &[ServiceStatus], color: bool) -> String {
    let headers = [
        "NAME",
        "STATE",
        "HEALTH",
        "PID",
        "UPTIME",
        "RESTARTS",
        "LAST EXIT",
        "RSS",
        "ERR/MIN",
    ];
    let rows: Vec<[String; 9]> = services
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                s.state.as_str().to_string(),
                s.health.as_str().to_string(),
                s.pid.map_or_else(|| "-".to_string(), |p| p.to_string()),
                s.uptime_s.map_or_else(|| "-".to_string(), duration),
                s.restarts.to_string(),
                s.last_exit
                    .as_ref()
                    .map_or_else(|| "-".to_string(), backstop_api::ExitInfo::describe),
                s.rss_bytes
                    .filter(|b| *b > 0)
                    .map_or_else(|| "-".to_string(), bytes),
                s.output.errors_last_minute.to_string(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers
        .iter()
        .zip(widths)
        .map(|(h, w)| format!("{h:<w$}"))
        .collect();
    let _ = writeln!(out, "{}", paint(header.join("  ").trim_end(), "1", color));
    for (row, s) in rows.iter().zip(services) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                let padded = format!("{cell:<w$}");
                match i {
                    1 => paint(&padded, state_color(s.state), color),
                    2 => paint(&padded, health_color(s.health), color),
                    8 if s.output.errors_last_minute > 0 => paint(&padded, "31", color),
                    _ => padded,
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        if let Some(detail) = &s.detail {
            let _ = writeln!(out, "  {} {}", paint("↳", "2", color), detail);
        }
        if let Some(verdict) = &s.diagnosis {
            let _ = writeln!(
                out,
                "  {} diagnosis: {verdict}; `backstop diagnose {}` for more",
                paint("↳", "2", color),
                s.name
            );
        }
        if let Some(doing) = &s.fixing {
            let _ = writeln!(out, "  {} fixing: {doing}", paint("↳", "2", color));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(192), "3m12s");
        assert_eq!(duration(7500), "2h05m");
        assert_eq!(duration(90000), "1d01h");
        assert_eq!(bytes(812_000), "812 kB");
        assert_eq!(bytes(24_100_000), "24.1 MB");
    }

    #[test]
    fn table_aligns_and_shows_details() {
        let s = ServiceStatus {
            name: "api".into(),
            state: ServiceState::Backoff,
            health: Health::Unknown,
            pid: None,
            uptime_s: None,
            restarts: 2,
            last_exit: Some(backstop_api::ExitInfo {
                code: Some(1),
                signal: None,
                at: String::new(),
                uptime_s: 0.1,
                oom_kill: None,
            }),
            rss_bytes: None,
            detail: Some("restarting in 2.0s".into()),
            restart_in_s: Some(2.0),
            exits: vec![],
            checks: vec![],
            exit_counts: std::collections::BTreeMap::new(),
            cpu_seconds: None,
            cpu_percent: None,
            diagnosis: None,
            fixing: None,
            disabled: false,
            output: backstop_api::OutputStats {
                errors_last_minute: 3,
                ..Default::default()
            },
        };
        let table = status_table(&[s], false);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "NAME  STATE    HEALTH   PID  UPTIME  RESTARTS  LAST EXIT  RSS  ERR/MIN"
        );
        assert_eq!(
            lines[1],
            "api   backoff  unknown  -    -       2         code 1     -    3"
        );
        assert_eq!(lines[2], "  ↳ restarting in 2.0s");
    }
}
