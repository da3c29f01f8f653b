//! The memory broker's stream of one channel or inbox: offsets, epoch and a
//! bounded, time-limited ring of recent publications, which history pages
//! and recoveries are read from (with [`crate::history::page`], as the NATS
//! broker's are).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use chorus_protocol::message::{Publication, StreamPosition};

use crate::history::{HistoryOptions, HistoryPage, HistoryQuery, page};

/// One channel's or inbox's stream: offsets from 1 under one epoch, and the publications still
/// within its bounds.
#[derive(Debug)]
pub(super) struct Stream {
    epoch: Arc<str>,
    top: u64,
    ring: VecDeque<(Publication, Instant)>,
}

impl Stream {
    /// A new, empty stream with a fresh epoch.
    pub(super) fn new(epoch: Arc<str>) -> Self {
        Stream {
            epoch,
            top: 0,
            ring: VecDeque::new(),
        }
    }

    /// The top: the newest publication's offset (0 before the first) and the epoch.
    pub(super) fn position(&self) -> StreamPosition {
        StreamPosition {
            offset: self.top,
            epoch: self.epoch.to_string(),
        }
    }

    fn evict(&mut self, now: Instant, opts: HistoryOptions) {
        while self.ring.len() > opts.size {
            self.ring.pop_front();
        }
        while self
            .ring
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) >= opts.ttl)
        {
            self.ring.pop_front();
        }
    }

    /// Stamps the next offset and epoch on `p`, keeps a copy, and returns it.
    pub(super) fn append(
        &mut self,
        mut p: Publication,
        now: Instant,
        opts: HistoryOptions,
    ) -> Publication {
        self.top += 1;
        p.offset = Some(self.top);
        p.epoch = Some(self.epoch.to_string());
        self.ring.push_back((p.clone(), now));
        self.evict(now, opts);
        p
    }

    /// Forgets the retained publications up to `offset` (oldest first): the
    /// node's inbox budget evicting across inboxes. True if one went.
    pub(super) fn evict_through(&mut self, offset: u64) -> bool {
        let mut evicted = false;
        while self
            .ring
            .front()
            .is_some_and(|(p, _)| p.offset.is_some_and(|o| o <= offset))
        {
            self.ring.pop_front();
            evicted = true;
        }
        evicted
    }

    /// True when nothing is retained any more (after evicting what expired).
    pub(super) fn is_idle(&mut self, now: Instant, opts: HistoryOptions) -> bool {
        self.evict(now, opts);
        self.ring.is_empty()
    }

    /// Reads history (see [`page`]), after evicting what expired.
    pub(super) fn read(
        &mut self,
        query: &HistoryQuery,
        now: Instant,
        opts: HistoryOptions,
    ) -> HistoryPage {
        self.evict(now, opts);
        page(self.position(), self.ring.iter().map(|(p, _)| p), query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_protocol::Payload;
    use std::time::Duration;

    const OPTS: HistoryOptions = HistoryOptions {
        size: 3,
        ttl: Duration::from_secs(60),
    };

    fn publication(n: u8) -> Publication {
        Publication {
            channel: "c".into(),
            data: Payload::from(vec![n]),
            ..Default::default()
        }
    }

    fn offsets(page: &HistoryPage) -> Vec<u64> {
        page.publications.iter().filter_map(|p| p.offset).collect()
    }

    fn since(offset: u64, epoch: &str) -> HistoryQuery {
        HistoryQuery {
            since: Some(StreamPosition {
                offset,
                epoch: epoch.into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn recovery_within_and_beyond_the_window() {
        let t = Instant::now();
        let mut s = Stream::new("e".into());
        for n in 1..=5 {
            s.append(publication(n), t, OPTS);
        }
        // Retained: 3, 4, 5.
        let page = s.read(&since(2, "e"), t, OPTS);
        assert!(page.recovered);
        assert_eq!(offsets(&page), [3, 4, 5]);
        let page = s.read(&since(1, "e"), t, OPTS);
        assert!(!page.recovered, "offset 2 was evicted");
        let page = s.read(&since(5, "e"), t, OPTS);
        assert!(page.recovered && page.publications.is_empty());
        let page = s.read(&since(4, "other"), t, OPTS);
        assert!(!page.recovered && page.publications.is_empty());
        assert_eq!(
            page.position,
            StreamPosition {
                offset: 5,
                epoch: "e".into()
            }
        );
    }

    #[test]
    fn ttl_evicts_and_limits_page() {
        let t = Instant::now();
        let mut s = Stream::new("e".into());
        s.append(publication(1), t, OPTS);
        s.append(publication(2), t + Duration::from_secs(30), OPTS);
        let later = t + Duration::from_secs(61);
        let page = s.read(&HistoryQuery::default(), later, OPTS);
        assert_eq!(offsets(&page), [2]);
        assert!(!s.read(&since(0, "e"), later, OPTS).recovered);
        assert!(s.read(&since(1, "e"), later, OPTS).recovered);
        s.append(publication(3), later, OPTS);
        s.append(publication(4), later, OPTS);
        let q = HistoryQuery {
            limit: Some(2),
            ..Default::default()
        };
        assert_eq!(offsets(&s.read(&q, later, OPTS)), [2, 3], "oldest first");
        let q = HistoryQuery {
            limit: Some(1),
            reverse: true,
            ..Default::default()
        };
        assert_eq!(offsets(&s.read(&q, later, OPTS)), [4], "newest first");
        let q = HistoryQuery {
            limit: Some(5),
            reverse: true,
            ..since(4, "e")
        };
        assert_eq!(offsets(&s.read(&q, later, OPTS)), [3, 2], "before since");
        let q = HistoryQuery {
            limit: Some(1),
            ..since(2, "e")
        };
        assert_eq!(offsets(&s.read(&q, later, OPTS)), [3], "after since");
        let q = HistoryQuery {
            limit: Some(0),
            ..Default::default()
        };
        assert!(s.read(&q, later, OPTS).publications.is_empty());
    }

    #[test]
    fn offset_zero_recovers_from_the_start_of_any_epoch() {
        let t = Instant::now();
        let mut s = Stream::new("e".into());
        s.append(publication(1), t, OPTS);
        s.append(publication(2), t, OPTS);
        let page = s.read(&since(0, ""), t, OPTS);
        assert!(page.recovered, "nothing was evicted yet");
        assert_eq!(offsets(&page), [1, 2]);
        for n in 3..=4 {
            s.append(publication(n), t, OPTS);
        }
        assert!(
            !s.read(&since(0, "e"), t, OPTS).recovered,
            "offset 1 was evicted"
        );
        let page = s.read(&since(0, "other"), t, OPTS);
        assert!(!page.recovered);
        assert!(page.publications.is_empty(), "another epoch reads nothing");
    }
}
