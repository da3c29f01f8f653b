//! Presence across nodes: each node writes, per channel, one bucket entry
//! (`<channel>.<node>`) holding its own members, and rewrites it when they change.
//! Asking for a channel's presence reads the last value of every node's entry in
//! one direct read and merges them.
//!
//! Any replica of the bucket may answer a read, and a follower can lag by
//! moments. A read therefore takes only an answer from a replica that has
//! reached a floor: this node's last write, or, for [`Freshness::Latest`], the
//! leader's last sequence. A member leaving is written as its node's new, smaller
//! list (never a delete, which would not say its sequence), so it counts too.
//! Each read also asks for this node's marker entry, so that every answer says
//! how far its replica had got, even for a channel nobody is in.
//!
//! Entries live for three node TTLs unless refreshed; a live node refreshes
//! its entries every node TTL, so a dead node's entries expire by themselves
//! even when no other node cleans them up. Readers skip entries of nodes the
//! registry has seen die, which bounds how long a dead node's members are listed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::kv;
use chorus_protocol::message::ClientInfo;
use chorus_protocol::subject::decode_token;
use serde_json::json;

use super::direct;
use super::names::Names;
use crate::broker::{BrokerError, Freshness, PresenceStats};
use crate::sync::lock;

/// Node entries read per presence query (one per node holding members).
const MAX_NODES: usize = 1_024;
/// Entries of one node read at once when it died.
const MAX_ENTRIES: usize = 100_000;
/// The channel name of each node's marker entry (see the module's doc).
const MARKER: &str = "";

/// This node's members of one channel, and what of them was written.
#[derive(Debug, Default)]
struct Local {
    members: HashMap<Arc<str>, ClientInfo>,
    version: u64,
    /// Serialises writes of this channel's entry; holds the version written last.
    written: Arc<tokio::sync::Mutex<u64>>,
}

/// Presence in a JetStream KV bucket.
#[derive(Debug)]
pub(super) struct Presence {
    client: Client,
    kv: kv::Store,
    names: Names,
    node: Arc<str>,
    timeout: Duration,
    local: Mutex<HashMap<Arc<str>, Local>>,
    /// The stream sequence of this node's last acknowledged write.
    written_seq: AtomicU64,
}

fn encode(members: &[ClientInfo]) -> Result<bytes::Bytes, BrokerError> {
    rmp_serde::to_vec_named(members)
        .map(Into::into)
        .map_err(|e| BrokerError::encode("presence encode", e))
}

fn decode(bytes: &[u8]) -> Option<Vec<ClientInfo>> {
    rmp_serde::from_slice(bytes).ok()
}

impl Presence {
    /// Presence for `node`, stored in `kv`.
    pub(super) fn new(
        client: Client,
        kv: kv::Store,
        names: Names,
        node: Arc<str>,
        timeout: Duration,
    ) -> Self {
        Presence {
            client,
            kv,
            names,
            node,
            timeout,
            local: Mutex::default(),
            written_seq: AtomicU64::new(0),
        }
    }

    /// Records a local member and writes the channel's entry.
    pub(super) async fn add(&self, channel: Arc<str>, info: ClientInfo) -> Result<(), BrokerError> {
        {
            let mut local = lock(&self.local);
            let entry = local.entry(channel.clone()).or_default();
            entry.members.insert(info.client.as_str().into(), info);
            entry.version += 1;
        }
        self.write(&channel).await
    }

    /// Forgets a local member and writes the channel's entry.
    pub(super) async fn remove(&self, channel: Arc<str>, client: &str) -> Result<(), BrokerError> {
        {
            let mut local = lock(&self.local);
            let Some(entry) = local.get_mut(&channel) else {
                return Ok(());
            };
            if entry.members.remove(client).is_none() {
                return Ok(());
            }
            entry.version += 1;
        }
        self.write(&channel).await
    }

    /// Writes the channel's entry unless a newer write already covered this
    /// change (writes of one channel coalesce under churn).
    async fn write(&self, channel: &Arc<str>) -> Result<(), BrokerError> {
        let Some(written) = lock(&self.local).get(channel).map(|l| l.written.clone()) else {
            return Ok(());
        };
        let mut written = written.lock().await;
        let Some((version, members)) = lock(&self.local)
            .get(channel)
            .map(|l| (l.version, l.members.values().cloned().collect::<Vec<_>>()))
        else {
            return Ok(());
        };
        if *written >= version {
            return Ok(());
        }
        self.put(channel, &members).await?;
        *written = version;
        let mut local = lock(&self.local);
        if local
            .get(channel)
            .is_some_and(|l| l.members.is_empty() && l.version == version)
        {
            local.remove(channel);
        }
        Ok(())
    }

    /// Rewrites every entry of this node (keeps them from expiring, and retries
    /// writes that failed while NATS was unreachable).
    pub(super) async fn refresh(&self) {
        let channels: Vec<(Arc<str>, Vec<ClientInfo>)> = lock(&self.local)
            .iter()
            .map(|(c, l)| (c.clone(), l.members.values().cloned().collect()))
            .collect();
        // During a NATS election every put fails alike: one line per round.
        let (mut failed, mut last_error) = (0usize, None);
        let total = channels.len();
        for (channel, members) in channels {
            if let Err(e) = self.put(&channel, &members).await {
                failed += 1;
                last_error = Some(e);
            }
        }
        if let Some(e) = last_error {
            tracing::warn!(error = %e, failed, total, "presence refresh failed (entries expire only after three missed rounds)");
        }
        if let Err(e) = self.mark().await {
            tracing::warn!(error = %e, "presence marker refresh failed");
        }
    }

    /// Writes (or refreshes) this node's marker entry, which every read asks
    /// for; under the empty channel name, which no channel has.
    pub(super) async fn mark(&self) -> Result<(), BrokerError> {
        self.put(MARKER, &[]).await
    }

    /// Writes this node's members of a channel (an empty list when none are
    /// left) and remembers the write's sequence for later reads.
    async fn put(&self, channel: &str, members: &[ClientInfo]) -> Result<(), BrokerError> {
        let key = self.names.presence_key(channel, &self.node);
        let sequence = self
            .kv
            .put(&key, encode(members)?)
            .await
            .map_err(|e| BrokerError::storage("presence put", e))?;
        self.written_seq.fetch_max(sequence, Ordering::Relaxed);
        Ok(())
    }

    /// The least stream sequence a read must reflect.
    async fn floor(&self, fresh: Freshness) -> Result<u64, BrokerError> {
        let own = self.written_seq.load(Ordering::Relaxed);
        Ok(match fresh {
            Freshness::OwnWrites => own,
            // Stream info is answered by the stream's leader.
            Freshness::Latest => {
                let info = self
                    .kv
                    .stream
                    .get_info()
                    .await
                    .map_err(|e| BrokerError::storage("presence stream info", e))?;
                own.max(info.state.last_sequence)
            }
        })
    }

    /// Members of a channel on every node, skipping nodes known to be dead.
    pub(super) async fn members(
        &self,
        channel: &str,
        dead: &HashSet<String>,
        fresh: Freshness,
    ) -> Result<Vec<ClientInfo>, BrokerError> {
        let marker = self.names.presence_subject(MARKER, &self.node);
        let request = json!({
            "multi_last": [self.names.presence_filter(channel), marker],
            "batch": MAX_NODES + 1,
        });
        let floor = self.floor(fresh).await?;
        let batch = direct::batch_at_least(
            &self.client,
            &self.kv.stream_name,
            request,
            floor,
            self.timeout,
        )
        .await?;
        let mut members: Vec<ClientInfo> = Vec::new();
        let entries = batch.messages.iter().filter(|s| s.subject != marker);
        for stored in entries.filter(|s| !s.is_tombstone()) {
            let node = stored.subject.rsplit('.').next().and_then(decode_token);
            if node.is_some_and(|n| dead.contains(&n)) {
                continue;
            }
            match decode(&stored.message.payload) {
                Some(list) => members.extend(list),
                None => tracing::warn!(subject = %stored.subject, "undecodable presence entry"),
            }
        }
        members.sort_by(|a, b| a.client.cmp(&b.client));
        members.dedup_by(|a, b| a.client == b.client);
        Ok(members)
    }

    /// Member counts of a channel on every node.
    pub(super) async fn stats(
        &self,
        channel: &str,
        dead: &HashSet<String>,
        fresh: Freshness,
    ) -> Result<PresenceStats, BrokerError> {
        let members = self.members(channel, dead, fresh).await?;
        let users: HashSet<&str> = members.iter().map(|m| m.user.as_str()).collect();
        Ok(PresenceStats {
            clients: members.len() as u32,
            users: users.len() as u32,
        })
    }

    /// Every entry a node wrote (to announce what a dead node's members left):
    /// the presence key (channel, or status key) and its members.
    pub(super) async fn all_of_node(
        &self,
        node: &str,
    ) -> Result<Vec<(String, Vec<ClientInfo>)>, BrokerError> {
        let batch = direct::batch(
            &self.client,
            &self.kv.stream_name,
            json!({ "multi_last": [self.names.presence_of_node(node)], "batch": MAX_ENTRIES }),
            self.timeout,
        )
        .await?;
        Ok(batch
            .messages
            .iter()
            .filter(|s| !s.is_tombstone())
            .filter_map(|s| {
                let mut tokens = s.subject.rsplit('.');
                tokens.next();
                let key = decode_token(tokens.next()?)?;
                Some((key, decode(&s.message.payload)?))
            })
            .filter(|(key, _)| key != MARKER)
            .collect())
    }

    /// Removes every entry of this node (graceful shutdown).
    pub(super) async fn clear(&self) {
        let mut channels: Vec<Arc<str>> = lock(&self.local).drain().map(|(c, _)| c).collect();
        channels.push(MARKER.into());
        for channel in channels {
            let _ = self
                .kv
                .delete(self.names.presence_key(&channel, &self.node))
                .await;
        }
    }
}
