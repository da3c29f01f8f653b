//! Idempotency keys: what a publish may carry so that a retry is stored and
//! delivered once. A client chooses the key, so it is bounded on the way in
//! ([`MAX_KEY_LEN`], error 107 beyond) and kept only as a fixed-size digest
//! of channel and key ([`KeyDigest`]): what a node (or NATS) remembers per
//! key is the same sixteen bytes whatever the client sent, and each key is
//! stored once.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The longest idempotency key a publish may carry, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 256;

/// Most keys one node remembers at once (the oldest are forgotten first).
pub(crate) const MAX_KEYS: usize = 100_000;

/// A channel's idempotency key, digested: the first 16 bytes of
/// SHA-256(length of the channel, channel, key). Collisions are as likely as guessing a
/// 128-bit random number, so two different keys never share a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyDigest([u8; 16]);

impl KeyDigest {
    /// The digest of `key` on `channel`.
    pub(crate) fn of(channel: &str, key: &str) -> Self {
        let mut hash = Sha256::new();
        hash.update((channel.len() as u64).to_le_bytes());
        hash.update(channel.as_bytes());
        hash.update(key.as_bytes());
        let full = hash.finalize();
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&full[..16]);
        KeyDigest(digest)
    }

    /// Lower-case hex, 32 characters: a NATS message id or KV key.
    pub(crate) fn hex(&self) -> String {
        self.0.iter().fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

/// Checks a key's length, 1 to `MAX_KEY_LEN` bytes; the error is the reason, for a 107 reply.
pub(crate) fn check(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(format!(
            "idempotency_key must be 1 to {MAX_KEY_LEN} bytes (it has {})",
            key.len()
        ));
    }
    Ok(())
}

/// The keys a single node remembers for a window: at most [`MAX_KEYS`], each
/// sixteen bytes plus its time, swept when they expire.
#[derive(Debug, Default)]
pub(crate) struct Remembered {
    seen: HashMap<KeyDigest, Instant>,
    order: VecDeque<(Instant, KeyDigest)>,
}

impl Remembered {
    /// True when `digest` was seen within `window`; records it otherwise.
    pub(crate) fn check_and_record(
        &mut self,
        digest: KeyDigest,
        now: Instant,
        window: Duration,
    ) -> bool {
        self.sweep(now, window);
        if self.seen.contains_key(&digest) {
            return true;
        }
        while self.order.len() >= MAX_KEYS {
            self.forget_oldest();
        }
        self.seen.insert(digest, now);
        self.order.push_back((now, digest));
        false
    }

    /// Forgets the keys older than `window` (also called on a timer, so
    /// memory follows the window even when no keyed publish comes).
    pub(crate) fn sweep(&mut self, now: Instant, window: Duration) {
        while self
            .order
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= window)
        {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((at, digest)) = self.order.pop_front() {
            if self.seen.get(&digest) == Some(&at) {
                self.seen.remove(&digest);
            }
        }
    }

    /// Keys remembered now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no key is remembered.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_and_digested_per_channel() {
        assert!(check("").is_err());
        assert!(check(&"k".repeat(MAX_KEY_LEN)).is_ok());
        assert!(check(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
        assert_eq!(KeyDigest::of("a", "k"), KeyDigest::of("a", "k"));
        assert_ne!(KeyDigest::of("a", "k"), KeyDigest::of("b", "k"));
        assert_ne!(KeyDigest::of("a\0", "k"), KeyDigest::of("a", "\0k"));
        assert_eq!(KeyDigest::of("a", "k").hex().len(), 32);
    }

    #[test]
    fn keys_expire_by_window_and_by_count() {
        let t = Instant::now();
        let window = Duration::from_secs(60);
        let mut r = Remembered::default();
        let k = KeyDigest::of("c", "1");
        assert!(!r.check_and_record(k, t, window));
        assert!(r.check_and_record(k, t + Duration::from_secs(59), window));
        // Swept on a timer: memory goes down without another keyed publish.
        r.sweep(t + window, window);
        assert!(r.is_empty());
        for i in 0..MAX_KEYS + 10 {
            r.check_and_record(KeyDigest::of("c", &i.to_string()), t, window);
        }
        assert_eq!(r.len(), MAX_KEYS);
        assert!(
            !r.check_and_record(KeyDigest::of("c", "0"), t, window),
            "the oldest went first"
        );
    }
}
