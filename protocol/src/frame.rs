//! Frames: the envelope around every message on the wire.
//!
//! A frame is one map (a JSON object, or a MessagePack map with string keys):
//!
//! * command (client -> server): `{"id": 7, "<op>": {...}}`; `id` is a non-zero u64
//!   chosen by the client, unique among its requests in flight;
//! * pong (client -> server): `{"pong": {}}`, the answer to a server ping, without id;
//! * reply (server -> client): `{"id": 7, "<op>": {...}}` echoing the command's id and
//!   op, or `{"id": 7, "error": {"code": 103, "message": "...", "temporary": false}}`;
//! * push (server -> client): `{"<kind>": {...}}`, never with an id.
//!
//! Exactly one operation key appears in a frame. Keys may come in any order.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::message::*;

/// Generates an enum of `op key => body` pairs with the helpers the frame codecs use.
macro_rules! keyed_enum {
    ($(#[$meta:meta])* $name:ident { $( $(#[$doc:meta])* $variant:ident($ty:ty) = $key:literal, )* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $( $(#[$doc])* $variant($ty), )*
        }

        impl $name {
            /// Every key this enum knows.
            pub const KEYS: &'static [&'static str] = &[$($key),*];

            /// The key this value is written under.
            pub fn key(&self) -> &'static str {
                match self { $( $name::$variant(_) => $key, )* }
            }

            fn serialize_entry<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
                match self { $( $name::$variant(body) => map.serialize_entry($key, body), )* }
            }

            /// Reads the value under `key`; `Ok(None)` when the key is not one of ours.
            fn next_value<'de, A: MapAccess<'de>>(key: &str, map: &mut A) -> Result<Option<Self>, A::Error> {
                Ok(Some(match key {
                    $( $key => $name::$variant(map.next_value::<MapOnly<$ty>>()?.0), )*
                    _ => return Ok(None),
                }))
            }
        }
    };
}

keyed_enum! {
    /// What a command asks for.
    Request {
        /// Authenticate (first command on a connection).
        Connect(ConnectRequest) = "connect",
        /// Join a channel.
        Subscribe(SubscribeRequest) = "subscribe",
        /// Leave a channel.
        Unsubscribe(ChannelRequest) = "unsubscribe",
        /// Publish to a channel.
        Publish(PublishRequest) = "publish",
        /// Send to every connection of a user.
        Send(SendRequest) = "send",
        /// Send to every connection.
        Broadcast(BroadcastRequest) = "broadcast",
        /// List a channel's members.
        Presence(ChannelRequest) = "presence",
        /// Count a channel's members.
        PresenceStats(ChannelRequest) = "presence_stats",
        /// Read a channel's history.
        History(HistoryRequest) = "history",
        /// Replace the token.
        Refresh(RefreshRequest) = "refresh",
        /// Application-defined call.
        Rpc(RpcRequest) = "rpc",
        /// Round-trip check initiated by the client.
        Ping(Empty) = "ping",
    }
}

keyed_enum! {
    /// The successful result of a command, under the command's own key.
    ReplyBody {
        /// Reply to `connect`.
        Connect(ConnectResult) = "connect",
        /// Reply to `subscribe`.
        Subscribe(SubscribeResult) = "subscribe",
        /// Reply to `unsubscribe`.
        Unsubscribe(Empty) = "unsubscribe",
        /// Reply to `publish`.
        Publish(PublishResult) = "publish",
        /// Reply to `send`.
        Send(Empty) = "send",
        /// Reply to `broadcast`.
        Broadcast(Empty) = "broadcast",
        /// Reply to `presence`.
        Presence(PresenceResult) = "presence",
        /// Reply to `presence_stats`.
        PresenceStats(PresenceStatsResult) = "presence_stats",
        /// Reply to `history`.
        History(HistoryResult) = "history",
        /// Reply to `refresh`.
        Refresh(RefreshResult) = "refresh",
        /// Reply to `rpc`.
        Rpc(RpcResult) = "rpc",
        /// Reply to `ping`.
        Ping(Empty) = "ping",
    }
}

keyed_enum! {
    /// A message the server sends on its own initiative.
    Push {
        /// A publication in a subscribed channel.
        Publication(Publication) = "publication",
        /// Someone joined a subscribed channel.
        Join(Membership) = "join",
        /// Someone left a subscribed channel.
        Leave(Membership) = "leave",
        /// A message to this user, or a broadcast.
        Message(Message) = "message",
        /// The server is closing the connection.
        Disconnect(Disconnect) = "disconnect",
        /// The server ended a subscription.
        Unsubscribed(Unsubscribed) = "unsubscribed",
        /// Heartbeat; answer with a pong frame when the connect reply asked for it.
        Ping(Empty) = "ping",
    }
}

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// A request, answered by a reply with the same id.
    Command(Command),
    /// The answer to a server ping.
    Pong,
}

/// A request with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Non-zero id chosen by the client, echoed by the reply.
    pub id: u64,
    /// The operation and its body (the op key on the wire).
    pub request: Request,
}

/// A frame sent by a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// The answer to a command.
    Reply(Reply),
    /// A message the client did not ask for.
    Push(Push),
}

/// The answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The id of the command it answers; a client ignores ids it is not waiting for.
    pub id: u64,
    /// The result, or a typed error.
    pub result: Result<ReplyBody, Error>,
}

const ID: &str = "id";
const PONG: &str = "pong";
const ERROR: &str = "error";

impl Serialize for ClientFrame {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ClientFrame::Command(cmd) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry(ID, &cmd.id)?;
                cmd.request.serialize_entry(&mut map)?;
                map.end()
            }
            ClientFrame::Pong => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(PONG, &Empty {})?;
                map.end()
            }
        }
    }
}

impl Serialize for ServerFrame {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ServerFrame::Reply(reply) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry(ID, &reply.id)?;
                match &reply.result {
                    Ok(body) => body.serialize_entry(&mut map)?,
                    Err(err) => map.serialize_entry(ERROR, err)?,
                }
                map.end()
            }
            ServerFrame::Push(push) => {
                let mut map = serializer.serialize_map(Some(1))?;
                push.serialize_entry(&mut map)?;
                map.end()
            }
        }
    }
}

/// A map key, borrowed from the input when possible.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A body that must be a map: serde's derived structs also accept a
/// sequence of field values (`{"subscribe": ["x"]}`), which the protocol
/// does not allow.
struct MapOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(MapVisitor(std::marker::PhantomData))
            .map(MapOnly)
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, value: T, what: &str) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::custom(format_args!("duplicate {what} in frame")));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for ClientFrame {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FrameVisitor;
        impl<'de> Visitor<'de> for FrameVisitor {
            type Value = ClientFrame;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command frame (a map with `id` and one operation)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ClientFrame, A::Error> {
                let mut id = None;
                let mut request = None;
                let mut pong = None;
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    if key == ID {
                        set_once(&mut id, map.next_value::<u64>()?, "id")?;
                    } else if key == PONG {
                        set_once(&mut pong, map.next_value::<Empty>()?, "operation")?;
                    } else if let Some(req) = Request::next_value(&key, &mut map)? {
                        set_once(&mut request, req, "operation")?;
                    } else {
                        return Err(de::Error::custom(format_args!("unknown op `{key}`")));
                    }
                }
                match (id, request, pong) {
                    (Some(0), _, _) => Err(de::Error::custom("id must not be 0")),
                    (Some(id), Some(request), None) => {
                        Ok(ClientFrame::Command(Command { id, request }))
                    }
                    (None, None, Some(_)) => Ok(ClientFrame::Pong),
                    (None, Some(_), _) => Err(de::Error::custom("command without id")),
                    (_, Some(_), Some(_)) => Err(de::Error::custom("duplicate operation in frame")),
                    (_, None, _) => Err(de::Error::custom("frame names no operation")),
                }
            }
        }
        deserializer.deserialize_map(FrameVisitor)
    }
}

impl<'de> Deserialize<'de> for ServerFrame {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FrameVisitor;
        impl<'de> Visitor<'de> for FrameVisitor {
            type Value = ServerFrame;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a reply or push frame")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ServerFrame, A::Error> {
                let mut id = None;
                let mut error = None;
                let mut body = None;
                let mut push = None;
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    if key == ID {
                        set_once(&mut id, map.next_value::<u64>()?, "id")?;
                    } else if key == ERROR {
                        set_once(&mut error, map.next_value::<Error>()?, "operation")?;
                    } else if key == "ping" {
                        // The one key shared by a reply and a push; the id decides below.
                        let empty = map.next_value::<Empty>()?;
                        set_once(&mut body, ReplyBody::Ping(empty.clone()), "operation")?;
                        set_once(&mut push, Push::Ping(empty), "operation")?;
                    } else if let Some(b) = ReplyBody::next_value(&key, &mut map)? {
                        set_once(&mut body, b, "operation")?;
                    } else if let Some(p) = Push::next_value(&key, &mut map)? {
                        set_once(&mut push, p, "operation")?;
                    } else {
                        // Forward compatibility: a newer server may add fields or pushes.
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                match (id, body, error, push) {
                    (Some(0), _, _, _) => Err(de::Error::custom("id must not be 0")),
                    (Some(id), Some(body), None, None | Some(Push::Ping(_))) => {
                        Ok(ServerFrame::Reply(Reply {
                            id,
                            result: Ok(body),
                        }))
                    }
                    (Some(id), None, Some(err), None) => Ok(ServerFrame::Reply(Reply {
                        id,
                        result: Err(err),
                    })),
                    (None, _, None, Some(push)) => Ok(ServerFrame::Push(push)),
                    (None, Some(_), _, None) => Err(de::Error::custom("reply without id")),
                    _ => Err(de::Error::custom(
                        "frame must hold exactly one known operation",
                    )),
                }
            }
        }
        deserializer.deserialize_map(FrameVisitor)
    }
}
