//! The success path of each command, and the server's ping push (protocol.md
//! sections 5 and 9).

use std::time::Duration;

use chorus_protocol::message::{
    BroadcastRequest, ConnectRequest, Empty, RpcRequest, SendRequest, SubscribeRequest,
};
use chorus_protocol::{ClientFrame, Codec, ErrorCode, Push, ReplyBody, Request, ServerFrame};
use tokio::time::Instant;

use super::kit::{
    self, Checked, channel_req, connect_claims, expect_error, fresh, publish, show_payload,
    subscribe, unique_data,
};
use super::{Codecs, Def, Needs};
use crate::suite::Outcome;
use crate::suite::client::{Conn, Received, fail};
use crate::suite::context::{Context, random_hex, user_id};
use crate::suite::tokens::Claims;

const AREA: &str = "commands";

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "ping",
            area: AREA,
            description: "The ping command is answered with a ping reply carrying its id.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(ping(ctx, codec)),
        },
        Def {
            name: "server-ping",
            area: AREA,
            description: "The server pushes pings every ping_interval_ms; a client answering them (and sending an unsolicited pong) stays connected.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(server_ping(ctx, codec)),
        },
        Def {
            name: "publish-subscribe",
            area: AREA,
            description: "A publication reaches every subscriber, the publisher included, with the same bytes, the publisher's info and, with history, the position of the publish reply.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(publish_subscribe(ctx, codec)),
        },
        Def {
            name: "unsubscribe",
            area: AREA,
            description: "unsubscribe is answered with an empty reply, and no publication of the channel follows it.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(unsubscribe(ctx, codec)),
        },
        Def {
            name: "connect-with-subs",
            area: AREA,
            description: "connect with subs answers one outcome per entry in order; a failed entry does not fail the connect, and the others are live.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(connect_with_subs(ctx, codec)),
        },
        Def {
            name: "send",
            area: AREA,
            description: "send reaches every connection of the user with the sender's info and broadcast false.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(send(ctx, codec)),
        },
        Def {
            name: "broadcast",
            area: AREA,
            description: "broadcast, with a token that grants it, reaches every connection (the sender's included) with broadcast true.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(broadcast(ctx, codec)),
        },
        Def {
            name: "rpc",
            area: AREA,
            description: "rpc is answered with an rpc reply, or with error 108 when the server has no rpc handler.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(rpc(ctx, codec)),
        },
    ]
}

async fn ping(ctx: &Context, codec: Codec) -> Checked {
    let mut conn = fresh(ctx, codec, 0, "ping").await?;
    // Two pipelined pings: each gets its own reply.
    let ids = conn
        .send_pipelined(vec![Request::Ping(Empty {}), Request::Ping(Empty {})])
        .await?;
    for id in ids {
        match conn.reply(id).await? {
            Ok(ReplyBody::Ping(_)) => {}
            Ok(other) => {
                return Err(fail!("the reply to `ping` has op `{}`", other.key()).into());
            }
            Err(e) => return Err(fail!("`ping` failed: error {} {:?}", e.code.0, e.message).into()),
        }
    }
    conn.close().await;
    Ok(())
}

async fn server_ping(ctx: &Context, codec: Codec) -> Checked {
    const PINGS: u32 = 4;
    let mut conn = fresh(ctx, codec, 0, "server-ping").await?;
    let connected_at = Instant::now();
    let session = conn.session.clone().unwrap_or_default();
    if session.ping_interval_ms == 0 {
        return Err(Outcome::Skip(
            "the server sends no pings (ping_interval_ms 0); the conformance profile sets limits.ping_interval_ms".into(),
        ));
    }
    let interval = Duration::from_millis(u64::from(session.ping_interval_ms));
    let mut times = Vec::new();
    while times.len() < PINGS as usize {
        match conn.recv().await? {
            Ok(Received {
                frame: ServerFrame::Push(Push::Ping(_)),
                at,
                ..
            }) => {
                times.push(at);
                // An unsolicited pong (the client already answered this ping)
                // must be ignored.
                if times.len() == 2 && session.pong {
                    conn.send_frame(&ClientFrame::Pong).await?;
                }
            }
            Ok(_) => {}
            Err(closed) => {
                return Err(fail!(
                    "the server closed a connection that answered its pings: {closed}"
                )
                .into());
            }
        }
    }
    let slack = Duration::from_secs(5);
    let first = times[0].duration_since(connected_at);
    if first > interval * 2 + slack {
        return Err(fail!(
            "the first ping came {} ms after connect, ping_interval_ms is {}",
            first.as_millis(),
            interval.as_millis()
        )
        .into());
    }
    let span = times[times.len() - 1].duration_since(times[0]);
    let gaps = PINGS - 1;
    if span < interval * gaps / 2 || span > interval * gaps * 2 + slack {
        return Err(fail!(
            "{PINGS} pings spanned {} ms, expected about {} ms (ping_interval_ms {})",
            span.as_millis(),
            (interval * gaps).as_millis(),
            interval.as_millis()
        )
        .into());
    }
    conn.ping().await?;
    conn.close().await;
    Ok(())
}

/// Publishes on `channel` from `publisher` and checks what `subscribers`
/// (the publisher among them when `publisher_subscribed`) receive.
async fn publish_and_check(
    channel: &str,
    publisher: &mut Conn,
    subscribers: &mut [Conn],
    history: bool,
) -> Checked {
    let data = unique_data("pubsub");
    let reply = publish(publisher, channel, data.clone()).await?;
    if history != reply.position.is_some() {
        return Err(fail!(
            "the publish reply in {channel:?} has position {:?}; expected {} (history is {} in its namespace)",
            reply.position,
            if history { "one" } else { "none" },
            if history { "on" } else { "off" }
        )
        .into());
    }
    if reply.duplicate {
        return Err(fail!("a publish without idempotency key was reported as a duplicate").into());
    }
    let expected_info = (
        publisher.user().to_owned(),
        publisher.client_id().to_owned(),
    );
    for conn in subscribers.iter_mut().chain(std::iter::once(publisher)) {
        let p = conn.publication(channel).await?;
        if p.data != data {
            return Err(fail!(
                "the publication carries {}, published {}",
                show_payload(&p.data),
                show_payload(&data)
            )
            .into());
        }
        let info = p.info.clone().map(|i| (i.user, i.client));
        if info.as_ref() != Some(&expected_info) {
            return Err(fail!(
                "the publication's info is {info:?}, expected the publisher's (user, client) {expected_info:?}"
            )
            .into());
        }
        let position = reply
            .position
            .as_ref()
            .map(|pos| (pos.offset, pos.epoch.clone()));
        if (p.offset.zip(p.epoch.clone())) != position {
            return Err(fail!(
                "the publication has offset {:?} and epoch {:?}, the publish reply said {position:?}",
                p.offset,
                p.epoch
            )
            .into());
        }
    }
    Ok(())
}

async fn publish_subscribe(ctx: &Context, codec: Codec) -> Checked {
    for (ns, history) in [(&ctx.profile.chat, true), (&ctx.profile.live, false)] {
        let channel = ctx.channel(ns);
        // With several URLs, the subscribers and the publisher are on different nodes.
        let mut subs = Vec::new();
        for n in 0..2 {
            let mut sub = fresh(ctx, codec, n, "sub").await?;
            let reply = subscribe(&mut sub, &channel).await?;
            if history != reply.position.is_some() {
                return Err(fail!(
                    "the subscribe reply in {channel:?} has position {:?}; history is {} in its namespace",
                    reply.position,
                    if history { "on" } else { "off" }
                )
                .into());
            }
            subs.push(sub);
        }
        let mut publisher = fresh(ctx, codec, 2, "pub").await?;
        // The chat namespace lets only subscribers publish.
        subscribe(&mut publisher, &channel).await?;
        publish_and_check(&channel, &mut publisher, &mut subs, history).await?;
        for c in subs {
            c.close().await;
        }
        publisher.close().await;
    }
    Ok(())
}

async fn unsubscribe(ctx: &Context, codec: Codec) -> Checked {
    let left = ctx.channel(&ctx.profile.live);
    let kept = ctx.channel(&ctx.profile.live);
    let mut conn = fresh(ctx, codec, 0, "unsubscribe").await?;
    subscribe(&mut conn, &left).await?;
    subscribe(&mut conn, &kept).await?;
    match conn
        .request(Request::Unsubscribe(channel_req(&left)))
        .await?
    {
        Ok(ReplyBody::Unsubscribe(_)) => {}
        Ok(other) => {
            return Err(fail!("the reply to `unsubscribe` has op `{}`", other.key()).into());
        }
        Err(e) => {
            return Err(fail!("`unsubscribe` failed: error {} {:?}", e.code.0, e.message).into());
        }
    }
    // Published after the reply: one to the channel left, then a sentinel
    // in the channel kept. Nothing of the first may arrive.
    let mut publisher = fresh(ctx, codec, 1, "unsub-pub").await?;
    publish(&mut publisher, &left, unique_data("after-unsubscribe")).await?;
    let sentinel = unique_data("sentinel");
    publish(&mut publisher, &kept, sentinel.clone()).await?;
    loop {
        match conn.push().await? {
            Push::Publication(p) if p.channel == kept && p.data == sentinel => break,
            Push::Publication(p) if p.channel == left => {
                return Err(
                    fail!("a publication of {left:?} arrived after its unsubscribe reply").into(),
                );
            }
            _ => {}
        }
    }
    conn.close().await;
    publisher.close().await;
    Ok(())
}

async fn connect_with_subs(ctx: &Context, codec: Codec) -> Checked {
    let chat = ctx.channel(&ctx.profile.chat);
    let live = ctx.channel(&ctx.profile.live);
    let missing = format!("cfmissing{}:x", random_hex(6));
    // Give chat a publication, so that a position can be recovered from.
    let mut publisher = fresh(ctx, codec, 1, "subs-pub").await?;
    subscribe(&mut publisher, &chat).await?;
    let first = publish(&mut publisher, &chat, unique_data("before")).await?;
    let Some(since) = first.position.clone() else {
        return Err(fail!("the publish reply in {chat:?} has no position").into());
    };
    let second = unique_data("missed");
    publish(&mut publisher, &chat, second.clone()).await?;

    let token = kit::token(ctx, &Claims::new(&user_id("subs"))).await?;
    let mut conn = Conn::open(ctx.ws_url(0), codec).await?;
    let request = ConnectRequest {
        token: Some(token),
        subs: vec![
            SubscribeRequest {
                channel: chat.clone(),
                since: Some(since),
                data: None,
            },
            SubscribeRequest {
                channel: missing.clone(),
                ..Default::default()
            },
            SubscribeRequest {
                channel: live.clone(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let result = match conn.connect_raw(request).await?.1 {
        Ok(r) => r,
        Err(e) => {
            return Err(fail!(
                "connect with subs (one of them in an unknown namespace) failed: error {} {:?}",
                e.code.0,
                e.message
            )
            .into());
        }
    };
    let outcomes: Vec<(&str, bool, Option<u16>)> = result
        .subs
        .iter()
        .map(|s| {
            (
                s.channel.as_str(),
                s.ok.is_some(),
                s.error.as_ref().map(|e| e.code.0),
            )
        })
        .collect();
    let expected = [
        (chat.as_str(), true, None),
        (missing.as_str(), false, Some(ErrorCode::UNKNOWN_CHANNEL.0)),
        (live.as_str(), true, None),
    ];
    if outcomes != expected {
        return Err(fail!(
            "connect subs outcomes (channel, ok, error code) are {outcomes:?}, expected {expected:?}"
        )
        .into());
    }
    // The recovered entry carries the missed publication.
    let recovered = result.subs[0].ok.clone().unwrap_or_default();
    let data: Vec<_> = recovered
        .publications
        .iter()
        .map(|p| p.data.clone())
        .collect();
    if !recovered.recovered || data != [second] {
        return Err(fail!(
            "the connect subs entry with since got recovered {} and {} publications, expected recovered true and the one missed",
            recovered.recovered,
            data.len()
        )
        .into());
    }
    // The subscriptions are live. The publisher is on the subscriber's node:
    // across nodes, a publication may overtake the new interest on its way
    // through the NATS cluster (docs/cluster.md), which is not what this checks.
    let live_data = unique_data("live");
    let mut local = fresh(ctx, codec, 0, "subs-live").await?;
    publish(&mut local, &live, live_data.clone()).await?;
    let p = conn.publication(&live).await?;
    if p.data != live_data {
        return Err(fail!("a publication after connect subs carries the wrong data").into());
    }
    conn.close().await;
    local.close().await;
    publisher.close().await;
    Ok(())
}

/// Waits on `conn` for a `message` push carrying `data`.
async fn send(ctx: &Context, codec: Codec) -> Checked {
    let recipient = user_id("recipient");
    let mut devices = Vec::new();
    for n in 0..2 {
        devices.push(kit::connect_as(ctx, codec, n, &recipient).await?);
    }
    let mut sender = fresh(ctx, codec, 2, "sender").await?;
    let data = unique_data("send");
    let target = devices[0].user().to_owned();
    match sender
        .request(Request::Send(SendRequest {
            user: target,
            data: data.clone(),
        }))
        .await?
    {
        Ok(ReplyBody::Send(_)) => {}
        Ok(other) => return Err(fail!("the reply to `send` has op `{}`", other.key()).into()),
        Err(e) => return Err(fail!("`send` failed: error {} {:?}", e.code.0, e.message).into()),
    }
    let from = Some((sender.user().to_owned(), sender.client_id().to_owned()));
    for device in &mut devices {
        let m = kit::message_with(device, &data).await?;
        if m.broadcast {
            return Err(fail!("a message sent to a user has broadcast true").into());
        }
        let got = m.from.map(|f| (f.user, f.client));
        if got != from {
            return Err(fail!(
                "the message's from is {got:?}, expected the sender's (user, client) {from:?}"
            )
            .into());
        }
    }
    for c in devices {
        c.close().await;
    }
    sender.close().await;
    Ok(())
}

async fn broadcast(ctx: &Context, codec: Codec) -> Checked {
    let claims = Claims::new(&user_id("broadcaster")).granting_broadcast();
    let mut sender = connect_claims(ctx, codec, 0, &claims).await?;
    let mut other = fresh(ctx, codec, 1, "listener").await?;
    let data = unique_data("broadcast");
    match sender
        .request(Request::Broadcast(BroadcastRequest { data: data.clone() }))
        .await?
    {
        Ok(ReplyBody::Broadcast(_)) => {}
        Ok(other) => {
            return Err(fail!("the reply to `broadcast` has op `{}`", other.key()).into());
        }
        Err(e) => {
            return Err(fail!(
                "`broadcast` with a token granting it failed: error {} {:?}",
                e.code.0,
                e.message
            )
            .into());
        }
    }
    let from = Some(sender.user().to_owned());
    for conn in [&mut sender, &mut other] {
        let m = kit::message_with(conn, &data).await?;
        if !m.broadcast {
            return Err(fail!("a broadcast message has broadcast false").into());
        }
        let got = m.from.map(|f| f.user);
        if got != from {
            return Err(fail!(
                "the broadcast's from user is {got:?}, expected the sender {from:?}"
            )
            .into());
        }
    }
    sender.close().await;
    other.close().await;
    Ok(())
}

async fn rpc(ctx: &Context, codec: Codec) -> Checked {
    let mut conn = fresh(ctx, codec, 0, "rpc").await?;
    let reply = conn
        .request(Request::Rpc(RpcRequest {
            method: format!("conformance.echo.{}", random_hex(4)),
            data: unique_data("rpc"),
        }))
        .await?;
    match reply {
        Ok(ReplyBody::Rpc(_)) => {}
        Ok(other) => return Err(fail!("the reply to `rpc` has op `{}`", other.key()).into()),
        Err(e) if e.code == ErrorCode::NOT_AVAILABLE => {
            expect_error(Err(e), ErrorCode::NOT_AVAILABLE, "rpc without a handler")?;
        }
        // Application codes of an rpc handler are the application's business.
        Err(e) if (1000..=1999).contains(&e.code.0) => {}
        Err(e) => {
            return Err(fail!(
                "rpc got error {} {:?}, expected an rpc reply, 108 or an application code",
                e.code.0,
                e.message
            )
            .into());
        }
    }
    conn.ping().await?;
    conn.close().await;
    Ok(())
}
