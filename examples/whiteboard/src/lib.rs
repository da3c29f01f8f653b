//! The whiteboard example's backend. A shared board with live cursors: many
//! small messages in one channel, from many clients at once. As in the chat
//! example, the page does the real work through the browser SDK and the backend
//! only signs users in (`POST /session`); it can also run simulated clients
//! ([`bots`]), so one person with one browser sees a busy board.
//!
//! Two channels, both in the development server's `demo` namespace (the one
//! open to signed-in users, where only subscribers may publish):
//!
//! * [`BOARD_CHANNEL`] (`demo:board`): one publication per stroke, a
//!   [`Stroke`] `{"id", "color", "width", "points": [[x, y], ...]}`. The
//!   namespace keeps history (the last 100 publications, for ten minutes), so
//!   a page that opens later draws the board so far from it, then goes live
//!   from exactly where the history ends.
//! * [`CURSORS_CHANNEL`] (`demo:cursors`): a [`Cursor`] `{"x", "y"}` whenever a
//!   pointer moves, at most every [`CURSOR_INTERVAL`]. Presence on this
//!   channel is the "N people here" count, and a leave event takes the
//!   leaver's cursor off the board. The namespace keeps history here too (it
//!   is namespace-wide), but nobody reads it: old cursor positions are noise.
//!
//! Positions are board coordinates, `0..=1` on each axis, so boards of any size
//! agree. Who drew a stroke or moves a cursor is not in the data: it is the
//! publication's client info, which the server takes from the token, so it
//! cannot be forged.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chorus_example_support::{ServerInfo, web};
use serde::{Deserialize, Serialize};

pub mod bots;

/// The page, with its script inline.
pub const PAGE: &str = include_str!("../page/index.html");

/// Where the app serves its page by default.
pub const DEFAULT_PORT: u16 = 8003;

/// The strokes: one publication each, kept in history.
pub const BOARD_CHANNEL: &str = "demo:board";

/// The cursors: many small publications; presence is who is here.
pub const CURSORS_CHANNEL: &str = "demo:cursors";

/// The shortest time between two cursor publications of one client. The
/// server allows a connection 100 commands a second on average; cursors at
/// this pace use a fifth of it (the page throttles to the same interval).
pub const CURSOR_INTERVAL: Duration = Duration::from_millis(50);

/// A cursor position, in board coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// From the left edge, `0..=1`.
    pub x: f64,
    /// From the top edge, `0..=1`.
    pub y: f64,
}

/// One stroke, as one publication: small enough (a few hundred points at most)
/// to stay far below the server's message size limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stroke {
    /// Unique per stroke, so a page recognises its own strokes coming back.
    pub id: String,
    /// A CSS colour, `#rrggbb`.
    pub color: String,
    /// The line width, as a fraction of the board's width.
    pub width: f64,
    /// The path, in board coordinates.
    pub points: Vec<[f64; 2]>,
}

/// The app: the page, the browser SDK and the sign-in route.
pub fn app(server: Arc<ServerInfo>) -> Router {
    web::router(PAGE, server)
}
