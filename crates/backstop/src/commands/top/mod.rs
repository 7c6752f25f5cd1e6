//! `backstop top`: the services live in the terminal, as `pm2 monit` and
//! `htop` show theirs. It asks the daemon over its socket (the CLI's
//! client) once a second and on every key, and acts with the same
//! requests as `restart`/`stop`/`start`/`diagnose`.
//!
//! [`view`] holds what is known, [`draw`] puts it on the screen; this
//! module runs the loop and maps keys to requests. The terminal is restored
//! on `q`, on an error, on a panic and on SIGTERM.

mod draw;
mod view;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use backstop_api::dashboard::LogLine;
use backstop_api::{ActionOutcome, Client, Event, ServiceStatus, StatusReport};
use ratatui::crossterm::event::{
    self, Event as Input, KeyCode, KeyEvent, KeyEventKind, KeyModifiers,
};
use ratatui::crossterm::{execute, terminal};

use crate::exit::{CmdResult, Code, Exit};
use view::{Screen, View};

/// How often the table is refreshed without a key press.
const REFRESH: Duration = Duration::from_secs(1);

static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: libc::c_int) {
    TERMINATED.store(true, Ordering::Relaxed);
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
    let mut view = View::new();
    let mut next_refresh = Instant::now();
    loop {
        if TERMINATED.load(Ordering::Relaxed) {
            return Ok(());
        }
        if Instant::now() >= next_refresh {
            refresh(client, runtime, &mut view);
            next_refresh = Instant::now() + REFRESH;
        }
        view.take_diagnosis();
        screen
            .draw(|frame| draw::draw(frame, &view, color))
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
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return Ok(());
        }
        if on_key(client, runtime, &mut view, key) == Flow::Quit {
            return Ok(());
        }
        next_refresh = Instant::now();
    }
}

#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    Quit,
}

fn on_key(
    client: &Client,
    runtime: &tokio::runtime::Runtime,
    view: &mut View,
    key: KeyEvent,
) -> Flow {
    if view.typing {
        match key.code {
            KeyCode::Enter => view.typing = false,
            KeyCode::Esc => {
                view.typing = false;
                view.filter.clear();
            }
            KeyCode::Backspace => {
                view.filter.pop();
            }
            KeyCode::Char(c) => view.filter.push(c),
            _ => {}
        }
        view.selected = 0;
        return Flow::Go;
    }
    if view.screen != Screen::Table {
        // Every other screen is left with Esc, q, Enter or its own key.
        let back = matches!(key.code, KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter)
            || (view.screen == Screen::Logs && key.code == KeyCode::Char('l'))
            || (view.screen == Screen::Help && key.code == KeyCode::Char('?'));
        if back {
            view.screen = Screen::Table;
        }
        return Flow::Go;
    }
    let count = view.visible().len();
    match key.code {
        KeyCode::Esc if !view.filter.is_empty() => view.filter.clear(),
        KeyCode::Char('q') | KeyCode::Esc => return Flow::Quit,
        KeyCode::Down | KeyCode::Char('j') if count > 0 => {
            view.selected = (view.selected + 1).min(count - 1);
        }
        KeyCode::Up | KeyCode::Char('k') => view.selected = view.selected.saturating_sub(1),
        KeyCode::Home | KeyCode::Char('g') => view.selected = 0,
        KeyCode::End | KeyCode::Char('G') => view.selected = count.saturating_sub(1),
        KeyCode::Char('r') => act(client, runtime, view, "restart"),
        KeyCode::Char('s') => {
            let running = view.selected().is_some_and(|s| s.state.is_active());
            act(
                client,
                runtime,
                view,
                if running { "stop" } else { "start" },
            );
        }
        KeyCode::Enter if count > 0 => view.screen = Screen::Details,
        KeyCode::Char('l') if count > 0 => {
            view.logs.clear();
            view.screen = Screen::Logs;
        }
        KeyCode::Char('d') if count > 0 => diagnose(client, view),
        KeyCode::Char('/') => {
            view.typing = true;
            view.filter.clear();
        }
        KeyCode::Char('?') => view.screen = Screen::Help,
        _ => {}
    }
    Flow::Go
}

/// Asks the daemon for the services and the newest events, and for what
/// the open screen shows (the selected service's details or log lines).
fn refresh(client: &Client, runtime: &tokio::runtime::Runtime, view: &mut View) {
    match runtime.block_on(client.get::<StatusReport>("/api/v1/services")) {
        Ok(report) => view.take_report(report),
        Err(e) => view.message = format!("the daemon does not answer: {e}"),
    }
    if let Ok(events) = runtime.block_on(client.get::<Vec<Event>>("/api/v1/events?limit=8")) {
        view.events = events;
    }
    let Some(name) = view.selected().map(|s| s.name.clone()) else {
        return;
    };
    match view.screen {
        Screen::Details => {
            view.details = runtime
                .block_on(client.get::<ServiceStatus>(&format!("/api/v1/services/{name}")))
                .ok();
        }
        Screen::Logs => {
            let path = format!("/api/v1/services/{name}/logs?lines={}", view::LOG_LINES);
            match runtime.block_on(client.get::<Vec<LogLine>>(&path)) {
                Ok(lines) => view.logs = lines,
                Err(e) => view.message = format!("cannot read {name}'s log: {e}"),
            }
        }
        _ => {}
    }
}

fn act(client: &Client, runtime: &tokio::runtime::Runtime, view: &mut View, action: &str) {
    let Some(name) = view.selected().map(|s| s.name.clone()) else {
        return;
    };
    let path = format!("/api/v1/services/{name}/{action}");
    view.message = match runtime.block_on(client.post::<ActionOutcome>(&path)) {
        Ok(o) => format!("{name}: {action} requested ({})", o.state),
        Err(e) => format!("{name}: {action} failed: {e}"),
    };
}

/// Starts a diagnosis of the selected service on a thread of its own (it
/// takes seconds: the screen goes on refreshing meanwhile).
fn diagnose(client: &Client, view: &mut View) {
    let Some(name) = view.selected().map(|s| s.name.clone()) else {
        return;
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let client = client.clone();
    let path = format!("/api/v1/services/{name}/diagnose");
    std::thread::spawn(move || {
        let answer = crate::commands::runtime()
            .block_on(client.post::<serde_json::Value>(&path))
            .map_err(|e| e.to_string());
        let _ = tx.send(answer);
    });
    view.diagnosis = view::Diagnosis::Running { service: name, rx };
    view.screen = Screen::Diagnosis;
}
