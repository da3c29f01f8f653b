//! What the clients observe: deliveries, latency, errors and disconnects.
//!
//! Every connection task writes into one shared [`Recorder`]. Latency goes
//! into HdrHistograms (1 µs to 60 s, three significant digits), sharded so
//! that thousands of tasks rarely wait on the same lock; counters are atomics.
//! Scenarios read [`Counts`] before and after a measured phase and subtract.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::Notify;

/// Histogram shards; a connection records into shard `index % SHARDS`.
const SHARDS: usize = 32;
/// Disconnect reasons kept for the report.
pub const MAX_REASONS: usize = 5;
/// Largest latency recorded exactly, in microseconds (larger ones saturate).
const MAX_LATENCY_US: u64 = 60_000_000;

/// Shared sink for what every connection observes.
#[derive(Debug)]
pub struct Recorder {
    shards: Vec<Mutex<Histogram<u64>>>,
    deliveries: AtomicU64,
    unstamped: AtomicU64,
    errors: AtomicU64,
    disconnects: AtomicU64,
    /// Delivery count at which to wake [`wait_deliveries`](Self::wait_deliveries).
    wake_at: AtomicU64,
    wake: Notify,
    /// The first few reasons connections gave for ending, to explain problems.
    reasons: Mutex<Vec<String>>,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Publications received by subscribers.
    pub deliveries: u64,
    /// Received publications without a readable send time (not timed).
    pub unstamped: u64,
    /// Error replies to commands (after the connections were set up).
    pub errors: u64,
    /// Connections the server closed, or that failed, while running.
    pub disconnects: u64,
}

impl Counts {
    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: Counts) -> Counts {
        Counts {
            deliveries: self.deliveries - earlier.deliveries,
            unstamped: self.unstamped - earlier.unstamped,
            errors: self.errors - earlier.errors,
            disconnects: self.disconnects - earlier.disconnects,
        }
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Samples behind the percentiles.
    pub samples: u64,
    /// Median: half the samples were at most this.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample (60 s at most: longer latencies saturate).
    pub max: f64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// A recorder with no samples and every counter at zero.
    pub fn new() -> Recorder {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(
                    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                        .expect("valid histogram bounds"),
                )
            })
            .collect();
        Recorder {
            shards,
            deliveries: AtomicU64::new(0),
            unstamped: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            wake_at: AtomicU64::new(u64::MAX),
            wake: Notify::new(),
            reasons: Mutex::new(Vec::new()),
        }
    }

    /// Records one received publication, timed when its send time was known.
    /// `conn` picks the histogram shard.
    pub fn delivery(&self, conn: usize, latency: Option<Duration>) {
        match latency {
            Some(latency) => {
                let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
                self.shards[conn % SHARDS]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .saturating_record(us);
            }
            None => {
                self.unstamped.fetch_add(1, Ordering::Relaxed);
            }
        }
        let delivered = self.deliveries.fetch_add(1, Ordering::AcqRel) + 1;
        if delivered == self.wake_at.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
    }

    /// Records an error reply.
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a connection lost while running.
    pub fn disconnect(&self) {
        self.disconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps a reason a connection gave for ending or failing (the first
    /// [`MAX_REASONS`] are kept).
    pub fn disconnect_reason(&self, reason: String) {
        let mut reasons = self.reasons.lock().unwrap_or_else(PoisonError::into_inner);
        if reasons.len() < MAX_REASONS {
            reasons.push(reason);
        }
    }

    /// The reasons kept by [`disconnect_reason`](Self::disconnect_reason).
    pub fn reasons(&self) -> Vec<String> {
        self.reasons
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A snapshot of the counters, to subtract with [`Counts::since`] after a phase.
    pub fn counts(&self) -> Counts {
        Counts {
            deliveries: self.deliveries.load(Ordering::Acquire),
            unstamped: self.unstamped.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            disconnects: self.disconnects.load(Ordering::Relaxed),
        }
    }

    /// Waits until at least `total` publications have been delivered in all,
    /// or `timeout` passes; returns whether the count was reached.
    pub async fn wait_deliveries(&self, total: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Arm first, then check: a delivery in between stores a permit.
            self.wake_at.store(total, Ordering::Release);
            if self.deliveries.load(Ordering::Acquire) >= total {
                return true;
            }
            let woken = tokio::time::timeout_at(deadline, self.wake.notified()).await;
            if woken.is_err() {
                return self.deliveries.load(Ordering::Acquire) >= total;
            }
        }
    }

    /// Forgets the latency samples recorded so far (the counters keep going).
    pub fn reset_latency(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(PoisonError::into_inner).reset();
        }
    }

    /// Percentiles over every latency sample since the last reset.
    pub fn latency(&self) -> Latency {
        let mut all =
            Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid bounds");
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            all.add(&*shard).expect("shards share the same bounds");
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            samples: all.len(),
            p50: ms(all.value_at_quantile(0.50)),
            p99: ms(all.value_at_quantile(0.99)),
            p999: ms(all.value_at_quantile(0.999)),
            max: ms(all.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_over_all_shards() {
        let recorder = Recorder::new();
        for i in 0..1000u64 {
            recorder.delivery(i as usize, Some(Duration::from_micros(i + 1)));
        }
        recorder.delivery(0, None);
        let latency = recorder.latency();
        assert_eq!(latency.samples, 1000);
        assert!((latency.p50 - 0.5).abs() < 0.01, "{latency:?}");
        assert!((latency.p99 - 0.99).abs() < 0.01, "{latency:?}");
        assert_eq!(recorder.counts().deliveries, 1001);
        assert_eq!(recorder.counts().unstamped, 1);
        recorder.reset_latency();
        assert_eq!(recorder.latency().samples, 0);
    }

    #[tokio::test]
    async fn waits_for_a_delivery_count() {
        let recorder = std::sync::Arc::new(Recorder::new());
        assert!(!recorder.wait_deliveries(1, Duration::from_millis(10)).await);
        let r = recorder.clone();
        let waiter =
            tokio::spawn(async move { r.wait_deliveries(3, Duration::from_secs(5)).await });
        for _ in 0..3 {
            tokio::task::yield_now().await;
            recorder.delivery(0, None);
        }
        assert!(waiter.await.unwrap());
    }
}
