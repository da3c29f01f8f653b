//! The server API: JSON over HTTP under `/api`, for backends. Authorised by the
//! API key (`Authorization: apikey <key>`); absent when no key is configured.
//! Request bodies reuse the protocol's field names (docs/api.md).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chorus_protocol::message::{
    ChannelRequest, Error, HistoryRequest, PublishRequest, SendRequest,
};
use chorus_protocol::{CloseCode, ErrorCode, Payload};
use serde::{Deserialize, Serialize};

use crate::handle::Handle;
use crate::node::Node;

/// An API failure: an HTTP status and the protocol's error object.
#[derive(Debug)]
pub(crate) struct ApiError(StatusCode, Error);

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a Error,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: &self.1 })).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match e.code {
            ErrorCode::BAD_REQUEST => StatusCode::BAD_REQUEST,
            ErrorCode::UNKNOWN_CHANNEL => StatusCode::NOT_FOUND,
            ErrorCode::NOT_AVAILABLE => StatusCode::CONFLICT,
            ErrorCode::UNAUTHORIZED => StatusCode::UNAUTHORIZED,
            ErrorCode::MESSAGE_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            _ if e.temporary => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError(status, e)
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Serialize)]
struct Empty {}

/// Body of `/api/broadcast`.
#[derive(Debug, Deserialize)]
pub(crate) struct BroadcastBody {
    /// The payload: a `message` push with `broadcast: true` to every connection of every node.
    pub data: Payload,
}

/// Body of `/api/disconnect`: a user (every connection, every node) or one client.
#[derive(Debug, Deserialize)]
pub(crate) struct DisconnectBody {
    /// Close every connection of this user, on every node.
    #[serde(default)]
    pub user: Option<String>,
    /// Close this one connection, on whichever node holds it (ignored with `user`).
    #[serde(default)]
    pub client: Option<String>,
    /// Whether the client may reconnect (close 4005) or not (close 4506, the default).
    #[serde(default)]
    pub reconnect: bool,
    /// Reason sent in the push and the close frame; default `disconnected by the server`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The `/api` routes, or none when no API key is configured.
pub(crate) fn router(node: Arc<Node>) -> Option<Router<Arc<Node>>> {
    node.config().api_key.as_ref()?;
    let routes = Router::new()
        .route("/api/publish", post(publish))
        .route("/api/broadcast", post(broadcast))
        .route("/api/send", post(send))
        .route("/api/disconnect", post(disconnect))
        .route("/api/presence", post(presence))
        .route("/api/presence_stats", post(presence_stats))
        .route("/api/history", post(history))
        .route("/api/channels", get(channels))
        .route("/api/stats", get(stats))
        .route("/api/info", get(info))
        .route("/api/nodes", get(nodes))
        .route("/api/reload", post(reload))
        .route("/api/revoke", post(revoke))
        .route("/api/status", post(status))
        .route_layer(middleware::from_fn_with_state(node, require_key));
    Some(routes)
}

/// Constant-time comparison, so the key cannot be guessed byte by byte from timing.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn require_key(State(node): State<Arc<Node>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("apikey "));
    let config = node.config();
    let expected = config.api_key.as_deref().unwrap_or_default();
    match given {
        Some(key) if !expected.is_empty() && same(key.trim().as_bytes(), expected.as_bytes()) => {
            next.run(req).await
        }
        _ => ApiError(
            StatusCode::UNAUTHORIZED,
            Error::new(ErrorCode::UNAUTHORIZED, "missing or wrong API key"),
        )
        .into_response(),
    }
}

fn handle(node: Arc<Node>) -> Handle {
    Handle::new(node)
}

async fn publish(
    State(node): State<Arc<Node>>,
    Json(req): Json<PublishRequest>,
) -> ApiResult<chorus_protocol::message::PublishResult> {
    Ok(Json(handle(node).publish(req).await?))
}

async fn broadcast(
    State(node): State<Arc<Node>>,
    Json(req): Json<BroadcastBody>,
) -> ApiResult<Empty> {
    handle(node).broadcast(req.data).await?;
    Ok(Json(Empty {}))
}

async fn send(State(node): State<Arc<Node>>, Json(req): Json<SendRequest>) -> ApiResult<Empty> {
    handle(node).send_to_user(&req.user, req.data).await?;
    Ok(Json(Empty {}))
}

async fn disconnect(
    State(node): State<Arc<Node>>,
    Json(req): Json<DisconnectBody>,
) -> ApiResult<Empty> {
    let code = if req.reconnect {
        CloseCode::FORCE_RECONNECT
    } else {
        CloseCode::KICKED
    };
    let reason = req
        .reason
        .as_deref()
        .unwrap_or("disconnected by the server");
    let h = handle(node);
    match (&req.user, &req.client) {
        (Some(user), _) => h.disconnect_user(user, code, reason).await?,
        (None, Some(client)) => h.disconnect_client(client, code, reason).await?,
        (None, None) => {
            return Err(Error::new(ErrorCode::BAD_REQUEST, "give user or client").into());
        }
    }
    Ok(Json(Empty {}))
}

async fn presence(
    State(node): State<Arc<Node>>,
    Json(req): Json<ChannelRequest>,
) -> ApiResult<chorus_protocol::message::PresenceResult> {
    Ok(Json(handle(node).presence(&req.channel).await?))
}

async fn presence_stats(
    State(node): State<Arc<Node>>,
    Json(req): Json<ChannelRequest>,
) -> ApiResult<chorus_protocol::message::PresenceStatsResult> {
    Ok(Json(handle(node).presence_stats(&req.channel).await?))
}

async fn history(
    State(node): State<Arc<Node>>,
    Json(req): Json<HistoryRequest>,
) -> ApiResult<chorus_protocol::message::HistoryResult> {
    Ok(Json(handle(node).history(req).await?))
}

#[derive(Serialize)]
struct Channels {
    channels: Vec<crate::handle::ChannelInfo>,
}

async fn channels(State(node): State<Arc<Node>>) -> Json<Channels> {
    Json(Channels {
        channels: handle(node).channels(),
    })
}

async fn stats(State(node): State<Arc<Node>>) -> Json<crate::broker::NodeCounts> {
    Json(handle(node).stats())
}

async fn info(State(node): State<Arc<Node>>) -> Json<crate::broker::NodeInfo> {
    Json(handle(node).info())
}

#[derive(Serialize)]
struct Nodes {
    nodes: Vec<crate::broker::NodeStatus>,
}

/// Live nodes (from the cluster registry; this node alone on the memory broker).
async fn nodes(State(node): State<Arc<Node>>) -> ApiResult<Nodes> {
    Ok(Json(Nodes {
        nodes: handle(node).nodes().await?,
    }))
}

/// Reloads the configuration from the node's source (file, environment,
/// flags); refused with 400 naming the option when invalid or fixed.
async fn reload(State(node): State<Arc<Node>>) -> ApiResult<Empty> {
    match node.reload_from_source().await {
        Ok(()) => Ok(Json(Empty {})),
        Err(crate::ReloadError::NoSource) => Err(Error::new(
            ErrorCode::NOT_AVAILABLE,
            "this node was started without a configuration source",
        )
        .into()),
        Err(e) => {
            tracing::warn!(error = %e, "reload refused");
            Err(Error::new(ErrorCode::BAD_REQUEST, e.to_string()).into())
        }
    }
}

/// How long a revocation is kept when the request does not say (`until`).
const DEFAULT_REVOCATION_SECS: u64 = 30 * 24 * 3600;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    jti: Option<String>,
    user: Option<String>,
    before: Option<u64>,
    until: Option<u64>,
}

/// Revokes one token (`jti`) or a user's tokens issued before `before`
/// (default: now), on every node.
async fn revoke(State(node): State<Arc<Node>>, Json(req): Json<RevokeBody>) -> ApiResult<Empty> {
    use crate::revocation::{Revocation, Revoked};
    let now = crate::clock::unix_secs();
    let revoked = match (req.jti, req.user) {
        (Some(jti), None) if !jti.is_empty() => Revoked::Token { jti },
        (None, Some(user)) if !user.is_empty() => Revoked::User {
            user,
            before: req.before.unwrap_or(now + 1),
        },
        _ => {
            return Err(Error::new(
                ErrorCode::BAD_REQUEST,
                "give exactly one of `jti` and `user`",
            )
            .into());
        }
    };
    let revocation = Revocation {
        revoked,
        until: req.until.unwrap_or(now + DEFAULT_REVOCATION_SECS),
    };
    handle(node).revoke(revocation).await?;
    Ok(Json(Empty {}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    users: Vec<String>,
}

#[derive(Serialize)]
struct StatusReply {
    users: Vec<crate::online::UserStatus>,
}

/// Most users one status request may ask about.
const MAX_STATUS_USERS: usize = 1_000;

/// Online status and last-seen time of users, across the cluster.
async fn status(
    State(node): State<Arc<Node>>,
    Json(req): Json<StatusBody>,
) -> ApiResult<StatusReply> {
    if req.users.len() > MAX_STATUS_USERS || req.users.iter().any(String::is_empty) {
        return Err(Error::new(
            ErrorCode::BAD_REQUEST,
            format!("give 0 to {MAX_STATUS_USERS} non-empty user ids"),
        )
        .into());
    }
    Ok(Json(StatusReply {
        users: node.user_status(req.users).await?,
    }))
}
