//! # chorus-server
//!
//! The Chorus reference server: WebSocket and HTTP on one port (axum over
//! tokio-tungstenite), the in-memory broker as the embedded single-node default,
//! history with recovery, presence, JWT auth, limits, graceful shutdown, and the
//! embedding API ([`ServerBuilder`] with [`Hooks`]).
//!
//! Layout, one concept per module:
//! [`config`] (options), [`node`] (a running node), [`server`] (starting and
//! running one), [`http`]
//! (routes), [`session`] (one connection's loop) and [`commands`] (what each
//! command does), [`hub`] (local membership and delivery), [`broker`] (moving
//! messages between nodes), [`history`] (streams) and [`stream_key`] (what
//! brokers keep them under), [`auth`] and [`permissions`],
//! [`hooks`] (embedder decisions), [`outgoing`] (shared encoded frames), [`rate`],
//! [`admin`] (the dashboard at `/admin`), [`clock`] (wall-clock time for tokens
//! and last-seen).

pub mod admin;
pub mod api;
pub mod auth;
pub mod broker;
pub mod clock;
pub mod commands;
pub mod config;
pub mod dev;
pub mod gentoken;
pub mod handle;
pub mod history;
pub mod hooks;
pub mod http;
pub mod hub;
pub mod idempotency;
pub mod ids;
pub mod inbox;
pub mod listener;
pub mod metrics;
pub mod node;
pub mod online;
pub mod outgoing;
pub mod permissions;
pub mod rate;
pub mod reload;
pub mod revocation;
pub mod sdk;
pub mod server;
pub mod session;
pub mod stall;
pub mod stream_key;
pub(crate) mod sync;
pub mod tls;

/// The protocol crate, re-exported so embedders use the same version.
pub use chorus_protocol as protocol;

pub use broker::BoxFuture;
pub use config::Config;
pub use handle::Handle;
pub use hooks::{ConnectContext, ConnectDecision, Hooks, NoHooks};
pub use node::{Node, ReloadError};
pub use server::{Server, ServerBuilder, StartError};
