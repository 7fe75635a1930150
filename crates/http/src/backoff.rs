//! Exponential backoff with full jitter.

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

    /// A jittered wait for a 1-based attempt number.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        if ceiling.is_zero() {
            return ceiling;
        }
        rand::rng().random_range(Duration::ZERO..=ceiling)
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
        for attempt in 1..12 {
            for _ in 0..50 {
                assert!(b.delay(attempt) <= b.ceiling(attempt));
            }
        }
    }
}
