//! Wall-clock time as Unix seconds and milliseconds.
//!
//! Token times (`exp`, `iat`, revocations) and last-seen are wall-clock by
//! nature: they are compared with clocks elsewhere (the token issuer, other
//! nodes, the client). Everything measured within this process (timeouts,
//! deadlines, rate windows) uses `Instant`, which never jumps. A clock set
//! before 1970 reads as 0 instead of failing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Seconds since the Unix epoch (the unit of JWT dates and revocations).
pub fn unix_secs() -> u64 {
    since_epoch().as_secs()
}

/// Milliseconds since the Unix epoch (the unit of last-seen and token
/// deadlines told to clients).
pub fn unix_ms() -> u64 {
    since_epoch().as_millis() as u64
}

/// Nanoseconds since the Unix epoch, for the few places that need a value
/// that changes between calls (a fallback when OS randomness is missing).
pub(crate) fn unix_nanos() -> u128 {
    since_epoch().as_nanos()
}
