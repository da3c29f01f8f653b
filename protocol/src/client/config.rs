//! Client settings shared by every SDK.

use super::backoff::BackoffConfig;
use crate::codec::Codec;

/// A setting that cannot work. Every SDK refuses it when the client is
/// created, with this one rule set, instead of failing later or quietly
/// adjusting it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No node URL at all.
    #[error("no node URL given")]
    NoUrl,
    /// A URL that is not `ws://host...` or `wss://host...`.
    #[error("{0:?} is not a ws:// or wss:// URL with a host")]
    BadUrl(String),
    /// The minimum reconnect delay is above the maximum.
    #[error("the minimum reconnect delay ({min_ms} ms) exceeds the maximum ({max_ms} ms)")]
    Backoff {
        /// [`BackoffConfig::min_ms`] as configured.
        min_ms: u64,
        /// [`BackoffConfig::max_ms`] as configured, smaller than `min_ms`.
        max_ms: u64,
    },
    /// A timeout of zero, which would fail every attempt or request at once.
    #[error("the {0} must be more than 0 ms")]
    ZeroTimeout(&'static str),
}

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
    /// Bounds of the jittered delay before each reconnect (and subscription retry).
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

impl ClientConfig {
    /// Checks the settings: at least one URL, every URL `ws://` or `wss://`
    /// with a host, a minimum reconnect delay not above the maximum, and
    /// non-zero connect and request timeouts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.urls.is_empty() {
            return Err(ConfigError::NoUrl);
        }
        if let Some(bad) = self.urls.iter().find(|u| !is_websocket_url(u)) {
            return Err(ConfigError::BadUrl(bad.clone()));
        }
        let BackoffConfig { min_ms, max_ms } = self.backoff;
        if min_ms > max_ms {
            return Err(ConfigError::Backoff { min_ms, max_ms });
        }
        if self.connect_timeout_ms == 0 {
            return Err(ConfigError::ZeroTimeout("connect timeout"));
        }
        if self.request_timeout_ms == 0 {
            return Err(ConfigError::ZeroTimeout("request timeout"));
        }
        Ok(())
    }
}

/// `ws://` or `wss://` (any case) followed by a host.
fn is_websocket_url(url: &str) -> bool {
    let lower = url.get(..6).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("wss://") {
        &url[6..]
    } else if lower.starts_with("ws://") {
        &url[5..]
    } else {
        return false;
    };
    rest.chars()
        .next()
        .is_some_and(|c| !matches!(c, '/' | '?' | '#' | ' '))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_urls(urls: &[&str]) -> ClientConfig {
        ClientConfig {
            urls: urls.iter().map(|u| u.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn urls_must_be_websocket_urls_with_a_host() {
        for good in [
            "ws://a",
            "wss://chat.example.com/ws",
            "WS://127.0.0.1:8000/ws?x=1",
        ] {
            assert_eq!(with_urls(&[good]).validate(), Ok(()), "{good}");
        }
        assert_eq!(with_urls(&[]).validate(), Err(ConfigError::NoUrl));
        for bad in [
            "http://a/ws",
            "ws:/a",
            "ws:///ws",
            "localhost:8000",
            "",
            "wss://",
        ] {
            assert_eq!(
                with_urls(&["ws://ok", bad]).validate(),
                Err(ConfigError::BadUrl(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn one_rule_for_delays_and_timeouts() {
        let mut c = with_urls(&["ws://a"]);
        c.backoff = BackoffConfig {
            min_ms: 2_000,
            max_ms: 1_000,
        };
        assert_eq!(
            c.validate(),
            Err(ConfigError::Backoff {
                min_ms: 2_000,
                max_ms: 1_000
            })
        );
        c.backoff.max_ms = 2_000;
        assert_eq!(c.validate(), Ok(()), "equal bounds are a fixed cap");
        c.connect_timeout_ms = 0;
        assert!(matches!(c.validate(), Err(ConfigError::ZeroTimeout(_))));
    }
}
