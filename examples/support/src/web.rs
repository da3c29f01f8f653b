//! The app's HTTP side: its one page, the browser SDK beside it, and the
//! sign-in route that gives the page a token.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the app's page (HTML with its script inline) |
//! | `GET /sdk/...` | `@chorus/client`, as `chorus --dev` serves it |
//! | `POST /session` `{"user": "alice"}` | `{"ws", "user", "token"}` ([`crate::session`]) |
//!
//! Pages connect to the Chorus server directly (a development node admits
//! WebSockets from pages on this machine's other ports).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::server::ServerInfo;
use crate::session::sign_in;

/// The command-line options of an app's own HTTP side.
#[derive(Debug, Clone, clap::Args)]
pub struct ListenArgs {
    /// Where the app serves its page.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

/// The body of `POST /session`.
#[derive(Debug, Deserialize)]
struct SignIn {
    user: String,
}

/// The routes every app has, for the page `page`.
pub fn router(page: &'static str, server: Arc<ServerInfo>) -> Router {
    Router::new()
        .route("/", get(move || async move { html(page) }))
        .route("/session", post(session))
        .with_state(server)
        .merge(chorus_server::sdk::router())
}

fn html(page: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        page,
    )
        .into_response()
}

async fn session(State(server): State<Arc<ServerInfo>>, Json(body): Json<SignIn>) -> Response {
    match sign_in(&server.ws, &server.hmac_secret, &body.user) {
        Ok(session) => Json(session).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// A JSON error answer, `{"error": "..."}`, as every app route gives.
pub fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// Binds the app's address (`listen`, else `127.0.0.1:default_port`).
pub async fn bind(listen: Option<SocketAddr>, default_port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], default_port)))).await
}

/// Serves `router` on `listener` until Ctrl-C, after printing where to look.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    app: &str,
    server: &ServerInfo,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    println!("{app}: open http://{addr}/ (Chorus server {})", server.http);
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

/// An app's `main`: finds the server, binds, serves the router `app` builds
/// until Ctrl-C. Errors are printed with the app's name; the exit code is 2
/// when the server's keys are not known, 1 when serving fails.
pub async fn run(
    name: &str,
    default_port: u16,
    server: &crate::ServerArgs,
    listen: &ListenArgs,
    app: impl FnOnce(Arc<ServerInfo>) -> Router,
) -> std::process::ExitCode {
    let server = match server.discover() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("{name}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let served = async {
        let listener = bind(listen.listen, default_port).await?;
        serve(listener, app(server.clone()), name, &server).await
    };
    match served.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
