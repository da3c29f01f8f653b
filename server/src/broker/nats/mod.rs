//! The cluster broker: any number of stateless nodes share one NATS cluster.
//! Core NATS subjects carry live traffic, JetStream keeps what must outlive a
//! node: history ([`history`]), presence ([`presence`]), the node registry
//! ([`registry`]) and idempotency keys. Names are listed in [`names`].
//!
//! A node listens to a channel's subject only while it has local members of
//! that channel ([`crate::broker::PubSub::channel_interest`]), and to a user's
//! subject only while that user has connections here; the broadcast and
//! control subjects are always on. What arrives is handed to the hub as plain
//! data ([`delivery`]).
//!
//! The files follow the broker's concerns: [`connect`] (connecting, buckets,
//! the always-on listeners), [`channels`] (publish, history, channel
//! interest), [`users`] (messages to users, closing, revocation, last seen),
//! [`housekeeping`] (the registry heartbeat and what dead nodes leave behind);
//! presence and cluster membership are below.

mod channels;
mod connect;
mod delivery;
mod direct;
mod history;
mod housekeeping;
mod leader;
pub(crate) mod names;
mod pauses;
mod presence;
mod registry;
mod setup;
mod users;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::jetstream::{self, kv};
use async_nats::{Client, Subscriber};
use chorus_protocol::Push;
use chorus_protocol::message::ClientInfo;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::delivery::Delivery;
use self::names::Names;
use self::presence::Presence;
use self::registry::Registry;
use self::wire::Control;
use super::{BoxFuture, BrokerError, Cluster, Freshness, NodeStatus, PresenceStats, PresenceStore};
use crate::config::Config;
use crate::sync::lock;

/// Bytes the idempotency bucket may hold (about 1.5 million keys).
pub(super) const IDEMPOTENCY_BUCKET_BYTES: i64 = 256 << 20;

/// How long a user's last-seen time is kept.
const LAST_SEEN_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

/// Aborts a background task when dropped (listeners end with their interest).
#[derive(Debug)]
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One node's cluster broker: its NATS connection, the listeners of channels and users with
/// local members, and the JetStream stores.
#[derive(Debug)]
pub(crate) struct NatsBroker {
    client: Client,
    names: Names,
    node: Arc<str>,
    started: Instant,
    delivery: Arc<Delivery>,
    presence: Arc<Presence>,
    registry: Arc<Registry>,
    idempotency: kv::Store,
    seen: kv::Store,
    /// For reads that must see every acknowledged write (last seen).
    leader: leader::Leader,
    js: jetstream::Context,
    timeout: Duration,
    channels: tokio::sync::Mutex<HashMap<Arc<str>, Task>>,
    users: tokio::sync::Mutex<HashMap<Arc<str>, (Task, Task)>>,
    /// Bumped on every (re)connection to NATS: channel listeners then fetch
    /// from history what they may have missed while disconnected.
    connections: watch::Sender<u64>,
    draining: AtomicBool,
    background: Mutex<Vec<Task>>,
}

impl NatsBroker {
    fn status(&self) -> NodeStatus {
        NodeStatus::of(
            &self.node,
            self.started,
            "nats",
            self.draining.load(Ordering::Relaxed),
            &self.delivery.hub,
        )
    }

    async fn subscribe(&self, subject: String) -> Result<Subscriber, BrokerError> {
        let sub = self
            .client
            .subscribe(subject)
            .await
            .map_err(|e| BrokerError::unavailable("subscribe", e))?;
        // The server has the subscription once the flush returns: nothing
        // published after this call is missed.
        tokio::time::timeout(self.timeout, self.client.flush())
            .await
            .map_err(|_| BrokerError::Timeout("subscribe: NATS did not answer".into()))?
            .map_err(|e| BrokerError::unavailable("subscribe", e))?;
        Ok(sub)
    }

    async fn publish_push(&self, subject: String, push: Push) -> Result<(), BrokerError> {
        let (bytes, _) = wire::encode_push(push)?;
        self.client
            .publish(subject, bytes)
            .await
            .map_err(|e| BrokerError::unavailable("publish", e))
    }

    async fn control(&self, c: Control) -> Result<(), BrokerError> {
        let bytes = serde_json::to_vec(&c).map_err(|e| BrokerError::encode("control", e))?;
        self.client
            .publish(self.names.control(), bytes.into())
            .await
            .map_err(|e| BrokerError::unavailable("control", e))
    }
}

impl PresenceStore for NatsBroker {
    fn presence_add(
        &self,
        channel: Arc<str>,
        info: ClientInfo,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(self.presence.add(channel, info))
    }

    fn presence_remove(
        &self,
        channel: Arc<str>,
        client: Arc<str>,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move { self.presence.remove(channel, &client).await })
    }

    fn presence(
        &self,
        channel: Arc<str>,
        fresh: Freshness,
    ) -> BoxFuture<'_, Result<Vec<ClientInfo>, BrokerError>> {
        Box::pin(async move {
            self.presence
                .members(&channel, &self.registry.dead(), fresh)
                .await
        })
    }

    fn presence_stats(
        &self,
        channel: Arc<str>,
        fresh: Freshness,
    ) -> BoxFuture<'_, Result<PresenceStats, BrokerError>> {
        Box::pin(async move {
            self.presence
                .stats(&channel, &self.registry.dead(), fresh)
                .await
        })
    }
}

impl Cluster for NatsBroker {
    fn ready(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    fn nodes(&self) -> BoxFuture<'_, Result<Option<Vec<NodeStatus>>, BrokerError>> {
        Box::pin(async move { self.registry.read().await.map(Some) })
    }

    fn reconfigure(&self, config: Arc<Config>) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.delivery.history.reconfigure(&config).await?;
            self.delivery.set_config(config);
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.draining.store(true, Ordering::Relaxed);
            lock(&self.background).clear();
            self.registry.leave().await;
            self.presence.clear().await;
            self.channels.lock().await.clear();
            self.users.lock().await.clear();
            let _ = tokio::time::timeout(self.timeout, self.client.flush()).await;
        })
    }
}
