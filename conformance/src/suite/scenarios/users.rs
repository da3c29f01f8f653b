//! What servers keep for users beyond channels (docs/users.md): the offline
//! inbox that replays messages a device missed, and token revocation.

use chorus_protocol::message::{ConnectRequest, InboxResult, Message, SendRequest, StreamPosition};
use chorus_protocol::{CloseCode, Codec, ErrorCode, Payload, ReplyBody, Request};
use serde_json::json;

use super::api::{api, ok_json};
use super::auth::expect_refused;
use super::kit::{self, Checked, connect_claims, expect_closed, fresh, show_payload, unique_data};
use super::{Codecs, Def, Needs};
use crate::suite::Outcome;
use crate::suite::client::{Conn, fail};
use crate::suite::context::{Context, random_hex, user_id};
use crate::suite::tokens::Claims;

const AREA: &str = "users";

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "inbox-replay",
            area: AREA,
            description: "Messages sent to a user while a device was away are replayed to it at connect, from its own position, once and in order, on any node; live messages continue the same positions.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(inbox_replay(ctx, codec)),
        },
        Def {
            name: "inbox-unrecoverable",
            area: AREA,
            description: "An inbox position from another epoch is answered with recovered false, no messages and the current position.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(inbox_unrecoverable(ctx, codec)),
        },
        Def {
            name: "revoke-token",
            area: AREA,
            description: "POST /api/revoke with a jti closes the connection holding that token with 4505 and refuses it at connect; the user's other token keeps working.",
            codecs: Codecs::Each,
            needs: Needs::API,
            run: |ctx, codec| Box::pin(revoke_token(ctx, codec)),
        },
        Def {
            name: "revoke-user",
            area: AREA,
            description: "POST /api/revoke with a user closes every connection of that user, on every node, with 4505 and refuses tokens issued before.",
            codecs: Codecs::Each,
            needs: Needs::API,
            run: |ctx, codec| Box::pin(revoke_user(ctx, codec)),
        },
    ]
}

/// Connects a device of `user` on node `n`, from inbox position `since`;
/// returns the connection and the inbox part of the reply. A target that
/// keeps no inboxes (no `inbox` in the reply) skips the scenario.
async fn device(
    ctx: &Context,
    codec: Codec,
    n: usize,
    user: &str,
    since: Option<StreamPosition>,
) -> Result<(Conn, InboxResult), Outcome> {
    let token = kit::token(ctx, &Claims::new(user)).await?;
    let mut conn = Conn::open(ctx.ws_url(n), codec).await?;
    let request = ConnectRequest {
        token: Some(token),
        name: Some("chorus-conformance".into()),
        inbox: since,
        ..ConnectRequest::default()
    };
    match conn.connect_raw(request).await?.1 {
        Ok(reply) => match reply.inbox {
            Some(inbox) => Ok((conn, inbox)),
            None => Err(Outcome::Skip(
                "the target keeps no inboxes: the connect reply of a user has no `inbox`".into(),
            )),
        },
        Err(e) => Err(fail!("connect refused: error {} {:?}", e.code.0, e.message).into()),
    }
}

/// Sends `data` to `user` and requires success.
async fn send(sender: &mut Conn, user: &str, data: &Payload) -> Checked {
    let request = Request::Send(SendRequest {
        user: user.to_owned(),
        data: data.clone(),
    });
    match sender.request(request).await? {
        Ok(ReplyBody::Send(_)) => Ok(()),
        Ok(other) => Err(fail!("the reply to `send` has op `{}`", other.key()).into()),
        Err(e) => Err(fail!("`send` failed: error {} {:?}", e.code.0, e.message).into()),
    }
}

/// Requires that `got` carries exactly `want`, in order, at consecutive
/// offsets of one epoch after `after`; returns the last message's position.
fn expect_replay(
    what: &str,
    got: &[Message],
    want: &[Payload],
    after: &StreamPosition,
) -> Result<StreamPosition, Outcome> {
    let shown = |ms: &[Message]| {
        ms.iter()
            .map(|m| show_payload(&m.data))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let data: Vec<&Payload> = got.iter().map(|m| &m.data).collect();
    if data != want.iter().collect::<Vec<_>>() {
        return Err(fail!(
            "{what}: replayed [{}], expected [{}]",
            shown(got),
            want.iter().map(show_payload).collect::<Vec<_>>().join(", ")
        )
        .into());
    }
    let mut last = after.clone();
    for m in got {
        let position = m.offset.zip(m.epoch.clone());
        let Some((offset, epoch)) = position else {
            return Err(fail!("{what}: a replayed message has no offset and epoch").into());
        };
        if offset <= last.offset || (last.offset > 0 && epoch != last.epoch) {
            return Err(fail!(
                "{what}: message at ({offset}, {epoch:?}) does not follow ({}, {:?})",
                last.offset,
                last.epoch
            )
            .into());
        }
        last = StreamPosition { offset, epoch };
    }
    Ok(last)
}

async fn inbox_replay(ctx: &Context, codec: Codec) -> Checked {
    let user = user_id("inbox");
    let (first, start) = device(ctx, codec, 0, &user, None).await?;
    if start.recovered || !start.messages.is_empty() {
        return Err(fail!(
            "a connect without an inbox position replayed {} messages (recovered: {})",
            start.messages.len(),
            start.recovered
        )
        .into());
    }
    first.close().await;

    let mut sender = fresh(ctx, codec, 1, "inbox-sender").await?;
    let sent: Vec<Payload> = (0..3).map(|i| unique_data(&format!("inbox-{i}"))).collect();
    for data in &sent {
        send(&mut sender, &user, data).await?;
    }

    // A device on another node catches up from the first device's position.
    let (mut second, inbox) = device(ctx, codec, 1, &user, Some(start.position.clone())).await?;
    if !inbox.recovered {
        return Err(fail!("the replay from a position just taken says recovered: false").into());
    }
    let last = expect_replay(
        "from the first position",
        &inbox.messages,
        &sent,
        &start.position,
    )?;
    if inbox.position != last {
        return Err(fail!(
            "the reply's inbox position {:?} is not that of the last replayed message {last:?}",
            inbox.position
        )
        .into());
    }

    // Each device has its own position: one that saw the first message gets
    // only the other two.
    let seen_one = StreamPosition {
        offset: inbox.messages[0].offset.unwrap_or_default(),
        epoch: last.epoch.clone(),
    };
    let (third, rest) = device(ctx, codec, 0, &user, Some(seen_one.clone())).await?;
    expect_replay(
        "from the second position",
        &rest.messages,
        &sent[1..],
        &seen_one,
    )?;
    third.close().await;

    // Live messages continue the positions.
    let live = unique_data("inbox-live");
    send(&mut sender, &user, &live).await?;
    let pushed = kit::message_with(&mut second, &live).await?;
    expect_replay("live", std::slice::from_ref(&pushed), &[live], &last)?;
    second.close().await;
    sender.close().await;
    Ok(())
}

async fn inbox_unrecoverable(ctx: &Context, codec: Codec) -> Checked {
    let user = user_id("inbox-lost");
    let mut sender = fresh(ctx, codec, 1, "inbox-sender").await?;
    let (first, start) = device(ctx, codec, 0, &user, None).await?;
    first.close().await;
    send(&mut sender, &user, &unique_data("inbox-lost")).await?;
    let foreign = StreamPosition {
        offset: 1,
        epoch: format!("not-an-epoch-{}", random_hex(4)),
    };
    let (conn, inbox) = device(ctx, codec, 0, &user, Some(foreign)).await?;
    if inbox.recovered || !inbox.messages.is_empty() {
        return Err(fail!(
            "a position from another epoch got recovered: {} with {} messages",
            inbox.recovered,
            inbox.messages.len()
        )
        .into());
    }
    if inbox.position.epoch.is_empty() || inbox.position.offset <= start.position.offset {
        return Err(fail!(
            "after one message the inbox position is {:?}, it was {:?} before",
            inbox.position,
            start.position
        )
        .into());
    }
    conn.close().await;
    sender.close().await;
    Ok(())
}

/// Revokes through the server API.
async fn revoke(ctx: &Context, body: serde_json::Value) -> Checked {
    let api = api(ctx)?;
    ok_json("POST /api/revoke", api.post("/api/revoke", &body).await)?;
    Ok(())
}

async fn revoke_token(ctx: &Context, codec: Codec) -> Checked {
    let user = user_id("revoked");
    let stolen = Claims::new(&user).with_jti(format!("cf-{}", random_hex(8)));
    let kept = Claims::new(&user).with_jti(format!("cf-{}", random_hex(8)));
    let mut victim = connect_claims(ctx, codec, 0, &stolen).await?;
    let mut other = connect_claims(ctx, codec, 1, &kept).await?;
    revoke(ctx, json!({ "jti": stolen.jti, "until": stolen.exp })).await?;
    let closed = victim.closed().await?;
    expect_closed(&closed, CloseCode::TOKEN_REVOKED)
        .map_err(|f| fail!("the connection holding the revoked token: {f}"))?;
    other.ping().await?;
    let token = kit::token(ctx, &stolen).await?;
    expect_refused(
        ctx,
        codec,
        Some(token),
        "a revoked token",
        ErrorCode::UNAUTHORIZED,
        CloseCode::TOKEN_REVOKED,
    )
    .await?;
    other.ping().await?;
    other.close().await;
    Ok(())
}

async fn revoke_user(ctx: &Context, codec: Codec) -> Checked {
    let user = user_id("revoked-user");
    let claims = Claims::new(&user);
    let mut devices = Vec::new();
    for n in 0..2 {
        devices.push(connect_claims(ctx, codec, n, &claims).await?);
    }
    let mut bystander = fresh(ctx, codec, 0, "bystander").await?;
    revoke(ctx, json!({ "user": user })).await?;
    for d in &mut devices {
        let closed = d.closed().await?;
        expect_closed(&closed, CloseCode::TOKEN_REVOKED)?;
    }
    bystander.ping().await?;
    let token = kit::token(ctx, &claims).await?;
    expect_refused(
        ctx,
        codec,
        Some(token),
        "a token issued before the user's revocation",
        ErrorCode::UNAUTHORIZED,
        CloseCode::TOKEN_REVOKED,
    )
    .await?;
    bystander.close().await;
    Ok(())
}
