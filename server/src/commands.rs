//! What each command does, on a connection's own task.

use std::sync::Arc;
use std::time::Duration;

use chorus_protocol::message::*;
use chorus_protocol::{Channel, CloseCode, ErrorCode, Payload, Push, ReplyBody, Request};
use tokio::time::Instant;

use crate::auth::Claims;
use crate::broker::Freshness;
use crate::config::NamespaceConfig;
use crate::history::HistoryQuery;
use crate::hooks::ConnectContext;
use crate::hub::{Recipient, RegisterError};
use crate::node::Node;
use crate::permissions::{Principal, may_publish, may_subscribe};
use crate::revocation::TokenId;
use crate::session::{Authed, Session, SubState};

/// A command's reply and, when the connection must end after it, how.
pub(crate) struct Outcome {
    /// What the client is answered.
    pub(crate) reply: Result<ReplyBody, Error>,
    /// The close code and reason that end the connection after the reply.
    pub(crate) close: Option<(CloseCode, String)>,
}

impl Outcome {
    /// A reply; the connection goes on.
    fn reply(reply: Result<ReplyBody, Error>) -> Outcome {
        Outcome { reply, close: None }
    }

    /// An error reply; the connection goes on.
    fn error(code: ErrorCode, message: impl Into<String>) -> Outcome {
        Outcome::reply(Err(err(code, message)))
    }

    /// An error reply, then the connection ends with `close`.
    fn closing(error: Error, close: CloseCode, reason: impl Into<String>) -> Outcome {
        Outcome {
            reply: Err(error),
            close: Some((close, reason.into())),
        }
    }

    /// A refused `connect`: the error, then the close code the table gives it.
    fn refused_connect(error: Error) -> Outcome {
        let close = error.connect_close_code();
        let reason = error.message.clone();
        Outcome::closing(error, close, reason)
    }
}

fn err(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(code, message)
}

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
    /// Runs one command.
    pub(crate) async fn dispatch(&mut self, request: Request) -> Outcome {
        if let Request::Connect(req) = request {
            return self.connect(req).await;
        }
        if self.auth.is_none() {
            return Outcome::error(ErrorCode::NOT_CONNECTED, "send connect first");
        }
        let result = match request {
            Request::Connect(_) => unreachable_connect(),
            Request::Subscribe(req) => self.subscribe(req).await.map(ReplyBody::Subscribe),
            Request::Unsubscribe(req) => self
                .unsubscribe(req)
                .await
                .map(|()| ReplyBody::Unsubscribe(Empty {})),
            Request::Publish(req) => self.publish(req).await.map(ReplyBody::Publish),
            Request::Send(req) => self.send(req).await.map(|()| ReplyBody::Send(Empty {})),
            Request::Broadcast(req) => self
                .broadcast(req)
                .await
                .map(|()| ReplyBody::Broadcast(Empty {})),
            Request::Presence(req) => self.presence(req).await.map(ReplyBody::Presence),
            Request::PresenceStats(req) => {
                self.presence_stats(req).await.map(ReplyBody::PresenceStats)
            }
            Request::History(req) => self.history(req).await.map(ReplyBody::History),
            Request::Refresh(req) => return self.refresh(req).await,
            Request::Rpc(req) => self.rpc(req).await.map(ReplyBody::Rpc),
            Request::Ping(_) => Ok(ReplyBody::Ping(Empty {})),
        };
        Outcome::reply(result)
    }

    fn authed(&self) -> Result<&Authed, Error> {
        self.auth
            .as_ref()
            .ok_or_else(|| err(ErrorCode::NOT_CONNECTED, "send connect first"))
    }

    fn principal(&self) -> Principal<'_> {
        match &self.auth {
            Some(a) => Principal {
                user: &a.user,
                claims: a.claims.as_ref(),
            },
            None => Principal {
                user: "",
                claims: None,
            },
        }
    }

    /// Parses a channel and finds its namespace.
    fn resolve(&self, channel: &str) -> Result<(Channel, NamespaceConfig), Error> {
        self.node.resolve(channel)
    }

    async fn connect(&mut self, req: ConnectRequest) -> Outcome {
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

    /// Undoes a subscribe that failed part way, after the connection joined
    /// the channel: the client is told it failed, so nothing of it may stay
    /// (a retry would otherwise be refused as a double subscribe, and the
    /// connection would receive a channel it was told it is not on). No leave
    /// event: the join was never announced. `present`: the presence entry was
    /// added and is removed again.
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

    async fn unsubscribe(&mut self, req: ChannelRequest) -> Result<(), Error> {
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
        if self.subs.remove(channel).is_none() {
            return;
        }
        let Some(auth) = &self.auth else { return };
        let node = self.node.clone();
        let info = auth.info.clone();
        node.leave_channel(channel, &auth.client).await;
        let Ok((_, ns)) = self.resolve(channel) else {
            return;
        };
        // The member is gone either way: after a failed write the cluster
        // lists it until this node next refreshes its presence entries.
        if ns.presence {
            let client = info.client.as_str().into();
            if let Err(e) = node.broker.presence_remove(channel.clone(), client).await {
                tracing::warn!(error = %e, %channel, "could not remove a presence entry");
            }
        }
        if ns.join_leave {
            let event = Membership {
                channel: channel.to_string(),
                info,
            };
            if let Err(e) = node.broker.membership(false, event).await {
                tracing::warn!(error = %e, %channel, "could not publish a leave event");
            }
        }
    }

    async fn publish(&mut self, req: PublishRequest) -> Result<PublishResult, Error> {
        let (channel, ns) = self.resolve(&req.channel)?;
        let subscribed = self.subs.contains_key(channel.as_str());
        may_publish(&ns, self.principal(), &channel, subscribed)?;
        let max = self.node.config().limits.max_message_size;
        if req.data.len() > max {
            return Err(err(
                ErrorCode::MESSAGE_TOO_LARGE,
                format!("data exceeds {max} bytes"),
            ));
        }
        let info = self.authed()?.info.clone();
        let node = self.node.clone();
        let data = node
            .hooks
            .on_publish(&info, channel.as_str(), req.data)
            .await?;
        node.publish(&channel, &ns, data, Some(info), req.idempotency_key)
            .await
    }

    async fn send(&mut self, req: SendRequest) -> Result<(), Error> {
        let auth = self.authed()?;
        if auth.user.is_empty() {
            return Err(err(
                ErrorCode::PERMISSION_DENIED,
                "anonymous connections cannot send to users",
            ));
        }
        chorus_protocol::check_user_id(&req.user)
            .map_err(|e| err(ErrorCode::BAD_REQUEST, format!("{:?}: {e}", req.user)))?;
        let message = Message {
            data: req.data,
            from: Some(auth.info.clone()),
            ..Default::default()
        };
        let node = self.node.clone();
        node.send_to_user(&req.user, message, crate::node::Sender::Client)
            .await
    }

    async fn broadcast(&mut self, req: BroadcastRequest) -> Result<(), Error> {
        let auth = self.authed()?;
        if !auth.claims.as_ref().is_some_and(|c| c.broadcast) {
            return Err(err(
                ErrorCode::PERMISSION_DENIED,
                "the token does not allow broadcast",
            ));
        }
        let message = Message {
            data: req.data,
            from: Some(auth.info.clone()),
            broadcast: true,
            ..Default::default()
        };
        let node = self.node.clone();
        node.broker.broadcast(message).await.map_err(|e| {
            tracing::warn!(error = %e, "could not broadcast");
            Error::from(e)
        })
    }

    async fn presence(&mut self, req: ChannelRequest) -> Result<PresenceResult, Error> {
        let (channel, ns) = self.node.resolve_presence(&req.channel)?;
        may_subscribe(&ns, self.principal(), &channel)?;
        self.node.clone().presence(&channel).await
    }

    async fn presence_stats(&mut self, req: ChannelRequest) -> Result<PresenceStatsResult, Error> {
        let (channel, ns) = self.node.resolve_presence(&req.channel)?;
        may_subscribe(&ns, self.principal(), &channel)?;
        self.node.clone().presence_stats(&channel).await
    }

    async fn history(&mut self, req: HistoryRequest) -> Result<HistoryResult, Error> {
        let (channel, ns) = self.resolve(&req.channel)?;
        may_subscribe(&ns, self.principal(), &channel)?;
        self.node.clone().history_page(&channel, &ns, req).await
    }

    async fn refresh(&mut self, req: RefreshRequest) -> Outcome {
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

    async fn rpc(&mut self, req: RpcRequest) -> Result<RpcResult, Error> {
        let info = self.authed()?.info.clone();
        let node = self.node.clone();
        let data = node.hooks.on_rpc(&info, &req.method, req.data).await?;
        Ok(RpcResult { data })
    }
}

/// `dispatch` handles connect before matching; this arm cannot be reached.
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

fn unreachable_connect() -> Result<ReplyBody, Error> {
    Err(err(ErrorCode::INTERNAL, "connect handled earlier"))
}
