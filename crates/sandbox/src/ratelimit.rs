//! The server-side rate limit every emulator can enforce: a token bucket per credential
//! value, and the log that lets a test see when each request arrived.

use std::collections::HashMap;
use std::time::Instant;

/// "`per_second` requests per second per credential, bursts of up to `burst`": a token
/// bucket per credential value (Triport's session cookie or admin token, CoinW's `api_key`,
/// Prefactor's and Census's bearer token; requests without one share one bucket). A bucket
/// starts full; a request takes a token or is answered as throttled, the way each provider
/// documents it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second (the sustained rate).
    pub per_second: f64,
    /// Bucket size (the largest burst), at least 1.
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` requests per second per credential, bursts of up to `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst }
    }
}

/// How many requests the rate limit let through and how many it answered as throttled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttling {
    /// Requests answered by the emulated API (successes, errors and injected faults).
    pub served: u64,
    /// Requests answered with the provider's throttling answer by the rate limit.
    pub throttled: u64,
}

/// One request as an emulator received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `METHOD /path?query`, as [`crate::Emulator::requests`] lists it.
    pub line: String,
    /// When it arrived (before any latency was added).
    pub arrived: Instant,
    /// True when the rate limit answered it as throttled.
    pub throttled: bool,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of one emulator and its counters.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    limit: Option<RateLimit>,
    buckets: HashMap<String, Bucket>,
    counts: Throttling,
}

impl Limiter {
    pub(crate) fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// Replaces the limit; every bucket starts full again.
    pub(crate) fn set(&mut self, limit: Option<RateLimit>) {
        self.limit = limit;
        self.buckets.clear();
    }

    /// Takes a token of `credential`'s bucket at `now`; false when the request is throttled.
    pub(crate) fn admit(&mut self, credential: &str, now: Instant) -> bool {
        let admitted = match self.limit {
            None => true,
            Some(limit) => {
                let burst = f64::from(limit.burst.max(1));
                let bucket = self.buckets.entry(credential.to_owned()).or_insert(Bucket {
                    tokens: burst,
                    at: now,
                });
                let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
                bucket.tokens = (bucket.tokens + elapsed * limit.per_second.max(0.0)).min(burst);
                bucket.at = now;
                let admitted = bucket.tokens >= 1.0;
                if admitted {
                    bucket.tokens -= 1.0;
                }
                admitted
            }
        };
        if admitted {
            self.counts.served += 1;
        } else {
            self.counts.throttled += 1;
        }
        admitted
    }

    pub(crate) fn counts(&self) -> Throttling {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_per_credential_bursts_then_refills() {
        let mut limiter = Limiter::new(Some(RateLimit::new(2.0, 3)));
        let t0 = Instant::now();
        let admitted: Vec<bool> = (0..5).map(|_| limiter.admit("a", t0)).collect();
        assert_eq!(admitted, [true, true, true, false, false]);
        assert!(
            limiter.admit("b", t0),
            "another credential has its own bucket"
        );
        assert!(!limiter.admit("a", t0 + Duration::from_millis(400)));
        assert!(limiter.admit("a", t0 + Duration::from_millis(500)));
        assert!(!limiter.admit("a", t0 + Duration::from_millis(500)));
        assert_eq!(
            limiter.counts(),
            Throttling {
                served: 5,
                throttled: 4
            }
        );
    }

    #[test]
    fn no_limit_serves_everything_and_set_refills() {
        let mut limiter = Limiter::new(None);
        let t0 = Instant::now();
        assert!((0..100).all(|_| limiter.admit("", t0)));
        limiter.set(Some(RateLimit::new(0.0, 0)));
        assert!(limiter.admit("", t0), "a burst of 0 counts as 1");
        assert!(!limiter.admit("", t0 + Duration::from_secs(60)));
        limiter.set(Some(RateLimit::new(0.0, 1)));
        assert!(limiter.admit("", t0));
        assert_eq!(limiter.counts().served, 102);
    }
}
