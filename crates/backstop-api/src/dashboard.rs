//! The web dashboard: one page embedded in the binary (`assets/`, no CDN,
//! nothing fetched at run time), fed live by `GET /api/v1/stream`
//! (server-sent events) and acting through the same POST routes as the CLI.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | the page (`dashboard.css` and `dashboard.js` beside it) |
//! | `GET /api/v1/stream` | `text/event-stream`: `hello`, then `status` every second, `usage` every 10 s, each `event` as it happens |
//! | `GET /api/v1/services/{name}/logs?lines=N` | the last N log lines (default 100, at most 1,000), redacted |
//!
//! Over TCP the stream is open, but what it carries depends on the token,
//! as for `/health`: without it, states, health, restarts, memory and CPU
//! (what `/metrics` shows anyway) and the reason the page is read-only;
//! with it, everything the unix socket shows. Actions need the token, sent
//! as `Authorization: Bearer`, which a page from another origin cannot add
//! without a CORS preflight that backstop never answers.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::server::{Access, AppState, TokenState};
use crate::{Event, StatusReport};

const PAGE: &str = include_str!("../assets/dashboard.html");
const STYLE: &str = include_str!("../assets/dashboard.css");
const SCRIPT: &str = include_str!("../assets/dashboard.js");

/// How often the stream sends the status.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// How long after an event the status is sent (events come in bursts).
const EVENT_SETTLE: Duration = Duration::from_millis(50);

/// Events sent when a page connects (the newest ones).
const RECENT_EVENTS: usize = 50;

/// One log line as the dashboard shows it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogLine {
    /// When it was written (RFC 3339); absent for a raw-format log.
    pub at: Option<String>,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The text, redacted.
    pub line: String,
}

/// Why a service's logs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogQueryError {
    /// No such service in the config.
    #[error("no service named `{0}`")]
    NoSuchService(String),
    /// The files cannot be read.
    #[error("the logs cannot be read: {0}")]
    Unreadable(String),
}

/// Reads the last lines of a service's log (the daemon knows where they are).
pub type LogSource =
    std::sync::Arc<dyn Fn(&str, usize) -> Result<Vec<LogLine>, LogQueryError> + Send + Sync>;

/// `?lines=N` for the log tail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogTail {
    /// How many lines, newest last (default 100, at most 1,000).
    pub lines: Option<usize>,
}

/// The dashboard's address for a person: a wildcard listen address is
/// shown as loopback (it answers there too).
pub fn url(listen: std::net::SocketAddr) -> String {
    let mut shown = listen;
    if listen.ip().is_unspecified() {
        shown.set_ip(if listen.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{shown}/")
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    // Nothing but this origin: no inline script, no third party, no framing.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The page.
pub(crate) async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

/// Its style sheet.
pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// Its script.
pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// What the page is told first.
#[derive(Serialize)]
struct Hello {
    /// `full` or `public`.
    access: &'static str,
    /// Why the page is read-only, when it is.
    read_only: Option<String>,
    /// Every service's memory and CPU samples over the last hour.
    usage: std::collections::BTreeMap<String, Vec<crate::usage::Sample>>,
    /// The newest events, oldest first (only with full access).
    events: Vec<Event>,
}

/// The status as the stream sends it: the overall health word beside it.
#[derive(Serialize)]
struct Live<'a> {
    overall: crate::Health,
    #[serde(flatten)]
    report: &'a StatusReport,
}

fn read_only_reason(access: Access, token: Option<TokenState>) -> Option<String> {
    if access == Access::Full {
        return None;
    }
    Some(match token {
        Some(TokenState { configured: false, .. }) => "read-only: no API token is configured, so this page can show states, health and usage but cannot act; set `token_file` or `token_env` in `[daemon]` and restart backstop".to_string(),
        Some(TokenState { offered: true, .. }) => "read-only: the token was not accepted (it must be the content of `[daemon] token_file` or `token_env`)".to_string(),
        _ => "read-only: enter the API token to see events, logs and diagnoses and to restart or stop services".to_string(),
    })
}

/// What a viewer without the token may see of the status: what `/metrics`
/// shows anyway (states, health, restarts, uptime, memory, CPU, error
/// counts), never pids, messages, check details or log lines.
fn public_view(mut report: StatusReport) -> StatusReport {
    report.daemon.pid = 0;
    report.daemon.config = String::new();
    for s in &mut report.services {
        s.pid = None;
        s.detail = None;
        s.last_exit = None;
        s.exits.clear();
        s.diagnosis = None;
        s.fixing = None;
        s.output.last_error = None;
        for c in &mut s.checks {
            c.detail = None;
        }
    }
    for c in &mut report.checks {
        c.detail = None;
    }
    for j in &mut report.jobs {
        j.pid = None;
        if let Some(run) = &mut j.last_run {
            run.output.clear();
        }
    }
    report
}

fn message(name: &str, value: &impl Serialize) -> Option<sse::Event> {
    sse::Event::default().event(name).json_data(value).ok()
}

/// Server-sent events for the dashboard.
#[utoipa::path(get, path = "/api/v1/stream", tag = "monitoring",
    responses((status = 200, description = "`text/event-stream`: `hello` (access, why the page is read-only, usage history, newest events), `status` (a `StatusReport`) every second, `usage` (new samples: `[unix s, rss bytes, cpu %]` per service) every 10 s, and each `event` (an `Event`) as it happens. Without the token over TCP: states, health and usage only", content_type = "text/event-stream", body = String)))]
pub(crate) async fn stream(
    State(s): State<AppState>,
    access: Option<axum::Extension<Access>>,
    token: Option<axum::Extension<TokenState>>,
) -> Response {
    let access = access.map_or(Access::Full, |a| a.0);
    let (tx, rx) = mpsc::channel::<sse::Event>(32);
    tokio::spawn(feed(s, access, token.map(|t| t.0), tx));
    let messages = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|m| (Ok::<_, Infallible>(m), rx))
    });
    Sse::new(messages)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Sends the page what changes until it goes away or the daemon stops.
async fn feed(
    s: AppState,
    access: Access,
    token: Option<TokenState>,
    tx: mpsc::Sender<sse::Event>,
) {
    let full = access == Access::Full;
    // Subscribed before the history is read: an event in between comes
    // twice rather than never (the page drops the copy). Without the token
    // events are not sent, but they still bring the next status forward.
    let mut live = s.bus.subscribe();
    let events = if full {
        let source = s.events.clone();
        let filter = crate::EventFilter {
            limit: Some(RECENT_EVENTS),
            ..Default::default()
        };
        tokio::task::spawn_blocking(move || source(filter))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let usage = s.usage.snapshot();
    let mut newest_sample = usage
        .values()
        .filter_map(|v| v.last().map(|x| x.0))
        .max()
        .unwrap_or(0);
    let hello = Hello {
        access: if full { "full" } else { "public" },
        read_only: read_only_reason(access, token),
        usage,
        events,
    };
    let Some(hello) = message("hello", &hello) else {
        return;
    };
    if tx.send(hello).await.is_err() {
        return;
    }
    // The status goes out every second, and soon after any event (a crash
    // shows within a few milliseconds, not at the next tick).
    let mut due = tokio::time::Instant::now();
    loop {
        let next = tokio::select! {
            () = tokio::time::sleep_until(due) => {
                due = tokio::time::Instant::now() + STATUS_EVERY;
                let (reply, rx) = tokio::sync::oneshot::channel();
                if s.control.send(crate::Control::Status { reply }).await.is_err() {
                    return;
                }
                let Ok(report) = rx.await else { return };
                let overall = crate::HealthReport::from_status(&report).status;
                let report = if full { report } else { public_view(report) };
                let shown = Live { overall, report: &report };
                let fresh = s.usage.newer_than(newest_sample);
                if let Some(t) = fresh.values().map(|x| x.0).max() {
                    newest_sample = t;
                    if let Some(m) = message("usage", &fresh) {
                        if tx.send(m).await.is_err() {
                            return;
                        }
                    }
                }
                message("status", &shown)
            }
            event = live.recv() => match event {
                Some(e) => {
                    due = due.min(tokio::time::Instant::now() + EVENT_SETTLE);
                    if full { message("event", &e) } else { None }
                }
                None => return,
            },
            () = tx.closed() => return,
        };
        if let Some(m) = next {
            if tx.send(m).await.is_err() {
                return;
            }
        }
    }
}

/// The last lines of a service's log, redacted.
#[utoipa::path(get, path = "/api/v1/services/{name}/logs", tag = "services",
    params(("name" = String, Path, description = "The service"), LogTail),
    responses((status = 200, body = Vec<LogLine>), (status = 404, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody)),
    security((), ("bearer" = [])))]
pub(crate) async fn logs(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(tail): Query<LogTail>,
) -> Response {
    let lines = tail.lines.unwrap_or(100).min(1000);
    let (source, bus) = (s.logs.clone(), s.bus.clone());
    let read = tokio::task::spawn_blocking(move || source(&name, lines)).await;
    let error = |code: StatusCode, text: String| {
        (code, Json(crate::ErrorBody { error: text })).into_response()
    };
    match read {
        Ok(Ok(mut lines)) => {
            for l in &mut lines {
                l.line = bus.redact(&l.line);
            }
            Json(lines).into_response()
        }
        Ok(Err(e @ LogQueryError::NoSuchService(_))) => error(StatusCode::NOT_FOUND, e.to_string()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the log read failed".to_string(),
        ),
    }
}
