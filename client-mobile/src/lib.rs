//! # chorus-mobile
//!
//! The Chorus client for Kotlin (Android, JVM) and Swift (iOS, macOS), as
//! UniFFI bindings over [`chorus_client`]. Everything the SDK does (reconnect
//! with backoff, resubscribe with recovery, timeouts, the bounded queue) happens
//! in the Rust client and the protocol crate; this crate only converts types and
//! forwards calls, so mobile clients behave exactly like the Rust and browser ones.
//!
//! The shape of the API:
//! * [`Client`]: one connection; async methods (`suspend` in Kotlin, `async` in
//!   Swift) for every operation.
//! * [`Subscription`]: a channel subscription, delivering [`SubscriptionEvent`]s
//!   to a [`SubscriptionListener`] implemented in the app's language.
//! * [`ClientListener`]: connection states and messages to the user.
//! * [`ChorusError`]: typed errors (a Kotlin exception, a Swift `Error`).
//!
//! Listeners are called on the SDK's own threads: keep them short and hand work
//! to the app's dispatcher or main queue.

mod client;
mod error;
mod runtime;
mod subscription;
mod types;

pub use client::{Client, ClientListener, TokenSource};
pub use error::ChorusError;
pub use subscription::{Subscription, SubscriptionListener};
pub use types::{
    ClientEvent, ClientInfo, ClientOptions, CloseReason, ConnectionState, HistoryPage, Member,
    Message, PresenceStats, Publication, PublishResult, Recovery, StreamPosition,
    SubscriptionEvent, WireCodec,
};

uniffi::setup_scaffolding!();
