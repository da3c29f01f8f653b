//! # chorus-client
//!
//! The Chorus client for Rust services. It drives the protocol crate's sans-IO
//! state machine ([`chorus_protocol::client`]) with tokio and tokio-tungstenite
//! and holds no protocol logic of its own, so it behaves exactly like the browser
//! and mobile SDKs: reconnect with full-jitter backoff, resubscribe with recovery,
//! request timeouts, a bounded queue while reconnecting, token refresh.
//!
//! ```no_run
//! # async fn demo() -> Result<(), chorus_client::ClientError> {
//! use chorus_client::{Client, Codec, HistoryQuery, SubEvent};
//! let client = Client::builder("ws://127.0.0.1:8000/ws")
//!     .token("a JWT from your backend")
//!     .codec(Codec::MessagePack)
//!     .build();
//! client.connect().await?;
//! let mut sub = client.subscribe("chat:lobby").await?;
//! client.publish("chat:lobby", r#"{"text":"hi"}"#).await?;
//! while let Some(event) = sub.next().await {
//!     if let SubEvent::Publication(p) = event {
//!         println!("{:?}", p.data);
//!     }
//! }
//! let page = client.history("chat:lobby", HistoryQuery::last(50)).await?;
//! # let _ = page; Ok(()) }
//! ```
//!
//! A `Client` is cheap to clone; the connection lives in a background task that
//! ends when the last clone is dropped.

mod builder;
mod driver;
mod error;
mod subscription;
mod tls;

use std::sync::Arc;

pub use builder::{ClientBuilder, TokenProvider};
pub use chorus_protocol::client::{CloseReason, ConnectionState, Failure, Recovery};
pub use chorus_protocol::message::{
    ClientInfo, HistoryResult, Membership, Message, PresenceStatsResult, Publication,
    PublishRequest, PublishResult, StreamPosition,
};
pub use chorus_protocol::{Codec, Payload};
pub use error::ClientError;
pub use subscription::{SubEvent, Subscription};
pub use tls::TlsError;

use chorus_protocol::message::{
    BroadcastRequest, ChannelRequest, Empty, HistoryRequest, RpcRequest, SendRequest,
};
use chorus_protocol::{ReplyBody, Request};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use driver::Cmd;

/// Which part of a channel's history to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// At most this many publications; 0 reads only the current position.
    pub limit: u32,
    /// Only after (or, reversed, before) this position.
    pub since: Option<StreamPosition>,
    /// Read backwards: the newest `limit` (or those before `since`), newest first.
    pub reverse: bool,
}

impl HistoryQuery {
    /// The newest `n` publications, newest first.
    pub fn last(n: u32) -> Self {
        HistoryQuery {
            limit: n,
            since: None,
            reverse: true,
        }
    }
}

/// A connection to a Chorus server. Clone it freely.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    cmds: mpsc::UnboundedSender<Cmd>,
    state: watch::Receiver<ConnectionState>,
    messages: broadcast::Sender<Message>,
    failures: broadcast::Sender<Failure>,
    /// Why the settings cannot work, if they cannot: `connect` says so.
    invalid: Option<chorus_protocol::client::ConfigError>,
    inbox: watch::Receiver<InboxState>,
    close: watch::Receiver<Option<CloseReason>>,
}

/// The user's inbox as this client sees it (servers that keep inboxes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxState {
    /// The position of the last inbox message delivered: persist it and pass it
    /// to [`ClientBuilder::inbox_since`] so a restarted app gets what it missed.
    pub position: Option<StreamPosition>,
    /// The outcome of the last connect's replay: `Recovered` when every missed
    /// message was delivered (through [`Client::messages`], just before),
    /// `Unrecoverable` when some were lost, `Fresh` when there was no position.
    pub recovery: Option<Recovery>,
}

impl Client {
    /// Starts configuring a client for a WebSocket URL such as `ws://host:8000/ws`
    /// (several nodes: [`ClientBuilder::urls`]).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url.into())
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Cmd,
    ) -> Result<T, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .cmds
            .send(make(tx))
            .map_err(|_| ClientError::Stopped)?;
        rx.await.map_err(|_| ClientError::Stopped)
    }

    async fn request(&self, request: Request) -> Result<ReplyBody, ClientError> {
        self.call(|reply| Cmd::Request { request, reply }).await?
    }

    /// Connects (and keeps reconnecting). Resolves once connected; fails when the
    /// server refuses the client for good (terminal close code or error).
    pub async fn connect(&self) -> Result<(), ClientError> {
        if let Some(invalid) = &self.inner.invalid {
            return Err(ClientError::Config(invalid.clone()));
        }
        let mut state = self.inner.state.clone();
        // Answered once the state the connect led to is published, so neither
        // a stale `Closed` of an earlier session nor a very fast `Connected`
        // can be misread.
        self.call(|reply| Cmd::Connect { reply }).await?;
        loop {
            let now = *state.borrow_and_update();
            match now {
                ConnectionState::Connected => return Ok(()),
                ConnectionState::Closed => {
                    let reason = self
                        .last_close()
                        .map(|r| format!("{}: {}", r.code, r.reason))
                        .unwrap_or_default();
                    return Err(ClientError::Closed(reason));
                }
                ConnectionState::Disconnected => {
                    return Err(ClientError::Closed("disconnected".into()));
                }
                ConnectionState::Connecting => {}
            }
            state.changed().await.map_err(|_| ClientError::Stopped)?;
        }
    }

    /// Closes the connection; subscriptions stay registered for a later `connect`.
    pub async fn disconnect(&self) -> Result<(), ClientError> {
        self.call(|reply| Cmd::Disconnect { reply }).await
    }

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        *self.inner.state.borrow()
    }

    /// Why the connection last ended (its close code, local or from the server):
    /// set before the state moves to `Connecting` or `Closed`, so a watcher of
    /// [`Client::state_changes`] reads the reason for the state it sees.
    pub fn last_close(&self) -> Option<CloseReason> {
        self.inner.close.borrow().clone()
    }

    /// Connection states as they change.
    pub fn state_changes(&self) -> watch::Receiver<ConnectionState> {
        self.inner.state.clone()
    }

    /// Messages sent to this user (`send`) and broadcasts. Bounded: a receiver
    /// that falls more than 1024 behind loses the oldest.
    pub fn messages(&self) -> broadcast::Receiver<Message> {
        self.inner.messages.subscribe()
    }

    /// Every failed connection attempt and lost connection, with its cause, the
    /// node URL, the count of consecutive failures and the delay before the
    /// next attempt (`None`: terminal). While [`Client::connect`] keeps trying
    /// a wrong URL or a node that is down, this is where the app sees why.
    /// Bounded: a receiver more than 64 behind loses the oldest.
    pub fn failures(&self) -> broadcast::Receiver<Failure> {
        self.inner.failures.subscribe()
    }

    /// The inbox position and the outcome of its last replay, as they change.
    pub fn inbox(&self) -> watch::Receiver<InboxState> {
        self.inner.inbox.clone()
    }

    /// Subscribes to a channel. Resolves once the server confirmed it (waiting for
    /// a connection if need be); the subscription then survives reconnects,
    /// recovering missed publications, until dropped or unsubscribed.
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription, ClientError> {
        self.subscribe_since(channel, None).await
    }

    /// Subscribes starting after a position saved earlier, recovering what came after it.
    pub async fn subscribe_since(
        &self,
        channel: &str,
        since: Option<StreamPosition>,
    ) -> Result<Subscription, ClientError> {
        let channel = channel.to_owned();
        let rx = self
            .call(|reply| Cmd::Subscribe {
                channel: channel.clone(),
                since,
                reply,
            })
            .await??;
        let (id, events, first) = rx;
        match first.await {
            Ok(Ok(())) => Ok(Subscription::new(
                id,
                channel,
                events,
                self.inner.cmds.clone(),
            )),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ClientError::Stopped),
        }
    }

    /// Publishes to a channel.
    pub async fn publish(
        &self,
        channel: &str,
        data: impl Into<Payload>,
    ) -> Result<PublishResult, ClientError> {
        self.publish_with(PublishRequest {
            channel: channel.to_owned(),
            data: data.into(),
            idempotency_key: None,
        })
        .await
    }

    /// Publishes with every option (such as an idempotency key).
    pub async fn publish_with(
        &self,
        request: PublishRequest,
    ) -> Result<PublishResult, ClientError> {
        match self.request(Request::Publish(request)).await? {
            ReplyBody::Publish(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// Sends data to every connection of a user, on any node.
    pub async fn send_to_user(
        &self,
        user: &str,
        data: impl Into<Payload>,
    ) -> Result<(), ClientError> {
        let request = Request::Send(SendRequest {
            user: user.to_owned(),
            data: data.into(),
        });
        self.request(request).await.map(|_| ())
    }

    /// Sends data to every connection (needs the `broadcast` claim).
    pub async fn broadcast(&self, data: impl Into<Payload>) -> Result<(), ClientError> {
        self.request(Request::Broadcast(BroadcastRequest { data: data.into() }))
            .await
            .map(|_| ())
    }

    /// Members of a channel.
    pub async fn presence(&self, channel: &str) -> Result<Vec<ClientInfo>, ClientError> {
        match self
            .request(Request::Presence(ChannelRequest {
                channel: channel.to_owned(),
            }))
            .await?
        {
            ReplyBody::Presence(r) => Ok(r.clients),
            other => Err(unexpected(other)),
        }
    }

    /// Member counts of a channel.
    pub async fn presence_stats(&self, channel: &str) -> Result<PresenceStatsResult, ClientError> {
        match self
            .request(Request::PresenceStats(ChannelRequest {
                channel: channel.to_owned(),
            }))
            .await?
        {
            ReplyBody::PresenceStats(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// A page of a channel's history.
    pub async fn history(
        &self,
        channel: &str,
        query: HistoryQuery,
    ) -> Result<HistoryResult, ClientError> {
        let request = Request::History(HistoryRequest {
            channel: channel.to_owned(),
            limit: Some(query.limit),
            since: query.since,
            reverse: query.reverse,
        });
        match self.request(request).await? {
            ReplyBody::History(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// Calls an application-defined method on the server.
    pub async fn rpc(
        &self,
        method: &str,
        data: impl Into<Payload>,
    ) -> Result<Payload, ClientError> {
        let request = Request::Rpc(RpcRequest {
            method: method.to_owned(),
            data: data.into(),
        });
        match self.request(request).await? {
            ReplyBody::Rpc(r) => Ok(r.data),
            other => Err(unexpected(other)),
        }
    }

    /// A round trip to the server.
    pub async fn ping(&self) -> Result<(), ClientError> {
        self.request(Request::Ping(Empty {})).await.map(|_| ())
    }
}

fn unexpected(body: ReplyBody) -> ClientError {
    ClientError::Server(chorus_protocol::message::Error::new(
        chorus_protocol::ErrorCode::BAD_REQUEST,
        format!("unexpected reply `{}`", body.key()),
    ))
}
