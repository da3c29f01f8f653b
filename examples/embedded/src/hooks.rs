//! The application's rules, as Chorus hooks: who a connection is, which
//! messages are refused, and what the rpc methods answer.

use std::time::{SystemTime, UNIX_EPOCH};

use chorus_protocol::message::{ClientInfo, Error};
use chorus_protocol::{CloseCode, ErrorCode, Payload};
use chorus_server::{BoxFuture, ConnectContext, ConnectDecision, Hooks};

/// Application error: a publication was refused by moderation.
pub const MESSAGE_REFUSED: ErrorCode = ErrorCode(1001);
/// Application error: the rpc method does not exist.
pub const UNKNOWN_METHOD: ErrorCode = ErrorCode(1002);

/// Words that may not be published (matched case-insensitively).
pub const BANNED_WORDS: &[&str] = &["spam"];

/// The example's hooks: names connections, refuses banned words, answers rpc.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppHooks;

/// Whether `data` contains a banned word.
pub fn is_banned(data: &Payload) -> bool {
    let text = String::from_utf8_lossy(data.as_bytes()).to_lowercase();
    BANNED_WORDS.iter().any(|word| text.contains(word))
}

/// Milliseconds since the Unix epoch, on the server's clock.
pub fn unix_time_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn json(value: &serde_json::Value) -> Result<Payload, Error> {
    Payload::json(value).map_err(|e| Error::new(ErrorCode::INTERNAL, e.to_string()))
}

impl Hooks for AppHooks {
    /// Attaches `{"name": ...}` so others see who published (anonymous users are "guest").
    fn on_connect<'a>(
        &'a self,
        ctx: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<ConnectDecision, Error>> {
        Box::pin(async move {
            let name = if ctx.user.is_empty() {
                "guest"
            } else {
                &ctx.user
            };
            Ok(ConnectDecision {
                info: Some(json(&serde_json::json!({ "name": name }))?),
                data: None,
            })
        })
    }

    /// Refuses messages with a banned word; everything else is published unchanged.
    fn on_publish<'a>(
        &'a self,
        client: &'a ClientInfo,
        channel: &'a str,
        data: Payload,
    ) -> BoxFuture<'a, Result<Payload, Error>> {
        Box::pin(async move {
            if is_banned(&data) {
                tracing::info!(client = %client.client, channel, "message refused");
                return Err(Error::new(MESSAGE_REFUSED, "message refused"));
            }
            Ok(data)
        })
    }

    /// `time`: the server's Unix time in ms; `echo`: the input back.
    fn on_rpc<'a>(
        &'a self,
        _client: &'a ClientInfo,
        method: &'a str,
        data: Payload,
    ) -> BoxFuture<'a, Result<Payload, Error>> {
        Box::pin(async move {
            match method {
                "time" => json(&unix_time_ms().into()),
                "echo" => Ok(data),
                other => Err(Error::new(
                    UNKNOWN_METHOD,
                    format!("unknown method {other:?}"),
                )),
            }
        })
    }

    /// Logs the end of a connection (a real application might update a database).
    fn on_disconnect(&self, client: &ClientInfo, code: CloseCode) {
        tracing::info!(client = %client.client, user = %client.user, %code, "disconnected");
    }
}
