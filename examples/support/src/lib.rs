//! What the three example apps (`examples/chat`, `examples/notifications`,
//! `examples/whiteboard`) share, so that each app's own code is only what
//! makes it that app:
//!
//! * [`server`]: where the Chorus server is and its keys: from flags and
//!   variables, or from the credentials file a development node (`chorus --dev`)
//!   writes for local app backends;
//! * [`session`]: signing a user in, as an app backend does: a user name in,
//!   a token signed with the server's secret out;
//! * [`web`]: the app's HTTP side: its page, the browser SDK, the sign-in route;
//! * [`api`]: the server API (`/api/send`, `/api/broadcast`, ...) for backends;
//! * [`testing`]: a development node and an app in-process, for the apps' tests.

pub mod api;
pub mod server;
pub mod session;
pub mod testing;
pub mod web;

pub use server::{ServerArgs, ServerInfo};
