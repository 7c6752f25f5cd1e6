//! `top`'s screens: the table with the selected service and the events,
//! and the full-screen details, log, diagnosis and help. Everything fits
//! 80×24; colour only adds to words (`NO_COLOR` loses nothing).

use backstop_api::{Health, ServiceState, ServiceStatus};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Sparkline, Table, TableState, Wrap};

use super::view::{Diagnosis, Screen, View};

/// The keys, for the help screen.
const KEYS: &[(&str, &str)] = &[
    ("↑ ↓  j k", "select a service (g/G: first/last)"),
    ("Enter", "details: exits, checks, output, diagnosis"),
    ("r", "restart the selected service"),
    ("s", "stop it, or start it when it is not running"),
    ("d", "diagnose it now: the cause with its evidence"),
    ("l", "its log, followed"),
    ("/", "filter by name (Enter keeps it, Esc clears it)"),
    ("?", "this help"),
    ("q  Esc", "back, or quit"),
];

pub(super) fn draw(frame: &mut ratatui::Frame<'_>, view: &View, color: bool) {
    let area = frame.area();
    match view.screen {
        Screen::Table => table_screen(frame, view, color),
        Screen::Details => full(frame, area, "details (Esc: back)", details(view)),
        Screen::Logs => logs(frame, area, view, color),
        Screen::Diagnosis => full(frame, area, "diagnosis (Esc: back)", diagnosis(view)),
        Screen::Help => {
            let mut lines: Vec<Line<'_>> = KEYS
                .iter()
                .map(|(k, what)| Line::from(format!("  {k:<10} {what}")))
                .collect();
            lines.push(Line::from(""));
            lines.push(Line::from(
                "  Refreshed once a second and after every key; the same requests as the CLI.",
            ));
            full(frame, area, "backstop top: keys (Esc: back)", lines);
        }
    }
}

fn full(frame: &mut ratatui::Frame<'_>, area: Rect, title: &str, lines: Vec<Line<'_>>) {
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::TOP)
                .title(title.to_string()),
        ),
        area,
    );
}

fn state_color(state: ServiceState, health: Health) -> Color {
    match state {
        // Down after a fault (waiting to be restarted included): red.
        ServiceState::Failed
        | ServiceState::CrashLoop
        | ServiceState::StartupTimeout
        | ServiceState::Backoff => Color::Red,
        ServiceState::Pending | ServiceState::Starting => Color::Yellow,
        ServiceState::Running => match health {
            Health::Unhealthy => Color::Red,
            Health::Degraded => Color::Yellow,
            _ => Color::Green,
        },
        _ => Color::Gray,
    }
}

fn uptime(s: Option<u64>) -> String {
    s.map_or_else(
        || "-".to_string(),
        |s| match s {
            0..60 => format!("{s}s"),
            60..3600 => format!("{}m", s / 60),
            3600..86_400 => format!("{}h", s / 3600),
            _ => format!("{}d", s / 86_400),
        },
    )
}

#[allow(clippy::cast_precision_loss, reason = "a figure for the eye")]
fn megabytes(bytes: u64) -> String {
    format!("{:.1}M", bytes as f64 / 1e6)
}

fn table_screen(frame: &mut ratatui::Frame<'_>, view: &View, color: bool) {
    let paint = |c: Color| {
        if color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    };
    let [head, table_area, detail_area, events_area, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let title = view.report.as_ref().map_or_else(
        || "backstop top: waiting for the daemon".to_string(),
        |r| {
            format!(
                "backstop top · {} · {} services · {}",
                r.daemon.config,
                r.services.len(),
                r.daemon.tracking
            )
        },
    );
    frame.render_widget(Paragraph::new(title), head);

    let rows: Vec<Row<'_>> = view
        .visible()
        .into_iter()
        .map(|s| {
            Row::new(vec![
                s.name.clone(),
                s.state.to_string(),
                s.health.as_str().to_string(),
                s.pid.map_or_else(|| "-".to_string(), |p| p.to_string()),
                uptime(s.uptime_s),
                s.restarts.to_string(),
                view.cpu_percent
                    .get(&s.name)
                    .map_or_else(|| "-".to_string(), |c| format!("{c:.0}%")),
                s.rss_bytes.map_or_else(|| "-".to_string(), megabytes),
                s.output.errors_last_minute.to_string(),
            ])
            .style(paint(state_color(s.state, s.health)))
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Min(10),
            Constraint::Length(15),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(7),
        ],
    )
    .header(
        Row::new([
            "NAME", "STATE", "HEALTH", "PID", "UP", "RESTARTS", "CPU", "RSS", "ERR/MIN",
        ])
        .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .block(Block::default().borders(Borders::TOP | Borders::BOTTOM));
    let mut state = TableState::default().with_selected(Some(view.selected));
    frame.render_stateful_widget(table, table_area, &mut state);

    if let Some(s) = view.selected() {
        selected_service(frame, detail_area, view, s, &paint);
    }

    let events: Vec<Line<'_>> = view
        .events
        .iter()
        .rev()
        .take(usize::from(events_area.height.saturating_sub(1)))
        .map(|e| {
            let at = backstop_api::rfc3339::format(e.at);
            Line::from(format!(
                "{} {:<16} {}",
                at.get(11..19).unwrap_or(&at),
                e.kind.to_string(),
                e.message
            ))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(events).block(Block::default().borders(Borders::TOP).title("events")),
        events_area,
    );
    let foot_text = if view.typing {
        format!("filter: {}▏ (Enter keeps it, Esc clears it)", view.filter)
    } else if view.filter.is_empty() {
        view.message.clone()
    } else {
        format!("filter \"{}\" (Esc clears) · {}", view.filter, view.message)
    };
    frame.render_widget(Paragraph::new(foot_text), foot);
}

/// The selected service: its state, checks and diagnosis on the left,
/// sparklines of its memory and CPU over the last minutes on the right.
fn selected_service(
    frame: &mut ratatui::Frame<'_>,
    area: Rect,
    view: &View,
    s: &ServiceStatus,
    paint: &dyn Fn(Color) -> Style,
) {
    let [text_area, rss_area, cpu_area] = Layout::horizontal([
        Constraint::Min(30),
        Constraint::Length(22),
        Constraint::Length(22),
    ])
    .areas(area);
    let mut lines = vec![Line::from(format!(
        "{}: {}{}",
        s.name,
        s.state,
        s.detail
            .as_deref()
            .map_or_else(String::new, |d| format!(" ({d})"))
    ))];
    lines.extend(s.checks.iter().map(|c| {
        Line::from(format!(
            "  check {}: {}{}",
            c.name,
            c.state,
            c.detail
                .as_deref()
                .map_or_else(String::new, |d| format!(": {d}"))
        ))
    }));
    if let Some(d) = &s.diagnosis {
        lines.push(Line::from(format!("  diagnosis: {d}")));
    }
    frame.render_widget(Paragraph::new(lines), text_area);
    let Some(trend) = view.trends.get(&s.name) else {
        return;
    };
    let width = usize::from(rss_area.width);
    let tail = |v: &std::collections::VecDeque<u64>| -> Vec<u64> {
        v.iter()
            .skip(v.len().saturating_sub(width))
            .copied()
            .collect()
    };
    let rss = tail(&trend.rss_kb);
    let cpu = tail(&trend.cpu_permille);
    let rss_title = format!("RSS {}", megabytes(rss.last().copied().unwrap_or(0) * 1024));
    #[allow(clippy::cast_precision_loss, reason = "a figure for the eye")]
    let cpu_title = format!("CPU {:.0}%", cpu.last().copied().unwrap_or(0) as f64 / 10.0);
    frame.render_widget(
        Sparkline::default()
            .data(&rss)
            .style(paint(Color::Cyan))
            .block(Block::default().borders(Borders::LEFT).title(rss_title)),
        rss_area,
    );
    frame.render_widget(
        Sparkline::default()
            .data(&cpu)
            .max(cpu.iter().copied().max().unwrap_or(0).max(100))
            .style(paint(Color::Magenta))
            .block(Block::default().borders(Borders::LEFT).title(cpu_title)),
        cpu_area,
    );
}

fn details(view: &View) -> Vec<Line<'static>> {
    let Some(s) = view.details.as_ref().or_else(|| view.selected()) else {
        return vec![Line::from("no service selected")];
    };
    let mut lines = vec![
        Line::from(format!(
            "{}  {}  health {}",
            s.name,
            s.state,
            s.health.as_str()
        )),
        Line::from(format!(
            "pid {}  up {}  restarts {}  RSS {}  CPU {}",
            s.pid.map_or_else(|| "-".to_string(), |p| p.to_string()),
            uptime(s.uptime_s),
            s.restarts,
            s.rss_bytes.map_or_else(|| "-".to_string(), megabytes),
            view.cpu_percent
                .get(&s.name)
                .map_or_else(|| "-".to_string(), |c| format!("{c:.1}%")),
        )),
    ];
    if let Some(d) = &s.detail {
        lines.push(Line::from(format!("detail: {d}")));
    }
    if let Some(d) = &s.diagnosis {
        lines.push(Line::from(format!("diagnosis: {d}")));
    }
    if let Some(f) = &s.fixing {
        lines.push(Line::from(format!("fixing: {f}")));
    }
    lines.push(Line::from(format!(
        "output: {} lines, {} errors, {} in the last minute",
        s.output.lines, s.output.errors, s.output.errors_last_minute
    )));
    if let Some(e) = &s.output.last_error {
        lines.push(Line::from(format!("last error ({}): {}", e.at, e.line)));
    }
    lines.push(Line::from(""));
    lines.push(Line::from("checks:"));
    if s.checks.is_empty() {
        lines.push(Line::from("  none"));
    }
    for c in &s.checks {
        lines.push(Line::from(format!(
            "  {} ({}): {}, {} failures in a row{}{}",
            c.name,
            c.kind,
            c.state,
            c.fails_in_a_row,
            c.latency_ms
                .map_or_else(String::new, |ms| format!(", {ms} ms")),
            c.detail
                .as_deref()
                .map_or_else(String::new, |d| format!(": {d}"))
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from("exits (newest last):"));
    if s.exits.is_empty() {
        lines.push(Line::from("  none"));
    }
    for e in &s.exits {
        let how = e
            .signal
            .clone()
            .or_else(|| e.code.map(|c| format!("code {c}")))
            .unwrap_or_default();
        lines.push(Line::from(format!(
            "  {}  {how} after {:.1}s{}",
            e.at,
            e.uptime_s,
            e.oom_kill
                .as_deref()
                .map_or_else(String::new, |o| format!(" ({o})"))
        )));
    }
    lines
}

fn logs(frame: &mut ratatui::Frame<'_>, area: Rect, view: &View, color: bool) {
    let name = view.selected().map_or("", |s| s.name.as_str());
    let height = usize::from(area.height.saturating_sub(1));
    let lines: Vec<Line<'_>> = view
        .logs
        .iter()
        .skip(view.logs.len().saturating_sub(height))
        .map(|l| {
            let at = l.at.as_deref().and_then(|a| a.get(11..23)).unwrap_or("");
            let line = Line::from(format!("{at} {}", l.line));
            if color && l.stream == "stderr" {
                line.style(Style::default().fg(Color::Red))
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::TOP)
                .title(format!("{name}: log, followed (Esc: back)")),
        ),
        area,
    );
}

fn diagnosis(view: &View) -> Vec<Line<'static>> {
    match &view.diagnosis {
        Diagnosis::None => vec![Line::from("no diagnosis asked for: press d on a service")],
        Diagnosis::Running { service, .. } => vec![Line::from(format!(
            "diagnosing {service}… (collecting the bundle; up to a minute)"
        ))],
        Diagnosis::Done {
            service,
            answer: Err(e),
        } => vec![Line::from(format!(
            "the diagnosis of {service} failed: {e}"
        ))],
        Diagnosis::Done {
            service,
            answer: Ok(d),
        } => diagnosis_lines(service, d),
    }
}

/// The document of `diagnose --json` as lines: each cause, its evidence,
/// its fix, then the bundle.
fn diagnosis_lines(service: &str, d: &serde_json::Value) -> Vec<Line<'static>> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut lines = Vec::new();
    if d["healthy"].as_bool() == Some(true) {
        lines.push(Line::from(format!("{service} is healthy now")));
    }
    for c in d["causes"].as_array().into_iter().flatten() {
        #[allow(clippy::cast_possible_truncation, reason = "a percentage")]
        let confidence = (c["confidence"].as_f64().unwrap_or(0.0) * 100.0).round() as i64;
        lines.push(Line::from(format!(
            "{service}: {}: {} ({confidence}%)",
            text(&c["id"]),
            text(&c["summary"])
        )));
        for e in c["evidence"].as_array().into_iter().flatten() {
            let place = match e["line"].as_u64() {
                Some(n) => format!("{}:{n}", text(&e["source"])),
                None => text(&e["source"]),
            };
            lines.push(Line::from(format!("  {place:<22} {}", text(&e["text"]))));
        }
        if let Some(p) = c["remedy"]["playbook"].as_str() {
            lines.push(Line::from(format!("  fix: backstop fix {service} {p}")));
        }
        if let Some(m) = c["remedy"]["manual"].as_str() {
            lines.push(Line::from(format!("  fix: {m}")));
        }
    }
    if let Some(b) = d["bundle"].as_str() {
        lines.push(Line::from(format!("bundle: {b}")));
    }
    lines
}
