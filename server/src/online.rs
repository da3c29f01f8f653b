//! Online status: a user is online while they hold at least one connection on
//! any node. Each connection of an authenticated user is a member of the
//! user's status key in presence ([`crate::stream_key::StreamKey::Status`];
//! see [`crate::broker::PresenceStore::presence_add`]), so status follows
//! presence across nodes, including the expiry of a killed node's members.
//! The moment a user goes offline is kept as `last_seen_ms`.
//!
//! With `users.status_namespace` set (say `status`), every transition is
//! published to the channel `status:<user>` as `{"user", "online",
//! "last_seen_ms"}`, and subscribing to that channel (permission-checked like
//! any channel of the namespace) returns the current status in the subscribe
//! reply's `data`.

use std::sync::Arc;

use chorus_protocol::Payload;
use serde::Serialize;

use crate::broker::{BrokerError, PubSub, PublishArgs, Users};
use crate::config::Config;

/// A user's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct UserStatus {
    /// The user id it is about (the `<user>` of its `status:<user>` channel).
    pub user: String,
    /// Whether the user holds a connection on some node.
    pub online: bool,
    /// When the user was last online (Unix milliseconds), if known and offline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<u64>,
}

impl UserStatus {
    /// `user` offline, last seen at `at_ms`.
    pub(crate) fn offline(user: &str, at_ms: u64) -> UserStatus {
        UserStatus {
            user: user.to_owned(),
            online: false,
            last_seen_ms: Some(at_ms),
        }
    }

    /// As a payload (status events and subscribe replies).
    pub(crate) fn payload(&self) -> Payload {
        Payload::json(self).unwrap_or_default()
    }
}

/// The channel carrying `user`'s status events, when they are on.
pub(crate) fn channel(config: &Config, user: &str) -> Option<String> {
    let ns = config.users.status_namespace.as_ref()?;
    let channel = format!("{ns}:{user}");
    chorus_protocol::Channel::parse(&channel).ok()?;
    Some(channel)
}

/// The user a status channel is about (`status:alice` -> `alice`).
pub(crate) fn user_of_channel<'a>(config: &Config, channel: &'a str) -> Option<&'a str> {
    let ns = config.users.status_namespace.as_ref()?;
    channel.strip_prefix(ns.as_str())?.strip_prefix(':')
}

/// The publish of a status event, when status events are on.
pub(crate) fn event(config: &Config, status: &UserStatus) -> Option<PublishArgs> {
    let channel = channel(config, &status.user)?;
    let history = config
        .namespace(config.users.status_namespace.as_deref()?)
        .and_then(crate::config::NamespaceConfig::history);
    Some(PublishArgs {
        channel: Arc::from(channel),
        data: status.payload(),
        info: None,
        idempotency_key: None,
        history,
    })
}

/// Announces a user's status on their status channel, when status events
/// are on. A failure is logged: the status itself is already recorded.
pub(crate) async fn announce<B: PubSub + ?Sized>(broker: &B, config: &Config, status: UserStatus) {
    if let Some(args) = event(config, &status) {
        if let Err(e) = broker.publish(args).await {
            tracing::warn!(error = %e, user = status.user, "could not publish a status event");
        }
    }
}

/// Records `user` offline as of now and announces it, when the node holding
/// their last connection died (the NATS broker's housekeeping; a node's own
/// closes go through `Node::status_leave`). The offline event goes out even
/// if last seen could not be stored, whose error is returned.
pub(crate) async fn record_offline<B: PubSub + Users + ?Sized>(
    broker: &B,
    config: &Config,
    user: &str,
) -> Result<(), BrokerError> {
    let now = crate::clock::unix_ms();
    let stored = broker.set_last_seen(user.into(), now).await;
    announce(broker, config, UserStatus::offline(user, now)).await;
    stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_payloads() {
        let mut config = Config::default();
        assert_eq!(channel(&config, "bob"), None, "events are off by default");
        config.users.status_namespace = Some("status".into());
        assert_eq!(channel(&config, "bob").as_deref(), Some("status:bob"));
        assert_eq!(user_of_channel(&config, "status:bob"), Some("bob"));
        assert_eq!(user_of_channel(&config, "chat:bob"), None);
        let s = UserStatus {
            user: "bob".into(),
            online: false,
            last_seen_ms: Some(5),
        };
        let parsed: serde_json::Value = s.payload().parse_json().unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"user":"bob","online":false,"last_seen_ms":5})
        );
    }
}
