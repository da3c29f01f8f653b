//! Batched direct reads from a stream (`$JS.API.DIRECT.GET`, NATS 2.11+): one
//! request answers with many stored messages, then an end-of-batch status. Used
//! to read a channel's retained history and the last value of many keys at once.

use std::time::Duration;

use async_nats::{Client, Message};
use futures_util::StreamExt;
use serde_json::Value;

use crate::broker::BrokerError;

/// One stored message as a direct read returns it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its stream sequence.
    pub sequence: u64,
    /// The subject it was stored under.
    pub subject: String,
    /// Its headers (KV operations are marked there).
    pub message: Message,
}

impl Stored {
    fn from_message(message: Message) -> Option<Stored> {
        let headers = message.headers.as_ref()?;
        let sequence = headers.get("Nats-Sequence")?.as_str().parse().ok()?;
        let subject = headers.get("Nats-Subject")?.as_str().to_owned();
        Some(Stored {
            sequence,
            subject,
            message,
        })
    }

    /// True for a KV delete or purge marker.
    pub fn is_tombstone(&self) -> bool {
        self.message
            .headers
            .as_ref()
            .and_then(|h| h.get("KV-Operation"))
            .is_some_and(|op| op.as_str() == "DEL" || op.as_str() == "PURGE")
    }
}

/// A batch of stored messages and how many more match after it.
#[derive(Debug, Default)]
pub struct Batch {
    /// The messages, in stream order.
    pub messages: Vec<Stored>,
    /// Matching messages left after this batch.
    pub pending: u64,
}

/// Pause before asking again when no server answered a direct get.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Sends a batched direct get to `stream` and collects the answer, in order.
/// Nothing matching is an empty batch, not an error.
pub async fn batch(
    client: &Client,
    stream: &str,
    request: Value,
    timeout: Duration,
) -> Result<Batch, BrokerError> {
    let inbox = client.new_inbox();
    let mut replies = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| BrokerError(format!("direct get: {e}")))?;
    let send = || async {
        client
            .publish_with_reply(
                format!("$JS.API.DIRECT.GET.{stream}"),
                inbox.clone(),
                request.to_string().into(),
            )
            .await
            .map_err(|e| BrokerError(format!("direct get: {e}")))
    };
    send().await?;
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let message = match tokio::time::timeout_at(deadline, replies.next()).await {
            Ok(Some(m)) => m,
            Ok(None) => return Err(BrokerError("direct get: connection closed".into())),
            Err(_) => return Err(BrokerError("direct get: timed out".into())),
        };
        match message.status.map(|s| s.as_u16()) {
            None => match Stored::from_message(message) {
                Some(stored) => out.push(stored),
                None => return Err(BrokerError("direct get: reply without sequence".into())),
            },
            Some(204) => {
                let pending = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Num-Pending"))
                    .and_then(|v| v.as_str().parse().ok())
                    .unwrap_or(0);
                return Ok(Batch {
                    messages: out,
                    pending,
                });
            }
            Some(404) => {
                return Ok(Batch {
                    messages: out,
                    pending: 0,
                });
            }
            // No responders: a stream just created (or moving its leader) may
            // not serve direct gets for a moment. Ask again until the deadline.
            Some(503) if out.is_empty() && tokio::time::Instant::now() + RETRY_PAUSE < deadline => {
                tokio::time::sleep(RETRY_PAUSE).await;
                send().await?;
            }
            Some(code) => {
                return Err(BrokerError(format!(
                    "direct get: status {code} {}",
                    message.description.unwrap_or_default()
                )));
            }
        }
    }
}
