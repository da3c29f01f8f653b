//! Users on the cluster: messages to a user's devices (through the inbox
//! stream when inboxes are on), broadcasts, closing connections wherever they
//! are, revocations and last-seen times.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use chorus_protocol::message::Message;
use chorus_protocol::{CloseCode, Push};

use super::delivery::{self, Target};
use super::wire::Control;
use super::{NatsBroker, Task, direct};
use crate::broker::{BoxFuture, BrokerError, Freshness, Users};
use crate::clock::unix_secs;
use crate::history::HistoryOptions;
use crate::revocation::{Revocation, Revoked, TokenId};
use crate::stream_key::StreamKey;

impl Users for NatsBroker {
    fn user_interest(&self, user: Arc<str>) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let mut listeners = self.users.lock().await;
            let wanted = self.delivery.hub.user_connections(&user) > 0;
            match (wanted, listeners.contains_key(&user)) {
                (true, false) => {
                    // Messages without inbox on the user's subject, and the
                    // user's inbox as its stream republishes it.
                    let direct = self.subscribe(self.names.user(&user)).await?;
                    let inbox_key = StreamKey::Inbox(user.clone());
                    let inbox = self
                        .subscribe(self.names.channel(&inbox_key.stored()))
                        .await?;
                    let direct = tokio::spawn(delivery::listen(
                        direct,
                        self.delivery.hub.clone(),
                        Target::User(user.clone()),
                    ));
                    let inbox = tokio::spawn(delivery::listen_stream(
                        self.delivery.clone(),
                        inbox_key,
                        Target::Inbox(user.clone()),
                        inbox,
                        self.connections.subscribe(),
                    ));
                    listeners.insert(user, (Task(direct), Task(inbox)));
                }
                (false, true) => {
                    listeners.remove(&user);
                }
                _ => {}
            }
            Ok(())
        })
    }

    fn send_to_user(
        &self,
        user: Arc<str>,
        message: Message,
        inbox: Option<HistoryOptions>,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let Some(opts) = inbox else {
                return self
                    .publish_push(self.names.user(&user), Push::Message(message))
                    .await;
            };
            let key = StreamKey::Inbox(user.clone()).stored();
            let stored = crate::inbox::to_stored(&user, message);
            self.delivery
                .history
                .append(&key, stored, opts, None)
                .await
                .map(drop)
        })
    }

    fn broadcast(&self, message: Message) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.publish_push(self.names.broadcast(), Push::Message(message))
                .await
        })
    }

    fn close_user(
        &self,
        user: Arc<str>,
        code: CloseCode,
        reason: String,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(self.control(Control::CloseUser {
            user: user.to_string(),
            code: code.0,
            reason,
        }))
    }

    fn close_client(
        &self,
        client: Arc<str>,
        code: CloseCode,
        reason: String,
    ) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(self.control(Control::CloseClient {
            client: client.to_string(),
            code: code.0,
            reason,
        }))
    }

    fn last_seen(
        &self,
        users: Vec<String>,
        fresh: Freshness,
    ) -> BoxFuture<'_, Result<Vec<Option<u64>>, BrokerError>> {
        Box::pin(async move {
            if users.is_empty() {
                return Ok(Vec::new());
            }
            let subjects: Vec<String> = users.iter().map(|u| self.names.seen_user(u)).collect();
            let batch = direct::batch(
                &self.client,
                &self.names.seen_stream(),
                serde_json::json!({ "multi_last": subjects, "batch": users.len().max(1) }),
                self.timeout,
            )
            .await?;
            let mut seen: HashMap<String, u64> = HashMap::new();
            for stored in batch.messages.iter().filter(|s| !s.is_tombstone()) {
                if let Some(at) = seen_at(&stored.message.payload) {
                    seen.insert(stored.subject.clone(), at);
                }
            }
            let mut found: Vec<Option<u64>> = users
                .iter()
                .map(|u| seen.get(&self.names.seen_user(u)).copied())
                .collect();
            if fresh == Freshness::Latest {
                // The replica that answered may lag: ask the leader about
                // the users it knew nothing of.
                let missing = users.iter().zip(&found).filter(|(_, at)| at.is_none());
                let confirmed = futures_util::future::try_join_all(
                    missing.map(|(user, _)| self.seen_by_leader(user)),
                )
                .await?;
                let mut confirmed = confirmed.into_iter();
                for at in found.iter_mut().filter(|at| at.is_none()) {
                    *at = confirmed.next().flatten();
                }
            }
            Ok(found)
        })
    }

    fn set_last_seen(&self, user: Arc<str>, at_ms: u64) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            self.seen
                .put(
                    chorus_protocol::subject::encode_token(&user),
                    at_ms.to_string().into(),
                )
                .await
                .map(drop)
                .map_err(|e| BrokerError::storage("last seen", e))
        })
    }

    fn revoke(&self, revocation: Revocation) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let subject = match &revocation.revoked {
                Revoked::Token { jti } => self.names.revoked_token(jti),
                Revoked::User { user, .. } => self.names.revoked_user(user),
            };
            let ttl = revocation.until.saturating_sub(unix_secs()).max(1);
            let value =
                serde_json::to_vec(&revocation).map_err(|e| BrokerError::encode("revoke", e))?;
            let publish = PublishMessage::build()
                .payload(value.into())
                .ttl(Duration::from_secs(ttl));
            self.js
                .send_publish(subject, publish)
                .await
                .map_err(|e| BrokerError::storage("revoke", e))?
                .await
                .map_err(|e| BrokerError::storage("revoke", e))?;
            self.control(Control::Revoke(revocation)).await
        })
    }

    fn is_revoked(
        &self,
        user: Arc<str>,
        token: TokenId,
    ) -> BoxFuture<'_, Result<bool, BrokerError>> {
        Box::pin(async move {
            let mut subjects = vec![self.names.revoked_user(&user)];
            if let Some(jti) = &token.jti {
                subjects.push(self.names.revoked_token(jti));
            }
            let batch = direct::batch(
                &self.client,
                &format!("KV_{}", self.names.revoked_bucket()),
                serde_json::json!({ "multi_last": subjects, "batch": 2 }),
                self.timeout,
            )
            .await?;
            let now = unix_secs();
            Ok(batch
                .messages
                .iter()
                .filter(|s| !s.is_tombstone())
                .filter_map(|s| serde_json::from_slice::<Revocation>(&s.message.payload).ok())
                .any(|r| r.until > now && r.covers(&user, &token)))
        })
    }
}

impl NatsBroker {
    /// When `user` was last online, as the last-seen stream's leader holds it.
    async fn seen_by_leader(&self, user: &str) -> Result<Option<u64>, BrokerError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let subject = self.names.seen_user(user);
        let stored = self
            .leader
            .last_by_subject(&self.names.seen_stream(), &subject, deadline)
            .await?;
        Ok(stored
            .filter(|m| !direct::is_tombstone(&m.headers))
            .and_then(|m| seen_at(&m.payload)))
    }
}

/// A stored last-seen time (Unix ms, as decimal text).
fn seen_at(payload: &[u8]) -> Option<u64> {
    std::str::from_utf8(payload).ok()?.parse().ok()
}
