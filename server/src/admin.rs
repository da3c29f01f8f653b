//! The admin dashboard: a live page at `/admin`, served by every node.
//!
//! The page is static: its HTML, script and style sheet are embedded in the
//! binary (`server/src/admin/`) and hold no data. In the browser it reads this
//! node's `/metrics` (rates from counters, percentiles from the histogram
//! buckets, computed in the page) and the server API (`/api/nodes`,
//! `/api/channels`, `/api/presence`, `/api/publish`, `/api/disconnect`), and
//! sends the API key that the operator typed in with every API call. So the
//! dashboard can do exactly what the API key can, and nothing without it.
//!
//! It is served when an API key is configured and `admin = true`, or in the
//! development profile unless `admin = false`. The `chorus` binary gives a
//! development node without an API key a random one for the run
//! ([`crate::dev::DevCredentials`]) and logs the dashboard's address with that
//! key in the URL fragment ([`startup_notice`]). Whether the
//! dashboard is on is decided per request, so a configuration reload can turn
//! it on or off. See docs/operations.md.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::config::Config;
use crate::node::Node;

/// The dashboard's HTML, served at `/admin`.
const INDEX_HTML: &str = include_str!("admin/index.html");
/// Its script: sign-in, polling, the OpenMetrics parser and the canvas charts.
const APP_JS: &str = include_str!("admin/app.js");
/// Its style sheet, `/admin/app.css`.
const APP_CSS: &str = include_str!("admin/app.css");

/// The page may load its own script and style sheet and talk to its own node,
/// and nothing else; no inline script runs, and no other site may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Whether `config` serves the dashboard: it needs the API key, and is on with
/// `admin = true`, or in the development profile unless `admin = false`.
pub(crate) fn enabled(config: &Config) -> bool {
    config.api_key.is_some() && config.admin.unwrap_or(config.dev)
}

/// The dashboard's routes: the page at `/admin` and its two assets. They
/// answer `404 Not Found` while the dashboard is off.
pub(crate) fn router() -> Router<Arc<Node>> {
    Router::new()
        .route("/admin", get(page))
        .route("/admin/", get(trailing_slash))
        .route("/admin/app.js", get(script))
        .route("/admin/app.css", get(style))
}

/// The line to log at startup when the dashboard is on: its URL, with the key
/// in the fragment when it is the generated development key (a fragment never
/// leaves the browser; the page moves it to the tab's sessionStorage).
pub fn startup_notice(config: &Config, addr: SocketAddr, dev_key: &str) -> Option<String> {
    if !enabled(config) {
        return None;
    }
    let url = format!("http://{addr}/admin");
    Some(if config.api_key.as_deref() == Some(dev_key) {
        format!("admin dashboard at {url}#key={dev_key} (development profile: a generated API key)")
    } else {
        format!("admin dashboard at {url} (sign in with the API key)")
    })
}

async fn page(State(node): State<Arc<Node>>) -> Response {
    asset(&node, "text/html; charset=utf-8", INDEX_HTML)
}

async fn script(State(node): State<Arc<Node>>) -> Response {
    asset(&node, "text/javascript; charset=utf-8", APP_JS)
}

async fn style(State(node): State<Arc<Node>>) -> Response {
    asset(&node, "text/css; charset=utf-8", APP_CSS)
}

async fn trailing_slash(State(node): State<Arc<Node>>) -> Response {
    if !enabled(&node.config()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    // Relative, so that the dashboard also works behind a proxy under a prefix.
    Redirect::permanent("../admin").into_response()
}

/// One embedded file with the dashboard's security headers, or a 404 while the
/// dashboard is off.
fn asset(node: &Node, content_type: &'static str, body: &'static str) -> Response {
    if !enabled(&node.config()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut response = body.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "an-api-key-of-enough-length";

    fn config(dev: bool, admin: Option<bool>, key: Option<&str>) -> Config {
        Config {
            dev,
            admin,
            api_key: key.map(str::to_owned),
            ..Config::default()
        }
    }

    #[test]
    fn on_only_with_a_key_and_when_asked_for_or_in_dev() {
        assert!(!enabled(&Config::default()), "off by default");
        assert!(!enabled(&config(false, None, Some(KEY))), "the key alone");
        assert!(enabled(&config(false, Some(true), Some(KEY))));
        assert!(enabled(&config(true, None, Some(KEY))), "on in dev");
        assert!(!enabled(&config(true, Some(false), Some(KEY))), "dev, off");
        assert!(!enabled(&config(true, None, None)), "never without a key");
        let e = config(false, Some(true), None).validate().unwrap_err();
        assert!(e.to_string().starts_with("admin: needs api_key"), "{e}");
    }

    #[test]
    fn the_notice_carries_only_the_generated_key() {
        let key = "dev-0123456789abcdef0123456789abcdef";
        let addr: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        let dev = config(true, None, Some(key));
        let notice = startup_notice(&dev, addr, key).unwrap();
        assert!(
            notice.contains(&format!("http://127.0.0.1:8000/admin#key={key}")),
            "{notice}"
        );
        let configured = config(false, Some(true), Some(KEY));
        let notice = startup_notice(&configured, addr, key).unwrap();
        assert!(!notice.contains(KEY), "a configured key is never logged");
        assert!(startup_notice(&Config::default(), addr, key).is_none());
    }

    #[test]
    fn the_page_loads_only_its_own_assets() {
        // The policy forbids inline scripts and other origins: the page must
        // reference its script and style sheet, relative to /admin.
        assert!(INDEX_HTML.contains(r#"<script src="admin/app.js""#));
        assert!(INDEX_HTML.contains(r#"href="admin/app.css""#));
        assert!(!INDEX_HTML.contains("<script>"), "no inline script");
        assert!(!INDEX_HTML.contains(" style="), "no inline style");
        for text in [INDEX_HTML, APP_JS, APP_CSS] {
            assert!(!text.contains("https://"), "nothing from other sites");
        }
    }
}
