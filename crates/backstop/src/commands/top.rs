//! `backstop top`: the services live in the terminal, as `pm2 monit` and
//! `htop` show theirs. It asks the daemon over its socket (the CLI's
//! client) once a second and on every key, and acts with the same
//! requests as `restart`/`stop`/`start`.
//!
//! The terminal is restored on `q`, on an error, on a panic and on SIGTERM.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use backstop_api::{ActionOutcome, Client, Event, Health, ServiceState, StatusReport};
use ratatui::crossterm::event::{self, Event as Input, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{execute, terminal};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState};

use crate::exit::{CmdResult, Code, Exit};

/// How often the table is refreshed without a key press.
const REFRESH: Duration = Duration::from_secs(1);

static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: libc::c_int) {
    TERMINATED.store(true, Ordering::Relaxed);
}

/// What is on screen.
struct View {
    report: Option<StatusReport>,
    events: Vec<Event>,
    /// CPU seconds at the previous refresh, to show CPU %.
    cpu_before: HashMap<String, (f64, Instant)>,
    cpu_percent: HashMap<String, f64>,
    selected: usize,
    /// The last action's outcome, or why the daemon did not answer.
    message: String,
}

pub(crate) fn run(config_path: &Path) -> CmdResult {
    if !std::io::stdout().is_terminal() {
        return Err(Exit::new(
            Code::Usage,
            "`backstop top` draws on a terminal; for scripts, `backstop status --json`",
        ));
    }
    let client = crate::context::client(config_path);
    let runtime = super::runtime();
    // Nothing to show without a daemon: say so before taking the screen.
    runtime
        .block_on(client.get::<StatusReport>("/api/v1/services"))
        .map_err(|e| crate::context::client_error(config_path, e))?;

    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_sigterm as *const () as libc::sighandler_t);
    }
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous_hook(info);
    }));
    terminal::enable_raw_mode().map_err(io_error)?;
    execute!(std::io::stdout(), terminal::EnterAlternateScreen).map_err(io_error)?;
    let result = main_loop(&client, &runtime);
    restore();
    result
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(io_error)`, which hands the error over"
)]
fn io_error(e: std::io::Error) -> Exit {
    Exit::new(Code::Failed, format!("cannot use the terminal: {e}"))
}

/// Leaves the terminal as it was.
fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(std::io::stdout(), terminal::LeaveAlternateScreen);
}

fn main_loop(client: &Client, runtime: &tokio::runtime::Runtime) -> CmdResult {
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    let mut screen = ratatui::Terminal::new(backend).map_err(io_error)?;
    let color = std::env::var_os("NO_COLOR").is_none();
    let mut view = View {
        report: None,
        events: Vec::new(),
        cpu_before: HashMap::new(),
        cpu_percent: HashMap::new(),
        selected: 0,
        message: "↑/↓ or j/k select · r restart · s stop/start · q quit".to_string(),
    };
    let mut next_refresh = Instant::now();
    loop {
        if TERMINATED.load(Ordering::Relaxed) {
            return Ok(());
        }
        if Instant::now() >= next_refresh {
            refresh(client, runtime, &mut view);
            next_refresh = Instant::now() + REFRESH;
        }
        screen
            .draw(|frame| draw(frame, &view, color))
            .map_err(io_error)?;
        let wait = next_refresh.saturating_duration_since(Instant::now());
        if !event::poll(wait.min(Duration::from_millis(250))).map_err(io_error)? {
            continue;
        }
        let Input::Key(key) = event::read().map_err(io_error)? else {
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        let count = view.report.as_ref().map_or(0, |r| r.services.len());
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => return Ok(()),
            KeyCode::Down | KeyCode::Char('j') if count > 0 => {
                view.selected = (view.selected + 1).min(count - 1);
            }
            KeyCode::Up | KeyCode::Char('k') => view.selected = view.selected.saturating_sub(1),
            KeyCode::Char('r') => act(client, runtime, &mut view, "restart"),
            KeyCode::Char('s') => {
                let running = selected(&view).is_some_and(|s| s.state.is_active());
                act(
                    client,
                    runtime,
                    &mut view,
                    if running { "stop" } else { "start" },
                );
            }
            _ => {}
        }
        next_refresh = Instant::now();
    }
}

fn selected(view: &View) -> Option<&backstop_api::ServiceStatus> {
    view.report.as_ref()?.services.get(view.selected)
}

/// Asks the daemon for the services and the newest events.
fn refresh(client: &Client, runtime: &tokio::runtime::Runtime, view: &mut View) {
    let report = runtime.block_on(client.get::<StatusReport>("/api/v1/services"));
    match report {
        Ok(report) => {
            let now = Instant::now();
            for s in &report.services {
                let Some(cpu) = s.cpu_seconds else { continue };
                if let Some((before, at)) = view.cpu_before.get(&s.name) {
                    let elapsed = now.duration_since(*at).as_secs_f64();
                    if elapsed > 0.0 {
                        view.cpu_percent
                            .insert(s.name.clone(), ((cpu - before) / elapsed * 100.0).max(0.0));
                    }
                }
                view.cpu_before.insert(s.name.clone(), (cpu, now));
            }
            view.selected = view.selected.min(report.services.len().saturating_sub(1));
            view.report = Some(report);
        }
        Err(e) => view.message = format!("the daemon does not answer: {e}"),
    }
    if let Ok(events) = runtime.block_on(client.get::<Vec<Event>>("/api/v1/events?limit=8")) {
        view.events = events;
    }
}

fn act(client: &Client, runtime: &tokio::runtime::Runtime, view: &mut View, action: &str) {
    let Some(name) = selected(view).map(|s| s.name.clone()) else {
        return;
    };
    let path = format!("/api/v1/services/{name}/{action}");
    view.message = match runtime.block_on(client.post::<ActionOutcome>(&path)) {
        Ok(o) => format!("{name}: {action} requested ({})", o.state),
        Err(e) => format!("{name}: {action} failed: {e}"),
    };
}

fn state_color(state: ServiceState, health: Health) -> Color {
    match state {
        ServiceState::Failed | ServiceState::CrashLoop | ServiceState::StartupTimeout => Color::Red,
        ServiceState::Backoff | ServiceState::Pending | ServiceState::Starting => Color::Yellow,
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

fn draw(frame: &mut ratatui::Frame<'_>, view: &View, color: bool) {
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
        Constraint::Length(4),
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
        .report
        .as_ref()
        .map(|r| r.services.as_slice())
        .unwrap_or_default()
        .iter()
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
                s.rss_bytes
                    .map_or_else(|| "-".to_string(), |b| format!("{:.1}M", b as f64 / 1e6)),
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

    let detail: Vec<Line<'_>> = selected(view).map_or_else(Vec::new, |s| {
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
        lines
    });
    frame.render_widget(Paragraph::new(detail), detail_area);

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
                e.kind,
                e.message
            ))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(events).block(Block::default().borders(Borders::TOP).title("events")),
        events_area,
    );
    frame.render_widget(Paragraph::new(view.message.as_str()), foot);
}
