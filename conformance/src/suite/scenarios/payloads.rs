//! Application payloads survive both codecs byte for byte (protocol.md
//! section 4, conformance/vectors/payloads.json).

use chorus_protocol::{Codec, Payload};

use super::kit::{Checked, fresh, publish, show_payload, subscribe};
use super::{Codecs, Def, Needs};
use crate::suite::client::{encode_value, fail};
use crate::suite::context::Context;

const AREA: &str = "payloads";

pub(super) fn scenarios() -> Vec<Def> {
    vec![Def {
        name: "payloads-cross-codec",
        area: AREA,
        description: "Payloads (JSON values as written, text, binary, empty, the reserved $bytes form) reach subscribers of both codecs byte for byte.",
        codecs: Codecs::Each,
        needs: Needs::TOKENS,
        run: |ctx, codec| Box::pin(payloads_cross_codec(ctx, codec)),
    }]
}

/// The payloads published, as bytes (see the table in protocol.md section 4).
fn cases() -> Vec<Vec<u8>> {
    [
        br#"{"text":"hi"}"#.as_slice(),
        br#"{ "text" : "hi" }"#,
        br#" {"a":1}"#,
        br#""hello""#,
        b"42",
        b"-12.50",
        b"true",
        b"null",
        br#"[1,"two"]"#,
        br#""\u00e9 escaped""#,
        "\"日本 ünïcödé\"".as_bytes(),
        b"hello world",
        &[0xff, 0x00, 0x01, 0xfe],
        b"",
        br#"{"$bytes":"/wAB"}"#,
        br#"{"$bytes":"/wAB","x":1}"#,
        br#"{"\u0024bytes":"/wAB"}"#,
    ]
    .into_iter()
    .map(<[u8]>::to_vec)
    .collect()
}

async fn payloads_cross_codec(ctx: &Context, codec: Codec) -> Checked {
    let other = match codec {
        Codec::Json => Codec::MessagePack,
        Codec::MessagePack => Codec::Json,
    };
    let channel = ctx.channel(&ctx.profile.live);
    let mut same = fresh(ctx, codec, 0, "same-codec").await?;
    let mut cross = fresh(ctx, other, 1, "other-codec").await?;
    subscribe(&mut same, &channel).await?;
    subscribe(&mut cross, &channel).await?;
    let mut publisher = fresh(ctx, codec, 2, "payloads").await?;
    let mut expected: Vec<Payload> = cases().into_iter().map(Payload::from).collect();
    for data in &expected {
        publish(&mut publisher, &channel, data.clone()).await?;
    }
    // MessagePack readers accept a `str` payload, taking its UTF-8 bytes.
    if codec == Codec::MessagePack {
        let id = publisher.take_id();
        let frame = serde_json::json!({
            "id": id,
            "publish": { "channel": channel, "data": "plain text as str" },
        });
        publisher.send_bytes(encode_value(codec, &frame)?).await?;
        publisher.reply(id).await?.map_err(|e| {
            fail!(
                "publish with a str payload failed: error {} {:?}",
                e.code.0,
                e.message
            )
        })?;
        expected.push(Payload::from("plain text as str"));
    }
    for (conn, label) in [(&mut same, codec), (&mut cross, other)] {
        for (i, want) in expected.iter().enumerate() {
            let p = conn.publication(&channel).await?;
            if p.data != *want {
                return Err(fail!(
                    "payload {i} published over {} reached a {} subscriber as {:?} ({}), published {:?} ({})",
                    crate::suite::codec_label(codec),
                    crate::suite::codec_label(label),
                    p.data.as_bytes(),
                    show_payload(&p.data),
                    want.as_bytes(),
                    show_payload(want)
                )
                .into());
            }
        }
    }
    for c in [same, cross, publisher] {
        c.close().await;
    }
    Ok(())
}
