//! What the state machine tells its driver (actions) and the application (events).

use crate::codes::CloseCode;
use crate::frame::ReplyBody;
use crate::message::{ConnectResult, Error, Membership, Message, Publication};
use crate::payload::Payload;

/// Milliseconds on the driver's monotonic clock (any origin, never going back).
pub type Millis = u64;

/// Identifies an application request; answered by exactly one [`Event::Reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Where the client stands with the server (docs/protocol.md 10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Not connected and not trying: initially, and after `disconnect`.
    Disconnected,
    /// Opening the transport, authenticating, or waiting to retry.
    Connecting,
    /// Authenticated; commands flow.
    Connected,
    /// Stopped for good by a terminal close code or error; `connect` starts over.
    Closed,
}

impl ConnectionState {
    /// The state's name in every SDK: `disconnected`, `connecting`,
    /// `connected`, `closed`.
    pub const fn name(self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Closed => "closed",
        }
    }
}

/// Where one subscription stands (docs/protocol.md 10.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionState {
    /// Not subscribed (the subscription no longer exists in the machine).
    Unsubscribed,
    /// Waiting for the server to confirm (also while reconnecting).
    Subscribing,
    /// Confirmed by the server: its publications, joins and leaves are delivered.
    Subscribed,
}

impl SubscriptionState {
    /// The state's name in every SDK: `unsubscribed`, `subscribing`, `subscribed`.
    pub const fn name(self) -> &'static str {
        match self {
            SubscriptionState::Unsubscribed => "unsubscribed",
            SubscriptionState::Subscribing => "subscribing",
            SubscriptionState::Subscribed => "subscribed",
        }
    }
}

/// What a (re)subscribe achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recovery {
    /// First subscribe, or a channel without a known position: nothing to recover.
    Fresh,
    /// Every missed publication was delivered (just before this event).
    Recovered,
    /// Publications were missed and cannot be replayed (history window exceeded,
    /// or the stream's epoch changed): reload state by other means.
    Unrecoverable,
}

impl Recovery {
    /// The outcome's name in every SDK: `fresh`, `recovered`, `unrecoverable`.
    pub const fn name(self) -> &'static str {
        match self {
            Recovery::Fresh => "fresh",
            Recovery::Recovered => "recovered",
            Recovery::Unrecoverable => "unrecoverable",
        }
    }
}

/// Why a connection ended or a reconnect is pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// The close code (from the server, or a local one from the table).
    pub code: CloseCode,
    /// Human-readable detail.
    pub reason: String,
}

/// A connection attempt that failed, or a connection that was lost: its cause
/// and what the client does next. Every SDK reports one per failure, so a wrong
/// URL or a refused token is visible at once instead of as a client that stays
/// `Connecting` (what centrifuge-js reports as its `error` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The cause: the server's close code or refusal, or a local code
    /// (1006: the transport did not open or dropped; 4009: timed out).
    pub reason: CloseReason,
    /// The node URL of the attempt.
    pub url: String,
    /// Consecutive failures since the client was last connected (1 for the
    /// first), so an application can give up or warn after a few.
    pub attempt: u32,
    /// Milliseconds until the next attempt; `None` when the failure is
    /// terminal (the state moves to `Closed` next).
    pub retry_in_ms: Option<Millis>,
}

/// Why a subscription ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsubscribeReason {
    /// The application called `unsubscribe`.
    Client,
    /// The server ended it (`unsubscribed` push).
    Server(Error),
    /// The subscribe was refused with a terminal error.
    Refused(Error),
}

/// Something the application should know.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The connection state changed. `reason` explains a move away from `Connected`
    /// or into `Closed`.
    State {
        /// The state entered; never the one the client was already in.
        state: ConnectionState,
        /// Why, when the connection was lost or refused.
        reason: Option<CloseReason>,
    },
    /// Authenticated (also after every reconnect).
    Connected(ConnectResult),
    /// An attempt failed or the connection was lost; emitted before the state
    /// event the failure leads to (if any).
    Failure(Failure),
    /// A subscription is (again) waiting for the server.
    Subscribing {
        /// The subscription's channel, as the application passed it to `subscribe`.
        channel: String,
    },
    /// A new subscription is live for the first time: emitted once per
    /// subscription, before anything else it delivers (the publications
    /// recovered by its first subscribe come before its first `Subscribed`).
    /// SDKs settle their "subscribed" promise on it; a refusal is
    /// `Unsubscribed` with `Refused` instead.
    Ready {
        /// The subscription's channel, as the application passed it to `subscribe`.
        channel: String,
    },
    /// A subscription is live. Recovered publications were emitted just before.
    Subscribed {
        /// The subscription's channel, as the application passed it to `subscribe`.
        channel: String,
        /// What the resubscribe recovered.
        recovery: Recovery,
        /// Data from the server's `on_subscribe` hook.
        data: Option<Payload>,
    },
    /// A subscription ended: the machine forgets it and never resubscribes it.
    Unsubscribed {
        /// The subscription's channel, as the application passed it to `subscribe`.
        channel: String,
        /// Whether the application, the server or a terminal refusal ended it.
        reason: UnsubscribeReason,
    },
    /// A publication, delivered once and in offset order per channel.
    Publication(Publication),
    /// Live publications of a subscribed channel skipped offsets `first..=last`
    /// (a fault between the server and this client that the server did not
    /// repair). The machine read them from the channel's history: with
    /// `recovered` they were delivered, in order, just before this event;
    /// without, they are no longer stored and are lost to this client (reload
    /// state by other means). Delivery goes on after the gap either way.
    Gap {
        /// The subscription's channel, as the application passed it to `subscribe`.
        channel: String,
        /// The first missing offset.
        first: u64,
        /// The last missing offset.
        last: u64,
        /// Whether every missing publication was delivered.
        recovered: bool,
    },
    /// Someone joined a subscribed channel.
    Join(Membership),
    /// Someone left a subscribed channel.
    Leave(Membership),
    /// A message to this user (delivered once and in order when the server
    /// keeps an inbox), or a broadcast.
    Message(Message),
    /// After each connect to a server that keeps inboxes: whether the messages
    /// sent to the user while this device was away were all delivered (just
    /// before this event), or some were lost (the inbox overflowed or expired).
    Inbox(Recovery),
    /// The answer to an application request.
    Reply {
        /// The id [`super::ClientMachine::request`] returned for the request.
        request: RequestId,
        /// The reply body, or the server's error or a local one (200 `timeout`, ...).
        result: Result<ReplyBody, Error>,
    },
    /// The server sent something this client cannot use; it was ignored.
    Warning(String),
}

/// Something the driver must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a WebSocket to this URL with this subprotocol, then report
    /// `transport_opened` or `transport_closed`.
    OpenTransport {
        /// One of [`super::ClientConfig::urls`], chosen by the machine.
        url: String,
        /// The subprotocol to offer: `chorus.v1.json` or `chorus.v1.msgpack`, by the codec.
        subprotocol: &'static str,
    },
    /// Send one WebSocket message.
    Send {
        /// One frame, encoded with the connection's codec: send it as is.
        bytes: Vec<u8>,
        /// Binary message (MessagePack) or text (JSON).
        binary: bool,
    },
    /// Close the transport with this code. The driver must not report this close
    /// back: the machine has already accounted for it.
    CloseTransport(CloseReason),
    /// Call `handle_timeout` at this time (replaces any earlier request).
    ArmTimer {
        /// The deadline, on the clock whose `now` the driver passes in.
        at: Millis,
    },
    /// Ask the application for a token, then call `set_token` or `token_failed`.
    FetchToken,
    /// Hand this event to the application.
    Emit(Event),
}
