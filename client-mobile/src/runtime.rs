//! The tokio runtime the SDK owns, so apps need no Rust async runtime of their own.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

use crate::error::ChorusError;

/// One runtime for every client in the process, started on first use. Two
/// worker threads: a listener that is slow to return does not stall the sockets.
pub(crate) fn runtime() -> Result<&'static Runtime, ChorusError> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("chorus")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ChorusError::Runtime { reason: e.clone() })
}

/// Runs `future` on the SDK's runtime and waits for it from whatever executor
/// the foreign side polls with (Kotlin coroutines, Swift tasks).
pub(crate) async fn run<T, F>(future: F) -> Result<T, ChorusError>
where
    F: Future<Output = Result<T, ChorusError>> + Send + 'static,
    T: Send + 'static,
{
    runtime()?
        .spawn(future)
        .await
        .map_err(|e| ChorusError::Runtime {
            reason: e.to_string(),
        })?
}
