//! The node registry: each node keeps an entry (its status) in a bucket whose
//! entries expire after the node TTL, and refreshes it three times per TTL. Every
//! node reads the whole registry at the same pace: an entry that disappears
//! means its node died (or left), which the broker turns into leave events.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::Client;
use async_nats::jetstream::kv;
use serde_json::json;

use super::direct;
use super::names::Names;
use crate::broker::{BrokerError, NodeStatus};
use crate::sync::lock;

/// The `batch` of the registry's one direct read: a cluster of more nodes lists only this many.
const MAX_NODES: usize = 1_024;

#[derive(Debug, Default)]
struct State {
    live: HashMap<String, NodeStatus>,
    /// Nodes seen to die, and when (forgotten once their entries expired).
    dead: HashMap<String, Instant>,
}

/// The registry bucket and what this node last read of it.
#[derive(Debug)]
pub(super) struct Registry {
    client: Client,
    kv: kv::Store,
    names: Names,
    node: Arc<str>,
    timeout: Duration,
    /// How long a dead node is remembered (its presence entries expire by then).
    remember: Duration,
    state: Mutex<State>,
}

impl Registry {
    /// The registry for `node`.
    pub(super) fn new(
        client: Client,
        kv: kv::Store,
        names: Names,
        node: Arc<str>,
        timeout: Duration,
        remember: Duration,
    ) -> Self {
        Registry {
            client,
            kv,
            names,
            node,
            timeout,
            remember,
            state: Mutex::default(),
        }
    }

    /// Writes this node's entry; the bucket's TTL (`cluster.node_ttl_ms`) drops it when the
    /// writes stop.
    pub(super) async fn beat(&self, status: &NodeStatus) -> Result<(), BrokerError> {
        let value =
            serde_json::to_vec(status).map_err(|e| BrokerError::encode("registry entry", e))?;
        self.kv
            .put(&*self.node, value.into())
            .await
            .map_err(|e| BrokerError::storage("registry put", e))?;
        Ok(())
    }

    /// Reads every live entry, sorted by node id.
    pub(super) async fn read(&self) -> Result<Vec<NodeStatus>, BrokerError> {
        let mut nodes: Vec<NodeStatus> = self.read_map().await?.into_values().collect();
        nodes.sort_by(|a, b| a.info.node.cmp(&b.info.node));
        Ok(nodes)
    }

    async fn read_map(&self) -> Result<HashMap<String, NodeStatus>, BrokerError> {
        let batch = direct::batch(
            &self.client,
            &self.kv.stream_name,
            json!({ "multi_last": [self.names.nodes_filter()], "batch": MAX_NODES }),
            self.timeout,
        )
        .await?;
        let mut live = HashMap::new();
        for stored in batch.messages.iter().filter(|s| !s.is_tombstone()) {
            match serde_json::from_slice::<NodeStatus>(&stored.message.payload) {
                Ok(status) => {
                    live.insert(status.info.node.clone(), status);
                }
                Err(e) => {
                    tracing::warn!(subject = %stored.subject, error = %e, "bad registry entry")
                }
            }
        }
        Ok(live)
    }

    /// Reads every entry; returns the nodes that died since the last poll.
    pub(super) async fn poll(&self) -> Result<Vec<String>, BrokerError> {
        let live = self.read_map().await?;
        let now = Instant::now();
        let mut state = lock(&self.state);
        let died: Vec<String> = state
            .live
            .keys()
            .filter(|n| !live.contains_key(*n) && n.as_str() != &*self.node)
            .cloned()
            .collect();
        for node in &died {
            tracing::warn!(node = %node, "node left the registry: treating it as dead");
            state.dead.insert(node.clone(), now);
        }
        for node in live.keys() {
            state.dead.remove(node);
        }
        let remember = self.remember;
        state
            .dead
            .retain(|_, at| now.duration_since(*at) < remember);
        state.live = live;
        Ok(died)
    }

    /// Whether this node leads cluster-wide chores (the live node with the
    /// smallest id): only one node then announces a dead node's users offline.
    pub(super) fn leads(&self) -> bool {
        let state = lock(&self.state);
        state.live.keys().all(|n| n.as_str() >= &*self.node)
    }

    /// Nodes seen to die recently (their presence entries may linger).
    pub(super) fn dead(&self) -> HashSet<String> {
        lock(&self.state).dead.keys().cloned().collect()
    }

    /// Removes this node's entry (graceful shutdown).
    pub(super) async fn leave(&self) {
        let _ = self.kv.delete(&*self.node).await;
    }
}
