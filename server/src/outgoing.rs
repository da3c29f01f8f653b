//! Frames on their way to connections: encoded once per codec, shared by all.

use std::sync::{Arc, OnceLock};

use axum::extract::ws::{Message, Utf8Bytes};
use chorus_protocol::message::{Membership, Message as UserMessage, Publication};
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
    /// Wraps a push for fan-out. `msgpack`: the push as it arrived from another
    /// node, already encoded as MessagePack; MessagePack connections get those
    /// bytes as they are.
    pub fn new(push: Push, msgpack: Option<bytes::Bytes>) -> Arc<SharedFrame> {
        let shared = SharedFrame {
            frame: ServerFrame::Push(push),
            created: std::time::Instant::now(),
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
        };
        if let Some(bytes) = msgpack {
            let _ = shared.msgpack.set(Some(Message::Binary(bytes)));
        }
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
    /// A channel publication; a position lets connections skip what they
    /// already delivered.
    pub fn publication(
        channel: Arc<str>,
        publication: Publication,
        msgpack: Option<bytes::Bytes>,
    ) -> Outgoing {
        let position = publication
            .offset
            .zip(publication.epoch.as_deref().map(Arc::<str>::from));
        Outgoing::Publication {
            channel,
            position,
            frame: SharedFrame::new(Push::Publication(publication), msgpack),
        }
    }

    /// A message to a user (or everyone); one from an inbox carries its position.
    pub fn message(message: UserMessage, msgpack: Option<bytes::Bytes>) -> Outgoing {
        let position = message
            .offset
            .zip(message.epoch.as_deref().map(Arc::<str>::from));
        let frame = SharedFrame::new(Push::Message(message), msgpack);
        match position {
            Some(position) => Outgoing::Inbox { position, frame },
            None => Outgoing::Push {
                channel: None,
                frame,
            },
        }
    }

    /// A join (`joined`) or leave, dropped by connections no longer subscribed.
    pub fn membership(joined: bool, event: Membership, msgpack: Option<bytes::Bytes>) -> Outgoing {
        let channel = Some(event.channel.as_str().into());
        let push = if joined {
            Push::Join(event)
        } else {
            Push::Leave(event)
        };
        Outgoing::Push {
            channel,
            frame: SharedFrame::new(push, msgpack),
        }
    }

    /// Any other push to one connection (an unsubscribe the server decided).
    pub fn push(push: Push) -> Outgoing {
        Outgoing::Push {
            channel: None,
            frame: SharedFrame::new(push, None),
        }
    }
}
