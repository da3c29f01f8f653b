//! History on JetStream: one stream (`P_history`) stores the publications of
//! every channel whose namespace keeps history, one subject per channel.
//!
//! Offsets stay contiguous per channel across nodes: each publish names the
//! stream sequence of the channel's last stored publication
//! (`Nats-Expected-Last-Subject-Sequence`), so of two concurrent publishes only
//! one is stored at that place and the other retries on top of it
//! ([`append`]). The stored message carries its own offset and epoch. A channel
//! whose stored publications are all gone (TTL, or the stream was lost) starts
//! a new epoch at offset 1.
//!
//! The stream republishes each stored publication on the channel's live
//! subject, in stream order, so nodes deliver in offset order without any
//! coordination.
//!
//! Reads ([`read`]) never trust a single replica: the channel's head comes
//! from the stream leader, and a page is taken only from a replica that has
//! reached that head, so a page always covers everything acknowledged before
//! the read began.

mod append;
mod batch;
mod read;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::{self, stream};
use chorus_protocol::Push;
use chorus_protocol::message::Publication;

use super::leader::Leader;
use super::names::Names;
use super::pauses::Pauses;
use super::wire;
use crate::broker::BrokerError;
use crate::config::{ClusterStorage, Config};
use crate::history::HistoryOptions;
use crate::sync::lock;

/// Channels whose last stored publication this node remembers.
const MAX_HEADS: usize = 10_000;

/// The last stored publication of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    sequence: u64,
    offset: u64,
    epoch: Arc<str>,
}

impl Head {
    /// Its position, as clients see it.
    fn position(&self) -> chorus_protocol::message::StreamPosition {
        chorus_protocol::message::StreamPosition {
            offset: self.offset,
            epoch: self.epoch.to_string(),
        }
    }
}

/// A channel's writer, shared by this node's publishers to that channel.
type HeadSlot = Arc<append::Writer>;

/// This node's side of the `P_history` stream: the channels' writers, reads checked against the
/// stream leader, and the stream's configuration.
#[derive(Debug)]
pub(super) struct HistoryStore {
    client: Client,
    js: jetstream::Context,
    /// For requests only the stream leader answers: short attempts.
    leader: Leader,
    names: Names,
    /// This node's id: the prefix of the message ids of its publishes.
    node: Arc<str>,
    /// The stream's configuration; `None` until some namespace keeps history.
    config: Mutex<Option<stream::Config>>,
    /// How long one request may take.
    timeout: Duration,
    /// How long a publish keeps trying, all attempts together.
    publish_timeout: Duration,
    heads: Mutex<HashMap<Arc<str>, HeadSlot>>,
    /// Numbers this node's publishes, for their message ids.
    publishes: AtomicU64,
}

/// Whole seconds, at least one (JetStream's per-message TTL granularity).
fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_millis().div_ceil(1000).max(1) as u64)
}

/// The stream's limits: the largest size and TTL of any namespace or of the
/// inboxes (each publication carries its own TTL; reads trim to its size).
fn stream_config(names: &Names, config: &Config) -> Option<stream::Config> {
    let namespaces = std::iter::once(&config.default_namespace).chain(config.namespaces.values());
    let bounds: Vec<HistoryOptions> = namespaces
        .filter_map(crate::config::NamespaceConfig::history)
        .chain(crate::inbox::options(config))
        .collect();
    let size = bounds.iter().map(|b| b.size).max()?;
    let ttl = bounds.iter().map(|b| whole_seconds(b.ttl)).max()?;
    let c = &config.cluster;
    // Long enough for client idempotency keys, and for a publish's own
    // retries (each publish carries a message id, see `append`).
    let window = Duration::from_millis(config.limits.idempotency_window_ms)
        .max(Duration::from_millis(c.publish_timeout_ms))
        .min(ttl)
        .max(Duration::from_secs(1));
    Some(stream::Config {
        name: names.history_stream(),
        subjects: vec![names.history_all()],
        max_messages_per_subject: size as i64,
        max_age: ttl,
        max_bytes: c.history_max_bytes,
        discard: stream::DiscardPolicy::Old,
        allow_message_ttl: true,
        allow_direct: true,
        // Several publishes of one node to one channel commit together.
        allow_atomic_publish: true,
        duplicate_window: window,
        num_replicas: c.replicas,
        storage: match c.storage {
            ClusterStorage::File => stream::StorageType::File,
            ClusterStorage::Memory => stream::StorageType::Memory,
        },
        republish: Some(stream::Republish {
            source: names.history_all(),
            destination: names.channel_all(),
            headers_only: false,
        }),
        ..Default::default()
    })
}

impl HistoryStore {
    /// The history store; creates (or updates) the stream when some namespace
    /// keeps history.
    pub(super) async fn new(
        client: Client,
        js: jetstream::Context,
        names: Names,
        node: Arc<str>,
        config: &Config,
    ) -> Result<HistoryStore, BrokerError> {
        let timeout = Duration::from_millis(config.cluster.request_timeout_ms);
        let leader = Leader::new(client.clone(), timeout);
        let store = HistoryStore {
            client,
            js,
            leader,
            names,
            node,
            config: Mutex::default(),
            timeout,
            publish_timeout: Duration::from_millis(config.cluster.publish_timeout_ms),
            heads: Mutex::default(),
            publishes: AtomicU64::new(0),
        };
        super::setup::retrying("history stream", || store.reconfigure(config)).await?;
        Ok(store)
    }

    /// Brings the stream's limits in line with the namespaces (a reload).
    pub(super) async fn reconfigure(&self, config: &Config) -> Result<(), BrokerError> {
        let Some(wanted) = stream_config(&self.names, config) else {
            return Ok(());
        };
        *lock(&self.config) = Some(wanted);
        self.create_stream().await
    }

    fn stream_config(&self) -> Result<stream::Config, BrokerError> {
        lock(&self.config)
            .clone()
            .ok_or_else(|| BrokerError::Internal("no namespace keeps history".into()))
    }

    async fn create_stream(&self) -> Result<(), BrokerError> {
        let config = self.stream_config()?;
        let name = config.name.clone();
        self.js
            .create_or_update_stream(config)
            .await
            .map_err(|e| BrokerError::storage(format!("history stream {name}"), e))?;
        Ok(())
    }

    /// True only when JetStream says the stream does not exist. "No
    /// responders" to a publish also comes during a stream leader election,
    /// which must not be mistaken for a lost stream: the stream is then still
    /// assigned, and its info says so (or the request just goes unanswered).
    async fn stream_is_lost(&self) -> bool {
        match self.leader.context().get_stream(self.stream_name()).await {
            Err(e) => matches!(
                e.kind(),
                jetstream::context::GetStreamErrorKind::JetStream(api)
                    if api.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
            ),
            Ok(_) => false,
        }
    }

    fn stream_name(&self) -> String {
        self.names.history_stream()
    }

    fn slot(&self, channel: &Arc<str>) -> HeadSlot {
        let mut heads = lock(&self.heads);
        if heads.len() >= MAX_HEADS && !heads.contains_key(channel) {
            heads.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        heads.entry(channel.clone()).or_default().clone()
    }
}

/// The publication a stored message holds.
fn decode(sequence: u64, payload: &[u8]) -> Result<Publication, BrokerError> {
    match wire::decode_push(payload) {
        Some(Push::Publication(p)) => Ok(p),
        _ => Err(BrokerError::Inconsistent(format!(
            "stored message {sequence} is not a publication"
        ))),
    }
}

/// The head a stored publication makes.
fn head_of(sequence: u64, p: &Publication) -> Option<Head> {
    Some(Head {
        sequence,
        offset: p.offset?,
        epoch: p.epoch.as_deref()?.into(),
    })
}
