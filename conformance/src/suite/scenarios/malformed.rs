//! Malformed input (protocol.md section 6.3): each bad frame is answered by a
//! typed error echoing its id, or by close 4502 after a `disconnect` push when
//! no id can be read, and the server keeps serving its other connections.
//! The edge cases of conformance/vectors/invalid.json are replayed as they are.

use chorus_protocol::{CloseCode, Codec, ErrorCode, ReplyBody};
use futures_util::future::join_all;
use serde::Deserialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::kit::{Bystander, Checked, expect_closed, expect_error, fresh};
use super::{Codecs, Def, Needs};
use crate::suite::Outcome;
use crate::suite::client::{Conn, encode_value, fail};
use crate::suite::context::Context;

const AREA: &str = "malformed";

/// The shared invalid-frame vectors.
const INVALID_VECTORS: &str = include_str!("../../../vectors/invalid.json");

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "unknown-op",
            area: AREA,
            description: "A command with an unknown op (also in the wrong case, or beside a known op) gets error 104 echoing its id; the connection stays usable.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(unknown_op(ctx, codec)),
        },
        Def {
            name: "wrong-field-types",
            area: AREA,
            description: "Known ops with wrong field types, a missing field, a body that is not a map, two ops or a pong with an id get error 107 echoing the id.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(wrong_field_types(ctx, codec)),
        },
        Def {
            name: "undecodable-frame",
            area: AREA,
            description: "A frame that is not a frame at all (invalid JSON, truncated MessagePack) closes with 4502 after a disconnect push, before and after connect.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(undecodable_frame(ctx, codec)),
        },
        Def {
            name: "invalid-utf8",
            area: AREA,
            description: "Invalid UTF-8 in a JSON text frame closes with 4502; in a MessagePack string inside a readable map it gets error 107 echoing the id.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(invalid_utf8(ctx, codec)),
        },
        Def {
            name: "huge-ids",
            area: AREA,
            description: "Ids up to 2^64-1 are echoed exactly; ids of 2^64, 0, -1, 1.5 or a string close with 4502.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(huge_ids(ctx, codec)),
        },
        Def {
            name: "frame-type-mismatch",
            area: AREA,
            description: "A binary message on a JSON connection, or a text message on a MessagePack one, closes with 4502, before and after connect.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(frame_type_mismatch(ctx, codec)),
        },
        Def {
            name: "invalid-vectors",
            area: AREA,
            description: "Every client frame of conformance/vectors/invalid.json in the codec gets the answer its class calls for: error 104 or 107 echoing the id, else close 4502.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(invalid_vectors(ctx, codec)),
        },
    ]
}

/// MessagePack `str` holding `bytes` (valid UTF-8 or not).
fn mp_str(bytes: &[u8]) -> Vec<u8> {
    let mut out = match bytes.len() {
        n @ 0..=31 => vec![0xa0 | n as u8],
        n @ 32..=255 => vec![0xd9, n as u8],
        n => {
            let mut v = vec![0xda];
            v.extend_from_slice(&(n as u16).to_be_bytes());
            v
        }
    };
    out.extend_from_slice(bytes);
    out
}

/// A MessagePack map of (key, encoded value) pairs (at most 15).
fn mp_map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![0x80 | entries.len() as u8];
    for (k, v) in entries {
        out.extend(mp_str(k.as_bytes()));
        out.extend_from_slice(v);
    }
    out
}

/// The frame `{"id": <id text>, "ping": {}}` with an id written raw (JSON
/// number text, or MessagePack bytes).
fn ping_with_raw_id(codec: Codec, json_id: &str, msgpack_id: &[u8]) -> Vec<u8> {
    match codec {
        Codec::Json => format!("{{\"id\":{json_id},\"ping\":{{}}}}").into_bytes(),
        Codec::MessagePack => mp_map(&[("id", msgpack_id.to_vec()), ("ping", vec![0x80])]),
    }
}

/// Sends `frame` (a JSON value in the codec) with a fresh id, and requires
/// error `code` echoing it.
async fn expect_error_for(
    conn: &mut Conn,
    code: ErrorCode,
    what: &str,
    frame: impl FnOnce(u64) -> serde_json::Value,
) -> Checked {
    let id = conn.take_id();
    let bytes = encode_value(conn.codec, &frame(id))?;
    conn.send_bytes(bytes).await?;
    let reply = conn.reply(id).await?;
    expect_error(reply, code, what)?;
    Ok(())
}

/// Builds a test frame around a request id.
type FrameOf = fn(u64) -> serde_json::Value;
/// A frame builder that captures what it needs (a channel name).
type BoxedFrameOf = Box<dyn FnOnce(u64) -> serde_json::Value + Send>;

async fn unknown_op(ctx: &Context, codec: Codec) -> Checked {
    let bystander = Bystander::new(ctx, codec, 1).await?;
    let mut conn = fresh(ctx, codec, 0, "unknown-op").await?;
    let cases: [(&str, FrameOf); 3] = [
        ("an unknown op", |id| json!({"id": id, "teleport": {}})),
        (
            "an op in the wrong case",
            |id| json!({"id": id, "PING": {}}),
        ),
        (
            "an unknown op beside a known one",
            |id| json!({"id": id, "ping": {}, "teleport": {}}),
        ),
    ];
    for (what, frame) in cases {
        expect_error_for(&mut conn, ErrorCode::UNKNOWN_OP, what, frame).await?;
        conn.ping().await.map_err(|f| fail!("after {what}: {f}"))?;
    }
    conn.close().await;
    bystander.finish().await
}

async fn wrong_field_types(ctx: &Context, codec: Codec) -> Checked {
    let bystander = Bystander::new(ctx, codec, 1).await?;
    let mut conn = fresh(ctx, codec, 0, "wrong-types").await?;
    let channel = ctx.channel(&ctx.profile.chat);
    let cases: Vec<(&str, BoxedFrameOf)> = vec![
        (
            "a channel that is a number",
            Box::new(|id| json!({"id": id, "subscribe": {"channel": 42}})),
        ),
        ("publish without data", {
            let channel = channel.clone();
            Box::new(move |id| json!({"id": id, "publish": {"channel": channel}}))
        }),
        (
            "a body that is not a map",
            Box::new(|id| json!({"id": id, "subscribe": ["x"]})),
        ),
        ("a limit that is a string", {
            let channel = channel.clone();
            Box::new(move |id| json!({"id": id, "history": {"channel": channel, "limit": "ten"}}))
        }),
        ("two operations", {
            let channel = channel.clone();
            Box::new(move |id| json!({"id": id, "ping": {}, "subscribe": {"channel": channel}}))
        }),
        ("no operation", Box::new(|id| json!({"id": id}))),
        (
            "a pong with an id",
            Box::new(|id| json!({"id": id, "pong": {}})),
        ),
    ];
    for (what, frame) in cases {
        expect_error_for(&mut conn, ErrorCode::BAD_REQUEST, what, frame).await?;
        conn.ping().await.map_err(|f| fail!("after {what}: {f}"))?;
    }
    conn.close().await;
    bystander.finish().await
}

/// Sends `bytes` on a fresh connection (connected or not) and requires close 4502.
async fn expect_protocol_error(
    ctx: &Context,
    codec: Codec,
    connected: bool,
    bytes: Vec<u8>,
    what: &str,
) -> Checked {
    let mut conn = if connected {
        fresh(ctx, codec, 0, "malformed").await?
    } else {
        Conn::open(ctx.ws_url(0), codec).await?
    };
    conn.send_bytes(bytes).await?;
    let closed = conn.closed().await?;
    let when = if connected { "after" } else { "before" };
    expect_closed(&closed, CloseCode::PROTOCOL_ERROR)
        .map_err(|f| fail!("{what} {when} connect: {f}"))?;
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
    let bystander = Bystander::new(ctx, codec, 1).await?;
    for connected in [true, false] {
        expect_protocol_error(
            ctx,
            codec,
            connected,
            undecodable(codec),
            "an undecodable frame",
        )
        .await?;
    }
    bystander.finish().await
}

async fn invalid_utf8(ctx: &Context, codec: Codec) -> Checked {
    let bystander = Bystander::new(ctx, codec, 1).await?;
    match codec {
        Codec::Json => {
            // {"id":1,"unsubscribe":{"channel":"chat:<0xff>"}}
            let mut frame = br#"{"id":1,"unsubscribe":{"channel":"chat:"#.to_vec();
            frame.push(0xff);
            frame.extend_from_slice(br#""}}"#);
            expect_protocol_error(ctx, codec, true, frame, "a text frame with invalid UTF-8")
                .await?;
        }
        Codec::MessagePack => {
            let mut conn = fresh(ctx, codec, 0, "utf8").await?;
            let id = conn.take_id();
            let Some(fixint) = u8::try_from(id).ok().filter(|b| *b < 0x80) else {
                return Err(fail!("id {id} does not fit a positive fixint").into());
            };
            let channel = mp_map(&[("channel", mp_str(b"chat:\xff"))]);
            let frame = mp_map(&[("id", vec![fixint]), ("unsubscribe", channel)]);
            conn.send_bytes(frame).await?;
            let reply = conn.reply(id).await?;
            expect_error(
                reply,
                ErrorCode::BAD_REQUEST,
                "a MessagePack string with invalid UTF-8 in a map with a readable id",
            )?;
            conn.ping().await?;
            conn.close().await;
        }
    }
    bystander.finish().await
}

async fn huge_ids(ctx: &Context, codec: Codec) -> Checked {
    let bystander = Bystander::new(ctx, codec, 1).await?;
    let mut conn = fresh(ctx, codec, 0, "huge-ids").await?;
    for id in [(1u64 << 53) + 1, u64::MAX - 1, u64::MAX] {
        conn.expect_reply_to(id);
        let mut mp_id = vec![0xcf];
        mp_id.extend_from_slice(&id.to_be_bytes());
        conn.send_bytes(ping_with_raw_id(codec, &id.to_string(), &mp_id))
            .await?;
        match conn.reply(id).await? {
            Ok(ReplyBody::Ping(_)) => {}
            other => {
                return Err(fail!(
                    "a ping with id {id} was answered with {other:?}, expected a ping reply echoing the id exactly"
                )
                .into());
            }
        }
    }
    conn.close().await;
    let two_pow_64 = {
        let mut v = vec![0xcb];
        v.extend_from_slice(&18_446_744_073_709_551_616.0f64.to_be_bytes());
        v
    };
    let one_and_a_half = {
        let mut v = vec![0xcb];
        v.extend_from_slice(&1.5f64.to_be_bytes());
        v
    };
    let cases: [(&str, &str, Vec<u8>); 5] = [
        ("2^64", "18446744073709551616", two_pow_64),
        ("0", "0", vec![0x00]),
        ("-1", "-1", vec![0xff]),
        ("1.5", "1.5", one_and_a_half),
        ("a string", "\"7\"", mp_str(b"7")),
    ];
    for (what, json_id, mp_id) in cases {
        let frame = ping_with_raw_id(codec, json_id, &mp_id);
        expect_protocol_error(
            ctx,
            codec,
            true,
            frame,
            &format!("a command with id {what}"),
        )
        .await?;
    }
    bystander.finish().await
}

async fn frame_type_mismatch(ctx: &Context, codec: Codec) -> Checked {
    let bystander = Bystander::new(ctx, codec, 1).await?;
    for connected in [true, false] {
        let mut conn = if connected {
            fresh(ctx, codec, 0, "mismatch").await?
        } else {
            Conn::open(ctx.ws_url(0), codec).await?
        };
        let ping = r#"{"id":90,"ping":{}}"#;
        let (msg, what) = match codec {
            Codec::Json => (
                Message::Binary(ping.as_bytes().to_vec().into()),
                "a binary message on a JSON connection",
            ),
            Codec::MessagePack => (
                Message::Text(ping.into()),
                "a text message on a MessagePack connection",
            ),
        };
        conn.send_message(msg).await?;
        let closed = conn.closed().await?;
        let when = if connected { "after" } else { "before" };
        expect_closed(&closed, CloseCode::PROTOCOL_ERROR)
            .map_err(|f| fail!("{what} {when} connect: {f}"))?;
    }
    bystander.finish().await
}

/// One entry of invalid.json (the members this scenario reads).
#[derive(Debug, Deserialize)]
struct InvalidVector {
    name: String,
    direction: String,
    codec: String,
    encoding: String,
    frame: String,
    expect: String,
    id: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct InvalidFile {
    vectors: Vec<InvalidVector>,
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The client-direction vectors for `codec`, with their bytes.
fn vectors_for(codec: Codec) -> Result<Vec<(InvalidVector, Vec<u8>)>, String> {
    let file: InvalidFile =
        serde_json::from_str(INVALID_VECTORS).map_err(|e| format!("invalid.json: {e}"))?;
    let label = crate::suite::codec_label(codec);
    let mut out = Vec::new();
    for v in file.vectors {
        if v.direction != "client" || v.codec != label {
            continue;
        }
        let bytes = match v.encoding.as_str() {
            "text" => v.frame.as_bytes().to_vec(),
            "hex" => from_hex(&v.frame).ok_or_else(|| format!("{}: bad hex", v.name))?,
            other => return Err(format!("{}: unknown encoding {other:?}", v.name)),
        };
        out.push((v, bytes));
    }
    Ok(out)
}

/// Replays one vector on a connection of its own.
async fn replay(ctx: &Context, codec: Codec, v: &InvalidVector, bytes: Vec<u8>) -> Checked {
    let mut conn = fresh(ctx, codec, 0, "vector").await?;
    let expected = match (v.expect.as_str(), v.id) {
        ("unknown_op", Some(id)) => Some((id, ErrorCode::UNKNOWN_OP)),
        ("invalid", Some(id)) => Some((id, ErrorCode::BAD_REQUEST)),
        _ => None,
    };
    if let Some((id, _)) = expected {
        conn.expect_reply_to(id);
    }
    conn.send_bytes(bytes).await?;
    match expected {
        Some((id, code)) => {
            let reply = conn.reply(id).await?;
            expect_error(reply, code, &format!("vector {}", v.name))?;
            conn.ping()
                .await
                .map_err(|f| fail!("after vector {}: {f}", v.name))?;
            conn.close().await;
        }
        None => {
            let closed = conn.closed().await?;
            expect_closed(&closed, CloseCode::PROTOCOL_ERROR)
                .map_err(|f| fail!("vector {} ({}): {f}", v.name, v.expect))?;
        }
    }
    Ok(())
}

async fn invalid_vectors(ctx: &Context, codec: Codec) -> Checked {
    /// Vectors replayed at once.
    const AT_ONCE: usize = 6;
    let vectors = vectors_for(codec).map_err(|e| fail!("cannot read the vectors: {e}"))?;
    if vectors.is_empty() {
        return Err(fail!("no client vectors for this codec in invalid.json").into());
    }
    let bystander = Bystander::new(ctx, codec, 1).await?;
    let mut failures = Vec::new();
    let mut vectors = vectors.into_iter().peekable();
    while vectors.peek().is_some() {
        let chunk: Vec<_> = vectors.by_ref().take(AT_ONCE).collect();
        let results = join_all(
            chunk
                .iter()
                .map(|(v, bytes)| replay(ctx, codec, v, bytes.clone())),
        )
        .await;
        for r in results {
            match r {
                Ok(()) => {}
                Err(Outcome::Fail(f)) => failures.push(f),
                Err(other) => return Err(other),
            }
        }
    }
    if !failures.is_empty() {
        return Err(fail!("{}", failures.join("; ")).into());
    }
    bystander.finish().await
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
    fn raw_id_frames_decode_as_the_reference_reads_them() {
        for codec in [Codec::Json, Codec::MessagePack] {
            let mut mp = vec![0xcf];
            mp.extend_from_slice(&u64::MAX.to_be_bytes());
            let frame = ping_with_raw_id(codec, &u64::MAX.to_string(), &mp);
            match codec.decode_client(&frame).unwrap() {
                chorus_protocol::ClientFrame::Command(c) => assert_eq!(c.id, u64::MAX),
                other => panic!("{other:?}"),
            }
            let zero = ping_with_raw_id(codec, "0", &[0x00]);
            assert_eq!(codec.decode_client(&zero).unwrap_err().id(), None);
        }
    }

    #[test]
    fn the_vectors_file_has_client_vectors_for_both_codecs() {
        for codec in [Codec::Json, Codec::MessagePack] {
            let v = vectors_for(codec).unwrap();
            assert!(v.len() > 20, "{codec:?}: {}", v.len());
            for (vector, bytes) in &v {
                let err = codec.decode_client(bytes).unwrap_err();
                assert_eq!(err.id(), vector.id, "{}", vector.name);
            }
        }
    }

    #[test]
    fn invalid_utf8_msgpack_recovers_the_id() {
        let channel = mp_map(&[("channel", mp_str(b"chat:\xff"))]);
        let frame = mp_map(&[("id", vec![7]), ("unsubscribe", channel)]);
        let err = Codec::MessagePack.decode_client(&frame).unwrap_err();
        assert_eq!(err.id(), Some(7));
        assert_eq!(err.error_code(), ErrorCode::BAD_REQUEST);
    }
}
