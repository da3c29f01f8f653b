//! The chat example's backend. A chat needs little of one: the page does the
//! chatting through the browser SDK, and the backend only signs users in
//! (`POST /session`), as any app's backend would. Everything the page uses:
//!
//! * rooms are channels `demo:room.<name>`, with history (the last messages
//!   load on join), presence (who is here) and join/leave events;
//! * typing indicators go to a second channel per room, `demo:typing.<name>`,
//!   so they stay out of the room's history;
//! * direct messages are user-to-user messages (`sendToUser`), which reach
//!   every device of the user on any node and wait in their inbox while they
//!   are offline; the page keeps its inbox position, so a closed tab catches
//!   up when it opens again.

use std::sync::Arc;

use axum::Router;
use chorus_example_support::{ServerInfo, web};

/// The page, with its script inline.
pub const PAGE: &str = include_str!("../page/index.html");

/// Where the app serves its page by default.
pub const DEFAULT_PORT: u16 = 8001;

/// The app: the page, the browser SDK and the sign-in route.
pub fn app(server: Arc<ServerInfo>) -> Router {
    web::router(PAGE, server)
}
