//! Configuring a client.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chorus_protocol::Codec;
use chorus_protocol::client::{BackoffConfig, ClientConfig};

use crate::error::ClientError;
use crate::tls::TlsError;
use crate::{Client, driver};

/// Supplies fresh tokens: called before connecting without a token, before the
/// current one expires, and after the server reports it expired.
pub type TokenProvider = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, ClientError>> + Send>> + Send + Sync,
>;

/// Builds a [`Client`]. Defaults match every other Chorus SDK (docs/protocol.md).
pub struct ClientBuilder {
    pub(crate) config: ClientConfig,
    /// CAs trusted for `wss://` beyond the platform's and webpki's.
    pub(crate) roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    pub(crate) token_provider: Option<TokenProvider>,
    pub(crate) subscription_buffer: usize,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("urls", &self.config.urls)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    pub(crate) fn new(url: String) -> Self {
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        ClientBuilder {
            config: ClientConfig {
                urls: vec![url],
                name: "chorus-rust".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                random_seed: u64::from_le_bytes(seed),
                ..ClientConfig::default()
            },
            token_provider: None,
            subscription_buffer: 1024,
            roots: Vec::new(),
        }
    }

    /// Several node URLs of one cluster, replacing the builder's URL: the
    /// first attempt goes to the first, and after every failed attempt or lost
    /// connection the client moves on to the next (wrapping around), so the
    /// death of a node costs its clients one attempt.
    pub fn urls<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let urls: Vec<String> = urls.into_iter().map(Into::into).collect();
        if !urls.is_empty() {
            self.config.urls = urls;
        }
        self
    }

    /// Trusts the CA certificate(s) in `pem` for `wss://`, on top of the
    /// platform's roots and Mozilla's: for self-signed deployments and tests.
    pub fn add_root_certificate(mut self, pem: impl AsRef<[u8]>) -> Result<Self, TlsError> {
        self.roots.extend(crate::tls::parse_pem(pem.as_ref())?);
        Ok(self)
    }

    /// A JWT sent in every `connect` and never refreshed: once it expires the client closes.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.config.token = Some(token.into());
        self
    }

    /// A token source, for tokens that expire.
    pub fn token_provider<F, Fut>(mut self, provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, ClientError>> + Send + 'static,
    {
        self.config.token_provider = true;
        self.token_provider = Some(Arc::new(move || Box::pin(provider())));
        self
    }

    /// Wire codec (default JSON).
    pub fn codec(mut self, codec: Codec) -> Self {
        self.config.codec = codec;
        self
    }

    /// Reconnect delays (default 500 ms and 20 s): the delay before retry `n`
    /// is drawn from `[0, min(max, min × 2^n)]` (full jitter, the first retry
    /// included).
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.config.backoff = BackoffConfig {
            min_ms: min.as_millis() as u64,
            max_ms: max.as_millis() as u64,
        };
        self
    }

    /// How long a request waits for its reply (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout_ms = timeout.as_millis() as u64;
        self
    }

    /// How long opening the transport plus `connect` may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout_ms = timeout.as_millis() as u64;
        self
    }

    /// Requests kept while reconnecting (default 1000; 0 fails them at once).
    pub fn max_queued(mut self, n: usize) -> Self {
        self.config.max_queued = n;
        self
    }

    /// Events buffered per subscription before the client stops reading the
    /// socket (default 1024): a slow application slows its connection, and the
    /// server's slow-consumer limit plus recovery take over.
    pub fn subscription_buffer(mut self, n: usize) -> Self {
        self.subscription_buffer = n.max(1);
        self
    }

    /// Data for the server's `on_connect` hook.
    pub fn connect_data(mut self, data: impl Into<chorus_protocol::Payload>) -> Self {
        self.config.connect_data = Some(data.into());
        self
    }

    /// Starts from an inbox position persisted by an earlier run of the app:
    /// the first connect replays the messages sent to the user since then.
    pub fn inbox_since(mut self, position: chorus_protocol::message::StreamPosition) -> Self {
        self.config.inbox_since = Some(position);
        self
    }

    /// Checks the settings by the protocol crate's rules (every SDK applies
    /// the same). An invalid client still builds; its `connect` returns this.
    pub fn validate(&self) -> Result<(), ClientError> {
        Ok(self.config.validate()?)
    }

    /// Starts the client's background task (on the current tokio runtime). The
    /// client does not connect until [`Client::connect`], which refuses
    /// settings that [`ClientBuilder::validate`] refuses.
    pub fn build(self) -> Client {
        driver::spawn(self)
    }
}
