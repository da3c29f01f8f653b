//! The records and enums apps see, converted from the Rust client's types.
//!
//! Application data is bytes (`ByteArray` in Kotlin, `Data` in Swift): Chorus
//! never interprets it, and JSON apps send UTF-8 JSON.

use std::fmt;

use chorus_client as core;

/// The wire codec (a WebSocket subprotocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum WireCodec {
    /// `chorus.v1.json`: text frames, readable in browser tools.
    Json,
    /// `chorus.v1.msgpack`: binary frames, smaller and faster.
    MessagePack,
}

/// How to connect. Every field is optional; unset ones take the defaults that
/// every Chorus SDK shares (docs/protocol.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ClientOptions {
    /// More node URLs of the same cluster: after a failed attempt or a lost
    /// connection the client moves on to the next (the client's `url` first).
    #[uniffi(default)]
    pub fallback_urls: Vec<String>,
    /// PEM text of CA certificates to trust for `wss://` beyond the
    /// platform's (self-signed deployments, tests).
    #[uniffi(default)]
    pub root_certificates_pem: Option<String>,
    /// A JWT from the app's backend (or pass a token source to the client).
    #[uniffi(default)]
    pub token: Option<String>,
    /// Wire codec (default JSON).
    #[uniffi(default)]
    pub codec: Option<WireCodec>,
    /// Cap of the first reconnect delay (default 500 ms): retry n waits a
    /// random time in [0, min(longest, this × 2^n)].
    #[uniffi(default)]
    pub min_reconnect_delay_ms: Option<i64>,
    /// Largest reconnect delay cap (default 20 s).
    #[uniffi(default)]
    pub max_reconnect_delay_ms: Option<i64>,
    /// How long a request waits for its reply (default 10 s).
    #[uniffi(default)]
    pub request_timeout_ms: Option<i64>,
    /// How long opening the socket plus `connect` may take (default 10 s).
    #[uniffi(default)]
    pub connect_timeout_ms: Option<i64>,
    /// Requests kept while reconnecting (default 1000; 0 fails them at once).
    #[uniffi(default)]
    pub max_queued: Option<i32>,
    /// Data for the server's `on_connect` hook.
    #[uniffi(default)]
    pub connect_data: Option<Vec<u8>>,
    /// An inbox position saved by an earlier run: the first connect replays
    /// the messages sent to the user since then.
    #[uniffi(default)]
    pub inbox_since: Option<StreamPosition>,
}

/// Connection states: disconnected -> connecting -> connected, or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConnectionState {
    /// Not connected and not trying: initially, and after `disconnect`.
    Disconnected,
    /// Opening the socket, authenticating, or waiting to retry.
    Connecting,
    /// Authenticated; requests flow.
    Connected,
    /// Stopped for good by a terminal close code; `connect` starts over.
    Closed,
}

/// A close code and why: what ended the last connection.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CloseReason {
    /// The code (docs/protocol.md, close codes).
    pub code: i32,
    /// Its stable name, such as `unauthorized` (`other` outside the table).
    pub name: String,
    /// Human-readable detail.
    pub reason: String,
    /// False for terminal codes (4500..=4999): the client does not reconnect.
    pub reconnect: bool,
}

/// Something that happened to the connection.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ClientEvent {
    /// The state changed; `reason` says why when it moved away from connected.
    StateChanged {
        /// The state entered; never the one the client was already in.
        state: ConnectionState,
        /// The close code that caused it, if any.
        reason: Option<CloseReason>,
    },
    /// A connection attempt failed or the connection was lost, with its cause:
    /// one per failure, so a wrong URL or a node that is down is visible while
    /// `connect` keeps trying.
    ConnectionFailed {
        /// The close code and reason of the failure.
        reason: CloseReason,
        /// The node URL of the attempt.
        url: String,
        /// Consecutive failures since the client was last connected (1 first).
        attempt: i32,
        /// Milliseconds until the next attempt; null when the failure is terminal.
        retry_in_ms: Option<i64>,
    },
    /// A message sent to this user (from any node) or a broadcast.
    MessageReceived {
        /// Its data, sender and inbox position.
        message: Message,
    },
}

/// A position in a channel's (or inbox's) stream: save it to resume later.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, uniffi::Record)]
pub struct StreamPosition {
    /// Offset of the last publication seen (0: none yet; never negative).
    pub offset: i64,
    /// Identity of the stream the offset belongs to.
    pub epoch: String,
}

/// Who published or joined.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
#[uniffi::export(Display, Eq, Hash)]
pub struct ClientInfo {
    /// The authenticated user id (empty for anonymous connections).
    pub user: String,
    /// The connection id, unique across the cluster.
    pub client: String,
    /// Application data attached at connect, if any.
    pub info: Option<Vec<u8>>,
}

/// A message on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
#[uniffi::export(Display, Eq, Hash)]
pub struct Publication {
    /// The channel it was published to (one listener may serve several).
    pub channel: String,
    /// Offset in the channel's stream (absent without history).
    pub offset: Option<i64>,
    /// Epoch of the stream the offset belongs to.
    pub epoch: Option<String>,
    /// The payload, byte for byte as published, whatever codec the publisher used.
    pub data: Vec<u8>,
    /// The publisher, when it was a client (null for server API publishes).
    pub info: Option<ClientInfo>,
}

/// A connection that joined or left a channel.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Member {
    /// The channel joined or left (one listener may serve several).
    pub channel: String,
    /// Who joined or left.
    pub info: ClientInfo,
}

/// A message to this user (`send_to_user`) or to everyone (`broadcast`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
#[uniffi::export(Display, Eq, Hash)]
pub struct Message {
    /// The payload, byte for byte as sent, whatever codec the sender used.
    pub data: Vec<u8>,
    /// The sender, when it was a client (null when the server API sent it).
    pub from: Option<ClientInfo>,
    /// True for a broadcast to every connection, false for a message to this user.
    pub broadcast: bool,
    /// The message's position in the user's inbox (servers that keep inboxes):
    /// save it and pass it as `inbox_since` to replay what a restarted app missed.
    pub position: Option<StreamPosition>,
}

/// How a (re)subscription went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Recovery {
    /// Nothing to recover: a first subscribe.
    Fresh,
    /// Every missed publication was delivered, just before this event.
    Recovered,
    /// Publications were missed beyond the history window: reload state.
    Unrecoverable,
}

/// Something that happened on a subscription.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SubscriptionEvent {
    /// A publication, delivered once and in offset order.
    Published {
        /// Its data, channel, stream position and publisher.
        publication: Publication,
    },
    /// Someone joined (namespaces with join/leave events).
    Joined {
        /// The connection that joined, and the channel.
        member: Member,
    },
    /// Someone left: unsubscribed or disconnected (same namespaces as `Joined`).
    Left {
        /// The connection that left, and the channel.
        member: Member,
    },
    /// Live publications skipped the offsets `first..=last`; the client read
    /// them from history: with `recovered` all were delivered just before.
    Gap {
        /// The first missing offset.
        first: i64,
        /// The last missing offset.
        last: i64,
        /// Whether every missing publication was delivered.
        recovered: bool,
    },
    /// The connection dropped; the subscription is being re-established.
    Subscribing,
    /// The subscription is live (again), with how recovery went.
    Subscribed {
        /// Whether missed publications were replayed, lost, or never asked for.
        recovery: Recovery,
    },
    /// The subscription ended: by `unsubscribe` (no error), or by the server.
    Unsubscribed {
        /// Why the server ended or refused it.
        error: Option<crate::ChorusError>,
    },
}

/// Reply to `publish`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PublishResult {
    /// Position of the new publication, when the channel keeps history.
    pub position: Option<StreamPosition>,
    /// True when the idempotency key was seen before and nothing was delivered.
    pub duplicate: bool,
}

/// Member counts of a channel.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PresenceStats {
    /// Connections subscribed to the channel, on every node.
    pub clients: i32,
    /// Distinct users among them.
    pub users: i32,
}

/// A page of a channel's history.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryPage {
    /// The stream's current position: subscribe from it to continue live.
    pub position: StreamPosition,
    /// The publications, in the requested order.
    pub publications: Vec<Publication>,
}

// ---- text of records with payloads ----
//
// The generated `toString()` (Kotlin) and `description` (Swift) of a record
// would print a payload as an array reference or a list of numbers; these
// show it as text, which is what Chorus apps send almost always. `Eq` and
// `Hash` come along because a Kotlin data class compares `ByteArray` fields
// by reference.

/// A payload as readable text: itself when it is UTF-8, else its size.
struct Payload<'a>(&'a [u8]);

impl fmt::Display for Payload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok(text) => f.write_str(text),
            Err(_) => write!(f, "<{} bytes>", self.0.len()),
        }
    }
}

/// `Some(x)` as `x`, `None` as `null`, as Kotlin prints them.
struct Nullable<T>(Option<T>);

impl<T: fmt::Display> fmt::Display for Nullable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(x) => x.fmt(f),
            None => f.write_str("null"),
        }
    }
}

impl fmt::Display for StreamPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "StreamPosition(offset={}, epoch={})",
            self.offset, self.epoch
        )
    }
}

impl fmt::Display for ClientInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ClientInfo(user={}, client={}, info={})",
            self.user,
            self.client,
            Nullable(self.info.as_deref().map(Payload))
        )
    }
}

impl fmt::Display for Publication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Publication(channel={}, offset={}, epoch={}, data={}, info={})",
            self.channel,
            Nullable(self.offset),
            Nullable(self.epoch.as_deref()),
            Payload(&self.data),
            Nullable(self.info.as_ref())
        )
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Message(data={}, from={}, broadcast={}, position={})",
            Payload(&self.data),
            Nullable(self.from.as_ref()),
            self.broadcast,
            Nullable(self.position.as_ref())
        )
    }
}

// ---- conversions ----

impl From<WireCodec> for core::Codec {
    fn from(c: WireCodec) -> Self {
        match c {
            WireCodec::Json => core::Codec::Json,
            WireCodec::MessagePack => core::Codec::MessagePack,
        }
    }
}

impl From<core::ConnectionState> for ConnectionState {
    fn from(s: core::ConnectionState) -> Self {
        match s {
            core::ConnectionState::Disconnected => ConnectionState::Disconnected,
            core::ConnectionState::Connecting => ConnectionState::Connecting,
            core::ConnectionState::Connected => ConnectionState::Connected,
            core::ConnectionState::Closed => ConnectionState::Closed,
        }
    }
}

impl From<core::CloseReason> for CloseReason {
    fn from(r: core::CloseReason) -> Self {
        CloseReason {
            code: r.code.0.into(),
            name: r.code.name().to_owned(),
            reason: r.reason,
            reconnect: r.code.should_reconnect(),
        }
    }
}

impl From<core::Failure> for ClientEvent {
    fn from(f: core::Failure) -> Self {
        ClientEvent::ConnectionFailed {
            reason: f.reason.into(),
            url: f.url,
            attempt: int(f.attempt),
            retry_in_ms: f.retry_in_ms.map(long),
        }
    }
}

impl From<core::StreamPosition> for StreamPosition {
    fn from(p: core::StreamPosition) -> Self {
        StreamPosition {
            offset: long(p.offset),
            epoch: p.epoch,
        }
    }
}

impl TryFrom<StreamPosition> for core::StreamPosition {
    type Error = crate::ChorusError;

    /// A saved position handed back by the app: a negative offset is refused.
    fn try_from(p: StreamPosition) -> Result<Self, Self::Error> {
        let offset = u64::try_from(p.offset).map_err(|_| crate::ChorusError::InvalidArgument {
            reason: format!("a stream offset cannot be negative, not {}", p.offset),
        })?;
        Ok(core::StreamPosition {
            offset,
            epoch: p.epoch,
        })
    }
}

impl From<core::ClientInfo> for ClientInfo {
    fn from(i: core::ClientInfo) -> Self {
        ClientInfo {
            user: i.user,
            client: i.client,
            info: i.info.map(bytes),
        }
    }
}

impl From<core::Publication> for Publication {
    fn from(p: core::Publication) -> Self {
        Publication {
            channel: p.channel,
            offset: p.offset.map(long),
            epoch: p.epoch,
            data: bytes(p.data),
            info: p.info.map(Into::into),
        }
    }
}

impl From<core::Membership> for Member {
    fn from(m: core::Membership) -> Self {
        Member {
            channel: m.channel,
            info: m.info.into(),
        }
    }
}

impl From<core::Message> for Message {
    fn from(m: core::Message) -> Self {
        let position = match (m.offset, m.epoch) {
            (Some(offset), Some(epoch)) => Some(StreamPosition {
                offset: long(offset),
                epoch,
            }),
            _ => None,
        };
        Message {
            data: bytes(m.data),
            from: m.from.map(Into::into),
            broadcast: m.broadcast,
            position,
        }
    }
}

impl From<core::Recovery> for Recovery {
    fn from(r: core::Recovery) -> Self {
        match r {
            core::Recovery::Fresh => Recovery::Fresh,
            core::Recovery::Recovered => Recovery::Recovered,
            core::Recovery::Unrecoverable => Recovery::Unrecoverable,
        }
    }
}

impl From<core::SubEvent> for SubscriptionEvent {
    fn from(e: core::SubEvent) -> Self {
        match e {
            core::SubEvent::Publication(p) => SubscriptionEvent::Published {
                publication: p.into(),
            },
            core::SubEvent::Join(m) => SubscriptionEvent::Joined { member: m.into() },
            core::SubEvent::Leave(m) => SubscriptionEvent::Left { member: m.into() },
            core::SubEvent::Gap { missed, recovered } => SubscriptionEvent::Gap {
                first: long(*missed.start()),
                last: long(*missed.end()),
                recovered,
            },
            core::SubEvent::Subscribing => SubscriptionEvent::Subscribing,
            core::SubEvent::Subscribed(r) => SubscriptionEvent::Subscribed { recovery: r.into() },
            core::SubEvent::Unsubscribed(e) => SubscriptionEvent::Unsubscribed {
                error: e.map(|e| crate::ChorusError::from_client(e, None)),
            },
        }
    }
}

impl From<core::PublishResult> for PublishResult {
    fn from(r: core::PublishResult) -> Self {
        PublishResult {
            position: r.position.map(Into::into),
            duplicate: r.duplicate,
        }
    }
}

impl From<core::PresenceStatsResult> for PresenceStats {
    fn from(s: core::PresenceStatsResult) -> Self {
        PresenceStats {
            clients: int(s.clients),
            users: int(s.users),
        }
    }
}

impl From<core::HistoryResult> for HistoryPage {
    fn from(h: core::HistoryResult) -> Self {
        HistoryPage {
            position: h.position.into(),
            publications: h.publications.into_iter().map(Into::into).collect(),
        }
    }
}

/// An offset, count of milliseconds or the like as the `Long`/`Int64` Kotlin
/// and Swift apps use: values beyond the signed range, which no real stream
/// reaches, saturate instead of turning negative.
fn long(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count as the `Int`/`Int32` Kotlin and Swift apps use (saturating).
fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Application data as the bytes the foreign side receives.
fn bytes(p: core::Payload) -> Vec<u8> {
    p.as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_protocol::CloseCode;

    #[test]
    fn close_reasons_say_whether_the_client_reconnects() {
        let terminal = CloseReason::from(core::CloseReason {
            code: CloseCode::KICKED,
            reason: "banned".into(),
        });
        assert_eq!(
            (terminal.code, terminal.name.as_str(), terminal.reconnect),
            (4506, "kicked", false)
        );
        let temporary = CloseReason::from(core::CloseReason {
            code: CloseCode(4000),
            reason: "shutdown".into(),
        });
        assert!(temporary.reconnect);
    }

    #[test]
    fn a_message_has_a_position_only_with_offset_and_epoch() {
        let mut m = core::Message {
            data: core::Payload::new(&b"{}"[..]),
            from: None,
            broadcast: false,
            offset: Some(7),
            epoch: Some("e1".into()),
        };
        let position = Message::from(m.clone()).position;
        assert_eq!(
            position,
            Some(StreamPosition {
                offset: 7,
                epoch: "e1".into()
            })
        );
        m.epoch = None;
        assert_eq!(Message::from(m).position, None);
    }

    #[test]
    fn records_print_their_payloads_as_text() {
        let publication = Publication {
            channel: "chat:lobby".into(),
            offset: Some(3),
            epoch: Some("e1".into()),
            data: br#"{"text":"hi"}"#.to_vec(),
            info: Some(ClientInfo {
                user: "alice".into(),
                client: "c1".into(),
                info: None,
            }),
        };
        assert_eq!(
            publication.to_string(),
            r#"Publication(channel=chat:lobby, offset=3, epoch=e1, data={"text":"hi"}, info=ClientInfo(user=alice, client=c1, info=null))"#
        );
        let message = Message {
            data: vec![0xff, 0x00, 0x01],
            from: None,
            broadcast: true,
            position: None,
        };
        assert_eq!(
            message.to_string(),
            "Message(data=<3 bytes>, from=null, broadcast=true, position=null)"
        );
    }

    #[test]
    fn offsets_and_counts_arrive_signed_and_negative_positions_are_refused() {
        let far = core::StreamPosition {
            offset: u64::MAX,
            epoch: "e".into(),
        };
        assert_eq!(StreamPosition::from(far).offset, i64::MAX);
        let back = core::StreamPosition::try_from(StreamPosition {
            offset: 5,
            epoch: "e".into(),
        });
        assert_eq!(back.map(|p| p.offset), Ok(5));
        let negative = core::StreamPosition::try_from(StreamPosition {
            offset: -1,
            epoch: "e".into(),
        });
        assert!(matches!(
            negative,
            Err(crate::ChorusError::InvalidArgument { .. })
        ));
    }
}
