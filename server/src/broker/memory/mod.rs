//! The embedded single-node broker: everything in this process's memory.
//!
//! Publications to history channels are stamped and delivered under the
//! channel's stream lock, so every subscriber sees offsets in order. All
//! channels' history together, and all inboxes together, stay within a
//! byte bound each ([`budget`]).

mod budget;
mod stream;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chorus_protocol::CloseCode;
use chorus_protocol::message::{ClientInfo, Membership, Message, Publication};

use super::{
    BoxFuture, BrokerError, Cluster, Freshness, PresenceStats, PresenceStore, PubSub, PublishArgs,
    PublishOutcome, Users,
};
use crate::clock::unix_secs;
use crate::history::{HistoryOptions, HistoryPage, HistoryQuery};
use crate::hub::Hub;
use crate::idempotency::Remembered;
use crate::ids::random_hex;
use crate::revocation::{Revocation, RevocationList, TokenId};
use crate::stream_key::StreamKey;
use crate::sync::lock;
use budget::{Budget, MESSAGE_OVERHEAD};
use stream::Stream;

/// The single-node broker: streams, presence, idempotency keys, revocations and last-seen
/// times, all in this process's memory (lost when it stops).
#[derive(Debug)]
pub(crate) struct MemoryBroker {
    hub: Arc<Hub>,
    streams: Mutex<HashMap<Arc<str>, Arc<Mutex<Stream>>>>,
    idempotency: Mutex<Remembered>,
    /// Idempotency window in milliseconds (a reload may change it).
    idempotency_window_ms: std::sync::atomic::AtomicU64,
    presence: Mutex<HashMap<Arc<str>, Members>>,
    revocations: Mutex<RevocationList>,
    last_seen: Mutex<HashMap<Arc<str>, u64>>,
    /// Every inbox together (`users.inbox_max_bytes`).
    inboxes: Budget,
    /// Every channel's history together (`limits.history_memory_bytes`).
    histories: Budget,
}

/// Most users whose last-seen time is remembered (the oldest are forgotten).
const MAX_LAST_SEEN: usize = 100_000;

/// A channel's members by connection id.
type Members = HashMap<Arc<str>, ClientInfo>;

impl MemoryBroker {
    /// A broker delivering into `hub`.
    pub(crate) fn new(hub: Arc<Hub>, idempotency_window: Duration) -> Self {
        MemoryBroker {
            hub,
            streams: Mutex::default(),
            idempotency: Mutex::default(),
            idempotency_window_ms: (idempotency_window.as_millis() as u64).into(),
            presence: Mutex::default(),
            revocations: Mutex::default(),
            last_seen: Mutex::default(),
            inboxes: Budget::new(usize::MAX),
            histories: Budget::new(usize::MAX),
        }
    }

    /// Sets the bounds of all inboxes together and of all channels'
    /// history together.
    pub(crate) fn set_bounds(&self, config: &crate::config::Config) {
        self.inboxes.set_max(config.users.inbox_max_bytes);
        self.histories.set_max(config.limits.history_memory_bytes);
    }

    /// Counts a stored message against `budget` and forgets, from their
    /// streams, what the budget gives up.
    fn charge(&self, budget: &Budget, key: Arc<str>, offset: u64, bytes: usize) {
        for (key, offset) in budget.charge(key, offset, bytes) {
            let stream = lock(&self.streams).get(&key).cloned();
            if let Some(stream) = stream {
                if lock(&stream).evict_through(offset) {
                    let counter = if matches!(StreamKey::parse(&key), StreamKey::Inbox(_)) {
                        &self.hub.stats.inbox_evictions
                    } else {
                        &self.hub.stats.history_evictions
                    };
                    counter.inc();
                }
            }
        }
    }

    fn stream(&self, channel: &Arc<str>) -> Arc<Mutex<Stream>> {
        lock(&self.streams)
            .entry(channel.clone())
            .or_insert_with(|| Arc::new(Mutex::new(Stream::new(random_hex(4).into()))))
            .clone()
    }

    fn idempotency_window(&self) -> Duration {
        Duration::from_millis(
            self.idempotency_window_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Drops streams that retain nothing (their next publish starts a new
    /// epoch) and idempotency keys past their window. Called periodically so
    /// that memory stays bounded by live channels and recent keys.
    pub(crate) fn sweep(&self, opts_for: impl Fn(&StreamKey) -> Option<HistoryOptions>) {
        let now = Instant::now();
        lock(&self.idempotency).sweep(now, self.idempotency_window());
        lock(&self.streams).retain(|key, stream| {
            let Some(opts) = opts_for(&StreamKey::parse(key)) else {
                return false;
            };
            // Keep streams someone may still recover from.
            Arc::strong_count(stream) > 1 || !lock(stream).is_idle(now, opts)
        });
    }
}

impl PubSub for MemoryBroker {
    fn publish(&self, args: PublishArgs) -> BoxFuture<'_, Result<PublishOutcome, BrokerError>> {
        Box::pin(async move {
            let now = Instant::now();
            if let Some(key) = args.idempotency_key {
                if lock(&self.idempotency).check_and_record(key, now, self.idempotency_window()) {
                    return Ok(PublishOutcome {
                        position: None,
                        duplicate: true,
                    });
                }
            }
            let p = Publication {
                channel: args.channel.to_string(),
                offset: None,
                epoch: None,
                data: args.data,
                info: args.info,
            };
            let Some(opts) = args.history else {
                self.hub.publication(&args.channel, p, None);
                return Ok(PublishOutcome::default());
            };
            let stream = self.stream(&args.channel);
            let mut stream = lock(&stream);
            let bytes = p.data.len() + MESSAGE_OVERHEAD;
            let p = stream.append(p, now, opts);
            let position = stream.position();
            self.hub.publication(&args.channel, p, None);
            drop(stream);
            self.charge(
                &self.histories,
                args.channel.clone(),
                position.offset,
                bytes,
            );
            Ok(PublishOutcome {
                position: Some(position),
                duplicate: false,
            })
        })
    }

    fn history(
        &self,
        stream: StreamKey,
        opts: HistoryOptions,
        query: HistoryQuery,
    ) -> BoxFuture<'_, Result<HistoryPage, BrokerError>> {
        Box::pin(async move {
            let stream = self.stream(&stream.stored());
            let page = lock(&stream).read(&query, Instant::now(), opts);
            Ok(page)
        })
    }

    fn channel_interest(&self, _channel: Arc<str>) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async { Ok(()) })
    }

    fn membership(
        &self,
        joined: bool,
        event: Membership,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.hub.membership(joined, event, None);
            Ok(())
        })
    }
}

impl PresenceStore for MemoryBroker {
    fn presence_add(
        &self,
        channel: Arc<str>,
        info: ClientInfo,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            lock(&self.presence)
                .entry(channel)
                .or_default()
                .insert(info.client.as_str().into(), info);
            Ok(())
        })
    }

    fn presence_remove(
        &self,
        channel: Arc<str>,
        client: Arc<str>,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let mut presence = lock(&self.presence);
            if let Some(members) = presence.get_mut(&channel) {
                members.remove(&client);
                if members.is_empty() {
                    presence.remove(&channel);
                }
            }
            Ok(())
        })
    }

    /// One process holds all presence: every read is the latest.
    fn presence(
        &self,
        channel: Arc<str>,
        _fresh: Freshness,
    ) -> BoxFuture<'_, Result<Vec<ClientInfo>, BrokerError>> {
        Box::pin(async move {
            let presence = lock(&self.presence);
            let mut members: Vec<ClientInfo> = presence
                .get(&channel)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default();
            members.sort_by(|a, b| a.client.cmp(&b.client));
            Ok(members)
        })
    }

    fn presence_stats(
        &self,
        channel: Arc<str>,
        _fresh: Freshness,
    ) -> BoxFuture<'_, Result<PresenceStats, BrokerError>> {
        Box::pin(async move {
            let presence = lock(&self.presence);
            let Some(members) = presence.get(&channel) else {
                return Ok(PresenceStats::default());
            };
            let users: std::collections::HashSet<&str> =
                members.values().map(|i| i.user.as_str()).collect();
            Ok(PresenceStats {
                clients: members.len() as u32,
                users: users.len() as u32,
            })
        })
    }
}

impl Users for MemoryBroker {
    fn user_interest(&self, _user: Arc<str>) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async { Ok(()) })
    }

    fn send_to_user(
        &self,
        user: Arc<str>,
        message: Message,
        inbox: Option<HistoryOptions>,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let Some(opts) = inbox else {
                self.hub.user_message(&user, message, None);
                return Ok(());
            };
            // Stamped and delivered under the inbox's lock: devices see offsets in order.
            let key = StreamKey::Inbox(user.clone()).stored();
            let stream = self.stream(&key);
            let mut stream = lock(&stream);
            let bytes = message.data.len() + MESSAGE_OVERHEAD;
            let stored = stream.append(
                crate::inbox::to_stored(&user, message),
                Instant::now(),
                opts,
            );
            let offset = stored.offset.unwrap_or_default();
            self.hub
                .user_message(&user, crate::inbox::to_message(stored), None);
            drop(stream);
            self.charge(&self.inboxes, key, offset, bytes);
            Ok(())
        })
    }

    fn broadcast(&self, message: Message) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.hub.broadcast(message, None);
            Ok(())
        })
    }

    fn close_user(
        &self,
        user: Arc<str>,
        code: CloseCode,
        reason: String,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.hub.close_user(&user, code, &reason);
            Ok(())
        })
    }

    fn close_client(
        &self,
        client: Arc<str>,
        code: CloseCode,
        reason: String,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.hub.close_client(&client, code, &reason);
            Ok(())
        })
    }

    fn last_seen(
        &self,
        users: Vec<String>,
        _fresh: Freshness,
    ) -> BoxFuture<'_, Result<Vec<Option<u64>>, BrokerError>> {
        Box::pin(async move {
            let seen = lock(&self.last_seen);
            Ok(users
                .iter()
                .map(|u| seen.get(u.as_str()).copied())
                .collect())
        })
    }

    fn set_last_seen(&self, user: Arc<str>, at_ms: u64) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let mut seen = lock(&self.last_seen);
            if seen.len() >= MAX_LAST_SEEN && !seen.contains_key(&user) {
                if let Some(oldest) = seen
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(u, _)| u.clone())
                {
                    seen.remove(&oldest);
                }
            }
            seen.insert(user, at_ms);
            Ok(())
        })
    }

    fn revoke(&self, revocation: Revocation) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            lock(&self.revocations).add(&revocation, unix_secs());
            self.hub.close_revoked(&revocation);
            Ok(())
        })
    }

    fn is_revoked(
        &self,
        user: Arc<str>,
        token: TokenId,
    ) -> BoxFuture<'_, Result<bool, BrokerError>> {
        Box::pin(async move { Ok(lock(&self.revocations).is_revoked(&user, &token, unix_secs())) })
    }
}

impl Cluster for MemoryBroker {
    fn ready(&self) -> bool {
        true
    }

    fn nodes(&self) -> BoxFuture<'_, Result<Option<Vec<super::NodeStatus>>, BrokerError>> {
        Box::pin(async { Ok(None) })
    }

    fn reconfigure(
        &self,
        config: Arc<crate::config::Config>,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.idempotency_window_ms.store(
                config.limits.idempotency_window_ms,
                std::sync::atomic::Ordering::Relaxed,
            );
            self.set_bounds(&config);
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
