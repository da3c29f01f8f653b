//! What leaves the client for JavaScript: the state machine's events (and the
//! token request) as plain objects `{type: "...", ...}`, errors as
//! `{code, message, temporary}`. Each shape is a struct here, built with
//! serde-wasm-bindgen straight into JavaScript values, and its TypeScript
//! type is generated from it (the package's `.d.ts`): what crosses the
//! boundary is typed on both sides.
//!
//! Application data is the one value of the application's own: JSON data
//! becomes the value it encodes (the engine's `JSON.parse` of its text),
//! other bytes the protocol's `{ $bytes: "<base64>" }`, as the JSON codec
//! carries them.

use chorus_protocol::client::{self, UnsubscribeReason};
use chorus_protocol::message as m;
use chorus_protocol::{Payload, ReplyBody as Body};
use serde::Serialize;
use tsify::Tsify;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const NAMES: &'static str = r#"
/**
 * Application data as received. JSON data arrives as the value it encodes;
 * bytes that are not JSON arrive in the protocol's form `{ $bytes: "<base64>" }`.
 */
export type Data = unknown;
/** Wire codec: JSON text frames or MessagePack binary frames. */
export type Codec = 'json' | 'msgpack';
/** Connection states, as the shared state machine defines them. */
export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'closed';
/** Subscription states. */
export type SubscriptionState = 'unsubscribed' | 'subscribing' | 'subscribed';
/** What a (re)subscribe achieved: nothing to recover, every missed publication, or a gap. */
export type Recovery = 'fresh' | 'recovered' | 'unrecoverable';
/** Why a subscription ended: `unsubscribe()`, the server, or a refused subscribe. */
export type UnsubscribeReason = 'client' | 'server' | 'refused';
"#;

/// Application data, as the module doc says it arrives: every payload of
/// every shape below is one of these.
pub struct Data(JsValue);

impl Data {
    /// `payload` as a JavaScript value.
    fn of(payload: &Payload) -> Data {
        Data(match payload.json_text().map(js_sys::JSON::parse) {
            Some(Ok(value)) => value,
            _ => {
                let wrapped = js_sys::Object::new();
                let _ = js_sys::Reflect::set(
                    &wrapped,
                    &JsValue::from_str(chorus_protocol::payload::BYTES_KEY),
                    &JsValue::from_str(&payload.to_base64()),
                );
                wrapped.into()
            }
        })
    }
}

impl Serialize for Data {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_wasm_bindgen::preserve::serialize(&self.0, s)
    }
}

/// A position in a channel's (or an inbox's) stream.
#[derive(Serialize, Tsify)]
pub struct StreamPosition<'a> {
    /// The offset of the last publication (0: none yet).
    pub offset: u64,
    /// The stream's epoch: offsets of another epoch do not compare.
    pub epoch: &'a str,
}

impl<'a> From<&'a m::StreamPosition> for StreamPosition<'a> {
    fn from(p: &'a m::StreamPosition) -> Self {
        StreamPosition {
            offset: p.offset,
            epoch: &p.epoch,
        }
    }
}

/// Who published or joined.
#[derive(Serialize, Tsify)]
pub struct ClientInfo<'a> {
    /// The user id (empty when anonymous).
    pub user: &'a str,
    /// The connection id.
    pub client: &'a str,
    /// Connection info set by the token or the `on_connect` hook.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "Data")]
    pub info: Option<Data>,
}

impl<'a> From<&'a m::ClientInfo> for ClientInfo<'a> {
    fn from(c: &'a m::ClientInfo) -> Self {
        ClientInfo {
            user: &c.user,
            client: &c.client,
            info: c.info.as_ref().map(Data::of),
        }
    }
}

/// A publication in a subscribed channel.
#[derive(Serialize, Tsify)]
pub struct Publication<'a> {
    /// The channel it was published to.
    pub channel: &'a str,
    /// Its offset (channels with history).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub offset: Option<u64>,
    /// The epoch of its offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub epoch: Option<&'a str>,
    /// What was published.    #[tsify(type = "Data")]
    pub data: Data,
    /// The publisher, when the namespace shares it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub info: Option<ClientInfo<'a>>,
}

impl<'a> From<&'a m::Publication> for Publication<'a> {
    fn from(p: &'a m::Publication) -> Self {
        Publication {
            channel: &p.channel,
            offset: p.offset,
            epoch: p.epoch.as_deref(),
            data: Data::of(&p.data),
            info: p.info.as_ref().map(ClientInfo::from),
        }
    }
}

/// A join or a leave.
#[derive(Serialize, Tsify)]
pub struct Membership<'a> {
    /// The channel joined or left.
    pub channel: &'a str,
    /// Who joined or left.
    pub info: ClientInfo<'a>,
}

impl<'a> From<&'a m::Membership> for Membership<'a> {
    fn from(j: &'a m::Membership) -> Self {
        Membership {
            channel: &j.channel,
            info: ClientInfo::from(&j.info),
        }
    }
}

/// A message sent to this user, or a broadcast.
#[derive(Serialize, Tsify)]
pub struct Message<'a> {
    /// What was sent.    #[tsify(type = "Data")]
    pub data: Data,
    /// The sender (absent for the server API).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub from: Option<ClientInfo<'a>>,
    /// True for a broadcast to every connection.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[tsify(optional)]
    pub broadcast: bool,
    /// Its offset in the user's inbox (servers that keep inboxes).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub offset: Option<u64>,
    /// The inbox's epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub epoch: Option<&'a str>,
}

impl<'a> From<&'a m::Message> for Message<'a> {
    fn from(x: &'a m::Message) -> Self {
        Message {
            data: Data::of(&x.data),
            from: x.from.as_ref().map(ClientInfo::from),
            broadcast: x.broadcast,
            offset: x.offset,
            epoch: x.epoch.as_deref(),
        }
    }
}

/// Why a connection ended: a close code from the protocol's table.
#[derive(Serialize, Tsify)]
pub struct CloseReason<'a> {
    /// The close code, from the protocol's table (1006 and 4009 are the client's own).
    pub code: u16,
    /// The code's stable name, e.g. `token_expired`.
    pub name: &'static str,
    /// The server's close reason, or what the client saw ("could not open the connection").
    pub reason: &'a str,
}

impl<'a> From<&'a client::CloseReason> for CloseReason<'a> {
    fn from(r: &'a client::CloseReason) -> Self {
        CloseReason {
            code: r.code.0,
            name: r.code.name(),
            reason: &r.reason,
        }
    }
}

/// A failed connection attempt or a lost connection: the close code and
/// reason, and what comes next.
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionFailure<'a> {
    /// The close code, as in [`CloseReason`].
    pub code: u16,
    /// The code's stable name, as in [`CloseReason`].
    pub name: &'static str,
    /// The close reason, as in [`CloseReason`].
    pub reason: &'a str,
    /// The node URL of the attempt.
    pub url: &'a str,
    /// Consecutive failures since the client was last connected (1 for the first).
    pub attempt: u32,
    /// Milliseconds until the next attempt; absent when the failure is terminal.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub retry_in_ms: Option<u64>,
}

/// The server's answer to `connect`, without what the machine consumed
/// (subscription outcomes, inbox).
#[derive(Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ConnectResult<'a> {
    /// This connection's id, unique across the cluster.
    pub client: &'a str,
    /// The authenticated user (`sub` of the token; empty when anonymous).
    pub user: &'a str,
    /// The server's version.
    pub version: &'a str,
    /// How often the server pings (0: never); the client watches for it.
    pub ping_interval_ms: u32,
    /// When the token expires, in milliseconds from now; the client refreshes it before.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub expires_in_ms: Option<u64>,
    /// Data from the server's `on_connect` hook.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "Data")]
    pub data: Option<Data>,
}

/// A request's failure, or a refused call: `{code, message, temporary}`.
#[derive(Serialize, Tsify)]
pub struct ErrorInfo<'a> {
    /// The error code from the protocol's table.
    pub code: u16,
    /// What went wrong, for people (the code is what programs compare).
    pub message: &'a str,
    /// Whether trying again later may succeed.
    pub temporary: bool,
}

impl<'a> From<&'a m::Error> for ErrorInfo<'a> {
    fn from(e: &'a m::Error) -> Self {
        ErrorInfo {
            code: e.code.0,
            message: &e.message,
            temporary: e.temporary,
        }
    }
}

/// The answer to `publish`.
#[derive(Serialize, Tsify)]
pub struct PublishResult<'a> {
    /// Where it was stored (channels with history).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub position: Option<StreamPosition<'a>>,
    /// True when the idempotency key was a repeat and nothing was published.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[tsify(optional)]
    pub duplicate: bool,
}

/// The answer to `presenceStats`.
#[derive(Serialize, Tsify)]
pub struct PresenceStats {
    /// Member connections.
    pub clients: u32,
    /// Distinct users among them.
    pub users: u32,
}

/// A page of history.
#[derive(Serialize, Tsify)]
pub struct HistoryResult<'a> {
    /// The channel's current position.
    pub position: StreamPosition<'a>,
    /// The page, oldest first (newest first when reversed).
    pub publications: Vec<Publication<'a>>,
}

/// A request's answer, by the request's operation.
#[derive(Serialize, Tsify)]
#[serde(tag = "op", content = "result", rename_all = "snake_case")]
pub enum Reply<'a> {
    /// `connect` (the machine's own; its result is the `connected` event).
    Connect,
    /// `subscribe` (the machine's own; its outcome is the `subscribed` event).
    Subscribe,
    /// `unsubscribe`: done, nothing to say.
    Unsubscribe,
    /// `publish`: where it was stored.
    Publish(PublishResult<'a>),
    /// `presence`: every member connection.
    Presence(Vec<ClientInfo<'a>>),
    /// `presence_stats`: the counts.
    PresenceStats(PresenceStats),
    /// `history`: one page.
    History(HistoryResult<'a>),
    /// `send`: handed to the user's connections (and inbox).
    Send,
    /// `broadcast`: handed to every connection.
    Broadcast,
    /// `refresh`: the new token is in use.
    Refresh,
    /// `rpc`: the handler's data.
    Rpc(#[tsify(type = "Data")] Data),
    /// `ping`: the server answered.
    Ping,
}

impl<'a> From<&'a Body> for Reply<'a> {
    fn from(body: &'a Body) -> Self {
        match body {
            Body::Connect(_) => Reply::Connect,
            Body::Subscribe(_) => Reply::Subscribe,
            Body::Unsubscribe(_) => Reply::Unsubscribe,
            Body::Publish(r) => Reply::Publish(PublishResult {
                position: r.position.as_ref().map(StreamPosition::from),
                duplicate: r.duplicate,
            }),
            Body::Presence(r) => Reply::Presence(r.clients.iter().map(ClientInfo::from).collect()),
            Body::PresenceStats(r) => Reply::PresenceStats(PresenceStats {
                clients: r.clients,
                users: r.users,
            }),
            Body::History(r) => Reply::History(HistoryResult {
                position: StreamPosition::from(&r.position),
                publications: r.publications.iter().map(Publication::from).collect(),
            }),
            Body::Send(_) => Reply::Send,
            Body::Broadcast(_) => Reply::Broadcast,
            Body::Refresh(_) => Reply::Refresh,
            Body::Rpc(r) => Reply::Rpc(Data::of(&r.data)),
            Body::Ping(_) => Reply::Ping,
        }
    }
}

/// An event (or the token request) as the TypeScript layer receives it.
#[derive(Serialize, Tsify)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WasmEvent<'a> {
    /// The connection state changed; `reason` explains a loss or a close.
    State {
        /// The new state.
        #[tsify(type = "ConnectionState")]
        state: &'static str,
        /// Why, after a loss or a close.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[tsify(optional)]
        reason: Option<CloseReason<'a>>,
    },
    /// Authenticated.
    Connected {
        /// The server's answer.
        result: ConnectResult<'a>,
    },
    /// An attempt failed or the connection was lost, before the state change it leads to.
    Failure {
        /// What failed, and what comes next.
        failure: ConnectionFailure<'a>,
    },
    /// A subscription is live for the first time.
    Ready {
        /// The subscription's channel (the key the package routes it by).
        channel: &'a str,
    },
    /// A subscription waits for the server (also while reconnecting).
    Subscribing {
        /// The subscription's channel (the key the package routes it by).
        channel: &'a str,
    },
    /// A subscription is live (again).
    Subscribed {
        /// The subscription's channel (the key the package routes it by).
        channel: &'a str,
        /// Whether missed publications were all delivered.
        #[tsify(type = "Recovery")]
        recovery: &'static str,
        /// Data from the server's `on_subscribe` hook.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "Data")]
        data: Option<Data>,
    },
    /// A subscription ended.
    Unsubscribed {
        /// The subscription's channel (the key the package routes it by).
        channel: &'a str,
        /// Who ended it.
        #[tsify(type = "UnsubscribeReason")]
        reason: &'static str,
        /// The server's error (ended by the server, or refused).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[tsify(optional)]
        error: Option<ErrorInfo<'a>>,
    },
    /// A publication, once and in offset order.
    Publication {
        /// The publication, with its data already a JavaScript value.
        publication: Publication<'a>,
    },
    /// Live publications skipped `first`..`last`; they were read from history.
    Gap {
        /// The subscription's channel.
        channel: &'a str,
        /// The first offset skipped.
        first: u64,
        /// The last offset skipped.
        last: u64,
        /// True when all of them were delivered just before.
        recovered: bool,
    },
    /// Someone joined.
    Join {
        /// Who joined, and which channel.
        membership: Membership<'a>,
    },
    /// Someone left.
    Leave {
        /// Who left, and which channel.
        membership: Membership<'a>,
    },
    /// A message to this user, or a broadcast.
    Message {
        /// The message, with its data already a JavaScript value.
        message: Message<'a>,
    },
    /// The inbox outcome after a connect.
    Inbox {
        /// Whether the messages missed while away were all delivered.
        #[tsify(type = "Recovery")]
        recovery: &'static str,
        /// The inbox position to persist.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[tsify(optional)]
        position: Option<StreamPosition<'a>>,
    },
    /// A request's answer or failure.
    Reply {
        /// The id the request call returned.
        request: u64,
        /// The answer, when it succeeded.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[tsify(optional)]
        reply: Option<Reply<'a>>,
        /// The failure, when it did not.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[tsify(optional)]
        error: Option<ErrorInfo<'a>>,
    },
    /// The server sent something this client could not use; it was ignored.
    Warning {
        /// What was wrong.
        message: &'a str,
    },
    /// The machine needs a token: answer with `setToken` or `tokenFailed`.
    FetchToken,
}

impl<'a> WasmEvent<'a> {
    /// The machine's event as JavaScript sees it; `inbox` is the machine's
    /// inbox position (the `inbox` event carries it).
    pub fn of(event: &'a client::Event, inbox: Option<&'a m::StreamPosition>) -> Self {
        use client::Event as E;
        match event {
            E::State { state, reason } => WasmEvent::State {
                state: state.name(),
                reason: reason.as_ref().map(CloseReason::from),
            },
            E::Connected(r) => WasmEvent::Connected {
                result: ConnectResult {
                    client: &r.client,
                    user: &r.user,
                    version: &r.version,
                    ping_interval_ms: r.ping_interval_ms,
                    expires_in_ms: r.expires_in_ms,
                    data: r.data.as_ref().map(Data::of),
                },
            },
            E::Failure(f) => {
                let CloseReason { code, name, reason } = CloseReason::from(&f.reason);
                WasmEvent::Failure {
                    failure: ConnectionFailure {
                        code,
                        name,
                        reason,
                        url: &f.url,
                        attempt: f.attempt,
                        retry_in_ms: f.retry_in_ms,
                    },
                }
            }
            E::Ready { channel } => WasmEvent::Ready { channel },
            E::Subscribing { channel } => WasmEvent::Subscribing { channel },
            E::Subscribed {
                channel,
                recovery,
                data: d,
            } => WasmEvent::Subscribed {
                channel,
                recovery: recovery.name(),
                data: d.as_ref().map(Data::of),
            },
            E::Unsubscribed { channel, reason } => {
                let (reason, error) = match reason {
                    UnsubscribeReason::Client => ("client", None),
                    UnsubscribeReason::Server(e) => ("server", Some(ErrorInfo::from(e))),
                    UnsubscribeReason::Refused(e) => ("refused", Some(ErrorInfo::from(e))),
                };
                WasmEvent::Unsubscribed {
                    channel,
                    reason,
                    error,
                }
            }
            E::Publication(p) => WasmEvent::Publication {
                publication: Publication::from(p),
            },
            E::Gap {
                channel,
                first,
                last,
                recovered,
            } => WasmEvent::Gap {
                channel,
                first: *first,
                last: *last,
                recovered: *recovered,
            },
            E::Join(j) => WasmEvent::Join {
                membership: Membership::from(j),
            },
            E::Leave(j) => WasmEvent::Leave {
                membership: Membership::from(j),
            },
            E::Message(x) => WasmEvent::Message {
                message: Message::from(x),
            },
            E::Inbox(recovery) => WasmEvent::Inbox {
                recovery: recovery.name(),
                position: inbox.map(StreamPosition::from),
            },
            E::Reply { request, result } => WasmEvent::Reply {
                request: request.0,
                reply: result.as_ref().ok().map(Reply::from),
                error: result.as_ref().err().map(ErrorInfo::from),
            },
            E::Warning(message) => WasmEvent::Warning { message },
        }
    }
}

/// `value` as a JavaScript value (plain objects, numbers for integers).
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::new())
        .map_err(JsValue::from)
}

/// A protocol error as a JavaScript object `{code, message, temporary}`.
pub fn error_to_js(error: &m::Error) -> JsValue {
    to_js(&ErrorInfo::from(error)).unwrap_or_else(|_| JsValue::from_str(&error.to_string()))
}

/// An optional stream position from its two parts.
pub fn position(offset: Option<f64>, epoch: Option<String>) -> Option<m::StreamPosition> {
    match (offset, epoch) {
        (Some(offset), Some(epoch)) => Some(m::StreamPosition {
            offset: offset.max(0.0) as u64,
            epoch,
        }),
        _ => None,
    }
}
