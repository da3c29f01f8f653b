//! Appending a publication at its channel's next offset.
//!
//! A publish names the stream sequence it expects to follow
//! (`Nats-Expected-Last-Subject-Sequence`) and carries a message id that is
//! the same on every attempt (`Nats-Msg-Id`: the client's idempotency key, or
//! this node's id and a counter). So it can be tried again after anything:
//!
//! | JetStream answers | meaning | then |
//! | --- | --- | --- |
//! | ack | stored at that offset | done |
//! | ack, duplicate | stored before (an earlier attempt of this publish, or the client's key) | done, with the stored one's position |
//! | 10071 wrong last sequence | another publish took the offset | re-read the head, go again |
//! | 10164 wrong last sequence (clustered) | another publish to the channel is in flight | pause a moment, re-read, go again |
//! | 10163 not ready, 10158 id in process | the leader is busy with this subject | pause, go again |
//! | no responders | no stream leader (an election), or the stream is gone | pause and go again; recreate only if the stream is really gone |
//! | no ack in time, broken pipe | unknown: the leader died, or NATS reconnects | go again (the message id makes a stored attempt answer "duplicate") |
//!
//! until the publish timeout. Pauses are short and jittered, so traffic resumes
//! within moments of a new leader being elected, and no call that can take
//! seconds is made without a deadline.

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, ErrorCode};
use chorus_protocol::Push;
use chorus_protocol::message::Publication;
use chorus_protocol::subject::encode_token;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::time::Instant;

use super::{Head, HistoryStore, Pauses, whole_seconds};
use crate::broker::nats::wire;
use crate::broker::{BrokerError, PublishOutcome};
use crate::history::HistoryOptions;
use crate::ids::random_hex;

/// What one attempt's answer means for the publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    /// Another publish is at the expected place, or about to be: re-read.
    Conflict,
    /// The leader cannot decide now (subject or id in flight): wait, re-read.
    Busy,
    /// No stream leader answered: an election, or a lost stream.
    NoLeader,
    /// No answer in time, or the connection dropped: maybe stored.
    Unknown,
    /// Anything else: retrying cannot help.
    Refused,
}

/// Classifies a failed publish attempt by JetStream's error code (the client
/// library names only the single-server conflict code).
pub(super) fn classify(e: &PublishError) -> Answer {
    match e.kind() {
        PublishErrorKind::WrongLastSequence => return Answer::Conflict,
        PublishErrorKind::StreamNotFound => return Answer::NoLeader,
        PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => return Answer::Unknown,
        _ => {}
    }
    let code = std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<jetstream::Error>())
        .map(jetstream::Error::error_code);
    match code {
        Some(ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT) => Answer::Conflict,
        Some(
            ErrorCode::STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY
            | ErrorCode::STREAM_DUPLICATE_MESSAGE_CONFLICT
            | ErrorCode::CLUSTER_NOT_AVAILABLE,
        ) => Answer::Busy,
        _ => Answer::Refused,
    }
}

impl HistoryStore {
    /// Stores a publication at the channel's next offset; returns its position,
    /// or `duplicate` when the client's `key` was already stored within the
    /// window. Retries as the module documentation says, for at most the
    /// publish timeout; this node's publishes to one channel go one at a time.
    pub async fn append(
        &self,
        channel: &Arc<str>,
        mut p: Publication,
        opts: HistoryOptions,
        key: Option<&str>,
    ) -> Result<PublishOutcome, BrokerError> {
        let deadline = Instant::now() + self.publish_timeout;
        let subject = self.names.history(channel);
        let message_id = match key {
            Some(key) => format!("{}.{}", encode_token(channel), encode_token(key)),
            None => format!(
                "{}.{}",
                self.node,
                self.publishes.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let slot = self.slot(channel);
        let mut head = slot.lock().await;
        // Whether an earlier attempt may have been stored: a "duplicate" then
        // is this publish, not a repeat of the client's key.
        let mut unsure = false;
        let mut pauses = Pauses::new();
        loop {
            if Instant::now() >= deadline {
                return Err(BrokerError(format!(
                    "history publish to {channel}: not stored within {:?}",
                    self.publish_timeout
                )));
            }
            let known = match head.take() {
                Some(h) => Some(h),
                None => self.leader_head(channel, deadline).await?,
            };
            let (expected, offset, epoch) = match known {
                Some(h) => (h.sequence, h.offset + 1, h.epoch),
                None => (0, 1, Arc::from(random_hex(4))),
            };
            p.offset = Some(offset);
            p.epoch = Some(epoch.to_string());
            let (bytes, _) = wire::encode_push(Push::Publication(p.clone()))?;
            let publish = PublishMessage::build()
                .payload(bytes)
                .expected_last_subject_sequence(expected)
                .ttl(whole_seconds(opts.ttl))
                .message_id(message_id.as_str());
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = async {
                match self.js.send_publish(subject.clone(), publish).await {
                    Ok(ack) => ack.await,
                    Err(e) => Err(e),
                }
            };
            let answer = match tokio::time::timeout(left.min(self.timeout), attempt).await {
                Ok(answer) => answer,
                Err(_) => Err(PublishError::new(PublishErrorKind::TimedOut)),
            };
            match answer {
                Ok(ack) if ack.duplicate && (key.is_none() || unsure) => {
                    // This very publish, stored by an attempt whose ack was lost.
                    let stored = self.leader_get(channel, ack.sequence, deadline).await?;
                    return Ok(PublishOutcome {
                        position: Some(stored.position()),
                        duplicate: false,
                    });
                }
                Ok(ack) if ack.duplicate => {
                    return Ok(PublishOutcome {
                        position: None,
                        duplicate: true,
                    });
                }
                Ok(ack) => {
                    let stored = Head {
                        sequence: ack.sequence,
                        offset,
                        epoch,
                    };
                    let position = stored.position();
                    *head = Some(stored);
                    return Ok(PublishOutcome {
                        position: Some(position),
                        duplicate: false,
                    });
                }
                Err(e) => match classify(&e) {
                    Answer::Conflict => {
                        // Usually another node's publish: go again at once;
                        // if it is still in flight the leader says Busy.
                    }
                    Answer::Busy => pauses.wait(deadline).await,
                    Answer::Unknown => {
                        unsure = true;
                        tracing::debug!(%channel, error = %e, "history publish unanswered; trying again");
                        pauses.wait(deadline).await;
                    }
                    Answer::NoLeader => {
                        if self.stream_is_lost().await {
                            tracing::warn!(stream = %self.stream_name(), "history stream lost; creating it again");
                            let left = deadline.saturating_duration_since(Instant::now());
                            if let Ok(Err(e)) =
                                tokio::time::timeout(left, self.create_stream()).await
                            {
                                tracing::warn!(error = %e, "could not create the history stream");
                            }
                        } else {
                            pauses.wait(deadline).await;
                        }
                    }
                    Answer::Refused => {
                        return Err(BrokerError(format!("history publish: {e}")));
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u64) -> PublishError {
        let error: jetstream::Error = serde_json::from_value(serde_json::json!({
            "code": 400,
            "err_code": code,
            "description": "test",
        }))
        .unwrap();
        PublishError::with_source(PublishErrorKind::Other, error)
    }

    #[test]
    fn every_answer_of_a_clustered_stream_is_told_apart() {
        assert_eq!(
            classify(&PublishError::new(PublishErrorKind::WrongLastSequence)),
            Answer::Conflict
        );
        assert_eq!(
            classify(&api_error(10164)),
            Answer::Conflict,
            "in flight, clustered"
        );
        assert_eq!(classify(&api_error(10163)), Answer::Busy);
        assert_eq!(classify(&api_error(10158)), Answer::Busy);
        assert_eq!(classify(&api_error(10008)), Answer::Busy);
        assert_eq!(
            classify(&PublishError::new(PublishErrorKind::StreamNotFound)),
            Answer::NoLeader
        );
        assert_eq!(
            classify(&PublishError::new(PublishErrorKind::TimedOut)),
            Answer::Unknown
        );
        assert_eq!(
            classify(&PublishError::new(PublishErrorKind::BrokenPipe)),
            Answer::Unknown
        );
        assert_eq!(
            classify(&api_error(10054)),
            Answer::Refused,
            "message too large"
        );
        assert_eq!(
            classify(&PublishError::new(PublishErrorKind::Other)),
            Answer::Refused
        );
    }
}
