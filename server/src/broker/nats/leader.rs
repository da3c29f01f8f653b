//! Reads only a stream's leader answers. A direct get (see [`super::direct`])
//! is answered by any replica, and a follower can lag the last acknowledged
//! writes by moments; JetStream's message get goes to the stream leader, which
//! holds every acknowledged write. A read that must see such a write (the
//! head of a channel's history, whether a user was ever seen) asks here.

use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{
    LastRawMessageErrorKind, RawMessageBuilder, Stream, WithHeaders,
};
use async_nats::jetstream::{self, ErrorCode};
use tokio::time::Instant;

use super::pauses::Pauses;
use crate::broker::BrokerError;

/// The longest a single request to a stream leader may take before it is
/// sent again: during an election no leader answers at all.
const ATTEMPT: Duration = Duration::from_secs(1);

/// A JetStream context for requests to stream leaders: short attempts, asked
/// again through elections.
#[derive(Debug, Clone)]
pub(super) struct Leader {
    js: jetstream::Context,
}

impl Leader {
    /// Requests over `client`, each attempt at most `timeout` (and at most
    /// [`ATTEMPT`]).
    pub(super) fn new(client: Client, timeout: Duration) -> Leader {
        let js = jetstream::ContextBuilder::new()
            .timeout(timeout.min(ATTEMPT))
            .build(client);
        Leader { js }
    }

    /// The context itself, for other requests the leader answers (stream info).
    pub(super) fn context(&self) -> &jetstream::Context {
        &self.js
    }

    /// The last message of `stream` on `subject`; `None` when there is none.
    pub(super) async fn last_by_subject(
        &self,
        stream: &str,
        subject: &str,
        deadline: Instant,
    ) -> Result<Option<StreamMessage>, BrokerError> {
        self.get(stream, deadline, |s| {
            s.raw_message_builder().last_by_subject(subject)
        })
        .await
    }

    /// One message-get `request` to the leader of `stream`, asked again with
    /// short attempts until `deadline`; `None` when nothing matches (or the
    /// stream does not exist: it holds nothing).
    pub(super) async fn get<F>(
        &self,
        name: &str,
        deadline: Instant,
        request: F,
    ) -> Result<Option<StreamMessage>, BrokerError>
    where
        F: Fn(&Stream<()>) -> RawMessageBuilder<WithHeaders>,
    {
        let stream = self
            .js
            .get_stream_no_info(name)
            .await
            .map_err(|e| BrokerError::storage(format!("stream {name}"), e))?;
        let mut pauses = Pauses::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let error = match tokio::time::timeout(left, request(&stream).send()).await {
                Ok(Ok(message)) => return Ok(Some(message)),
                Ok(Err(e)) => match e.kind() {
                    LastRawMessageErrorKind::NoMessageFound => return Ok(None),
                    LastRawMessageErrorKind::JetStream(api)
                        if api.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                    {
                        return Ok(None);
                    }
                    _ => e.to_string(),
                },
                Err(_) => "timed out".to_owned(),
            };
            if Instant::now() >= deadline {
                return Err(BrokerError::Timeout(format!(
                    "the leader of stream {name} did not answer ({error})"
                )));
            }
            pauses.wait(deadline).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use async_nats::jetstream::kv;
    use chorus_testkit::NatsServer;

    use super::*;

    #[tokio::test]
    async fn the_leader_answers_with_the_last_value_of_a_key_or_none() {
        let nats = NatsServer::start().await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let js = jetstream::new(client.clone());
        let bucket = js
            .create_key_value(kv::Config {
                bucket: "LEADER_TEST".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let leader = Leader::new(client, Duration::from_secs(5));
        let deadline = || Instant::now() + Duration::from_secs(10);
        let last = |key: &'static str| {
            let leader = leader.clone();
            async move {
                let subject = format!("$KV.LEADER_TEST.{key}");
                leader
                    .last_by_subject("KV_LEADER_TEST", &subject, deadline())
                    .await
            }
        };
        assert!(last("k").await.unwrap().is_none(), "nothing stored yet");
        bucket.put("k", "1".into()).await.unwrap();
        bucket.put("k", "2".into()).await.unwrap();
        let stored = last("k").await.unwrap().expect("the last value");
        assert_eq!(&stored.payload[..], b"2");
        assert!(last("other").await.unwrap().is_none());
        let missing = leader
            .last_by_subject("NO_SUCH_STREAM", "x", deadline())
            .await;
        assert!(
            matches!(missing, Ok(None)),
            "a stream that does not exist holds nothing: {missing:?}"
        );
    }
}
