//! The sans-IO client state machine that every Chorus SDK drives.
//!
//! One implementation of client behaviour (connect, reconnect with backoff,
//! resubscribe with recovery, request timeouts, a bounded reconnect queue, the
//! ping watchdog, token refresh), with no sockets, no timers and no clock of its
//! own, so the Rust, browser and mobile SDKs behave identically.
//!
//! ## Driver contract
//!
//! A driver owns a [`ClientMachine`], a WebSocket, one timer and a monotonic clock
//! in milliseconds. After **every** input it drains [`ClientMachine::poll_action`]
//! and performs the actions in order:
//!
//! | action | driver does |
//! |---|---|
//! | [`Action::OpenTransport`] | open a WebSocket to that URL with that subprotocol; report `transport_opened` or `transport_closed` |
//! | [`Action::Send`] | send the bytes as one binary or text message |
//! | [`Action::CloseTransport`] | close the WebSocket with the code and drop it; do **not** report this close |
//! | [`Action::ArmTimer`] | (re)arm the single timer; when it fires call `handle_timeout` |
//! | [`Action::FetchToken`] | ask the application; call `set_token` or `token_failed` |
//! | [`Action::Emit`] | hand the event to the application |
//!
//! Inputs: the application API (`connect`, `disconnect`, `subscribe`,
//! `unsubscribe`, `request`, `set_token`), transport events (`transport_opened`,
//! `transport_closed`, `handle_frame`) and `handle_timeout`. Each takes `now`.
//! A timer that fires early or late is harmless: `handle_timeout` only acts on
//! what is due.

mod backoff;
mod config;
mod connection;
mod event;
mod inbox;
mod machine;
mod requests;
mod subscription;

pub use backoff::{Backoff, BackoffConfig, Rng};
pub use config::{ClientConfig, ConfigError};
pub use event::{
    Action, CloseReason, ConnectionState, Event, Failure, Millis, Recovery, RequestId,
    SubscriptionState, UnsubscribeReason,
};
pub use machine::ClientMachine;
pub use subscription::SubscribeOptions;

#[cfg(test)]
mod tests;
