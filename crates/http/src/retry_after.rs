//! `Retry-After`: delay-seconds or an HTTP-date.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Reads `Retry-After` as a delay from `now`. Accepts whole seconds (`"1"`) and HTTP-dates
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`); a date in the past means "now" (zero). Anything
/// unparsable is ignored (`None`), so the caller falls back to its backoff.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use affiliate_http::{parse_retry_after, HeaderMap, HeaderValue};
/// let mut h = HeaderMap::new();
/// h.insert("retry-after", HeaderValue::from_static("2"));
/// assert_eq!(parse_retry_after(&h, SystemTime::now()), Some(Duration::from_secs(2)));
/// ```
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn seconds_dates_and_garbage() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 07:27:50 GMT
        assert_eq!(
            parse_retry_after(&with("1"), now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            parse_retry_after(&with(" 30 "), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after(&with("Wed, 21 Oct 2015 07:28:00 GMT"), now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after(&with("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(&with("soon"), now), None);
        assert_eq!(parse_retry_after(&with("-1"), now), None);
        assert_eq!(parse_retry_after(&HeaderMap::new(), now), None);
    }
}
