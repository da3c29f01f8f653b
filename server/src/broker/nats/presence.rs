//! Presence across nodes: each node writes, per channel, one bucket entry
//! (`<channel>.<node>`) holding its own members, and rewrites it when they change.
//! Asking for a channel's presence reads the last value of every node's entry in
//! one direct read and merges them.
//!
//! Entries live for three node TTLs unless refreshed; a live node refreshes
//! its entries every node TTL, so a dead node's entries expire by themselves
//! even when no other node cleans them up. Readers skip entries of nodes the
//! registry has seen die, which bounds how long a dead node's members are listed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::kv;
use chorus_protocol::message::ClientInfo;
use chorus_protocol::subject::decode_token;
use serde_json::json;

use super::direct;
use super::names::Names;
use crate::broker::{BrokerError, PresenceStats};

/// Node entries read per presence query (one per node holding members).
const MAX_NODES: usize = 1_024;
/// Entries of one node read at once when it died.
const MAX_ENTRIES: usize = 100_000;

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
pub struct Presence {
    client: Client,
    kv: kv::Store,
    names: Names,
    node: Arc<str>,
    timeout: Duration,
    local: Mutex<HashMap<Arc<str>, Local>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn encode(members: &[ClientInfo]) -> Result<bytes::Bytes, BrokerError> {
    rmp_serde::to_vec_named(members)
        .map(Into::into)
        .map_err(|e| BrokerError(format!("presence encode: {e}")))
}

fn decode(bytes: &[u8]) -> Option<Vec<ClientInfo>> {
    rmp_serde::from_slice(bytes).ok()
}

impl Presence {
    /// Presence for `node`, stored in `kv`.
    pub fn new(
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
        }
    }

    /// Records a local member and writes the channel's entry.
    pub async fn add(&self, channel: Arc<str>, info: ClientInfo) -> Result<(), BrokerError> {
        {
            let mut local = lock(&self.local);
            let entry = local.entry(channel.clone()).or_default();
            entry.members.insert(info.client.as_str().into(), info);
            entry.version += 1;
        }
        self.write(&channel).await
    }

    /// Forgets a local member and writes the channel's entry.
    pub async fn remove(&self, channel: Arc<str>, client: &str) -> Result<(), BrokerError> {
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
        let key = self.names.presence_key(channel, &self.node);
        if members.is_empty() {
            self.kv
                .delete(&key)
                .await
                .map_err(|e| BrokerError(format!("presence delete: {e}")))?;
        } else {
            self.kv
                .put(&key, encode(&members)?)
                .await
                .map_err(|e| BrokerError(format!("presence put: {e}")))?;
        }
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
    pub async fn refresh(&self) {
        let channels: Vec<(Arc<str>, Vec<ClientInfo>)> = lock(&self.local)
            .iter()
            .map(|(c, l)| (c.clone(), l.members.values().cloned().collect()))
            .collect();
        for (channel, members) in channels {
            let key = self.names.presence_key(&channel, &self.node);
            let result = if members.is_empty() {
                self.kv.delete(&key).await.map_err(|e| e.to_string())
            } else {
                match encode(&members) {
                    Ok(bytes) => self
                        .kv
                        .put(&key, bytes)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, %channel, "presence refresh failed");
            }
        }
    }

    /// Members of a channel on every node, skipping nodes known to be dead.
    pub async fn members(
        &self,
        channel: &str,
        dead: &HashSet<String>,
    ) -> Result<Vec<ClientInfo>, BrokerError> {
        let batch = direct::batch(
            &self.client,
            &self.kv.stream_name,
            json!({ "multi_last": [self.names.presence_filter(channel)], "batch": MAX_NODES }),
            self.timeout,
        )
        .await?;
        let mut members: Vec<ClientInfo> = Vec::new();
        for stored in batch.messages.iter().filter(|s| !s.is_tombstone()) {
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
    pub async fn stats(
        &self,
        channel: &str,
        dead: &HashSet<String>,
    ) -> Result<PresenceStats, BrokerError> {
        let members = self.members(channel, dead).await?;
        let users: HashSet<&str> = members.iter().map(|m| m.user.as_str()).collect();
        Ok(PresenceStats {
            clients: members.len() as u32,
            users: users.len() as u32,
        })
    }

    /// Every entry a node wrote (to announce what a dead node's members left):
    /// the presence key (channel, or status key) and its members.
    pub async fn all_of_node(
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
            .collect())
    }

    /// Removes every entry of this node (graceful shutdown).
    pub async fn clear(&self) {
        let channels: Vec<Arc<str>> = lock(&self.local).drain().map(|(c, _)| c).collect();
        for channel in channels {
            let _ = self
                .kv
                .delete(self.names.presence_key(&channel, &self.node))
                .await;
        }
    }
}
