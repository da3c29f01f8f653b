//! HTTP routes: the WebSocket endpoint, health, readiness, metrics, the demo
//! page with the browser SDK it runs on, and the admin dashboard.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chorus_protocol::Codec;
use chorus_protocol::codec::{JSON_SUBPROTOCOL, MSGPACK_SUBPROTOCOL};

use crate::listener::Ticket;
use crate::node::Node;
use crate::session;

/// Bytes of frames a connection's write buffer gathers before it writes them
/// out: the session feeds it everything queued (up to 64 frames) and then
/// flushes, so a burst of publications leaves in one write call instead of one
/// per frame (64 small frames fit). The buffer keeps the capacity its largest
/// write needed, so this is also what an active connection keeps holding:
/// at most this plus one frame.
const WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// Bytes a connection's read buffer starts with and reads at most per call.
/// Every connection holds it for its whole life, idle or not, so it is kept
/// small: commands are small, and a larger frame makes the buffer grow to
/// its size for as long as it takes to read it.
const READ_BUFFER_BYTES: usize = 2 * 1024;

/// The node's HTTP routes: the WebSocket endpoint, health, readiness, metrics and the admin
/// dashboard, plus the server API and the development pages when configured.
pub(crate) fn router(node: Arc<Node>) -> Router {
    let mut router = Router::new()
        .route(&node.config().ws_path, get(upgrade))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .merge(crate::admin::router());
    if node.config().dev {
        router = router
            .route("/", get(|| async { Html(include_str!("demo.html")) }))
            .merge(crate::sdk::router());
    }
    if let Some(api) = crate::api::router(node.clone()) {
        router = router.merge(api);
    }
    router.with_state(node)
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    let body = node.metrics.render(&node.hub);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn ready(State(node): State<Arc<Node>>) -> Response {
    if node.draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
    } else if !node.broker.ready() {
        (StatusCode::SERVICE_UNAVAILABLE, "broker unavailable").into_response()
    } else {
        "ready".into_response()
    }
}

/// The first subprotocol the client offers that this server speaks.
fn negotiate(headers: &HeaderMap) -> Option<Codec> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(Codec::from_subprotocol)
}

/// Whether the request's Origin may open a WebSocket.
fn origin_allowed(node: &Node, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true; // not a browser
    };
    let config = node.config();
    let allowed = &config.allowed_origins;
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    // A development node serves apps on this machine's other ports too.
    if config.dev && allowed.is_empty() && crate::dev::is_loopback_origin(origin) {
        return true;
    }
    // Same origin: scheme, host and port of the Origin are the request's own.
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let scheme = if node.tls.current().is_some() {
        "https"
    } else {
        request_scheme(headers)
    };
    allowed.is_empty() && host.is_some_and(|host| same_origin(origin, scheme, host))
}

/// The scheme the client used, on a node that does not serve TLS itself:
/// `https` when a TLS proxy in front says so
/// (`X-Forwarded-Proto`), else `http`. Browsers cannot set that header on a
/// WebSocket upgrade, so a page cannot pretend to another scheme with it.
fn request_scheme(headers: &HeaderMap) -> &str {
    match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
    {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the same scheme, host and
/// port as a request made with `scheme` to `host` (the Host header); a
/// missing port is the scheme's default.
fn same_origin(origin: &str, scheme: &str, host: &str) -> bool {
    let Some((origin_scheme, origin_host)) = origin.split_once("://") else {
        return false;
    };
    let default_port = |scheme: &str| match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => Some(443),
        "http" | "ws" => Some(80),
        _ => None,
    };
    let split = |authority: &str, scheme: &str| -> Option<(String, u16)> {
        let authority = authority.trim_end_matches('/');
        match authority.rsplit_once(':') {
            // `[::1]` alone has colons but no port.
            Some((h, p)) if !authority.ends_with(']') => {
                Some((h.to_ascii_lowercase(), p.parse().ok()?))
            }
            _ => Some((authority.to_ascii_lowercase(), default_port(scheme)?)),
        }
    };
    let (Some(o), Some(r)) = (split(origin_host, origin_scheme), split(host, scheme)) else {
        return false;
    };
    origin_scheme.eq_ignore_ascii_case(scheme) && o == r
}

async fn upgrade(
    State(node): State<Arc<Node>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ticket: Option<Extension<Arc<Ticket>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(codec) = negotiate(&headers) else {
        let body = format!(
            "unsupported or missing WebSocket subprotocol: offer {JSON_SUBPROTOCOL} or {MSGPACK_SUBPROTOCOL}\n"
        );
        return (StatusCode::BAD_REQUEST, body).into_response();
    };
    if !origin_allowed(&node, &headers) {
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    let config = node.config();
    let limits = &config.limits;
    // Frames a bit over the limit still arrive whole, so the session can answer
    // them with close 4503; far larger ones are cut off by the transport.
    let transport_max = limits.max_message_size.saturating_mul(2).max(4096);
    tracing::debug!(%peer, ?codec, "websocket upgrade");
    ws.protocols([codec.subprotocol()])
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(limits.max_message_size.saturating_mul(4).max(1 << 20))
        .max_message_size(transport_max)
        .max_frame_size(transport_max)
        .on_upgrade(move |socket| session::run(node, socket, codec, ticket.map(|Extension(t)| t)))
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn same_origin_compares_scheme_host_and_port() {
        assert!(same_origin(
            "http://chat.example:8000",
            "http",
            "chat.example:8000"
        ));
        assert!(same_origin("https://chat.example", "https", "chat.example"));
        assert!(same_origin(
            "https://chat.example:443",
            "https",
            "chat.example"
        ));
        assert!(same_origin(
            "http://Chat.Example",
            "http",
            "chat.example:80"
        ));
        // Another scheme on the same host and port is another origin.
        assert!(!same_origin(
            "https://chat.example:8000",
            "http",
            "chat.example:8000"
        ));
        assert!(!same_origin("http://chat.example", "https", "chat.example"));
        assert!(!same_origin(
            "http://chat.example:8001",
            "http",
            "chat.example:8000"
        ));
        assert!(!same_origin("http://evil.example", "http", "chat.example"));
        assert!(!same_origin("null", "http", "chat.example"));
        assert!(same_origin("http://[::1]:8000", "http", "[::1]:8000"));
        assert!(same_origin("http://[::1]", "http", "[::1]:80"));
    }
}
