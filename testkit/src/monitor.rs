//! The HTTP monitoring endpoint of a server, read with a minimal client: the
//! testkit decides readiness from it and tests inspect server state through it.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Bound on one monitoring request, so a stuck server cannot hang a poll.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// A minimal HTTP/1.0 GET on 127.0.0.1: the status code and the body. The
/// server closes the connection after the response, so reading to the end
/// gives the whole of it.
pub(crate) async fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(HTTP_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("GET {path}: no response within {HTTP_TIMEOUT:?}"))?
        .map_err(|e| format!("GET {path}: {e}"))?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {path}: malformed response {response:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("GET {path}: malformed status line in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// [`http_get`] of a JSON endpoint that must answer 200.
pub(crate) async fn get_json(port: u16, path: &str) -> Result<Value, String> {
    let (status, body) = http_get(port, path).await?;
    if status != 200 {
        return Err(format!("GET {path}: status {status}: {}", body.trim()));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {path}: body is not JSON ({e})"))
}
