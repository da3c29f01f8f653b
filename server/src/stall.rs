//! The node's own pauses: a stopped process (SIGSTOP, a debugger), a frozen
//! VM, a starved runtime. While the node does not run, its clients keep
//! sending; when it resumes, their commands arrive all at once. The
//! per-connection rate limit must not refuse that pile-up, since the node
//! caused it: it gets credit for the time the node stood still
//! ([`crate::rate::TokenBucket`]).
//!
//! A ticker observes the clock every [`TICK`]; anyone may observe it too. An
//! observation more than [`THRESHOLD`] after the previous one means the
//! process did not run in between, and the difference is added to the
//! node's stalled time. The first observer after a resume (the ticker, or a
//! connection reading a command) records it, so it is counted before the
//! rate limit looks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// How often the ticker observes the clock.
pub(crate) const TICK: Duration = Duration::from_millis(100);
/// A silence longer than this between observations is a stall.
pub(crate) const THRESHOLD: Duration = Duration::from_secs(1);

/// Total time the node stood still, as seen by observing a monotonic clock.
#[derive(Debug)]
pub(crate) struct StallClock {
    origin: Instant,
    /// Milliseconds since `origin` of the latest observation.
    last_ms: AtomicU64,
    /// Milliseconds the node stood still, in all.
    stalled_ms: AtomicU64,
}

impl Default for StallClock {
    fn default() -> Self {
        StallClock {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
            stalled_ms: AtomicU64::new(0),
        }
    }
}

impl StallClock {
    /// Observes the clock at `now`; returns the total stalled time so far (ms).
    pub(crate) fn observe(&self, now: Instant) -> u64 {
        let now_ms = now.saturating_duration_since(self.origin).as_millis() as u64;
        let previous = self.last_ms.fetch_max(now_ms, Ordering::AcqRel);
        let silence = now_ms.saturating_sub(previous);
        if silence > THRESHOLD.as_millis() as u64 {
            // Only the observer that moved the clock across the silence adds it.
            let stalled = silence - TICK.as_millis() as u64;
            tracing::warn!(stalled_ms = stalled, "the node stood still");
            return self.stalled_ms.fetch_add(stalled, Ordering::AcqRel) + stalled;
        }
        self.stalled_ms.load(Ordering::Acquire)
    }

    /// Observes the clock every [`TICK`] while `clock` is held elsewhere.
    pub(crate) fn spawn_ticker(clock: &Arc<StallClock>) {
        let weak = Arc::downgrade(clock);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(clock) = weak.upgrade() else { break };
                clock.observe(Instant::now());
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn regular_observations_are_no_stall_and_a_long_silence_is() {
        let clock = StallClock::default();
        let t = Instant::now();
        for i in 1..=50 {
            assert_eq!(clock.observe(t + TICK * i), 0);
        }
        let resumed = t + TICK * 50 + Duration::from_secs(10);
        let stalled = clock.observe(resumed);
        assert!((9_800..=10_000).contains(&stalled), "{stalled}");
        // A second observer of the same moment adds nothing.
        assert_eq!(clock.observe(resumed), stalled);
        assert_eq!(clock.observe(resumed + TICK), stalled);
    }
}
