//! Who may subscribe, publish and broadcast (protocol.md sections 5.4, 5.6,
//! 7.2 and 7.3): namespace policies, token grants, user-limited channels.

use chorus_protocol::message::{BroadcastRequest, HistoryRequest};
use chorus_protocol::{Codec, ErrorCode, Request};

use super::kit::{
    self, Checked, channel_req, connect_claims, expect_error, fresh, presence, publish,
    publish_req, subscribe, subscribe_req, unique_data,
};
use super::{Codecs, Def, Needs};
use crate::suite::client::{Conn, fail};
use crate::suite::context::{Context, random_hex, user_id};
use crate::suite::tokens::Claims;

const AREA: &str = "permissions";

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "publish-requires-subscription",
            area: AREA,
            description: "Where only subscribers publish, a publish before subscribing gets error 103 and one after succeeds.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(publish_requires_subscription(ctx, codec)),
        },
        Def {
            name: "publish-nobody",
            area: AREA,
            description: "Where nobody publishes, even a subscriber gets error 103; a token with a publish grant for the channel may publish.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(publish_nobody(ctx, codec)),
        },
        Def {
            name: "subscribe-grants",
            area: AREA,
            description: "Where subscribing needs a grant, subscribe, presence, presence_stats and history without one get error 103; with one they succeed.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(subscribe_grants(ctx, codec)),
        },
        Def {
            name: "user-limited-channel",
            area: AREA,
            description: "In a channel name#a,b only users a and b subscribe, publish and read presence and history; others get error 103.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(user_limited_channel(ctx, codec)),
        },
        Def {
            name: "broadcast-permission",
            area: AREA,
            description: "broadcast with a token that does not grant it gets error 103.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(broadcast_permission(ctx, codec)),
        },
    ]
}

async fn publish_requires_subscription(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.chat);
    let mut conn = fresh(ctx, codec, 0, "pub-sub").await?;
    let reply = conn
        .request(publish_req(&channel, unique_data("early")))
        .await?;
    if let Err(e) = &reply {
        if e.code == ErrorCode::UNKNOWN_CHANNEL {
            return Err(kit::missing_namespace(&channel));
        }
    }
    expect_error(
        reply,
        ErrorCode::PERMISSION_DENIED,
        "publish before subscribing where only subscribers publish",
    )?;
    subscribe(&mut conn, &channel).await?;
    publish(&mut conn, &channel, unique_data("late")).await?;
    conn.close().await;
    Ok(())
}

async fn publish_nobody(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.readonly);
    let mut reader = fresh(ctx, codec, 0, "reader").await?;
    subscribe(&mut reader, &channel).await?;
    let reply = reader
        .request(publish_req(&channel, unique_data("refused")))
        .await?;
    expect_error(
        reply,
        ErrorCode::PERMISSION_DENIED,
        "publish by a subscriber where nobody publishes",
    )?;
    let claims = Claims::new(&user_id("granted")).granting_publish(channel.clone());
    let mut granted = connect_claims(ctx, codec, 1, &claims).await?;
    let data = unique_data("granted");
    publish(&mut granted, &channel, data.clone())
        .await
        .map_err(|o| kit::while_doing(o, "publish with a publish grant for the channel"))?;
    let p = reader.publication(&channel).await?;
    if p.data != data {
        return Err(fail!("the granted publication carries the wrong data").into());
    }
    reader.close().await;
    granted.close().await;
    Ok(())
}

/// The commands that need subscribe permission on `channel`.
fn reading_commands(channel: &str) -> Vec<Request> {
    vec![
        subscribe_req(channel),
        Request::Presence(channel_req(channel)),
        Request::PresenceStats(channel_req(channel)),
        Request::History(HistoryRequest {
            channel: channel.into(),
            limit: Some(10),
            ..Default::default()
        }),
    ]
}

/// Requires 103 for every reading command and for publish.
async fn expect_shut_out(conn: &mut Conn, channel: &str, who: &str) -> Checked {
    let mut commands = reading_commands(channel);
    commands.push(publish_req(channel, unique_data("intruder")));
    for command in commands {
        let what = format!("`{}` by {who}", command.key());
        let reply = conn.request(command).await?;
        if let Err(e) = &reply {
            if e.code == ErrorCode::UNKNOWN_CHANNEL {
                return Err(kit::missing_namespace(channel));
            }
        }
        expect_error(reply, ErrorCode::PERMISSION_DENIED, &what)?;
    }
    Ok(())
}

async fn subscribe_grants(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.private);
    let mut outsider = fresh(ctx, codec, 0, "outsider").await?;
    expect_shut_out(&mut outsider, &channel, "a connection without a grant").await?;
    let claims = Claims::new(&user_id("member")).granting_subscribe(channel.clone());
    let mut member = connect_claims(ctx, codec, 1, &claims).await?;
    for command in reading_commands(&channel) {
        let op = command.key();
        member
            .request_ok(command)
            .await
            .map_err(|f| fail!("with a subscribe grant for the channel: {f} ({op})"))?;
    }
    outsider.close().await;
    member.close().await;
    Ok(())
}

async fn user_limited_channel(ctx: &Context, codec: Codec) -> Checked {
    let mut alice = fresh(ctx, codec, 0, "alice").await?;
    let mut bob = fresh(ctx, codec, 1, "bob").await?;
    let mut carol = fresh(ctx, codec, 2, "carol").await?;
    let channel = format!(
        "{}:cf-dm-{}#{},{}",
        ctx.profile.chat,
        random_hex(6),
        alice.user(),
        bob.user()
    );
    subscribe(&mut alice, &channel).await?;
    subscribe(&mut bob, &channel).await?;
    let data = unique_data("dm");
    publish(&mut alice, &channel, data.clone()).await?;
    let p = bob.publication(&channel).await?;
    if p.data != data {
        return Err(fail!("the listed user received the wrong data").into());
    }
    presence(&mut bob, &channel).await?;
    expect_shut_out(
        &mut carol,
        &channel,
        "a user not listed in the channel name",
    )
    .await?;
    for c in [alice, bob, carol] {
        c.close().await;
    }
    Ok(())
}

async fn broadcast_permission(ctx: &Context, codec: Codec) -> Checked {
    let mut conn = fresh(ctx, codec, 0, "no-broadcast").await?;
    let reply = conn
        .request(Request::Broadcast(BroadcastRequest {
            data: unique_data("refused"),
        }))
        .await?;
    expect_error(
        reply,
        ErrorCode::PERMISSION_DENIED,
        "broadcast without a token granting it",
    )?;
    conn.ping().await?;
    conn.close().await;
    Ok(())
}
