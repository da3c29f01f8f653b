//! Limits and timers (protocol.md section 11), each reported in its one
//! documented way, while the server keeps serving other connections. The
//! limit values come from the conformance profile.

use std::time::Duration;

use chorus_protocol::message::{ConnectRequest, Empty, SubscribeRequest};
use chorus_protocol::{
    ClientFrame, CloseCode, Codec, Command, ErrorCode, Push, Reply, ReplyBody, Request, ServerFrame,
};

use super::kit::{
    self, Bystander, Checked, channel_req, expect_closed, expect_error, fresh, publish_req,
    subscribe, subscribe_req,
};
use super::presence::membership;
use super::{Codecs, Def, Needs};
use crate::suite::Outcome;
use crate::suite::client::{Closed, Conn, ConnOptions, Received, WAIT, fail};
use crate::suite::context::{Context, user_id};
use crate::suite::tokens::Claims;

const AREA: &str = "limits";

/// Added to every server-side deadline before the suite gives up waiting.
const SLACK: Duration = Duration::from_secs(20);

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "message-too-large",
            area: AREA,
            description: "A frame of exactly max_message_size is accepted; one byte more, or far more, closes with 4503.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(message_too_large(ctx, codec)),
        },
        Def {
            name: "rate-limit",
            area: AREA,
            description: "Commands beyond the rate limit get error 110 (temporary); a client that keeps going is closed with 4004.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(rate_limit(ctx, codec)),
        },
        Def {
            name: "slow-consumer",
            area: AREA,
            description: "A subscriber that stops reading is disconnected with 4001 (or an abrupt close) once its outbound queue overflows; others keep receiving.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(slow_consumer(ctx, codec)),
        },
        Def {
            name: "channels-per-connection",
            area: AREA,
            description: "A subscribe beyond max_channels_per_connection, also as a connect subs entry, gets error 106; a place frees up on unsubscribe.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(channels_per_connection(ctx, codec)),
        },
        Def {
            name: "connections-per-user",
            area: AREA,
            description: "A connect beyond max_connections_per_user on a node gets error 106 and close 4504; the user's other connections stay.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(connections_per_user(ctx, codec)),
        },
        Def {
            name: "channel-full",
            area: AREA,
            description: "A subscribe beyond the namespace's max_members gets error 112 (temporary); a place frees up when a member leaves.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(channel_full(ctx, codec)),
        },
        Def {
            name: "auth-timeout",
            area: AREA,
            description: "Without a successful connect within the handshake deadline the server closes with 4003, also when other commands (answered 114) arrive.",
            codecs: Codecs::Each,
            needs: Needs::NOTHING,
            run: |ctx, codec| Box::pin(auth_timeout(ctx, codec)),
        },
        Def {
            name: "no-pong",
            area: AREA,
            description: "A client that asked for pongs and never answers the server's ping is closed with 4002 after a ping.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(no_pong(ctx, codec)),
        },
    ]
}

/// Waits for the server to close `conn` within `bound`.
async fn closed_within(conn: &mut Conn, bound: Duration, what: &str) -> Result<Closed, Outcome> {
    match tokio::time::timeout(bound, conn.closed()).await {
        Ok(closed) => Ok(closed?),
        Err(_) => Err(fail!("{what}: still open after {} s", bound.as_secs()).into()),
    }
}

/// An encoded `publish` command of exactly `size` bytes in `codec`.
fn publish_frame_of_size(
    conn: &Conn,
    id: u64,
    channel: &str,
    size: usize,
) -> Result<Vec<u8>, Outcome> {
    let frame = |n: usize| {
        conn.encode(&ClientFrame::Command(Command {
            id,
            request: publish_req(channel, format!("\"{}\"", "x".repeat(n)).into()),
        }))
    };
    let base = frame(0)?.len();
    let guess = size.saturating_sub(base);
    for n in guess.saturating_sub(16)..=guess + 16 {
        let bytes = frame(n)?;
        if bytes.len() == size {
            return Ok(bytes);
        }
    }
    Err(fail!("cannot build a publish frame of exactly {size} bytes").into())
}

async fn message_too_large(ctx: &Context, codec: Codec) -> Checked {
    let max = ctx.profile.max_message_size;
    let mut bystander = Bystander::new(ctx, codec, 1).await?;
    let channel = ctx.channel(&ctx.profile.live);
    let mut conn = fresh(ctx, codec, 0, "large").await?;
    subscribe(&mut conn, &channel).await?;
    // Exactly the limit is accepted.
    let id = conn.take_id();
    let frame = publish_frame_of_size(&conn, id, &channel, max)?;
    conn.send_bytes(frame).await?;
    match conn.reply(id).await? {
        Ok(ReplyBody::Publish(_)) => {}
        Ok(other) => return Err(fail!("the reply to `publish` has op `{}`", other.key()).into()),
        Err(e) => {
            return Err(fail!(
                "a frame of exactly max_message_size ({max} bytes) was refused: error {} {:?}",
                e.code.0,
                e.message
            )
            .into());
        }
    }
    let p = conn.publication(&channel).await?;
    if p.data.len() + 200 < max {
        return Err(fail!(
            "the large publication arrived with only {} bytes",
            p.data.len()
        )
        .into());
    }
    // One byte more closes the connection, before decoding.
    let id = conn.take_id();
    let frame = publish_frame_of_size(&conn, id, &channel, max + 1)?;
    conn.send_bytes(frame).await?;
    let closed = conn.closed().await?;
    expect_closed(&closed, CloseCode::MESSAGE_TOO_LARGE)
        .map_err(|f| fail!("after a frame of max_message_size + 1 bytes: {f}"))?;
    // Far more, and not even a frame: the same answer.
    let mut conn = fresh(ctx, codec, 0, "larger").await?;
    conn.send_bytes(vec![b'x'; max * 3]).await?;
    let closed = conn.closed().await?;
    expect_closed(&closed, CloseCode::MESSAGE_TOO_LARGE)
        .map_err(|f| fail!("after a frame of 3 x max_message_size bytes: {f}"))?;
    bystander.check().await?;
    Ok(())
}

async fn rate_limit(ctx: &Context, codec: Codec) -> Checked {
    let burst = ctx.profile.rate_burst as usize;
    let mut bystander = Bystander::new(ctx, codec, 1).await?;
    let mut conn = fresh(ctx, codec, 0, "hammer").await?;
    // Pipelined rounds of three bursts: the bucket runs dry within the first,
    // and more than a burst of refusals in a row follow.
    let round = 3 * (burst + 1);
    let mut limited = 0;
    let mut sent = 0;
    let closed = 'hammer: loop {
        if sent >= 10 * round {
            return Err(fail!(
                "{sent} pipelined commands got {limited} errors 110 and no close 4004 (the conformance profile sets rate_per_second {} and rate_burst {burst})",
                ctx.profile.rate_per_second
            )
            .into());
        }
        let requests = (0..round).map(|_| Request::Ping(Empty {})).collect();
        if conn.send_pipelined(requests).await.is_err() {
            // The server may close while the pipeline is being written.
            break conn.closed().await?;
        }
        sent += round;
        let mut answered = 0;
        while answered < round {
            match conn.recv().await? {
                Ok(Received {
                    frame: ServerFrame::Reply(Reply { result, .. }),
                    ..
                }) => {
                    answered += 1;
                    match result {
                        Ok(ReplyBody::Ping(_)) => {}
                        reply @ Err(_) => {
                            expect_error(
                                reply,
                                ErrorCode::TOO_MANY_REQUESTS,
                                "a command beyond the rate limit",
                            )?;
                            limited += 1;
                        }
                        Ok(other) => {
                            return Err(
                                fail!("the reply to `ping` has op `{}`", other.key()).into()
                            );
                        }
                    }
                }
                Ok(_) => {}
                Err(closed) => break 'hammer closed,
            }
        }
    };
    if limited == 0 {
        return Err(
            fail!("the connection was closed ({closed}) without any error 110 before").into(),
        );
    }
    expect_closed(&closed, CloseCode::RATE_LIMITED)?;
    bystander.check().await?;
    Ok(())
}

async fn slow_consumer(ctx: &Context, codec: Codec) -> Checked {
    /// Bytes published at most before giving up.
    const CAP: usize = 64 << 20;
    let channel = ctx.channel(&ctx.profile.live);
    let mut reader = fresh(ctx, codec, 0, "reader").await?;
    subscribe(&mut reader, &channel).await?;
    // A small receive buffer: the slow client's window fills quickly.
    let options = ConnOptions {
        recv_buffer: Some(4096),
        answer_pings: true,
    };
    let token = kit::token(ctx, &Claims::new(&user_id("slow"))).await?;
    let mut slow = Conn::open_with(ctx.ws_url(0), codec, options).await?;
    slow.connect(Some(token))
        .await?
        .map_err(|e| fail!("connect refused: error {} {:?}", e.code.0, e.message))?;
    subscribe(&mut slow, &channel).await?;
    let slow_id = slow.client_id().to_owned();
    membership(&mut reader, true, &channel, &slow_id).await?;
    slow.pause_reading();

    let pad = "x".repeat(ctx.profile.max_message_size * 3 / 4);
    let per_publisher = (ctx.profile.rate_burst as usize).saturating_sub(5).max(1);
    let mut publisher: Option<Conn> = None;
    let mut used = 0;
    let mut published = 0usize;
    loop {
        if published * pad.len() > CAP {
            return Err(fail!(
                "a subscriber that stopped reading was still connected after {published} publications ({} MiB); the conformance profile sets outbound_queue {}",
                (published * pad.len()) >> 20,
                ctx.profile.outbound_queue
            )
            .into());
        }
        if publisher.is_none() || used >= per_publisher {
            if let Some(old) = publisher.take() {
                old.close().await;
            }
            publisher = Some(fresh(ctx, codec, 1, "flood").await?);
            used = 0;
        }
        let Some(current) = publisher.as_mut() else {
            return Err(fail!("no publisher connection").into());
        };
        let data = format!("\"{published:06}{pad}\"");
        current
            .request_ok(publish_req(&channel, data.clone().into()))
            .await?;
        used += 1;
        published += 1;
        // The reader keeps up, so only the slow client's queue fills.
        let p = reader.publication(&channel).await?;
        if p.data.as_bytes() != data.as_bytes() {
            return Err(fail!(
                "the reading subscriber missed publication {}",
                published - 1
            )
            .into());
        }
        let gone = reader.kept_pushes().any(
            |p| matches!(p, Push::Leave(m) if m.channel == channel && m.info.client == slow_id),
        );
        if gone {
            break;
        }
    }
    if let Some(p) = publisher {
        p.close().await;
    }
    // Reading at last, the slow client finds the end of its connection after
    // what had been buffered: 4001, with or without the disconnect push (its
    // queue may have had no room), or an abrupt end.
    slow.resume_reading();
    let closed = slow.closed().await?;
    let pushed = closed.pushed.as_ref().map(|d| d.code);
    let ok_close = closed.code == CloseCode::SLOW_CONSUMER.0 || closed.code == 1006;
    if !ok_close || pushed.is_some_and(|c| c != CloseCode::SLOW_CONSUMER) {
        return Err(fail!(
            "the slow consumer ended with {closed}, expected close 4001 (or an abrupt close), and no disconnect push with another code"
        )
        .into());
    }
    reader.ping().await?;
    reader.close().await;
    Ok(())
}

async fn channels_per_connection(ctx: &Context, codec: Codec) -> Checked {
    let max = ctx.profile.max_channels_per_connection;
    let channels: Vec<String> = (0..=max).map(|_| ctx.channel(&ctx.profile.live)).collect();
    let mut conn = fresh(ctx, codec, 0, "many").await?;
    for channel in &channels[..max] {
        subscribe(&mut conn, channel).await?;
    }
    let reply = conn.request(subscribe_req(&channels[max])).await?;
    expect_error(
        reply,
        ErrorCode::LIMIT_EXCEEDED,
        &format!(
            "subscribe to channel {} of a connection (max_channels_per_connection {max})",
            max + 1
        ),
    )?;
    conn.request_ok(Request::Unsubscribe(channel_req(&channels[0])))
        .await?;
    subscribe(&mut conn, &channels[max]).await?;
    conn.close().await;

    // The same limit applies to the subs of connect, entry by entry.
    let token = kit::token(ctx, &Claims::new(&user_id("many-subs"))).await?;
    let mut conn = Conn::open(ctx.ws_url(0), codec).await?;
    let request = ConnectRequest {
        token: Some(token),
        subs: channels
            .iter()
            .map(|c| SubscribeRequest {
                channel: c.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let result = conn.connect_raw(request).await?.1.map_err(|e| {
        fail!(
            "connect with subs failed: error {} {:?}",
            e.code.0,
            e.message
        )
    })?;
    let errors: Vec<Option<u16>> = result
        .subs
        .iter()
        .map(|s| s.error.as_ref().map(|e| e.code.0))
        .collect();
    let mut want = vec![None; max];
    want.push(Some(ErrorCode::LIMIT_EXCEEDED.0));
    if errors != want {
        return Err(fail!(
            "connect with {} subs (max_channels_per_connection {max}): entry error codes {errors:?}, expected {want:?}",
            max + 1
        )
        .into());
    }
    conn.ping().await?;
    conn.close().await;
    Ok(())
}

async fn connections_per_user(ctx: &Context, codec: Codec) -> Checked {
    let max = ctx.profile.max_connections_per_user;
    let user = user_id("crowd");
    let mut held = Vec::with_capacity(max);
    for _ in 0..max {
        held.push(kit::connect_as(ctx, codec, 0, &user).await?);
    }
    let token = kit::token(ctx, &Claims::new(&user)).await?;
    let mut extra = Conn::open(ctx.ws_url(0), codec).await?;
    let reply = extra.connect(Some(token)).await?.map(ReplyBody::Connect);
    expect_error(
        reply,
        ErrorCode::LIMIT_EXCEEDED,
        &format!(
            "connection {} of one user on one node (max_connections_per_user {max})",
            max + 1
        ),
    )?;
    let closed = extra.closed().await?;
    expect_closed(&closed, CloseCode::TOO_MANY_CONNECTIONS)?;
    for conn in &mut held {
        conn.ping().await?;
    }
    for conn in held {
        conn.close().await;
    }
    Ok(())
}

async fn channel_full(ctx: &Context, codec: Codec) -> Checked {
    let max = ctx.profile.max_members;
    let channel = ctx.channel(&ctx.profile.capped);
    let mut members = Vec::new();
    for n in 0..max {
        let mut conn = fresh(ctx, codec, n, "member").await?;
        subscribe(&mut conn, &channel).await?;
        members.push(conn);
    }
    let mut late = fresh(ctx, codec, max, "late").await?;
    let reply = late.request(subscribe_req(&channel)).await?;
    expect_error(
        reply,
        ErrorCode::CHANNEL_FULL,
        &format!("subscriber {} of a channel with max_members {max}", max + 1),
    )?;
    if let Some(first) = members.first_mut() {
        first
            .request_ok(Request::Unsubscribe(channel_req(&channel)))
            .await?;
    }
    // Member counts of a cluster are eventually consistent (another node may
    // still count the member that left), and 112 is temporary: try again
    // for a while, as a client would.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let reply = late.request(subscribe_req(&channel)).await?;
        match reply {
            Err(e)
                if e.code == ErrorCode::CHANNEL_FULL && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(ReplyBody::Subscribe(_)) => break,
            Ok(other) => {
                return Err(fail!("the reply to `subscribe` has op `{}`", other.key()).into());
            }
            Err(e) => {
                return Err(fail!(
                    "subscribe after a member left: error {} {:?}",
                    e.code.0,
                    e.message
                )
                .into());
            }
        }
    }
    for c in members {
        c.close().await;
    }
    late.close().await;
    Ok(())
}

async fn auth_timeout(ctx: &Context, codec: Codec) -> Checked {
    let bound = Duration::from_millis(ctx.profile.handshake_timeout_ms) + SLACK;
    let silent = async {
        let mut conn = Conn::open(ctx.ws_url(0), codec).await?;
        let closed =
            closed_within(&mut conn, bound, "a connection that never sent connect").await?;
        expect_closed(&closed, CloseCode::AUTH_TIMEOUT)
            .map_err(|f| fail!("a connection that never sent connect: {f}"))?;
        Ok::<(), Outcome>(())
    };
    let busy = async {
        let mut conn = Conn::open(ctx.ws_url(0), codec).await?;
        let reply = conn.request(Request::Ping(Empty {})).await?;
        expect_error(reply, ErrorCode::NOT_CONNECTED, "ping before connect")?;
        let closed = closed_within(&mut conn, bound, "a connection busy without connect").await?;
        expect_closed(&closed, CloseCode::AUTH_TIMEOUT)
            .map_err(|f| fail!("a connection busy without connect: {f}"))?;
        Ok::<(), Outcome>(())
    };
    let (a, b) = tokio::join!(silent, busy);
    a?;
    b?;
    Ok(())
}

async fn no_pong(ctx: &Context, codec: Codec) -> Checked {
    let options = ConnOptions {
        recv_buffer: None,
        answer_pings: false,
    };
    let token = kit::token(ctx, &Claims::new(&user_id("no-pong"))).await?;
    let mut conn = Conn::open_with(ctx.ws_url(0), codec, options).await?;
    let session = conn
        .connect(Some(token))
        .await?
        .map_err(|e| fail!("connect refused: error {} {:?}", e.code.0, e.message))?;
    if session.ping_interval_ms == 0 || !session.pong {
        return Err(Outcome::Skip(format!(
            "the server does not ask for pongs (ping_interval_ms {}, pong {}); the conformance profile sets limits.ping_interval_ms",
            session.ping_interval_ms, session.pong
        )));
    }
    let bound =
        Duration::from_millis(u64::from(session.ping_interval_ms) + ctx.profile.pong_timeout_ms)
            + SLACK;
    let mut pings = 0;
    let wait = async {
        loop {
            match conn.recv().await? {
                Ok(Received {
                    frame: ServerFrame::Push(Push::Ping(_)),
                    ..
                }) => pings += 1,
                Ok(_) => {}
                Err(closed) => return Ok::<Closed, Outcome>(closed),
            }
        }
    };
    let closed = tokio::time::timeout(bound, wait).await.map_err(|_| {
        fail!(
            "a client that never answered pings was still connected after {} s",
            bound.as_secs()
        )
    })??;
    expect_closed(&closed, CloseCode::NO_PONG)?;
    if pings == 0 {
        return Err(fail!("closed with 4002 before any ping was sent").into());
    }
    Ok(())
}
