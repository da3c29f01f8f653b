//! The documented error replies of each command (protocol.md sections 5 and
//! 6.1): each is typed, echoes the command's id, carries the `temporary` flag
//! of the code table, and leaves the connection usable.

use chorus_protocol::message::{
    ConnectRequest, Empty, HistoryRequest, RefreshRequest, RpcRequest, SendRequest,
};
use chorus_protocol::{Codec, ErrorCode, Payload, Request};

use super::kit::{
    self, Checked, channel_req, expect_error, fresh, history_req, publish_req, subscribe,
    subscribe_req, unique_data,
};
use super::{Codecs, Def, Needs};
use crate::suite::client::{Conn, fail};
use crate::suite::context::{Context, random_hex, user_id};
use crate::suite::tokens::Claims;

const AREA: &str = "errors";

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "not-connected",
            area: AREA,
            description: "Every command before connect gets error 114 (temporary); connect still works afterwards.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(not_connected(ctx, codec)),
        },
        Def {
            name: "second-connect",
            area: AREA,
            description: "A second connect on an authenticated connection gets error 107 and changes nothing.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(second_connect(ctx, codec)),
        },
        Def {
            name: "unknown-namespace",
            area: AREA,
            description: "subscribe, publish, presence, presence_stats and history in an unconfigured namespace get error 102.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(unknown_namespace(ctx, codec)),
        },
        Def {
            name: "invalid-channel",
            area: AREA,
            description: "Channel names that break the grammar get error 107 from every command naming a channel.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(invalid_channel(ctx, codec)),
        },
        Def {
            name: "already-subscribed",
            area: AREA,
            description: "A second subscribe to the same channel gets error 105; the first subscription stays.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(already_subscribed(ctx, codec)),
        },
        Def {
            name: "not-subscribed",
            area: AREA,
            description: "unsubscribe from a channel never subscribed, or already left, gets error 111.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(not_subscribed(ctx, codec)),
        },
        Def {
            name: "not-available",
            area: AREA,
            description: "presence, presence_stats and history where the namespace keeps neither get error 108.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(not_available(ctx, codec)),
        },
        Def {
            name: "send-empty-user",
            area: AREA,
            description: "send to the empty user id gets error 107.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(send_empty_user(ctx, codec)),
        },
    ]
}

fn rpc_req() -> Request {
    Request::Rpc(RpcRequest {
        method: "conformance".into(),
        data: Payload::from("1"),
    })
}

async fn not_connected(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.chat);
    let user = user_id("early");
    let token = kit::token(ctx, &Claims::new(&user)).await?;
    let mut conn = Conn::open(ctx.ws_url(0), codec).await?;
    let commands = [
        Request::Ping(Empty {}),
        subscribe_req(&channel),
        Request::Unsubscribe(channel_req(&channel)),
        publish_req(&channel, Payload::from("1")),
        Request::Send(SendRequest {
            user: user.clone(),
            data: Payload::from("1"),
        }),
        Request::Presence(channel_req(&channel)),
        Request::PresenceStats(channel_req(&channel)),
        history_req(&channel, 10),
        Request::Refresh(RefreshRequest {
            token: token.clone(),
        }),
        rpc_req(),
    ];
    for command in commands {
        let what = format!("`{}` before connect", command.key());
        let reply = conn.request(command).await?;
        expect_error(reply, ErrorCode::NOT_CONNECTED, &what)?;
    }
    match conn.connect(Some(token)).await? {
        Ok(_) => {}
        Err(e) => {
            return Err(fail!(
                "connect after commands refused with 114 failed: error {} {:?}",
                e.code.0,
                e.message
            )
            .into());
        }
    }
    subscribe(&mut conn, &channel).await?;
    conn.close().await;
    Ok(())
}

async fn second_connect(ctx: &Context, codec: Codec) -> Checked {
    let mut conn = fresh(ctx, codec, 0, "twice").await?;
    let me = conn.user().to_owned();
    let other = kit::token(ctx, &Claims::new(&user_id("other"))).await?;
    for (token, what) in [
        (Some(other), "a second connect with another user's token"),
        (None, "a second connect without a token"),
    ] {
        let reply = conn
            .request(Request::Connect(ConnectRequest {
                token,
                ..Default::default()
            }))
            .await?;
        expect_error(reply, ErrorCode::BAD_REQUEST, what)?;
    }
    // Still the first user: publications carry that identity.
    let channel = ctx.channel(&ctx.profile.chat);
    subscribe(&mut conn, &channel).await?;
    kit::publish(&mut conn, &channel, unique_data("who")).await?;
    let p = conn.publication(&channel).await?;
    let user = p.info.map(|i| i.user).unwrap_or_default();
    if user != me {
        return Err(fail!(
            "after a refused second connect, publications carry user {user:?}, expected {me:?}"
        )
        .into());
    }
    conn.close().await;
    Ok(())
}

/// The commands that name a channel, for `channel`.
fn channel_commands(channel: &str) -> Vec<Request> {
    vec![
        subscribe_req(channel),
        publish_req(channel, Payload::from("1")),
        Request::Presence(channel_req(channel)),
        Request::PresenceStats(channel_req(channel)),
        history_req(channel, 10),
    ]
}

async fn unknown_namespace(ctx: &Context, codec: Codec) -> Checked {
    let mut conn = fresh(ctx, codec, 0, "unknown-ns").await?;
    let missing = format!("cfmissing{}:x", random_hex(6));
    // Namespaces are case-sensitive: `CHAT` is not `chat`.
    let upper = format!("{}:x", ctx.profile.chat.to_uppercase());
    let mut channels = vec![missing];
    if upper != format!("{}:x", ctx.profile.chat) {
        channels.push(upper);
    }
    for channel in &channels {
        for command in channel_commands(channel) {
            let what = format!("`{}` in {channel:?}", command.key());
            let reply = conn.request(command).await?;
            expect_error(reply, ErrorCode::UNKNOWN_CHANNEL, &what)?;
        }
    }
    conn.ping().await?;
    conn.close().await;
    Ok(())
}

/// Names that break the channel grammar (protocol.md section 7.1).
pub(super) fn invalid_names(ns: &str) -> Vec<(String, &'static str)> {
    vec![
        (String::new(), "empty"),
        (format!("{ns}:a b"), "a space"),
        (format!("{ns}:a\tb"), "a tab"),
        (format!("{ns}:x\u{a0}y"), "a no-break space"),
        (format!("{ns}:a\u{0}"), "a NUL character"),
        (format!("{ns}:"), "an empty name after the namespace"),
        (":x".to_owned(), "an empty namespace"),
        ("a.b:x".to_owned(), "a dot in the namespace"),
        (format!("{ns}:x#"), "an empty user list"),
        (format!("{ns}:x#a,,b"), "an empty user id"),
        (format!("{ns}:{}", "x".repeat(256)), "more than 255 bytes"),
    ]
}

async fn invalid_channel(ctx: &Context, codec: Codec) -> Checked {
    for (channel, why) in invalid_names(&ctx.profile.chat) {
        // A connection per name keeps each well within the rate limit.
        let mut conn = fresh(ctx, codec, 0, "invalid").await?;
        let mut commands = channel_commands(&channel);
        commands.push(Request::Unsubscribe(channel_req(&channel)));
        for command in commands {
            let what = format!("`{}` with a channel name with {why}", command.key());
            let reply = conn.request(command).await?;
            expect_error(reply, ErrorCode::BAD_REQUEST, &what)?;
        }
        conn.ping().await?;
        conn.close().await;
    }
    Ok(())
}

async fn already_subscribed(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.live);
    let mut conn = fresh(ctx, codec, 0, "again").await?;
    subscribe(&mut conn, &channel).await?;
    let reply = conn.request(subscribe_req(&channel)).await?;
    expect_error(reply, ErrorCode::ALREADY_SUBSCRIBED, "a second subscribe")?;
    // The first subscription still delivers.
    let data = unique_data("still");
    kit::publish(&mut conn, &channel, data.clone()).await?;
    let p = conn.publication(&channel).await?;
    if p.data != data {
        return Err(fail!("the subscription delivered the wrong data after a 105").into());
    }
    conn.close().await;
    Ok(())
}

async fn not_subscribed(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.live);
    let mut conn = fresh(ctx, codec, 0, "unsub").await?;
    let reply = conn
        .request(Request::Unsubscribe(channel_req(&channel)))
        .await?;
    expect_error(
        reply,
        ErrorCode::NOT_SUBSCRIBED,
        "unsubscribe without a subscription",
    )?;
    subscribe(&mut conn, &channel).await?;
    conn.request_ok(Request::Unsubscribe(channel_req(&channel)))
        .await?;
    let reply = conn
        .request(Request::Unsubscribe(channel_req(&channel)))
        .await?;
    expect_error(reply, ErrorCode::NOT_SUBSCRIBED, "a second unsubscribe")?;
    conn.close().await;
    Ok(())
}

async fn not_available(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.live);
    let mut conn = fresh(ctx, codec, 0, "unavailable").await?;
    subscribe(&mut conn, &channel).await?;
    for command in [
        Request::Presence(channel_req(&channel)),
        Request::PresenceStats(channel_req(&channel)),
        Request::History(HistoryRequest {
            channel: channel.clone(),
            limit: Some(10),
            ..Default::default()
        }),
    ] {
        let what = format!("`{}` in a namespace without it", command.key());
        let reply = conn.request(command).await?;
        expect_error(reply, ErrorCode::NOT_AVAILABLE, &what)?;
    }
    conn.close().await;
    Ok(())
}

async fn send_empty_user(ctx: &Context, codec: Codec) -> Checked {
    let mut conn = fresh(ctx, codec, 0, "send-empty").await?;
    let reply = conn
        .request(Request::Send(SendRequest {
            user: String::new(),
            data: unique_data("nobody"),
        }))
        .await?;
    expect_error(reply, ErrorCode::BAD_REQUEST, "send to the user \"\"")?;
    conn.ping().await?;
    conn.close().await;
    Ok(())
}
