//! Frames on their way to connections: encoded once per codec, shared by all.

use std::sync::{Arc, OnceLock};

use axum::extract::ws::{Message, Utf8Bytes};
use chorus_protocol::{Codec, Push, ServerFrame};

/// A push encoded lazily, at most once per codec, however many connections get it.
#[derive(Debug)]
pub struct SharedFrame {
    frame: ServerFrame,
    /// When the frame entered this node (for the publish-to-write histogram).
    pub created: std::time::Instant,
    json: OnceLock<Option<Message>>,
    msgpack: OnceLock<Option<Message>>,
}

impl SharedFrame {
    /// Wraps a push for fan-out.
    pub fn push(push: Push) -> Arc<SharedFrame> {
        Arc::new(SharedFrame {
            frame: ServerFrame::Push(push),
            created: std::time::Instant::now(),
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
        })
    }

    /// Wraps a push that arrived already encoded as MessagePack (from another
    /// node): MessagePack connections get those bytes as they are.
    pub fn push_encoded(push: Push, msgpack: bytes::Bytes) -> Arc<SharedFrame> {
        let shared = SharedFrame {
            frame: ServerFrame::Push(push),
            created: std::time::Instant::now(),
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
        };
        let _ = shared.msgpack.set(Some(Message::Binary(msgpack)));
        Arc::new(shared)
    }

    /// The frame itself.
    pub fn frame(&self) -> &ServerFrame {
        &self.frame
    }

    /// The WebSocket message for `codec` (`None` only if encoding failed, which
    /// the protocol's types make impossible in practice).
    pub fn message(&self, codec: Codec) -> Option<Message> {
        let cell = match codec {
            Codec::Json => &self.json,
            Codec::MessagePack => &self.msgpack,
        };
        cell.get_or_init(|| encode(codec, &self.frame)).clone()
    }
}

/// Encodes one server frame as a WebSocket message of the codec's kind.
pub fn encode(codec: Codec, frame: &ServerFrame) -> Option<Message> {
    let bytes = match codec.encode_server(frame) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "could not encode a frame");
            return None;
        }
    };
    Some(match codec {
        Codec::Json => Message::Text(Utf8Bytes::from(String::from_utf8(bytes).ok()?)),
        Codec::MessagePack => Message::Binary(bytes.into()),
    })
}

/// What travels through a connection's bounded outbound queue.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A publication; the connection skips offsets it has already delivered.
    Publication {
        /// Channel it belongs to.
        channel: Arc<str>,
        /// Stream position, when the channel keeps history.
        position: Option<(u64, Arc<str>)>,
        /// The encoded push.
        frame: Arc<SharedFrame>,
    },
    /// A message to the user with its inbox position; the connection skips
    /// positions it has already delivered (the connect replay overlaps).
    Inbox {
        /// Inbox position.
        position: (u64, Arc<str>),
        /// The encoded push.
        frame: Arc<SharedFrame>,
    },
    /// Any other push (join, leave, message).
    Push {
        /// Channel the push concerns, if any: dropped when no longer subscribed.
        channel: Option<Arc<str>>,
        /// The encoded push.
        frame: Arc<SharedFrame>,
    },
}

impl Outgoing {
    /// The queue item for a push: a publication carries its channel and position
    /// (connections skip what they already delivered), a join or leave its
    /// channel (dropped after unsubscribing), anything else no channel.
    pub fn for_push(frame: Arc<SharedFrame>) -> Outgoing {
        match frame.frame() {
            ServerFrame::Push(Push::Publication(p)) => Outgoing::Publication {
                channel: p.channel.as_str().into(),
                position: p.offset.zip(p.epoch.as_deref().map(Arc::<str>::from)),
                frame,
            },
            ServerFrame::Push(Push::Message(m)) if m.offset.is_some() && m.epoch.is_some() => {
                Outgoing::Inbox {
                    position: (
                        m.offset.unwrap_or(0),
                        m.epoch.as_deref().unwrap_or("").into(),
                    ),
                    frame,
                }
            }
            ServerFrame::Push(Push::Join(m) | Push::Leave(m)) => Outgoing::Push {
                channel: Some(m.channel.as_str().into()),
                frame,
            },
            _ => Outgoing::Push {
                channel: None,
                frame,
            },
        }
    }
}
