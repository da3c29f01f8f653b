//! Language-neutral test vectors: exact encoded frames in both codecs.
//!
//! Every valid vector is built here as a Rust value ([`ClientFrame`] or
//! [`ServerFrame`]) and encoded with [`Codec::Json`] and [`Codec::MessagePack`], so
//! the files hold exactly what `chorus-protocol` produces. Invalid frames are written
//! by hand, with the rejection a decoder must report. The file format is described in
//! `conformance/vectors/README.md`; the Rust checks live in `protocol/tests/vectors.rs`.

mod invalid;
mod valid;

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use chorus_protocol::{ClientFrame, Codec, Push, ServerFrame};
use serde::Serialize;

/// Who sends a frame, which decides the decoder that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client to server, read with `Codec::decode_client`.
    Client,
    /// Server to client, read with `Codec::decode_server`.
    Server,
}

/// One valid frame, encoded in both codecs.
#[derive(Debug, Clone, Serialize)]
pub struct Vector {
    /// Unique name across all files.
    pub name: String,
    /// The operation or push key of the frame, or `pong` / `error`.
    pub kind: String,
    /// Who sends the frame.
    pub direction: Direction,
    /// The JSON frame parsed into a JSON value.
    pub value: serde_json::Value,
    /// The exact JSON text frame.
    pub json: String,
    /// The exact MessagePack binary frame, lower-case hex.
    pub msgpack: String,
    /// The application payload carried by the frame, lower-case hex (payload vectors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// What the vector is about, when the name does not say it all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl Vector {
    /// `frame` encoded in both codecs; `kind` is the command's operation, or
    /// `pong`. Panics if the frame does not encode.
    pub fn client(name: &str, frame: &ClientFrame) -> Self {
        let kind = match frame {
            ClientFrame::Command(cmd) => cmd.request.key(),
            ClientFrame::Pong => "pong",
        };
        let json = Codec::Json.encode_client(frame).expect("JSON encoding");
        let msgpack = Codec::MessagePack
            .encode_client(frame)
            .expect("MessagePack encoding");
        Self::new(name, kind, Direction::Client, json, msgpack)
    }

    /// `frame` encoded in both codecs; `kind` is the reply's operation (`error`
    /// for an error reply) or the push key. Panics if the frame does not encode.
    pub fn server(name: &str, frame: &ServerFrame) -> Self {
        let kind = match frame {
            ServerFrame::Reply(reply) => match &reply.result {
                Ok(body) => body.key(),
                Err(_) => "error",
            },
            ServerFrame::Push(push) => push.key(),
        };
        let json = Codec::Json.encode_server(frame).expect("JSON encoding");
        let msgpack = Codec::MessagePack
            .encode_server(frame)
            .expect("MessagePack encoding");
        Self::new(name, kind, Direction::Server, json, msgpack)
    }

    fn new(name: &str, kind: &str, direction: Direction, json: Vec<u8>, msgpack: Vec<u8>) -> Self {
        let json = String::from_utf8(json).expect("JSON frames are UTF-8");
        let mut value: serde_json::Value =
            serde_json::from_str(&json).expect("JSON frames parse as JSON");
        // Stable output whether or not serde_json's `preserve_order` is enabled.
        value.sort_all_objects();
        Vector {
            name: name.to_owned(),
            kind: kind.to_owned(),
            direction,
            value,
            json,
            msgpack: to_hex(&msgpack),
            payload: None,
            notes: None,
        }
    }
}

/// What a decoder must report for an invalid frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// Not a frame at all (`DecodeError::Malformed`): the server closes the connection.
    Malformed,
    /// A frame naming an unknown operation (`DecodeError::UnknownOp`).
    UnknownOp,
    /// A known operation with wrong fields (`DecodeError::Invalid`).
    Invalid,
}

/// The codec an invalid frame is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CodecName {
    /// `chorus.v1.json`, text frames.
    Json,
    /// `chorus.v1.msgpack`, binary frames.
    Msgpack,
}

/// How the `frame` string of an invalid vector holds the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The frame is the UTF-8 text itself.
    Text,
    /// The frame is lower-case hex of the bytes.
    Hex,
}

/// A frame a decoder must reject.
#[derive(Debug, Clone, Serialize)]
pub struct InvalidVector {
    /// Unique name across all files.
    pub name: String,
    /// Who sends the frame: `client` frames are read with `decode_client` (by a
    /// server), `server` frames with `decode_server` (by a client).
    pub direction: Direction,
    /// The codec the frame claims to be in.
    pub codec: CodecName,
    /// How `frame` holds the bytes.
    pub encoding: Encoding,
    /// The frame bytes (text or hex, see `encoding`).
    pub frame: String,
    /// The rejection the decoder must report.
    pub expect: Expect,
    /// The command id the decoder must recover (so a server can reply with an error), or null.
    pub id: Option<u64>,
    /// For `unknown_op`: the operation name reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// Why the frame is invalid, when the name does not say it all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// A vector file: a description and its vectors.
#[derive(Debug, Clone, Serialize)]
pub struct VectorFile<V> {
    /// What the file holds.
    pub description: String,
    /// In the order they were built; names are unique across all files.
    pub vectors: Vec<V>,
}

/// Every vector file: its name in `conformance/vectors/` and its exact contents.
pub fn files() -> Vec<(&'static str, String)> {
    vec![
        ("commands.json", render(&valid::commands())),
        ("replies.json", render(&valid::replies())),
        ("pushes.json", render(&valid::pushes())),
        ("payloads.json", render(&valid::payloads())),
        ("invalid.json", render(&invalid::invalid())),
    ]
}

/// The directory the vectors are checked in to (`conformance/vectors/`).
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// Writes every vector file into `dir`; returns the file names written.
pub fn write(dir: &Path) -> io::Result<Vec<&'static str>> {
    std::fs::create_dir_all(dir)?;
    let mut names = Vec::new();
    for (name, text) in files() {
        std::fs::write(dir.join(name), text)?;
        names.push(name);
    }
    Ok(names)
}

/// Compares the files in `dir` with what [`files`] generates; `Err` lists the
/// files that are missing or differ.
pub fn check(dir: &Path) -> Result<(), Vec<&'static str>> {
    let stale: Vec<_> = files()
        .into_iter()
        .filter(|(name, text)| std::fs::read_to_string(dir.join(name)).ok().as_ref() != Some(text))
        .map(|(name, _)| name)
        .collect();
    if stale.is_empty() { Ok(()) } else { Err(stale) }
}

/// Pretty JSON with two-space indentation and a trailing newline.
fn render<T: Serialize>(file: &T) -> String {
    let mut text = serde_json::to_string_pretty(file).expect("vector files serialise");
    text.push('\n');
    text
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(out, "{b:02x}").expect("writing to a String");
    }
    out
}

/// The payload a frame carries in its `data` field, for the payload vectors.
fn payload_of(frame: &Frame) -> &chorus_protocol::Payload {
    use chorus_protocol::Request;
    match frame {
        Frame::Client(ClientFrame::Command(cmd)) => match &cmd.request {
            Request::Publish(p) => &p.data,
            Request::Send(s) => &s.data,
            Request::Broadcast(b) => &b.data,
            Request::Rpc(r) => &r.data,
            other => panic!("payload vector without a payload: {other:?}"),
        },
        Frame::Server(ServerFrame::Push(Push::Publication(p))) => &p.data,
        Frame::Server(ServerFrame::Push(Push::Message(m))) => &m.data,
        other => panic!("payload vector without a payload: {other:?}"),
    }
}

/// Either side's frame, for the builder.
#[derive(Debug)]
enum Frame {
    Client(ClientFrame),
    Server(ServerFrame),
}

/// Collects the vectors of one file.
#[derive(Default)]
struct Builder {
    vectors: Vec<Vector>,
}

impl Builder {
    /// Adds a client frame; returns its vector, for `note`.
    fn client(&mut self, name: &str, frame: ClientFrame) -> &mut Vector {
        self.vectors.push(Vector::client(name, &frame));
        self.vectors.last_mut().expect("just pushed")
    }

    /// Adds a server frame; returns its vector, for `note`.
    fn server(&mut self, name: &str, frame: ServerFrame) -> &mut Vector {
        self.vectors.push(Vector::server(name, &frame));
        self.vectors.last_mut().expect("just pushed")
    }

    /// Adds a frame and records the payload it carries.
    fn payload(&mut self, name: &str, frame: Frame) -> &mut Vector {
        let payload = to_hex(payload_of(&frame).as_bytes());
        let vector = match frame {
            Frame::Client(f) => self.client(name, f),
            Frame::Server(f) => self.server(name, f),
        };
        vector.payload = Some(payload);
        vector
    }

    fn finish(self, description: &str) -> VectorFile<Vector> {
        VectorFile {
            description: description.to_owned(),
            vectors: self.vectors,
        }
    }
}

impl Vector {
    /// Says what the vector is about, when its name does not say it all.
    fn note(&mut self, notes: &str) -> &mut Self {
        self.notes = Some(notes.to_owned());
        self
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn checked_in_vectors_are_up_to_date() {
        if let Err(stale) = check(&default_dir()) {
            panic!(
                "stale vector files {stale:?}: run `cargo run -p chorus-conformance --bin gen-vectors`"
            );
        }
    }

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        let names = [
            valid::commands(),
            valid::replies(),
            valid::pushes(),
            valid::payloads(),
        ]
        .into_iter()
        .flat_map(|f| f.vectors)
        .map(|v| v.name)
        .chain(invalid::invalid().vectors.into_iter().map(|v| v.name));
        for name in names {
            assert!(seen.insert(name.clone()), "duplicate vector name {name}");
        }
    }

    #[test]
    fn hex() {
        assert_eq!(to_hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }
}
