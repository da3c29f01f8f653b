//! The `Client` object: one connection, its listener, its subscriptions.

use std::future::Future;
use std::sync::{Arc, Mutex};

use chorus_client as core;
use chorus_protocol::ErrorCode;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::AbortHandle;

use crate::error::ChorusError;
use crate::runtime::{run, runtime};
use crate::subscription::{Subscription, SubscriptionListener};
use crate::types::{
    ClientEvent, ClientInfo, ClientOptions, CloseReason, ConnectionState, HistoryPage,
    PresenceStats, PublishResult, StreamPosition,
};

/// Receives connection events. Implemented by the app (a Kotlin interface, a
/// Swift protocol); called on the SDK's threads, so return quickly.
#[uniffi::export(with_foreign)]
pub trait ClientListener: Send + Sync {
    /// A state change or a message to this user.
    fn on_event(&self, event: ClientEvent);
}

/// Supplies fresh tokens, for tokens that expire: called before connecting
/// without a token, before the current one expires, and after the server says
/// it expired. It runs on a thread of its own, so it may block (on an HTTP call
/// to the app's backend, say).
#[uniffi::export(with_foreign)]
pub trait TokenSource: Send + Sync {
    /// A new token; an error (such as `ChorusError.TokenSource`) is reported to
    /// the connection, which retries with backoff or closes if it is terminal.
    fn token(&self) -> Result<String, ChorusError>;
}

/// A connection to a Chorus server. It connects on `connect()` and then keeps
/// itself connected, resubscribing and recovering missed publications, until
/// `disconnect()`, a terminal close code, or the object is destroyed (`close()`
/// in Kotlin, the last reference in Swift), which also ends its subscriptions.
#[derive(uniffi::Object)]
pub struct Client {
    inner: core::Client,
    /// The event pumps of the listener and of every subscription; stopped on drop.
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Drop for Client {
    fn drop(&mut self) {
        let tasks = self.tasks.get_mut().map(std::mem::take).unwrap_or_default();
        for task in tasks {
            task.abort();
        }
    }
}

#[uniffi::export]
impl Client {
    /// A client for a WebSocket URL such as `ws://host:8000/ws`. It does not
    /// connect until `connect()`.
    #[uniffi::constructor(default(listener = None, token_source = None, options))]
    pub fn new(
        url: String,
        options: ClientOptions,
        listener: Option<Arc<dyn ClientListener>>,
        token_source: Option<Arc<dyn TokenSource>>,
    ) -> Result<Arc<Self>, ChorusError> {
        let rt = runtime()?;
        let _context = rt.enter();
        let inner = builder(url, options, token_source)?.build();
        let client = Client {
            inner,
            tasks: Mutex::new(Vec::new()),
        };
        if let Some(listener) = listener {
            // Subscribed here, not in the task: what happens between
            // `new` and the task's first poll (a first failed attempt) is kept.
            let events = ClientEvents::of(&client.inner);
            let pump = rt.spawn(pump_client_events(client.inner.clone(), events, listener));
            client.track(pump.abort_handle());
        }
        Ok(Arc::new(client))
    }

    /// Connects, and keeps reconnecting after drops. Returns once connected;
    /// throws `Closed` (with the close code) when the server refuses the
    /// client for good, such as for a bad token.
    pub async fn connect(&self) -> Result<(), ChorusError> {
        self.call(|c| async move { c.connect().await }).await
    }

    /// Closes the connection; subscriptions stay registered for a later `connect()`.
    pub async fn disconnect(&self) -> Result<(), ChorusError> {
        self.call(|c| async move { c.disconnect().await }).await
    }

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.inner.state().into()
    }

    /// The close code that ended the last connection, if any.
    pub fn last_close(&self) -> Option<CloseReason> {
        self.inner.last_close().map(Into::into)
    }

    /// The position of the last inbox message delivered (servers that keep
    /// inboxes): persist it and pass it as `ClientOptions.inbox_since`.
    pub fn inbox_position(&self) -> Option<StreamPosition> {
        self.inner.inbox().borrow().position.clone().map(Into::into)
    }

    /// Subscribes to a channel, optionally after a saved position (recovering
    /// what came after it). Returns once the server confirmed; `listener` then
    /// gets every event, starting with `Subscribed`, until `unsubscribe()`.
    #[uniffi::method(default(since = None))]
    pub async fn subscribe(
        &self,
        channel: String,
        listener: Arc<dyn SubscriptionListener>,
        since: Option<StreamPosition>,
    ) -> Result<Arc<Subscription>, ChorusError> {
        let name = channel.clone();
        let since = since.map(TryInto::try_into).transpose()?;
        let sub = self
            .call(|c| async move { c.subscribe_since(&name, since).await })
            .await?;
        let (subscription, pump) = Subscription::start(channel, sub, listener, runtime()?);
        self.track(pump);
        Ok(subscription)
    }

    /// Publishes to a channel. With an idempotency key, a retried publish is
    /// delivered once (the reply then says `duplicate`).
    #[uniffi::method(default(idempotency_key = None))]
    pub async fn publish(
        &self,
        channel: String,
        data: Vec<u8>,
        idempotency_key: Option<String>,
    ) -> Result<PublishResult, ChorusError> {
        let request = core::PublishRequest {
            channel,
            data: data.into(),
            idempotency_key,
        };
        let result = self
            .call(|c| async move { c.publish_with(request).await })
            .await?;
        Ok(result.into())
    }

    /// Sends data to every connection of a user, on any node.
    pub async fn send_to_user(&self, user: String, data: Vec<u8>) -> Result<(), ChorusError> {
        self.call(|c| async move { c.send_to_user(&user, data).await })
            .await
    }

    /// Sends data to every connection (the token needs the `broadcast` claim).
    pub async fn broadcast(&self, data: Vec<u8>) -> Result<(), ChorusError> {
        self.call(|c| async move { c.broadcast(data).await }).await
    }

    /// The members of a channel, on every node.
    pub async fn presence(&self, channel: String) -> Result<Vec<ClientInfo>, ChorusError> {
        let members = self
            .call(|c| async move { c.presence(&channel).await })
            .await?;
        Ok(members.into_iter().map(Into::into).collect())
    }

    /// Member counts of a channel.
    pub async fn presence_stats(&self, channel: String) -> Result<PresenceStats, ChorusError> {
        let stats = self
            .call(|c| async move { c.presence_stats(&channel).await })
            .await?;
        Ok(stats.into())
    }

    /// A page of a channel's history: at most `limit` publications after
    /// `since` (or, with `reverse`, the newest first, before `since`).
    #[uniffi::method(default(since = None, reverse = false))]
    pub async fn history(
        &self,
        channel: String,
        limit: i32,
        since: Option<StreamPosition>,
        reverse: bool,
    ) -> Result<HistoryPage, ChorusError> {
        let query = core::HistoryQuery {
            limit: non_negative("limit", limit.into())?,
            since: since.map(TryInto::try_into).transpose()?,
            reverse,
        };
        let page = self
            .call(|c| async move { c.history(&channel, query).await })
            .await?;
        Ok(page.into())
    }

    /// Calls an application-defined method on the server (its RPC hook).
    pub async fn rpc(&self, method: String, data: Vec<u8>) -> Result<Vec<u8>, ChorusError> {
        let reply = self
            .call(|c| async move { c.rpc(&method, data).await })
            .await?;
        Ok(reply.as_bytes().to_vec())
    }

    /// A round trip to the server.
    pub async fn ping(&self) -> Result<(), ChorusError> {
        self.call(|c| async move { c.ping().await }).await
    }
}

impl Client {
    /// Runs one call of the Rust client on the SDK's runtime, converting its error.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, ChorusError>
    where
        F: FnOnce(core::Client) -> Fut,
        Fut: Future<Output = Result<T, core::ClientError>> + Send + 'static,
        T: Send + 'static,
    {
        let client = self.inner.clone();
        let call = f(client.clone());
        run(async move { call.await.map_err(|e| convert(&client, e)) }).await
    }

    fn track(&self, task: AbortHandle) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.retain(|t| !t.is_finished());
            tasks.push(task);
        }
    }
}

/// The Rust client's builder, configured from the app's options.
fn builder(
    url: String,
    o: ClientOptions,
    token_source: Option<Arc<dyn TokenSource>>,
) -> Result<core::ClientBuilder, ChorusError> {
    let mut b = core::Client::builder(url.clone());
    if let Some(pem) = &o.root_certificates_pem {
        b = b
            .add_root_certificate(pem)
            .map_err(|e| ChorusError::InvalidCertificate {
                reason: e.to_string(),
            })?;
    }
    if !o.fallback_urls.is_empty() {
        b = b.urls(std::iter::once(url).chain(o.fallback_urls));
    }
    if let Some(token) = o.token {
        b = b.token(token);
    }
    if let Some(codec) = o.codec {
        b = b.codec(codec.into());
    }
    if o.min_reconnect_delay_ms.is_some() || o.max_reconnect_delay_ms.is_some() {
        let defaults = chorus_protocol::client::BackoffConfig::default();
        let min = millis("minReconnectDelayMs", o.min_reconnect_delay_ms)?;
        let max = millis("maxReconnectDelayMs", o.max_reconnect_delay_ms)?;
        b = b.backoff(
            min.unwrap_or(ms(defaults.min_ms)),
            max.unwrap_or(ms(defaults.max_ms)),
        );
    }
    if let Some(t) = millis("requestTimeoutMs", o.request_timeout_ms)? {
        b = b.request_timeout(t);
    }
    if let Some(t) = millis("connectTimeoutMs", o.connect_timeout_ms)? {
        b = b.connect_timeout(t);
    }
    if let Some(n) = o.max_queued {
        b = b.max_queued(non_negative("maxQueued", n.into())? as usize);
    }
    if let Some(data) = o.connect_data {
        b = b.connect_data(data);
    }
    if let Some(position) = o.inbox_since {
        b = b.inbox_since(position.try_into()?);
    }
    if let Some(source) = token_source {
        b = b.token_provider(move || {
            let source = source.clone();
            async move {
                match tokio::task::spawn_blocking(move || source.token()).await {
                    Ok(Ok(token)) => Ok(token),
                    Ok(Err(e)) => Err(token_error(e)),
                    Err(e) => Err(token_error(ChorusError::TokenSource {
                        reason: e.to_string(),
                    })),
                }
            }
        });
    }
    b.validate()
        .map_err(|e| ChorusError::from_client(e, None))?;
    Ok(b)
}

fn ms(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n)
}

/// A count or limit given as a signed (idiomatic Kotlin and Swift) integer.
fn non_negative(name: &str, n: i64) -> Result<u32, ChorusError> {
    u32::try_from(n).map_err(|_| ChorusError::InvalidArgument {
        reason: format!("{name} must be between 0 and {}, not {n}", u32::MAX),
    })
}

/// An optional duration in milliseconds, given as a signed integer.
fn millis(name: &str, n: Option<i64>) -> Result<Option<std::time::Duration>, ChorusError> {
    n.map(|n| {
        u64::try_from(n)
            .map(ms)
            .map_err(|_| ChorusError::InvalidArgument {
                reason: format!("{name} must not be negative, not {n}"),
            })
    })
    .transpose()
}

/// A token source failure as the Rust client takes it: a `Server` error the
/// app threw keeps its code and temporary flag (a terminal one closes the
/// client); anything else is temporary, so the connection retries with backoff.
fn token_error(e: ChorusError) -> core::ClientError {
    let error = match e {
        ChorusError::Server {
            code,
            reason,
            temporary,
        } => match u16::try_from(code) {
            Ok(code) => chorus_protocol::message::Error {
                code: ErrorCode(code),
                message: reason,
                temporary,
            },
            Err(_) => chorus_protocol::message::Error::new(
                ErrorCode::UNAVAILABLE,
                format!("the token source threw code {code}, outside 0..=65535: {reason}"),
            ),
        },
        other => chorus_protocol::message::Error::new(ErrorCode::UNAVAILABLE, other.to_string()),
    };
    core::ClientError::Server(error)
}

/// Converts an error, attaching the close code for `Closed`.
fn convert(client: &core::Client, e: core::ClientError) -> ChorusError {
    let close = match e {
        core::ClientError::Closed(_) => client.last_close().map(Into::into),
        _ => None,
    };
    ChorusError::from_client(e, close)
}

/// The client's event streams, subscribed to at once.
struct ClientEvents {
    states: tokio::sync::watch::Receiver<core::ConnectionState>,
    messages: tokio::sync::broadcast::Receiver<chorus_protocol::message::Message>,
    failures: tokio::sync::broadcast::Receiver<core::Failure>,
}

impl ClientEvents {
    fn of(client: &core::Client) -> ClientEvents {
        ClientEvents {
            states: client.state_changes(),
            messages: client.messages(),
            failures: client.failures(),
        }
    }
}

/// Forwards state changes, failures and user messages to the app's listener.
async fn pump_client_events(
    client: core::Client,
    events: ClientEvents,
    listener: Arc<dyn ClientListener>,
) {
    let ClientEvents {
        mut states,
        mut messages,
        mut failures,
    } = events;
    loop {
        tokio::select! {
            // A failure is published before the state it leads to: report it first.
            biased;
            failure = failures.recv() => match failure {
                Ok(f) => listener.on_event(f.into()),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            changed = states.changed() => {
                if changed.is_err() {
                    return;
                }
                let state = *states.borrow_and_update();
                let close = match state {
                    core::ConnectionState::Connected => None,
                    _ => client.last_close().map(Into::into),
                };
                listener.on_event(ClientEvent::StateChanged { state: state.into(), reason: close });
            }
            message = messages.recv() => match message {
                Ok(m) => listener.on_event(ClientEvent::MessageReceived { message: m.into() }),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
        }
    }
}
