//! The notifications example's backend: a service that pushes notifications to
//! users through the server API, as an app's backend does when an order ships
//! or a job finishes. The page only signs in, connects and shows what arrives;
//! the notifications come from here, not from other clients.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /`, `GET /sdk/...`, `POST /session` | the page, the browser SDK, sign-in ([`web::router`]) |
//! | `POST /notify` `{"user", "text"}` | a notification to one user (`POST /api/send`) |
//! | `POST /broadcast` `{"text"}` | a notification to everyone connected (`POST /api/broadcast`) |
//!
//! Both answer with the data they sent, `{"kind", "text", "at"}` (`kind` is
//! `"notification"` or `"broadcast"`, `at` the time in Unix milliseconds), or
//! `{"error": "..."}`: 400 for a bad request, 502 when the server API failed.
//!
//! The two kinds differ in what happens to a user who is not connected:
//!
//! * a notification is a user-to-user message from the server: it reaches every
//!   connection of the user on any node, and is also appended to the user's
//!   **inbox**. Each tab keeps its inbox position (the page stores it in
//!   `localStorage`) and sends it on connect, so a tab opened after others were
//!   closed first gets, in order and once each, what arrived meanwhile;
//! * a broadcast reaches the connections open now, on every node, and nothing
//!   else: it is not kept anywhere, so a tab opened later never sees it.
//!
//! Neither route checks who is asking: anyone who can reach the app can notify
//! anyone. That is fine beside a development server, where the page needs a
//! way to trigger them; a real backend sends notifications on its own account.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chorus_example_support::api::{Api, ApiError};
use chorus_example_support::session::{SessionError, valid_name};
use chorus_example_support::{ServerInfo, web};
use serde::Deserialize;
use serde_json::{Value, json};

/// The page, with its script inline.
pub const PAGE: &str = include_str!("../page/index.html");

/// Where the app serves its page by default.
pub const DEFAULT_PORT: u16 = 8002;

/// The longest notification text accepted, in characters.
pub const MAX_TEXT: usize = 500;

/// The body of `POST /notify`.
#[derive(Debug, Deserialize)]
struct Notify {
    user: String,
    text: String,
}

/// The body of `POST /broadcast`.
#[derive(Debug, Deserialize)]
struct Broadcast {
    text: String,
}

/// What the backend routes share: the server API client, built once. Building
/// it can fail (the HTTP client cannot start); the app then still serves its
/// page, and every backend route answers 500 with the reason.
#[derive(Debug)]
struct Backend {
    api: Result<Api, String>,
}

impl Backend {
    fn api(&self) -> Result<&Api, Refused> {
        self.api.as_ref().map_err(|e| Refused {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: e.clone(),
        })
    }
}

/// Why a backend route refused: answered as `{"error": message}`.
#[derive(Debug)]
struct Refused {
    status: StatusCode,
    message: String,
}

impl Refused {
    fn bad_request(message: impl Into<String>) -> Refused {
        Refused {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<ApiError> for Refused {
    /// The server API failed: 502, with what it said.
    fn from(e: ApiError) -> Refused {
        Refused {
            status: StatusCode::BAD_GATEWAY,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        web::error(self.status, &self.message)
    }
}

/// The app: the page, the browser SDK, sign-in, and the routes that send
/// notifications (`POST /notify`) and broadcasts (`POST /broadcast`).
pub fn app(server: Arc<ServerInfo>) -> Router {
    let backend = Arc::new(Backend {
        api: Api::new(&server).map_err(|e| e.to_string()),
    });
    let routes = Router::new()
        .route("/notify", post(notify))
        .route("/broadcast", post(broadcast))
        .with_state(backend);
    web::router(PAGE, server).merge(routes)
}

async fn notify(
    State(backend): State<Arc<Backend>>,
    body: Result<Json<Notify>, JsonRejection>,
) -> Result<Json<Value>, Refused> {
    let Json(body) = body.map_err(|e| bad_body(&e, r#"{"user", "text"}"#))?;
    if !valid_name(&body.user) {
        return Err(Refused::bad_request(SessionError::BadName.to_string()));
    }
    let data = message("notification", &body.text)?;
    backend.api()?.send(&body.user, data.clone()).await?;
    Ok(Json(data))
}

async fn broadcast(
    State(backend): State<Arc<Backend>>,
    body: Result<Json<Broadcast>, JsonRejection>,
) -> Result<Json<Value>, Refused> {
    let Json(body) = body.map_err(|e| bad_body(&e, r#"{"text"}"#))?;
    let data = message("broadcast", &body.text)?;
    backend.api()?.broadcast(data.clone()).await?;
    Ok(Json(data))
}

/// A body that is not the JSON expected: 400, saying what was expected.
fn bad_body(e: &JsonRejection, expected: &str) -> Refused {
    Refused::bad_request(format!(
        "expected a JSON body {expected}: {}",
        e.body_text()
    ))
}

/// The data pushed to clients, `{"kind", "text", "at"}`; refused (400) when
/// the text is blank or longer than [`MAX_TEXT`] characters.
fn message(kind: &str, text: &str) -> Result<Value, Refused> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Refused::bad_request("the text is empty"));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(Refused::bad_request(format!(
            "the text is longer than {MAX_TEXT} characters"
        )));
    }
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Ok(json!({ "kind": kind, "text": text, "at": at }))
}
