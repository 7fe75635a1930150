//! The token bucket itself: [`governor`]'s GCRA on tokio's clock.
//!
//! governor keeps its state in one atomic and gets the arithmetic right; its quota is fixed
//! per limiter, so a new rate means a new limiter, drained on creation so a rate change never
//! hands out a fresh burst (after a throttle that burst would be exactly the wrong thing).
//! The clock is tokio's rather than governor's own so that every wait sleeps on the runtime
//! that sends the requests, and tests can pace requests on a paused clock.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter as Gcra};
use tokio::time::Instant;

/// governor's clock reading tokio's time, as nanoseconds since the bucket's origin.
#[derive(Debug, Clone, Copy)]
struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.origin.elapsed())
    }
}

/// A token bucket of `per_second` with bursts of `burst`.
#[derive(Debug)]
pub(crate) struct Bucket {
    per_second: f64,
    gcra: Gcra<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>,
    clock: TokioClock,
}

impl Bucket {
    /// A full bucket (a fixed limit starts with its burst available).
    pub(crate) fn full(per_second: f64, burst: u32) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            1.0
        };
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs_f64(1.0 / per_second).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        let clock = TokioClock {
            origin: Instant::now(),
        };
        Self {
            per_second,
            gcra: Gcra::direct_with_clock(quota, clock),
            clock,
        }
    }

    /// An empty bucket: the first token is one period away (a rate change mid-run).
    pub(crate) fn empty(per_second: f64, burst: u32) -> Self {
        let bucket = Self::full(per_second, burst);
        while bucket.gcra.check().is_ok() {}
        bucket
    }

    /// The sustained rate.
    pub(crate) fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Takes a token now, or says how long until one is due (taking nothing).
    pub(crate) fn try_take(&self) -> Result<(), Duration> {
        self.gcra
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_bursts_then_paces() {
        let bucket = Bucket::full(10.0, 3);
        assert!((0..3).all(|_| bucket.try_take().is_ok()));
        let wait = bucket.try_take().expect_err("the burst is spent");
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(bucket.try_take().is_ok(), "one period later a token is due");
        assert!(bucket.try_take().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_bucket_has_no_burst() {
        let bucket = Bucket::empty(4.0, 8);
        assert!(bucket.try_take().is_err());
        tokio::time::advance(Duration::from_millis(250)).await;
        assert!(bucket.try_take().is_ok());
        assert!(bucket.try_take().is_err());
    }
}
