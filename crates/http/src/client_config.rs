//! The settings of one HTTP client, as plain data.

use std::time::Duration;

use crate::{AdaptiveRate, Jitter, RateLimit, RatePolicy, RetryConfig};

/// Settings of one [`HttpClient`](crate::HttpClient). Plain data with documented defaults.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Whole-request timeout per attempt, body included (default 30 s).
    pub timeout: Duration,
    /// Connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Largest response body accepted (default 16 MiB).
    pub max_body_bytes: usize,
    /// Retry policy.
    pub retry: RetryConfig,
    /// How fast the requests of this client and its clones may go (default adaptive,
    /// starting at 20 requests/s).
    pub rate: RatePolicy,
    /// Where backoff's random factor comes from (default: random).
    pub jitter: Jitter,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 16 * 1024 * 1024,
            retry: RetryConfig::default(),
            rate: RatePolicy::default(),
            jitter: Jitter::default(),
        }
    }
}

impl ClientConfig {
    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the per-attempt timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Paces requests at a fixed rate instead of learning one.
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate = RatePolicy::Fixed(limit);
        self
    }

    /// Learns the rate from the answers, with these settings.
    pub fn with_adaptive_rate(mut self, adaptive: AdaptiveRate) -> Self {
        self.rate = RatePolicy::Adaptive(adaptive);
        self
    }

    /// No client-side pacing (the server's `Retry-After` is still honoured).
    pub fn without_rate_limit(mut self) -> Self {
        self.rate = RatePolicy::Unlimited;
        self
    }

    /// Sets where backoff's random factor comes from.
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the body size cap.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }
}
