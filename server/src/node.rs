//! A running node: its configuration and the shared parts every connection
//! uses, and what a node does on behalf of clients and backends alike
//! (publish, presence, history, messages to users, user status). Starting one
//! is [`crate::server`]'s job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::watch;

use crate::auth::Verifier;
use crate::broker::{Broker, Freshness};
use crate::config::{Config, ConfigError, NamespaceConfig};
use crate::hooks::Hooks;
use crate::hub::{ClientId, Hub};
use crate::metrics::Metrics;
pub use crate::reload::ReloadError;
use crate::stream_key::StreamKey;
use crate::sync::{read, write};

/// The shared state of one node. An embedder gets it from
/// [`Server::node`](crate::Server::node) to read the configuration in force,
/// reload it, and see whether the node drains; acting on the node is the
/// [`Handle`](crate::Handle)'s job, and the rest stays inside the crate.
pub struct Node {
    /// The configuration in force (replaced whole by a reload).
    pub(crate) config: RwLock<Arc<Config>>,
    /// Token verification (replaced by a reload).
    pub(crate) verifier: RwLock<Arc<Verifier>>,
    /// Where a reload reads the configuration from, if anywhere.
    pub(crate) reload_source: Option<ReloadSource>,
    /// This node's id (random per start).
    pub(crate) id: Arc<str>,
    /// Local connections and memberships.
    pub(crate) hub: Arc<Hub>,
    /// How messages reach other nodes.
    pub(crate) broker: Arc<dyn Broker>,
    /// The embedder's hooks on connect, subscribe, publish and rpc (accepting defaults if unset).
    pub(crate) hooks: Arc<dyn Hooks>,
    /// The counters, gauges and histograms served at `/metrics`.
    pub(crate) metrics: Metrics,
    /// Time the node itself stood still (credited by the rate limit).
    pub(crate) stall: Arc<crate::stall::StallClock>,
    /// The caps connections are admitted against before they authenticate.
    pub(crate) admission: crate::listener::Admission,
    /// TLS served by the node itself, if configured.
    pub(crate) tls: crate::tls::Tls,
    pub(crate) counter: AtomicU64,
    pub(crate) shutdown: watch::Sender<bool>,
    /// When the node started, for `uptime_ms` in `/api/info` and the registry.
    pub(crate) started: Instant,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Produces the configuration again (file, environment, flags), for reloads.
pub(crate) type ReloadSource = Arc<dyn Fn() -> Result<Config, ConfigError> + Send + Sync>;

impl Node {
    /// The configuration in force. Hold the returned `Arc` for a consistent
    /// view; a reload replaces the configuration, not what was handed out.
    pub fn config(&self) -> Arc<Config> {
        read(&self.config).clone()
    }

    /// The token verifier in force.
    pub(crate) fn verifier(&self) -> Arc<Verifier> {
        read(&self.verifier).clone()
    }

    /// Replaces namespaces, limits and secrets without dropping connections.
    /// Options that shape the running node (listen address, WebSocket path,
    /// NATS, cluster, dev profile, whether the API is on) cannot change: such a
    /// config is refused, naming the option, and the old one stays in force.
    pub async fn reload(&self, new: Config) -> Result<(), ReloadError> {
        new.validate()?;
        let old = self.config();
        crate::reload::check_fixed(&old, &new)?;
        let verifier = Verifier::new(&new.auth)?;
        self.tls.reload(&new.tls)?;
        let new = Arc::new(new);
        self.broker.reconfigure(new.clone()).await?;
        *write(&self.verifier) = Arc::new(verifier);
        *write(&self.config) = new;
        tracing::info!("configuration reloaded");
        Ok(())
    }

    /// Reloads from the node's configuration source (the `chorus` binary's
    /// file, environment and flags).
    pub async fn reload_from_source(&self) -> Result<(), ReloadError> {
        let source = self.reload_source.as_ref().ok_or(ReloadError::NoSource)?;
        let config = source()?;
        self.reload(config).await
    }

    /// A fresh connection id, unique across the cluster.
    pub(crate) fn next_client_id(&self) -> ClientId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.id).into()
    }

    /// `memory` (single node) or `nats` (cluster).
    pub(crate) fn broker_kind(&self) -> &'static str {
        if self.config().nats.is_empty() {
            "memory"
        } else {
            "nats"
        }
    }

    /// True once shutdown started: not ready, not accepting.
    pub fn draining(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Resolves when shutdown starts.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Starts draining: readiness turns false and every connection is told to
    /// reconnect elsewhere.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Refuses data larger than clients may receive (`limits.max_message_size`,
    /// error 113): one bound for what clients publish and what backends send.
    pub(crate) fn check_size(
        &self,
        data: &chorus_protocol::Payload,
    ) -> Result<(), chorus_protocol::message::Error> {
        let max = self.config().limits.max_message_size;
        if data.len() > max {
            return Err(chorus_protocol::message::Error::new(
                chorus_protocol::ErrorCode::MESSAGE_TOO_LARGE,
                format!("data is {} bytes; the maximum is {max}", data.len()),
            ));
        }
        Ok(())
    }

    /// Refuses a recipient whose user id breaks the grammar (error 107, naming it).
    pub(crate) fn check_recipient(user: &str) -> Result<(), chorus_protocol::message::Error> {
        chorus_protocol::check_user_id(user).map_err(|e| {
            chorus_protocol::message::Error::new(
                chorus_protocol::ErrorCode::BAD_REQUEST,
                format!("{user:?}: {e}"),
            )
        })
    }

    /// Parses a channel name and finds its namespace's options.
    pub(crate) fn resolve(
        &self,
        channel: &str,
    ) -> Result<(chorus_protocol::Channel, NamespaceConfig), chorus_protocol::message::Error> {
        use chorus_protocol::{ErrorCode, message::Error};
        let channel = chorus_protocol::Channel::parse(channel)
            .map_err(|e| Error::new(ErrorCode::BAD_REQUEST, e.to_string()))?;
        let ns = self
            .config()
            .namespace(channel.namespace())
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::UNKNOWN_CHANNEL,
                    format!("namespace {:?} is not configured", channel.namespace()),
                )
            })?;
        Ok((channel, ns))
    }

    /// Publishes to a resolved channel through the broker: the one path shared by
    /// clients (with their info) and server code (without).
    pub(crate) async fn publish(
        &self,
        channel: &chorus_protocol::Channel,
        ns: &NamespaceConfig,
        data: chorus_protocol::Payload,
        info: Option<chorus_protocol::message::ClientInfo>,
        idempotency_key: Option<String>,
    ) -> Result<chorus_protocol::message::PublishResult, chorus_protocol::message::Error> {
        let idempotency_key = match idempotency_key {
            Some(key) => {
                crate::idempotency::check(&key).map_err(|e| {
                    chorus_protocol::message::Error::new(chorus_protocol::ErrorCode::BAD_REQUEST, e)
                })?;
                Some(crate::idempotency::KeyDigest::of(channel.as_str(), &key))
            }
            None => None,
        };
        let outcome = self
            .broker
            .publish(crate::broker::PublishArgs {
                channel: channel.as_str().into(),
                data,
                info,
                idempotency_key,
                history: ns.history(),
            })
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, %channel, "could not publish");
                chorus_protocol::message::Error::from(e)
            })?;
        Ok(chorus_protocol::message::PublishResult {
            position: outcome.position,
            duplicate: outcome.duplicate,
        })
    }

    /// Adds a connection to a channel on this node and returns once the node
    /// receives the channel's traffic. Every subscriber waits for that, first
    /// or not: a concurrent first subscriber may still be setting it up, and
    /// history read before it is in place could miss a publication.
    pub(crate) async fn join_channel(
        &self,
        channel: &Arc<str>,
        recipient: &crate::hub::Recipient,
    ) -> Result<(), crate::broker::BrokerError> {
        self.hub.subscribe(channel, recipient);
        if let Err(e) = self.broker.channel_interest(channel.clone()).await {
            self.leave_channel(channel, &recipient.id).await;
            return Err(e);
        }
        Ok(())
    }

    /// Removes a connection from a channel on this node; after its last local
    /// member, the node stops receiving the channel's traffic.
    pub(crate) async fn leave_channel(&self, channel: &Arc<str>, client: &str) {
        if self.hub.unsubscribe(channel, client) {
            if let Err(e) = self.broker.channel_interest(channel.clone()).await {
                tracing::warn!(error = %e, %channel, "could not drop channel interest");
            }
        }
    }

    /// Resolves a channel whose namespace has presence (error 108 otherwise).
    pub(crate) fn resolve_presence(
        &self,
        channel: &str,
    ) -> Result<(chorus_protocol::Channel, NamespaceConfig), chorus_protocol::message::Error> {
        let (channel, ns) = self.resolve(channel)?;
        if !ns.presence {
            return Err(chorus_protocol::message::Error::new(
                chorus_protocol::ErrorCode::NOT_AVAILABLE,
                format!("presence is not enabled for {channel}"),
            ));
        }
        Ok((channel, ns))
    }

    /// Members of a channel across the cluster (for `presence` and the server API).
    pub(crate) async fn presence(
        &self,
        channel: &chorus_protocol::Channel,
    ) -> Result<chorus_protocol::message::PresenceResult, chorus_protocol::message::Error> {
        let clients = self
            .broker
            .presence(channel.as_str().into(), Freshness::Latest)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, %channel, "could not read presence");
                chorus_protocol::message::Error::from(e)
            })?;
        Ok(chorus_protocol::message::PresenceResult { clients })
    }

    /// Member counts of a channel across the cluster.
    pub(crate) async fn presence_stats(
        &self,
        channel: &chorus_protocol::Channel,
    ) -> Result<chorus_protocol::message::PresenceStatsResult, chorus_protocol::message::Error>
    {
        let s = self
            .broker
            .presence_stats(channel.as_str().into(), Freshness::Latest)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, %channel, "could not read presence stats");
                chorus_protocol::message::Error::from(e)
            })?;
        Ok(chorus_protocol::message::PresenceStatsResult {
            clients: s.clients,
            users: s.users,
        })
    }

    /// Reads a page of history for the `history` command and the server API
    /// (`limit` absent or 0: only the current position).
    pub(crate) async fn history_page(
        &self,
        channel: &chorus_protocol::Channel,
        ns: &NamespaceConfig,
        req: chorus_protocol::message::HistoryRequest,
    ) -> Result<chorus_protocol::message::HistoryResult, chorus_protocol::message::Error> {
        use chorus_protocol::{ErrorCode, message::Error};
        let Some(opts) = ns.history() else {
            return Err(Error::new(
                ErrorCode::NOT_AVAILABLE,
                format!("history is not enabled for {channel}"),
            ));
        };
        let query = crate::history::HistoryQuery {
            since: req.since,
            limit: Some((req.limit.unwrap_or(0) as usize).min(opts.size)),
            reverse: req.reverse,
        };
        let page = self
            .broker
            .history(StreamKey::Channel(channel.as_str().into()), opts, query)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, %channel, "could not read history");
                Error::from(e)
            })?;
        Ok(chorus_protocol::message::HistoryResult {
            position: page.position,
            publications: page.publications,
        })
    }

    /// Sends a message to every connection of a user, on every node, through
    /// the user's inbox when inboxes are on: the one path of the `send`
    /// command and the server API.
    pub(crate) async fn send_to_user(
        &self,
        user: &str,
        message: chorus_protocol::message::Message,
        sender: Sender,
    ) -> Result<(), chorus_protocol::message::Error> {
        let config = self.config();
        let mut inbox = crate::inbox::options(&config);
        if inbox.is_some() && sender == Sender::Client && !config.users.client_inbox_for_unseen {
            // A client cannot make the node keep messages for user ids that
            // never connected: they reach whoever is online, nothing more.
            let seen = self.seen(user).await.map_err(|e| {
                tracing::warn!(error = %e, user, "could not tell whether the user was ever online");
                chorus_protocol::message::Error::from(e)
            })?;
            if !seen {
                inbox = None;
            }
        }
        self.broker
            .send_to_user(user.into(), message, inbox)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, user, "could not send to a user");
                chorus_protocol::message::Error::from(e)
            })
    }

    /// Whether `user` is online anywhere now or was online once (has a
    /// last-seen time), read as [`Self::statuses`] reads it.
    async fn seen(&self, user: &str) -> Result<bool, crate::broker::BrokerError> {
        let status = self.statuses(vec![user.to_owned()]).await?;
        Ok(status
            .first()
            .is_some_and(|s| s.online || s.last_seen_ms.is_some()))
    }

    /// Counts a new connection of an authenticated user towards their online
    /// status; the first one anywhere makes the user online.
    pub(crate) async fn status_join(
        &self,
        info: &chorus_protocol::message::ClientInfo,
    ) -> Result<(), crate::broker::BrokerError> {
        let key = StreamKey::Status(info.user.as_str().into()).stored();
        self.broker.presence_add(key.clone(), info.clone()).await?;
        if self
            .broker
            .presence_stats(key, Freshness::OwnWrites)
            .await?
            .clients
            == 1
        {
            let status = crate::online::UserStatus {
                user: info.user.clone(),
                online: true,
                last_seen_ms: None,
            };
            crate::online::announce(&*self.broker, &self.config(), status).await;
        }
        Ok(())
    }

    /// Forgets a closed connection; the last one anywhere makes the user
    /// offline. Last seen is stored first, while the connection still counts
    /// as online (see [`Self::statuses`]); a failure to store it is returned once
    /// the connection is forgotten.
    pub(crate) async fn status_leave(
        &self,
        info: &chorus_protocol::message::ClientInfo,
    ) -> Result<(), crate::broker::BrokerError> {
        let now = crate::clock::unix_ms();
        let stored = self
            .broker
            .set_last_seen(info.user.as_str().into(), now)
            .await;
        let key = StreamKey::Status(info.user.as_str().into()).stored();
        self.broker
            .presence_remove(key.clone(), info.client.as_str().into())
            .await?;
        if self
            .broker
            .presence_stats(key, Freshness::OwnWrites)
            .await?
            .clients
            == 0
        {
            let status = crate::online::UserStatus::offline(&info.user, now);
            crate::online::announce(&*self.broker, &self.config(), status).await;
        }
        stored
    }

    /// The online status of users, across the cluster.
    pub(crate) async fn user_status(
        &self,
        users: Vec<String>,
    ) -> Result<Vec<crate::online::UserStatus>, chorus_protocol::message::Error> {
        self.statuses(users).await.map_err(|e| {
            tracing::warn!(error = %e, "could not read the online status of users");
            chorus_protocol::message::Error::from(e)
        })
    }

    /// The online status of users. Presence is read first: a closing
    /// connection stores last seen before its presence entry goes, so a user
    /// who connected once is found by one of the two reads, whatever node
    /// closed them when.
    async fn statuses(
        &self,
        users: Vec<String>,
    ) -> Result<Vec<crate::online::UserStatus>, crate::broker::BrokerError> {
        let mut online = Vec::with_capacity(users.len());
        for user in &users {
            let stats = self
                .broker
                .presence_stats(
                    StreamKey::Status(user.as_str().into()).stored(),
                    Freshness::Latest,
                )
                .await?;
            online.push(stats.clients > 0);
        }
        let offline: Vec<String> = users
            .iter()
            .zip(&online)
            .filter(|(_, on)| !**on)
            .map(|(user, _)| user.clone())
            .collect();
        let mut seen = self
            .broker
            .last_seen(offline, Freshness::Latest)
            .await?
            .into_iter();
        Ok(users
            .into_iter()
            .zip(online)
            .map(|(user, online)| crate::online::UserStatus {
                user,
                online,
                last_seen_ms: if online { None } else { seen.next().flatten() },
            })
            .collect())
    }

    /// The inbox part of a connect reply: the position, and with `since` the
    /// messages after it (`None` when inboxes are off).
    pub(crate) async fn inbox_page(
        &self,
        user: &str,
        since: Option<chorus_protocol::message::StreamPosition>,
    ) -> Result<Option<chorus_protocol::message::InboxResult>, chorus_protocol::message::Error>
    {
        let Some(opts) = crate::inbox::options(&self.config()) else {
            return Ok(None);
        };
        let query = crate::history::HistoryQuery {
            limit: since.is_none().then_some(0),
            since,
            reverse: false,
        };
        let page = self
            .broker
            .history(StreamKey::Inbox(user.into()), opts, query)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, user, "could not read the inbox");
                chorus_protocol::message::Error::from(e)
            })?;
        Ok(Some(chorus_protocol::message::InboxResult {
            position: page.position,
            recovered: page.recovered,
            messages: if page.recovered {
                page.publications
                    .into_iter()
                    .map(crate::inbox::to_message)
                    .collect()
            } else {
                Vec::new()
            },
        }))
    }
}

/// Who sends a message to a user: the rules differ for clients and backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sender {
    /// A connected client (`send`).
    Client,
    /// Server code: the server API, hooks, the embedding API.
    Server,
}
