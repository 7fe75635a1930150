//! Exponential backoff with full jitter.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

/// How long to wait between attempts when the server gives no `Retry-After`.
///
/// The ceiling for attempt `n` (1-based) is `min(max_backoff, init_backoff * base^(n-1))`;
/// the wait is drawn uniformly from `[0, ceiling]` ("full jitter"), so many clients hitting
/// the same limit spread out instead of retrying in lock-step.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffConfig {
    /// Ceiling of the first wait (default 100 ms).
    pub init_backoff: Duration,
    /// Largest ceiling (default 15 s).
    pub max_backoff: Duration,
    /// Growth factor per attempt (default 2).
    pub base: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            base: 2.0,
        }
    }
}

impl BackoffConfig {
    /// The jitter-free ceiling for a 1-based attempt number.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = self.base.powi(attempt.saturating_sub(1).min(64) as i32);
        let secs = (self.init_backoff.as_secs_f64() * exp).min(self.max_backoff.as_secs_f64());
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// The wait for a 1-based attempt number, given a random factor `unit` in `[0, 1]`
    /// (from [`Jitter::draw`]): `unit × ceiling`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        self.ceiling(attempt).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// Where backoff's random factor comes from: the thread's random generator by default;
/// tests inject their own sequence with [`Jitter::from_fn`] to make waits predictable.
#[derive(Clone, Default)]
pub struct Jitter(Option<Arc<dyn Fn() -> f64 + Send + Sync>>);

impl Jitter {
    /// Factors from `draw` (clamped to `[0, 1]`).
    ///
    /// ```
    /// use affiliate_http::Jitter;
    /// assert_eq!(Jitter::from_fn(|| 0.25).draw(), 0.25);
    /// ```
    pub fn from_fn(draw: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(draw)))
    }

    /// One factor in `[0, 1]`.
    pub fn draw(&self) -> f64 {
        match &self.0 {
            Some(draw) => draw().clamp(0.0, 1.0),
            None => rand::rng().random_range(0.0..=1.0),
        }
    }
}

impl fmt::Debug for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Jitter(injected)"
        } else {
            "Jitter(random)"
        })
    }
}

impl PartialEq for Jitter {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_grows_then_caps() {
        let b = BackoffConfig::default();
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(2), Duration::from_millis(200));
        assert_eq!(b.ceiling(4), Duration::from_millis(800));
        assert_eq!(b.ceiling(30), Duration::from_secs(15));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(15));
    }

    #[test]
    fn jitter_stays_within_the_ceiling() {
        let b = BackoffConfig::default();
        let jitter = Jitter::default();
        for attempt in 1..12 {
            for _ in 0..50 {
                assert!(b.delay(attempt, jitter.draw()) <= b.ceiling(attempt));
            }
            assert_eq!(b.delay(attempt, 1.0), b.ceiling(attempt));
            assert_eq!(b.delay(attempt, 0.0), Duration::ZERO);
            assert_eq!(b.delay(attempt, 7.0), b.ceiling(attempt));
        }
    }
}
