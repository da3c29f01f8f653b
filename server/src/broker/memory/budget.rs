//! One byte bound for many streams: every stored message is counted in the
//! order it came, and while the total is over the bound the oldest of all go
//! first, whichever stream holds them. A client can make a node keep
//! messages in as many streams as it can name (channels it may publish to,
//! users it may send to), so a bound per stream is not a bound for the node.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::sync::lock;

/// What a stored message costs beyond its data (offsets, epoch, sender info).
pub(super) const MESSAGE_OVERHEAD: usize = 128;

/// The messages of many streams, counted against one bound.
#[derive(Debug)]
pub(super) struct Budget {
    max: AtomicUsize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Bytes counted (messages already gone by their stream's own size or
    /// TTL count until they reach the front).
    used: usize,
    order: VecDeque<(Arc<str>, u64, usize)>,
}

impl Budget {
    /// A budget of `max` bytes.
    pub(super) fn new(max: usize) -> Self {
        Budget {
            max: AtomicUsize::new(max),
            state: Mutex::default(),
        }
    }

    /// Changes the bound (a reload).
    pub(super) fn set_max(&self, max: usize) {
        self.max.store(max, Ordering::Relaxed);
    }

    /// Counts a message of `bytes` stored at `offset` of stream `key`;
    /// returns the messages (stream, offset) to forget, oldest first, to
    /// stay within the bound.
    pub(super) fn charge(&self, key: Arc<str>, offset: u64, bytes: usize) -> Vec<(Arc<str>, u64)> {
        let max = self.max.load(Ordering::Relaxed);
        let mut state = lock(&self.state);
        state.used += bytes;
        state.order.push_back((key, offset, bytes));
        let mut forget = Vec::new();
        while state.used > max {
            let Some((key, offset, bytes)) = state.order.pop_front() else {
                break;
            };
            state.used -= bytes;
            forget.push((key, offset));
        }
        forget
    }

    /// Bytes counted now.
    #[cfg(test)]
    fn used(&self) -> usize {
        lock(&self.state).used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_of_all_streams_go_first() {
        let b = Budget::new(300);
        let (a, c): (Arc<str>, Arc<str>) = ("a".into(), "c".into());
        assert!(b.charge(a.clone(), 1, 100).is_empty());
        assert!(b.charge(c.clone(), 1, 100).is_empty());
        assert!(b.charge(a.clone(), 2, 100).is_empty());
        assert_eq!(
            b.charge(c.clone(), 2, 150),
            [(a.clone(), 1), (c.clone(), 1)]
        );
        assert_eq!(b.used(), 250);
        b.set_max(100);
        assert_eq!(b.charge(c.clone(), 3, 10), [(a, 2), (c, 2)]);
        assert_eq!(b.used(), 10);
    }
}
