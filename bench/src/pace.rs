//! Publishing schedules: a fixed rate (open loop) or a window of publications
//! in flight (closed loop).
//!
//! Payloads are stamped when the schedule hands them to a publishing client,
//! so time spent queued behind a slow socket counts as latency. The schedule
//! itself never waits for a client: a publication that finds its publisher's
//! queue full is counted as missed rather than delaying the ones after it.

use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;

use crate::Result;
use crate::client::Publish;
use crate::fleet::Publisher;
use crate::metrics::Recorder;
use crate::payload;

/// What a schedule did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Publications handed to publishers.
    pub sent: u64,
    /// Publications dropped because the publisher's queue was full.
    pub missed: u64,
}

/// Open loop: `rate` publications per second in all, for `duration`,
/// publication i going to publisher i mod the number of publishers.
/// `seq` numbers the payloads and keeps counting across calls.
pub async fn fixed_rate(
    publishers: &[Publisher],
    rate: f64,
    duration: Duration,
    pad: usize,
    seq: &mut u64,
) -> Sent {
    let mut outcome = Sent::default();
    if publishers.is_empty() || rate <= 0.0 {
        return outcome;
    }
    let start = Instant::now();
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let mut next = 0usize;
    while outcome.sent + outcome.missed < total {
        let index = outcome.sent + outcome.missed;
        let due = start + Duration::from_secs_f64(index as f64 / rate);
        if due > Instant::now() {
            tokio::time::sleep_until(due).await;
        }
        let publisher = &publishers[next];
        next = (next + 1) % publishers.len();
        *seq += 1;
        let publish = Publish {
            channel: publisher.channel.clone(),
            data: payload::stamped(*seq, pad),
        };
        match publisher.queue.try_send(publish) {
            Ok(()) => outcome.sent += 1,
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => outcome.missed += 1,
        }
    }
    outcome
}

/// Closed loop: for `duration`, publishes as fast as the system delivers,
/// keeping at most `window` publications on their way: publication k is sent
/// once publication k - window has reached all `subscribers`. Returns the
/// publications sent, once all of them were delivered.
///
/// # Errors
///
/// When deliveries stop progressing for `stall` (a subscriber was dropped, or
/// the server lost publications).
pub async fn windowed(
    publisher: &Publisher,
    recorder: &Recorder,
    subscribers: u64,
    window: u64,
    duration: Duration,
    pad: usize,
    seq: &mut u64,
) -> Result<u64> {
    const STALL: Duration = Duration::from_secs(10);
    let window = window.max(1);
    let base = recorder.counts().deliveries;
    let deadline = Instant::now() + duration;
    let mut sent = 0u64;
    while Instant::now() < deadline {
        if sent >= window {
            let need = base + (sent - window + 1) * subscribers;
            if !recorder.wait_deliveries(need, STALL).await {
                let got = recorder.counts().deliveries - base;
                return Err(format!(
                    "deliveries stalled at {got} of {need_rel} after {sent} publications",
                    need_rel = need - base
                )
                .into());
            }
        }
        *seq += 1;
        let publish = Publish {
            channel: publisher.channel.clone(),
            data: payload::stamped(*seq, pad),
        };
        publisher
            .queue
            .send(publish)
            .await
            .map_err(|_| "the publisher's connection has ended")?;
        sent += 1;
    }
    let all = base + sent * subscribers;
    if !recorder.wait_deliveries(all, STALL).await {
        let got = recorder.counts().deliveries - base;
        return Err(format!("only {got} of {} deliveries arrived", sent * subscribers).into());
    }
    Ok(sent)
}
