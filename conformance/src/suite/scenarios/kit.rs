//! Building blocks shared by the scenarios: connecting users, typed requests,
//! expectations on errors and closes, and a bystander connection that proves
//! the server keeps serving others.

use chorus_protocol::message::{
    ChannelRequest, Error, HistoryRequest, HistoryResult, PresenceResult, PresenceStatsResult,
    PublishRequest, PublishResult, StreamPosition, SubscribeRequest, SubscribeResult,
};
use chorus_protocol::{CloseCode, Codec, ErrorCode, Payload, Push, ReplyBody, Request};

use crate::suite::Outcome;
use crate::suite::client::{Closed, Conn, Failure, fail};
use crate::suite::context::{Context, random_hex, user_id};
use crate::suite::tokens::Claims;

/// What a scenario function returns: `Ok(())` is a pass.
pub type Checked = Result<(), Outcome>;

/// The skip for a scenario whose namespace the target does not configure.
pub fn missing_namespace(channel: &str) -> Outcome {
    let ns = channel.split(':').next().unwrap_or_default();
    Outcome::Skip(format!(
        "the target does not configure namespace {ns:?} (error 102); see the conformance profile in docs/conformance.md"
    ))
}

/// Prefixes a failure with what was being done (skips pass unchanged).
pub fn while_doing(outcome: Outcome, doing: &str) -> Outcome {
    match outcome {
        Outcome::Fail(f) => Outcome::Fail(format!("{doing}: {f}")),
        other => other,
    }
}

/// A token for `claims` from the context's token source.
pub async fn token(ctx: &Context, claims: &Claims) -> Result<String, Outcome> {
    ctx.tokens
        .token(claims)
        .await
        .map_err(|e| fail!("cannot obtain a token: {e}").into())
}

/// Opens a connection to node `n` and connects with a token for `claims`;
/// fails unless the connect succeeds.
pub async fn connect_claims(
    ctx: &Context,
    codec: Codec,
    n: usize,
    claims: &Claims,
) -> Result<Conn, Outcome> {
    let token = token(ctx, claims).await?;
    let mut conn = Conn::open(ctx.ws_url(n), codec).await?;
    match conn.connect(Some(token)).await? {
        Ok(_) => Ok(conn),
        Err(e) => Err(fail!(
            "connect with a valid token for {:?} refused: error {} {:?}",
            claims.sub,
            e.code.0,
            e.message
        )
        .into()),
    }
}

/// A connection of `user` on node `n`.
pub async fn connect_as(
    ctx: &Context,
    codec: Codec,
    n: usize,
    user: &str,
) -> Result<Conn, Outcome> {
    connect_claims(ctx, codec, n, &Claims::new(user)).await
}

/// A connection of a fresh user (named after `who`) on node `n`.
pub async fn fresh(ctx: &Context, codec: Codec, n: usize, who: &str) -> Result<Conn, Outcome> {
    connect_as(ctx, codec, n, &user_id(who)).await
}

/// Application data unique to this run: `{"cf":"<label>-<random>"}`.
pub fn unique_data(label: &str) -> Payload {
    Payload::from(format!("{{\"cf\":\"{label}-{}\"}}", random_hex(6)))
}

/// `subscribe` to `channel`.
pub fn subscribe_req(channel: &str) -> Request {
    Request::Subscribe(SubscribeRequest {
        channel: channel.into(),
        ..Default::default()
    })
}

/// `subscribe` to `channel`, recovering since `since`.
pub fn subscribe_since(channel: &str, since: StreamPosition) -> Request {
    Request::Subscribe(SubscribeRequest {
        channel: channel.into(),
        since: Some(since),
        data: None,
    })
}

/// `publish` `data` to `channel`.
pub fn publish_req(channel: &str, data: Payload) -> Request {
    Request::Publish(PublishRequest {
        channel: channel.into(),
        data,
        idempotency_key: None,
    })
}

/// The body of `unsubscribe`, `presence` and `presence_stats`.
pub fn channel_req(channel: &str) -> ChannelRequest {
    ChannelRequest {
        channel: channel.into(),
    }
}

/// `history` of `channel` with `limit`.
pub fn history_req(channel: &str, limit: u32) -> Request {
    Request::History(HistoryRequest {
        channel: channel.into(),
        limit: Some(limit),
        since: None,
        reverse: false,
    })
}

/// Turns a refusal into a failure naming the command; 102 on a profile
/// namespace into a skip.
fn refused(op: &str, channel: &str, e: &Error) -> Outcome {
    if e.code == ErrorCode::UNKNOWN_CHANNEL {
        return missing_namespace(channel);
    }
    fail!(
        "`{op}` in {channel:?} failed: error {} {:?}",
        e.code.0,
        e.message
    )
    .into()
}

/// Sends `request` on `channel`, requiring a reply with the command's own key.
async fn typed(conn: &mut Conn, channel: &str, request: Request) -> Result<ReplyBody, Outcome> {
    let op = request.key();
    match conn.request(request).await? {
        Ok(body) if body.key() == op => Ok(body),
        Ok(body) => Err(fail!("the reply to `{op}` has op `{}`", body.key()).into()),
        Err(e) => Err(refused(op, channel, &e)),
    }
}

/// Subscribes; a missing namespace skips the scenario.
pub async fn subscribe(conn: &mut Conn, channel: &str) -> Result<SubscribeResult, Outcome> {
    subscribe_with(conn, channel, subscribe_req(channel)).await
}

/// Sends a `subscribe` command for `channel` and requires success.
pub async fn subscribe_with(
    conn: &mut Conn,
    channel: &str,
    request: Request,
) -> Result<SubscribeResult, Outcome> {
    match typed(conn, channel, request).await? {
        ReplyBody::Subscribe(r) => Ok(r),
        other => Err(fail!("unexpected `{}` reply", other.key()).into()),
    }
}

/// Publishes; a missing namespace skips the scenario.
pub async fn publish(
    conn: &mut Conn,
    channel: &str,
    data: Payload,
) -> Result<PublishResult, Outcome> {
    publish_with(conn, channel, publish_req(channel, data)).await
}

/// Sends a `publish` command for `channel` and requires success.
pub async fn publish_with(
    conn: &mut Conn,
    channel: &str,
    request: Request,
) -> Result<PublishResult, Outcome> {
    match typed(conn, channel, request).await? {
        ReplyBody::Publish(r) => Ok(r),
        other => Err(fail!("unexpected `{}` reply", other.key()).into()),
    }
}

/// `presence` of `channel`.
pub async fn presence(conn: &mut Conn, channel: &str) -> Result<PresenceResult, Outcome> {
    match typed(conn, channel, Request::Presence(channel_req(channel))).await? {
        ReplyBody::Presence(r) => Ok(r),
        other => Err(fail!("unexpected `{}` reply", other.key()).into()),
    }
}

/// `presence_stats` of `channel`.
pub async fn presence_stats(
    conn: &mut Conn,
    channel: &str,
) -> Result<PresenceStatsResult, Outcome> {
    match typed(conn, channel, Request::PresenceStats(channel_req(channel))).await? {
        ReplyBody::PresenceStats(r) => Ok(r),
        other => Err(fail!("unexpected `{}` reply", other.key()).into()),
    }
}

/// `history` as asked.
pub async fn history(conn: &mut Conn, request: HistoryRequest) -> Result<HistoryResult, Outcome> {
    let channel = request.channel.clone();
    match typed(conn, &channel, Request::History(request)).await? {
        ReplyBody::History(r) => Ok(r),
        other => Err(fail!("unexpected `{}` reply", other.key()).into()),
    }
}

/// Requires that `reply` is the error `code`, with the `temporary` flag of
/// the code table; `what` names the command in failures.
pub fn expect_error(
    reply: Result<ReplyBody, Error>,
    code: ErrorCode,
    what: &str,
) -> Result<Error, Failure> {
    match reply {
        Err(e) if e.code == code => {
            if e.temporary != code.is_temporary() {
                return Err(fail!(
                    "{what}: error {} has temporary: {}, the code table says {}",
                    code.0,
                    e.temporary,
                    code.is_temporary()
                ));
            }
            Ok(e)
        }
        Err(e) => Err(fail!(
            "{what}: got error {} `{}` {:?}, expected {} `{}`",
            e.code.0,
            e.code.name(),
            e.message,
            code.0,
            code.name()
        )),
        Ok(body) => Err(fail!(
            "{what}: got a successful `{}` reply, expected error {} `{}`",
            body.key(),
            code.0,
            code.name()
        )),
    }
}

/// Requires that the connection ended with `code`, preceded by a `disconnect`
/// push with the same code and the reconnect flag the code's range implies.
pub fn expect_closed(closed: &Closed, code: CloseCode) -> Result<(), Failure> {
    if closed.code != code.0 {
        return Err(fail!(
            "expected close {} `{}`, got {closed}",
            code.0,
            code.name()
        ));
    }
    let Some(pushed) = &closed.pushed else {
        return Err(fail!(
            "close {} was not preceded by a disconnect push",
            code.0
        ));
    };
    if pushed.code != code {
        return Err(fail!(
            "the disconnect push has code {}, the close {}",
            pushed.code.0,
            code.0
        ));
    }
    if pushed.reconnect != code.should_reconnect() {
        return Err(fail!(
            "the disconnect push for {} says reconnect: {}, the code's range says {}",
            code.0,
            pushed.reconnect,
            code.should_reconnect()
        ));
    }
    Ok(())
}

/// A connection subscribed to a channel of its own, opened before something
/// disruptive happens on other connections; [`Bystander::check`] proves that
/// it still works (a ping, and a publication round trip).
pub struct Bystander {
    conn: Conn,
    channel: String,
}

impl Bystander {
    /// Connects a bystander on node `n`, subscribed to a fresh channel in
    /// the profile's `live` namespace.
    pub async fn new(ctx: &Context, codec: Codec, n: usize) -> Result<Bystander, Outcome> {
        let mut conn = fresh(ctx, codec, n, "bystander").await?;
        let channel = ctx.channel(&ctx.profile.live);
        subscribe(&mut conn, &channel).await?;
        Ok(Bystander { conn, channel })
    }

    /// Requires that the bystander's connection still works.
    pub async fn check(&mut self) -> Checked {
        let what = "a connection opened before, on the same server";
        self.conn
            .ping()
            .await
            .map_err(|f| fail!("{what} no longer works: {f}"))?;
        let data = unique_data("bystander");
        publish(&mut self.conn, &self.channel, data.clone()).await?;
        let p = self
            .conn
            .publication(&self.channel)
            .await
            .map_err(|f| fail!("{what} no longer works: {f}"))?;
        if p.data != data {
            return Err(fail!("{what} received the wrong publication: {p:?}").into());
        }
        Ok(())
    }

    /// Checks, then closes the bystander.
    pub async fn finish(mut self) -> Checked {
        self.check().await?;
        self.conn.close().await;
        Ok(())
    }
}

/// A short text for a payload in messages.
pub fn show_payload(p: &Payload) -> String {
    let s = String::from_utf8_lossy(p.as_bytes());
    if s.len() > 80 {
        let mut cut = 80;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &s[..cut])
    } else {
        s.into_owned()
    }
}

/// Waits on `conn` for a `message` push carrying `data`.
pub async fn message_with(
    conn: &mut Conn,
    data: &Payload,
) -> Result<chorus_protocol::message::Message, Outcome> {
    let what = format!("a message push carrying {}", show_payload(data));
    match conn
        .push_where(&what, |p| matches!(p, Push::Message(m) if m.data == *data))
        .await?
    {
        Push::Message(m) => Ok(m),
        other => Err(fail!("expected {what}, got {other:?}").into()),
    }
}
