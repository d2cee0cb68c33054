//! A small seeded random number generator, so that a scenario replays exactly.
//!
//! The driver owns one (systems draw from it) and hands every actor its own, derived from
//! the driver's seed and the actor's spawn number: an actor's draws do not depend on how
//! the frame interleaved it with the others, only on its own history.

use std::ops::Range;

/// A deterministic pseudo-random generator (SplitMix64): same seed, same sequence, on
/// every platform. Fast and statistically fine for gameplay; not for cryptography.
///
/// # Examples
///
/// ```
/// let mut a = engine::Rng::new(7);
/// let mut b = engine::Rng::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let roll = a.below(6) + 1;
/// assert!((1..=6).contains(&roll));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

/// SplitMix64's increment: the fractional part of the golden ratio.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    /// A number in `[0, n)`; `n` must be positive.
    ///
    /// # Panics
    ///
    /// When `n` is zero.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        // Multiply-shift maps 64 random bits onto [0, n) with a bias below 2^-64 * n,
        // far under anything a game can observe.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `range` (half-open); the range must not be empty.
    ///
    /// # Panics
    ///
    /// When the range is empty.
    pub fn range(&mut self, range: Range<i64>) -> i64 {
        assert!(range.start < range.end, "Rng::range on an empty range");
        let span = range.end.abs_diff(range.start);
        range.start.wrapping_add(self.below(span) as i64)
    }

    /// A float in `[0, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        // The top 24 bits fill an f32 mantissa exactly.
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// A float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A float in `range` (half-open): `start + (end - start) * next_f64()`. An empty
    /// or reversed range gives its start.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rng = engine::Rng::new(3);
    /// let angle = rng.uniform(0.0..std::f64::consts::TAU);
    /// assert!((0.0..std::f64::consts::TAU).contains(&angle));
    /// assert_eq!(rng.uniform(5.0..5.0), 5.0);
    /// ```
    pub fn uniform(&mut self, range: Range<f64>) -> f64 {
        if range.end > range.start {
            let x = range.start + (range.end - range.start) * self.next_f64();
            // Rounding can land on `end` itself when the span dwarfs `start`.
            if x < range.end {
                x
            } else {
                range.start
            }
        } else {
            range.start
        }
    }

    /// True with probability `p` (clamped to `[0, 1]`).
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// A new generator whose sequence is independent of this one's continuation.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }

    /// The generator for stream number `stream` of `seed` (how actors get theirs).
    pub(crate) fn stream(seed: u64, stream: u64) -> Rng {
        Rng::new(mix(seed ^ mix(stream.wrapping_add(GOLDEN_GAMMA))))
    }
}

/// SplitMix64's output function: a bijective scramble of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_sequence_and_streams_differ() {
        let a: Vec<u64> = (0..8)
            .scan(Rng::new(1), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..8)
            .scan(Rng::new(1), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(Rng::stream(1, 0).next_u64(), Rng::stream(1, 1).next_u64());
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn bounded_draws_stay_in_bounds_and_cover_them() {
        let mut rng = Rng::new(99);
        let mut seen = [false; 6];
        for _ in 0..600 {
            let v = rng.below(6);
            seen[v as usize] = true;
            let r = rng.range(-3..4);
            assert!((-3..4).contains(&r));
            let f = rng.next_f32();
            assert!((0.0..1.0).contains(&f));
            let u = rng.uniform(-5.0..5.0);
            assert!((-5.0..5.0).contains(&u));
        }
        assert!(seen.iter().all(|s| *s));
    }
}
