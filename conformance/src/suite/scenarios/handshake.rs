//! The WebSocket upgrade and subprotocol negotiation (protocol.md section 2.1).

use chorus_protocol::Codec;

use super::kit::Checked;
use super::{Codecs, Def, Needs};
use crate::suite::client::{Upgrade, fail, upgrade};
use crate::suite::context::Context;

const AREA: &str = "handshake";

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "handshake",
            area: AREA,
            description: "The upgrade offering the codec's subprotocol is answered with 101 echoing it.",
            codecs: Codecs::Each,
            needs: Needs::NOTHING,
            run: |ctx, codec| Box::pin(handshake(ctx, codec)),
        },
        Def {
            name: "subprotocol-selection",
            area: AREA,
            description: "With several subprotocols offered, the server selects the first one it supports.",
            codecs: Codecs::Independent,
            needs: Needs::NOTHING,
            run: |ctx, _| Box::pin(subprotocol_selection(ctx)),
        },
        Def {
            name: "unknown-subprotocol",
            area: AREA,
            description: "An upgrade offering no supported subprotocol, or none at all, is refused with HTTP 400.",
            codecs: Codecs::Independent,
            needs: Needs::NOTHING,
            run: |ctx, _| Box::pin(unknown_subprotocol(ctx)),
        },
    ]
}

/// Requires a 101 echoing `expected` for an upgrade offering `offer` on every node.
async fn expect_selected(ctx: &Context, offer: &str, expected: &str) -> Checked {
    for url in &ctx.ws {
        match upgrade(url, Some(offer)).await? {
            Upgrade::Accepted(mut ws, Some(p)) if p == expected => {
                let _ = ws.close(None).await;
            }
            Upgrade::Accepted(mut ws, other) => {
                let _ = ws.close(None).await;
                return Err(fail!(
                    "{url}: an upgrade offering {offer:?} was answered with subprotocol {other:?}, expected {expected:?}"
                )
                .into());
            }
            Upgrade::Refused(status, body) => {
                return Err(fail!(
                    "{url}: an upgrade offering {offer:?} was refused: HTTP {status} {body:?}"
                )
                .into());
            }
        }
    }
    Ok(())
}

async fn handshake(ctx: &Context, codec: Codec) -> Checked {
    expect_selected(ctx, codec.subprotocol(), codec.subprotocol()).await
}

async fn subprotocol_selection(ctx: &Context) -> Checked {
    let json = Codec::Json.subprotocol();
    let pack = Codec::MessagePack.subprotocol();
    expect_selected(ctx, &format!("chorus.v0.bogus, {pack}"), pack).await?;
    expect_selected(ctx, &format!("{json}, {pack}"), json).await?;
    expect_selected(ctx, &format!("{pack}, {json}"), pack).await?;
    Ok(())
}

async fn unknown_subprotocol(ctx: &Context) -> Checked {
    for url in &ctx.ws {
        for offer in [Some("chorus.v0.bogus"), Some("chorus.v2.json"), None] {
            let what = match offer {
                Some(p) => format!("offering only {p:?}"),
                None => "without Sec-WebSocket-Protocol".to_owned(),
            };
            match upgrade(url, offer).await? {
                Upgrade::Refused(400, _) => {}
                Upgrade::Refused(status, body) => {
                    return Err(fail!(
                        "{url}: an upgrade {what} got HTTP {status} {body:?}, expected 400"
                    )
                    .into());
                }
                Upgrade::Accepted(mut ws, selected) => {
                    let _ = ws.close(None).await;
                    return Err(fail!(
                        "{url}: an upgrade {what} was accepted (subprotocol {selected:?}), expected HTTP 400"
                    )
                    .into());
                }
            }
        }
    }
    Ok(())
}
