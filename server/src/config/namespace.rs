//! Options of one namespace (`[default_namespace]`, `[namespaces.<name>]`):
//! who may subscribe and publish, and what its channels keep (history,
//! presence).

use serde::Deserialize;

use super::{ConfigError, invalid};
use crate::history::HistoryOptions;

/// Who may publish in a namespace.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PublishPolicy {
    /// Only the server API (and clients with a publish grant).
    Nobody,
    /// Connections subscribed to the channel.
    Subscribers,
    /// Any connection allowed in the namespace.
    Any,
}

/// Who may subscribe in a namespace.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SubscribePolicy {
    /// Only connections whose token grants the channel.
    Grants,
    /// Any connection allowed in the namespace.
    Any,
}

/// Options of one namespace (`[default_namespace]` or `[namespaces.NAME]`); an option left out
/// takes the default below, not `[default_namespace]`'s value.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NamespaceConfig {
    /// Publications kept per channel for history and recovery (0: none).
    pub history_size: usize,
    /// How long a publication stays in history.
    pub history_ttl_ms: u64,
    /// Whether presence and presence stats are available.
    pub presence: bool,
    /// Whether join and leave pushes are sent to subscribers.
    pub join_leave: bool,
    /// Whether connections without a token may subscribe (and publish, by policy).
    pub anonymous: bool,
    /// Who may subscribe (default `any`), which also governs presence and history reads; a
    /// matching `subs` grant admits whatever the policy.
    pub subscribe: SubscribePolicy,
    /// Who may publish (default `subscribers`); a matching `pubs` grant admits whatever the
    /// policy, and the server API always may.
    pub publish: PublishPolicy,
    /// Subscribers a channel may have across the cluster (error 112; 0: no limit).
    pub max_members: usize,
}

impl Default for NamespaceConfig {
    fn default() -> Self {
        NamespaceConfig {
            history_size: 0,
            history_ttl_ms: 300_000,
            presence: false,
            join_leave: false,
            anonymous: false,
            subscribe: SubscribePolicy::Any,
            publish: PublishPolicy::Subscribers,
            max_members: 0,
        }
    }
}

impl NamespaceConfig {
    /// The namespace the development profile adds: open to anonymous users, with
    /// history, presence and join/leave so the demo shows everything.
    pub fn demo() -> Self {
        NamespaceConfig {
            history_size: 100,
            history_ttl_ms: 600_000,
            presence: true,
            join_leave: true,
            anonymous: true,
            subscribe: SubscribePolicy::Any,
            publish: PublishPolicy::Subscribers,
            max_members: 0,
        }
    }

    /// Whether channels keep history (and so support recovery).
    pub fn has_history(&self) -> bool {
        self.history_size > 0 && self.history_ttl_ms > 0
    }

    /// History bounds of the namespace's channels, if they keep history.
    pub(crate) fn history(&self) -> Option<HistoryOptions> {
        self.has_history().then(|| HistoryOptions {
            size: self.history_size,
            ttl: std::time::Duration::from_millis(self.history_ttl_ms),
        })
    }

    /// Checks the options of the namespace configured at `option` (such as
    /// `namespaces.chat`), which the error names.
    pub(super) fn validate(&self, option: &str) -> Result<(), ConfigError> {
        if self.history_size > 100_000 {
            return Err(invalid(
                &format!("{option}.history_size"),
                "must be at most 100000",
            ));
        }
        Ok(())
    }
}

/// Checks a configured namespace name: what a channel name may start with.
pub(super) fn validate_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= chorus_protocol::channel::MAX_NAMESPACE_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(invalid(
            &format!("namespaces.{name}"),
            "a namespace name is 1 to 64 of A-Z a-z 0-9 _ -",
        ));
    }
    Ok(())
}
