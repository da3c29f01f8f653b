//! Compact readers for the browser SDK: a frame is parsed once into a tree
//! that borrows from the input, and the protocol's types deserialise from the
//! tree.
//!
//! Why: serde generates a type's decoder again for every deserializer it
//! meets, and `rmp_serde`'s and `serde_json`'s readers are generated again for
//! every type they read; in the WebAssembly module that was most of its size.
//! With one tree for both codecs ([`msgpack`] and [`json`] build the same
//! [`Node`]s), each protocol type has one decoder, a small `match` over the
//! tree. The wasm32 build reads server frames this way
//! ([`crate::codec::Codec::decode_server`]).
//!
//! Each reader accepts and refuses what the codec's native reader does
//! (`rmp_serde`, `serde_json`); the vector tests and property tests compare
//! them on every target. Where the codecs differ (MessagePack bytes read as a
//! sequence, JSON `data` kept as raw text) the deserializer asks which codec
//! built the tree.

pub mod json;
pub mod msgpack;

use std::fmt;

use serde::de::{self, Deserializer, IntoDeserializer, Visitor};

/// One value of either codec, borrowing strings and bytes from the input.
#[derive(Debug)]
enum Value<'a> {
    Nil,
    Bool(bool),
    /// Any unsigned integer, widened (serde's visitors treat a u8 as the u64
    /// it fits in, so one call per kind keeps the code per type small).
    Uint(u64),
    /// Any negative integer (MessagePack: any signed one), widened.
    Int(i64),
    /// A MessagePack float, or a JSON number that is not a 64-bit integer (a
    /// fraction, an exponent, `-0`, too large): no protocol field takes one,
    /// so it is only skipped or kept as raw text, and visiting it is an error,
    /// as it is where `rmp_serde` and `serde_json` hand it over as an `f64`
    /// (and without the code that would print it in the error message).
    Number,
    /// A string's bytes (JSON: between the quotes, with its escapes when
    /// `escaped`); invalid UTF-8 is found when the string is read.
    Str {
        bytes: &'a [u8],
        escaped: bool,
    },
    /// MessagePack `bin`.
    Bin(&'a [u8]),
    Array(Vec<Node<'a>>),
    Map(Vec<(Node<'a>, Node<'a>)>),
    /// A MessagePack extension value; only ignoring it succeeds.
    Ext,
    /// JSON nested beyond the depth limit: skipped without a tree, as
    /// `serde_json` skips it; only ignoring it or keeping it as raw text
    /// succeeds.
    Deep,
}

/// A value and the input it was read from (the raw text of a JSON value).
#[derive(Debug)]
pub(crate) struct Node<'a> {
    value: Value<'a>,
    raw: &'a [u8],
}

/// The value `nil`, for extensions visited as a newtype.
static NIL: Node<'static> = Node {
    value: Value::Nil,
    raw: &[],
};

/// Why a frame could not be read.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    fn new(message: &str) -> Error {
        Error(message.to_owned())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// `serde_json`'s name for its raw value: a type asking for a newtype of
/// this name takes the value's text (how `Payload` keeps JSON data as it is).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Deserialises `T` from a tree; `json` says which codec built it.
fn deserialize<'a, T: de::Deserialize<'a>>(node: &Node<'a>, json: bool) -> Result<T, Error> {
    T::deserialize(Tree { node, json })
}

/// The deserializer: a node of the tree and the codec that built it.
#[derive(Clone, Copy)]
struct Tree<'t, 'a> {
    node: &'t Node<'a>,
    json: bool,
}

impl<'t, 'de> Tree<'t, 'de> {
    fn at(self, node: &'t Node<'de>) -> Tree<'t, 'de> {
        Tree { node, ..self }
    }

    fn invalid(self, expected: &dyn de::Expected) -> Error {
        let what = if self.json {
            "a JSON value"
        } else {
            "a MessagePack value"
        };
        de::Error::invalid_type(de::Unexpected::Other(what), expected)
    }

    /// Visits a string: borrowed when it has no escapes. MessagePack strings
    /// that are not UTF-8 go to visitors that take bytes (as `rmp_serde`
    /// does); JSON ones are an error (as in `serde_json`).
    fn visit_str<V: Visitor<'de>>(
        self,
        bytes: &'de [u8],
        escaped: bool,
        visitor: V,
    ) -> Result<V::Value, Error> {
        match text(bytes, escaped, self.json)? {
            Text::Borrowed(s) => visitor.visit_borrowed_str(s),
            Text::Owned(s) => visitor.visit_str(&s),
            Text::Bytes(b) => visitor
                .visit_borrowed_bytes::<Error>(b)
                .map_err(|_| Error::new(NOT_UTF8)),
        }
    }

    /// A scalar (a number, a string, bytes, unit); [`Deserializer::deserialize_any`]
    /// adds the containers. Where only a scalar is asked for, arrays and maps
    /// are refused at once, as the scalar visitors refuse them, rather than
    /// offered to the visitor (which would need a sequence and a map reader
    /// of its own, in every visitor's copy of this code).
    fn visit_scalar<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Nil => visitor.visit_unit(),
            Value::Bool(v) => visitor.visit_bool(*v),
            Value::Uint(v) => visitor.visit_u64(*v),
            Value::Int(v) => visitor.visit_i64(*v),
            Value::Str { bytes, escaped } => self.visit_str(bytes, *escaped, visitor),
            Value::Bin(bytes) => visitor.visit_borrowed_bytes(bytes),
            Value::Deep => Err(Error::new("recursion limit exceeded")),
            Value::Number | Value::Array(_) | Value::Map(_) | Value::Ext => {
                Err(self.invalid(&visitor))
            }
        }
    }

    fn visit_items<V: Visitor<'de>>(
        self,
        items: &'t [Node<'de>],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let mut seq = de::value::SeqDeserializer::new(items.iter().map(|n| self.at(n)));
        let out = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(out)
    }

    fn visit_entries<V: Visitor<'de>>(
        self,
        entries: &'t [(Node<'de>, Node<'de>)],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let mut map =
            de::value::MapDeserializer::new(entries.iter().map(|(k, v)| (self.at(k), self.at(v))));
        let out = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(out)
    }

    /// Where a struct or a sequence is asked for, MessagePack bytes are a
    /// sequence of integers. Unlike an array, bytes the visitor leaves unread
    /// are not an error: so `rmp_serde` reads them, and both must refuse the
    /// same frames.
    ///
    /// Structs and sequences visit only maps and sequences (serde's visitors
    /// for them refuse everything else), so any other value fails here at
    /// once: the same outcome in less code per type.
    fn visit_as_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Bin(bytes) => visitor.visit_seq(de::value::SeqDeserializer::<_, Error>::new(
                bytes.iter().copied(),
            )),
            Value::Array(items) => self.visit_items(items, visitor),
            Value::Map(entries) => self.visit_entries(entries, visitor),
            Value::Deep => Err(Error::new("recursion limit exceeded")),
            _ => Err(self.invalid(&visitor)),
        }
    }
}

/// What a string is read as ([`Tree::visit_str`]), found outside the
/// visitor's code so that this part is not repeated for every visitor.
enum Text<'de> {
    Borrowed(&'de str),
    /// Unescaped (JSON).
    Owned(String),
    /// Not UTF-8 (MessagePack).
    Bytes(&'de [u8]),
}

const NOT_UTF8: &str = "a string is not valid UTF-8";

fn text(bytes: &[u8], escaped: bool, json: bool) -> Result<Text<'_>, Error> {
    if escaped {
        return json::unescape(bytes).map(Text::Owned);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Text::Borrowed(s)),
        Err(_) if json => Err(Error::new(NOT_UTF8)),
        Err(_) => Ok(Text::Bytes(bytes)),
    }
}

impl<'t, 'de> IntoDeserializer<'de, Error> for Tree<'t, 'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// The one-entry map through which `serde_json`'s raw value takes its text.
struct RawText<'de>(Option<&'de str>);

impl<'de> de::MapAccess<'de> for RawText<'de> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.0.is_none() {
            return Ok(None);
        }
        seed.deserialize(de::value::BorrowedStrDeserializer::new(RAW_VALUE_TOKEN))
            .map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let text = self.0.take().ok_or_else(|| Error::new("no raw value"))?;
        seed.deserialize(de::value::BorrowedStrDeserializer::new(text))
    }
}

impl<'t, 'de> Deserializer<'de> for Tree<'t, 'de> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        self.json
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Array(items) => self.visit_items(items, visitor),
            Value::Map(entries) => self.visit_entries(entries, visitor),
            Value::Ext => visitor.visit_newtype_struct(self.at(&NIL)),
            _ => self.visit_scalar(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Nil => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if self.json && name == RAW_VALUE_TOKEN {
            let text = std::str::from_utf8(self.node.raw).map_err(|e| Error(e.to_string()))?;
            return visitor.visit_map(RawText(Some(text)));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.visit_as_seq(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.visit_as_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.visit_as_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.visit_as_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // Unit variants, written as their name; the protocol has no other enums on the wire.
        match &self.node.value {
            Value::Str {
                bytes,
                escaped: false,
            } => match std::str::from_utf8(bytes) {
                Ok(s) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(s)),
                Err(e) => Err(Error(e.to_string())),
            },
            Value::Str {
                bytes,
                escaped: true,
            } => visitor.visit_enum(json::unescape(bytes)?.into_deserializer()),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Map(entries) => self.visit_entries(entries, visitor),
            Value::Deep => Err(Error::new("recursion limit exceeded")),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // The reader has checked the value already; nothing in it is visited.
        visitor.visit_unit()
    }

    scalar_hints! {
        deserialize_bool deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_str deserialize_string deserialize_unit
        deserialize_bytes deserialize_byte_buf deserialize_identifier
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.visit_scalar(visitor)
    }
}

/// Deserializer methods for scalar types, all through [`Tree::visit_scalar`].
macro_rules! scalar_hints {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.visit_scalar(visitor)
            }
        )*
    };
}
use scalar_hints;
