//! A raw protocol client over tokio-tungstenite: no SDK and no state machine,
//! so that what is checked is exactly what the server puts on the wire.
//!
//! A background task reads the connection as frames arrive and answers server
//! pings at once (when the connect reply asked for pongs), so a scenario busy
//! with other connections is never closed for a missing pong. Frames are then
//! handed to the scenario in order. Every wait is bounded by [`WAIT`]; every
//! failure is a [`Failure`] that says what was expected, never a panic.
//!
//! The client is strict where the protocol is: each command gets exactly one
//! reply echoing its id, data frames match the codec's frame type, and server
//! frames decode (pushes of unknown kinds, which a newer server may send, are
//! ignored as the protocol requires).
//!
//! * `transport`: dialling and the WebSocket upgrade;
//! * `reader`: the background task that reads the connection;
//! * `wire`: the WebSocket message of each codec, recognising unknown
//!   pushes, encoding arbitrary values, showing frames in failures;
//! * [`Conn`]: one connection, its sending and closing (`conn`), its waits for
//!   frames, replies and pushes (`receive`) and its command helpers
//!   (`commands`).

use std::time::Duration;

mod commands;
mod conn;
mod reader;
mod receive;
mod transport;
mod wire;

pub use conn::Conn;
pub use reader::{Closed, Received};
pub use transport::{ConnOptions, Upgrade, Ws, upgrade, upgrade_with_origin};
pub use wire::{data_message, encode_value, show};

/// The longest a client waits for any one thing (an upgrade, a frame, a close).
/// Generous, so that a loaded machine never fails a scenario by timing.
pub const WAIT: Duration = Duration::from_secs(20);

/// Why a check failed: a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

/// Builds a [`Failure`] from `format!` arguments.
macro_rules! fail {
    ($($arg:tt)*) => { $crate::suite::client::Failure(format!($($arg)*)) };
}
pub(crate) use fail;
