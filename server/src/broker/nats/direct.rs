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
pub(super) struct Stored {
    /// Its stream sequence, from the `Nats-Sequence` header.
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
    pub(super) fn is_tombstone(&self) -> bool {
        self.message.headers.as_ref().is_some_and(is_tombstone)
    }
}

/// True when `headers` mark a KV delete or purge (a key without a value).
pub(super) fn is_tombstone(headers: &async_nats::HeaderMap) -> bool {
    headers
        .get("KV-Operation")
        .is_some_and(|op| op.as_str() == "DEL" || op.as_str() == "PURGE")
}

/// A batch of stored messages and how many more match after it.
#[derive(Debug, Default)]
pub(super) struct Batch {
    /// The messages, in stream order.
    pub messages: Vec<Stored>,
    /// Matching messages left after this batch.
    pub pending: u64,
    /// For a `multi_last` read: the stream sequence the answering replica had
    /// reached, which the answer reflects (none when nothing matched).
    pub up_to: Option<u64>,
}

/// Pause before asking again when no server answered a direct get.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Sends a batched direct get to `stream` and collects the answer, in order.
/// Nothing matching is an empty batch, not an error.
pub(super) async fn batch(
    client: &Client,
    stream: &str,
    request: Value,
    timeout: Duration,
) -> Result<Batch, BrokerError> {
    let inbox = client.new_inbox();
    let mut replies = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| BrokerError::unavailable("direct get", e))?;
    let send = || async {
        client
            .publish_with_reply(
                format!("$JS.API.DIRECT.GET.{stream}"),
                inbox.clone(),
                request.to_string().into(),
            )
            .await
            .map_err(|e| BrokerError::unavailable("direct get", e))
    };
    send().await?;
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let message = match tokio::time::timeout_at(deadline, replies.next()).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Err(BrokerError::unavailable("direct get", "connection closed"));
            }
            Err(_) => return Err(BrokerError::Timeout("direct get: timed out".into())),
        };
        match message.status.map(|s| s.as_u16()) {
            None => match Stored::from_message(message) {
                Some(stored) => out.push(stored),
                None => {
                    return Err(BrokerError::Inconsistent(
                        "direct get: reply without sequence".into(),
                    ));
                }
            },
            Some(204) => {
                return Ok(Batch {
                    messages: out,
                    pending: header_u64(&message, "Nats-Num-Pending").unwrap_or(0),
                    up_to: header_u64(&message, "Nats-UpTo-Sequence"),
                });
            }
            Some(404) => {
                return Ok(Batch {
                    messages: out,
                    pending: 0,
                    up_to: None,
                });
            }
            // No responders: a stream just created (or moving its leader) may
            // not serve direct gets for a moment. Ask again until the deadline.
            Some(503) if out.is_empty() && tokio::time::Instant::now() + RETRY_PAUSE < deadline => {
                tokio::time::sleep(RETRY_PAUSE).await;
                send().await?;
            }
            Some(code) => {
                let status = format!("status {code} {}", message.description.unwrap_or_default());
                return Err(BrokerError::storage("direct get", status));
            }
        }
    }
}

/// A numeric header of a status reply.
fn header_u64(message: &Message, name: &str) -> Option<u64> {
    message.headers.as_ref()?.get(name)?.as_str().parse().ok()
}

/// Like [`batch`] for a `multi_last` request, but only takes an answer from a
/// replica that has reached stream sequence `floor` (asking again, for as long
/// as `timeout` allows, while one that lags answers). Any replica may answer a
/// direct get and followers lag by moments, so this is how a read sees a write
/// it knows of. The request must match at least one message that exists
/// (a replica that matches nothing cannot say how far it has got).
pub(super) async fn batch_at_least(
    client: &Client,
    stream: &str,
    request: Value,
    floor: u64,
    timeout: Duration,
) -> Result<Batch, BrokerError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let answer = batch(client, stream, request.clone(), left).await?;
        let reached = answer.up_to.unwrap_or(0);
        if floor == 0 || reached >= floor {
            return Ok(answer);
        }
        if tokio::time::Instant::now() + RETRY_PAUSE >= deadline {
            return Err(BrokerError::Timeout(format!(
                "direct get: no replica of {stream} has reached sequence {floor} (at {reached})"
            )));
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use async_nats::jetstream::{self, stream};
    use chorus_testkit::NatsServer;
    use serde_json::json;

    use super::*;

    const STREAM: &str = "DIRECT_TEST";
    const LONG: Duration = Duration::from_secs(30);

    /// A stream that serves direct gets, holding one message on `t.a`.
    async fn stream_with_one_message(nats: &NatsServer) -> (Client, jetstream::Context) {
        let client = async_nats::connect(nats.url()).await.unwrap();
        let js = jetstream::new(client.clone());
        js.create_stream(stream::Config {
            name: STREAM.into(),
            subjects: vec!["t.>".into()],
            allow_direct: true,
            ..Default::default()
        })
        .await
        .unwrap();
        js.publish("t.a", "one".into())
            .await
            .unwrap()
            .await
            .unwrap();
        (client, js)
    }

    fn last_of_a() -> Value {
        json!({ "multi_last": ["t.a"], "batch": 1 })
    }

    #[tokio::test]
    async fn a_read_waits_for_the_sequence_it_names() {
        let nats = NatsServer::start().await;
        let (client, js) = stream_with_one_message(&nats).await;
        let stream = js.get_stream(STREAM).await.unwrap();
        let last_sequence = || async { stream.get_info().await.unwrap().state.last_sequence };
        let last = last_sequence().await;
        assert_eq!(last, 1);

        let read = batch_at_least(&client, STREAM, last_of_a(), last, LONG)
            .await
            .unwrap();
        assert_eq!(read.up_to, Some(1));
        assert_eq!(&read.messages[0].message.payload[..], b"one");

        // No replica has sequence 2: the read is never answered with stale data.
        let short = Duration::from_secs(1);
        let stale = batch_at_least(&client, STREAM, last_of_a(), last + 1, short).await;
        assert!(
            stale.is_err(),
            "a read past the stream's end answered: {stale:?}"
        );

        // Once a write reaches it, the same read is answered with that write.
        let waiting = tokio::spawn({
            let client = client.clone();
            async move { batch_at_least(&client, STREAM, last_of_a(), last + 1, LONG).await }
        });
        js.publish("t.a", "two".into())
            .await
            .unwrap()
            .await
            .unwrap();
        let read = waiting.await.unwrap().unwrap();
        assert_eq!(&read.messages[0].message.payload[..], b"two");
        assert_eq!(last_sequence().await, 2);
    }

    #[tokio::test]
    async fn a_read_that_matches_nothing_cannot_meet_a_floor() {
        let nats = NatsServer::start().await;
        let (client, _js) = stream_with_one_message(&nats).await;
        let nothing = json!({ "multi_last": ["t.none"], "batch": 1 });
        let any = batch_at_least(&client, STREAM, nothing.clone(), 0, LONG)
            .await
            .unwrap();
        assert!(any.messages.is_empty() && any.up_to.is_none());
        let floored = batch_at_least(&client, STREAM, nothing, 1, Duration::from_secs(1)).await;
        assert!(floored.is_err(), "{floored:?}");
    }
}
