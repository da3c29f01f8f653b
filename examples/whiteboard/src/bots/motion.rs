//! How a bot moves and draws: a smooth path of its own, a stroke now and
//! then along it, and a small random generator for the variety.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::Stroke;

/// A bot's cursor path: a Lissajous curve with its own frequencies and phases.
pub(super) struct Path {
    t: f64,
    freq: (f64, f64),
    phase: (f64, f64),
}

impl Path {
    pub(super) fn new(rng: &mut Rng) -> Path {
        Path {
            t: 0.0,
            freq: (rng.between(0.7, 1.3), rng.between(0.9, 1.9)),
            phase: (rng.between(0.0, 6.3), rng.between(0.0, 6.3)),
        }
    }

    /// The next position: about a full loop every ten seconds.
    pub(super) fn step(&mut self) -> (f64, f64) {
        self.t += 0.04;
        let x = 0.5 + 0.4 * (self.freq.0 * self.t + self.phase.0).sin();
        let y = 0.5 + 0.4 * (self.freq.1 * self.t + self.phase.1).sin();
        (round(x), round(y))
    }
}

/// When a bot draws: the first stroke soon after it arrives, then one every
/// few seconds, each following the cursor for one to two seconds.
pub(super) struct Pen {
    prefix: String,
    color: &'static str,
    count: u64,
    wait: u32,
    points: Option<Vec<[f64; 2]>>,
    length: usize,
}

impl Pen {
    pub(super) fn new(name: &str, color: &'static str, rng: &mut Rng) -> Pen {
        Pen {
            prefix: format!("{name}-{:08x}", rng.next() as u32),
            color,
            count: 0,
            wait: rng.between(15.0, 45.0) as u32,
            points: None,
            length: 0,
        }
    }

    /// Moves the pen with the cursor; a finished stroke when there is one.
    pub(super) fn step(&mut self, x: f64, y: f64, rng: &mut Rng) -> Option<Stroke> {
        let Some(points) = &mut self.points else {
            self.wait = self.wait.saturating_sub(1);
            if self.wait == 0 {
                self.points = Some(vec![[x, y]]);
                self.length = rng.between(15.0, 30.0) as usize;
            }
            return None;
        };
        points.push([x, y]);
        if points.len() < self.length {
            return None;
        }
        self.wait = rng.between(75.0, 180.0) as u32;
        self.count += 1;
        Some(Stroke {
            id: format!("{}-{}", self.prefix, self.count),
            color: self.color.to_owned(),
            width: 0.004,
            points: self.points.take().unwrap_or_default(),
        })
    }
}

/// Four decimals: a tenth of a pixel on a 1000-pixel board, and short JSON.
fn round(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// A small xorshift generator: bots need variety, not good randomness.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(index: usize) -> Rng {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng((now ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `lo..hi`.
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_on_the_board_and_strokes_come() {
        let mut rng = Rng::new(1);
        let mut path = Path::new(&mut rng);
        let mut pen = Pen::new("bot-1", "#e53935", &mut rng);
        let mut strokes = Vec::new();
        for _ in 0..1000 {
            let (x, y) = path.step();
            assert!((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y));
            strokes.extend(pen.step(x, y, &mut rng));
        }
        assert!(strokes.len() >= 4, "{}", strokes.len());
        assert!(strokes.iter().all(|s| s.points.len() >= 15));
        assert_ne!(strokes[0].id, strokes[1].id);
    }
}
