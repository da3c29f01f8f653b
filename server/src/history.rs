//! History's vocabulary, shared by both brokers: a stream's bounds, a query,
//! a page, and [`page`], the one reading of a query against what a stream
//! retains (so the memory and NATS brokers answer it alike). The memory
//! broker's streams are in `broker/memory/stream.rs`, the NATS broker's in
//! `broker/nats/history/`.

use std::time::Duration;

use chorus_protocol::message::{Publication, StreamPosition};

/// Size and age bounds of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HistoryOptions {
    /// Publications kept; beyond it the oldest goes first (a namespace's `history_size`, or
    /// `users.inbox_size`).
    pub size: usize,
    /// How long each is kept.
    pub ttl: Duration,
}

/// What to read from one stream: a `history` request, a recovery, a gap fill or an inbox replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HistoryQuery {
    /// Start after this position (before it with `reverse`); a position of another epoch reads
    /// nothing.
    pub since: Option<StreamPosition>,
    /// At most this many (None: all retained).
    pub limit: Option<usize>,
    /// Newest first, reading back from `since` (or from the top).
    pub reverse: bool,
}

/// A page of history, or the outcome of a recovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HistoryPage {
    /// The stream's current top.
    pub position: StreamPosition,
    /// The publications read, in the query's order (oldest first unless `reverse`), at most
    /// `limit`.
    pub publications: Vec<Publication>,
    /// For a query with `since`: whether nothing after it was lost.
    pub recovered: bool,
}

/// Answers a history query from a stream's top `position` and the publications
/// it still retains (oldest first, contiguous offsets ending at the top): the one
/// rule every broker follows, so recovery means the same on every node.
///
/// Forward: publications after `since` (or from the oldest), oldest first.
/// Reverse: publications before `since` (or from the newest), newest first.
/// A `since` from another epoch reads nothing. With `since`, `recovered` says
/// whether every publication after it is still retained; offset 0 ("none seen
/// yet") recovers whenever offset 1 of the current epoch is still retained.
pub(crate) fn page<'a>(
    position: StreamPosition,
    retained: impl DoubleEndedIterator<Item = &'a Publication> + Clone,
    query: &HistoryQuery,
) -> HistoryPage {
    let offset_of = |p: &Publication| p.offset.unwrap_or(0);
    let oldest = retained
        .clone()
        .next()
        .map_or(position.offset + 1, offset_of);
    let fresh = |s: &StreamPosition| s.offset == 0 && oldest <= 1;
    let same_stream =
        |s: &StreamPosition| fresh(s) || (s.epoch == position.epoch && s.offset <= position.offset);
    let recovered = query
        .since
        .as_ref()
        .is_some_and(|s| same_stream(s) && s.offset + 1 >= oldest);
    if query.since.as_ref().is_some_and(|s| !same_stream(s)) {
        return HistoryPage {
            position,
            publications: Vec::new(),
            recovered,
        };
    }
    let limit = query.limit.unwrap_or(usize::MAX);
    let publications: Vec<Publication> = if query.reverse {
        let before = query.since.as_ref().map_or(u64::MAX, |s| s.offset);
        retained
            .rev()
            .filter(|p| offset_of(p) < before)
            .take(limit)
            .cloned()
            .collect()
    } else {
        let after = query.since.as_ref().map_or(0, |s| s.offset);
        retained
            .filter(|p| offset_of(p) > after)
            .take(limit)
            .cloned()
            .collect()
    };
    HistoryPage {
        position,
        publications,
        recovered,
    }
}
