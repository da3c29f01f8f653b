//! Pauses between the attempts of a request the cluster cannot answer for a
//! moment (an election, a replica that lags).

use std::time::Duration;

/// The shortest and longest cap of a pause.
const FIRST_PAUSE: Duration = Duration::from_millis(2);
const MAX_PAUSE: Duration = Duration::from_millis(250);

/// Jittered pauses before trying again, growing with each consecutive wait
/// (from [`FIRST_PAUSE`] to [`MAX_PAUSE`]): short, so that traffic resumes
/// moments after the cluster recovers.
pub(super) struct Pauses {
    next: Duration,
}

impl Pauses {
    /// A fresh series, starting at the shortest pause.
    pub(super) fn new() -> Self {
        Pauses { next: FIRST_PAUSE }
    }

    /// Waits a random time up to the current cap (never past `deadline`).
    pub(super) async fn wait(&mut self, deadline: tokio::time::Instant) {
        let cap = self.next.as_micros() as u64;
        let pause = Duration::from_micros(crate::ids::random_u64() % (cap + 1));
        self.next = (self.next * 2).min(MAX_PAUSE);
        tokio::time::sleep_until((tokio::time::Instant::now() + pause).min(deadline)).await;
    }
}
