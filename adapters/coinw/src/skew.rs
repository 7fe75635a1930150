//! How far CoinW's clock is from ours, measured from its answers' `Date` header, so request
//! timestamps stay inside the window CoinW accepts (it answers `6001` to a stale one) when
//! the local clock is off by up to 10 minutes; a request refused with `6001` after the
//! estimate moved is signed again once.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::UNIX_EPOCH;

use affiliate_http::HeaderMap;
use reqwest::header::DATE;

/// A difference below this is noise: `Date` has whole seconds, and transit takes time.
const TOLERANCE_MS: i64 = 2_000;

/// Beyond this the local clock is broken, not drifting: it is not papered over (the
/// windows' frozen bound comes from it too), and CoinW's `6001` reaches the caller.
pub(crate) const MAX_CORRECTION_MS: i64 = 10 * 60_000;

/// The server clock minus ours, in milliseconds (0 until an answer says otherwise).
#[derive(Debug, Default)]
pub(crate) struct ClockSkew(AtomicI64);

impl ClockSkew {
    /// The correction to add to the local clock.
    pub(crate) fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Takes the server's `Date` into account, `local_ms` being our clock when the answer
    /// arrived; true when the estimate moved (the next attempt's timestamp changes).
    pub(crate) fn observe(&self, headers: &HeaderMap, local_ms: i64) -> bool {
        let Some(server_ms) = server_millis(headers) else {
            return false;
        };
        // `Date` truncates to the second: the server's clock was up to a second later.
        let measured = server_ms + 500 - local_ms;
        let current = self.get();
        if (measured - current).abs() <= TOLERANCE_MS {
            return false;
        }
        if measured.abs() > MAX_CORRECTION_MS {
            tracing::warn!(
                skew_ms = measured,
                "CoinW's clock is more than 10 minutes from the local clock: fix the local clock"
            );
            return false;
        }
        let corrected = if measured.abs() <= TOLERANCE_MS {
            0
        } else {
            measured
        };
        self.0.store(corrected, Ordering::Relaxed);
        tracing::warn!(
            skew_ms = corrected,
            "CoinW's clock differs from the local clock; request timestamps are corrected"
        );
        true
    }
}

fn server_millis(headers: &HeaderMap) -> Option<i64> {
    let text = headers.get(DATE)?.to_str().ok()?;
    let at = httpdate::parse_http_date(text).ok()?;
    let since = at.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(ms: i64) -> HeaderMap {
        let at = UNIX_EPOCH + std::time::Duration::from_millis(ms as u64);
        let mut headers = HeaderMap::new();
        headers.insert(DATE, httpdate::fmt_http_date(at).parse().unwrap());
        headers
    }

    #[test]
    fn a_clock_minutes_off_is_measured_and_small_differences_are_ignored() {
        let skew = ClockSkew::default();
        let local = 1_700_000_000_000;
        assert!(
            !skew.observe(&date(local + 800), local),
            "within a second: noise"
        );
        assert_eq!(skew.get(), 0);
        assert!(skew.observe(&date(local - 120_000), local));
        assert!((skew.get() + 120_000).abs() <= 1_000, "{}", skew.get());
        assert!(
            !skew.observe(&date(local - 120_000), local),
            "already known"
        );
        assert!(skew.observe(&date(local), local), "the clocks agree again");
        assert_eq!(skew.get(), 0);
        assert!(
            !skew.observe(&HeaderMap::new(), local),
            "no Date, no change"
        );
        assert!(
            !skew.observe(&date(local + 3_600_000), local),
            "an hour: broken, not drift"
        );
        assert_eq!(skew.get(), 0);
    }
}
