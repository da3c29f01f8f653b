//! A compact MessagePack reader: the frame is parsed once into a tree that
//! borrows from the input, and the protocol's types deserialise from the tree.
//!
//! Why: `rmp_serde` generates its whole marker-reading decoder again for every
//! type it deserialises; in the browser SDK that was half of the WebAssembly
//! module. Deserialising from a tree costs a small `match` per type instead.
//! The wasm32 build reads server frames with it ([`crate::codec::Codec::decode_server`]).
//!
//! It visits what `rmp_serde` visits (integers widened to `u64`/`i64` and `f32`
//! to `f64`, which serde's visitors treat alike; bytes as a sequence where a
//! struct or sequence is asked for; the same nesting limit; trailing bytes
//! refused), so both accept and refuse the same frames; the vector tests and
//! property tests compare the two on every target.

use std::fmt;

use serde::de::{self, Deserializer, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

/// One MessagePack value, borrowing strings and bytes from the input.
#[derive(Debug)]
enum Value<'a> {
    Nil,
    Bool(bool),
    /// Any unsigned integer (positive fixint, `uint8`..`uint64`), widened.
    Uint(u64),
    /// Any signed integer (negative fixint, `int8`..`int64`), widened.
    Int(i64),
    /// `float32` or `float64`, widened.
    Float(f64),
    /// A `str`, kept as bytes: invalid UTF-8 is only an error where bytes are not accepted.
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(Vec<Value<'a>>),
    Map(Vec<(Value<'a>, Value<'a>)>),
    /// An extension value; only ignoring it succeeds.
    Ext,
}

/// Why a frame could not be read.
#[derive(Debug)]
pub struct Error(String);

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

/// Reads one value filling all of `bytes`, then deserialises `T` from it.
/// `max_depth` counts maps, arrays and extensions as `rmp_serde`'s limit does.
pub fn from_slice<'a, T: de::Deserialize<'a>>(
    bytes: &'a [u8],
    max_depth: usize,
) -> Result<T, Error> {
    let mut reader = Reader { rest: bytes };
    let value = reader.value(max_depth)?;
    if !reader.rest.is_empty() {
        return Err(Error("trailing bytes after the frame".to_owned()));
    }
    T::deserialize(&value)
}

/// The parser: a cursor over the input.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.rest.len() < n {
            return Err(Error("unexpected end of the frame".to_owned()));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len(&mut self, width: usize) -> Result<usize, Error> {
        Ok(match width {
            1 => usize::from(self.array::<1>()?[0]),
            2 => usize::from(u16::from_be_bytes(self.array()?)),
            _ => u32::from_be_bytes(self.array()?) as usize,
        })
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, Error> {
        let marker = self.array::<1>()?[0];
        Ok(match marker {
            0x00..=0x7f => Value::Uint(marker.into()),
            0xe0..=0xff => Value::Int((marker as i8).into()),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.seq(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => Value::Str(self.take(usize::from(marker & 0x1f))?),
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let n = self.len(1 << (marker - 0xc4))?;
                Value::Bin(self.take(n)?)
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (marker - 0xc7))?;
                self.ext(n + 1, depth)?
            }
            0xca => Value::Float(f32::from_be_bytes(self.array()?).into()),
            0xcb => Value::Float(f64::from_be_bytes(self.array()?)),
            0xcc => Value::Uint(self.array::<1>()?[0].into()),
            0xcd => Value::Uint(u16::from_be_bytes(self.array()?).into()),
            0xce => Value::Uint(u32::from_be_bytes(self.array()?).into()),
            0xcf => Value::Uint(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::Int(i8::from_be_bytes(self.array()?).into()),
            0xd1 => Value::Int(i16::from_be_bytes(self.array()?).into()),
            0xd2 => Value::Int(i32::from_be_bytes(self.array()?).into()),
            0xd3 => Value::Int(i64::from_be_bytes(self.array()?)),
            0xd4..=0xd8 => self.ext((1 << (marker - 0xd4)) + 1, depth)?,
            0xd9..=0xdb => {
                let n = self.len(1 << (marker - 0xd9))?;
                Value::Str(self.take(n)?)
            }
            0xdc | 0xdd => {
                let n = self.len(if marker == 0xdc { 2 } else { 4 })?;
                self.seq(n, depth)?
            }
            0xde | 0xdf => {
                let n = self.len(if marker == 0xde { 2 } else { 4 })?;
                self.map(n, depth)?
            }
            0xc1 => return Err(Error("reserved MessagePack marker 0xc1".to_owned())),
        })
    }

    /// One level deeper; `rmp_serde` fails when its counter reaches zero.
    fn deeper(depth: usize) -> Result<usize, Error> {
        match depth.checked_sub(1) {
            Some(d) if d > 0 => Ok(d),
            _ => Err(Error("depth limit exceeded".to_owned())),
        }
    }

    fn seq(&mut self, n: usize, depth: usize) -> Result<Value<'a>, Error> {
        let depth = Self::deeper(depth)?;
        // Every element takes at least a byte: a forged length cannot reserve memory.
        let mut items = Vec::with_capacity(n.min(self.rest.len()));
        for _ in 0..n {
            items.push(self.value(depth)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value<'a>, Error> {
        let depth = Self::deeper(depth)?;
        let mut entries = Vec::with_capacity(n.min(self.rest.len() / 2));
        for _ in 0..n {
            let key = self.value(depth)?;
            entries.push((key, self.value(depth)?));
        }
        Ok(Value::Map(entries))
    }

    /// Skips an extension (type byte and data).
    fn ext(&mut self, n: usize, depth: usize) -> Result<Value<'a>, Error> {
        Self::deeper(depth)?;
        self.take(n)?;
        Ok(Value::Ext)
    }
}

impl<'de> Value<'de> {
    fn invalid(&self, expected: &dyn de::Expected) -> Error {
        de::Error::invalid_type(de::Unexpected::Other("a MessagePack value"), expected)
    }

    /// Visits a `str`: as a string when it is UTF-8, else as bytes if the visitor takes them.
    fn visit_str<V: Visitor<'de>>(bytes: &'de [u8], visitor: V) -> Result<V::Value, Error> {
        match std::str::from_utf8(bytes) {
            Ok(s) => visitor.visit_borrowed_str(s),
            Err(e) => visitor
                .visit_borrowed_bytes::<Error>(bytes)
                .map_err(|_| Error(e.to_string())),
        }
    }

    /// Everything but bytes, which the two callers treat differently.
    fn visit_scalar_or_container<V: Visitor<'de>>(&self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Nil => visitor.visit_unit(),
            Value::Bool(v) => visitor.visit_bool(*v),
            // Widened: serde's visitors treat a u8 as the u64 it fits in, so one
            // call per kind keeps the code per type small.
            Value::Uint(v) => visitor.visit_u64(*v),
            Value::Int(v) => visitor.visit_i64(*v),
            Value::Float(v) => visitor.visit_f64(*v),
            Value::Str(bytes) => Self::visit_str(bytes, visitor),
            Value::Array(items) => Self::visit_items(items.iter(), visitor),
            Value::Map(entries) => Self::visit_entries(entries, visitor),
            Value::Ext => visitor.visit_newtype_struct(&Value::Nil),
            Value::Bin(_) => Err(self.invalid(&visitor)),
        }
    }

    fn visit_items<I, V>(items: I, visitor: V) -> Result<V::Value, Error>
    where
        I: Iterator,
        I::Item: IntoDeserializer<'de, Error>,
        V: Visitor<'de>,
    {
        let mut seq = de::value::SeqDeserializer::new(items);
        let out = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(out)
    }

    fn visit_entries<V: Visitor<'de>>(
        entries: &[(Value<'de>, Value<'de>)],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let mut map = de::value::MapDeserializer::new(entries.iter().map(|(k, v)| (k, v)));
        let out = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(out)
    }

    /// Where a struct or a sequence is asked for, bytes are a sequence of integers.
    /// Unlike an array, bytes the visitor leaves unread are not an error: so
    /// `rmp_serde` reads them, and both must refuse the same frames.
    ///
    /// Structs and sequences visit only maps and sequences (serde's visitors for
    /// them refuse everything else), so any other value fails here at once: the
    /// same outcome in less code per type.
    fn visit_as_seq<V: Visitor<'de>>(&self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Bin(bytes) => visitor.visit_seq(de::value::SeqDeserializer::<_, Error>::new(
                bytes.iter().copied(),
            )),
            Value::Array(items) => Self::visit_items(items.iter(), visitor),
            Value::Map(entries) => Self::visit_entries(entries, visitor),
            other => Err(other.invalid(&visitor)),
        }
    }
}

impl<'de> IntoDeserializer<'de, Error> for &Value<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for &Value<'de> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Bin(bytes) => visitor.visit_borrowed_bytes(bytes),
            other => other.visit_scalar_or_container(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Nil => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
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
        match self {
            Value::Str(bytes) => match std::str::from_utf8(bytes) {
                Ok(s) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(s)),
                Err(e) => Err(Error(e.to_string())),
            },
            other => Err(other.invalid(&visitor)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Map(entries) => Value::visit_entries(entries, visitor),
            other => Err(other.invalid(&visitor)),
        }
    }

    forward_to_deserialize_any! {
        bool u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 char str string unit
        bytes byte_buf unit_struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::from_slice;
    use crate::message::Empty;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Point {
        x: u32,
        #[serde(default)]
        label: Option<String>,
    }

    fn both<'a, T: Deserialize<'a> + PartialEq + std::fmt::Debug>(bytes: &'a [u8]) -> Option<T> {
        let mut rest = bytes;
        let mut de = rmp_serde::Deserializer::new(&mut rest);
        de.set_max_depth(8);
        let direct = T::deserialize(&mut de).ok().filter(|_| rest.is_empty());
        let tree = from_slice::<T>(bytes, 8).ok();
        assert_eq!(
            direct, tree,
            "rmp_serde and the tree disagree on {bytes:02x?}"
        );
        tree
    }

    #[test]
    fn agrees_with_rmp_serde_on_structs_options_and_limits() {
        let named = rmp_serde::to_vec_named(&serde_json::json!({"x": 7, "label": "a"})).unwrap();
        assert_eq!(
            both::<Point>(&named),
            Some(Point {
                x: 7,
                label: Some("a".into())
            })
        );
        // nil is an absent option; a struct may be an array of its fields.
        assert_eq!(
            both::<Point>(&[
                0x82, 0xa1, b'x', 0x05, 0xa5, b'l', b'a', b'b', b'e', b'l', 0xc0
            ]),
            Some(Point { x: 5, label: None })
        );
        assert_eq!(
            both::<Point>(&[0x91, 0x09]),
            Some(Point { x: 9, label: None })
        );
        // Wrong types, truncation, trailing bytes, the reserved marker.
        assert_eq!(both::<Point>(&[0x81, 0xa1, b'x', 0xa1, b'y']), None);
        assert_eq!(both::<Point>(&named[..named.len() - 1]), None);
        assert_eq!(both::<Point>(&[0x91, 0x09, 0xc0]), None);
        assert_eq!(both::<Point>(&[0xc1]), None);
        // Bytes as a struct: unread bytes are ignored, unread array items are not
        // (found by fuzzing: bin 2 as the empty body of a ping reply).
        assert_eq!(
            both::<Point>(&[0xc4, 0x01, 0x07]),
            Some(Point { x: 7, label: None })
        );
        assert_eq!(both::<Point>(&[0x93, 0x07, 0xc0, 0x08]), None);
        assert_eq!(both::<Empty>(&[0xc4, 0x02, 0xfe, 0x2b]), Some(Empty {}));
        assert_eq!(both::<Empty>(&[0x92, 0x01, 0x02]), None);
        // Nesting: 7 arrays fit under a limit of 8, 8 do not.
        let nested = |n: usize| [vec![0x91; n], vec![0x01]].concat();
        assert!(both::<serde::de::IgnoredAny>(&nested(7)).is_some());
        assert!(both::<serde::de::IgnoredAny>(&nested(8)).is_none());
        // Bytes and extensions can be ignored; strings that are not UTF-8 only as bytes.
        assert!(both::<serde::de::IgnoredAny>(&[0xc4, 0x02, 0xff, 0x00]).is_some());
        assert!(both::<serde::de::IgnoredAny>(&[0xd4, 0x01, 0x02]).is_some());
        assert_eq!(both::<String>(&[0xa1, 0xff]), None);
    }
}
