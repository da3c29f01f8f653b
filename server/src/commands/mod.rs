//! What each command does, on a connection's own task: [`Session::dispatch`]
//! and the commands that are one broker call each (publish, send, broadcast,
//! presence, history, rpc). Connecting and refreshing a token are in
//! `connect.rs`, subscribing and leaving in `subscribe.rs`.

mod connect;
mod subscribe;

use chorus_protocol::message::*;
use chorus_protocol::{Channel, CloseCode, ErrorCode, ReplyBody, Request};

use crate::config::NamespaceConfig;
use crate::permissions::{Principal, may_publish, may_subscribe};
use crate::session::{Authed, Session};

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

    async fn publish(&mut self, req: PublishRequest) -> Result<PublishResult, Error> {
        let (channel, ns) = self.resolve(&req.channel)?;
        let subscribed = self.subs.contains_key(channel.as_str());
        may_publish(&ns, self.principal(), &channel, subscribed)?;
        self.node.check_size(&req.data)?;
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
        crate::node::Node::check_recipient(&req.user)?;
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

    async fn rpc(&mut self, req: RpcRequest) -> Result<RpcResult, Error> {
        let info = self.authed()?.info.clone();
        let node = self.node.clone();
        let data = node.hooks.on_rpc(&info, &req.method, req.data).await?;
        Ok(RpcResult { data })
    }
}

/// `dispatch` handles connect before matching; this arm cannot be reached.
fn unreachable_connect() -> Result<ReplyBody, Error> {
    Err(err(ErrorCode::INTERNAL, "connect handled earlier"))
}
