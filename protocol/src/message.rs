//! The fields of every command, reply and push.
//!
//! These are the bodies that sit under an operation key in a frame
//! (`{"id":1,"subscribe":{...}}`); the frame types in [`crate::frame`] add the key
//! and the request id. Optional fields are omitted when empty and default when
//! absent, so peers may leave them out. Unknown fields are ignored, which lets a
//! newer peer add fields without breaking an older one.
//!
//! All durations are milliseconds, in fields suffixed `_ms`.

use serde::{Deserialize, Serialize};

use crate::codes::{CloseCode, ErrorCode};
use crate::payload::Payload;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A body with no fields: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// A position in a channel's stream: the offset of the last publication seen
/// and the epoch of the stream it belongs to.
///
/// Offsets start at 1 and grow by one per publication. The epoch changes whenever
/// the stream is lost and restarted (for example a node restart without
/// persistent history); a position from another epoch cannot be recovered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamPosition {
    /// Offset of the last publication seen (0: none yet).
    pub offset: u64,
    /// Identity of the stream the offset belongs to.
    pub epoch: String,
}

/// Who published or joined: the user id and the connection's id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The authenticated user id (`""` for anonymous connections).
    pub user: String,
    /// The connection id, unique across the cluster.
    pub client: String,
    /// Application data attached at connect (by the token or a server hook).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::payload::option::deserialize"
    )]
    pub info: Option<Payload>,
}

/// A typed error, as carried in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// Code from [`crate::codes::ERROR_CODES`] or an application code (1000..=1999).
    pub code: ErrorCode,
    /// Human-readable detail; not stable, so match on `code`, never on this.
    pub message: String,
    /// Whether retrying can help.
    #[serde(default, skip_serializing_if = "is_false")]
    pub temporary: bool,
}

impl Error {
    /// An error with the temporary flag taken from the code table.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            temporary: code.is_temporary(),
        }
    }

    /// The close code that follows refusing `connect` with this error: the
    /// table's mapping ([`CloseCode::for_connect_error`]) for its codes, while
    /// an application code (1000..=1999) follows the error's own `temporary`
    /// flag, so a hook's "try again later" closes in the reconnect range.
    pub fn connect_close_code(&self) -> CloseCode {
        if self.code.info().is_none() && self.temporary {
            CloseCode::INTERNAL
        } else {
            CloseCode::for_connect_error(self.code)
        }
    }
}

// ---- commands (client -> server) ----

/// `connect`: authenticate, and optionally subscribe (with recovery) in the same round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectRequest {
    /// A JWT; absent for anonymous access where the server allows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Client library name, for logs and metrics (`chorus-rust`, `chorus-js`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Client library version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Application data for the server's `on_connect` hook.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::payload::option::deserialize"
    )]
    pub data: Option<Payload>,
    /// Subscriptions to (re)establish, with recovery positions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subs: Vec<SubscribeRequest>,
    /// This device's last position in the user's inbox: the server replays the
    /// messages sent to the user since then (absent: nothing is replayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox: Option<StreamPosition>,
}

/// `subscribe`: join a channel, optionally recovering what was missed since a position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeRequest {
    /// The channel name (see [`crate::channel`]).
    pub channel: String,
    /// Recover publications after this position (a resubscribe after a disconnect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<StreamPosition>,
    /// Application data for the server's `on_subscribe` hook.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::payload::option::deserialize"
    )]
    pub data: Option<Payload>,
}

/// `unsubscribe`, `presence`, `presence_stats`: a command that names one channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRequest {
    /// The channel to leave or ask about ([`crate::channel`] grammar; else error 107).
    pub channel: String,
}

/// `publish`: send data to every subscriber of a channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishRequest {
    /// The channel to publish to ([`crate::channel`] grammar; else error 107).
    pub channel: String,
    /// Opaque bytes for every subscriber; over the server's payload limit: error 113.
    pub data: Payload,
    /// A key that makes the publish idempotent: a second publish with the same key
    /// to the same channel within the server's window is acknowledged but not delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `send`: deliver data to every connection of one user, on any node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    /// The recipient's user id (not empty; [`crate::user`] grammar).
    pub user: String,
    /// Opaque bytes, pushed unchanged as a `message` to each of the user's connections.
    pub data: Payload,
}

/// `broadcast`: deliver data to every connection on every node (permission-gated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastRequest {
    /// Opaque bytes, pushed as a `message` (`broadcast` true) to every connection,
    /// the sender's included.
    pub data: Payload,
}

/// `history`: read a page of a channel's stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRequest {
    /// The channel to read; its namespace must keep history (else error 108).
    pub channel: String,
    /// Maximum number of publications (0 or absent: only the current position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Start after this position instead of at the oldest (or newest, if `reverse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<StreamPosition>,
    /// Read backwards: the newest `limit` (or those before `since`), newest first.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reverse: bool,
}

/// `refresh`: replace the connection's token before it expires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    /// The new JWT; its `sub` must be the connection's user (else error 101).
    pub token: String,
}

/// `rpc`: an application-defined call, answered by the server's `on_rpc` hook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcRequest {
    /// Application-defined method name.
    pub method: String,
    /// Opaque argument for the hook; empty bytes when absent.
    #[serde(default)]
    pub data: Payload,
}

// ---- replies (server -> client, echoing the id) ----

/// Reply to `connect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectResult {
    /// This connection's id, unique across the cluster; a reconnect gets a new one.
    pub client: String,
    /// The authenticated user id (`""` when anonymous).
    pub user: String,
    /// Server name and version.
    pub version: String,
    /// Interval between server pings; 0 means the server sends none.
    #[serde(default)]
    pub ping_interval_ms: u32,
    /// Whether the client must answer each ping with a `pong` frame.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pong: bool,
    /// Time until the token expires; refresh before then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_ms: Option<u64>,
    /// Application data from the server's `on_connect` hook.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::payload::option::deserialize"
    )]
    pub data: Option<Payload>,
    /// Outcome of each subscription asked for in the connect command, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subs: Vec<ConnectSub>,
    /// The user's inbox, when the server keeps one (authenticated users only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox: Option<InboxResult>,
}

/// The inbox part of a connect reply: like a subscribe reply with recovery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxResult {
    /// The inbox's current position.
    pub position: StreamPosition,
    /// With `inbox` in the connect: true if `messages` holds every message sent
    /// to the user after that position.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recovered: bool,
    /// The messages after the connect's `inbox` position, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
}

/// Outcome of one subscription made as part of `connect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectSub {
    /// The channel of the command's `subs` entry this outcome answers.
    pub channel: String,
    /// The subscription, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<SubscribeResult>,
    /// The error, on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Error>,
}

/// Reply to `subscribe`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeResult {
    /// The stream's current position; absent when the channel keeps no history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<StreamPosition>,
    /// When `since` was given: true if every publication after it is in
    /// `publications`; false if some were lost (epoch changed or window exceeded).
    #[serde(default, skip_serializing_if = "is_false")]
    pub recovered: bool,
    /// Recovered publications, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publications: Vec<Publication>,
    /// Application data from the server's `on_subscribe` hook.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::payload::option::deserialize"
    )]
    pub data: Option<Payload>,
}

/// Reply to `publish`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishResult {
    /// Position of the new publication, when the channel keeps history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<StreamPosition>,
    /// True when the idempotency key was seen before and nothing was delivered.
    #[serde(default, skip_serializing_if = "is_false")]
    pub duplicate: bool,
}

/// Reply to `presence`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceResult {
    /// Every connection subscribed to the channel, on every node.
    pub clients: Vec<ClientInfo>,
}

/// Reply to `presence_stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceStatsResult {
    /// Number of subscribed connections.
    pub clients: u32,
    /// Number of distinct users among them.
    pub users: u32,
}

/// Reply to `history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryResult {
    /// The stream's current position.
    pub position: StreamPosition,
    /// The page, in offset order (newest first with `reverse`); empty with
    /// `limit` 0 or when `since` names another epoch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publications: Vec<Publication>,
}

/// Reply to `refresh`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshResult {
    /// Time until the new token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_ms: Option<u64>,
}

/// Reply to `rpc`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcResult {
    /// Application data returned by the hook.
    #[serde(default)]
    pub data: Payload,
}

// ---- pushes (server -> client, no id) ----

/// A message published to a channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    /// The channel it was published to.
    pub channel: String,
    /// Offset in the channel's stream (absent when the channel keeps no history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Epoch of the stream the offset belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// Opaque bytes exactly as published, whatever codec the publisher used.
    pub data: Payload,
    /// The publisher, when it was a client (absent for server API publishes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<ClientInfo>,
}

/// A connection joined or left a channel (namespaces with join/leave events on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The channel joined or left; pushed only to its subscribers.
    pub channel: String,
    /// Who joined or left.
    pub info: ClientInfo,
}

/// A message to this user (`send`) or to everyone (`broadcast`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Opaque bytes exactly as sent, whatever codec the sender used.
    pub data: Payload,
    /// The sender, when it was a client (absent when the server API sent it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ClientInfo>,
    /// True for a broadcast to every connection, false for a message to this user.
    #[serde(default, skip_serializing_if = "is_false")]
    pub broadcast: bool,
    /// Offset of a message to this user in the user's inbox (when the server
    /// keeps inboxes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Epoch of the inbox the offset belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
}

/// The server is about to close the connection; also sent as the WebSocket close code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disconnect {
    /// The close code (see [`crate::codes::CLOSE_CODES`]).
    pub code: CloseCode,
    /// Human-readable reason, possibly empty: for logs, not for matching.
    pub reason: String,
    /// Whether the client should reconnect: false for terminal codes (4500..=4999).
    pub reconnect: bool,
}

/// The server ended a subscription (permission revoked, channel closed, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribed {
    /// The channel whose subscription ended; the client must not resubscribe on its own.
    pub channel: String,
    /// Why, as an error code.
    pub code: ErrorCode,
    /// Human-readable reason: for logs, not for matching (use `code`).
    pub reason: String,
}
