//! # chorus-server
//!
//! The Chorus reference server: WebSocket and HTTP on one port (axum over
//! tokio-tungstenite), the in-memory broker as the embedded single-node default,
//! history with recovery, presence, JWT auth, limits, graceful shutdown, and the
//! embedding API ([`ServerBuilder`] with [`Hooks`]).
//!
//! ## What embedders get
//!
//! The crate root holds the embedding API: [`ServerBuilder`] (with [`Hooks`]
//! and their [`ConnectContext`] and [`ConnectDecision`]) binds a [`Server`];
//! [`Server::handle`] gives the [`Handle`] that publishes, sends, disconnects
//! and reads presence and history from server code, returning [`ChannelInfo`],
//! [`NodeStatus`], [`NodeInfo`] and [`NodeCounts`], and revoking tokens with a
//! [`Revocation`]; [`Server::node`] gives the [`Node`], whose configuration can
//! be read and reloaded. Starting and reloading fail with [`StartError`] and
//! [`ReloadError`] (a [`BrokerError`] among their causes). A few modules are public namespaces of their
//! own: [`config`] (the options, set in code or loaded from TOML and the
//! environment), [`auth`] (token claims, verification and minting), [`tls`]
//! (its options), [`clock`] (the Unix time tokens are dated in), [`gentoken`]
//! (`chorus token`), [`dev`] (the development profile's keys and credentials
//! file), [`sdk`] (the browser SDK's routes) and [`admin`] (the dashboard's
//! start-up notice). [`protocol`] is the protocol crate, re-exported.
//!
//! Everything else is private: it changes with the implementation. Inside,
//! one concept per module: `node` (a running node), `server` (starting and
//! running one), `http` (routes), `session` (one connection's loop) and
//! `commands` (what each command does), `hub` (local membership and
//! delivery), `broker` (moving messages between nodes), `history` (what both
//! brokers' streams share) and `stream_key` (what brokers keep streams
//! under), `online` (users' online status), `permissions`, `hooks`,
//! `outgoing` (shared encoded frames), `rate`. `testing` is a hidden seam for
//! this crate's own integration tests and fuzz targets, not part of the API.

#![warn(unreachable_pub)]

pub mod admin;
mod api;
pub mod auth;
mod broker;
pub mod clock;
mod commands;
pub mod config;
pub mod dev;
pub mod gentoken;
mod handle;
mod history;
mod hooks;
mod http;
mod hub;
mod idempotency;
mod ids;
mod inbox;
mod listener;
mod metrics;
mod node;
mod online;
mod outgoing;
mod permissions;
mod rate;
mod reload;
mod revocation;
pub mod sdk;
mod server;
mod session;
mod stall;
mod stream_key;
mod sync;
#[doc(hidden)]
pub mod testing;
pub mod tls;

/// The protocol crate, re-exported so embedders use the same version.
pub use chorus_protocol as protocol;

pub use broker::{BoxFuture, BrokerError, NodeCounts, NodeInfo, NodeStatus};
pub use config::Config;
pub use handle::{ChannelInfo, Handle};
pub use hooks::{ConnectContext, ConnectDecision, Hooks, NoHooks};
pub use node::{Node, ReloadError};
pub use revocation::{Revocation, Revoked};
pub use server::{Server, ServerBuilder, StartError};
