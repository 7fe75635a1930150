//! When to retry, as plain data and a pure decision table.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::{parse_retry_after, BackoffConfig};

/// Retry policy. Defaults follow object_store: 10 retries within 3 minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Backoff between attempts when the server names no delay.
    pub backoff: BackoffConfig,
    /// Retries after the first attempt (default 10). 0 disables retrying.
    pub max_retries: u32,
    /// Total time budget for one request including waits (default 180 s): a retry whose
    /// wait would overrun it is not made.
    pub retry_timeout: Duration,
    /// Retries of a success response whose body did not decode (default 3): enough to ride
    /// out a truncated body, without spending the whole budget on a body that will never
    /// have the documented shape.
    pub max_decode_retries: u32,
    /// Cap on a server-requested `Retry-After` (default 60 s), so "come back in an hour"
    /// cannot stall a sync; the capped wait still counts against `retry_timeout`.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            backoff: BackoffConfig::default(),
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
            max_decode_retries: 3,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The wait before retry number `attempt` (1-based): the server's `Retry-After` when it
    /// gave one (capped), otherwise backoff scaled by the random factor `unit` in `[0, 1]`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        match retry_after {
            Some(after) => after.min(self.max_retry_after),
            None => self.backoff.delay(attempt, unit),
        }
    }
}

/// What to do with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Hand the response to the adapter.
    Done,
    /// Try again, after the server's delay if it named one.
    Retry {
        /// Server-requested delay (`Retry-After`).
        after: Option<Duration>,
    },
}

/// The status decision table: 408, 429 and every 5xx are retried (honouring
/// `Retry-After`); everything else is final.
///
/// ```
/// use std::time::SystemTime;
/// use affiliate_http::{classify_status, HeaderMap, StatusCode, Verdict};
/// let h = HeaderMap::new();
/// assert_eq!(classify_status(StatusCode::OK, &h, SystemTime::now()), Verdict::Done);
/// assert_eq!(classify_status(StatusCode::BAD_GATEWAY, &h, SystemTime::now()), Verdict::Retry { after: None });
/// ```
pub fn classify_status(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Verdict {
    let retryable = status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error();
    if retryable {
        Verdict::Retry {
            after: parse_retry_after(headers, now),
        }
    } else {
        Verdict::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn status_table() {
        let now = SystemTime::now();
        let none = HeaderMap::new();
        let cases = [
            (200, false),
            (201, false),
            (204, false),
            (301, false),
            (400, false),
            (401, false),
            (403, false),
            (404, false),
            (405, false),
            (408, true),
            (410, false),
            (422, false),
            (429, true),
            (500, true),
            (502, true),
            (503, true),
            (504, true),
            (599, true),
        ];
        for (code, retry) in cases {
            let status = StatusCode::from_u16(code).unwrap();
            let verdict = classify_status(status, &none, now);
            assert_eq!(matches!(verdict, Verdict::Retry { .. }), retry, "{code}");
        }
    }

    #[test]
    fn retry_after_is_carried_and_capped() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
        let verdict = classify_status(StatusCode::TOO_MANY_REQUESTS, &h, SystemTime::now());
        let Verdict::Retry { after } = verdict else {
            panic!("429 must retry")
        };
        assert_eq!(after, Some(Duration::from_secs(3600)));
        let config = RetryConfig::default();
        assert_eq!(config.delay(1, after, 1.0), Duration::from_secs(60));
        assert_eq!(config.delay(1, None, 1.0), Duration::from_millis(100));
        assert_eq!(config.delay(1, None, 0.5), Duration::from_millis(50));
    }
}
