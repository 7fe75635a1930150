//! What a server says about its quota in headers: the de-facto `X-RateLimit-*` family
//! (GitHub, Twitter, many gateways), the IETF draft's `RateLimit-*` fields, and the draft's
//! later single `RateLimit` / `RateLimit-Policy` fields (`"default";r=50;t=30`,
//! `"default";q=100;w=60`, and the earlier `limit=100, remaining=50, reset=30`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// A `reset` larger than this many seconds is read as a Unix time, not a delay (GitHub
/// sends epoch seconds; the IETF draft sends delay seconds).
const EPOCH_THRESHOLD: f64 = 1_000_000_000.0;

/// The quota a response announced. Every field is optional; servers send any subset.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct QuotaHeaders {
    /// Requests left in the current window.
    pub(crate) remaining: Option<u64>,
    /// When the window resets, from now.
    pub(crate) reset: Option<Duration>,
    /// The policy's sustained rate (quota / window), when the server names its window.
    pub(crate) policy_rate: Option<f64>,
}

impl QuotaHeaders {
    /// Reads the quota fields of `headers` (`now` turns an epoch reset into a delay); `None`
    /// when there are none.
    pub(crate) fn read(headers: &HeaderMap, now: SystemTime) -> Option<Self> {
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
        };
        let mut found = Self {
            remaining: field(&["ratelimit-remaining", "x-ratelimit-remaining"])
                .and_then(|v| v.trim().parse().ok()),
            reset: field(&["ratelimit-reset", "x-ratelimit-reset"]).and_then(|v| reset(v, now)),
            policy_rate: field(&["ratelimit-policy"]).and_then(policy_rate),
        };
        if let Some(combined) = field(&["ratelimit"]) {
            let params = params(combined);
            let get = |keys: &[&str]| {
                params
                    .iter()
                    .find(|(k, _)| keys.contains(k))
                    .map(|(_, v)| *v)
            };
            found.remaining = found
                .remaining
                .or_else(|| get(&["r", "remaining"]).and_then(|v| v.parse().ok()));
            found.reset = found
                .reset
                .or_else(|| get(&["t", "reset"]).and_then(|v| reset(v, now)));
        }
        (found != Self::default()).then_some(found)
    }
}

/// `key=value` pairs of a structured field, split on `,` and `;` (items without `=` are
/// the policy's name and are skipped).
fn params(value: &str) -> Vec<(&str, &str)> {
    value
        .split([',', ';'])
        .filter_map(|item| item.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
        .collect()
}

/// A reset as a delay: seconds from now, or a Unix time when it is that large.
fn reset(value: &str, now: SystemTime) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    if seconds < EPOCH_THRESHOLD {
        return Some(Duration::from_secs_f64(seconds));
    }
    let at = UNIX_EPOCH + Duration::from_secs_f64(seconds);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `100;w=60` (draft 05/06) or `"default";q=100;w=60` (draft 07+): quota / window.
fn policy_rate(value: &str) -> Option<f64> {
    let first = value.split(',').next()?;
    let params = params(first);
    let window: f64 = params.iter().find(|(k, _)| *k == "w")?.1.parse().ok()?;
    let quota: f64 = match params.iter().find(|(k, _)| *k == "q") {
        Some((_, q)) => q.parse().ok()?,
        None => first.split(';').next()?.trim().parse().ok()?,
    };
    (window > 0.0 && quota > 0.0).then(|| quota / window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn read(pairs: &[(&'static str, &'static str)]) -> Option<QuotaHeaders> {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        QuotaHeaders::read(&h, now)
    }

    #[test]
    fn the_x_family_with_an_epoch_reset() {
        let q = read(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000030"),
        ])
        .unwrap();
        assert_eq!(q.remaining, Some(0));
        assert_eq!(q.reset, Some(Duration::from_secs(30)));
        assert_eq!(q.policy_rate, None, "no window named, no rate");
    }

    #[test]
    fn the_ietf_fields_and_policies() {
        let q = read(&[
            ("ratelimit-remaining", "7"),
            ("ratelimit-reset", "2"),
            ("ratelimit-policy", "100;w=60"),
        ])
        .unwrap();
        assert_eq!(
            (q.remaining, q.reset),
            (Some(7), Some(Duration::from_secs(2)))
        );
        assert!((q.policy_rate.unwrap() - 100.0 / 60.0).abs() < 1e-9);
        let q = read(&[("ratelimit-policy", "\"default\";q=50;w=10")]).unwrap();
        assert_eq!(q.policy_rate, Some(5.0));
    }

    #[test]
    fn the_combined_field_old_and_new() {
        let old = read(&[("ratelimit", "limit=100, remaining=0, reset=5")]).unwrap();
        assert_eq!(
            (old.remaining, old.reset),
            (Some(0), Some(Duration::from_secs(5)))
        );
        let new = read(&[("ratelimit", "\"default\";r=3;t=1")]).unwrap();
        assert_eq!(
            (new.remaining, new.reset),
            (Some(3), Some(Duration::from_secs(1)))
        );
    }

    #[test]
    fn nothing_or_garbage_is_no_hint() {
        assert_eq!(read(&[]), None);
        assert_eq!(
            read(&[("x-ratelimit-remaining", "lots"), ("ratelimit-reset", "-1")]),
            None
        );
    }
}
