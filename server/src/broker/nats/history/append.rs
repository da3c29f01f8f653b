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
//!
//! This node's publishes to one channel wait in one queue. Whoever finds the
//! channel's writer free takes everything waiting (up to [`MAX_BATCH`]) and
//! commits it: one publish alone, several as one atomic batch ([`super::batch`]),
//! which costs one round trip to the stream leader for all of them. So a hot
//! channel costs one commit per round trip per node, however many publish.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, ErrorCode};
use chorus_protocol::Push;
use chorus_protocol::message::Publication;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{Head, HistoryStore, Pauses, whole_seconds};
use crate::broker::nats::wire;
use crate::broker::{BrokerError, PublishOutcome};
use crate::history::HistoryOptions;
use crate::ids::random_hex;
use crate::sync::lock;

/// Most publishes committed at once (JetStream allows 1000 per batch).
pub(super) const MAX_BATCH: usize = 100;

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
    /// The stream refused the batch as a batch (a duplicate id in it, atomic
    /// publish off, too many in flight): publish its messages one by one.
    NotAsBatch,
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
        // Atomic batches: disabled, missing sequence, incomplete, bad header,
        // bad id, too large, bad commit, duplicate inside, too many in flight.
        Some(ErrorCode(10174 | 10175 | 10176 | 10177 | 10179 | 10199 | 10200 | 10201 | 10210)) => {
            Answer::NotAsBatch
        }
        _ => Answer::Refused,
    }
}

/// One publish waiting for its channel's writer.
#[derive(Debug)]
pub(super) struct Waiting {
    /// The publication, without offset and epoch yet.
    pub(super) p: Publication,
    /// Its `Nats-TTL`: the namespace's or inbox's TTL, rounded up to whole seconds.
    pub(super) ttl: Duration,
    /// Its `Nats-Msg-Id`, the same on every attempt.
    pub(super) message_id: String,
    /// Whether the id is the client's idempotency key (a "duplicate" answer
    /// to the first attempt is then a repeat of the key).
    pub(super) keyed: bool,
    /// When its client stops waiting for it.
    pub(super) deadline: Instant,
    reply: oneshot::Sender<Result<PublishOutcome, BrokerError>>,
}

impl Waiting {
    pub(super) fn answer(self, outcome: Result<PublishOutcome, BrokerError>) {
        // The caller may have gone (its connection closed): nothing to tell.
        let _ = self.reply.send(outcome);
    }
}

/// A channel's writer: its last stored publication as this node knows it
/// (locked while a commit runs) and the publishes waiting for it.
#[derive(Debug, Default)]
pub(super) struct Writer {
    head: Arc<tokio::sync::Mutex<Option<Head>>>,
    queue: std::sync::Mutex<VecDeque<Waiting>>,
}

impl HistoryStore {
    /// Stores a publication at the channel's next offset; returns its position,
    /// or `duplicate` when the client's `key` was already stored within the
    /// window. Retries as the module documentation says, for at most the
    /// publish timeout.
    pub(crate) async fn append(
        self: &Arc<Self>,
        channel: &Arc<str>,
        p: Publication,
        opts: HistoryOptions,
        key: Option<&crate::idempotency::KeyDigest>,
    ) -> Result<PublishOutcome, BrokerError> {
        let message_id = match key {
            Some(key) => key.hex(),
            None => format!(
                "{}.{}",
                self.node,
                self.publishes.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let (reply, mut answer) = oneshot::channel();
        let writer = self.slot(channel);
        lock(&writer.queue).push_back(Waiting {
            p,
            ttl: whole_seconds(opts.ttl),
            message_id,
            keyed: key.is_some(),
            deadline: Instant::now() + self.publish_timeout,
            reply,
        });
        loop {
            tokio::select! {
                biased;
                outcome = &mut answer => {
                    return outcome.unwrap_or_else(|_| Err(BrokerError::Internal("history publish abandoned".into())));
                }
                head = writer.head.clone().lock_owned() => {
                    let batch: Vec<Waiting> = {
                        let mut queue = lock(&writer.queue);
                        let n = queue.len().min(MAX_BATCH);
                        queue.drain(..n).collect()
                    };
                    if batch.is_empty() {
                        continue; // another writer took ours; its answer comes
                    }
                    // A task of its own: the commit answers every publish in
                    // the batch, whatever becomes of this caller.
                    let store = self.clone();
                    let channel = channel.clone();
                    tokio::spawn(async move {
                        let mut head = head;
                        store.commit(&channel, &mut head, batch).await;
                    });
                }
            }
        }
    }

    /// Commits a batch taken from the queue and answers each publish in it.
    async fn commit(&self, channel: &Arc<str>, head: &mut Option<Head>, batch: Vec<Waiting>) {
        let batch = if batch.len() > 1 {
            match self.append_batch(channel, head, batch).await {
                Ok(()) => return,
                Err(fallback) => fallback,
            }
        } else {
            batch
        };
        for w in batch {
            let outcome = self.append_one(channel, head, &w).await;
            w.answer(outcome);
        }
    }

    /// Stores one publication, retrying until its deadline.
    async fn append_one(
        &self,
        channel: &Arc<str>,
        head: &mut Option<Head>,
        w: &Waiting,
    ) -> Result<PublishOutcome, BrokerError> {
        let subject = self.names.history(channel);
        let mut p = w.p.clone();
        // Whether an earlier attempt may have been stored: a "duplicate" then
        // is this publish, not a repeat of the client's key.
        let mut unsure = false;
        let mut pauses = Pauses::new();
        loop {
            if Instant::now() >= w.deadline {
                return Err(BrokerError::Timeout(format!(
                    "history publish to {channel}: not stored within {:?}",
                    self.publish_timeout
                )));
            }
            let known = match head.take() {
                Some(h) => Some(h),
                None => self.leader_head(channel, w.deadline).await?,
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
                .ttl(w.ttl)
                .message_id(w.message_id.as_str());
            let answer = self.send(&subject, publish, w.deadline).await;
            match answer {
                Ok(ack) if ack.duplicate && (!w.keyed || unsure) => {
                    // This very publish, stored by an attempt whose ack was lost.
                    let stored = self.leader_get(channel, ack.sequence, w.deadline).await?;
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
                    Answer::Busy => pauses.wait(w.deadline).await,
                    Answer::Unknown => {
                        unsure = true;
                        tracing::debug!(%channel, error = %e, "history publish unanswered; trying again");
                        pauses.wait(w.deadline).await;
                    }
                    Answer::NoLeader => self.no_leader(&mut pauses, w.deadline).await,
                    Answer::NotAsBatch | Answer::Refused => {
                        return Err(BrokerError::storage("history publish", e));
                    }
                },
            }
        }
    }

    /// Publishes with an acknowledgement, waiting at most one request timeout
    /// (and never past `deadline`).
    pub(super) async fn send(
        &self,
        subject: &str,
        publish: PublishMessage,
        deadline: Instant,
    ) -> Result<jetstream::publish::PublishAck, PublishError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let attempt = async {
            match self.js.send_publish(subject.to_owned(), publish).await {
                Ok(ack) => ack.await,
                Err(e) => Err(e),
            }
        };
        match tokio::time::timeout(left.min(self.timeout), attempt).await {
            Ok(answer) => answer,
            Err(_) => Err(PublishError::new(PublishErrorKind::TimedOut)),
        }
    }

    /// No stream leader answered: recreate the stream if JetStream says it
    /// is gone, otherwise wait a moment (an election).
    pub(super) async fn no_leader(&self, pauses: &mut Pauses, deadline: Instant) {
        if self.stream_is_lost().await {
            tracing::warn!(stream = %self.stream_name(), "history stream lost; creating it again");
            let left = deadline.saturating_duration_since(Instant::now());
            if let Ok(Err(e)) = tokio::time::timeout(left, self.create_stream()).await {
                tracing::warn!(error = %e, "could not create the history stream");
            }
        } else {
            pauses.wait(deadline).await;
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
