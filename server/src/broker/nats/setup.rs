//! Creating the stream and buckets at startup, while the JetStream cluster may
//! still be forming: a node started together with its NATS servers finds no
//! meta leader for a few seconds, and each `create` times out or is refused
//! until one is elected. Such a step is retried with backoff for a bounded
//! time instead of failing the node's start.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::broker::BrokerError;

/// How long a setup step keeps trying before the node gives up starting.
pub(super) const RETRY_FOR: Duration = Duration::from_secs(30);

/// The first pause between tries; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// JetStream's answer when its servers cannot reserve the bytes a stream or
/// bucket asks for (`max_bytes` times replicas): no retry can fix it.
const INSUFFICIENT_STORAGE: &str = "error code 10047";

/// What to do about [`INSUFFICIENT_STORAGE`], appended to the startup error.
fn storage_hint() -> String {
    format!(
        "the NATS servers cannot reserve the storage the node asks for: \
         cluster.history_max_bytes plus {} MiB for idempotency keys, on each of \
         cluster.replicas servers; give JetStream more (its max_file_store or \
         max_memory_store, by default 75% of the free disk or memory when \
         nats-server starts) or lower cluster.history_max_bytes",
        super::IDEMPOTENCY_BUCKET_BYTES >> 20
    )
}

/// Runs `step` until it succeeds or [`RETRY_FOR`] has passed; the last error,
/// named `what`, is the node's startup error. A refusal for lack of storage
/// fails at once, saying what to change.
pub(super) async fn retrying<T, E, F, Fut>(what: &str, mut step: F) -> Result<T, BrokerError>
where
    E: Display + Into<Box<dyn std::error::Error + Send + Sync>>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + RETRY_FOR;
    let mut pause = FIRST_PAUSE;
    loop {
        match step().await {
            Ok(value) => return Ok(value),
            Err(e) if e.to_string().contains(INSUFFICIENT_STORAGE) => {
                return Err(BrokerError::insufficient_storage(what, e, storage_hint()));
            }
            Err(e) if Instant::now() + pause < deadline => {
                tracing::warn!(what, error = %e, retry_in_ms = pause.as_millis() as u64, "JetStream setup failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
            Err(e) => return Err(BrokerError::storage(what, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_step_that_fails_at_first_is_retried_until_it_succeeds() {
        let tries = AtomicU32::new(0);
        let value = retrying("bucket", || async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0..=3 => Err("no meta leader"),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(value.ok(), Some(7));
        assert_eq!(tries.load(Ordering::SeqCst), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_that_keeps_failing_gives_up_with_its_last_error() {
        let started = Instant::now();
        let tries = AtomicU32::new(0);
        let result: Result<(), _> = retrying("presence bucket", || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err("insufficient resources")
        })
        .await;
        let e = result.expect_err("gives up");
        assert!(matches!(e, BrokerError::Storage { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "broker: presence bucket: insufficient resources"
        );
        assert!(started.elapsed() <= RETRY_FOR, "{:?}", started.elapsed());
        assert!(tries.load(Ordering::SeqCst) > 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lack_of_storage_fails_at_once_saying_what_to_change() {
        let tries = AtomicU32::new(0);
        let result: Result<(), _> = retrying("history stream", || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err("jetstream error: insufficient storage resources available (code 500, error code 10047)")
        })
        .await;
        let e = result.expect_err("fails");
        assert_eq!(tries.load(Ordering::SeqCst), 1);
        assert!(
            matches!(e, BrokerError::InsufficientStorage { .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("cluster.history_max_bytes"), "{e}");
    }
}
