//! `connect`, tokens and `refresh` (protocol.md sections 2.2, 5.1, 5.9, 6.4).

use std::collections::BTreeMap;
use std::time::Duration;

use chorus_protocol::message::{ConnectRequest, RefreshRequest};
use chorus_protocol::{CloseCode, Codec, ErrorCode, ReplyBody, Request};
use serde::de::IgnoredAny;

use super::kit::{
    self, Checked, connect_claims, expect_closed, expect_error, fresh, subscribe, unique_data,
};
use super::{Codecs, Def, Needs};
use crate::suite::Outcome;
use crate::suite::client::{Conn, fail};
use crate::suite::context::{Context, random_hex, user_id};
use crate::suite::tokens::{Claims, hs256};

const AREA: &str = "auth";

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "connect",
            area: AREA,
            description: "connect with a valid token succeeds: a client id unique to the connection, the token's user, version, ping_interval_ms and expires_in_ms.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(connect(ctx, codec)),
        },
        Def {
            name: "connect-forged-token",
            area: AREA,
            description: "A token signed with an unknown key gets error 101, a disconnect push and close 4500.",
            codecs: Codecs::Each,
            needs: Needs::NOTHING,
            run: |ctx, codec| Box::pin(connect_forged_token(ctx, codec)),
        },
        Def {
            name: "connect-malformed-token",
            area: AREA,
            description: "A token that is not a JWT, or an unsigned one (alg none), gets error 101 and close 4500.",
            codecs: Codecs::Each,
            needs: Needs::NOTHING,
            run: |ctx, codec| Box::pin(connect_malformed_token(ctx, codec)),
        },
        Def {
            name: "connect-expired-token",
            area: AREA,
            description: "An expired token gets error 109 (temporary), a disconnect push and close 4501.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(connect_expired_token(ctx, codec)),
        },
        Def {
            name: "connect-without-token",
            area: AREA,
            description: "connect without a token is anonymous (user \"\", only anonymous namespaces, no send) or refused with 101 and close 4500.",
            codecs: Codecs::Each,
            needs: Needs::NOTHING,
            run: |ctx, codec| Box::pin(connect_without_token(ctx, codec)),
        },
        Def {
            name: "token-expiry-and-refresh",
            area: AREA,
            description: "A token that expires closes its connection with 4501; a connection that refreshed in time stays open.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(token_expiry_and_refresh(ctx, codec)),
        },
        Def {
            name: "refresh-refused",
            area: AREA,
            description: "refresh with another user's (101), an expired (109) or a malformed (101) token is refused and leaves the connection as it was.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(refresh_refused(ctx, codec)),
        },
    ]
}

/// The keys of a connect reply's body, read leniently from the raw frame.
#[derive(serde::Deserialize)]
struct ConnectKeys {
    connect: BTreeMap<String, IgnoredAny>,
}

async fn connect(ctx: &Context, codec: Codec) -> Checked {
    let mut ids = Vec::new();
    for n in 0..ctx.nodes().max(2) {
        let user = user_id("connect");
        let token = kit::token(ctx, &Claims::new(&user)).await?;
        let mut conn = Conn::open(ctx.ws_url(n), codec).await?;
        let (raw, reply) = conn.connect_raw(connect_request(Some(token))).await?;
        let result = reply.map_err(|e| {
            fail!(
                "connect with a valid token refused: error {} {:?}",
                e.code.0,
                e.message
            )
        })?;
        if result.client.is_empty() {
            return Err(fail!("the connect reply has an empty `client`").into());
        }
        if result.version.is_empty() {
            return Err(fail!("the connect reply has an empty `version`").into());
        }
        if ctx.tokens.subject_is_user() && result.user != user {
            return Err(fail!(
                "the connect reply has user {:?}, the token's sub is {user:?}",
                result.user
            )
            .into());
        }
        // The token expires in an hour: expires_in_ms must say about that.
        match result.expires_in_ms {
            Some(ms) if (3_000_000..=3_700_000).contains(&ms) => {}
            other => {
                return Err(fail!(
                    "the connect reply has expires_in_ms {other:?} for a token expiring in 3600 s"
                )
                .into());
            }
        }
        let keys: Result<ConnectKeys, String> = match codec {
            Codec::Json => serde_json::from_slice(&raw).map_err(|e| e.to_string()),
            Codec::MessagePack => rmp_serde::from_slice(&raw).map_err(|e| e.to_string()),
        };
        let keys = keys.map_err(|e| fail!("cannot re-read the connect reply: {e}"))?;
        if !keys.connect.contains_key("ping_interval_ms") {
            return Err(fail!(
                "the connect reply does not write `ping_interval_ms` (it must always be written)"
            )
            .into());
        }
        conn.ping().await?;
        ids.push(result.client);
        conn.close().await;
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != ids.len() {
        return Err(fail!("two connections got the same client id: {ids:?}").into());
    }
    Ok(())
}

fn connect_request(token: Option<String>) -> ConnectRequest {
    ConnectRequest {
        token,
        name: Some("chorus-conformance".into()),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        ..Default::default()
    }
}

/// Connects with `token`, requiring the refusal `error` followed by the close `close`.
pub(super) async fn expect_refused(
    ctx: &Context,
    codec: Codec,
    token: Option<String>,
    what: &str,
    error: ErrorCode,
    close: CloseCode,
) -> Checked {
    let mut conn = Conn::open(ctx.ws_url(0), codec).await?;
    let reply = conn.connect(token).await?.map(ReplyBody::Connect);
    expect_error(reply, error, &format!("connect with {what}"))?;
    let closed = conn.closed().await?;
    expect_closed(&closed, close).map_err(|f| fail!("after connect with {what}: {f}"))?;
    Ok(())
}

async fn connect_forged_token(ctx: &Context, codec: Codec) -> Checked {
    // A well-formed HS256 token signed with a random key the server cannot know.
    let forged = hs256(random_hex(32).as_bytes(), &Claims::new(&user_id("forged")))
        .map_err(|e| fail!("cannot make a forged token: {e}"))?;
    expect_refused(
        ctx,
        codec,
        Some(forged),
        "a forged token",
        ErrorCode::UNAUTHORIZED,
        CloseCode::UNAUTHORIZED,
    )
    .await
}

/// base64url without padding.
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

async fn connect_malformed_token(ctx: &Context, codec: Codec) -> Checked {
    let claims = serde_json::to_vec(&Claims::new(&user_id("unsigned")))
        .map_err(|e| fail!("cannot serialise claims: {e}"))?;
    let unsigned = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(&claims)
    );
    for (token, what) in [
        ("not-a-jwt".to_owned(), "a token that is not a JWT"),
        (unsigned, "an unsigned token (alg none)"),
    ] {
        expect_refused(
            ctx,
            codec,
            Some(token),
            what,
            ErrorCode::UNAUTHORIZED,
            CloseCode::UNAUTHORIZED,
        )
        .await?;
    }
    Ok(())
}

async fn connect_expired_token(ctx: &Context, codec: Codec) -> Checked {
    // Ten minutes ago: beyond any clock-skew leeway (at most 300 s).
    let claims = Claims::new(&user_id("expired")).expiring_in(-600);
    let token = kit::token(ctx, &claims).await?;
    expect_refused(
        ctx,
        codec,
        Some(token),
        "a token expired ten minutes ago",
        ErrorCode::TOKEN_EXPIRED,
        CloseCode::TOKEN_EXPIRED,
    )
    .await
}

async fn connect_without_token(ctx: &Context, codec: Codec) -> Checked {
    let mut conn = Conn::open(ctx.ws_url(0), codec).await?;
    match conn.connect(None).await? {
        Err(e) => {
            expect_error(
                Err(e),
                ErrorCode::UNAUTHORIZED,
                "connect without a token on a server without anonymous access",
            )?;
            let closed = conn.closed().await?;
            expect_closed(&closed, CloseCode::UNAUTHORIZED)?;
            Ok(())
        }
        Ok(result) => {
            if !result.user.is_empty() {
                return Err(fail!(
                    "an anonymous connection got user {:?}, expected \"\"",
                    result.user
                )
                .into());
            }
            if let Some(ms) = result.expires_in_ms {
                return Err(
                    fail!("an anonymous connection got expires_in_ms {ms}, expected none").into(),
                );
            }
            // The profile's anonymous namespace admits it...
            let open = ctx.channel(&ctx.profile.open);
            subscribe(&mut conn, &open).await?;
            // ...other namespaces refuse it...
            let chat = ctx.channel(&ctx.profile.chat);
            let reply = conn.request(kit::subscribe_req(&chat)).await?;
            expect_error(
                reply,
                ErrorCode::PERMISSION_DENIED,
                "an anonymous subscribe outside anonymous namespaces",
            )?;
            // ...and it cannot send to users.
            let reply = conn
                .request(Request::Send(chorus_protocol::message::SendRequest {
                    user: user_id("nobody"),
                    data: unique_data("anon"),
                }))
                .await?;
            expect_error(
                reply,
                ErrorCode::PERMISSION_DENIED,
                "send from an anonymous connection",
            )?;
            conn.ping().await?;
            conn.close().await;
            Ok(())
        }
    }
}

/// Refreshes with a valid token; returns the reply's `expires_in_ms`.
async fn refresh(conn: &mut Conn, token: String) -> Result<Option<u64>, Outcome> {
    match conn
        .request(Request::Refresh(RefreshRequest { token }))
        .await?
    {
        Ok(ReplyBody::Refresh(r)) => Ok(r.expires_in_ms),
        Ok(other) => Err(fail!("the reply to `refresh` has op `{}`", other.key()).into()),
        Err(e) => Err(fail!(
            "refresh with a valid token failed: error {} {:?}",
            e.code.0,
            e.message
        )
        .into()),
    }
}

async fn token_expiry_and_refresh(ctx: &Context, codec: Codec) -> Checked {
    let leeway = ctx.profile.leeway_secs;
    // Expiring 2 s from now (whole seconds), and 3 s for the control.
    let refreshed_claims = Claims::new(&user_id("refreshed")).expiring_in(2);
    let control_claims = Claims::new(&user_id("expiring")).expiring_in(3);
    let mut refreshed = connect_claims(ctx, codec, 0, &refreshed_claims).await?;
    let mut control = connect_claims(ctx, codec, 1, &control_claims).await?;
    for (conn, label) in [
        (&refreshed, "a token expiring in 2 s"),
        (&control, "a token expiring in 3 s"),
    ] {
        let ms = conn.session.as_ref().and_then(|s| s.expires_in_ms);
        if ms.is_none_or(|ms| ms > 10_000) {
            return Err(fail!("the connect reply for {label} has expires_in_ms {ms:?}").into());
        }
    }
    let fresh_token = kit::token(ctx, &Claims::new(&refreshed_claims.sub)).await?;
    match refresh(&mut refreshed, fresh_token).await? {
        Some(ms) if ms > 3_000_000 => {}
        other => {
            return Err(fail!(
                "the refresh reply has expires_in_ms {other:?} for a token expiring in 3600 s"
            )
            .into());
        }
    }
    // The control closes at its expiry (plus the leeway), a second after the
    // refreshed connection's old token expired.
    let bound = Duration::from_secs(3 + leeway + 20);
    let closed = tokio::time::timeout(bound, control.closed())
        .await
        .map_err(|_| {
            fail!(
                "a connection whose token expired was still open {} s later",
                bound.as_secs()
            )
        })??;
    expect_closed(&closed, CloseCode::TOKEN_EXPIRED)
        .map_err(|f| fail!("when the token expired: {f}"))?;
    refreshed
        .ping()
        .await
        .map_err(|f| fail!("after a successful refresh, past the old token's expiry: {f}"))?;
    refreshed.close().await;
    Ok(())
}

async fn refresh_refused(ctx: &Context, codec: Codec) -> Checked {
    let mut conn = fresh(ctx, codec, 0, "refresh").await?;
    let me = conn.user().to_owned();
    let other = kit::token(ctx, &Claims::new(&user_id("other"))).await?;
    let expired = kit::token(ctx, &Claims::new(&me).expiring_in(-600)).await?;
    for (token, code, what) in [
        (
            other,
            ErrorCode::UNAUTHORIZED,
            "refresh with another user's token",
        ),
        (
            expired,
            ErrorCode::TOKEN_EXPIRED,
            "refresh with an expired token",
        ),
        (
            "not-a-jwt".to_owned(),
            ErrorCode::UNAUTHORIZED,
            "refresh with a malformed token",
        ),
    ] {
        let reply = conn
            .request(Request::Refresh(RefreshRequest { token }))
            .await?;
        expect_error(reply, code, what)?;
    }
    // Still the same connection, same user.
    conn.ping().await?;
    let channel = ctx.channel(&ctx.profile.chat);
    subscribe(&mut conn, &channel).await?;
    kit::publish(&mut conn, &channel, unique_data("still-me")).await?;
    let p = conn.publication(&channel).await?;
    let publisher = p.info.map(|i| i.user).unwrap_or_default();
    if publisher != me {
        return Err(fail!(
            "after refused refreshes, publications carry user {publisher:?}, expected {me:?}"
        )
        .into());
    }
    conn.close().await;
    Ok(())
}
