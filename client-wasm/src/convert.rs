//! Conversions between JavaScript values and the protocol crate's types.
//!
//! Options arrive as a JSON object with the [`ClientConfig`] names in camelCase;
//! events leave as plain objects `{type: "...", ...}` whose payloads take the
//! protocol's JSON form (JSON data as itself, other bytes as `{"$bytes": base64}`).

use chorus_protocol::client::{BackoffConfig, ClientConfig, CloseReason, Event, UnsubscribeReason};
use chorus_protocol::codec::Codec;
use chorus_protocol::message::{Error, StreamPosition};
use chorus_protocol::{Payload, ReplyBody};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// The options a JavaScript client may set; absent ones keep the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Options {
    /// Several node URLs, replacing the constructor's one (see `ClientConfig::urls`).
    urls: Option<Vec<String>>,
    codec: Option<String>,
    token: Option<String>,
    token_provider: Option<bool>,
    /// Application data for `connect`, already serialised (JSON text).
    connect_data: Option<String>,
    name: Option<String>,
    version: Option<String>,
    min_reconnect_delay_ms: Option<u64>,
    max_reconnect_delay_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    ping_grace_ms: Option<u64>,
    max_queued: Option<usize>,
    refresh_margin_ms: Option<u64>,
    max_buffered_publications: Option<usize>,
    inbox_since: Option<StreamPosition>,
}

impl Options {
    /// Parses the options' JSON text.
    pub fn parse(json: &str) -> Result<Options, String> {
        if json.trim().is_empty() {
            return Ok(Options::default());
        }
        serde_json::from_str(json).map_err(|e| format!("invalid options: {e}"))
    }

    /// The state machine's configuration for `url` (unless the options list
    /// several), with `seed` for the jitter.
    pub fn into_config(self, url: String, seed: u64) -> Result<ClientConfig, String> {
        let defaults = ClientConfig::default();
        let codec = match self.codec.as_deref() {
            None => Codec::Json,
            Some(name) => Codec::from_name(name)
                .ok_or_else(|| format!("unknown codec {name:?} (json or msgpack)"))?,
        };
        let backoff = BackoffConfig {
            min_ms: self
                .min_reconnect_delay_ms
                .unwrap_or(defaults.backoff.min_ms),
            max_ms: self
                .max_reconnect_delay_ms
                .unwrap_or(defaults.backoff.max_ms),
        };
        let urls = match self.urls {
            Some(urls) if !urls.is_empty() => urls,
            _ => vec![url],
        };
        let config = ClientConfig {
            urls,
            codec,
            token: self.token,
            token_provider: self.token_provider.unwrap_or(false),
            connect_data: self.connect_data.map(|d| Payload::new(d.into_bytes())),
            name: self.name.unwrap_or_else(|| "chorus-js".to_owned()),
            version: self.version.unwrap_or(defaults.version),
            backoff,
            request_timeout_ms: self
                .request_timeout_ms
                .unwrap_or(defaults.request_timeout_ms),
            connect_timeout_ms: self
                .connect_timeout_ms
                .unwrap_or(defaults.connect_timeout_ms),
            ping_grace_ms: self.ping_grace_ms.unwrap_or(defaults.ping_grace_ms),
            max_queued: self.max_queued.unwrap_or(defaults.max_queued),
            refresh_margin_ms: self.refresh_margin_ms.unwrap_or(defaults.refresh_margin_ms),
            max_buffered_publications: self
                .max_buffered_publications
                .unwrap_or(defaults.max_buffered_publications),
            random_seed: seed,
            inbox_since: self.inbox_since,
        };
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

/// A close reason as `{code, name, reason}`.
#[derive(Serialize)]
struct CloseView<'a> {
    code: u16,
    name: &'static str,
    reason: &'a str,
}

impl<'a> From<&'a CloseReason> for CloseView<'a> {
    fn from(r: &'a CloseReason) -> Self {
        CloseView {
            code: r.code.0,
            name: r.code.name(),
            reason: &r.reason,
        }
    }
}

/// The connect result as the application sees it: camelCase like the
/// options, without what the machine consumed (subscription outcomes, inbox).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectView<'a> {
    client: &'a str,
    user: &'a str,
    version: &'a str,
    ping_interval_ms: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Payload>,
}

/// A reply body without its operation key (the key goes in `op`).
#[derive(Serialize)]
#[serde(untagged)]
enum BodyView<'a> {
    Connect(&'a chorus_protocol::message::ConnectResult),
    Subscribe(&'a chorus_protocol::message::SubscribeResult),
    Empty(&'a chorus_protocol::message::Empty),
    Publish(&'a chorus_protocol::message::PublishResult),
    Presence(&'a chorus_protocol::message::PresenceResult),
    PresenceStats(&'a chorus_protocol::message::PresenceStatsResult),
    History(&'a chorus_protocol::message::HistoryResult),
    Refresh(&'a chorus_protocol::message::RefreshResult),
    Rpc(&'a chorus_protocol::message::RpcResult),
}

impl<'a> From<&'a ReplyBody> for BodyView<'a> {
    fn from(body: &'a ReplyBody) -> Self {
        match body {
            ReplyBody::Connect(b) => BodyView::Connect(b),
            ReplyBody::Subscribe(b) => BodyView::Subscribe(b),
            ReplyBody::Publish(b) => BodyView::Publish(b),
            ReplyBody::Presence(b) => BodyView::Presence(b),
            ReplyBody::PresenceStats(b) => BodyView::PresenceStats(b),
            ReplyBody::History(b) => BodyView::History(b),
            ReplyBody::Refresh(b) => BodyView::Refresh(b),
            ReplyBody::Rpc(b) => BodyView::Rpc(b),
            ReplyBody::Unsubscribe(b)
            | ReplyBody::Send(b)
            | ReplyBody::Broadcast(b)
            | ReplyBody::Ping(b) => BodyView::Empty(b),
        }
    }
}

/// An event (or a token request) as the JavaScript layer receives it.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum View<'a> {
    State {
        state: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<CloseView<'a>>,
    },
    Connected {
        result: ConnectView<'a>,
    },
    /// Flat, as the application gets it: `{code, name, reason, url, attempt, retryInMs?}`.
    Failure {
        #[serde(flatten)]
        reason: CloseView<'a>,
        url: &'a str,
        attempt: u32,
        #[serde(rename = "retryInMs", skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<u64>,
    },
    Ready {
        channel: &'a str,
    },
    Subscribing {
        channel: &'a str,
    },
    Subscribed {
        channel: &'a str,
        recovery: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<&'a Payload>,
    },
    Unsubscribed {
        channel: &'a str,
        /// `client`, `server` or `refused`.
        reason: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a Error>,
    },
    Publication {
        publication: &'a chorus_protocol::message::Publication,
    },
    Gap {
        channel: &'a str,
        first: u64,
        last: u64,
        recovered: bool,
    },
    Join {
        membership: &'a chorus_protocol::message::Membership,
    },
    Leave {
        membership: &'a chorus_protocol::message::Membership,
    },
    Message {
        message: &'a chorus_protocol::message::Message,
    },
    Inbox {
        recovery: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        position: Option<&'a StreamPosition>,
    },
    Reply {
        request: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        op: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<BodyView<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a Error>,
    },
    Warning {
        message: &'a str,
    },
    FetchToken,
}

fn view<'a>(event: &'a Event, inbox: Option<&'a StreamPosition>) -> View<'a> {
    match event {
        Event::State { state, reason } => View::State {
            state: state.name(),
            reason: reason.as_ref().map(CloseView::from),
        },
        Event::Connected(result) => View::Connected {
            result: ConnectView {
                client: &result.client,
                user: &result.user,
                version: &result.version,
                ping_interval_ms: result.ping_interval_ms,
                expires_in_ms: result.expires_in_ms,
                data: result.data.as_ref(),
            },
        },
        Event::Failure(f) => View::Failure {
            reason: CloseView::from(&f.reason),
            url: &f.url,
            attempt: f.attempt,
            retry_in_ms: f.retry_in_ms,
        },
        Event::Ready { channel } => View::Ready { channel },
        Event::Subscribing { channel } => View::Subscribing { channel },
        Event::Subscribed {
            channel,
            recovery,
            data,
        } => View::Subscribed {
            channel,
            recovery: recovery.name(),
            data: data.as_ref(),
        },
        Event::Unsubscribed { channel, reason } => {
            let (reason, error) = match reason {
                UnsubscribeReason::Client => ("client", None),
                UnsubscribeReason::Server(e) => ("server", Some(e)),
                UnsubscribeReason::Refused(e) => ("refused", Some(e)),
            };
            View::Unsubscribed {
                channel,
                reason,
                error,
            }
        }
        Event::Publication(publication) => View::Publication { publication },
        Event::Gap {
            channel,
            first,
            last,
            recovered,
        } => View::Gap {
            channel,
            first: *first,
            last: *last,
            recovered: *recovered,
        },
        Event::Join(membership) => View::Join { membership },
        Event::Leave(membership) => View::Leave { membership },
        Event::Message(message) => View::Message { message },
        Event::Inbox(recovery) => View::Inbox {
            recovery: recovery.name(),
            position: inbox,
        },
        Event::Reply { request, result } => match result {
            Ok(body) => View::Reply {
                request: request.0,
                op: Some(body.key()),
                body: Some(BodyView::from(body)),
                error: None,
            },
            Err(error) => View::Reply {
                request: request.0,
                op: None,
                body: None,
                error: Some(error),
            },
        },
        Event::Warning(message) => View::Warning { message },
    }
}

/// Serialises a view as JSON text, then lets the host parse it: payloads that
/// are JSON arrive as ordinary JavaScript values.
fn to_js(view: &View<'_>) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(view).map_err(|e| JsValue::from_str(&e.to_string()))?;
    js_sys::JSON::parse(&text)
}

/// An event for the application; `inbox` is the machine's inbox position.
pub fn event_to_js(event: &Event, inbox: Option<&StreamPosition>) -> Result<JsValue, JsValue> {
    to_js(&view(event, inbox))
}

/// The request for a token (the machine's `FetchToken` action).
pub fn fetch_token_js() -> Result<JsValue, JsValue> {
    to_js(&View::FetchToken)
}

/// A protocol error as a JavaScript object `{code, message, temporary}`.
pub fn error_to_js(error: &Error) -> JsValue {
    serde_json::to_string(error)
        .ok()
        .and_then(|t| js_sys::JSON::parse(&t).ok())
        .unwrap_or_else(|| JsValue::from_str(&error.to_string()))
}

/// An optional stream position from its two parts.
pub fn position(offset: Option<f64>, epoch: Option<String>) -> Option<StreamPosition> {
    match (offset, epoch) {
        (Some(offset), Some(epoch)) => Some(StreamPosition {
            offset: offset.max(0.0) as u64,
            epoch,
        }),
        _ => None,
    }
}
