//! Live traffic into this node: what arrives on a subject is handed to the
//! hub as plain data. A stream's listener (a channel's, or a user's inbox)
//! also keeps offsets in order: a publication that skips offsets (missed
//! during a NATS reconnect) is preceded by the missing ones, read back from
//! history; after every reconnect, whatever was stored meanwhile is read back too.

use std::sync::Arc;

use async_nats::Subscriber;
use bytes::Bytes;
use chorus_protocol::Push;
use chorus_protocol::cursor::{Advance, Cursor};
use chorus_protocol::message::StreamPosition;
use futures_util::StreamExt;
use tokio::sync::watch;

use super::history::HistoryStore;
use super::wire;
use crate::config::Config;
use crate::history::{HistoryOptions, HistoryQuery};
use crate::hub::Hub;
use crate::stream_key::StreamKey;
use crate::sync::{read, write};

/// What listener tasks need to deliver into this node.
#[derive(Debug)]
pub(super) struct Delivery {
    /// This node's connections.
    pub(super) hub: Arc<Hub>,
    config: std::sync::RwLock<Arc<Config>>,
    /// The cluster's streams, for reading back what a listener missed.
    pub(super) history: Arc<HistoryStore>,
}

/// Where live traffic goes on this node.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// A channel's local members.
    Channel(Arc<str>),
    /// A user's local connections, from the user's inbox stream.
    Inbox(Arc<str>),
    /// A user's local connections, for messages kept in no inbox.
    User(Arc<str>),
    /// Every local connection (broadcasts).
    Everyone,
}

/// Hands one push that arrived for `target` to the hub, as data.
pub(super) fn deliver(hub: &Hub, target: &Target, push: Push, msgpack: Option<Bytes>) {
    match (target, push) {
        (Target::Channel(channel), Push::Publication(p)) => {
            hub.publication(channel, p, msgpack);
        }
        (Target::Channel(_), Push::Join(event)) => {
            hub.membership(true, event, msgpack);
        }
        (Target::Channel(_), Push::Leave(event)) => {
            hub.membership(false, event, msgpack);
        }
        // An inbox stores messages as publications: they reach the user's
        // connections as messages with their inbox position.
        (Target::Inbox(user), Push::Publication(p)) => {
            hub.user_message(user, crate::inbox::to_message(p), None);
        }
        (Target::User(user), Push::Message(m)) => {
            hub.user_message(user, m, msgpack);
        }
        (Target::Everyone, Push::Message(m)) => {
            hub.broadcast(m, msgpack);
        }
        (target, _) => tracing::debug!(
            ?target,
            "ignored a push of a kind this subject does not carry"
        ),
    }
}

/// Delivers every push arriving on `sub` to `target` (no history behind it).
pub(super) async fn listen(mut sub: Subscriber, hub: Arc<Hub>, target: Target) {
    while let Some(message) = sub.next().await {
        if let Some(push) = wire::decode_push(&message.payload) {
            deliver(&hub, &target, push, Some(message.payload));
        }
    }
}

/// Delivers a stream's live traffic (a channel's, or a user's inbox) to
/// `target` in offset order, reading back from history what a NATS
/// reconnect made it miss.
pub(super) async fn listen_stream(
    delivery: Arc<Delivery>,
    stream: StreamKey,
    target: Target,
    mut sub: Subscriber,
    mut connections: watch::Receiver<u64>,
) {
    let key = stream.stored();
    let mut last = Cursor::default();
    loop {
        tokio::select! {
            message = sub.next() => {
                let Some(message) = message else { break };
                let Some(push) = wire::decode_push(&message.payload) else { continue };
                if let (Push::Publication(p), Some(opts)) = (&push, delivery.history_of(&stream)) {
                    if let (Some(offset), Some(epoch)) = (p.offset, p.epoch.as_deref()) {
                        match last.check(offset, epoch) {
                            Advance::Duplicate => continue,
                            Advance::Gap { after } => {
                                delivery.catch_up(&key, &target, opts, &mut last, after, Some(offset)).await;
                            }
                            Advance::Next => {}
                        }
                        last.advance(offset, epoch);
                    }
                }
                deliver(&delivery.hub, &target, push, Some(message.payload));
            }
            changed = connections.changed() => {
                if changed.is_err() { break }
                if let (Some(opts), Some(after)) = (delivery.history_of(&stream), last.last().cloned()) {
                    delivery.catch_up(&key, &target, opts, &mut last, after, None).await;
                }
            }
        }
    }
}

impl Delivery {
    /// Delivery into `hub`, under `config` until the next reload.
    pub(super) fn new(hub: Arc<Hub>, config: Arc<Config>, history: Arc<HistoryStore>) -> Self {
        Delivery {
            hub,
            config: std::sync::RwLock::new(config),
            history,
        }
    }

    /// The configuration as of the last reload.
    pub(super) fn config(&self) -> Arc<Config> {
        read(&self.config).clone()
    }

    /// Applies a reloaded configuration.
    pub(super) fn set_config(&self, config: Arc<Config>) {
        *write(&self.config) = config;
    }

    /// History bounds of a stream, as configured now.
    fn history_of(&self, key: &StreamKey) -> Option<HistoryOptions> {
        self.config().history_of(key)
    }
    /// Before delivering the publication at offset `next` (or, with `None`,
    /// after a reconnect), delivers what history holds after `after` (and
    /// before it), advancing `last` over what it delivers.
    async fn catch_up(
        &self,
        channel: &Arc<str>,
        target: &Target,
        opts: HistoryOptions,
        last: &mut Cursor,
        after: StreamPosition,
        next: Option<u64>,
    ) {
        let store = &self.history;
        let query = HistoryQuery {
            since: Some(after),
            limit: None,
            reverse: false,
        };
        let page = match store.read(channel, opts, &query).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, %channel, "could not read back missed publications");
                return;
            }
        };
        if !page.recovered {
            tracing::warn!(%channel, "publications missed during a NATS outage are no longer stored");
        }
        for p in page.publications {
            let (Some(offset), Some(epoch)) = (p.offset, p.epoch.as_deref()) else {
                continue;
            };
            if next.is_some_and(|n| offset >= n) {
                break;
            }
            last.advance(offset, epoch);
            deliver(&self.hub, target, Push::Publication(p), None);
        }
    }
}
