//! What the scenarios know about the server under test: where to reach it, how
//! to obtain tokens for it, and the configuration it runs ([`Profile`]).

use std::time::{SystemTime, UNIX_EPOCH};

use super::profile::Profile;
use super::tokens::TokenSource;

/// The server's HTTP API.
#[derive(Debug, Clone)]
pub struct Api {
    /// Base URL, for example `http://127.0.0.1:8000`.
    pub url: String,
    /// The API key sent with every API request.
    pub key: Option<String>,
}

/// Everything a scenario may use: the server's addresses, a token source and
/// the profile it is configured with.
#[derive(Debug, Clone)]
pub struct Context {
    /// WebSocket URLs of the server's nodes (at least one). Scenarios with
    /// several connections spread them over these URLs, so that with several
    /// nodes of a cluster messages cross between nodes.
    pub ws: Vec<String>,
    /// The HTTP API, when given.
    pub api: Option<Api>,
    /// How to obtain tokens.
    pub tokens: TokenSource,
    /// Namespace names and limits the target is configured with.
    pub profile: Profile,
}

impl Context {
    /// A context for one WebSocket URL, without API or tokens, with the
    /// default [`Profile`].
    pub fn new(ws: impl Into<String>) -> Context {
        Context {
            ws: vec![ws.into()],
            api: None,
            tokens: TokenSource::None,
            profile: Profile::default(),
        }
    }

    /// The URL for the `n`-th connection of a scenario (cycling through them).
    pub fn ws_url(&self, n: usize) -> &str {
        if self.ws.is_empty() {
            return "";
        }
        &self.ws[n % self.ws.len()]
    }

    /// The number of nodes given.
    pub fn nodes(&self) -> usize {
        self.ws.len()
    }

    /// A fresh channel name in namespace `ns`: `<ns>:cf-<random>`.
    pub fn channel(&self, ns: &str) -> String {
        format!("{ns}:cf-{}", random_hex(8))
    }
}

/// `bytes` random bytes as lower-case hex (from the OS; falls back to the clock).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom::fill(&mut buf).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A user id unique to this run, with a readable prefix.
pub fn user_id(prefix: &str) -> String {
    format!("cf-{prefix}-{}", random_hex(4))
}
