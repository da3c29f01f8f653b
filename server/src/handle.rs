//! The node's programmatic API: what the HTTP server API and embedding
//! programs call. Cheap to clone; valid while the node runs.

use std::sync::Arc;

use chorus_protocol::message::*;
use chorus_protocol::{Channel, CloseCode, Payload};
use serde::Serialize;

use crate::broker::{NodeCounts, NodeInfo, NodeStatus};
use crate::config::NamespaceConfig;
use crate::node::Node;

/// A channel with its local member count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelInfo {
    /// The channel's full name (`chat:lobby`).
    pub channel: String,
    /// Subscribers on this node.
    pub members: usize,
}

/// Acts on the node (and through its broker, on the cluster) from server code.
#[derive(Debug, Clone)]
pub struct Handle {
    node: Arc<Node>,
}

impl Handle {
    /// A handle to `node`.
    pub fn new(node: Arc<Node>) -> Self {
        Handle { node }
    }

    fn namespace(&self, channel: &str) -> Result<(Channel, NamespaceConfig), Error> {
        self.node.resolve(channel)
    }

    /// Publishes to a channel as the server (no publisher info, no permission checks).
    pub async fn publish(&self, req: PublishRequest) -> Result<PublishResult, Error> {
        let (channel, ns) = self.namespace(&req.channel)?;
        self.node.check_size(&req.data)?;
        self.node
            .publish(&channel, &ns, req.data, None, req.idempotency_key)
            .await
    }

    /// Delivers data to every connection of a user, on every node.
    pub async fn send_to_user(&self, user: &str, data: Payload) -> Result<(), Error> {
        Node::check_recipient(user)?;
        self.node.check_size(&data)?;
        let message = Message {
            data,
            ..Default::default()
        };
        self.node
            .send_to_user(user, message, crate::node::Sender::Server)
            .await
    }

    /// Delivers data to every connection on every node.
    pub async fn broadcast(&self, data: Payload) -> Result<(), Error> {
        self.node.check_size(&data)?;
        let message = Message {
            data,
            from: None,
            broadcast: true,
            ..Default::default()
        };
        self.node.broker.broadcast(message).await.map_err(|e| {
            tracing::warn!(error = %e, "could not broadcast");
            Error::from(e)
        })
    }

    /// Closes every connection of a user, on every node.
    pub async fn disconnect_user(
        &self,
        user: &str,
        code: CloseCode,
        reason: &str,
    ) -> Result<(), Error> {
        self.node
            .broker
            .close_user(user.into(), code, reason.to_owned())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, user, "could not disconnect a user");
                Error::from(e)
            })
    }

    /// Closes one connection, on whichever node it is (nothing happens for an
    /// id that is not connected anywhere).
    pub async fn disconnect_client(
        &self,
        client: &str,
        code: CloseCode,
        reason: &str,
    ) -> Result<(), Error> {
        self.node
            .broker
            .close_client(client.into(), code, reason.to_owned())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, client, "could not disconnect a client");
                Error::from(e)
            })
    }

    /// Revokes tokens: their connections close with 4505 on every node, and
    /// they are refused at connect and refresh until `revocation.until`.
    pub async fn revoke(&self, revocation: crate::revocation::Revocation) -> Result<(), Error> {
        self.node.broker.revoke(revocation).await.map_err(|e| {
            tracing::warn!(error = %e, "could not revoke tokens");
            Error::from(e)
        })
    }

    /// Live nodes of the cluster (this node alone on the memory broker).
    pub async fn nodes(&self) -> Result<Vec<NodeStatus>, Error> {
        let me = self.status();
        // This node's own entry is given fresh; others' are as last refreshed.
        let mut nodes = self
            .node
            .broker
            .nodes()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "could not read the node registry");
                Error::from(e)
            })?
            .unwrap_or_default();
        nodes.retain(|n| n.info.node != me.info.node);
        nodes.push(me);
        nodes.sort_by(|a, b| a.info.node.cmp(&b.info.node));
        Ok(nodes)
    }

    /// Every connection subscribed to a channel on every node (108 without `presence = true`).
    pub async fn presence(&self, channel: &str) -> Result<PresenceResult, Error> {
        let (channel, _) = self.node.resolve_presence(channel)?;
        self.node.presence(&channel).await
    }

    /// Connections subscribed to a channel and distinct users among them, on every node
    /// (108 without `presence = true`).
    pub async fn presence_stats(&self, channel: &str) -> Result<PresenceStatsResult, Error> {
        let (channel, _) = self.node.resolve_presence(channel)?;
        self.node.presence_stats(&channel).await
    }

    /// A page of a channel's history (`limit` absent or 0: only the position).
    pub async fn history(&self, req: HistoryRequest) -> Result<HistoryResult, Error> {
        let (channel, ns) = self.namespace(&req.channel)?;
        self.node.history_page(&channel, &ns, req).await
    }

    /// Channels with subscribers on this node.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        self.node
            .hub
            .channels()
            .into_iter()
            .map(|(channel, members)| ChannelInfo {
                channel: channel.to_string(),
                members,
            })
            .collect()
    }

    /// This node's counts, as `GET /api/stats` reports them.
    pub fn stats(&self) -> NodeCounts {
        NodeCounts::of(&self.node.hub)
    }

    /// This node's identity: the same fields as its `/api/nodes` entry.
    pub fn info(&self) -> NodeInfo {
        self.status().info
    }

    /// This node's registry entry, fresh.
    fn status(&self) -> NodeStatus {
        let node = &self.node;
        NodeStatus::of(
            &node.id,
            node.started,
            node.broker_kind(),
            node.draining(),
            &node.hub,
        )
    }
}
