//! The JSON reader of the tree ([`super`]).
//!
//! It accepts and refuses what `serde_json::from_slice` does: the same
//! grammar (no leading zeros, no trailing commas, control characters only
//! escaped, whitespace around), checked for every value, including those only
//! skipped; strings checked for UTF-8 and surrogate pairs where they are
//! read; visited values nested at most [`MAX_DEPTH`] deep, skipped ones
//! without a limit; integers visited as `u64` (negative ones as `i64`) and
//! any other number refused where it is read, as the `f64` serde_json hands
//! over is by every protocol type.

use serde::de;

use super::{Error, Node, Value};

/// `serde_json`'s recursion limit: the 128th nested array or object of a
/// value that is read (not skipped) is an error.
pub const MAX_DEPTH: usize = 128;

/// Reads one JSON value filling all of `bytes` (whitespace around it
/// allowed), then deserialises `T` from it.
pub fn from_slice<'a, T: de::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, Error> {
    let mut reader = Reader { bytes, pos: 0 };
    let node = reader.value(MAX_DEPTH)?;
    reader.whitespace();
    if reader.pos != bytes.len() {
        return Err(Error::new("trailing characters after the frame"));
    }
    super::deserialize(&node, true)
}

/// True when `bytes` is one JSON value and nothing else (no whitespace
/// around it either), checked as [`from_slice`] checks a frame but without
/// building a tree.
pub fn is_bare_value(bytes: &[u8]) -> bool {
    let mut reader = Reader { bytes, pos: 0 };
    let valid = match reader.peek() {
        Ok(b'[' | b'{') => reader.skip_container().is_ok(),
        Ok(_) => reader.scalar().is_ok(),
        Err(_) => false,
    };
    valid && reader.pos == bytes.len()
}

/// The parser: the input and a position in it.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Result<u8, Error> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| Error::new("unexpected end of the frame"))
    }

    fn next(&mut self) -> Result<u8, Error> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    fn expect(&mut self, want: u8) -> Result<(), Error> {
        match self.next()? {
            b if b == want => Ok(()),
            _ => Err(Error(format!("expected `{}`", char::from(want)))),
        }
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// One value, after any whitespace; `depth` is what is left of the
    /// nesting limit.
    fn value(&mut self, depth: usize) -> Result<Node<'a>, Error> {
        self.whitespace();
        let start = self.pos;
        let value = match self.peek()? {
            open @ (b'[' | b'{') => match depth.checked_sub(1) {
                Some(left) if left > 0 => self.container(open, left)?,
                _ => {
                    self.skip_container()?;
                    Value::Deep
                }
            },
            _ => self.scalar()?,
        };
        Ok(Node {
            value,
            raw: &self.bytes[start..self.pos],
        })
    }

    /// An array or an object, read into the tree.
    fn container(&mut self, open: u8, depth: usize) -> Result<Value<'a>, Error> {
        self.pos += 1;
        self.whitespace();
        let close = if open == b'[' { b']' } else { b'}' };
        let mut items = Vec::new();
        let mut entries = Vec::new();
        if self.peek()? == close {
            self.pos += 1;
        } else {
            loop {
                if open == b'[' {
                    items.push(self.value(depth)?);
                } else {
                    let key = self.key()?;
                    entries.push((key, self.value(depth)?));
                }
                self.whitespace();
                match self.next()? {
                    b',' => continue,
                    b if b == close => break,
                    _ => return Err(Error::new("expected `,` or the end of a container")),
                }
            }
        }
        Ok(if open == b'[' {
            Value::Array(items)
        } else {
            Value::Map(entries)
        })
    }

    /// An object's key and its colon.
    fn key(&mut self) -> Result<Node<'a>, Error> {
        self.whitespace();
        let start = self.pos;
        if self.peek()? != b'"' {
            return Err(Error::new("expected a string key"));
        }
        let value = self.string()?;
        let raw = &self.bytes[start..self.pos];
        self.whitespace();
        self.expect(b':')?;
        Ok(Node { value, raw })
    }

    /// A value nested beyond the limit, checked without building a tree and
    /// without recursion (any depth fits): the bracket stack is a vector.
    fn skip_container(&mut self) -> Result<(), Error> {
        let mut open = Vec::new();
        'value: loop {
            self.whitespace();
            match self.peek()? {
                b @ (b'[' | b'{') => {
                    self.pos += 1;
                    open.push(b);
                    self.whitespace();
                    let close = if b == b'[' { b']' } else { b'}' };
                    if self.peek()? != close {
                        if b == b'{' {
                            self.key()?;
                        }
                        continue 'value;
                    }
                    self.pos += 1;
                    open.pop();
                }
                _ => {
                    self.scalar()?;
                }
            }
            // After a value: a comma, or the ends of the containers it closes.
            loop {
                let Some(&top) = open.last() else {
                    return Ok(());
                };
                self.whitespace();
                match (self.next()?, top) {
                    (b',', b'[') => continue 'value,
                    (b',', _) => {
                        self.key()?;
                        continue 'value;
                    }
                    (b']', b'[') | (b'}', b'{') => {
                        open.pop();
                    }
                    _ => return Err(Error::new("expected `,` or the end of a container")),
                }
            }
        }
    }

    /// A string, number or literal.
    fn scalar(&mut self) -> Result<Value<'a>, Error> {
        Ok(match self.peek()? {
            b'"' => self.string()?,
            b'-' | b'0'..=b'9' => self.number()?,
            b'n' => self.literal("null", Value::Nil)?,
            b't' => self.literal("true", Value::Bool(true))?,
            b'f' => self.literal("false", Value::Bool(false))?,
            _ => return Err(Error::new("expected a value")),
        })
    }

    fn literal(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, Error> {
        if !self.bytes[self.pos..].starts_with(word.as_bytes()) {
            return Err(Error::new("expected a value"));
        }
        self.pos += word.len();
        Ok(value)
    }

    /// A string, its escapes checked for form (their meaning is checked where
    /// the string is read, as `serde_json` checks it).
    fn string(&mut self) -> Result<Value<'a>, Error> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match self.next()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            for _ in 0..4 {
                                if !self.next()?.is_ascii_hexdigit() {
                                    return Err(Error::new("invalid \\u escape"));
                                }
                            }
                        }
                        _ => return Err(Error::new("invalid escape")),
                    }
                }
                0x00..=0x1f => return Err(Error::new("control character in a string")),
                _ => {}
            }
        }
        Ok(Value::Str {
            bytes: &self.bytes[start..self.pos - 1],
            escaped,
        })
    }

    /// A number: a 64-bit integer, or [`Value::Number`] for anything else.
    fn number(&mut self) -> Result<Value<'a>, Error> {
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits = self.pos;
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return Err(Error::new("invalid number")),
        }
        let integer = &self.bytes[digits..self.pos];
        let mut whole = true;
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            self.at_least_one_digit()?;
            whole = false;
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            self.at_least_one_digit()?;
            whole = false;
        }
        // After `0`, a digit is a leading zero: an error, as in serde_json.
        if self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Err(Error::new("invalid number"));
        }
        let magnitude = std::str::from_utf8(integer)
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        Ok(match (whole, negative, magnitude) {
            (true, false, Some(n)) => Value::Uint(n),
            // `-0` is a float to serde_json.
            (true, true, Some(n)) if n != 0 && n <= 1 << 63 => {
                Value::Int((n as i64).wrapping_neg())
            }
            _ => Value::Number,
        })
    }

    fn digits(&mut self) {
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
    }

    fn at_least_one_digit(&mut self) -> Result<(), Error> {
        if !self.next()?.is_ascii_digit() {
            return Err(Error::new("invalid number"));
        }
        self.digits();
        Ok(())
    }
}

/// The text of a string with escapes, unescaped; an error for text that is
/// not UTF-8 and for `\u` escapes that are not characters (lone surrogates).
pub(super) fn unescape(bytes: &[u8]) -> Result<String, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error(e.to_string()))?;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let escape = &rest[i + 1..];
        rest = &escape[1..];
        let c = match escape.as_bytes()[0] {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let (c, after) = unicode_escape(rest)?;
                rest = after;
                c
            }
            // `"`, `\` and `/` stand for themselves (the reader let no other through).
            other => char::from(other),
        };
        out.push(c);
    }
    out.push_str(rest);
    Ok(out)
}

/// The character of a `\u` escape whose four digits start `rest` (and of the
/// low surrogate's escape after them, for a pair), and the text after it.
fn unicode_escape(rest: &str) -> Result<(char, &str), Error> {
    let lone = || Error::new("lone surrogate in a \\u escape");
    let hex = |s: &str| s.get(..4).and_then(|h| u32::from_str_radix(h, 16).ok());
    let first = hex(rest).ok_or_else(lone)?;
    let rest = &rest[4..];
    match first {
        0xd800..=0xdbff => {
            let second = rest
                .strip_prefix("\\u")
                .and_then(hex)
                .filter(|n| (0xdc00..=0xdfff).contains(n))
                .ok_or_else(lone)?;
            let c = char::from_u32(0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00));
            Ok((c.ok_or_else(lone)?, &rest[6..]))
        }
        n => Ok((char::from_u32(n).ok_or_else(lone)?, rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::from_slice;
    use crate::payload::Payload;
    use serde::Deserialize;
    use serde::de::IgnoredAny;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Point {
        x: u32,
        #[serde(default)]
        label: Option<String>,
        #[serde(default)]
        data: Option<Payload>,
    }

    /// Reads `text` with serde_json and with the tree; both must agree.
    fn both<'a, T: Deserialize<'a> + PartialEq + std::fmt::Debug>(text: &'a str) -> Option<T> {
        let direct = serde_json::from_str::<T>(text).ok();
        let tree = from_slice::<T>(text.as_bytes()).ok();
        assert_eq!(direct, tree, "serde_json and the tree disagree on {text:?}");
        tree
    }

    #[test]
    fn agrees_with_serde_json_on_structs_and_data() {
        assert_eq!(
            both::<Point>(
                r#" {"x": 7, "label": "a\"b\u00e9\ud83d\ude00", "data": {"k": [1, 2.5, null]}} "#
            ),
            Some(Point {
                x: 7,
                label: Some("a\"bé😀".into()),
                data: Some(Payload::from(br#"{"k": [1, 2.5, null]}"#.to_vec())),
            })
        );
        // A struct may be an array of its fields; unknown fields are skipped.
        assert!(both::<Point>("[3]").is_some());
        assert!(both::<Point>(r#"{"x":1,"other":[{"deep":1e400}]}"#).is_some());
        // Escaped keys name fields.
        assert_eq!(both::<Point>(r#"{"\u0078":2}"#).map(|p| p.x), Some(2));
        // Data kept as text, bytes wrapped as JSON.
        let wrapped = both::<Point>(r#"{"x":1,"data":{"$bytes":"AAE="}}"#).unwrap();
        assert_eq!(wrapped.data.unwrap().as_bytes(), &[0, 1]);
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for text in [
            "",
            " ",
            "{",
            "{\"x\":1",
            "{\"x\":1,}",
            "[1,]",
            "{\"x\":01}",
            "{\"x\":-}",
            "{\"x\":1.}",
            "{\"x\":1e}",
            "{\"x\":+1}",
            "{\"x\":.5}",
            "{\"x\":1} x",
            "{x:1}",
            "{\"x\"1}",
            "{\"x\":1 \"label\":\"a\"}",
            "nul",
            "tru",
            "{\"x\":1,\"label\":\"\u{1}\"}",
            "{\"x\":1,\"label\":\"\\q\"}",
            "{\"x\":1,\"label\":\"\\u12\"}",
            "{\"x\":1,\"label\":\"\\ud800\"}",
            "{\"x\":1,\"label\":\"\\udc00\"}",
            "{\"x\":1,\"label\":\"\\ud800\\u0041\"}",
            "{\"x\":-1}",
            "{\"x\":1.0}",
            "{\"x\":-0}",
            "{\"x\":4294967296}",
            "{\"x\":18446744073709551616}",
            "{\"x\":1,\"x\":2}",
            "{\"x\":\"1\"}",
            "{\"x\":null}",
            "[1,2]",
            "\u{feff}{\"x\":1}",
        ] {
            assert_eq!(both::<Point>(text), None, "{text:?}");
        }
        // Lone surrogates and floats are fine where they are only skipped.
        assert!(both::<Point>(r#"{"x":1,"o":"\ud800","f":-0.5e-3}"#).is_some());
    }

    /// What `Payload` asked of serde_json before: one raw value, nothing around it.
    fn serde_json_bare(text: &str) -> bool {
        let ws = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
        serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok()
            && !text.starts_with(ws)
            && !text.ends_with(ws)
    }

    #[test]
    fn a_bare_value_is_what_serde_json_takes_as_a_raw_value() {
        let deep = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
        for text in [
            "1",
            "-0.5e+3",
            "\"a\\u00e9\"",
            "\"\\ud800\"",
            "null",
            "true",
            "[]",
            "{}",
            "[1,{\"a\":[null,false]}]",
            &deep,
            "",
            " 1",
            "1 ",
            "1 2",
            "[1,]",
            "01",
            "{\"a\"}",
            "\"\u{1}\"",
            "[1",
            "nan",
            "{\"a\":1}}",
            "\"\\x\"",
        ] {
            assert_eq!(
                super::is_bare_value(text.as_bytes()),
                serde_json_bare(text),
                "{text:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn bare_values_agree_with_serde_json(text in "[\\[\\]{}\",:0-9 .eE+\\\\u-]{0,24}|(true|false|null|[0-9]{1,3}|\"[a-z\\\\]{0,4}\")") {
            proptest::prop_assert_eq!(super::is_bare_value(text.as_bytes()), serde_json_bare(&text));
        }
    }

    #[test]
    fn integers_are_read_as_serde_json_reads_them() {
        assert_eq!(both::<i64>("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(both::<i64>("-9223372036854775809"), None);
        assert_eq!(both::<u64>("18446744073709551615"), Some(u64::MAX));
        assert_eq!(both::<u64>("0"), Some(0));
        assert_eq!(both::<i64>("-0"), None);
        assert_eq!(both::<u8>("256"), None);
    }

    #[test]
    fn nesting_is_limited_where_read_and_not_where_skipped() {
        let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(both::<IgnoredAny>(&nested(10_000)).is_some());
        let read = |n: usize| format!("{{\"x\":1,\"label\":{}}}", nested(n));
        assert!(both::<Point>(&read(10_000)).is_none());
        let data = |n: usize| format!("{{\"x\":1,\"data\":{}}}", nested(n));
        assert!(both::<Point>(&data(10_000)).is_some());
        assert!(both::<Point>(&format!("{{\"x\":1,\"o\":{}}}", nested(10_000))).is_some());
        // Broken syntax deep down is still found.
        assert!(
            both::<IgnoredAny>(&format!("{}1,]{}", "[".repeat(200), "]".repeat(199))).is_none()
        );
        assert!(
            both::<IgnoredAny>(&format!(
                "{}{{\"a\" 1}}{}",
                "[".repeat(200),
                "]".repeat(200)
            ))
            .is_none()
        );
        // serde_json's limit for values it reads: 127 levels.
        #[derive(Deserialize, Debug, PartialEq)]
        struct Tree(Vec<Tree>);
        let empty = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for n in [126, 127, 128, 129] {
            both::<Vec<serde::de::IgnoredAny>>(&empty(n));
            both::<Tree>(&empty(n));
        }
    }
}
