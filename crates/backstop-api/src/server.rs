//! The HTTP routes of the control API (axum), served on the unix socket.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v1/services` | [`StatusReport`] |
//! | `GET /api/v1/services/{name}` | [`ServiceStatus`] with its exit history |
//! | `POST /api/v1/services/{name}/{start,stop,restart}` | [`ActionOutcome`] |
//! | `POST /api/v1/daemon/reload` | [`ReloadOutcome`] |
//! | `POST /api/v1/daemon/shutdown` | 202 |
//! | `GET /api/v1/events?service=&since=&kind=&limit=` | `[Event]`, oldest first |
//! | `GET /metrics` | Prometheus text format 0.0.4 |
//! | `GET /api/v1/openapi.json` | this API described as OpenAPI 3.1 ([`crate::openapi`]) |
//! | `GET /health` | [`HealthReport`]: 200 when everything is healthy, 503 otherwise |
//! | `GET /`, `GET /api/v1/stream`, `GET /api/v1/services/{name}/logs` | the web dashboard ([`crate::dashboard`]) |
//!
//! Errors are `{"error": "…"}` with a 4xx/5xx status, never a panic. The
//! same routes are served on the 0600 unix socket ([`serve_unix`]) and,
//! when configured, on TCP behind a token check ([`serve_tcp`]).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::oneshot;

use crate::Event;
use crate::control::{Control, ControlSender};
use crate::types::{ErrorBody, EventFilter, HealthReport, PublicHealth, ServiceAction};

/// Reads the event history (the daemon opens the store; this crate does not).
pub type EventSource =
    std::sync::Arc<dyn Fn(EventFilter) -> Result<Vec<Event>, EventQueryError> + Send + Sync>;

/// Why the event history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventQueryError {
    /// The query is not valid (a `since` that is no time): the client's fault.
    #[error("{0}")]
    Invalid(String),
    /// The store cannot be read: the daemon's.
    #[error("the event history cannot be read: {0}")]
    Unreadable(String),
}

/// What every route may use: no service state lives here.
#[derive(Clone)]
pub struct AppState {
    /// Requests to the supervision loop.
    pub control: ControlSender,
    /// The event history.
    pub events: EventSource,
    /// Counts of events for `/metrics`.
    pub counters: std::sync::Arc<crate::metrics::EventCounters>,
    /// Probe latency histograms for `/metrics`.
    pub latency: crate::metrics::ProbeLatency,
    /// The remediation task (`backstop fix`).
    pub fix: crate::FixSender,
    /// Diagnoses on request.
    pub diagnose: crate::DiagnoseSender,
    /// The event bus, for the dashboard's live events.
    pub bus: crate::EventBus,
    /// Memory and CPU over the last hour, for the dashboard's charts.
    pub usage: crate::usage::UsageHistory,
    /// The services' log files, for the dashboard's log tail.
    pub logs: crate::dashboard::LogSource,
}

/// An error answer.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

fn daemon_gone() -> ApiError {
    ApiError(
        StatusCode::SERVICE_UNAVAILABLE,
        "the daemon is shutting down".to_string(),
    )
}

async fn ask<T>(
    tx: &ControlSender,
    make: impl FnOnce(oneshot::Sender<T>) -> Control,
) -> Result<T, ApiError> {
    let (reply, rx) = oneshot::channel();
    tx.send(make(reply)).await.map_err(|_| daemon_gone())?;
    rx.await.map_err(|_| daemon_gone())
}

/// The router for the control API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(crate::dashboard::page))
        .route("/dashboard.css", get(crate::dashboard::style))
        .route("/dashboard.js", get(crate::dashboard::script))
        .route("/api/v1/stream", get(crate::dashboard::stream))
        .route("/api/v1/services/{name}/logs", get(crate::dashboard::logs))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/v1/events", get(events))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/services", get(list_services))
        .route("/api/v1/services/{name}", get(get_service))
        .route("/api/v1/services/{name}/fix", post(fix))
        .route("/api/v1/services/{name}/diagnose", post(diagnose))
        .route("/api/v1/services/{name}/scale", post(scale))
        .route("/api/v1/services/{name}/{action}", post(act))
        .route("/api/v1/daemon/reload", post(reload))
        .route("/api/v1/daemon/shutdown", post(shutdown))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such route".to_string()) })
        .method_not_allowed_fallback(|| async {
            ApiError(
                StatusCode::METHOD_NOT_ALLOWED,
                "this route does not take that method (reads are GET, actions are POST)"
                    .to_string(),
            )
        })
        // Every request body the API takes is a few bytes of JSON.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(refuse_declared_large_bodies))
        .with_state(state)
}

/// Answers 413 from the headers when a request declares a body larger than
/// [`MAX_BODY`], before any of it is read: a client that sent
/// `Expect: 100-continue` gets the refusal instead of a `100 Continue`
/// and a connection closed under its upload. Bodies without a length are
/// still cut at `MAX_BODY` by `DefaultBodyLimit`.
async fn refuse_declared_large_bodies(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > MAX_BODY as u64 => ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is {length} bytes; the API takes at most {MAX_BODY} \
                 (its requests are a few bytes of JSON)"
            ),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

/// The largest request body any route reads (`scale`, `fix`): larger
/// ones get 413. Headers are bounded by hyper (100 of them, 400 KB in all).
pub(crate) const MAX_BODY: usize = 64 * 1024;

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::openapi::document(),
    )
        .into_response()
}

/// Over TCP: whether a token is configured, and whether the request
/// offered one (the dashboard says why it is read-only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TokenState {
    /// `[daemon] token_file` or `token_env` is set.
    pub(crate) configured: bool,
    /// The request carried an `Authorization` header.
    pub(crate) offered: bool,
}

/// What a request may see: everything (the unix socket, or TCP with the
/// token), or only what is public (TCP without the token).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Details: pids, check details, the API.
    Full,
    /// State and health names only.
    Public,
}

/// The system at a glance: 200 when every service is healthy, 503 otherwise.
/// Over TCP without the token, only states and health names ([`PublicHealth`]).
#[utoipa::path(get, path = "/health", tag = "monitoring",
    responses((status = 200, description = "Every service is healthy (over TCP without the token: a `PublicHealth`, states and health names only)", body = HealthReport),
              (status = 503, description = "Something is degraded or unhealthy (over TCP without the token: a `PublicHealth`)", body = HealthReport)))]
async fn health(State(s): State<AppState>, access: Option<axum::Extension<Access>>) -> Response {
    match ask(&s.control, |reply| Control::Status { reply }).await {
        Ok(report) => {
            let health = HealthReport::from_status(&report);
            let code = if health.status == crate::Health::Healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            match access.map_or(Access::Full, |a| a.0) {
                Access::Full => (code, Json(health)).into_response(),
                Access::Public => (code, Json(PublicHealth::from(&health))).into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

/// Prometheus text format 0.0.4.
#[utoipa::path(get, path = "/metrics", tag = "monitoring",
    responses((status = 200, description = "The metrics", content_type = "text/plain", body = String)))]
async fn metrics(State(s): State<AppState>) -> Response {
    match ask(&s.control, |reply| Control::Status { reply }).await {
        Ok(report) => (
            [(
                axum::http::header::CONTENT_TYPE,
                crate::metrics::CONTENT_TYPE,
            )],
            crate::metrics::render(&report, crate::metrics::own_rss(), &s.counters, &s.latency),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The event history, oldest first (the newest 50 without `since` or `limit`).
#[utoipa::path(get, path = "/api/v1/events", tag = "history", params(EventFilter),
    responses((status = 200, body = Vec<Event>), (status = 400, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn events(
    State(s): State<AppState>,
    filter: Result<Query<EventFilter>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Vec<Event>> {
    let Query(filter) = filter.map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("invalid query: {}", e.body_text()),
        )
    })?;
    let source = s.events.clone();
    tokio::task::spawn_blocking(move || source(filter))
        .await
        .map_err(|_| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the event query failed".into(),
            )
        })?
        .map(Json)
        .map_err(|e| {
            let code = match e {
                EventQueryError::Invalid(_) => StatusCode::BAD_REQUEST,
                EventQueryError::Unreadable(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            ApiError(code, e.to_string())
        })
}

/// Every service, and the `[checks]` entries.
#[utoipa::path(get, path = "/api/v1/services", tag = "services",
    responses((status = 200, body = crate::StatusReport)), security((), ("bearer" = [])))]
async fn list_services(
    State(AppState { control: tx, .. }): State<AppState>,
) -> ApiResult<crate::StatusReport> {
    ask(&tx, |reply| Control::Status { reply }).await.map(Json)
}

/// One service in detail, with its exit history.
#[utoipa::path(get, path = "/api/v1/services/{name}", tag = "services",
    params(("name" = String, Path, description = "The service")),
    responses((status = 200, body = crate::ServiceStatus), (status = 404, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn get_service(
    State(AppState { control: tx, .. }): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<crate::ServiceStatus> {
    let found = ask(&tx, |reply| Control::Service {
        name: name.clone(),
        reply,
    })
    .await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no service named `{name}`")))
}

/// Start, stop or restart a service; answers once the request is taken.
#[utoipa::path(post, path = "/api/v1/services/{name}/{action}", tag = "services",
    params(("name" = String, Path, description = "The service"),
           ("action" = String, Path, description = "`start`, `stop` or `restart`")),
    responses((status = 200, body = crate::ActionOutcome), (status = 404, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 503, description = "The daemon is shutting down", body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn act(
    State(AppState { control: tx, .. }): State<AppState>,
    Path((name, action)): Path<(String, String)>,
) -> ApiResult<crate::ActionOutcome> {
    let action = match action.as_str() {
        "start" => ServiceAction::Start,
        "stop" => ServiceAction::Stop,
        "restart" => ServiceAction::Restart,
        other => {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("unknown action `{other}`: expected start, stop or restart"),
            ));
        }
    };
    ask(&tx, |reply| Control::Act {
        name,
        action,
        reply,
    })
    .await?
    .map(Json)
    .map_err(|e| {
        let code = match e {
            crate::ActError::NoSuchService { .. } => StatusCode::NOT_FOUND,
            crate::ActError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError(code, e.to_string())
    })
}

/// Run a remediation playbook on a service (or, with `dry_run`, say what
/// it would do); answers with the report once it is done.
#[utoipa::path(post, path = "/api/v1/services/{name}/fix", tag = "services",
    params(("name" = String, Path, description = "The service")),
    request_body = crate::FixRequest,
    responses((status = 200, description = "The playbook ran; `ok` says whether every step (verification included) passed", body = crate::FixReport),
              (status = 404, body = ErrorBody), (status = 409, description = "A playbook already runs on the service", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn fix(
    State(AppState { fix: tx, .. }): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<crate::FixRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<crate::FixReport> {
    let Json(request) = body.map_err(|e| {
        ApiError(
            // 400 for bad JSON, 413 past `MAX_BODY`, 415 without the type.
            e.status(),
            format!("invalid request body: {}", e.body_text()),
        )
    })?;
    remedy(&tx, |reply| crate::FixCommand {
        service: name,
        request,
        by: None,
        reply,
    })
    .await
}

/// Hands a request to the remediation tasks and waits for the answer.
async fn remedy<C, T>(
    tx: &tokio::sync::mpsc::Sender<C>,
    make: impl FnOnce(oneshot::Sender<Result<T, crate::FixError>>) -> C,
) -> ApiResult<T> {
    let (reply, rx) = oneshot::channel();
    tx.send(make(reply)).await.map_err(|_| daemon_gone())?;
    rx.await
        .map_err(|_| daemon_gone())?
        .map(Json)
        .map_err(|e| remedy_error(&e))
}

fn remedy_error(e: &crate::FixError) -> ApiError {
    let code = match e {
        crate::FixError::NoSuchService(_) | crate::FixError::NoSuchPlaybook { .. } => {
            StatusCode::NOT_FOUND
        }
        crate::FixError::Busy { .. } => StatusCode::CONFLICT,
        crate::FixError::Config(_) => StatusCode::UNPROCESSABLE_ENTITY,
        crate::FixError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        crate::FixError::DiagnoseFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError(code, e.to_string())
}

/// Diagnose a service now: writes a bundle and answers with what
/// `backstop diagnose SERVICE --json` prints (verdict, causes with their
/// evidence lines, the proposed remedy, the bundle's path).
#[utoipa::path(post, path = "/api/v1/services/{name}/diagnose", tag = "services",
    params(("name" = String, Path, description = "The service")),
    responses((status = 200, description = "The diagnosis, as `backstop diagnose SERVICE --json` prints it", body = Object),
              (status = 404, body = ErrorBody), (status = 500, description = "The diagnosis failed or timed out", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn diagnose(
    State(AppState { diagnose: tx, .. }): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<serde_json::Value> {
    remedy(&tx, |reply| crate::DiagnoseCommand {
        service: name,
        reply,
    })
    .await
}

/// Run a service as N copies (`api.1` … `api.N`), each supervised and
/// health-checked on its own; answers with the copies added and removed.
/// Lasts until the daemon restarts or the file's `instances` changes.
#[utoipa::path(post, path = "/api/v1/services/{name}/scale", tag = "services",
    params(("name" = String, Path, description = "The service as the config declares it")),
    request_body = crate::ScaleRequest,
    responses((status = 200, body = crate::ReloadOutcome), (status = 404, body = ErrorBody),
              (status = 422, description = "Not a count of 1 to 256, or a copy's name", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 503, description = "The daemon is shutting down", body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn scale(
    State(AppState { control: tx, .. }): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<crate::ScaleRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<crate::ReloadOutcome> {
    let Json(request) = body.map_err(|e| {
        ApiError(
            // 400 for bad JSON, 413 past `MAX_BODY`, 415 without the type.
            e.status(),
            format!("invalid request body: {}", e.body_text()),
        )
    })?;
    ask(&tx, |reply| Control::Scale {
        name,
        instances: request.instances,
        reply,
    })
    .await?
    .map(Json)
    .map_err(|e| {
        let code = match e {
            crate::ScaleError::NoSuchService { .. } => StatusCode::NOT_FOUND,
            crate::ScaleError::Copy { .. } | crate::ScaleError::OutOfRange { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            crate::ScaleError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError(code, e.to_string())
    })
}

/// Re-read the config; restart only the services whose definition changed.
#[utoipa::path(post, path = "/api/v1/daemon/reload", tag = "daemon",
    responses((status = 200, body = crate::ReloadOutcome), (status = 422, description = "The config has errors; the old one stays in force", body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn reload(
    State(AppState { control: tx, .. }): State<AppState>,
) -> ApiResult<crate::ReloadOutcome> {
    ask(&tx, |reply| Control::Reload { reply })
        .await?
        .map(Json)
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e))
}

/// Stop every service, then the daemon.
#[utoipa::path(post, path = "/api/v1/daemon/shutdown", tag = "daemon",
    responses((status = 202, description = "Shutting down")), security((), ("bearer" = [])))]
async fn shutdown(
    State(AppState { control: tx, .. }): State<AppState>,
) -> Result<StatusCode, ApiError> {
    ask(&tx, |reply| Control::Shutdown { reply }).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Serves the control API on `listener` until `shutdown` completes.
pub async fn serve_unix(
    listener: tokio::net::UnixListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves the API on a TCP listener, behind [`guard`], until `shutdown` completes.
pub async fn serve_tcp(
    listener: tokio::net::TcpListener,
    state: AppState,
    token: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).layer(axum::middleware::from_fn_with_state(
        std::sync::Arc::new(token),
        guard,
    ));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Compares in constant time (`subtle`), so timing does not reveal how
/// much of a guessed token was right (only its length, which is fixed).
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    given.ct_eq(expected).into()
}

/// True when the request carries `Authorization: Bearer <token>`.
fn authorized(request: &axum::extract::Request, token: Option<&str>) -> bool {
    let Some(expected) = token else {
        return false;
    };
    request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|g| same_secret(g.as_bytes(), expected.as_bytes()))
}

/// The TCP listener's rules. Any local user can reach a loopback port
/// (unlike the 0600 unix socket), so only what a load balancer and
/// Prometheus need is open: `/health` with states and health names only,
/// `/metrics`, and the API's description. With the token
/// (`Authorization: Bearer <token>`), `/health` has its details and the
/// `/api/` routes answer; without it they get 401 (a token is configured)
/// or 403 (none is: the API is then only on the unix socket).
async fn guard(
    State(token): State<std::sync::Arc<Option<String>>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let full = authorized(&request, token.as_deref());
    let path = request.uri().path();
    let open =
        !path.starts_with("/api/") || path == "/api/v1/openapi.json" || path == "/api/v1/stream";
    if open || full {
        let access = if full { Access::Full } else { Access::Public };
        let offered = request
            .headers()
            .contains_key(axum::http::header::AUTHORIZATION);
        request.extensions_mut().insert(access);
        request.extensions_mut().insert(TokenState {
            configured: token.is_some(),
            offered,
        });
        return next.run(request).await;
    }
    if token.is_some() {
        return (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            Json(ErrorBody {
                error: "unauthorized".to_string(),
            }),
        )
            .into_response();
    }
    ApiError(
        StatusCode::FORBIDDEN,
        "the API over TCP needs a token: set `token_file` or `token_env` in `[daemon]` (the backstop CLI uses the unix socket and needs none); without one, TCP serves only /health (states) and /metrics".to_string(),
    )
    .into_response()
}
