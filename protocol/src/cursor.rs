//! A reader's place in a stream (a channel's history, a user's inbox) and the
//! one rule for what it reads next: same epoch and an offset at or before the
//! last one delivered is a duplicate to skip; anything else advances it.
//!
//! Every reader that delivers a stream exactly once and in order follows this
//! rule (the client state machine per subscription and for the inbox, the
//! server per connection, a cluster node per stream listener), so it is
//! written here once.

use crate::message::StreamPosition;

/// What a stream position means to a [`Cursor`] that has not read it yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advance {
    /// The offset right after the last one, the first position seen, or one
    /// of another epoch (the stream restarted, so nothing can be missing from
    /// it): deliver it.
    Next,
    /// Same epoch, at or before the last one: delivered already, skip it.
    Duplicate,
    /// Same epoch, but offsets were skipped: what lies between `after` and it
    /// is missing, and can be read from history before delivering it.
    Gap {
        /// The last position delivered before the gap.
        after: StreamPosition,
    },
}

/// The last position a reader delivered of one stream, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor(Option<StreamPosition>);

impl Cursor {
    /// A cursor at `last` (`None`: nothing delivered yet, everything is next).
    pub fn new(last: Option<StreamPosition>) -> Self {
        Cursor(last)
    }

    /// The last position delivered: what recovery asks to read after.
    pub fn last(&self) -> Option<&StreamPosition> {
        self.0.as_ref()
    }

    /// Moves to `position` whatever it is: the top of a stream a subscribe
    /// reply reports, or the end of a gap given up.
    pub fn set(&mut self, position: StreamPosition) {
        self.0 = Some(position);
    }

    /// What the position (`offset`, `epoch`) is to this cursor, without
    /// moving it.
    pub fn check(&self, offset: u64, epoch: &str) -> Advance {
        match &self.0 {
            Some(last) if last.epoch == epoch => {
                if offset <= last.offset {
                    Advance::Duplicate
                } else if offset > last.offset + 1 {
                    Advance::Gap {
                        after: last.clone(),
                    }
                } else {
                    Advance::Next
                }
            }
            _ => Advance::Next,
        }
    }

    /// [`Cursor::check`], and unless it is a duplicate, moves to the position
    /// (over a gap too: a reader that fills gaps checks first).
    pub fn advance(&mut self, offset: u64, epoch: &str) -> Advance {
        let advance = self.check(offset, epoch);
        match (&advance, &mut self.0) {
            (Advance::Duplicate, _) => {}
            (_, Some(last)) if last.epoch == epoch => last.offset = offset,
            (_, last) => {
                *last = Some(StreamPosition {
                    offset,
                    epoch: epoch.to_owned(),
                })
            }
        }
        advance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64, epoch: &str) -> StreamPosition {
        StreamPosition {
            offset,
            epoch: epoch.into(),
        }
    }

    #[test]
    fn the_first_position_is_next() {
        let mut cursor = Cursor::default();
        assert_eq!(cursor.check(7, "e"), Advance::Next);
        assert_eq!(cursor.last(), None, "check does not move");
        assert_eq!(cursor.advance(7, "e"), Advance::Next);
        assert_eq!(cursor.last(), Some(&at(7, "e")));
    }

    #[test]
    fn the_following_offset_is_next() {
        let mut cursor = Cursor::new(Some(at(3, "e")));
        assert_eq!(cursor.advance(4, "e"), Advance::Next);
        assert_eq!(cursor.last(), Some(&at(4, "e")));
    }

    #[test]
    fn offsets_at_or_before_the_last_are_duplicates() {
        let mut cursor = Cursor::new(Some(at(3, "e")));
        for offset in [0, 2, 3] {
            assert_eq!(cursor.advance(offset, "e"), Advance::Duplicate);
            assert_eq!(
                cursor.last(),
                Some(&at(3, "e")),
                "a duplicate does not move"
            );
        }
    }

    #[test]
    fn skipped_offsets_are_a_gap_after_the_last() {
        let mut cursor = Cursor::new(Some(at(3, "e")));
        let gap = Advance::Gap { after: at(3, "e") };
        assert_eq!(cursor.check(6, "e"), gap);
        assert_eq!(cursor.last(), Some(&at(3, "e")));
        assert_eq!(cursor.advance(6, "e"), gap);
        assert_eq!(cursor.last(), Some(&at(6, "e")), "advance moves over it");
    }

    #[test]
    fn another_epoch_is_next_at_any_offset() {
        for offset in [1, 3, 9] {
            let mut cursor = Cursor::new(Some(at(3, "e")));
            assert_eq!(cursor.advance(offset, "f"), Advance::Next);
            assert_eq!(cursor.last(), Some(&at(offset, "f")));
        }
    }

    #[test]
    fn set_moves_anywhere() {
        let mut cursor = Cursor::new(Some(at(9, "e")));
        cursor.set(at(2, "e"));
        assert_eq!(cursor.last(), Some(&at(2, "e")));
        assert_eq!(cursor.check(3, "e"), Advance::Next);
    }
}
