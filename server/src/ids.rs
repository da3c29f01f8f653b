//! Random identifiers: node ids, connection ids, stream epochs.

use std::fmt::Write as _;

/// A random number from the operating system's generator (for jitter).
pub(crate) fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: the sub-second part of the time will do for jitter.
        return (crate::clock::unix_nanos() % 1_000_000_000) as u64;
    }
    u64::from_le_bytes(bytes)
}

/// `n` random bytes as lower-case hex, from the operating system's generator.
pub(crate) fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    if getrandom::fill(&mut buf).is_err() {
        // No OS randomness: fall back to time, still unique enough per process.
        let nanos = crate::clock::unix_nanos();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8;
        }
    }
    buf.iter().fold(String::with_capacity(n * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
