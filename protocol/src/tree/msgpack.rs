//! The MessagePack reader of the tree ([`super`]).
//!
//! It visits what `rmp_serde` visits (integers widened to `u64`/`i64`, which
//! serde's visitors treat alike; floats refused where they are read, as every
//! protocol type refuses them; bytes as a sequence where a
//! struct or sequence is asked for; the same nesting limit; trailing bytes
//! refused), so both accept and refuse the same frames.

use serde::de;

use super::{Error, Node, Value};

/// Reads one value filling all of `bytes`, then deserialises `T` from it.
/// `max_depth` counts maps, arrays and extensions as `rmp_serde`'s limit does.
pub fn from_slice<'a, T: de::Deserialize<'a>>(
    bytes: &'a [u8],
    max_depth: usize,
) -> Result<T, Error> {
    let mut reader = Reader { rest: bytes };
    let node = reader.value(max_depth)?;
    if !reader.rest.is_empty() {
        return Err(Error::new("trailing bytes after the frame"));
    }
    super::deserialize(&node, false)
}

/// The parser: a cursor over the input.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.rest.len() < n {
            return Err(Error::new("unexpected end of the frame"));
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

    fn value(&mut self, depth: usize) -> Result<Node<'a>, Error> {
        let start = self.rest;
        let value = self.marked(depth)?;
        let raw = &start[..start.len() - self.rest.len()];
        Ok(Node { value, raw })
    }

    fn marked(&mut self, depth: usize) -> Result<Value<'a>, Error> {
        let marker = self.array::<1>()?[0];
        Ok(match marker {
            0x00..=0x7f => Value::Uint(marker.into()),
            0xe0..=0xff => Value::Int((marker as i8).into()),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.seq(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => Value::Str {
                bytes: self.take(usize::from(marker & 0x1f))?,
                escaped: false,
            },
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
            0xca => {
                self.take(4)?;
                Value::Number
            }
            0xcb => {
                self.take(8)?;
                Value::Number
            }
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
                Value::Str {
                    bytes: self.take(n)?,
                    escaped: false,
                }
            }
            0xdc | 0xdd => {
                let n = self.len(if marker == 0xdc { 2 } else { 4 })?;
                self.seq(n, depth)?
            }
            0xde | 0xdf => {
                let n = self.len(if marker == 0xde { 2 } else { 4 })?;
                self.map(n, depth)?
            }
            0xc1 => return Err(Error::new("reserved MessagePack marker 0xc1")),
        })
    }

    /// One level deeper; `rmp_serde` fails when its counter reaches zero.
    fn deeper(depth: usize) -> Result<usize, Error> {
        match depth.checked_sub(1) {
            Some(d) if d > 0 => Ok(d),
            _ => Err(Error::new("depth limit exceeded")),
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
