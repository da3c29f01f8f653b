//! The catalogue of scenarios.
//!
//! Each scenario is an async function returning `Ok(())` on a pass and an
//! [`Outcome`] otherwise, wrapped in a [`Def`] with its name and needs.

use std::collections::BTreeMap;
use std::sync::Arc;

use chorus_protocol::message::{PublishRequest, SubscribeRequest};
use chorus_protocol::{CloseCode, Codec, ErrorCode, Payload, Push, ReplyBody, Request};
use serde::de::IgnoredAny;

use super::client::{Closed, Conn, Failure, Upgrade, fail, upgrade};
use super::context::{Context, hs256, random_hex, user_id};
use super::{BoxFuture, Codecs, Needs, Outcome, Scenario};

/// What a scenario function returns: `Ok(())` is a pass.
pub type Checked = Result<(), Outcome>;

/// A scenario function.
pub type ScenarioFn = for<'a> fn(&'a Context, Codec) -> BoxFuture<'a, Checked>;

/// A scenario defined by a function and its metadata.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    /// See [`Scenario::name`].
    pub name: &'static str,
    /// See [`Scenario::description`].
    pub description: &'static str,
    /// See [`Scenario::codecs`].
    pub codecs: Codecs,
    /// See [`Scenario::needs`].
    pub needs: Needs,
    /// The check itself.
    pub run: ScenarioFn,
}

impl Scenario for Def {
    fn name(&self) -> &'static str {
        self.name
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn codecs(&self) -> Codecs {
        self.codecs
    }

    fn needs(&self) -> Needs {
        self.needs
    }

    fn run<'a>(&'a self, ctx: &'a Context, codec: Codec) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            match (self.run)(ctx, codec).await {
                Ok(()) => Outcome::Pass,
                Err(outcome) => outcome,
            }
        })
    }
}

const NOTHING: Needs = Needs {
    tokens: false,
    api: false,
};
const TOKENS: Needs = Needs {
    tokens: true,
    api: false,
};

/// Every scenario, in the order they run.
pub fn catalogue() -> Vec<Arc<dyn Scenario>> {
    let defs = [
        Def {
            name: "handshake",
            description: "The upgrade offering the codec's subprotocol is answered with 101 echoing it.",
            codecs: Codecs::Each,
            needs: NOTHING,
            run: |ctx, codec| Box::pin(handshake(ctx, codec)),
        },
        Def {
            name: "unknown-subprotocol",
            description: "An upgrade offering no supported subprotocol, or none at all, is refused with HTTP 400.",
            codecs: Codecs::Independent,
            needs: NOTHING,
            run: |ctx, _| Box::pin(unknown_subprotocol(ctx)),
        },
        Def {
            name: "connect",
            description: "connect with a valid token succeeds: non-empty client id, the token's user, ping_interval_ms written.",
            codecs: Codecs::Each,
            needs: TOKENS,
            run: |ctx, codec| Box::pin(connect(ctx, codec)),
        },
        Def {
            name: "connect-forged-token",
            description: "connect with a token signed by an unknown key gets error 101, a disconnect push and close 4500.",
            codecs: Codecs::Each,
            needs: NOTHING,
            run: |ctx, codec| Box::pin(connect_forged_token(ctx, codec)),
        },
        Def {
            name: "publish-subscribe",
            description: "A publication reaches another connection subscribed to the channel, with the same bytes.",
            codecs: Codecs::Each,
            needs: TOKENS,
            run: |ctx, codec| Box::pin(publish_subscribe(ctx, codec)),
        },
        Def {
            name: "unknown-op",
            description: "A command with an unknown op gets error 104 echoing its id; the connection stays usable.",
            codecs: Codecs::Each,
            needs: TOKENS,
            run: |ctx, codec| Box::pin(unknown_op(ctx, codec)),
        },
        Def {
            name: "undecodable-frame",
            description: "An undecodable frame (invalid JSON, truncated MessagePack) gets a disconnect push and close 4502.",
            codecs: Codecs::Each,
            needs: TOKENS,
            run: |ctx, codec| Box::pin(undecodable_frame(ctx, codec)),
        },
        Def {
            name: "ping",
            description: "The ping command is answered with a ping reply carrying its id.",
            codecs: Codecs::Each,
            needs: TOKENS,
            run: |ctx, codec| Box::pin(ping(ctx, codec)),
        },
    ];
    defs.into_iter()
        .map(|d| Arc::new(d) as Arc<dyn Scenario>)
        .collect()
}

/// Opens a connection for a fresh user and connects it.
async fn connected(ctx: &Context, codec: Codec, n: usize, who: &str) -> Result<Conn, Outcome> {
    let user = user_id(who);
    let token = ctx
        .tokens
        .token(&user)
        .await
        .map_err(|e| fail!("cannot obtain a token: {e}"))?;
    Ok(Conn::connected(ctx.ws_url(n), codec, token).await?)
}

/// Requires that the connection ended with `code`, preceded by a `disconnect`
/// push with the same code and the reconnect flag the code's range implies.
fn expect_closed(closed: &Closed, code: CloseCode) -> Result<(), Failure> {
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
            "the disconnect push for {} says reconnect: {}",
            code.0,
            pushed.reconnect
        ));
    }
    Ok(())
}

async fn handshake(ctx: &Context, codec: Codec) -> Checked {
    let url = ctx.ws_url(0);
    match upgrade(url, Some(codec.subprotocol())).await? {
        Upgrade::Accepted(mut ws, Some(p)) if p == codec.subprotocol() => {
            let _ = ws.close(None).await;
            Ok(())
        }
        Upgrade::Accepted(mut ws, other) => {
            let _ = ws.close(None).await;
            Err(fail!(
                "101 without echoing {:?}: Sec-WebSocket-Protocol is {other:?}",
                codec.subprotocol()
            )
            .into())
        }
        Upgrade::Refused(status, body) => Err(fail!(
            "upgrade offering {} refused: HTTP {status} {body:?}",
            codec.subprotocol()
        )
        .into()),
    }
}

async fn unknown_subprotocol(ctx: &Context) -> Checked {
    let url = ctx.ws_url(0);
    for offer in [Some("chorus.v0.bogus"), None] {
        let what = match offer {
            Some(p) => format!("offering only {p:?}"),
            None => "without Sec-WebSocket-Protocol".to_owned(),
        };
        match upgrade(url, offer).await? {
            Upgrade::Refused(400, _) => {}
            Upgrade::Refused(status, body) => {
                return Err(
                    fail!("an upgrade {what} got HTTP {status} {body:?}, expected 400").into(),
                );
            }
            Upgrade::Accepted(mut ws, selected) => {
                let _ = ws.close(None).await;
                return Err(fail!(
                    "an upgrade {what} was accepted (subprotocol {selected:?}), expected HTTP 400"
                )
                .into());
            }
        }
    }
    Ok(())
}

/// The keys of a connect reply's body, read leniently from the raw frame.
#[derive(serde::Deserialize)]
struct ConnectKeys {
    connect: BTreeMap<String, IgnoredAny>,
}

async fn connect(ctx: &Context, codec: Codec) -> Checked {
    let user = user_id("connect");
    let token = ctx
        .tokens
        .token(&user)
        .await
        .map_err(|e| fail!("cannot obtain a token: {e}"))?;
    let mut conn = Conn::open(ctx.ws_url(0), codec).await?;
    let (raw, reply) = conn.connect_raw(Some(token)).await?;
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
    // Only tokens we signed ourselves are known to carry `sub` = user; a
    // --token-cmd may map the user id to another subject.
    if matches!(ctx.tokens, super::TokenSource::Hmac(_)) && result.user != user {
        return Err(fail!(
            "the connect reply has user {:?}, the token's sub is {user:?}",
            result.user
        )
        .into());
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
    conn.close().await;
    Ok(())
}

async fn connect_forged_token(ctx: &Context, codec: Codec) -> Checked {
    // A well-formed HS256 token signed with a random key the server cannot know.
    let forged = hs256(random_hex(32).as_bytes(), &user_id("forged"))
        .map_err(|e| fail!("cannot make a forged token: {e}"))?;
    let mut conn = Conn::open(ctx.ws_url(0), codec).await?;
    match conn.connect(Some(forged)).await? {
        Ok(_) => return Err(fail!("connect with a forged token succeeded").into()),
        Err(e) if e.code == ErrorCode::UNAUTHORIZED => {}
        Err(e) => {
            return Err(fail!(
                "connect with a forged token got error {} {:?}, expected 101",
                e.code.0,
                e.message
            )
            .into());
        }
    }
    let closed = conn.closed().await?;
    expect_closed(&closed, CloseCode::UNAUTHORIZED)?;
    Ok(())
}

async fn publish_subscribe(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel();
    let marker = random_hex(8);
    let data = Payload::from(format!("{{\"conformance\":\"{marker}\"}}"));
    let subscribe = || {
        Request::Subscribe(SubscribeRequest {
            channel: channel.clone(),
            ..Default::default()
        })
    };

    // With several URLs, the subscriber and the publisher are on different nodes.
    let mut sub = connected(ctx, codec, 0, "sub").await?;
    let mut publisher = connected(ctx, codec, 1, "pub").await?;
    match sub.request_ok(subscribe()).await? {
        ReplyBody::Subscribe(_) => {}
        other => return Err(fail!("the reply to `subscribe` has op `{}`", other.key()).into()),
    }
    // Namespaces may let only subscribers publish: subscribe the publisher too.
    publisher.request_ok(subscribe()).await?;
    match publisher
        .request_ok(Request::Publish(PublishRequest {
            channel: channel.clone(),
            data: data.clone(),
            idempotency_key: None,
        }))
        .await?
    {
        ReplyBody::Publish(_) => {}
        other => return Err(fail!("the reply to `publish` has op `{}`", other.key()).into()),
    }
    loop {
        match sub.push().await? {
            Push::Publication(p) if p.channel == channel => {
                if p.data != data {
                    return Err(fail!(
                        "the publication carries {:?}, published {:?}",
                        String::from_utf8_lossy(p.data.as_bytes()),
                        String::from_utf8_lossy(data.as_bytes())
                    )
                    .into());
                }
                break;
            }
            Push::Publication(p) => {
                return Err(fail!(
                    "a publication of channel {:?} arrived, subscribed only to {channel:?}",
                    p.channel
                )
                .into());
            }
            // Joins, leaves, messages and the like are not what this checks.
            _ => {}
        }
    }
    sub.close().await;
    publisher.close().await;
    Ok(())
}

async fn unknown_op(ctx: &Context, codec: Codec) -> Checked {
    let mut conn = connected(ctx, codec, 0, "unknown-op").await?;
    let id = conn.take_id();
    let frame = serde_json::json!({ "id": id, "teleport": {} });
    let bytes = super::client::encode_value(codec, &frame)?;
    conn.send_bytes(bytes).await?;
    match conn.reply(id).await? {
        Err(e) if e.code == ErrorCode::UNKNOWN_OP => {}
        Err(e) => {
            return Err(fail!(
                "an unknown op got error {} {:?}, expected 104",
                e.code.0,
                e.message
            )
            .into());
        }
        Ok(body) => {
            return Err(fail!(
                "an unknown op got a successful `{}` reply, expected error 104",
                body.key()
            )
            .into());
        }
    }
    conn.ping()
        .await
        .map_err(|f| fail!("after the unknown op: {f}"))?;
    conn.close().await;
    Ok(())
}

/// A frame that is not a frame at all, in the codec's message type.
pub fn undecodable(codec: Codec) -> Vec<u8> {
    match codec {
        // Not JSON: a truncated object.
        Codec::Json => br#"{"id":2,"ping":"#.to_vec(),
        // `{"id":2,"ping":{}}` without its last byte (the empty map).
        Codec::MessagePack => vec![0x82, 0xa2, b'i', b'd', 0x02, 0xa4, b'p', b'i', b'n', b'g'],
    }
}

async fn undecodable_frame(ctx: &Context, codec: Codec) -> Checked {
    let mut conn = connected(ctx, codec, 0, "undecodable").await?;
    conn.send_bytes(undecodable(codec)).await?;
    let closed = conn.closed().await?;
    expect_closed(&closed, CloseCode::PROTOCOL_ERROR)?;
    Ok(())
}

async fn ping(ctx: &Context, codec: Codec) -> Checked {
    let mut conn = connected(ctx, codec, 0, "ping").await?;
    conn.ping().await?;
    conn.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecodable_frames_are_malformed() {
        for codec in [Codec::Json, Codec::MessagePack] {
            let err = codec.decode_client(&undecodable(codec)).unwrap_err();
            assert!(
                matches!(err, chorus_protocol::DecodeError::Malformed(_)),
                "{codec:?}: {err:?}"
            );
        }
    }

    #[test]
    fn unknown_op_frame_is_classified_with_its_id() {
        for codec in [Codec::Json, Codec::MessagePack] {
            let frame = serde_json::json!({ "id": 7, "teleport": {} });
            let bytes = super::super::client::encode_value(codec, &frame).unwrap();
            let err = codec.decode_client(&bytes).unwrap_err();
            assert_eq!(err.id(), Some(7), "{codec:?}");
            assert_eq!(err.error_code(), ErrorCode::UNKNOWN_OP, "{codec:?}");
        }
    }

    #[test]
    fn catalogue_names_are_unique_and_kebab_case() {
        let all = catalogue();
        let mut names: Vec<_> = all.iter().map(|s| s.name()).collect();
        for n in &names {
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{n}");
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
