//! Reconnect delays: exponential backoff with full jitter.
//!
//! The delay before retry `n` (counting from 0) is drawn uniformly from
//! `[0, min(max, min * 2^n)]`: the first retry too is spread over `[0, min]`, so
//! the clients of a node that dies do not all come back in the same instant.
//! Randomness comes from a seeded generator, so the driver injects it (a seed
//! from `getrandom`, `crypto.getRandomValues`, ...) and tests are deterministic.
//! This replaces the unmaintained `backoff` crate.

/// SplitMix64: a tiny, good-quality generator; the seed is the injected randomness.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value uniformly drawn from `0..=bound` (bias below 2^-32 for our ranges).
    pub fn up_to(&mut self, bound: u64) -> u64 {
        if bound == u64::MAX {
            return self.next_u64();
        }
        self.next_u64() % (bound + 1)
    }
}

/// Backoff bounds in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The cap of the first retry's delay; each further failure doubles the cap.
    pub min_ms: u64,
    /// The cap stops doubling here: no delay is ever longer than this.
    pub max_ms: u64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            min_ms: 500,
            max_ms: 20_000,
        }
    }
}

/// Counts consecutive failures and turns them into delays.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    /// A backoff with no failures yet.
    pub fn new(config: BackoffConfig) -> Self {
        Backoff { config, attempt: 0 }
    }

    /// The delay before the next retry; each call counts one more failure.
    pub fn next_delay(&mut self, rng: &mut Rng) -> u64 {
        let cap = self.next_cap();
        self.attempt = self.attempt.saturating_add(1);
        rng.up_to(cap)
    }

    /// The cap of the next delay, without counting a failure.
    pub fn next_cap(&self) -> u64 {
        let BackoffConfig { min_ms, max_ms } = self.config;
        let max_ms = max_ms.max(min_ms);
        1u64.checked_shl(self.attempt)
            .and_then(|factor| min_ms.checked_mul(factor))
            .map_or(max_ms, |c| c.min(max_ms))
    }

    /// Consecutive failures so far.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Forget failures after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_within_bounds_and_reset() {
        let mut rng = Rng::new(7);
        let mut b = Backoff::new(BackoffConfig::default());
        assert!(b.next_delay(&mut rng) <= 500);
        for n in 1..40u32 {
            let cap = (500u64 << n.min(20)).min(20_000);
            assert_eq!(b.next_cap(), cap);
            let d = b.next_delay(&mut rng);
            assert!(d <= cap, "retry {n}: {d}");
        }
        b.reset();
        assert_eq!(b.next_cap(), 500);
    }

    #[test]
    fn the_first_retry_is_spread_too() {
        // A node dies and all of its clients retry: their first delays must
        // not coincide (full jitter from the first attempt on).
        let delays: Vec<u64> = (0..1_000u64)
            .map(|seed| Backoff::new(BackoffConfig::default()).next_delay(&mut Rng::new(seed)))
            .collect();
        assert!(delays.iter().all(|d| *d <= 500));
        let quarters = [0, 1, 2, 3].map(|q| {
            delays
                .iter()
                .filter(|d| (q * 125..(q + 1) * 125).contains(*d))
                .count()
        });
        // Uniform over [0, 500]: each quarter holds about 250 of 1000.
        assert!(
            quarters.iter().all(|n| (180..320).contains(n)),
            "{quarters:?}"
        );
        let distinct: std::collections::BTreeSet<u64> = delays.iter().copied().collect();
        assert!(distinct.len() > 300, "{} distinct delays", distinct.len());
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut rng = Rng::new(1);
        let delays: Vec<u64> = (0..200)
            .map(|_| {
                let mut b = Backoff::new(BackoffConfig::default());
                (0..6).map(|_| b.next_delay(&mut rng)).last().unwrap_or(0)
            })
            .collect();
        let min = *delays.iter().min().unwrap();
        let max = *delays.iter().max().unwrap();
        assert!(min < 4_000 && max > 12_000, "{min}..{max}");
    }

    #[test]
    fn degenerate_configs_do_not_panic() {
        let mut rng = Rng::new(3);
        for (min_ms, max_ms) in [
            (0, 0),
            (0, 10),
            (10, 0),
            (u64::MAX, u64::MAX),
            (1, u64::MAX),
        ] {
            let mut b = Backoff::new(BackoffConfig { min_ms, max_ms });
            for _ in 0..70 {
                let d = b.next_delay(&mut rng);
                assert!(d <= max_ms.max(min_ms));
            }
        }
    }
}
