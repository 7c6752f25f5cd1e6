//! The CLI's side of the control socket: HTTP/1.1 over a unix stream, or
//! over TCP to another host's `[daemon] listen` address with its bearer
//! token (`backstop status --remote`).

use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::net::{TcpStream, UnixStream};

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
#[derive(Clone)]
pub struct Client {
    /// The socket, or for a remote daemon its URL (what messages name).
    socket: PathBuf,
    remote: Option<Remote>,
}

/// Another host's daemon, over TCP.
#[derive(Clone)]
struct Remote {
    /// `host:port`.
    authority: String,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Client")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the socket at `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            remote: None,
        }
    }

    /// A client for the daemon at `url` (`http://host:port`, its `[daemon]
    /// listen` address), sending `token` as `Authorization: Bearer`.
    ///
    /// # Errors
    /// When `url` is not `http://host:port` (TLS is not spoken: reach a
    /// remote host over a private network or an SSH tunnel).
    pub fn remote(url: &str, token: Option<String>) -> Result<Self, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("`{url}` is not an http:// URL (backstop's TCP API speaks plain HTTP: use a private network or an SSH tunnel)")
        })?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(format!(
                "`{url}` should be http://HOST:PORT, the `[daemon] listen` address of the other host"
            ));
        }
        let authority = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Self {
            socket: PathBuf::from(format!("http://{authority}")),
            remote: Some(Remote { authority, token }),
        })
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
        let _pipe = crate::pipe_signal::PipeSignalHeld::new();
        if let Some(remote) = &self.remote {
            let stream =
                TcpStream::connect(&remote.authority)
                    .await
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::ConnectionRefused => ClientError::NoDaemon {
                            socket: self.socket.clone(),
                        },
                        _ => self.transport(e.to_string()),
                    })?;
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header("host", remote.authority.as_str())
                .header("content-type", "application/json");
            if let Some(token) = &remote.token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            return self.exchange(TokioIo::new(stream), request, body).await;
        }
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
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "backstop")
            .header("content-type", "application/json");
        self.exchange(TokioIo::new(stream), request, body).await
    }

    /// One request and its answer on a fresh connection.
    async fn exchange<S>(
        &self,
        io: TokioIo<S>,
        request: hyper::http::request::Builder,
        body: Vec<u8>,
    ) -> Result<Bytes, ClientError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| self.transport(e.to_string()))?;
        tokio::spawn(connection);
        let request = request
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
        // hyper's words for a daemon that went away mid-answer.
        let reason = if reason.contains("connection closed before message completed") {
            let log = if self.remote.is_some() {
                String::new()
            } else {
                self.socket
                    .with_file_name("daemon.log")
                    .display()
                    .to_string()
            };
            format!(
                "the daemon closed the connection before answering: it stopped or was killed while it worked on the request{}",
                if log.is_empty() {
                    String::new()
                } else {
                    format!(" (its log: {log})")
                }
            )
        } else {
            reason
        };
        ClientError::Transport {
            socket: self.socket.clone(),
            reason,
        }
    }
}
