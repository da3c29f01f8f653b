//! `subscribe` and `unsubscribe`: joining a channel (permission, limits,
//! hooks, position and recovery, presence, join event) and leaving it, with
//! the undo of a subscribe that failed part way.

use std::sync::Arc;

use chorus_protocol::message::*;
use chorus_protocol::{Channel, ErrorCode};

use crate::broker::Freshness;
use crate::history::HistoryQuery;
use crate::permissions::may_subscribe;
use crate::session::{Session, SubState};

use super::err;

impl Session {
    /// Joins a channel: the reply carries its position, and with `since` what
    /// was missed, and is written before any live publication of it.
    pub(crate) async fn subscribe(
        &mut self,
        req: SubscribeRequest,
    ) -> Result<SubscribeResult, Error> {
        let (channel, ns) = self.resolve(&req.channel)?;
        may_subscribe(&ns, self.principal(), &channel)?;
        let key: Arc<str> = channel.as_str().into();
        if self.subs.contains_key(&key) {
            return Err(err(
                ErrorCode::ALREADY_SUBSCRIBED,
                format!("already subscribed to {channel}"),
            ));
        }
        let config = self.node.config();
        let limits = &config.limits;
        if self.subs.len() >= limits.max_channels_per_connection {
            return Err(err(
                ErrorCode::LIMIT_EXCEEDED,
                format!(
                    "at most {} channels per connection",
                    limits.max_channels_per_connection
                ),
            ));
        }
        let node = self.node.clone();
        if ns.max_members > 0 {
            let members = if ns.presence {
                node.broker
                    .presence_stats(key.clone(), Freshness::OwnWrites)
                    .await
                    .map_err(|e| {
                        tracing::warn!(error = %e, %channel, "could not count a channel's members");
                        Error::from(e)
                    })?
                    .clients as usize
            } else {
                node.hub.channel_members(&key)
            };
            if members >= ns.max_members {
                return Err(err(ErrorCode::CHANNEL_FULL, format!("{channel} is full")));
            }
        }
        let auth = self.authed()?;
        let info = auth.info.clone();
        let recipient = auth.recipient.clone();
        let mut data = node
            .hooks
            .on_subscribe(&info, channel.as_str(), req.data.as_ref())
            .await?;
        if data.is_none() {
            if let Some(user) = crate::online::user_of_channel(&node.config(), channel.as_str()) {
                let mut status = node.user_status(vec![user.to_owned()]).await?;
                data = status.pop().map(|s| s.payload());
            }
        }

        node.join_channel(&key, &recipient).await.map_err(|e| {
            tracing::warn!(error = %e, %channel, "could not listen to a channel");
            Error::from(e)
        })?;
        self.subs.insert(key.clone(), SubState::default());
        let mut result = SubscribeResult {
            data,
            ..Default::default()
        };
        if let Some(opts) = ns.history() {
            // Without `since` only the position is needed.
            let query = HistoryQuery {
                since: req.since.clone(),
                limit: req.since.is_none().then_some(0),
                reverse: false,
            };
            let stream = crate::stream_key::StreamKey::Channel(key.clone());
            let page = match node.broker.history(stream, opts, query).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, %channel, "could not read a channel's position");
                    self.abandon(&key, false).await;
                    return Err(Error::from(e));
                }
            };
            let recovered = req.since.is_some() && page.recovered;
            if let Some(sub) = self.subs.get_mut(&key) {
                sub.last.set(page.position.clone());
            }
            result.recovered = recovered;
            if recovered {
                result.publications = page.publications;
            }
            result.position = Some(page.position);
        }
        if ns.presence {
            if let Err(e) = node.broker.presence_add(key.clone(), info.clone()).await {
                tracing::warn!(error = %e, %channel, "could not add a presence entry");
                self.abandon(&key, false).await;
                return Err(Error::from(e));
            }
        }
        if ns.join_leave {
            let event = Membership {
                channel: key.to_string(),
                info,
            };
            if let Err(e) = node.broker.membership(true, event).await {
                tracing::warn!(error = %e, %channel, "could not publish a join event");
                self.abandon(&key, ns.presence).await;
                return Err(Error::from(e));
            }
        }
        Ok(result)
    }

    /// Takes the connection off a channel without a leave event: what
    /// [`Session::leave`] does first, and the undo of a subscribe that failed
    /// part way, after the connection joined the channel (the client is told
    /// it failed, so nothing of it may stay: a retry would otherwise be refused
    /// as a double subscribe, and the connection would receive a channel it
    /// was told it is not on; the join was never announced). `present`: the
    /// presence entry was added and is removed again.
    async fn abandon(&mut self, channel: &Arc<str>, present: bool) {
        self.subs.remove(channel);
        let Some(auth) = &self.auth else { return };
        let node = self.node.clone();
        let client = auth.client.clone();
        node.leave_channel(channel, &client).await;
        if present {
            if let Err(e) = node.broker.presence_remove(channel.clone(), client).await {
                tracing::warn!(error = %e, %channel, "could not remove a presence entry");
            }
        }
    }

    /// Leaves a channel the connection is on (error 111 otherwise).
    pub(super) async fn unsubscribe(&mut self, req: ChannelRequest) -> Result<(), Error> {
        let channel =
            Channel::parse(&req.channel).map_err(|e| err(ErrorCode::BAD_REQUEST, e.to_string()))?;
        let key: Arc<str> = channel.as_str().into();
        if !self.subs.contains_key(&key) {
            return Err(err(
                ErrorCode::NOT_SUBSCRIBED,
                format!("not subscribed to {channel}"),
            ));
        }
        self.leave(&key).await;
        Ok(())
    }

    /// Removes a subscription (idempotent): membership, presence, leave event.
    pub(crate) async fn leave(&mut self, channel: &Arc<str>) {
        if !self.subs.contains_key(channel) {
            return;
        }
        // A namespace a reload removed has neither presence nor join/leave.
        let ns = self.resolve(channel).ok().map(|(_, ns)| ns);
        let present = ns.as_ref().is_some_and(|ns| ns.presence);
        // The member is gone either way: after a failed presence write the
        // cluster lists it until this node next refreshes its presence entries.
        self.abandon(channel, present).await;
        let (Some(auth), Some(ns)) = (&self.auth, ns) else {
            return;
        };
        if ns.join_leave {
            let node = self.node.clone();
            let event = Membership {
                channel: channel.to_string(),
                info: auth.info.clone(),
            };
            if let Err(e) = node.broker.membership(false, event).await {
                tracing::warn!(error = %e, %channel, "could not publish a leave event");
            }
        }
    }
}
