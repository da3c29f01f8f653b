//! The conformance suite that runs against a live server.
//!
//! * [`Scenario`]: one named check, run once per codec or once in all;
//! * [`Context`]: the server's WebSocket URLs, its optional HTTP API, a
//!   [`TokenSource`] (HS256 with the server's secret, or a shell command) and
//!   the [`Profile`] (namespaces and limits) the server is configured with;
//! * [`client`]: a raw protocol client over tokio-tungstenite;
//! * [`http`]: a minimal client for the server API;
//! * [`runner`]: runs a catalogue, a few scenarios at a time, each with a
//!   timeout, and collects a [`Report`] (JSON via serde, plus a human summary);
//! * [`scenarios`]: the catalogue itself, [`catalogue`], one module per area.
//!
//! ```no_run
//! # async fn demo() {
//! use chorus_conformance::suite::{self, Context, RunOptions, TokenSource};
//! let mut ctx = Context::new("ws://127.0.0.1:8000/ws");
//! ctx.tokens = TokenSource::Hmac("the-server-secret-of-at-least-32-bytes".into());
//! let report = suite::run(&ctx, &suite::catalogue(), &RunOptions::default()).await;
//! println!("{}", report.human());
//! assert!(report.ok());
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;

use chorus_protocol::Codec;

pub mod client;
pub mod context;
pub mod http;
pub mod profile;
pub mod report;
pub mod runner;
pub mod scenarios;
pub mod tokens;

pub use client::Failure;
pub use context::{Api, Context};
pub use profile::Profile;
pub use report::{Report, ScenarioResult, Status, Summary};
pub use runner::{RunOptions, run, run_with};
pub use scenarios::catalogue;
pub use tokens::{Claims, TokenError, TokenSource};

/// A boxed, sendable future (what [`Scenario::run`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The result of one scenario run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server behaved as the protocol requires.
    Pass,
    /// It did not: why.
    Fail(String),
    /// The scenario could not run here: why.
    Skip(String),
}

impl From<Failure> for Outcome {
    fn from(f: Failure) -> Outcome {
        Outcome::Fail(f.0)
    }
}

/// Which codecs a scenario runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codecs {
    /// Once per codec (JSON, then MessagePack).
    Each,
    /// Once, independent of the codec (the `codec` argument is JSON and is not
    /// meaningful).
    Independent,
}

/// What a scenario needs besides a WebSocket URL. Without it, the runner
/// skips the scenario and says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// A token source (`--hmac-secret` or `--token-cmd`).
    pub tokens: bool,
    /// The HTTP API (`--api`).
    pub api: bool,
    /// At least this many WebSocket URLs (nodes of a cluster).
    pub nodes: usize,
}

impl Needs {
    /// Nothing but one WebSocket URL.
    pub const NOTHING: Needs = Needs {
        tokens: false,
        api: false,
        nodes: 1,
    };
    /// Tokens.
    pub const TOKENS: Needs = Needs {
        tokens: true,
        api: false,
        nodes: 1,
    };
    /// Tokens and the HTTP API.
    pub const API: Needs = Needs {
        tokens: true,
        api: true,
        nodes: 1,
    };
    /// Tokens and two or more nodes.
    pub const CLUSTER: Needs = Needs {
        tokens: true,
        api: false,
        nodes: 2,
    };
}

impl Default for Needs {
    fn default() -> Self {
        Needs::NOTHING
    }
}

/// One conformance check.
pub trait Scenario: Send + Sync {
    /// A short, stable, kebab-case name (used by `--only` and in reports).
    fn name(&self) -> &'static str;

    /// The area it belongs to (`handshake`, `auth`, `commands`, ...).
    fn area(&self) -> &'static str;

    /// One sentence: what the server must do.
    fn description(&self) -> &'static str;

    /// Which codecs it runs with.
    fn codecs(&self) -> Codecs {
        Codecs::Each
    }

    /// What it needs besides a WebSocket URL.
    fn needs(&self) -> Needs {
        Needs::default()
    }

    /// Runs the check against the server described by `ctx`, with `codec`.
    fn run<'a>(&'a self, ctx: &'a Context, codec: Codec) -> BoxFuture<'a, Outcome>;
}

/// The name of a codec in reports: `json` or `msgpack`.
pub fn codec_label(codec: Codec) -> &'static str {
    codec.name()
}
