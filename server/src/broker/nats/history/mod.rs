//! History on JetStream: one stream (`P_history`) stores the publications of
//! every channel whose namespace keeps history, one subject per channel.
//!
//! Offsets stay contiguous per channel across nodes: each publish names the
//! stream sequence of the channel's last stored publication
//! (`Nats-Expected-Last-Subject-Sequence`), so of two concurrent publishes only
//! one is stored at that place and the other retries on top of it. The stored
//! message carries its own offset and epoch. A channel whose stored publications
//! are all gone (TTL, or the stream was lost) starts a new epoch at offset 1.
//!
//! The stream republishes each stored publication on the channel's live subject,
//! in stream order, so nodes deliver in offset order without any coordination.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use chorus_protocol::Push;
use chorus_protocol::message::{Publication, StreamPosition};
use chorus_protocol::subject::encode_token;
use serde_json::json;

use super::direct;
use super::names::Names;
use super::wire;
use crate::broker::{BrokerError, PublishOutcome};
use crate::config::{ClusterStorage, Config};
use crate::history::{HistoryOptions, HistoryPage, HistoryQuery, page};
use crate::ids::random_hex;

/// Attempts at a publish that keeps losing the race for the next offset.
const MAX_ATTEMPTS: usize = 16;
/// Channels whose last stored publication this node remembers.
const MAX_HEADS: usize = 10_000;
/// Messages asked for per direct read.
const READ_BATCH: usize = 1_000;

/// The last stored publication of a channel.
#[derive(Debug, Clone)]
struct Head {
    sequence: u64,
    offset: u64,
    epoch: Arc<str>,
}

/// A channel's head, shared by this node's publishers to that channel.
type HeadSlot = Arc<tokio::sync::Mutex<Option<Head>>>;

/// The history stream.
#[derive(Debug)]
pub struct HistoryStore {
    client: Client,
    js: jetstream::Context,
    names: Names,
    /// The stream's configuration; `None` until some namespace keeps history.
    config: Mutex<Option<stream::Config>>,
    timeout: Duration,
    heads: Mutex<HashMap<Arc<str>, HeadSlot>>,
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
        .filter_map(crate::node::Node::history_options)
        .chain(crate::inbox::options(config))
        .collect();
    let size = bounds.iter().map(|b| b.size).max()?;
    let ttl = bounds.iter().map(|b| whole_seconds(b.ttl)).max()?;
    let window = Duration::from_millis(config.limits.idempotency_window_ms)
        .min(ttl)
        .max(Duration::from_secs(1));
    let c = &config.cluster;
    Some(stream::Config {
        name: names.history_stream(),
        subjects: vec![names.history_all()],
        max_messages_per_subject: size as i64,
        max_age: ttl,
        max_bytes: c.history_max_bytes,
        discard: stream::DiscardPolicy::Old,
        allow_message_ttl: true,
        allow_direct: true,
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
    pub async fn new(
        client: Client,
        js: jetstream::Context,
        names: Names,
        config: &Config,
    ) -> Result<HistoryStore, BrokerError> {
        let store = HistoryStore {
            client,
            js,
            names,
            config: Mutex::default(),
            timeout: Duration::from_millis(config.cluster.request_timeout_ms),
            heads: Mutex::default(),
        };
        super::setup::retrying("history stream", || store.reconfigure(config)).await?;
        Ok(store)
    }

    /// Brings the stream's limits in line with the namespaces (a reload).
    pub async fn reconfigure(&self, config: &Config) -> Result<(), BrokerError> {
        let Some(wanted) = stream_config(&self.names, config) else {
            return Ok(());
        };
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = Some(wanted);
        self.create_stream().await
    }

    fn stream_config(&self) -> Result<stream::Config, BrokerError> {
        self.config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| BrokerError("no namespace keeps history".into()))
    }

    async fn create_stream(&self) -> Result<(), BrokerError> {
        let config = self.stream_config()?;
        let name = config.name.clone();
        self.js
            .create_or_update_stream(config)
            .await
            .map_err(|e| BrokerError(format!("history stream {name}: {e}")))?;
        Ok(())
    }

    fn stream_name(&self) -> String {
        self.names.history_stream()
    }

    fn slot(&self, channel: &Arc<str>) -> HeadSlot {
        let mut heads = self.heads.lock().unwrap_or_else(|p| p.into_inner());
        if heads.len() >= MAX_HEADS && !heads.contains_key(channel) {
            heads.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        heads.entry(channel.clone()).or_default().clone()
    }

    /// Reads the channel's last stored publication.
    async fn head(&self, channel: &str) -> Result<Option<Head>, BrokerError> {
        let subject = self.names.history(channel);
        let batch = direct::batch(
            &self.client,
            &self.stream_name(),
            json!({ "multi_last": [subject], "batch": 1 }),
            self.timeout,
        )
        .await?;
        let Some(stored) = batch.messages.into_iter().next_back() else {
            return Ok(None);
        };
        let p = decode(&stored)?;
        Ok(match (p.offset, p.epoch) {
            (Some(offset), Some(epoch)) => Some(Head {
                sequence: stored.sequence,
                offset,
                epoch: epoch.into(),
            }),
            _ => None,
        })
    }

    /// Stores a publication at the channel's next offset; returns its position,
    /// or `duplicate` when `key` was already stored within the window.
    pub async fn append(
        &self,
        channel: &Arc<str>,
        mut p: Publication,
        opts: HistoryOptions,
        key: Option<&str>,
    ) -> Result<PublishOutcome, BrokerError> {
        let subject = self.names.history(channel);
        let slot = self.slot(channel);
        let mut head = slot.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            let known = match head.take() {
                Some(h) => Some(h),
                None => self.head(channel).await?,
            };
            let (expected, offset, epoch) = match known {
                Some(h) => (h.sequence, h.offset + 1, h.epoch),
                None => (0, 1, Arc::from(random_hex(4))),
            };
            p.offset = Some(offset);
            p.epoch = Some(epoch.to_string());
            let (bytes, _) = wire::encode_push(Push::Publication(p.clone()))?;
            let mut publish = PublishMessage::build()
                .payload(bytes)
                .expected_last_subject_sequence(expected)
                .ttl(whole_seconds(opts.ttl));
            if let Some(key) = key {
                publish =
                    publish.message_id(format!("{}.{}", encode_token(channel), encode_token(key)));
            }
            let ack = match self.js.send_publish(subject.clone(), publish).await {
                Ok(future) => future.await,
                Err(e) => Err(e),
            };
            match ack {
                Ok(ack) if ack.duplicate => {
                    return Ok(PublishOutcome {
                        position: None,
                        duplicate: true,
                    });
                }
                Ok(ack) => {
                    *head = Some(Head {
                        sequence: ack.sequence,
                        offset,
                        epoch: epoch.clone(),
                    });
                    return Ok(PublishOutcome {
                        position: Some(StreamPosition {
                            offset,
                            epoch: epoch.to_string(),
                        }),
                        duplicate: false,
                    });
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => continue,
                Err(e) if e.kind() == PublishErrorKind::StreamNotFound => {
                    tracing::warn!(stream = %self.stream_name(), "history stream lost; creating it again");
                    self.create_stream().await?;
                }
                Err(e) => return Err(BrokerError(format!("history publish: {e}"))),
            }
        }
        Err(BrokerError(format!(
            "history publish: {channel} is too contended, retry"
        )))
    }

    /// Answers a history query (see [`crate::history::page`]) from what the
    /// stream retains of the channel, trimmed to the namespace's size.
    pub async fn read(
        &self,
        channel: &str,
        opts: HistoryOptions,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, BrokerError> {
        let head = self.head(channel).await?;
        let position = head
            .as_ref()
            .map_or_else(StreamPosition::default, |h| StreamPosition {
                offset: h.offset,
                epoch: h.epoch.to_string(),
            });
        let Some(head) = head else {
            return Ok(page(position, std::iter::empty(), query));
        };
        let nothing_to_read = match &query.since {
            None => query.limit == Some(0),
            Some(since) => {
                !query.reverse
                    && (since.offset >= head.offset
                        || (since.offset > 0 && *since.epoch != *head.epoch))
            }
        };
        if nothing_to_read {
            return Ok(page(position, std::iter::empty(), query));
        }
        let mut retained = self.retained(channel, head.sequence).await?;
        retained
            .retain(|p| p.epoch.as_deref() == Some(&*head.epoch) && p.offset <= Some(head.offset));
        let keep = retained.len().saturating_sub(opts.size);
        retained.drain(..keep);
        Ok(page(position, retained.iter(), query))
    }

    /// Every stored publication of the channel up to stream sequence `last`.
    async fn retained(&self, channel: &str, last: u64) -> Result<Vec<Publication>, BrokerError> {
        let subject = self.names.history(channel);
        let mut out = Vec::new();
        let mut from = 1;
        loop {
            let batch = direct::batch(
                &self.client,
                &self.stream_name(),
                json!({ "seq": from, "next_by_subj": subject, "batch": READ_BATCH }),
                self.timeout,
            )
            .await?;
            let Some(tail) = batch.messages.last().map(|s| s.sequence) else {
                return Ok(out);
            };
            for stored in &batch.messages {
                if stored.sequence > last {
                    return Ok(out);
                }
                out.push(decode(stored)?);
            }
            if batch.pending == 0 {
                return Ok(out);
            }
            from = tail + 1;
        }
    }
}

fn decode(stored: &direct::Stored) -> Result<Publication, BrokerError> {
    match wire::decode_push(&stored.message.payload) {
        Some(Push::Publication(p)) => Ok(p),
        _ => Err(BrokerError(format!(
            "stored message {} is not a publication",
            stored.sequence
        ))),
    }
}
