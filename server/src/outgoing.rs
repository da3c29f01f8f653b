//! Pushes on their way to connections: built once per delivery by the hub,
//! encoded at most once per codec, and shared by every connection that gets
//! them. A connection's queue holds one `Arc` per item, so queueing a push for
//! a thousand connections costs a thousand reference counts, nothing more.

use std::sync::{Arc, OnceLock};

use axum::extract::ws::{self, Utf8Bytes};
use bytes::Bytes;
use chorus_protocol::message::{Membership, Message, Publication};
use chorus_protocol::{Codec, Push, ServerFrame};

/// What travels through a connection's bounded outbound queue.
pub(crate) type Item = Arc<Outgoing>;

/// One push for any number of connections, with what each checks before
/// writing it ([`Route`]).
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// Where it goes, and what lets a connection skip it.
    pub route: Route,
    /// When the push entered this node (for the publish-to-write histogram).
    pub created: std::time::Instant,
    frame: ServerFrame,
    json: OnceLock<Option<ws::Message>>,
    msgpack: OnceLock<Option<ws::Message>>,
}

/// What a connection checks before writing a queued push.
#[derive(Debug)]
pub(crate) enum Route {
    /// A publication; the connection skips offsets it has already delivered.
    Publication {
        /// Channel it belongs to.
        channel: Arc<str>,
        /// Stream position, when the channel keeps history.
        position: Option<(u64, Arc<str>)>,
    },
    /// A message to the user with its inbox position; the connection skips
    /// positions it has already delivered (the connect replay overlaps).
    Inbox {
        /// Position of the message in the user's inbox (offset, epoch).
        position: (u64, Arc<str>),
    },
    /// Any other push (join, leave, message).
    Push {
        /// Channel the push concerns, if any: dropped when no longer subscribed.
        channel: Option<Arc<str>>,
    },
}

impl Outgoing {
    /// `msgpack`: the push as it arrived from another node, already encoded
    /// as MessagePack; MessagePack connections get those bytes as they are.
    fn new(route: Route, push: Push, msgpack: Option<Bytes>) -> Item {
        let item = Outgoing {
            route,
            created: std::time::Instant::now(),
            frame: ServerFrame::Push(push),
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
        };
        if let Some(bytes) = msgpack {
            let _ = item.msgpack.set(Some(ws::Message::Binary(bytes)));
        }
        Arc::new(item)
    }

    /// A channel publication; a position lets connections skip what they
    /// already delivered.
    pub(crate) fn publication(
        channel: Arc<str>,
        publication: Publication,
        msgpack: Option<Bytes>,
    ) -> Item {
        let position = publication
            .offset
            .zip(publication.epoch.as_deref().map(Arc::<str>::from));
        let route = Route::Publication { channel, position };
        Outgoing::new(route, Push::Publication(publication), msgpack)
    }

    /// A message to a user (or everyone); one from an inbox carries its position.
    pub(crate) fn message(message: Message, msgpack: Option<Bytes>) -> Item {
        let position = message
            .offset
            .zip(message.epoch.as_deref().map(Arc::<str>::from));
        let route = match position {
            Some(position) => Route::Inbox { position },
            None => Route::Push { channel: None },
        };
        Outgoing::new(route, Push::Message(message), msgpack)
    }

    /// A join (`joined`) or leave, dropped by connections no longer subscribed.
    pub(crate) fn membership(joined: bool, event: Membership, msgpack: Option<Bytes>) -> Item {
        let route = Route::Push {
            channel: Some(event.channel.as_str().into()),
        };
        let push = if joined {
            Push::Join(event)
        } else {
            Push::Leave(event)
        };
        Outgoing::new(route, push, msgpack)
    }

    /// Any other push to one connection (an unsubscribe the server decided).
    pub(crate) fn push(push: Push) -> Item {
        Outgoing::new(Route::Push { channel: None }, push, None)
    }

    /// The WebSocket message for `codec` (`None` only if encoding failed, which
    /// the protocol's types make impossible in practice).
    pub(crate) fn message_for(&self, codec: Codec) -> Option<ws::Message> {
        let cell = match codec {
            Codec::Json => &self.json,
            Codec::MessagePack => &self.msgpack,
        };
        cell.get_or_init(|| encode(codec, &self.frame)).clone()
    }
}

/// Encodes one server frame as a WebSocket message of the codec's kind.
pub(crate) fn encode(codec: Codec, frame: &ServerFrame) -> Option<ws::Message> {
    let bytes = match codec.encode_server(frame) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "could not encode a frame");
            return None;
        }
    };
    Some(match codec {
        Codec::Json => ws::Message::Text(Utf8Bytes::from(String::from_utf8(bytes).ok()?)),
        Codec::MessagePack => ws::Message::Binary(bytes.into()),
    })
}
