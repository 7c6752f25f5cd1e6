//! The CLI's side of the control socket: HTTP/1.1 over a unix stream.

use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use crate::types::ErrorBody;

/// Why a request to the daemon did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket.
    #[error("no backstop daemon is running (no answer on {})", socket.display())]
    NoDaemon {
        /// The socket tried.
        socket: PathBuf,
    },
    /// The daemon answered with an error.
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The daemon's message.
        message: String,
    },
    /// The connection broke or the answer could not be read.
    #[error("talking to the daemon on {}: {reason}", socket.display())]
    Transport {
        /// The socket.
        socket: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// A client for one daemon's control socket.
#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// A client for the socket at `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
        }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET path`, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.request("GET", path).await
    }

    /// `POST path` with an empty body, decoded as `T`.
    pub async fn post<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.request("POST", path).await
    }

    /// `POST path` with `body` as JSON, decoded as `T`.
    pub async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| self.transport(e.to_string()))?;
        let answer = self.send_body("POST", path, body).await?;
        serde_json::from_slice(&answer)
            .map_err(|e| self.transport(format!("unexpected answer: {e}")))
    }

    /// `POST path`, ignoring the body of a success.
    pub async fn post_empty(&self, path: &str) -> Result<(), ClientError> {
        self.send("POST", path).await.map(|_| ())
    }

    async fn request<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
    ) -> Result<T, ClientError> {
        let body = self.send(method, path).await?;
        serde_json::from_slice(&body).map_err(|e| self.transport(format!("unexpected answer: {e}")))
    }

    async fn send(&self, method: &str, path: &str) -> Result<Bytes, ClientError> {
        self.send_body(method, path, Vec::new()).await
    }

    async fn send_body(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Bytes, ClientError> {
        let address = crate::socket_path::address(&self.socket).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ClientError::NoDaemon {
                socket: self.socket.clone(),
            },
            _ => self.transport(e.to_string()),
        })?;
        let stream = UnixStream::connect(&address.path)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    ClientError::NoDaemon {
                        socket: self.socket.clone(),
                    }
                }
                _ => self.transport(e.to_string()),
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.transport(e.to_string()))?;
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "backstop")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| self.transport(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.transport(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.transport(e.to_string()))?
            .to_bytes();
        if status.is_success() {
            Ok(body)
        } else {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map_or_else(|_| String::from_utf8_lossy(&body).into_owned(), |b| b.error);
            Err(ClientError::Refused {
                status: status.as_u16(),
                message,
            })
        }
    }

    fn transport(&self, reason: String) -> ClientError {
        ClientError::Transport {
            socket: self.socket.clone(),
            reason,
        }
    }
}
