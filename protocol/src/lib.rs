//! # chorus-protocol
//!
//! The single source of truth for the Chorus wire protocol and for client behaviour:
//!
//! * [`frame`] and [`message`]: the envelope (commands with ids, replies echoing them,
//!   pushes without ids) and the fields of every operation;
//! * [`codec`]: one set of types, two codecs (`chorus.v1.json`, `chorus.v1.msgpack`);
//! * [`payload`]: application data that survives both codecs unchanged;
//! * [`cursor`]: a reader's place in a stream, and the rule that delivers it
//!   exactly once and in order;
//! * [`codes`]: the table of error codes and close codes;
//! * [`channel`] and [`subject`]: the channel-name grammar and its injective
//!   encoding into NATS subject tokens;
//! * [`client`]: the sans-IO client state machine every SDK drives.
//!
//! No I/O, no async runtime, no clock: time and randomness are passed in, so the
//! crate builds for `wasm32-unknown-unknown` and is tested without sockets.
//! docs/protocol.md is the prose specification of what these types encode.

pub mod channel;
pub mod client;
pub mod codec;
pub mod codes;
pub mod cursor;
pub mod frame;
pub mod message;
pub mod payload;
pub mod subject;
mod tree;
pub mod user;

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctest;

pub use channel::{Channel, ChannelError};
pub use codec::{Codec, DecodeError, EncodeError};
pub use codes::{CloseCode, ErrorCode};
pub use frame::{ClientFrame, Command, Push, Reply, ReplyBody, Request, ServerFrame};
pub use payload::Payload;
pub use user::{UserIdError, check_user_id};

/// Protocol version implemented by this crate (the `v1` in the subprotocol names).
pub const PROTOCOL_VERSION: u32 = 1;
