//! The `[users]` options: per-user features (the offline inbox and online
//! status), with the bounds that keep a node's memory in check.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ConfigError, NamespaceConfig, invalid};

/// The offline inbox and online status of users.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UsersConfig {
    /// Messages kept per user inbox (0: no inbox; `send` only reaches
    /// connections that are online).
    pub inbox_size: usize,
    /// How long an inbox message is kept.
    pub inbox_ttl_ms: u64,
    /// Namespace whose channel `<namespace>:<user>` carries that user's online
    /// and offline events (unset: no events; status is still queryable through
    /// the server API).
    pub status_namespace: Option<String>,
    /// Whether a client's `send` to a user who never connected (not online,
    /// no last-seen time) is kept in that user's inbox. Off: it reaches
    /// nobody, so clients cannot make a node keep messages for invented user
    /// ids. The server API always may.
    pub client_inbox_for_unseen: bool,
    /// Bytes of inbox messages one node keeps in memory in all (memory
    /// broker; the oldest go first beyond it). In cluster mode inboxes live
    /// in the history stream, bounded by `cluster.history_max_bytes`.
    pub inbox_max_bytes: usize,
}

impl Default for UsersConfig {
    fn default() -> Self {
        UsersConfig {
            inbox_size: 100,
            inbox_ttl_ms: 86_400_000,
            status_namespace: None,
            client_inbox_for_unseen: false,
            inbox_max_bytes: 64 << 20,
        }
    }
}

impl UsersConfig {
    /// Checks the users options against the configured namespaces (the
    /// status namespace must be one); the error names the first bad option.
    pub(super) fn validate(
        &self,
        namespaces: &BTreeMap<String, NamespaceConfig>,
    ) -> Result<(), ConfigError> {
        if self.inbox_size > 100_000 {
            return Err(invalid("users.inbox_size", "must be at most 100000"));
        }
        if self.inbox_size > 0 && self.inbox_ttl_ms == 0 {
            return Err(invalid("users.inbox_ttl_ms", "must be greater than 0"));
        }
        if let Some(ns) = &self.status_namespace {
            if !namespaces.contains_key(ns) {
                return Err(invalid(
                    "users.status_namespace",
                    format!("namespace {ns:?} is not configured"),
                ));
            }
        }
        Ok(())
    }
}
