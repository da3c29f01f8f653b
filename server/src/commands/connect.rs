//! `connect` and `refresh`: a token verified, checked against revocations,
//! and turned into the connection's identity, expiry and grants.

use std::sync::Arc;
use std::time::Duration;

use chorus_protocol::message::*;
use chorus_protocol::{CloseCode, ErrorCode, Payload, Push, ReplyBody};
use tokio::time::Instant;

use crate::auth::Claims;
use crate::hooks::ConnectContext;
use crate::hub::{Recipient, RegisterError};
use crate::node::Node;
use crate::permissions::may_subscribe;
use crate::revocation::TokenId;
use crate::session::{Authed, Session};

use super::{Outcome, err};

/// Milliseconds until the token expires (told to the client, which refreshes
/// before then), and the instant the server closes the connection: the expiry
/// plus the verifier's clock-skew leeway, so a token accepted within the leeway
/// still has time to be refreshed.
fn expiry(claims: &Claims, leeway_secs: u64) -> (Option<u64>, Option<Instant>) {
    match claims.expires_in_ms(crate::clock::unix_ms()) {
        Some(ms) => {
            let close_in = Duration::from_millis(ms) + Duration::from_secs(leeway_secs);
            (Some(ms), Some(Instant::now() + close_in))
        }
        None => (None, None),
    }
}

impl Session {
    /// Authenticates the connection (once): token, revocation, hook, limits,
    /// then its subscriptions and inbox as the request asks.
    pub(super) async fn connect(&mut self, req: ConnectRequest) -> Outcome {
        if self.auth.is_some() {
            return Outcome::error(ErrorCode::BAD_REQUEST, "already connected");
        }
        let refuse = Outcome::refused_connect;
        let node = self.node.clone();
        let (user, claims) = match &req.token {
            Some(token) => match node.verifier().verify(token) {
                Ok(claims) => (claims.sub.clone(), Some(claims)),
                Err(e) => {
                    let error = err(e.error_code(), e.to_string());
                    return Outcome::closing(error, e.close_code(), e.to_string());
                }
            },
            None if node.config().allows_anonymous() => (String::new(), None),
            None => return refuse(err(ErrorCode::UNAUTHORIZED, "a token is required")),
        };
        if let Some(claims) = &claims {
            if let Err(refused) = check_not_revoked(&node, claims).await {
                return refused;
            }
        }
        let client = node.next_client_id();
        let ctx = ConnectContext {
            client: client.to_string(),
            user: user.clone(),
            claims: claims.clone(),
            data: req.data.clone(),
            client_name: req.name.clone(),
        };
        let decision = match node.hooks.on_connect(&ctx).await {
            Ok(d) => d,
            Err(e) => return refuse(e),
        };
        let info_payload = decision.info.clone().or_else(|| {
            claims
                .as_ref()
                .and_then(|c| c.info.as_ref())
                .and_then(|v| Payload::json(v).ok())
        });
        let user: Arc<str> = user.into();
        let config = node.config();
        let limits = &config.limits;
        let (recipient, rx) = Recipient::new(
            client.clone(),
            user.clone(),
            limits.outbound_queue,
            self.kill.clone(),
            node.hub.stats.clone(),
        );
        if let Some(claims) = &claims {
            recipient.set_token(token_id(claims));
        }
        match node.hub.register(
            recipient.clone(),
            crate::listener::connection_cap(limits.max_connections),
            limits.max_connections_per_user,
        ) {
            Ok(()) => {}
            Err(RegisterError::NodeFull) => {
                let error = err(ErrorCode::UNAVAILABLE, "node is full");
                return Outcome::closing(error, CloseCode::NODE_FULL, "node is full");
            }
            Err(RegisterError::UserFull) => {
                return refuse(err(
                    ErrorCode::LIMIT_EXCEEDED,
                    "too many connections for this user",
                ));
            }
        }
        if !user.is_empty() {
            if let Err(e) = node.broker.user_interest(user.clone()).await {
                tracing::warn!(error = %e, %user, "could not listen for a user's messages");
                node.hub.unregister(&client, &user);
                return refuse(Error::from(e));
            }
        }
        let leeway = node.config().auth.leeway_secs;
        let (expires_in_ms, expires_at) =
            claims.as_ref().map_or((None, None), |c| expiry(c, leeway));
        self.auth = Some(Authed {
            info: ClientInfo {
                user: user.to_string(),
                client: client.to_string(),
                info: info_payload,
            },
            client: client.clone(),
            user: user.clone(),
            claims,
            recipient,
            expires_at,
        });
        self.rx = Some(rx);
        if let Some(ticket) = &self.ticket {
            ticket.authenticated();
        }
        if !user.is_empty() {
            let info = self.authed().map(|a| a.info.clone());
            if let Ok(info) = info {
                if let Err(e) = node.status_join(&info).await {
                    tracing::warn!(error = %e, %user, "could not count a connection as online");
                    return refuse(Error::from(e));
                }
            }
        }
        let mut subs = Vec::with_capacity(req.subs.len());
        for sub in req.subs {
            let channel = sub.channel.clone();
            let (ok, error) = match self.subscribe(sub).await {
                Ok(ok) => (Some(ok), None),
                Err(e) => (None, Some(e)),
            };
            subs.push(ConnectSub { channel, ok, error });
        }
        // Read after the user's interest is on: what arrives later is live.
        let inbox = if user.is_empty() {
            None
        } else {
            match node.inbox_page(&user, req.inbox.clone()).await {
                Ok(page) => page,
                Err(e) => return refuse(e),
            }
        };
        if let Some(page) = &inbox {
            self.inbox_last.set(page.position.clone());
        }
        let result = ConnectResult {
            client: client.to_string(),
            user: user.to_string(),
            version: concat!("chorus ", env!("CARGO_PKG_VERSION")).to_owned(),
            ping_interval_ms: u32::try_from(limits.ping_interval_ms).unwrap_or(u32::MAX),
            pong: true,
            expires_in_ms,
            data: decision.data,
            subs,
            inbox,
        };
        Outcome::reply(Ok(ReplyBody::Connect(result)))
    }

    /// Replaces the connection's token with a newer one of the same user.
    pub(super) async fn refresh(&mut self, req: RefreshRequest) -> Outcome {
        let node = self.node.clone();
        // Verified once: a revoked token is refused before anything else.
        let verified = node.verifier().verify(&req.token);
        if let Ok(claims) = &verified {
            if let Err(refused) = check_not_revoked(&node, claims).await {
                return refused;
            }
        }
        let Some(auth) = self.auth.as_mut() else {
            return Outcome::error(ErrorCode::NOT_CONNECTED, "send connect first");
        };
        if auth.user.is_empty() {
            return Outcome::error(
                ErrorCode::BAD_REQUEST,
                "anonymous connections have no token",
            );
        }
        match verified {
            Ok(claims) if *claims.sub == *auth.user => {
                let (expires_in_ms, expires_at) = expiry(&claims, node.config().auth.leeway_secs);
                auth.expires_at = expires_at;
                auth.recipient.set_token(token_id(&claims));
                auth.claims = Some(claims);
                self.drop_ungranted().await;
                Outcome::reply(Ok(ReplyBody::Refresh(RefreshResult { expires_in_ms })))
            }
            Ok(_) => Outcome::error(ErrorCode::UNAUTHORIZED, "the new token is for another user"),
            Err(e) => Outcome::error(e.error_code(), e.to_string()),
        }
    }

    /// After a refresh: ends the subscriptions the new token no longer
    /// allows, each with an `unsubscribed` push (written after the reply).
    async fn drop_ungranted(&mut self) {
        let channels: Vec<Arc<str>> = self.subs.keys().cloned().collect();
        for key in channels {
            let refused = match self.resolve(&key) {
                Ok((channel, ns)) => may_subscribe(&ns, self.principal(), &channel).err(),
                Err(e) => Some(e),
            };
            let Some(refused) = refused else { continue };
            self.leave(&key).await;
            let push = Push::Unsubscribed(Unsubscribed {
                channel: key.to_string(),
                code: refused.code,
                reason: format!(
                    "the refreshed token no longer allows it: {}",
                    refused.message
                ),
            });
            if let Ok(auth) = self.authed() {
                auth.recipient
                    .deliver(crate::outgoing::Outgoing::push(push));
            }
        }
    }
}

fn token_id(claims: &Claims) -> TokenId {
    TokenId {
        jti: claims.jti.clone(),
        iat: claims.iat,
    }
}

/// Refuses a revoked token with error 101 and close 4505.
async fn check_not_revoked(node: &Node, claims: &Claims) -> Result<(), Outcome> {
    match node
        .broker
        .is_revoked(claims.sub.as_str().into(), token_id(claims))
        .await
    {
        Ok(false) => Ok(()),
        Ok(true) => Err(Outcome::closing(
            err(ErrorCode::UNAUTHORIZED, "token revoked"),
            CloseCode::TOKEN_REVOKED,
            "token revoked",
        )),
        Err(e) => {
            tracing::warn!(error = %e, user = %claims.sub, "could not check a token's revocation");
            Err(Outcome::refused_connect(Error::from(e)))
        }
    }
}
