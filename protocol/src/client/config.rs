//! Client settings shared by every SDK.

use super::backoff::BackoffConfig;
use crate::codec::Codec;

/// How a client behaves. Every SDK exposes these options under the same names.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The node URLs (`ws://` or `wss://`), at least one. The first attempt
    /// goes to the first; after every failed attempt or lost connection the
    /// client moves on to the next, wrapping around, as NATS clients do: a
    /// dead node costs one attempt, not a backoff series. One URL behind a
    /// load balancer works the same.
    pub urls: Vec<String>,
    /// Wire codec (and so the WebSocket subprotocol).
    pub codec: Codec,
    /// A static token sent with `connect`.
    pub token: Option<String>,
    /// Whether the application supplies tokens on demand: the machine then asks
    /// for one ([`super::Action::FetchToken`]) before connecting without a token,
    /// before the token expires, and after the server reports it expired.
    pub token_provider: bool,
    /// Application data sent with every `connect` (for the server's `on_connect` hook).
    pub connect_data: Option<crate::payload::Payload>,
    /// Client library name sent in `connect`.
    pub name: String,
    /// Client library version sent in `connect`.
    pub version: String,
    /// Reconnect delays.
    pub backoff: BackoffConfig,
    /// How long a request may wait for its reply (also bounds queued requests).
    pub request_timeout_ms: u64,
    /// How long opening the transport plus the `connect` round trip may take.
    pub connect_timeout_ms: u64,
    /// Extra time allowed after the server's ping interval before the connection
    /// is considered dead.
    pub ping_grace_ms: u64,
    /// How many requests made while reconnecting are kept until connected;
    /// 0 fails them at once with `queue_full`.
    pub max_queued: usize,
    /// Refresh the token this long before it expires (at least half-way through).
    pub refresh_margin_ms: u64,
    /// How many live publications are buffered per channel while its subscribe
    /// reply is outstanding (beyond that, the resubscribe's recovery fills in).
    pub max_buffered_publications: usize,
    /// Seed of the jitter generator: inject real randomness here.
    pub random_seed: u64,
    /// An inbox position the application persisted from an earlier run, so the
    /// first connect replays the messages sent to the user since then.
    pub inbox_since: Option<crate::message::StreamPosition>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            urls: Vec::new(),
            codec: Codec::Json,
            token: None,
            token_provider: false,
            connect_data: None,
            name: "chorus".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            backoff: BackoffConfig::default(),
            request_timeout_ms: 10_000,
            connect_timeout_ms: 10_000,
            ping_grace_ms: 10_000,
            max_queued: 1_000,
            refresh_margin_ms: 10_000,
            max_buffered_publications: 1_000,
            random_seed: 0x5eed,
            inbox_since: None,
        }
    }
}
