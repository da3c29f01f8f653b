//! The `[cluster]` options: how the nodes of one system share NATS and
//! JetStream, and the checks that keep them within what JetStream accepts.

use serde::Deserialize;

use super::{ConfigError, invalid};

/// Cluster mode: how the nodes of one system share NATS and JetStream.
/// Every node of a cluster must use the same values (and the same namespaces).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Prefix of every subject, stream and bucket name, so several systems can
    /// share one NATS cluster (A-Z a-z 0-9 _ -).
    pub prefix: String,
    /// JetStream replicas of the history stream and the buckets (1, 3 or 5;
    /// at most the number of NATS servers).
    pub replicas: usize,
    /// `file` or `memory` storage for the history stream and the buckets.
    pub storage: ClusterStorage,
    /// Bytes the history stream may hold in all (oldest publications go first).
    pub history_max_bytes: i64,
    /// A node that has not refreshed its registry entry for this long is dead:
    /// it leaves `/api/nodes`, and its members leave presence (with leave events).
    pub node_ttl_ms: u64,
    /// How long to wait for one JetStream reply (a publish ack, a read).
    pub request_timeout_ms: u64,
    /// How long a publish to a history channel keeps trying, through offset
    /// conflicts with other nodes, stream leader elections and NATS
    /// reconnects, before the client gets error 100. Below the SDKs' request
    /// timeout (10 s), so the client hears the answer.
    pub publish_timeout_ms: u64,
    /// PEM file of the CA that signed the NATS servers' certificates, for
    /// `tls://` URLs (unset: the platform's roots).
    pub nats_ca_file: Option<std::path::PathBuf>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            prefix: "chorus".to_owned(),
            replicas: 1,
            storage: ClusterStorage::File,
            history_max_bytes: 1 << 30,
            node_ttl_ms: 15_000,
            request_timeout_ms: 5_000,
            publish_timeout_ms: 8_000,
            nats_ca_file: None,
        }
    }
}

impl ClusterConfig {
    /// Checks the cluster options; the error names the first bad one.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let prefix_ok = !self.prefix.is_empty()
            && self.prefix.len() <= 32
            && self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !prefix_ok {
            return Err(invalid("cluster.prefix", "is 1 to 32 of A-Z a-z 0-9 _ -"));
        }
        if !(1..=5).contains(&self.replicas) {
            return Err(invalid("cluster.replicas", "must be 1 to 5"));
        }
        if self.node_ttl_ms < 1_000 {
            return Err(invalid("cluster.node_ttl_ms", "must be at least 1000"));
        }
        if self.publish_timeout_ms == 0 {
            return Err(invalid(
                "cluster.publish_timeout_ms",
                "must be greater than 0",
            ));
        }
        if self.request_timeout_ms == 0 {
            return Err(invalid(
                "cluster.request_timeout_ms",
                "must be greater than 0",
            ));
        }
        if self.history_max_bytes == 0 || self.history_max_bytes < -1 {
            return Err(invalid(
                "cluster.history_max_bytes",
                "must be positive (or -1: no limit)",
            ));
        }
        Ok(())
    }
}

/// Where JetStream keeps history, presence and the registry (`cluster.storage`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClusterStorage {
    /// On disk: survives NATS server restarts.
    File,
    /// In memory: faster, lost when the NATS servers restart.
    Memory,
}
