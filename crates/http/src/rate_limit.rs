//! A token bucket shared by every request made with one credential.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Sustained rate plus burst, as providers document their limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests per second on average.
    pub per_second: f64,
    /// Requests allowed back to back after a quiet spell.
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` sustained with a burst of `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst }
    }
}

/// A token bucket. [`RateLimiter::acquire`] reserves a token and sleeps until it is due, so
/// waiting callers are served in arrival order and the long-run rate never exceeds the limit.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// A full bucket. A non-positive rate is treated as "one request per second".
    pub fn new(limit: RateLimit) -> Self {
        let limit = RateLimit {
            per_second: if limit.per_second > 0.0 {
                limit.per_second
            } else {
                1.0
            },
            burst: limit.burst.max(1),
        };
        Self {
            state: Mutex::new(Bucket {
                tokens: f64::from(limit.burst),
                updated: Instant::now(),
            }),
            limit,
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// How long the caller must wait for its token (reserving it).
    pub(crate) fn reserve(&self) -> Duration {
        let mut bucket = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.limit.per_second;
        bucket.tokens = (bucket.tokens + refill).min(f64::from(self.limit.burst));
        bucket.updated = now;
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / self.limit.per_second)
        }
    }

    /// Waits until one more request may be sent.
    pub async fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_sustained_rate() {
        let limiter = RateLimiter::new(RateLimit::new(10.0, 5));
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst is free");
        for _ in 0..10 {
            limiter.acquire().await;
        }
        let waited = start.elapsed().as_secs_f64();
        assert!(
            (0.99..1.01).contains(&waited),
            "10 more at 10/s take 1 s, took {waited}"
        );
    }
}
