//! A token bucket: the per-connection command rate limit.
//!
//! Time the node itself stood still ([`crate::stall`]) is credited: the
//! commands a client sent meanwhile arrive at once when the node resumes,
//! and the bucket lets through as many as the rate would have allowed during
//! the stall, on top of its burst.

use tokio::time::Instant;

/// Allows `rate` commands per second on average and `burst` at once.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
    /// The node's stalled time (ms) already credited.
    stalled_ms: u64,
}

impl TokenBucket {
    /// A full bucket, `burst` tokens (at least one): a new connection may send its whole burst
    /// at once.
    pub(crate) fn new(rate_per_second: u32, burst: u32) -> Self {
        TokenBucket {
            rate: f64::from(rate_per_second),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: None,
            stalled_ms: 0,
        }
    }

    /// Takes one token if there is one; `stalled_ms` is the node's total
    /// stalled time ([`crate::stall::StallClock::observe`]).
    pub(crate) fn take(&mut self, now: Instant, stalled_ms: u64) -> bool {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.rate;
            if self.tokens < self.burst {
                self.tokens = (self.tokens + refill).min(self.burst);
            }
        }
        if stalled_ms > self.stalled_ms {
            // Credit above the burst, for the commands sent while the node stood still.
            self.tokens += (stalled_ms - self.stalled_ms) as f64 / 1000.0 * self.rate;
        }
        self.stalled_ms = self.stalled_ms.max(stalled_ms);
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate() {
        let t = Instant::now();
        let mut b = TokenBucket::new(10, 5);
        assert_eq!((0..8).filter(|_| b.take(t, 0)).count(), 5);
        assert!(b.take(t + Duration::from_millis(100), 0));
        assert!(!b.take(t + Duration::from_millis(100), 0));
        assert_eq!(
            (0..20)
                .filter(|_| b.take(t + Duration::from_secs(10), 0))
                .count(),
            5
        );
    }

    #[test]
    fn the_node_s_own_stall_is_credited_once() {
        let t = Instant::now();
        let mut b = TokenBucket::new(10, 5);
        // The node stood still for 10 s: the client's 100 commands of that
        // time pass, with the burst on top, and no more.
        let later = t + Duration::from_secs(10);
        assert_eq!((0..200).filter(|_| b.take(later, 10_000)).count(), 105);
        // Credit is given once per stall.
        assert!(!b.take(later, 10_000));
        assert!(b.take(later + Duration::from_millis(100), 10_000));
    }
}
