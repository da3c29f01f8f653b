//! How frames look on the wire: the WebSocket message of each codec, pushes
//! of kinds this client does not know, arbitrary values encoded, and frames
//! shown in failure messages.

use std::collections::BTreeMap;

use chorus_protocol::{Codec, Push, ReplyBody};
use serde::de::IgnoredAny;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use super::{Failure, fail};

/// The message type of `codec` holding `bytes` (text for JSON, binary for
/// MessagePack); bytes that are not UTF-8 on a JSON connection go out as a raw
/// text frame, unchecked, so that a server's handling of them can be tested.
pub fn data_message(codec: Codec, bytes: Vec<u8>) -> Message {
    if codec.is_binary() {
        return Message::Binary(bytes.into());
    }
    match String::from_utf8(bytes) {
        Ok(text) => Message::Text(text.into()),
        Err(e) => Message::Frame(Frame::message(
            e.into_bytes(),
            OpCode::Data(Data::Text),
            true,
        )),
    }
}

/// True for a well-formed server frame that holds no operation this client
/// knows and no id: a push of a kind added by a newer server, which the
/// protocol says to ignore.
pub(super) fn is_unknown_push(codec: Codec, raw: &[u8]) -> bool {
    type Keys = BTreeMap<String, IgnoredAny>;
    let keys: Option<Keys> = match codec {
        Codec::Json => serde_json::from_slice(raw).ok(),
        Codec::MessagePack => rmp_serde::from_slice(raw).ok(),
    };
    keys.is_some_and(|keys| {
        keys.keys().all(|k| {
            k != "id" && k != "error" && !Push::KEYS.contains(&k.as_str()) && {
                !ReplyBody::KEYS.contains(&k.as_str())
            }
        })
    })
}

/// Encodes an arbitrary value with `codec` (JSON, or MessagePack maps with
/// string keys), for frames the protocol types cannot express.
pub fn encode_value(codec: Codec, value: &serde_json::Value) -> Result<Vec<u8>, Failure> {
    match codec {
        Codec::Json => serde_json::to_vec(value).map_err(|e| fail!("cannot encode: {e}")),
        Codec::MessagePack => {
            rmp_serde::to_vec_named(value).map_err(|e| fail!("cannot encode: {e}"))
        }
    }
}

/// A frame for messages: JSON as text, MessagePack as hex (shortened).
pub fn show(raw: &[u8], codec: Codec) -> String {
    const MAX: usize = 300;
    let mut s = match codec {
        Codec::Json => String::from_utf8_lossy(raw).into_owned(),
        Codec::MessagePack => raw.iter().map(|b| format!("{b:02x}")).collect(),
    };
    if s.len() > MAX {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_pushes_are_recognised() {
        for codec in [Codec::Json, Codec::MessagePack] {
            let unknown =
                encode_value(codec, &serde_json::json!({"presence_changed": {}})).expect("encodes");
            assert!(is_unknown_push(codec, &unknown), "{codec:?}");
            for known in [
                serde_json::json!({"publication": 1}),
                serde_json::json!({"id": 3, "teleport": {}}),
                serde_json::json!({"error": {}}),
            ] {
                let bytes = encode_value(codec, &known).expect("encodes");
                assert!(!is_unknown_push(codec, &bytes), "{codec:?} {known}");
            }
            assert!(!is_unknown_push(codec, b"\xff not a frame"));
        }
    }
}
