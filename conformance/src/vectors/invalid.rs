//! Frames a decoder must reject, with the rejection it must report.
//!
//! One file on purpose, though long: it is a table of vectors read top to
//! bottom, and splitting it would only scatter the table.

use chorus_protocol::message::{Empty, PublishRequest};
use chorus_protocol::{ClientFrame, Codec, Command, Payload, Request};

use super::{CodecName, Direction, Encoding, Expect, InvalidVector, VectorFile, to_hex};

use Expect::{Invalid, Malformed, UnknownOp};

/// Collects the invalid vectors.
#[derive(Default)]
struct Builder {
    vectors: Vec<InvalidVector>,
}

impl Builder {
    fn add(
        &mut self,
        name: &str,
        direction: Direction,
        codec: CodecName,
        frame: &[u8],
        expect: Expect,
        id: Option<u64>,
    ) -> &mut InvalidVector {
        let (encoding, frame) = match (codec, std::str::from_utf8(frame)) {
            (CodecName::Json, Ok(text)) => (Encoding::Text, text.to_owned()),
            _ => (Encoding::Hex, to_hex(frame)),
        };
        self.vectors.push(InvalidVector {
            name: name.to_owned(),
            direction,
            codec,
            encoding,
            frame,
            expect,
            id,
            op: None,
            notes: None,
        });
        self.vectors.last_mut().expect("just pushed")
    }

    /// A JSON frame sent by a client.
    fn json(
        &mut self,
        name: &str,
        frame: impl AsRef<[u8]>,
        expect: Expect,
        id: Option<u64>,
    ) -> &mut InvalidVector {
        self.add(
            name,
            Direction::Client,
            CodecName::Json,
            frame.as_ref(),
            expect,
            id,
        )
    }

    /// A MessagePack frame sent by a client.
    fn msgpack(
        &mut self,
        name: &str,
        frame: impl AsRef<[u8]>,
        expect: Expect,
        id: Option<u64>,
    ) -> &mut InvalidVector {
        self.add(
            name,
            Direction::Client,
            CodecName::Msgpack,
            frame.as_ref(),
            expect,
            id,
        )
    }

    /// A frame sent by a server (a client decoder reports every failure as malformed).
    fn server(
        &mut self,
        name: &str,
        codec: CodecName,
        frame: impl AsRef<[u8]>,
    ) -> &mut InvalidVector {
        self.add(
            name,
            Direction::Server,
            codec,
            frame.as_ref(),
            Malformed,
            None,
        )
    }
}

impl InvalidVector {
    fn op(&mut self, op: &str) -> &mut Self {
        self.op = Some(op.to_owned());
        self
    }

    fn note(&mut self, notes: &str) -> &mut Self {
        self.notes = Some(notes.to_owned());
        self
    }
}

// ---- a minimal MessagePack writer, so malformed frames are exact ----

fn mp_str(s: impl AsRef<[u8]>) -> Vec<u8> {
    let s = s.as_ref();
    let mut out = match s.len() {
        n @ 0..=31 => vec![0xa0 | n as u8],
        n @ 32..=255 => vec![0xd9, n as u8],
        n => {
            let n = u16::try_from(n).expect("short test strings");
            let mut v = vec![0xda];
            v.extend_from_slice(&n.to_be_bytes());
            v
        }
    };
    out.extend_from_slice(s);
    out
}

fn mp_uint(n: u64) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0xff => vec![0xcc, n as u8],
        0x100..=0xffff => [&[0xcd][..], &(n as u16).to_be_bytes()].concat(),
        0x1_0000..=0xffff_ffff => [&[0xce][..], &(n as u32).to_be_bytes()].concat(),
        _ => {
            let mut v = vec![0xcf];
            v.extend_from_slice(&n.to_be_bytes());
            v
        }
    }
}

fn mp_f64(x: f64) -> Vec<u8> {
    let mut v = vec![0xcb];
    v.extend_from_slice(&x.to_be_bytes());
    v
}

/// A map with string keys, in the given order.
fn mp_map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    assert!(entries.len() < 16);
    let mut out = vec![0x80 | entries.len() as u8];
    for (k, v) in entries {
        out.extend(mp_str(k));
        out.extend_from_slice(v);
    }
    out
}

fn mp_empty_map() -> Vec<u8> {
    vec![0x80]
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `invalid.json`: frames that must be rejected.
pub(super) fn invalid() -> VectorFile<InvalidVector> {
    let mut b = Builder::default();

    // ---- JSON, client -> server ----
    b.json("json_empty_frame", "", Malformed, None);
    b.json("json_truncated", r#"{"id":1,"ping":{}"#, Malformed, None);
    b.json(
        "json_invalid_utf8_in_string",
        b"{\"id\":1,\"unsubscribe\":{\"channel\":\"chat:\xff\"}}",
        Malformed,
        None,
    )
    .note("A text frame that is not UTF-8 (hex-encoded here): not a frame at all, even though the id is readable.");
    b.json(
        "json_invalid_utf8_in_payload",
        b"{\"id\":1,\"publish\":{\"channel\":\"chat:lobby\",\"data\":\"\xc3\x28\"}}",
        Malformed,
        None,
    );
    b.json(
        "json_invalid_utf8_outside_strings",
        b"{\"id\":1,\xff\"ping\":{}}",
        Malformed,
        None,
    );
    b.json("json_array_frame", r#"[1,{"ping":{}}]"#, Malformed, None);
    b.json("json_string_frame", r#""ping""#, Malformed, None);
    b.json("json_number_frame", "42", Malformed, None);
    b.json("json_null_frame", "null", Malformed, None);
    b.json(
        "json_trailing_garbage",
        r#"{"id":1,"ping":{}} x"#,
        Malformed,
        None,
    );
    b.json(
        "json_two_frames",
        r#"{"id":1,"ping":{}}{"id":2,"ping":{}}"#,
        Malformed,
        None,
    )
    .note("One WebSocket message carries exactly one frame.");
    b.json(
        "json_duplicate_id",
        r#"{"id":1,"id":2,"ping":{}}"#,
        Malformed,
        None,
    )
    .note("Which id to answer is ambiguous, so none is recovered.");

    b.json(
        "json_unknown_op",
        r#"{"id":4,"teleport":{}}"#,
        UnknownOp,
        Some(4),
    )
    .op("teleport");
    b.json(
        "json_unknown_op_without_id",
        r#"{"teleport":{}}"#,
        UnknownOp,
        None,
    )
    .op("teleport");
    b.json(
        "json_unknown_op_beside_known",
        r#"{"id":3,"ping":{},"teleport":{}}"#,
        UnknownOp,
        Some(3),
    )
    .op("teleport")
    .note("Unknown top-level keys are rejected; unknown fields inside a body are ignored.");
    b.json(
        "json_op_wrong_case",
        r#"{"id":7,"PING":{}}"#,
        UnknownOp,
        Some(7),
    )
    .op("PING")
    .note("Keys are case-sensitive.");
    b.json(
        "json_reply_key_from_client",
        r#"{"id":5,"error":{"code":100,"message":"x"}}"#,
        UnknownOp,
        Some(5),
    )
    .op("error");
    b.json(
        "json_push_key_from_client",
        r#"{"id":5,"publication":{"channel":"chat:lobby","data":1}}"#,
        UnknownOp,
        Some(5),
    )
    .op("publication");

    b.json(
        "json_wrong_field_type",
        r#"{"id":5,"subscribe":{"channel":42}}"#,
        Invalid,
        Some(5),
    );
    b.json(
        "json_missing_required_field",
        r#"{"id":6,"publish":{"channel":"chat:lobby"}}"#,
        Invalid,
        Some(6),
    )
    .note("publish without data.");
    b.json(
        "json_negative_offset",
        r#"{"id":8,"subscribe":{"channel":"chat:lobby","since":{"offset":-1,"epoch":"e1"}}}"#,
        Invalid,
        Some(8),
    );
    b.json(
        "json_limit_overflow",
        r#"{"id":8,"history":{"channel":"chat:lobby","limit":4294967296}}"#,
        Invalid,
        Some(8),
    )
    .note("limit is a u32.");
    b.json(
        "json_body_null",
        r#"{"id":3,"ping":null}"#,
        Invalid,
        Some(3),
    );
    b.json(
        "json_body_string",
        r#"{"id":3,"ping":"now"}"#,
        Invalid,
        Some(3),
    );
    b.json(
        "json_two_ops",
        r#"{"id":6,"ping":{},"presence":{"channel":"chat:lobby"}}"#,
        Invalid,
        Some(6),
    );
    b.json(
        "json_same_op_twice",
        r#"{"id":6,"ping":{},"ping":{}}"#,
        Invalid,
        Some(6),
    );
    b.json(
        "json_pong_with_id",
        r#"{"id":3,"pong":{}}"#,
        Invalid,
        Some(3),
    )
    .note("pong carries no id; with one it names no operation.");
    b.json("json_pong_null", r#"{"pong":null}"#, Invalid, None);
    b.json("json_only_id", r#"{"id":5}"#, Invalid, Some(5));
    b.json("json_empty_object", "{}", Invalid, None);

    b.json(
        "json_missing_id",
        r#"{"subscribe":{"channel":"chat:lobby"}}"#,
        Invalid,
        None,
    );
    b.json("json_id_zero", r#"{"id":0,"ping":{}}"#, Invalid, None)
        .note("Ids are non-zero; 0 is never recovered.");
    b.json("json_id_negative", r#"{"id":-1,"ping":{}}"#, Invalid, None);
    b.json(
        "json_id_2_pow_64",
        r#"{"id":18446744073709551616,"ping":{}}"#,
        Invalid,
        None,
    )
    .note("One more than the largest u64.");
    b.json(
        "json_id_1e40",
        r#"{"id":1e40,"subscribe":{"channel":"x"}}"#,
        Invalid,
        None,
    );
    b.json("json_id_float", r#"{"id":7.0,"ping":{}}"#, Invalid, None)
        .note("7.0 is not an integer token.");
    b.json("json_id_string", r#"{"id":"7","ping":{}}"#, Invalid, None);
    b.json("json_id_null", r#"{"id":null,"ping":{}}"#, Invalid, None);

    // ---- MessagePack, client -> server ----
    let publish = Codec::MessagePack
        .encode_client(&ClientFrame::Command(Command {
            id: 9,
            request: Request::Publish(PublishRequest {
                channel: "chat:lobby".into(),
                data: Payload::from(vec![0xde, 0xad, 0xbe, 0xef]),
                idempotency_key: None,
            }),
        }))
        .expect("encodes");
    let ping = Codec::MessagePack
        .encode_client(&ClientFrame::Command(Command {
            id: 1,
            request: Request::Ping(Empty {}),
        }))
        .expect("encodes");

    b.msgpack("msgpack_empty_frame", [], Malformed, None);
    b.msgpack(
        "msgpack_truncated_after_map_header",
        &publish[..1],
        Malformed,
        None,
    );
    let in_key = 1 + 3 + 1 + 3; // map header, "id", 9, half of the "publish" key
    b.msgpack(
        "msgpack_truncated_in_key",
        &publish[..in_key],
        Malformed,
        None,
    );
    b.msgpack(
        "msgpack_truncated_in_payload",
        &publish[..publish.len() - 2],
        Malformed,
        None,
    )
    .note("The last two bytes of the bin payload are missing.");
    b.msgpack(
        "msgpack_trailing_nil",
        concat(&[&ping, &[0xc0]]),
        Malformed,
        None,
    )
    .note("A complete frame followed by one more byte.");
    b.msgpack(
        "msgpack_two_frames",
        concat(&[&ping, &ping]),
        Malformed,
        None,
    );
    b.msgpack("msgpack_nil_frame", [0xc0], Malformed, None);
    b.msgpack("msgpack_reserved_marker", [0xc1], Malformed, None);
    b.msgpack("msgpack_integer_frame", [0x2a], Malformed, None);
    b.msgpack("msgpack_string_frame", mp_str("ping"), Malformed, None);
    b.msgpack(
        "msgpack_array_frame",
        concat(&[&[0x92], &mp_uint(1), &mp_map(&[("ping", mp_empty_map())])]),
        Malformed,
        None,
    );
    b.msgpack(
        "msgpack_bin_frame",
        concat(&[&[0xc4, ping.len() as u8], &ping]),
        Malformed,
        None,
    )
    .note("A whole frame inside a bin value is not a map.");
    b.msgpack(
        "msgpack_integer_key",
        concat(&[&[0x82, 0x01], &mp_uint(1), &mp_str("ping"), &mp_empty_map()]),
        Malformed,
        None,
    )
    .note("Keys must be strings.");
    b.msgpack(
        "msgpack_bin_key",
        concat(&[
            &[0x82, 0xc4, 0x02],
            b"id",
            &mp_uint(1),
            &mp_str("ping"),
            &mp_empty_map(),
        ]),
        Invalid,
        Some(1),
    )
    .note(
        "Keys must be str, not bin: the frame is rejected, but the UTF-8 bin key is still \
         read as the id, so the server can answer with an error reply.",
    );
    b.msgpack(
        "msgpack_invalid_utf8_key",
        concat(&[
            &[0x82],
            &mp_str(b"i\xff"),
            &mp_uint(1),
            &mp_str("ping"),
            &mp_empty_map(),
        ]),
        Malformed,
        None,
    );
    {
        let mut deep = vec![0x81, 0xa1, b'x'];
        deep.extend(std::iter::repeat_n(0x91, 200));
        deep.push(0x90);
        b.msgpack(
            "msgpack_nesting_too_deep",
            mp_map(&[("id", mp_uint(1)), ("ping", deep)]),
            Malformed,
            None,
        )
        .note(
            "200 nested arrays in an ignored field: MessagePack frames may nest at most 128 deep.",
        );
    }

    b.msgpack(
        "msgpack_unknown_op",
        mp_map(&[("id", mp_uint(4)), ("teleport", mp_empty_map())]),
        UnknownOp,
        Some(4),
    )
    .op("teleport");
    b.msgpack(
        "msgpack_wrong_field_type",
        mp_map(&[
            ("id", mp_uint(5)),
            ("subscribe", mp_map(&[("channel", mp_uint(42))])),
        ]),
        Invalid,
        Some(5),
    );
    b.msgpack(
        "msgpack_invalid_utf8_in_string",
        mp_map(&[
            ("id", mp_uint(1)),
            ("unsubscribe", mp_map(&[("channel", mp_str(b"chat:\xff"))])),
        ]),
        Invalid,
        Some(1),
    )
    .note("Unlike JSON, the MessagePack frame is still a readable map, so the id is recovered.");
    b.msgpack(
        "msgpack_two_ops",
        mp_map(&[
            ("id", mp_uint(6)),
            ("ping", mp_empty_map()),
            ("presence", mp_map(&[("channel", mp_str("chat:lobby"))])),
        ]),
        Invalid,
        Some(6),
    );
    b.msgpack(
        "msgpack_missing_id",
        mp_map(&[("ping", mp_empty_map())]),
        Invalid,
        None,
    );
    b.msgpack(
        "msgpack_id_zero",
        mp_map(&[("id", mp_uint(0)), ("ping", mp_empty_map())]),
        Invalid,
        None,
    );
    b.msgpack(
        "msgpack_id_negative",
        mp_map(&[("id", vec![0xff]), ("ping", mp_empty_map())]),
        Invalid,
        None,
    )
    .note("-1 as a negative fixint.");
    b.msgpack(
        "msgpack_id_float",
        mp_map(&[("id", mp_f64(7.0)), ("ping", mp_empty_map())]),
        Invalid,
        None,
    );
    b.msgpack(
        "msgpack_id_1e40",
        mp_map(&[("id", mp_f64(1e40)), ("ping", mp_empty_map())]),
        Invalid,
        None,
    );
    b.msgpack(
        "msgpack_id_2_pow_64",
        mp_map(&[
            ("id", mp_f64(18_446_744_073_709_551_616.0)),
            ("ping", mp_empty_map()),
        ]),
        Invalid,
        None,
    )
    .note("2^64 can only be written as a float in MessagePack.");
    b.msgpack(
        "msgpack_id_string",
        mp_map(&[("id", mp_str("7")), ("ping", mp_empty_map())]),
        Invalid,
        None,
    );
    b.msgpack(
        "msgpack_pong_with_id",
        mp_map(&[("id", mp_uint(3)), ("pong", mp_empty_map())]),
        Invalid,
        Some(3),
    );

    // ---- server -> client: a client's decoder ----
    b.server(
        "server_push_with_id",
        CodecName::Json,
        r#"{"id":3,"publication":{"channel":"chat:lobby","data":1}}"#,
    )
    .note("Pushes never carry an id (only ping exists as both a reply and a push).");
    b.server(
        "server_reply_without_id",
        CodecName::Json,
        r#"{"publish":{}}"#,
    );
    b.server(
        "server_error_without_id",
        CodecName::Json,
        r#"{"error":{"code":100,"message":"internal error"}}"#,
    );
    b.server(
        "server_reply_and_error",
        CodecName::Json,
        r#"{"id":3,"publish":{},"error":{"code":100,"message":"x"}}"#,
    );
    b.server(
        "server_two_pushes",
        CodecName::Json,
        r#"{"join":{"channel":"a:b","info":{"user":"u","client":"c"}},"leave":{"channel":"a:b","info":{"user":"u","client":"c"}}}"#,
    );
    b.server(
        "server_only_unknown_keys",
        CodecName::Json,
        r#"{"teleport":{}}"#,
    )
    .note("Unknown keys are ignored by a client (forward compatibility), leaving no operation.");
    b.server(
        "server_error_code_not_a_number",
        CodecName::Json,
        r#"{"id":1,"error":{"code":"internal","message":"x"}}"#,
    );
    b.server("server_array_frame", CodecName::Json, "[]");
    b.server(
        "server_msgpack_truncated",
        CodecName::Msgpack,
        &mp_map(&[("ping", mp_empty_map())])[..5],
    );
    b.server(
        "server_msgpack_trailing_bytes",
        CodecName::Msgpack,
        concat(&[&mp_map(&[("ping", mp_empty_map())]), &[0x00]]),
    );

    VectorFile {
        description: "Frames a decoder must reject. `direction: client` frames are read by a server \
                      (decode_client), which must report `expect` and recover `id` (to answer with an \
                      error reply) and `op`; `direction: server` frames are read by a client \
                      (decode_server), which reports every failure as malformed."
            .to_owned(),
        vectors: b.vectors,
    }
}
