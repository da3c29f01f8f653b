//! The node-local registry of connections: who is connected, which user they are,
//! which channels they are subscribed to. Brokers deliver into it.
//!
//! Delivery never waits: each connection has a bounded queue, and a connection
//! whose queue is full is disconnected as a slow consumer (close 4001) instead of
//! slowing the publisher or anyone else.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

use prometheus_client::metrics::counter::Counter;
use std::sync::{Arc, Mutex};

use chorus_protocol::CloseCode;
use tokio::sync::{Notify, mpsc};

use bytes::Bytes;
use chorus_protocol::message::{Membership, Message, Publication};

use crate::outgoing::{Item, Outgoing};
use crate::revocation::{Revocation, TokenId};
use crate::sync::lock;

/// A connection id, unique across the cluster (node id + counter).
pub(crate) type ClientId = Arc<str>;

/// Asks a connection to close itself, from any thread.
#[derive(Debug, Default)]
pub(crate) struct KillSwitch {
    fired: AtomicBool,
    code: AtomicU16,
    reason: Mutex<String>,
    notify: Notify,
}

impl KillSwitch {
    /// Requests a close with `code`; the first request wins.
    pub(crate) fn fire(&self, code: CloseCode, reason: &str) {
        if !self.fired.swap(true, Ordering::AcqRel) {
            self.code.store(code.0, Ordering::Release);
            reason.clone_into(&mut lock(&self.reason));
            self.notify.notify_one();
        }
    }

    /// Waits until a close is requested; returns its code and reason.
    pub(crate) async fn fired(&self) -> (CloseCode, String) {
        loop {
            let notified = self.notify.notified();
            if self.fired.load(Ordering::Acquire) {
                let reason = lock(&self.reason).clone();
                return (CloseCode(self.code.load(Ordering::Acquire)), reason);
            }
            notified.await;
        }
    }
}

/// A connection as the hub and the node reach it: its ids, its outbound
/// queue and its kill switch (named for what the hub does with it: deliver).
#[derive(Debug, Clone)]
pub(crate) struct Recipient {
    /// The connection id (`<node id>-<n>`), as the client got it in its connect reply.
    pub id: ClientId,
    /// The user id (`""` when anonymous).
    pub user: Arc<str>,
    /// The token the connection holds (replaced on refresh), for revocation.
    token: Arc<Mutex<TokenId>>,
    tx: mpsc::Sender<Item>,
    kill: Arc<KillSwitch>,
    stats: Arc<HubStats>,
}

impl Recipient {
    /// The recipient for a new connection and the receiving end of its queue.
    pub(crate) fn new(
        id: ClientId,
        user: Arc<str>,
        queue: usize,
        kill: Arc<KillSwitch>,
        stats: Arc<HubStats>,
    ) -> (Recipient, mpsc::Receiver<Item>) {
        let (tx, rx) = mpsc::channel(queue);
        (
            Recipient {
                id,
                user,
                token: Arc::default(),
                tx,
                kill,
                stats,
            },
            rx,
        )
    }

    /// Queues an item without waiting; a full queue disconnects the connection.
    pub(crate) fn deliver(&self, item: Item) -> bool {
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.queue_drops.inc();
                if !self.kill.fired.load(Ordering::Acquire) {
                    self.stats.slow_consumer_disconnects.inc();
                }
                self.kill
                    .fire(CloseCode::SLOW_CONSUMER, "outbound queue overflow");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Asks the connection to close.
    pub(crate) fn close(&self, code: CloseCode, reason: &str) {
        self.kill.fire(code, reason);
    }

    /// Records the token the connection now holds (connect, refresh).
    pub(crate) fn set_token(&self, token: TokenId) {
        *lock(&self.token) = token;
    }

    /// The token the connection holds.
    pub(crate) fn token(&self) -> TokenId {
        lock(&self.token).clone()
    }
}

/// Counters the hub keeps for metrics.
#[derive(Debug, Default)]
pub(crate) struct HubStats {
    /// Items that did not fit into a connection's queue.
    pub queue_drops: Counter,
    /// Connections closed as slow consumers.
    pub slow_consumer_disconnects: Counter,
    /// Inbox messages the memory broker forgot to stay within
    /// `users.inbox_max_bytes` (the oldest of all inboxes first).
    pub inbox_evictions: Counter,
    /// Channel publications the memory broker forgot to stay within
    /// `limits.history_memory_bytes` (the oldest of all channels first).
    pub history_evictions: Counter,
}

const SHARDS: usize = 16;

type Members = HashMap<ClientId, Recipient>;

/// Connection, user and channel membership tables of this node.
#[derive(Debug)]
pub(crate) struct Hub {
    clients: Mutex<Members>,
    users: Mutex<HashMap<Arc<str>, Members>>,
    channels: Vec<Mutex<HashMap<Arc<str>, Members>>>,
    hasher: std::collections::hash_map::RandomState,
    /// Counters behind the delivery metrics, shared with every recipient (queue drops, slow
    /// consumers) and the memory broker (evictions).
    pub stats: Arc<HubStats>,
}

/// Why a connection could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegisterError {
    /// `limits.max_connections` reached: connect error 115, then close 4006.
    NodeFull,
    /// The user holds too many connections.
    UserFull,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            clients: Mutex::default(),
            users: Mutex::default(),
            channels: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: Default::default(),
            stats: Arc::default(),
        }
    }
}

impl Hub {
    fn shard(&self, channel: &str) -> &Mutex<HashMap<Arc<str>, Members>> {
        &self.channels[(self.hasher.hash_one(channel) as usize) % SHARDS]
    }

    /// Adds an authenticated connection, enforcing the node and per-user limits
    /// (0: unlimited).
    pub(crate) fn register(
        &self,
        recipient: Recipient,
        max_connections: usize,
        max_per_user: usize,
    ) -> Result<(), RegisterError> {
        let mut clients = lock(&self.clients);
        if max_connections > 0 && clients.len() >= max_connections {
            return Err(RegisterError::NodeFull);
        }
        let mut users = lock(&self.users);
        let conns = users.entry(recipient.user.clone()).or_default();
        if max_per_user > 0 && !recipient.user.is_empty() && conns.len() >= max_per_user {
            if conns.is_empty() {
                users.remove(&recipient.user);
            }
            return Err(RegisterError::UserFull);
        }
        conns.insert(recipient.id.clone(), recipient.clone());
        clients.insert(recipient.id.clone(), recipient);
        Ok(())
    }

    /// Removes a connection (its channel memberships are removed by the session).
    pub(crate) fn unregister(&self, id: &str, user: &str) {
        lock(&self.clients).remove(id);
        let mut users = lock(&self.users);
        if let Some(conns) = users.get_mut(user) {
            conns.remove(id);
            if conns.is_empty() {
                users.remove(user);
            }
        }
    }

    /// Adds a connection to a channel. Whether it is the first local member
    /// is for the broker to find out under its own lock: every subscriber
    /// waits on [`crate::broker::PubSub::channel_interest`], first or not, so
    /// that none reads history before the channel's listener is in place.
    pub(crate) fn subscribe(&self, channel: &Arc<str>, recipient: &Recipient) {
        lock(self.shard(channel))
            .entry(channel.clone())
            .or_default()
            .insert(recipient.id.clone(), recipient.clone());
    }

    /// Removes a connection from a channel; true when it was the last local member.
    pub(crate) fn unsubscribe(&self, channel: &str, id: &str) -> bool {
        let mut shard = lock(self.shard(channel));
        let Some(members) = shard.get_mut(channel) else {
            return false;
        };
        if members.remove(id).is_none() {
            return false;
        }
        if members.is_empty() {
            shard.remove(channel);
            true
        } else {
            false
        }
    }

    /// How many local connections are subscribed to a channel (0 for none).
    pub(crate) fn channel_members(&self, channel: &str) -> usize {
        lock(self.shard(channel))
            .get(channel)
            .map_or(0, |m| m.len())
    }

    /// Channels with local members, and their member counts.
    pub(crate) fn channels(&self) -> Vec<(Arc<str>, usize)> {
        let mut out = Vec::new();
        for shard in &self.channels {
            out.extend(lock(shard).iter().map(|(c, m)| (c.clone(), m.len())));
        }
        out.sort();
        out
    }

    /// How many local connections a user holds (0 for none).
    pub(crate) fn user_connections(&self, user: &str) -> usize {
        lock(&self.users).get(user).map_or(0, |c| c.len())
    }

    // ---- Delivery: brokers hand plain protocol data; only the hub builds
    // queue items and the frames they share. Each returns how many local
    // connections got it. `msgpack` is the push as it arrived from another
    // node, already encoded: MessagePack connections write those bytes as
    // they are.

    /// A publication to the local subscribers of `channel`.
    pub(crate) fn publication(
        &self,
        channel: &Arc<str>,
        publication: Publication,
        msgpack: Option<Bytes>,
    ) -> usize {
        let item = Outgoing::publication(channel.clone(), publication, msgpack);
        self.deliver_channel(channel, &item)
    }

    /// A join (`joined`) or leave event to the local subscribers of its channel.
    pub(crate) fn membership(
        &self,
        joined: bool,
        event: Membership,
        msgpack: Option<Bytes>,
    ) -> usize {
        let channel = event.channel.clone();
        self.deliver_channel(&channel, &Outgoing::membership(joined, event, msgpack))
    }

    /// A message to the local connections of `user`; one read from the user's
    /// inbox carries its position (see [`crate::inbox`]).
    pub(crate) fn user_message(
        &self,
        user: &str,
        message: Message,
        msgpack: Option<Bytes>,
    ) -> usize {
        self.deliver_user(user, &Outgoing::message(message, msgpack))
    }

    /// A message to every local connection.
    pub(crate) fn broadcast(&self, message: Message, msgpack: Option<Bytes>) -> usize {
        self.deliver_all(&Outgoing::message(message, msgpack))
    }

    /// Queues an item for every local member of a channel; returns how many got it.
    fn deliver_channel(&self, channel: &str, item: &Item) -> usize {
        let shard = lock(self.shard(channel));
        let Some(members) = shard.get(channel) else {
            return 0;
        };
        members.values().filter(|h| h.deliver(item.clone())).count()
    }

    /// Queues an item for every local connection of a user.
    fn deliver_user(&self, user: &str, item: &Item) -> usize {
        let users = lock(&self.users);
        users.get(user).map_or(0, |conns| {
            conns.values().filter(|h| h.deliver(item.clone())).count()
        })
    }

    /// Queues an item for every local connection.
    fn deliver_all(&self, item: &Item) -> usize {
        let recipients: Vec<Recipient> = lock(&self.clients).values().cloned().collect();
        recipients
            .iter()
            .filter(|h| h.deliver(item.clone()))
            .count()
    }

    /// Closes every local connection of a user; returns how many.
    pub(crate) fn close_user(&self, user: &str, code: CloseCode, reason: &str) -> usize {
        let users = lock(&self.users);
        users.get(user).map_or(0, |conns| {
            conns.values().for_each(|h| h.close(code, reason));
            conns.len()
        })
    }

    /// Closes one local connection; false when it is not here.
    pub(crate) fn close_client(&self, id: &str, code: CloseCode, reason: &str) -> bool {
        lock(&self.clients)
            .get(id)
            .map(|h| h.close(code, reason))
            .is_some()
    }

    /// Every local connection, copied out of the lock (for node-wide sweeps such as revocation).
    pub(crate) fn recipients(&self) -> Vec<Recipient> {
        lock(&self.clients).values().cloned().collect()
    }

    /// Closes every local connection holding a token `revocation` covers.
    pub(crate) fn close_revoked(&self, revocation: &Revocation) -> usize {
        let mut closed = 0;
        for h in self.recipients() {
            if !h.user.is_empty() && revocation.covers(&h.user, &h.token()) {
                h.close(CloseCode::TOKEN_REVOKED, "token revoked");
                closed += 1;
            }
        }
        closed
    }

    /// Number of local connections that completed `connect`, anonymous ones included.
    pub(crate) fn connections(&self) -> usize {
        lock(&self.clients).len()
    }

    /// Number of distinct local user ids; all anonymous connections count as one (`""`).
    pub(crate) fn users(&self) -> usize {
        lock(&self.users).len()
    }

    /// Number of local subscriptions (connection x channel).
    #[cfg(test)]
    pub(crate) fn subscriptions(&self) -> usize {
        self.channels
            .iter()
            .map(|s| lock(s).values().map(|m| m.len()).sum::<usize>())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_protocol::Push;
    use chorus_protocol::message::Empty;

    fn conn(
        hub: &Hub,
        id: &str,
        user: &str,
        queue: usize,
    ) -> (Recipient, mpsc::Receiver<Item>, Arc<KillSwitch>) {
        let kill = Arc::new(KillSwitch::default());
        let (h, rx) = Recipient::new(
            id.into(),
            user.into(),
            queue,
            kill.clone(),
            hub.stats.clone(),
        );
        (h, rx, kill)
    }

    fn ping() -> Item {
        Outgoing::push(Push::Ping(Empty {}))
    }

    #[tokio::test]
    async fn slow_consumer_is_killed_without_blocking_others() {
        let hub = Hub::default();
        let ch: Arc<str> = "chat:a".into();
        let (slow, _slow_rx, slow_kill) = conn(&hub, "s", "u1", 2);
        let (fast, mut fast_rx, _) = conn(&hub, "f", "u2", 100);
        hub.subscribe(&ch, &slow);
        hub.subscribe(&ch, &fast);
        for _ in 0..10 {
            hub.deliver_channel(&ch, &ping());
        }
        let (code, _) = slow_kill.fired().await;
        assert_eq!(code, CloseCode::SLOW_CONSUMER);
        let mut got = 0;
        while fast_rx.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 10);
        assert_eq!(hub.stats.slow_consumer_disconnects.get(), 1);
    }

    #[test]
    fn limits_and_membership() {
        let hub = Hub::default();
        let (a, _ra, _) = conn(&hub, "a", "u", 4);
        let (b, _rb, _) = conn(&hub, "b", "u", 4);
        let (c, _rc, _) = conn(&hub, "c", "v", 4);
        hub.register(a.clone(), 0, 1).unwrap();
        assert_eq!(hub.register(b, 0, 1), Err(RegisterError::UserFull));
        assert_eq!(hub.register(c.clone(), 1, 0), Err(RegisterError::NodeFull));
        let ch: Arc<str> = "x".into();
        hub.subscribe(&ch, &a);
        assert_eq!(hub.subscriptions(), 1);
        assert!(hub.unsubscribe(&ch, "a"));
        assert!(!hub.unsubscribe(&ch, "a"));
        hub.unregister("a", "u");
        assert_eq!(hub.connections(), 0);
        assert_eq!(hub.users(), 0);
    }
}
