//! Committing several publications of one channel at once, as one JetStream
//! atomic batch (`Nats-Batch-Id`, `Nats-Batch-Sequence`, `Nats-Batch-Commit`):
//! the first message names the sequence it expects to follow, and either the
//! whole batch is stored at the next offsets, one after another in the stream,
//! or none of it is. One round trip to the stream leader stores them all, so a
//! node's publishes to a hot channel cost one commit per round trip instead of
//! one each, and contend with other nodes' publishes once per batch.
//!
//! Conflicts, a busy leader and elections are retried as for one publication
//! ([`super::append`]). Anything that makes the batch's outcome unknown (no
//! acknowledgement in time), and anything the stream refuses as a batch (a
//! message id it has seen, atomic publish not allowed), hands the messages to
//! the one-by-one path, which settles each through its message id.

use std::sync::Arc;

use async_nats::HeaderMap;
use async_nats::header::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_MESSAGE_ID, NATS_MESSAGE_TTL};
use async_nats::jetstream::message::PublishMessage;
use chorus_protocol::Push;
use tokio::time::Instant;

use super::append::{Answer, Waiting, classify};
use super::{Head, HistoryStore, Pauses};
use crate::broker::nats::wire;
use crate::broker::{BrokerError, PublishOutcome};
use crate::ids::random_hex;

impl HistoryStore {
    /// Commits `batch` (two or more) as one atomic batch and answers each; or
    /// hands it back, unanswered, for the one-by-one path.
    pub(super) async fn append_batch(
        &self,
        channel: &Arc<str>,
        head: &mut Option<Head>,
        batch: Vec<Waiting>,
    ) -> Result<(), Vec<Waiting>> {
        let subject = self.names.history(channel);
        let Some(deadline) = batch.iter().map(|w| w.deadline).min() else {
            return Ok(());
        };
        let n = batch.len() as u64;
        let mut pauses = Pauses::new();
        loop {
            if Instant::now() >= deadline {
                return Err(batch);
            }
            let known = match head.take() {
                Some(h) => Some(h),
                None => match self.leader_head(channel, deadline).await {
                    Ok(h) => h,
                    Err(_) => return Err(batch),
                },
            };
            let (expected, first, epoch) = match known {
                Some(h) => (h.sequence, h.offset + 1, h.epoch),
                None => (0, 1, Arc::from(random_hex(4))),
            };
            let id = random_hex(8);
            let mut messages = Vec::with_capacity(batch.len());
            for (i, w) in batch.iter().enumerate() {
                let mut p = w.p.clone();
                p.offset = Some(first + i as u64);
                p.epoch = Some(epoch.to_string());
                let (bytes, _) = match wire::encode_push(Push::Publication(p)) {
                    Ok(encoded) => encoded,
                    Err(_) => return Err(batch),
                };
                let mut headers = HeaderMap::new();
                headers.insert(NATS_MESSAGE_ID, w.message_id.as_str());
                headers.insert(NATS_MESSAGE_TTL, w.ttl.as_secs().to_string().as_str());
                headers.insert("Nats-Batch-Id", id.as_str());
                headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
                if i == 0 {
                    headers.insert(
                        NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                        expected.to_string().as_str(),
                    );
                }
                messages.push((headers, bytes));
            }
            let Some((mut last_headers, last_bytes)) = messages.pop() else {
                return Ok(());
            };
            last_headers.insert("Nats-Batch-Commit", "1");
            let mut sent = true;
            for (headers, bytes) in messages {
                if self
                    .client
                    .publish_with_headers(subject.clone(), headers, bytes)
                    .await
                    .is_err()
                {
                    sent = false;
                    break;
                }
            }
            if !sent {
                return Err(batch);
            }
            let commit = PublishMessage::build()
                .payload(last_bytes)
                .headers(last_headers);
            match self.send(&subject, commit, deadline).await {
                Ok(ack) if !ack.duplicate => {
                    let last = Head {
                        sequence: ack.sequence,
                        offset: first + n - 1,
                        epoch: epoch.clone(),
                    };
                    *head = Some(last);
                    for (i, w) in batch.into_iter().enumerate() {
                        let position = Head {
                            sequence: ack.sequence + 1 + i as u64 - n,
                            offset: first + i as u64,
                            epoch: epoch.clone(),
                        }
                        .position();
                        w.answer(Ok(PublishOutcome {
                            position: Some(position),
                            duplicate: false,
                        }));
                    }
                    return Ok(());
                }
                Ok(_) => return Err(batch),
                Err(e) => match classify(&e) {
                    Answer::Conflict => {}
                    Answer::Busy => pauses.wait(deadline).await,
                    Answer::NoLeader => self.no_leader(&mut pauses, deadline).await,
                    Answer::Unknown | Answer::NotAsBatch => return Err(batch),
                    Answer::Refused => {
                        let error = BrokerError::storage("history publish", e);
                        for w in batch {
                            w.answer(Err(error.clone()));
                        }
                        return Ok(());
                    }
                },
            }
        }
    }
}
