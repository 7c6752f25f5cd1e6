//! The HTTP routes of the control API (axum), served on the unix socket.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v1/services` | [`StatusReport`] |
//! | `GET /api/v1/services/{name}` | [`ServiceStatus`] with its exit history |
//! | `POST /api/v1/services/{name}/{start,stop,restart}` | [`ActionOutcome`] |
//! | `POST /api/v1/daemon/reload` | [`ReloadOutcome`] |
//! | `POST /api/v1/daemon/shutdown` | 202 |
//!
//! Errors are `{"error": "…"}` with a 4xx/5xx status, never a panic.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::oneshot;

use crate::control::{Control, ControlSender};
use crate::types::{ErrorBody, ServiceAction};

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
pub fn router(control: ControlSender) -> Router {
    Router::new()
        .route("/api/v1/services", get(list_services))
        .route("/api/v1/services/{name}", get(get_service))
        .route("/api/v1/services/{name}/{action}", post(act))
        .route("/api/v1/daemon/reload", post(reload))
        .route("/api/v1/daemon/shutdown", post(shutdown))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such route".to_string()) })
        .with_state(control)
}

async fn list_services(State(tx): State<ControlSender>) -> ApiResult<crate::StatusReport> {
    ask(&tx, |reply| Control::Status { reply }).await.map(Json)
}

async fn get_service(
    State(tx): State<ControlSender>,
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

async fn act(
    State(tx): State<ControlSender>,
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
    .map_err(|e| ApiError(StatusCode::NOT_FOUND, e))
}

async fn reload(State(tx): State<ControlSender>) -> ApiResult<crate::ReloadOutcome> {
    ask(&tx, |reply| Control::Reload { reply })
        .await?
        .map(Json)
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e))
}

async fn shutdown(State(tx): State<ControlSender>) -> Result<StatusCode, ApiError> {
    ask(&tx, |reply| Control::Shutdown { reply }).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Serves the control API on `listener` until `shutdown` completes.
pub async fn serve_unix(
    listener: tokio::net::UnixListener,
    control: ControlSender,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(control))
        .with_graceful_shutdown(shutdown)
        .await
}
