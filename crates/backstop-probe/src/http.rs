//! The HTTP probe: one request over a fresh connection, then the status,
//! body and JSON conditions.

use backstop_config::HttpProbe;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use crate::{io_reason, json, tls};

/// Bodies larger than this are not read (a health answer is small).
const MAX_BODY: usize = 1024 * 1024;

/// An HTTP/1.1 connection over `io`; the connection task runs on its own.
async fn handshake<T>(
    io: TokioIo<T>,
    host: &str,
    port: u16,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake with {host}:{port} failed: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// A connection to the server of `url`, over TLS for https.
async fn open(
    url: &str,
    insecure: bool,
    ca_file: Option<&std::path::Path>,
) -> Result<
    (
        hyper::Uri,
        String,
        hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    ),
    String,
> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("invalid URL {url}: {e}"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("no host in URL {url}"))?
        .to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let stream = tokio::net::TcpStream::connect((bare_host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {}", io_reason(&e)))?;
    let sender = if uri.scheme_str() == Some("https") {
        let connector = tls::connector(insecure, ca_file)?;
        let tls = connector
            .connect(tls::server_name(bare_host)?, stream)
            .await
            .map_err(|e| tls::explain(&e, &format!("{host}:{port}")))?;
        handshake(TokioIo::new(tls), &host, port).await?
    } else {
        handshake(TokioIo::new(stream), &host, port).await?
    };
    Ok((uri, host, sender))
}

/// A request for `uri` with the headers every request of ours carries.
fn request(method: &str, uri: &hyper::Uri, host: &str) -> hyper::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri.path_and_query().map_or("/", |pq| pq.as_str()))
        .header("host", uri.authority().map_or(host, |a| a.as_str()))
        .header(
            "user-agent",
            concat!("backstop/", env!("CARGO_PKG_VERSION")),
        )
}

/// POSTs `body` to `url` (http or https, the system's authorities) and
/// returns the status code. Used to deliver alerts; the caller bounds it
/// with a timeout.
pub async fn post(url: &str, content_type: &str, body: Vec<u8>) -> Result<u16, String> {
    let (uri, host, mut sender) = open(url, false, None).await?;
    let request = request("POST", &uri, &host)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("invalid request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("no answer from {host}: {e}"))?;
    Ok(response.status().as_u16())
}

pub(crate) async fn probe(p: &HttpProbe) -> Result<String, String> {
    let (uri, host, mut sender) = open(&p.url, p.insecure, p.ca_file.as_deref()).await?;
    let mut request = request(p.method.as_str(), &uri, &host);
    for (k, v) in &p.headers.0 {
        request = request.header(k, v);
    }
    let request = request
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("invalid request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request to {} failed: {e}", p.url))?;
    let status = response.status();
    let code = status.as_u16();
    let status_ok = if p.status.is_empty() {
        (200..400).contains(&code)
    } else {
        p.status.contains(&code)
    };
    let needs_body = !p.json.is_empty() || p.body.is_some();
    let body = if needs_body || !status_ok {
        Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("cannot read the body: {e}"))?
            .to_bytes()
    } else {
        Bytes::new()
    };
    if !status_ok {
        let expected = if p.status.is_empty() {
            "2xx or 3xx".to_string()
        } else {
            p.status
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let snippet = String::from_utf8_lossy(&body[..body.len().min(120)]).replace('\n', " ");
        return Err(format!(
            "HTTP {code} (expected {expected}){}",
            if snippet.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", snippet.trim())
            }
        ));
    }
    if let Some(needle) = &p.body
        && !String::from_utf8_lossy(&body).contains(needle.as_str())
    {
        return Err(format!(
            "HTTP {code}, but the body does not contain \"{needle}\""
        ));
    }
    if !p.json.is_empty() {
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| format!("HTTP {code}, but the body is not JSON: {e}"))?;
        let failed: Vec<String> = p
            .json
            .iter()
            .filter_map(|c| json::check(&value, c).err())
            .collect();
        if !failed.is_empty() {
            return Err(failed.join("; "));
        }
    }
    Ok(format!("HTTP {code}"))
}
