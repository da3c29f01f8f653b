//! Reading a channel's history: pages that reach what was acknowledged, and
//! cost what is read, not what is retained.
//!
//! Any replica of the stream answers a direct get, and a follower can lag the
//! leader by moments. So a read
//!
//! 1. asks the stream **leader** for the channel's head (its last stored
//!    publication: every acknowledged publish is there);
//! 2. finds the stream sequence of the first publication it needs (after the
//!    client's position, or the start of the namespace's window) by probing
//!    the stream, interpolating between known points and bisecting, in a few
//!    requests whatever the stream holds;
//! 3. reads forward from there to the head, and takes a batch only while it
//!    leads towards the head: a replica that has not reached the head yet is
//!    asked again after a moment.
//!
//! So a page always reaches the head known before the read began, which every
//! publication a node has delivered live precedes.

use chorus_protocol::message::{Publication, StreamPosition};
use serde_json::json;
use tokio::time::Instant;

use super::{Head, HistoryStore, Pauses, decode, head_of};
use crate::broker::BrokerError;
use crate::broker::nats::direct;
use crate::history::{HistoryOptions, HistoryPage, HistoryQuery, page};

/// Messages asked for per direct read.
const READ_BATCH: usize = 1_000;

/// One stored message of a channel, as a probe found it.
#[derive(Debug, Clone, Copy)]
struct Found {
    sequence: u64,
    /// Its offset, or 0 when it belongs to an older epoch.
    offset: u64,
}

impl HistoryStore {
    /// The channel's head as the stream leader holds it; `None` for a channel
    /// with nothing stored. Asked again while no leader answers (an election),
    /// until `deadline`.
    pub(super) async fn leader_head(
        &self,
        channel: &str,
        deadline: Instant,
    ) -> Result<Option<Head>, BrokerError> {
        let subject = self.names.history(channel);
        let stored = self
            .leader
            .last_by_subject(&self.stream_name(), &subject, deadline)
            .await?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let p = decode(stored.sequence, &stored.payload)?;
        Ok(head_of(stored.sequence, &p))
    }

    /// The publication stored at `sequence`, from the stream leader.
    pub(super) async fn leader_get(
        &self,
        channel: &str,
        sequence: u64,
        deadline: Instant,
    ) -> Result<Head, BrokerError> {
        let stored = self
            .leader
            .get(&self.stream_name(), deadline, |s| {
                s.raw_message_builder().sequence(sequence)
            })
            .await?
            .ok_or_else(|| {
                BrokerError::Inconsistent(format!("{channel}: stored message {sequence} is gone"))
            })?;
        let p = decode(stored.sequence, &stored.payload)?;
        head_of(stored.sequence, &p).ok_or_else(|| {
            BrokerError::Inconsistent(format!(
                "{channel}: stored message {sequence} has no offset"
            ))
        })
    }

    /// Answers a history query (see [`crate::history::page`]) from what the
    /// stream retains of the channel, trimmed to the namespace's size.
    pub(crate) async fn read(
        &self,
        channel: &str,
        opts: HistoryOptions,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, BrokerError> {
        let deadline = Instant::now() + self.timeout;
        let head = self.leader_head(channel, deadline).await?;
        let position = head
            .as_ref()
            .map_or_else(StreamPosition::default, Head::position);
        let Some(head) = head else {
            return Ok(page(position, std::iter::empty(), query));
        };
        let nothing_to_read = match &query.since {
            None => query.limit == Some(0),
            Some(since) => {
                !query.reverse
                    && (since.offset >= head.offset
                        || (since.offset > 0 && *since.epoch != *head.epoch))
            }
        };
        if nothing_to_read {
            return Ok(page(position, std::iter::empty(), query));
        }
        // The offsets the answer can hold: the namespace's window, narrowed
        // by the position and the limit.
        let oldest = head.offset.saturating_sub(opts.size.max(1) as u64) + 1;
        let (mut first, last) = match (&query.since, query.reverse) {
            (Some(since), false) => (since.offset + 1, head.offset),
            (Some(since), true) => (1, since.offset.saturating_sub(1).min(head.offset)),
            (None, _) => (1, head.offset),
        };
        first = first.max(oldest);
        let max = query.limit.unwrap_or(usize::MAX);
        if query.reverse && max < usize::MAX {
            first = first.max((last + 1).saturating_sub(max as u64));
        }
        if first > last {
            return Ok(page(position, std::iter::empty(), query));
        }
        let start = self.first_sequence(channel, &head, first, deadline).await?;
        let retained = self
            .range(channel, start, &head, last, max, deadline)
            .await?;
        Ok(page(position, retained.iter(), query))
    }

    /// The first message of the channel at stream sequence `from` or later,
    /// from any replica. `None` means the answering replica holds none: it
    /// lags, since the head is stored after `from`.
    async fn probe(
        &self,
        channel: &str,
        head: &Head,
        from: u64,
        deadline: Instant,
    ) -> Result<Option<Found>, BrokerError> {
        let subject = self.names.history(channel);
        let left = deadline.saturating_duration_since(Instant::now());
        let request = json!({ "seq": from, "next_by_subj": subject, "batch": 1 });
        let batch = direct::batch(&self.client, &self.stream_name(), request, left).await?;
        let Some(stored) = batch.messages.first() else {
            return Ok(None);
        };
        let p = decode(stored.sequence, &stored.message.payload)?;
        let ours = p.epoch.as_deref() == Some(&*head.epoch);
        Ok(Some(Found {
            sequence: stored.sequence,
            offset: if ours { p.offset.unwrap_or(0) } else { 0 },
        }))
    }

    /// [`Self::probe`], asked again while the answering replica lags.
    async fn probe_current(
        &self,
        channel: &str,
        head: &Head,
        from: u64,
        deadline: Instant,
    ) -> Result<Found, BrokerError> {
        let mut pauses = Pauses::new();
        loop {
            match self.probe(channel, head, from, deadline).await? {
                Some(found) if found.sequence <= head.sequence => return Ok(found),
                _ if Instant::now() >= deadline => {
                    return Err(BrokerError::Timeout(format!(
                        "history: no replica has reached sequence {} of {channel}",
                        head.sequence
                    )));
                }
                _ => pauses.wait(deadline).await,
            }
        }
    }

    /// The stream sequence of the channel's first stored publication (of the
    /// head's epoch) whose offset is at least `target` (`target` at most the
    /// head's offset). Offsets grow with sequences, so this is a search over
    /// the sequences between the channel's first message and its head:
    /// interpolation steps (fast when traffic is even) alternate with
    /// bisection steps (so it never takes more than about twice log2 of the
    /// stream's length).
    async fn first_sequence(
        &self,
        channel: &str,
        head: &Head,
        target: u64,
        deadline: Instant,
    ) -> Result<u64, BrokerError> {
        if target >= head.offset {
            return Ok(head.sequence);
        }
        let first = self.probe_current(channel, head, 1, deadline).await?;
        if first.offset >= target {
            return Ok(first.sequence);
        }
        // `lo` is a message before the answer, `hi` the best candidate (at or
        // after it); the answer is `hi` unless it lies in sequences `a..=z`.
        let mut lo = first;
        let mut hi = Found {
            sequence: head.sequence,
            offset: head.offset,
        };
        let (mut a, mut z) = (first.sequence + 1, head.sequence - 1);
        for step in 0u32.. {
            if a > z {
                break;
            }
            let guess = if step % 2 == 0 && hi.offset > lo.offset {
                // Messages spread evenly between lo and hi: aim just after
                // the one before `target`.
                let share = (target - lo.offset - 1) as f64 / (hi.offset - lo.offset) as f64;
                let at = lo.sequence + 1 + ((hi.sequence - lo.sequence) as f64 * share) as u64;
                at.clamp(a, z)
            } else {
                a + (z - a) / 2
            };
            let found = self.probe_current(channel, head, guess, deadline).await?;
            if found.offset >= target {
                // Nothing of the channel lies in guess..found.
                if found.offset == target || guess == a {
                    return Ok(found.sequence);
                }
                hi = found;
                z = guess - 1;
            } else {
                lo = found;
                a = found.sequence + 1;
            }
        }
        Ok(hi.sequence)
    }

    /// The channel's publications of the head's epoch from stream sequence
    /// `start` up to offset `last` (and the head), at most `max` of them, in
    /// order; batches are taken only while they lead towards the head.
    async fn range(
        &self,
        channel: &str,
        start: u64,
        head: &Head,
        last: u64,
        max: usize,
        deadline: Instant,
    ) -> Result<Vec<Publication>, BrokerError> {
        let subject = self.names.history(channel);
        let mut out = Vec::new();
        let mut from = start;
        let mut pauses = Pauses::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let want = READ_BATCH.min(max.saturating_sub(out.len())).max(1);
            let request = json!({ "seq": from, "next_by_subj": subject, "batch": want });
            let batch = direct::batch(&self.client, &self.stream_name(), request, left).await?;
            let progressed = !batch.messages.is_empty();
            for stored in &batch.messages {
                if stored.sequence > head.sequence {
                    return Ok(out);
                }
                let p = decode(stored.sequence, &stored.message.payload)?;
                let ours = p.epoch.as_deref() == Some(&*head.epoch);
                let offset = p.offset.unwrap_or(0);
                if ours && offset > last {
                    return Ok(out);
                }
                if ours {
                    out.push(p);
                }
                if stored.sequence == head.sequence || out.len() >= max {
                    return Ok(out);
                }
                from = stored.sequence + 1;
            }
            if progressed && batch.pending > 0 {
                continue;
            }
            // The batch ended before the head: this replica lags behind it.
            if Instant::now() >= deadline {
                return Err(BrokerError::Timeout(format!(
                    "history: no replica has reached sequence {} of {channel}",
                    head.sequence
                )));
            }
            pauses.wait(deadline).await;
        }
    }
}
