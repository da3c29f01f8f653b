//! Housekeeping: the node's registry heartbeat, what a dead node's members
//! leave behind (leave events, users going offline), and the revocation check
//! after a reconnect.

use super::NatsBroker;
use crate::broker::{Freshness, Users};
use crate::config::Config;
use crate::stream_key::StreamKey;
use chorus_protocol::CloseCode;
use chorus_protocol::message::Membership;

impl NatsBroker {
    /// Closes local connections whose token was revoked (after a reconnect).
    pub(super) async fn recheck_revocations(&self) {
        for recipient in self.delivery.hub.recipients() {
            if recipient.user.is_empty() {
                continue;
            }
            match self
                .is_revoked(recipient.user.clone(), recipient.token())
                .await
            {
                Ok(true) => recipient.close(CloseCode::TOKEN_REVOKED, "token revoked"),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not check revocations after a reconnect");
                    return;
                }
            }
        }
    }

    /// Refreshes the registry entry, notices dead nodes, refreshes presence.
    pub(super) async fn housekeeping(&self, refresh_presence: bool) {
        if let Err(e) = self.registry.beat(&self.status()).await {
            tracing::warn!(error = %e, "registry refresh failed");
        }
        match self.registry.poll().await {
            Ok(died) => {
                for node in died {
                    self.announce_leaves(&node).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "registry read failed"),
        }
        if refresh_presence {
            self.presence.refresh().await;
        }
    }

    /// What a dead node's members leave behind. Every surviving node tells its
    /// own subscribers that they left; the leading node alone records its users
    /// offline (last seen now) and publishes their status events.
    async fn announce_leaves(&self, dead: &str) {
        let entries = match self.presence.all_of_node(dead).await {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(error = %e, node = dead, "could not read a dead node's members");
                return;
            }
        };
        let config = self.delivery.config();
        let hub = &self.delivery.hub;
        for (key, members) in entries {
            if let StreamKey::Status(user) = StreamKey::parse(&key) {
                if self.registry.leads() {
                    self.announce_offline(&config, &key, &user).await;
                }
                continue;
            }
            let joins_leaves = config.namespace_of(&key).is_some_and(|ns| ns.join_leave);
            if !joins_leaves || hub.channel_members(&key) == 0 {
                continue;
            }
            for info in members {
                let event = Membership {
                    channel: key.clone(),
                    info,
                };
                hub.membership(false, event, None);
            }
        }
    }

    /// Records `user` offline if no live node holds a connection of theirs.
    async fn announce_offline(&self, config: &Config, key: &str, user: &str) {
        let dead = self.registry.dead();
        match self.presence.stats(key, &dead, Freshness::Latest).await {
            Ok(stats) if stats.clients == 0 => {}
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, user, "could not check a user's status");
                return;
            }
        }
        if let Err(e) = crate::online::record_offline(self, config, user).await {
            tracing::warn!(error = %e, user, "could not record last seen");
        }
    }
}
