//! The two codecs, selected by the WebSocket subprotocol.
//!
//! | subprotocol         | codec       | WebSocket frames |
//! |---------------------|-------------|------------------|
//! | `chorus.v1.json`    | JSON        | text             |
//! | `chorus.v1.msgpack` | MessagePack | binary           |
//!
//! Both encode the same Rust types (one set of types, two serde formats); MessagePack
//! uses maps with string keys, exactly mirroring the JSON objects. Decoding never
//! panics on any input; failures are classified into a [`DecodeError`] that says
//! how a server should answer (typed error reply, or close).

use serde::Deserialize;
use serde::de::IgnoredAny;
use thiserror::Error;

use crate::codes::{CloseCode, ErrorCode};
use crate::frame::{ClientFrame, Request, ServerFrame};

/// Subprotocol name of the JSON codec.
pub const JSON_SUBPROTOCOL: &str = "chorus.v1.json";
/// Subprotocol name of the MessagePack codec.
pub const MSGPACK_SUBPROTOCOL: &str = "chorus.v1.msgpack";

/// Deepest nesting a MessagePack frame may have (JSON's parser stops at 128).
const MAX_DEPTH: usize = 128;

/// A wire codec, chosen by the WebSocket subprotocol the server echoed at the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Codec {
    /// JSON in text frames.
    #[default]
    Json,
    /// MessagePack in binary frames.
    MessagePack,
}

/// Why a frame could not be decoded, and how to answer it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Not a frame at all (invalid JSON, UTF-8 or MessagePack; not a map).
    /// A server closes the connection with [`CloseCode::PROTOCOL_ERROR`].
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// A well-formed frame naming an operation this side does not know.
    /// A server answers [`ErrorCode::UNKNOWN_OP`] when the id is known.
    #[error("unknown op `{op}`")]
    UnknownOp {
        /// The command id, when it could be read.
        id: Option<u64>,
        /// A top-level key that is neither `id`, `pong` nor a command key, as written.
        op: String,
    },
    /// A map whose operation is known (or absent) but whose fields are wrong: wrong
    /// types, missing fields, a missing, zero or non-u64 id. A server answers
    /// [`ErrorCode::BAD_REQUEST`] when the id is known, and closes otherwise.
    #[error("invalid frame: {message}")]
    Invalid {
        /// The command id, when it could be read.
        id: Option<u64>,
        /// The decoder's explanation, which a server sends as the reply's message.
        message: String,
    },
}

impl DecodeError {
    /// The id of the command this error answers, if it could be recovered.
    pub fn id(&self) -> Option<u64> {
        match self {
            DecodeError::Malformed(_) => None,
            DecodeError::UnknownOp { id, .. } | DecodeError::Invalid { id, .. } => *id,
        }
    }

    /// The error code a server replies with (when [`DecodeError::id`] is known).
    pub fn error_code(&self) -> ErrorCode {
        match self {
            DecodeError::UnknownOp { .. } => ErrorCode::UNKNOWN_OP,
            _ => ErrorCode::BAD_REQUEST,
        }
    }

    /// The close code a server uses when no reply is possible.
    pub fn close_code(&self) -> CloseCode {
        CloseCode::PROTOCOL_ERROR
    }
}

/// Encoding failed: only possible for values that cannot be represented, never for
/// the frame types of this crate in practice.
#[derive(Debug, Error)]
#[error("encode failed: {0}")]
pub struct EncodeError(String);

/// A lenient view of a frame: its id and its keys, for classifying decode errors.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    id: Option<IgnoredIdOr>,
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, IgnoredAny>,
}

/// An id that may be of the wrong type; only a u64 is usable.
#[derive(Deserialize)]
#[serde(untagged)]
enum IgnoredIdOr {
    Id(u64),
    Other(IgnoredAny),
}

impl Codec {
    /// The codec's short name, `json` or `msgpack`: what every SDK's `codec`
    /// option, the test vectors and the reports call it.
    pub const fn name(self) -> &'static str {
        match self {
            Codec::Json => "json",
            Codec::MessagePack => "msgpack",
        }
    }

    /// The codec of a short name (see [`Codec::name`]).
    pub fn from_name(name: &str) -> Option<Codec> {
        [Codec::Json, Codec::MessagePack]
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// The subprotocol name that selects this codec.
    pub const fn subprotocol(self) -> &'static str {
        match self {
            Codec::Json => JSON_SUBPROTOCOL,
            Codec::MessagePack => MSGPACK_SUBPROTOCOL,
        }
    }

    /// The codec for a subprotocol name, if it is one of ours.
    pub fn from_subprotocol(name: &str) -> Option<Codec> {
        match name.trim() {
            JSON_SUBPROTOCOL => Some(Codec::Json),
            MSGPACK_SUBPROTOCOL => Some(Codec::MessagePack),
            _ => None,
        }
    }

    /// Whether frames travel as binary WebSocket messages (else text).
    pub const fn is_binary(self) -> bool {
        matches!(self, Codec::MessagePack)
    }

    /// Encodes any serialisable frame.
    fn encode<T: serde::Serialize>(self, value: &T) -> Result<Vec<u8>, EncodeError> {
        match self {
            Codec::Json => serde_json::to_vec(value).map_err(|e| EncodeError(e.to_string())),
            Codec::MessagePack => {
                rmp_serde::to_vec_named(value).map_err(|e| EncodeError(e.to_string()))
            }
        }
    }

    fn decode<'a, T: Deserialize<'a>>(self, bytes: &'a [u8]) -> Result<T, String> {
        match self {
            Codec::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
            Codec::MessagePack => {
                let mut rest = bytes;
                let mut de = rmp_serde::Deserializer::new(&mut rest);
                de.set_max_depth(MAX_DEPTH);
                let value = T::deserialize(&mut de).map_err(|e| e.to_string())?;
                if !rest.is_empty() {
                    return Err("trailing bytes after the frame".to_owned());
                }
                Ok(value)
            }
        }
    }

    /// Encodes a client frame.
    pub fn encode_client(self, frame: &ClientFrame) -> Result<Vec<u8>, EncodeError> {
        self.encode(frame)
    }

    /// Encodes a server frame.
    pub fn encode_server(self, frame: &ServerFrame) -> Result<Vec<u8>, EncodeError> {
        self.encode(frame)
    }

    /// Decodes a server frame (what a client reads).
    ///
    /// The wasm32 build reads both codecs through the compact readers (see
    /// [`Codec::decode_server_compact`]), which keep the browser SDK small.
    pub fn decode_server(self, bytes: &[u8]) -> Result<ServerFrame, DecodeError> {
        if cfg!(target_arch = "wasm32") {
            return self.decode_server_compact(bytes);
        }
        self.decode(bytes).map_err(DecodeError::Malformed)
    }

    /// Decodes a server frame through a value tree (one for both codecs)
    /// instead of `serde_json`'s and `rmp_serde`'s per-type decoders: the same
    /// frames are accepted and refused, with one small decoder per type for
    /// both codecs. Public so that tests on every target can prove it agrees
    /// with [`Codec::decode_server`]'s native readers.
    pub fn decode_server_compact(self, bytes: &[u8]) -> Result<ServerFrame, DecodeError> {
        match self {
            Codec::Json => crate::tree::json::from_slice(bytes)
                .map_err(|e| DecodeError::Malformed(e.to_string())),
            Codec::MessagePack => crate::tree::msgpack::from_slice(bytes, MAX_DEPTH)
                .map_err(|e| DecodeError::Malformed(e.to_string())),
        }
    }

    /// Decodes a client frame (what a server reads), classifying failures.
    pub fn decode_client(self, bytes: &[u8]) -> Result<ClientFrame, DecodeError> {
        match self.decode::<ClientFrame>(bytes) {
            Ok(frame) => Ok(frame),
            Err(message) => Err(self.classify(bytes, message)),
        }
    }

    /// Second, lenient pass over a frame that failed to decode.
    fn classify(self, bytes: &[u8], message: String) -> DecodeError {
        let Ok(probe) = self.decode::<Probe>(bytes) else {
            return DecodeError::Malformed(message);
        };
        let id = match probe.id {
            Some(IgnoredIdOr::Id(id)) if id != 0 => Some(id),
            _ => None,
        };
        let unknown = probe
            .rest
            .keys()
            .find(|k| !Request::KEYS.contains(&k.as_str()) && k.as_str() != "pong");
        match unknown {
            Some(op) => DecodeError::UnknownOp {
                id,
                op: op.chars().take(64).collect(),
            },
            None => DecodeError::Invalid { id, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Command, Push, Reply, ReplyBody};
    use crate::message::*;
    use crate::payload::Payload;

    fn both() -> [Codec; 2] {
        [Codec::Json, Codec::MessagePack]
    }

    #[test]
    fn subprotocols() {
        for c in both() {
            assert_eq!(Codec::from_subprotocol(c.subprotocol()), Some(c));
        }
        assert_eq!(Codec::from_subprotocol("chorus.v2.json"), None);
    }

    #[test]
    fn names() {
        for c in both() {
            assert_eq!(Codec::from_name(c.name()), Some(c));
        }
        assert_eq!(Codec::MessagePack.name(), "msgpack");
        assert_eq!(Codec::from_name("JSON"), None);
    }

    #[test]
    fn command_json_shape() {
        let frame = ClientFrame::Command(Command {
            id: 7,
            request: Request::Publish(PublishRequest {
                channel: "chat:lobby".into(),
                data: Payload::from(r#"{"text":"hi"}"#),
                idempotency_key: None,
            }),
        });
        let bytes = Codec::Json.encode_client(&frame).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"id":7,"publish":{"channel":"chat:lobby","data":{"text":"hi"}}}"#
        );
        for c in both() {
            let bytes = c.encode_client(&frame).unwrap();
            assert_eq!(c.decode_client(&bytes).unwrap(), frame);
        }
    }

    #[test]
    fn key_order_does_not_matter() {
        let frame = Codec::Json.decode_client(br#"{"ping":{},"id":3}"#).unwrap();
        assert_eq!(
            frame,
            ClientFrame::Command(Command {
                id: 3,
                request: Request::Ping(Empty {})
            })
        );
    }

    #[test]
    fn ping_reply_and_push_are_told_apart_by_id() {
        let c = Codec::Json;
        assert_eq!(
            c.decode_server(br#"{"ping":{}}"#).unwrap(),
            ServerFrame::Push(Push::Ping(Empty {}))
        );
        assert_eq!(
            c.decode_server(br#"{"ping":{},"id":9}"#).unwrap(),
            ServerFrame::Reply(Reply {
                id: 9,
                result: Ok(ReplyBody::Ping(Empty {}))
            })
        );
    }

    #[test]
    fn decode_errors_are_classified() {
        let c = Codec::Json;
        assert!(matches!(
            c.decode_client(b"{"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            c.decode_client(b"[1,2]"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            c.decode_client(b"\xff\xfe"),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(
            c.decode_client(br#"{"id":4,"teleport":{}}"#),
            Err(DecodeError::UnknownOp {
                id: Some(4),
                op: "teleport".into()
            })
        );
        let e = c
            .decode_client(br#"{"id":5,"subscribe":{"channel":42}}"#)
            .unwrap_err();
        assert!(
            matches!(e, DecodeError::Invalid { id: Some(5), .. }),
            "{e:?}"
        );
        let e = c
            .decode_client(br#"{"id":1e40,"subscribe":{"channel":"x"}}"#)
            .unwrap_err();
        assert_eq!(e.id(), None);
        let e = c
            .decode_client(br#"{"subscribe":{"channel":"x"}}"#)
            .unwrap_err();
        assert!(matches!(e, DecodeError::Invalid { id: None, .. }), "{e:?}");
        let e = c.decode_client(br#"{"id":0,"ping":{}}"#).unwrap_err();
        assert_eq!(e.id(), None);
    }

    #[test]
    fn truncated_msgpack_is_malformed() {
        let frame = ClientFrame::Command(Command {
            id: 1,
            request: Request::Ping(Empty {}),
        });
        let bytes = Codec::MessagePack.encode_client(&frame).unwrap();
        for cut in 0..bytes.len() {
            assert!(Codec::MessagePack.decode_client(&bytes[..cut]).is_err());
        }
        let mut extra = bytes.clone();
        extra.push(0xc0);
        assert!(Codec::MessagePack.decode_client(&extra).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            for c in both() {
                let _ = c.decode_client(&bytes);
                let _ = c.decode_server(&bytes);
            }
        }

        #[test]
        fn the_compact_reader_agrees_on_arbitrary_bytes(bytes: Vec<u8>) {
            for c in both() {
                proptest::prop_assert_eq!(c.decode_server(&bytes).ok(), c.decode_server_compact(&bytes).ok());
            }
        }

        #[test]
        fn the_compact_reader_agrees_on_arbitrary_json_text(text in "[\\[\\]{}\",:0-9a-z .eE+\\\\-]{0,40}") {
            let c = Codec::Json;
            let bytes = text.as_bytes();
            proptest::prop_assert_eq!(c.decode_server(bytes).ok(), c.decode_server_compact(bytes).ok());
        }

        #[test]
        fn mutated_frames_never_panic(pos: usize, byte: u8) {
            let frame = ClientFrame::Command(Command {
                id: 12,
                request: Request::History(HistoryRequest {
                    channel: "chat:x".into(),
                    limit: Some(10),
                    since: Some(StreamPosition { offset: 3, epoch: "e".into() }),
                    reverse: true,
                }),
            });
            for c in both() {
                let mut bytes = c.encode_client(&frame).unwrap();
                let i = pos % bytes.len();
                bytes[i] = byte;
                let _ = c.decode_client(&bytes);
                let _ = c.decode_server(&bytes);
            }
        }

        #[test]
        fn the_compact_reader_agrees_on_mutated_server_frames(pos: usize, byte: u8, cut: usize) {
            let frame = ServerFrame::Push(crate::frame::Push::Publication(crate::message::Publication {
                channel: "chat:x".into(),
                offset: Some(3),
                epoch: Some("e".into()),
                data: crate::payload::Payload::from(b"{\"a\":[1,2]}".to_vec()),
                ..Default::default()
            }));
            for c in both() {
                let mut bytes = c.encode_server(&frame).unwrap();
                let i = pos % bytes.len();
                bytes[i] = byte;
                bytes.truncate(bytes.len() - cut % 3);
                proptest::prop_assert_eq!(c.decode_server(&bytes).ok(), c.decode_server_compact(&bytes).ok());
            }
        }
    }
}
