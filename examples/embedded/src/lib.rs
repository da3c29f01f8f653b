//! # chorus-example-embedded
//!
//! How a Rust program embeds Chorus: a [`Config`] built in code, the
//! application's [`hooks`], and server-side publishing through a
//! [`chorus_server::Handle`]. `main.rs` runs it; the tests start the same
//! server in-process.

use std::net::SocketAddr;
use std::time::Duration;

use chorus_protocol::message::PublishRequest;
use chorus_server::{Config, Handle, Server, ServerBuilder, StartError};
use tokio::task::JoinHandle;

pub mod hooks;

/// Where the server publishes its ticks.
pub const CLOCK_CHANNEL: &str = "demo:clock";

/// The address used when `--listen` is not given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8100";

/// The configuration, in code: the development profile (anonymous users in the
/// `demo` namespace, demo page at `/`) on `listen`. Never use it in production.
pub fn config(listen: SocketAddr) -> Config {
    let mut config = Config {
        listen,
        ..Config::default()
    };
    config.apply_dev_profile();
    config
}

/// Binds a server with the application's hooks; serve it with
/// [`Server::run_until`].
pub async fn start(listen: SocketAddr) -> Result<Server, StartError> {
    ServerBuilder::new(config(listen))
        .hooks(hooks::AppHooks)
        .bind()
        .await
}

/// Publishes `{"tick": n, "time": ms}` to [`CLOCK_CHANNEL`] every second, as the
/// server (no client involved), until the task is aborted.
pub fn spawn_clock(handle: Handle) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        for tick in 1u64.. {
            interval.tick().await;
            let data = serde_json::json!({ "tick": tick, "time": hooks::unix_time_ms() });
            let Ok(data) = chorus_protocol::Payload::json(&data) else {
                continue;
            };
            let request = PublishRequest {
                channel: CLOCK_CHANNEL.to_owned(),
                data,
                idempotency_key: None,
            };
            if let Err(e) = handle.publish(request).await {
                tracing::warn!(error = %e, "tick not published");
            }
        }
    })
}
