//! A minimal HTTP/1.1 client for the server API (docs/api.md): one request per
//! TCP connection, JSON bodies, plain `http://` only.

use std::time::Duration;

use serde_json::Value;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::context::Api;

/// How long one API request may take, connection included.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Why an API request did not produce a response.
#[derive(Debug, Error)]
pub enum HttpError {
    /// The base URL is not `http://host:port[/prefix]`.
    #[error("unsupported API URL {0:?}: expected http://HOST:PORT")]
    Url(String),
    /// Connecting, writing or reading failed.
    #[error("API request to {url} failed: {source}")]
    Io {
        /// The URL requested: the base URL with the API path appended.
        url: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No complete response in time.
    #[error("no API response from {url} within {} s", HTTP_TIMEOUT.as_secs())]
    Timeout {
        /// The URL requested: the base URL with the API path appended.
        url: String,
    },
    /// The response is not HTTP/1.x as this client reads it.
    #[error("unreadable API response from {url}: {why}")]
    Response {
        /// The URL requested: the base URL with the API path appended.
        url: String,
        /// What is wrong with it.
        why: String,
    },
}

/// An HTTP response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status (200 on success; docs/api.md maps error codes to the others).
    pub status: u16,
    /// The body, decoded from chunked transfer encoding if needed.
    pub body: String,
}

impl Response {
    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// `host:port` and the path prefix of an `http://` base URL.
fn split_base(base: &str) -> Result<(String, String), HttpError> {
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| HttpError::Url(base.to_owned()))?;
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(HttpError::Url(base.to_owned()));
    }
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, prefix.to_owned()))
}

impl Api {
    /// The `Authorization` header value for the configured key.
    fn authorization(&self) -> Option<String> {
        self.key.as_ref().map(|k| format!("apikey {k}"))
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Response, HttpError> {
        self.post_text(path, &body.to_string()).await
    }

    /// `POST path` with a body given as JSON text, sent exactly as written.
    pub async fn post_text(&self, path: &str, body: &str) -> Result<Response, HttpError> {
        self.request("POST", path, Some(body), self.authorization().as_deref())
            .await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Response, HttpError> {
        self.request("GET", path, None, self.authorization().as_deref())
            .await
    }

    /// A request with an explicit `Authorization` header value (or none),
    /// for checks of the key itself.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Response, HttpError> {
        let (authority, prefix) = split_base(&self.url)?;
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let io = |source| HttpError::Io {
            url: url.clone(),
            source,
        };
        let mut head = format!("{method} {prefix}{path} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(value) = authorization {
            head.push_str(&format!("Authorization: {value}\r\n"));
        }
        let body = body.unwrap_or("");
        if method != "GET" {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("Connection: close\r\n\r\n");
        head.push_str(body);
        let exchange = async {
            let mut stream = TcpStream::connect(&authority).await.map_err(io)?;
            stream.write_all(head.as_bytes()).await.map_err(io)?;
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await.map_err(io)?;
            Ok::<_, HttpError>(raw)
        };
        let raw = tokio::time::timeout(HTTP_TIMEOUT, exchange)
            .await
            .map_err(|_| HttpError::Timeout { url: url.clone() })??;
        parse_response(&raw).map_err(|why| HttpError::Response { url, why })
    }
}

/// Parses a complete HTTP/1.x response read until the server closed; public
/// for responses read by other means than [`Api::request`] (a raw socket).
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "headers are not UTF-8")?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Decodes a chunked body.
fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_split_into_authority_and_prefix() {
        assert_eq!(
            split_base("http://127.0.0.1:8000").unwrap(),
            ("127.0.0.1:8000".into(), String::new())
        );
        assert_eq!(
            split_base("http://h/chorus/").unwrap(),
            ("h:80".into(), "/chorus".into())
        );
        assert!(split_base("https://h").is_err());
        assert!(split_base("http://").is_err());
    }

    #[test]
    fn responses_parse_plain_and_chunked() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(
            parse_response(plain).unwrap(),
            Response {
                status: 200,
                body: "{}".into()
            }
        );
        let chunked =
            b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        let r = parse_response(chunked).unwrap();
        assert_eq!((r.status, r.body.as_str()), (401, "{\"a\":1}"));
        assert!(parse_response(b"garbage").is_err());
    }
}
