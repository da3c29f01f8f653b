//! The cluster broker: any number of stateless nodes share one NATS cluster.
//! Core NATS subjects carry live traffic, JetStream keeps what must outlive a
//! node: history ([`history`]), presence ([`presence`]), the node registry
//! ([`registry`]) and idempotency keys. Names are listed in [`names`].
//!
//! A node listens to a channel's subject only while it has local members of
//! that channel ([`Broker::channel_interest`]), and to a user's subject only
//! while that user has connections here; the broadcast and control subjects are
//! always on. Every delivery into local connections goes through the hub.

mod direct;
mod history;
pub mod names;
mod presence;
mod registry;
mod setup;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::jetstream::kv;
use async_nats::jetstream::{self, stream::StorageType};
use async_nats::{Client, ConnectOptions, Event, ServerAddr, Subscriber};
use bytes::Bytes;
use chorus_protocol::message::{ClientInfo, Membership, Message, Publication, StreamPosition};
use chorus_protocol::{CloseCode, Push};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::history::HistoryStore;
use self::names::Names;
use self::presence::Presence;
use self::registry::Registry;
use self::wire::Control;
use super::{
    BoxFuture, Broker, BrokerError, Freshness, NodeStatus, PresenceStats, PublishArgs,
    PublishOutcome,
};
use crate::config::{ClusterStorage, Config};
use crate::history::{HistoryOptions, HistoryPage, HistoryQuery};
use crate::hub::Hub;
use crate::outgoing::{Outgoing, SharedFrame};
use crate::revocation::{Revocation, Revoked, TokenId, unix_now};
use async_nats::jetstream::message::PublishMessage;

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

/// What listener tasks need to deliver into this node.
#[derive(Debug)]
struct Delivery {
    hub: Arc<Hub>,
    config: std::sync::RwLock<Arc<Config>>,
    history: Arc<HistoryStore>,
}

/// The NATS broker.
#[derive(Debug)]
pub struct NatsBroker {
    client: Client,
    names: Names,
    node: Arc<str>,
    started: Instant,
    delivery: Arc<Delivery>,
    presence: Arc<Presence>,
    registry: Arc<Registry>,
    idempotency: kv::Store,
    seen: kv::Store,
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

fn err(what: &str) -> impl Fn(String) -> BrokerError + '_ {
    move |e| BrokerError(format!("{what}: {e}"))
}

impl NatsBroker {
    /// Connects to NATS, creates the stream and buckets (or checks they match),
    /// registers the node and starts listening to broadcast and control traffic.
    pub async fn connect(
        config: Arc<Config>,
        hub: Arc<Hub>,
        node: Arc<str>,
    ) -> Result<Arc<NatsBroker>, BrokerError> {
        let cluster = &config.cluster;
        let timeout = Duration::from_millis(cluster.request_timeout_ms);
        let addrs = config
            .nats
            .iter()
            .map(|u| u.parse::<ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BrokerError(format!("NATS URL: {e}")))?;
        let (connections, _) = watch::channel(0u64);
        let events = connections.clone();
        let mut options = ConnectOptions::new();
        if let Some(ca) = &cluster.nats_ca_file {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        let client = options
            .name(format!("chorus node {node}"))
            .connection_timeout(timeout)
            .max_reconnects(None)
            .event_callback(move |event| {
                let events = events.clone();
                async move {
                    match event {
                        Event::Connected => {
                            tracing::info!("connected to NATS");
                            events.send_modify(|n| *n += 1);
                        }
                        Event::Disconnected => tracing::warn!("disconnected from NATS"),
                        other => tracing::info!(event = %other, "NATS"),
                    }
                }
            })
            .connect(addrs)
            .await
            .map_err(|e| BrokerError(format!("connect to NATS {:?}: {e}", config.nats)))?;
        let js = jetstream::ContextBuilder::new()
            .timeout(timeout)
            .build(client.clone());
        let names = Names::new(&cluster.prefix);
        let node_ttl = Duration::from_millis(cluster.node_ttl_ms);
        let bucket = |name: String, max_age: Duration| kv::Config {
            bucket: name,
            history: 1,
            max_age,
            storage: match cluster.storage {
                ClusterStorage::File => StorageType::File,
                ClusterStorage::Memory => StorageType::Memory,
            },
            num_replicas: cluster.replicas,
            ..Default::default()
        };
        let presence_kv = setup::retrying("presence bucket", || {
            js.create_or_update_key_value(bucket(names.presence_bucket(), node_ttl * 3))
        })
        .await?;
        let nodes_kv = setup::retrying("registry bucket", || {
            js.create_or_update_key_value(bucket(names.nodes_bucket(), node_ttl))
        })
        .await?;
        let window = Duration::from_millis(config.limits.idempotency_window_ms.max(1_000));
        // Keys are fixed-size digests; the bucket is bounded all the same
        // (when full, keyed publishes to channels without history fail with 100).
        let mut idem = bucket(names.idempotency_bucket(), window);
        idem.max_bytes = IDEMPOTENCY_BUCKET_BYTES;
        let idempotency = setup::retrying("idempotency bucket", || {
            js.create_or_update_key_value(idem.clone())
        })
        .await?;
        let seen = setup::retrying("last-seen bucket", || {
            js.create_or_update_key_value(bucket(names.seen_bucket(), LAST_SEEN_KEPT))
        })
        .await?;
        let mut revoked = bucket(names.revoked_bucket(), Duration::ZERO);
        revoked.limit_markers = Some(Duration::from_secs(1));
        setup::retrying("revocation bucket", || {
            js.create_or_update_key_value(revoked.clone())
        })
        .await?;
        let history = Arc::new(
            HistoryStore::new(
                client.clone(),
                js.clone(),
                names.clone(),
                node.clone(),
                &config,
            )
            .await?,
        );
        let presence = Arc::new(Presence::new(
            client.clone(),
            presence_kv,
            names.clone(),
            node.clone(),
            timeout,
        ));
        setup::retrying("presence marker", || presence.mark()).await?;
        let registry = Arc::new(Registry::new(
            client.clone(),
            nodes_kv,
            names.clone(),
            node.clone(),
            timeout,
            node_ttl * 3,
        ));
        let broker = Arc::new(NatsBroker {
            client,
            names,
            node,
            started: Instant::now(),
            delivery: Arc::new(Delivery {
                hub,
                config: std::sync::RwLock::new(config),
                history,
            }),
            presence,
            registry,
            idempotency,
            seen,
            js,
            timeout,
            channels: Default::default(),
            users: Default::default(),
            connections,
            draining: AtomicBool::new(false),
            background: Mutex::default(),
        });
        broker.registry.beat(&broker.status()).await?;
        broker.registry.poll().await?;
        broker.start_background().await?;
        Ok(broker)
    }

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
            .map_err(|e| err("subscribe")(e.to_string()))?;
        // The server has the subscription once the flush returns: nothing
        // published after this call is missed.
        tokio::time::timeout(self.timeout, self.client.flush())
            .await
            .map_err(|_| BrokerError("subscribe: NATS did not answer".into()))?
            .map_err(|e| err("subscribe")(e.to_string()))?;
        Ok(sub)
    }

    async fn start_background(self: &Arc<Self>) -> Result<(), BrokerError> {
        let mut tasks = Vec::new();
        let broadcast = self.subscribe(self.names.broadcast()).await?;
        let delivery = self.delivery.clone();
        tasks.push(Task(tokio::spawn(listen(broadcast, move |push, bytes| {
            delivery
                .hub
                .deliver_all(&Outgoing::for_push(SharedFrame::push_encoded(push, bytes)));
        }))));
        let mut control = self.subscribe(self.names.control()).await?;
        let hub = self.delivery.hub.clone();
        tasks.push(Task(tokio::spawn(async move {
            while let Some(message) = control.next().await {
                match serde_json::from_slice::<Control>(&message.payload) {
                    Ok(c) => {
                        let code = c.code();
                        match c {
                            Control::CloseUser { user, reason, .. } => {
                                hub.close_user(&user, code, &reason);
                            }
                            Control::CloseClient { client, reason, .. } => {
                                hub.close_client(&client, code, &reason);
                            }
                            Control::Revoke(revocation) => {
                                hub.close_revoked(&revocation);
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "bad control message"),
                }
            }
        })));
        let weak = Arc::downgrade(self);
        let period = Duration::from_millis(self.delivery.config().cluster.node_ttl_ms) / 3;
        tasks.push(Task(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            for round in 1u64.. {
                tick.tick().await;
                let Some(broker) = weak.upgrade() else { break };
                broker.housekeeping(round % 3 == 0).await;
            }
        })));
        // Revocations published while this node was cut off from NATS never
        // reached it: after every reconnect, check the tokens it holds.
        let weak = Arc::downgrade(self);
        let mut connections = self.connections.subscribe();
        tasks.push(Task(tokio::spawn(async move {
            while connections.changed().await.is_ok() {
                let Some(broker) = weak.upgrade() else { break };
                broker.recheck_revocations().await;
            }
        })));
        *self.background.lock().unwrap_or_else(|p| p.into_inner()) = tasks;
        Ok(())
    }

    /// Closes local connections whose token was revoked (after a reconnect).
    async fn recheck_revocations(&self) {
        for handle in self.delivery.hub.handles() {
            if handle.user.is_empty() {
                continue;
            }
            match self.is_revoked(handle.user.clone(), handle.token()).await {
                Ok(true) => handle.close(CloseCode::TOKEN_REVOKED, "token revoked"),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not check revocations after a reconnect");
                    return;
                }
            }
        }
    }

    /// Refreshes the registry entry, notices dead nodes, refreshes presence.
    async fn housekeeping(&self, refresh_presence: bool) {
        if let Err(e) = self.registry.beat(&self.status()).await {
            tracing::warn!(error = %e, "registry refresh failed");
        }
        match self.registry.poll().await {
            Ok(died) => {
                for node in died {
                    self.announce_leaves(&node).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "registry read failed"),
        }
        if refresh_presence {
            self.presence.refresh().await;
        }
    }

    /// What a dead node's members leave behind. Every surviving node tells its
    /// own subscribers that they left; the leading node alone records its users
    /// offline (last seen now) and publishes their status events.
    async fn announce_leaves(&self, dead: &str) {
        let entries = match self.presence.all_of_node(dead).await {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(error = %e, node = dead, "could not read a dead node's members");
                return;
            }
        };
        let config = self.delivery.config();
        let hub = &self.delivery.hub;
        for (key, members) in entries {
            if let Some(user) = crate::status::user_of(&key) {
                if self.registry.leads() {
                    self.announce_offline(&config, &key, user).await;
                }
                continue;
            }
            let joins_leaves = namespace_of(&config, &key).is_some_and(|ns| ns.join_leave);
            if !joins_leaves || hub.channel_members(&key) == 0 {
                continue;
            }
            for info in members {
                let push = Push::Leave(Membership {
                    channel: key.clone(),
                    info,
                });
                hub.deliver_channel(&key, &Outgoing::for_push(SharedFrame::push(push)));
            }
        }
    }

    /// Records `user` offline if no live node holds a connection of theirs.
    async fn announce_offline(&self, config: &Config, key: &str, user: &str) {
        let dead = self.registry.dead();
        match self.presence.stats(key, &dead, Freshness::Latest).await {
            Ok(stats) if stats.clients == 0 => {}
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, user, "could not check a user's status");
                return;
            }
        }
        let now = crate::status::unix_ms();
        if let Err(e) = self.set_last_seen(user.into(), now).await {
            tracing::warn!(error = %e, user, "could not record last seen");
        }
        let status = crate::status::UserStatus {
            user: user.to_owned(),
            online: false,
            last_seen_ms: Some(now),
        };
        if let Some(args) = crate::status::event(config, &status) {
            if let Err(e) = self.publish(args).await {
                tracing::warn!(error = %e, user, "could not publish a status event");
            }
        }
    }

    async fn publish_push(&self, subject: String, push: Push) -> Result<(), BrokerError> {
        let (bytes, _) = wire::encode_push(push)?;
        self.client
            .publish(subject, bytes)
            .await
            .map_err(|e| err("publish")(e.to_string()))
    }

    async fn control(&self, c: Control) -> Result<(), BrokerError> {
        let bytes = serde_json::to_vec(&c).map_err(|e| BrokerError(e.to_string()))?;
        self.client
            .publish(self.names.control(), bytes.into())
            .await
            .map_err(|e| err("control")(e.to_string()))
    }

    fn history_store(&self) -> Result<&Arc<HistoryStore>, BrokerError> {
        Ok(&self.delivery.history)
    }
}

fn namespace_of<'a>(
    config: &'a Config,
    channel: &str,
) -> Option<&'a crate::config::NamespaceConfig> {
    let parsed = chorus_protocol::Channel::parse(channel).ok()?;
    config.namespace(parsed.namespace())
}

/// Delivers every push arriving on `sub` with `deliver`.
async fn listen(mut sub: Subscriber, deliver: impl Fn(Push, Bytes)) {
    while let Some(message) = sub.next().await {
        if let Some(push) = wire::decode_push(&message.payload) {
            deliver(push, message.payload);
        }
    }
}

/// Where a stream's live traffic goes on this node.
#[derive(Debug, Clone)]
enum Target {
    /// A channel's local members.
    Channel,
    /// A user's local connections (the stream is the user's inbox).
    Inbox(Arc<str>),
}

/// Delivers a stream's live traffic (a channel's, or a user's inbox) to local
/// connections, in offset order: a publication that skips offsets (missed
/// during a NATS reconnect) is preceded by the missing ones, read back from
/// history; after every reconnect, whatever was stored meanwhile is read back too.
async fn listen_stream(
    delivery: Arc<Delivery>,
    key: Arc<str>,
    target: Target,
    mut sub: Subscriber,
    mut connections: watch::Receiver<u64>,
) {
    let mut last: Option<StreamPosition> = None;
    loop {
        tokio::select! {
            message = sub.next() => {
                let Some(message) = message else { break };
                let Some(push) = wire::decode_push(&message.payload) else { continue };
                if let (Push::Publication(p), Some(opts)) = (&push, delivery.history_options(&key)) {
                    if let Some(position) = position_of(p) {
                        if !delivery.catch_up(&key, &target, opts, &mut last, Some(&position)).await {
                            continue;
                        }
                        last = Some(position);
                    }
                }
                let frame = match (&target, push) {
                    (Target::Inbox(_), Push::Publication(p)) => {
                        SharedFrame::push(Push::Message(crate::inbox::to_message(p)))
                    }
                    (_, push) => SharedFrame::push_encoded(push, message.payload),
                };
                delivery.deliver(&key, &target, Outgoing::for_push(frame));
            }
            changed = connections.changed() => {
                if changed.is_err() { break }
                if let Some(opts) = delivery.history_options(&key) {
                    delivery.catch_up(&key, &target, opts, &mut last, None).await;
                }
            }
        }
    }
}

fn position_of(p: &Publication) -> Option<StreamPosition> {
    Some(StreamPosition {
        offset: p.offset?,
        epoch: p.epoch.clone()?,
    })
}

impl Delivery {
    fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// History bounds of a channel's namespace (or of inboxes), as configured now.
    fn history_options(&self, key: &str) -> Option<HistoryOptions> {
        let config = self.config();
        if crate::inbox::user_of(key).is_some() {
            return crate::inbox::options(&config);
        }
        namespace_of(&config, key).and_then(crate::node::Node::history_options)
    }

    fn deliver(&self, key: &str, target: &Target, item: Outgoing) {
        match target {
            Target::Channel => self.hub.deliver_channel(key, &item),
            Target::Inbox(user) => self.hub.deliver_user(user, &item),
        };
    }

    /// Before delivering the publication at `next` (or, with `None`, after a
    /// reconnect), delivers what history holds between `last` and it. Returns
    /// false when `next` was already delivered.
    async fn catch_up(
        &self,
        channel: &Arc<str>,
        target: &Target,
        opts: HistoryOptions,
        last: &mut Option<StreamPosition>,
        next: Option<&StreamPosition>,
    ) -> bool {
        let Some(seen) = last.clone() else {
            return true;
        };
        if let Some(next) = next {
            if next.epoch != seen.epoch {
                return true;
            }
            if next.offset <= seen.offset {
                return false;
            }
            if next.offset == seen.offset + 1 {
                return true;
            }
        }
        let store = &self.history;
        let query = HistoryQuery {
            since: Some(seen.clone()),
            limit: None,
            reverse: false,
        };
        let page = match store.read(channel, opts, &query).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, %channel, "could not read back missed publications");
                return true;
            }
        };
        if !page.recovered {
            tracing::warn!(%channel, "publications missed during a NATS outage are no longer stored");
        }
        for p in page.publications {
            let Some(position) = position_of(&p) else {
                continue;
            };
            if next.is_some_and(|n| position.offset >= n.offset) {
                break;
            }
            *last = Some(position);
            let push = match target {
                Target::Channel => Push::Publication(p),
                Target::Inbox(_) => Push::Message(crate::inbox::to_message(p)),
            };
            self.deliver(channel, target, Outgoing::for_push(SharedFrame::push(push)));
        }
        true
    }
}

impl Broker for NatsBroker {
    fn publish(&self, args: PublishArgs) -> BoxFuture<'_, Result<PublishOutcome, BrokerError>> {
        Box::pin(async move {
            let p = Publication {
                channel: args.channel.to_string(),
                offset: None,
                epoch: None,
                data: args.data,
                info: args.info,
            };
            if let Some(opts) = args.history {
                return self
                    .history_store()?
                    .append(&args.channel, p, opts, args.idempotency_key.as_ref())
                    .await;
            }
            if let Some(key) = &args.idempotency_key {
                let name = self.names.idempotency_key(key);
                match self.idempotency.create(&name, Bytes::new()).await {
                    Ok(_) => {}
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                        return Ok(PublishOutcome {
                            position: None,
                            duplicate: true,
                        });
                    }
                    Err(e) => return Err(err("idempotency")(e.to_string())),
                }
            }
            self.publish_push(self.names.channel(&args.channel), Push::Publication(p))
                .await?;
            Ok(PublishOutcome::default())
        })
    }

    fn history(
        &self,
        channel: Arc<str>,
        opts: HistoryOptions,
        query: HistoryQuery,
    ) -> BoxFuture<'_, Result<HistoryPage, BrokerError>> {
        Box::pin(async move { self.history_store()?.read(&channel, opts, &query).await })
    }

    fn channel_interest(&self, channel: Arc<str>) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let mut listeners = self.channels.lock().await;
            let wanted = self.delivery.hub.channel_members(&channel) > 0;
            match (wanted, listeners.contains_key(&channel)) {
                (true, false) => {
                    let sub = self.subscribe(self.names.channel(&channel)).await?;
                    let task = tokio::spawn(listen_stream(
                        self.delivery.clone(),
                        channel.clone(),
                        Target::Channel,
                        sub,
                        self.connections.subscribe(),
                    ));
                    listeners.insert(channel, Task(task));
                }
                (false, true) => {
                    listeners.remove(&channel);
                }
                _ => {}
            }
            Ok(())
        })
    }

    fn user_interest(&self, user: Arc<str>) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let mut listeners = self.users.lock().await;
            let wanted = self.delivery.hub.user_connections(&user) > 0;
            match (wanted, listeners.contains_key(&user)) {
                (true, false) => {
                    // Messages without inbox on the user's subject, and the
                    // user's inbox as its stream republishes it.
                    let direct = self.subscribe(self.names.user(&user)).await?;
                    let inbox_key: Arc<str> = crate::inbox::key(&user).into();
                    let inbox = self.subscribe(self.names.channel(&inbox_key)).await?;
                    let hub = self.delivery.hub.clone();
                    let target = user.clone();
                    let direct = tokio::spawn(listen(direct, move |push, bytes| {
                        let item = Outgoing::for_push(SharedFrame::push_encoded(push, bytes));
                        hub.deliver_user(&target, &item);
                    }));
                    let inbox = tokio::spawn(listen_stream(
                        self.delivery.clone(),
                        inbox_key,
                        Target::Inbox(user.clone()),
                        inbox,
                        self.connections.subscribe(),
                    ));
                    listeners.insert(user, (Task(direct), Task(inbox)));
                }
                (false, true) => {
                    listeners.remove(&user);
                }
                _ => {}
            }
            Ok(())
        })
    }

    fn send_to_user(
        &self,
        user: Arc<str>,
        message: Message,
        inbox: Option<HistoryOptions>,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let Some(opts) = inbox else {
                return self
                    .publish_push(self.names.user(&user), Push::Message(message))
                    .await;
            };
            let key: Arc<str> = crate::inbox::key(&user).into();
            let stored = crate::inbox::to_stored(&user, message);
            self.delivery
                .history
                .append(&key, stored, opts, None)
                .await
                .map(drop)
        })
    }

    fn broadcast(&self, message: Message) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.publish_push(self.names.broadcast(), Push::Message(message))
                .await
        })
    }

    fn membership(
        &self,
        joined: bool,
        event: Membership,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let subject = self.names.channel(&event.channel);
            let push = if joined {
                Push::Join(event)
            } else {
                Push::Leave(event)
            };
            self.publish_push(subject, push).await
        })
    }

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

    fn close_user(
        &self,
        user: Arc<str>,
        code: CloseCode,
        reason: String,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(self.control(Control::CloseUser {
            user: user.to_string(),
            code: code.0,
            reason,
        }))
    }

    fn close_client(
        &self,
        client: Arc<str>,
        code: CloseCode,
        reason: String,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(self.control(Control::CloseClient {
            client: client.to_string(),
            code: code.0,
            reason,
        }))
    }

    fn last_seen(
        &self,
        users: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<Option<u64>>, BrokerError>> {
        Box::pin(async move {
            let subjects: Vec<String> = users.iter().map(|u| self.names.seen_user(u)).collect();
            let batch = direct::batch(
                &self.client,
                &format!("KV_{}", self.names.seen_bucket()),
                serde_json::json!({ "multi_last": subjects, "batch": users.len().max(1) }),
                self.timeout,
            )
            .await?;
            let mut seen: HashMap<String, u64> = HashMap::new();
            for stored in batch.messages.iter().filter(|s| !s.is_tombstone()) {
                if let Ok(at) = std::str::from_utf8(&stored.message.payload)
                    .unwrap_or_default()
                    .parse()
                {
                    seen.insert(stored.subject.clone(), at);
                }
            }
            Ok(users
                .iter()
                .map(|u| seen.get(&self.names.seen_user(u)).copied())
                .collect())
        })
    }

    fn set_last_seen(&self, user: Arc<str>, at_ms: u64) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.seen
                .put(
                    chorus_protocol::subject::encode_token(&user),
                    at_ms.to_string().into(),
                )
                .await
                .map(drop)
                .map_err(|e| err("last seen")(e.to_string()))
        })
    }

    fn revoke(&self, revocation: Revocation) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let subject = match &revocation.revoked {
                Revoked::Token { jti } => self.names.revoked_token(jti),
                Revoked::User { user, .. } => self.names.revoked_user(user),
            };
            let ttl = revocation.until.saturating_sub(unix_now()).max(1);
            let value = serde_json::to_vec(&revocation).map_err(|e| BrokerError(e.to_string()))?;
            let publish = PublishMessage::build()
                .payload(value.into())
                .ttl(Duration::from_secs(ttl));
            self.js
                .send_publish(subject, publish)
                .await
                .map_err(|e| err("revoke")(e.to_string()))?
                .await
                .map_err(|e| err("revoke")(e.to_string()))?;
            self.control(Control::Revoke(revocation)).await
        })
    }

    fn is_revoked(
        &self,
        user: Arc<str>,
        token: TokenId,
    ) -> BoxFuture<'_, Result<bool, BrokerError>> {
        Box::pin(async move {
            let mut subjects = vec![self.names.revoked_user(&user)];
            if let Some(jti) = &token.jti {
                subjects.push(self.names.revoked_token(jti));
            }
            let batch = direct::batch(
                &self.client,
                &format!("KV_{}", self.names.revoked_bucket()),
                serde_json::json!({ "multi_last": subjects, "batch": 2 }),
                self.timeout,
            )
            .await?;
            let now = unix_now();
            Ok(batch
                .messages
                .iter()
                .filter(|s| !s.is_tombstone())
                .filter_map(|s| serde_json::from_slice::<Revocation>(&s.message.payload).ok())
                .any(|r| r.until > now && r.covers(&user, &token)))
        })
    }

    fn ready(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    fn nodes(&self) -> BoxFuture<'_, Result<Option<Vec<NodeStatus>>, BrokerError>> {
        Box::pin(async move { self.registry.read().await.map(Some) })
    }

    fn reconfigure(&self, config: Arc<Config>) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.delivery.history.reconfigure(&config).await?;
            *self
                .delivery
                .config
                .write()
                .unwrap_or_else(|p| p.into_inner()) = config;
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.draining.store(true, Ordering::Relaxed);
            self.background
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            self.registry.leave().await;
            self.presence.clear().await;
            self.channels.lock().await.clear();
            self.users.lock().await.clear();
            let _ = tokio::time::timeout(self.timeout, self.client.flush()).await;
        })
    }
}
