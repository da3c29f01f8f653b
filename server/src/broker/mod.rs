//! Brokers move messages between nodes and keep what outlives a connection
//! (history, presence, idempotency keys). [`Broker`] is four small traits, one
//! per concern ([`PubSub`], [`PresenceStore`], [`Users`], [`Cluster`]), with two
//! implementations: [`memory::MemoryBroker`] (the embedded single-node default)
//! and [`nats::NatsBroker`] for clusters.
//!
//! A broker decides how a publication reaches every node; on each node it
//! hands the publication to the [`Hub`] as plain data, and the hub alone
//! builds the queue items and shared frames its connections write.

mod error;
pub(crate) mod memory;
pub(crate) mod nats;

pub use error::BrokerError;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use chorus_protocol::Payload;
use chorus_protocol::message::{ClientInfo, Membership, Message, StreamPosition};
use serde::{Deserialize, Serialize};

use crate::history::{HistoryOptions, HistoryPage, HistoryQuery};
use crate::hub::Hub;
use crate::stream_key::StreamKey;

/// A boxed future: what [`Hooks`](crate::Hooks) methods return, and what lets
/// brokers be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A publish as the broker sees it.
#[derive(Debug, Clone)]
pub(crate) struct PublishArgs {
    /// Full channel name (`chat:lobby`, `dm:x#alice,bob`), already parsed.
    pub channel: Arc<str>,
    /// Opaque application bytes, delivered and stored unchanged.
    pub data: Payload,
    /// The publishing client's info, sent as the publication's `info`; `None` for server
    /// publishes (server API, status events).
    pub info: Option<ClientInfo>,
    /// Idempotency key, digested with the channel: a repeat within the
    /// window is not delivered again.
    pub idempotency_key: Option<crate::idempotency::KeyDigest>,
    /// History bounds, when the channel's namespace keeps history.
    pub history: Option<HistoryOptions>,
}

/// What a publish did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PublishOutcome {
    /// Position of the publication (history channels only).
    pub position: Option<StreamPosition>,
    /// True when the idempotency key was a repeat and nothing was delivered.
    pub duplicate: bool,
}

/// How current a presence read must be. One node always answers with what
/// it holds; on a cluster, replicas of the presence store can lag the last
/// writes by moments, and reading past that lag costs a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Reflects at least this node's own writes, at no extra cost: for the
    /// checks a node makes on its own paths (limits, online status).
    OwnWrites,
    /// Reflects every write acknowledged before the read began, on any node:
    /// what a client or backend asking for presence expects.
    Latest,
}

/// Member counts of one presence key (a channel, or a user's status key), over every live node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PresenceStats {
    /// Member connections, each client id counted once.
    pub clients: u32,
    /// Distinct user ids among them; anonymous members all share `""`, so count as one.
    pub users: u32,
}

/// What a node is: `/api/info`, and the first half of every `/api/nodes` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Node id, random per start: a restarted node is a new node.
    pub node: String,
    /// The `chorus` version it runs (mixed versions during a rolling upgrade).
    pub version: String,
    /// Milliseconds since it started.
    pub uptime_ms: u64,
    /// `memory` (one process) or `nats` (a cluster).
    pub broker: String,
    /// True while it drains for shutdown: load balancers should stop sending to it.
    pub draining: bool,
}

/// What a node holds: `/api/stats`, and the second half of every `/api/nodes` entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCounts {
    /// Connections on the node that completed `connect`, anonymous ones included.
    pub connections: usize,
    /// Distinct user ids among them; all anonymous connections count as one.
    pub users: usize,
    /// Subscriptions (connection x channel) on the node.
    pub subscriptions: usize,
    /// Channels with at least one subscriber on the node.
    pub channels: usize,
}

impl NodeCounts {
    /// The counts of a node's hub now.
    pub(crate) fn of(hub: &Hub) -> Self {
        let channels = hub.channels();
        NodeCounts {
            connections: hub.connections(),
            users: hub.users(),
            subscriptions: channels.iter().map(|(_, n)| n).sum(),
            channels: channels.len(),
        }
    }
}

/// One node as `/api/nodes` lists it and the cluster registry stores it: its
/// info and counts side by side (one flat JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Who the node is.
    #[serde(flatten)]
    pub info: NodeInfo,
    /// What it holds, as of its last heartbeat.
    #[serde(flatten)]
    pub counts: NodeCounts,
}

impl NodeStatus {
    /// The status of a node from its identity and its hub's counts.
    pub(crate) fn of(
        node: &str,
        started: Instant,
        broker: &str,
        draining: bool,
        hub: &Hub,
    ) -> Self {
        NodeStatus {
            info: NodeInfo {
                node: node.to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                uptime_ms: started.elapsed().as_millis() as u64,
                broker: broker.to_owned(),
                draining,
            },
            counts: NodeCounts::of(hub),
        }
    }
}

/// Everything a node needs from its broker: the four concerns below, each
/// its own trait so that each reads (and is implemented) on its own.
/// Brokers hand what arrives for this node to the [`Hub`] as plain protocol
/// data; only the hub builds what connections write.
pub(crate) trait Broker: PubSub + PresenceStore + Users + Cluster {}

impl<T: PubSub + PresenceStore + Users + Cluster> Broker for T {}

/// Channels: publications with their history, and join/leave events.
pub(crate) trait PubSub: Send + Sync + 'static {
    /// Appends to history (if any) and delivers to every subscriber on every node,
    /// in offset order per channel.
    fn publish(&self, args: PublishArgs) -> BoxFuture<'_, Result<PublishOutcome, BrokerError>>;

    /// Reads a stream's history (a channel's or a user's inbox); with
    /// `query.since`, also says whether recovery is complete.
    fn history(
        &self,
        stream: StreamKey,
        opts: HistoryOptions,
        query: HistoryQuery,
    ) -> BoxFuture<'_, Result<HistoryPage, BrokerError>>;

    /// The hub's members of `channel` changed: start receiving the channel's
    /// traffic if it has local members now, stop if it has none. Every new
    /// subscriber waits on this, first or not, before its history is read, so
    /// that nothing published in between is missed.
    fn channel_interest(&self, channel: Arc<str>) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Delivers a join (`joined`) or leave event to a channel's subscribers everywhere.
    fn membership(&self, joined: bool, event: Membership)
    -> BoxFuture<'_, Result<(), BrokerError>>;
}

/// Who is in a channel, across the cluster.
pub(crate) trait PresenceStore: Send + Sync + 'static {
    /// Records a member of a channel.
    fn presence_add(
        &self,
        channel: Arc<str>,
        info: ClientInfo,
    ) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Forgets a member of a channel.
    fn presence_remove(
        &self,
        channel: Arc<str>,
        client: Arc<str>,
    ) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Members of a channel across the cluster, as current as `fresh` asks.
    fn presence(
        &self,
        channel: Arc<str>,
        fresh: Freshness,
    ) -> BoxFuture<'_, Result<Vec<ClientInfo>, BrokerError>>;

    /// Member counts of a channel across the cluster, as current as `fresh` asks.
    fn presence_stats(
        &self,
        channel: Arc<str>,
        fresh: Freshness,
    ) -> BoxFuture<'_, Result<PresenceStats, BrokerError>>;
}

/// Users and their connections: messages to users and to everyone, closing
/// connections wherever they are, revocation and last-seen times.
pub(crate) trait Users: Send + Sync + 'static {
    /// Same as [`PubSub::channel_interest`] for a user's connections on this node.
    fn user_interest(&self, user: Arc<str>) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Delivers to every connection of `user` on every node; with `inbox`,
    /// first appends it to the user's inbox (see [`crate::inbox`]), and the
    /// delivered message carries its inbox position.
    fn send_to_user(
        &self,
        user: Arc<str>,
        message: Message,
        inbox: Option<HistoryOptions>,
    ) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Delivers to every connection on every node.
    fn broadcast(&self, message: Message) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Closes every connection of `user` on every node.
    fn close_user(
        &self,
        user: Arc<str>,
        code: chorus_protocol::CloseCode,
        reason: String,
    ) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Closes one connection, on whichever node it is.
    fn close_client(
        &self,
        client: Arc<str>,
        code: chorus_protocol::CloseCode,
        reason: String,
    ) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// When each of `users` was last online (Unix ms), where known. With
    /// [`Freshness::Latest`], a user without a time is confirmed against every
    /// write acknowledged before the read (a request per such user);
    /// [`Freshness::OwnWrites`] answers from what is at hand, which on a cluster
    /// may lag such writes by moments.
    fn last_seen(
        &self,
        users: Vec<String>,
        fresh: Freshness,
    ) -> BoxFuture<'_, Result<Vec<Option<u64>>, BrokerError>>;

    /// Records when `user` was last online: when a connection of theirs closes.
    fn set_last_seen(&self, user: Arc<str>, at_ms: u64) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Stores a revocation and closes the connections it covers on every node.
    fn revoke(
        &self,
        revocation: crate::revocation::Revocation,
    ) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Whether a token of `user` is revoked.
    fn is_revoked(
        &self,
        user: Arc<str>,
        token: crate::revocation::TokenId,
    ) -> BoxFuture<'_, Result<bool, BrokerError>>;
}

/// The node as a member of its cluster: readiness, the other nodes,
/// configuration and leaving.
pub(crate) trait Cluster: Send + Sync + 'static {
    /// Whether the broker can serve now (`/readyz`).
    fn ready(&self) -> bool;

    /// Live nodes of the cluster; `None` when this node is the whole system.
    fn nodes(&self) -> BoxFuture<'_, Result<Option<Vec<NodeStatus>>, BrokerError>>;

    /// Applies a reloaded configuration (namespaces, limits) to what the broker
    /// keeps: history bounds, idempotency window.
    fn reconfigure(
        &self,
        config: Arc<crate::config::Config>,
    ) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Leaves the cluster cleanly (registry, presence) at the end of a shutdown.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}
