//! Shared end-to-end test machinery: the [`conformance`] suite every adapter runs against
//! its emulator, log capture for redaction checks, a canned-response [`stub`] server and
//! the fast retry settings every test uses.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod conformance;
pub mod fuzzing;
pub mod logs;
pub mod proxy;
pub mod schedules;
pub mod stub;

use std::time::Duration;

use affiliate_http::{BackoffConfig, RetryConfig, SourceBuilder};

/// The retry policy tests use: the real retry loop with millisecond backoff.
pub fn fast_retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            base: 2.0,
        },
        max_retries: 6,
        retry_timeout: Duration::from_secs(20),
        max_decode_retries: 3,
        max_retry_after: Duration::from_secs(2),
    }
}

/// Test transport settings on any adapter builder: [`fast_retry`], a 5 s timeout and no
/// client-side rate limit.
pub trait FastTransport: SourceBuilder {
    /// Applies the test transport settings.
    fn fast(self) -> Self {
        self.with_timeout(Duration::from_secs(5))
            .with_retry(fast_retry())
            .without_rate_limit()
    }
}

impl<B: SourceBuilder> FastTransport for B {}
