//! Application payloads: opaque bytes that survive both codecs unchanged.
//!
//! Chorus never interprets application data. Inside a frame it is carried as:
//!
//! * **MessagePack** (`chorus.v1.msgpack`): a `bin` value holding the bytes as they are.
//! * **JSON** (`chorus.v1.json`): the bytes embedded verbatim as a JSON value when they
//!   are valid JSON (always the case for data published by a JSON client, whitespace
//!   included); otherwise the object `{"$bytes":"<standard base64>"}`.
//!
//! Decoding reverses exactly that, so `decode(encode(p)) == p` in both codecs and a
//! payload published in one codec reaches subscribers of the other byte for byte.
//! The one reserved form is a JSON object whose only member is `"$bytes"` (spelled
//! literally, without escapes) holding valid standard base64: it means "these bytes".
//! Any other JSON, including `{"$bytes":"!!"}`, is ordinary application data.
//!
//! Optional payload fields (`data`, `info`) are omitted when absent; a present
//! `null` is the four bytes `null`, never "absent" (see [`option`]).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The JSON member name that marks a base64-wrapped binary payload.
pub const BYTES_KEY: &str = "$bytes";

/// Opaque application data, cheap to clone (reference counted).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Payload(Bytes);

impl Payload {
    /// Wraps bytes without copying.
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Self(bytes.into())
    }

    /// Serialises `value` as JSON, the natural payload of JSON-speaking applications.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_vec(value).map(Self::new)
    }

    /// The bytes as the application gave them (never base64, whatever the codec).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying shared buffer.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes as JSON text, when the JSON codec embeds them as they are;
    /// `None` when it wraps them as `{"$bytes": base64}` (see the module doc).
    pub fn json_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.0)
            .ok()
            .filter(|s| crate::tree::json::is_bare_value(s.as_bytes()) && !is_bytes_wrapper(s))
    }

    /// The bytes in standard base64, as the `$bytes` wrapper holds them.
    pub fn to_base64(&self) -> String {
        BASE64.encode(&self.0)
    }

    /// Parses the bytes as JSON into `T`.
    pub fn parse_json<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.0)
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) => write!(f, "Payload({s:?})"),
            Err(_) => write!(f, "Payload({:02x?})", &self.0[..]),
        }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Self {
        Self(v.into())
    }
}

impl From<&'static str> for Payload {
    fn from(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Self {
        Self(s.into())
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Self {
        Self(b)
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return serializer.serialize_bytes(&self.0);
        }
        match self.json_text() {
            Some(text) => RawJson(text).serialize(serializer),
            None => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(BYTES_KEY, &self.to_base64())?;
                map.end()
            }
        }
    }
}

/// JSON text that `serde_json` writes as it is: what its `RawValue`
/// serialises as (a struct of one field, both named with its token), without
/// parsing the text a second time to make one.
struct RawJson<'a>(&'a str);

impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const TOKEN: &str = "$serde_json::private::RawValue";
        let mut raw = serializer.serialize_struct(TOKEN, 1)?;
        raw.serialize_field(TOKEN, self.0)?;
        raw.end()
    }
}

/// True when `s` is (syntactically) the reserved `{"$bytes": "..."}` wrapper.
///
/// Such text cannot be embedded as-is, or it would decode as binary; it is
/// wrapped itself instead, which keeps the mapping injective.
fn is_bytes_wrapper(s: &str) -> bool {
    let t = s.trim_start();
    t.starts_with('{') && t.contains(BYTES_KEY) && unwrap_bytes(s).is_some()
}

/// Decodes the reserved wrapper, or returns `None` when `s` is anything else.
fn unwrap_bytes(s: &str) -> Option<Vec<u8>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapper<'a> {
        #[serde(rename = "$bytes", borrow)]
        bytes: std::borrow::Cow<'a, str>,
    }
    let w: Wrapper<'_> = crate::tree::json::from_slice(s.as_bytes()).ok()?;
    BASE64.decode(w.bytes.as_bytes()).ok()
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let raw = <Box<RawValue>>::deserialize(deserializer)?;
            let text = raw.get();
            let trimmed = text.trim_start();
            if trimmed.starts_with('{') && trimmed.contains(BYTES_KEY) {
                if let Some(bytes) = unwrap_bytes(text) {
                    return Ok(Payload::from(bytes));
                }
            }
            Ok(Payload(Bytes::copy_from_slice(text.as_bytes())))
        } else {
            deserializer.deserialize_bytes(BytesVisitor)
        }
    }
}

/// Serde helpers for `Option<Payload>` fields: absence (via `#[serde(default)]`)
/// is `None`, while a JSON `null` is the payload `null`. Use as
/// `#[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "option::deserialize")]`.
pub mod option {
    use super::Payload;
    use serde::{Deserialize, Deserializer};

    /// Deserialises a present field as `Some`, keeping a JSON `null` as data.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Payload>, D::Error> {
        if d.is_human_readable() {
            Payload::deserialize(d).map(Some)
        } else {
            // MessagePack `nil` from other implementations means absent.
            Option::<Payload>::deserialize(d)
        }
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Payload;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("binary payload")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Payload, E> {
        Ok(Payload(Bytes::copy_from_slice(v)))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Payload, E> {
        Ok(Payload(v.into()))
    }

    // MessagePack peers that send a `str` instead of `bin` are accepted.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Payload, E> {
        Ok(Payload(Bytes::copy_from_slice(v.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Holder {
        data: Payload,
    }

    fn json_round_trip(p: &Payload) -> (String, Payload) {
        let text = serde_json::to_string(&Holder { data: p.clone() }).unwrap();
        let back: Holder = serde_json::from_str(&text).unwrap();
        (text, back.data)
    }

    fn msgpack_round_trip(p: &Payload) -> Payload {
        let bytes = rmp_serde::to_vec_named(&Holder { data: p.clone() }).unwrap();
        rmp_serde::from_slice::<Holder>(&bytes).unwrap().data
    }

    #[test]
    fn json_payload_is_embedded_verbatim() {
        let p = Payload::from(r#"{ "text" : "hi" }"#);
        let (text, back) = json_round_trip(&p);
        assert_eq!(text, r#"{"data":{ "text" : "hi" }}"#);
        assert_eq!(back, p);
    }

    #[test]
    fn binary_payload_is_wrapped_in_json() {
        let p = Payload::from(vec![0xff, 0x00, 0x01]);
        let (text, back) = json_round_trip(&p);
        assert_eq!(text, r#"{"data":{"$bytes":"/wAB"}}"#);
        assert_eq!(back, p);
    }

    #[test]
    fn literal_wrapper_text_stays_injective() {
        let p = Payload::from(r#"{"$bytes":"/wAB"}"#);
        let (_, back) = json_round_trip(&p);
        assert_eq!(back, p);
        assert_ne!(
            json_round_trip(&Payload::from(vec![0xff, 0, 1])).0,
            json_round_trip(&p).0
        );
    }

    #[test]
    fn msgpack_carries_bin() {
        let p = Payload::from(vec![0xc1, 0xff]);
        assert_eq!(msgpack_round_trip(&p), p);
    }

    #[test]
    fn empty_payload_round_trips() {
        let p = Payload::default();
        assert_eq!(json_round_trip(&p).1, p);
        assert_eq!(msgpack_round_trip(&p), p);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_survive_both_codecs(bytes: Vec<u8>) {
            let p = Payload::from(bytes);
            proptest::prop_assert_eq!(json_round_trip(&p).1, p.clone());
            proptest::prop_assert_eq!(msgpack_round_trip(&p), p);
        }

        #[test]
        fn any_json_text_is_kept_verbatim(s in "[ \\t]*\\{\"[a-z$]{0,6}\" ?: ?(1|\"x\"|\\[\\]|null)\\}[ ]*") {
            let p = Payload::from(s.clone());
            proptest::prop_assert_eq!(json_round_trip(&p).1, p);
        }
    }
}
