//! The client's options as JavaScript passes them: a plain object with the
//! protocol's [`ClientConfig`] names in camelCase, whose TypeScript type is
//! generated from this struct (`WasmOptions` in the package's `.d.ts`).
//! Defaults and validation are the protocol crate's.

use chorus_protocol::Payload;
use chorus_protocol::client::{BackoffConfig, ClientConfig};
use chorus_protocol::codec::Codec;
use chorus_protocol::message::StreamPosition;
use serde::Deserialize;
use tsify::Tsify;

/// The options a JavaScript client may set; absent ones keep the defaults.
#[derive(Debug, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WasmOptions {
    /// Several node URLs, replacing the constructor's one (see `ClientConfig::urls`).
    #[tsify(optional)]
    urls: Option<Vec<String>>,
    /// `json` (default) or `msgpack`.
    #[tsify(optional, type = "Codec")]
    codec: Option<String>,
    /// A JWT sent with `connect`.
    #[tsify(optional)]
    token: Option<String>,
    /// True when the application answers `fetch_token` events.
    #[tsify(optional)]
    token_provider: Option<bool>,
    /// Application data for `connect`, as the bytes to send.
    #[serde(default, with = "serde_bytes")]
    #[tsify(optional, type = "Uint8Array")]
    connect_data: Option<Vec<u8>>,
    /// Client name sent in `connect` (default `chorus-js`).
    #[tsify(optional)]
    name: Option<String>,
    /// Client version sent in `connect`.
    #[tsify(optional)]
    version: Option<String>,
    /// Cap of the first reconnect delay.
    #[tsify(optional)]
    min_reconnect_delay_ms: Option<u64>,
    /// Largest reconnect delay cap.
    #[tsify(optional)]
    max_reconnect_delay_ms: Option<u64>,
    /// How long a request may wait for its reply.
    #[tsify(optional)]
    request_timeout_ms: Option<u64>,
    /// How long opening the socket plus `connect` may take.
    #[tsify(optional)]
    connect_timeout_ms: Option<u64>,
    /// Time allowed after a missed server ping.
    #[tsify(optional)]
    ping_grace_ms: Option<u64>,
    /// Requests kept while reconnecting.
    #[tsify(optional)]
    max_queued: Option<usize>,
    /// Refresh the token this long before it expires.
    #[tsify(optional)]
    refresh_margin_ms: Option<u64>,
    /// Live publications buffered per channel while its subscribe is in flight.
    #[tsify(optional)]
    max_buffered_publications: Option<usize>,
    /// An inbox position persisted from an earlier run.
    #[tsify(optional)]
    inbox_since: Option<StreamPosition>,
}

impl WasmOptions {
    /// The state machine's configuration for `url` (unless the options list
    /// several), with `seed` for the jitter; refused as the protocol's
    /// `ClientConfig::validate` says.
    pub fn into_config(self, url: String, seed: u64) -> Result<ClientConfig, String> {
        let defaults = ClientConfig::default();
        let codec = match self.codec.as_deref() {
            None => Codec::Json,
            Some(name) => Codec::from_name(name)
                .ok_or_else(|| format!("unknown codec {name:?} (json or msgpack)"))?,
        };
        let backoff = BackoffConfig {
            min_ms: self
                .min_reconnect_delay_ms
                .unwrap_or(defaults.backoff.min_ms),
            max_ms: self
                .max_reconnect_delay_ms
                .unwrap_or(defaults.backoff.max_ms),
        };
        let urls = match self.urls {
            Some(urls) if !urls.is_empty() => urls,
            _ => vec![url],
        };
        let config = ClientConfig {
            urls,
            codec,
            token: self.token,
            token_provider: self.token_provider.unwrap_or(false),
            connect_data: self.connect_data.map(Payload::from),
            name: self.name.unwrap_or_else(|| "chorus-js".to_owned()),
            version: self.version.unwrap_or(defaults.version),
            backoff,
            request_timeout_ms: self
                .request_timeout_ms
                .unwrap_or(defaults.request_timeout_ms),
            connect_timeout_ms: self
                .connect_timeout_ms
                .unwrap_or(defaults.connect_timeout_ms),
            ping_grace_ms: self.ping_grace_ms.unwrap_or(defaults.ping_grace_ms),
            max_queued: self.max_queued.unwrap_or(defaults.max_queued),
            refresh_margin_ms: self.refresh_margin_ms.unwrap_or(defaults.refresh_margin_ms),
            max_buffered_publications: self
                .max_buffered_publications
                .unwrap_or(defaults.max_buffered_publications),
            random_seed: seed,
            inbox_since: self.inbox_since,
        };
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}
