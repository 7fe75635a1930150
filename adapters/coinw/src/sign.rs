//! CoinW's request signature (the futures-style "RESTful private" scheme) and the clock it
//! reads.
//!
//! ```text
//! prehash = timestamp_ms + "GET" + path + ("?" + query, when the query is not empty)
//! sign    = Base64(HMAC-SHA256(key = secret_key, msg = prehash))      standard Base64, padded
//! headers : api_key, timestamp, sign
//! ```
//!
//! `query` is the query string exactly as built, **decoded** (a space stays a space) and in
//! insertion order, as CoinW.Net signs it (`PROVIDERS.md` 1.1). The request sends the same
//! [`Query`](affiliate_http::Query) percent-encoded.
//!
//! ```
//! use affiliate_coinw::signing::{prehash, sign};
//! use affiliate_http::Secret;
//!
//! let pre = prehash(
//!     1_700_000_000_000,
//!     "GET",
//!     "/api/v3/patener/openapi/v1/partner/invitation/user/list",
//!     "pageNo=1&pageSize=100",
//! );
//! let sig = sign(&Secret::new("test_secret_key"), &pre)?;
//! assert_eq!(sig, "9UWNvvu0xqyurvabKjvqfbar4uIvgBHVsdqsjq5+0Wc=");
//! # Ok::<(), affiliate_coinw::CoinwError>(())
//! ```

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use affiliate_http::{
    BodyVerdict, HeaderMap, HeaderName, HeaderValue, HookError, RequestHooks, Secret, StatusCode,
};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::Code;
use crate::skew::ClockSkew;
use crate::CoinwError;

/// The source of "now" for request timestamps and for freezing a run's upper bound.
/// Injectable so tests can fix the time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock stopped at one instant (milliseconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now_millis(&self) -> i64 {
        self.0
    }
}

/// Any `Fn() -> i64` (milliseconds) is a clock, e.g. `|| now_ms - 3_600_000`.
impl<F: Fn() -> i64 + Send + Sync> Clock for F {
    fn now_millis(&self) -> i64 {
        self()
    }
}

/// A shared clock whose `Debug` is opaque (a closure has none).
#[derive(Clone)]
pub(crate) struct ClockHandle(pub(crate) Arc<dyn Clock>);

impl fmt::Debug for ClockHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

impl Default for ClockHandle {
    fn default() -> Self {
        Self(Arc::new(SystemClock))
    }
}

/// The string CoinW signs: `timestamp + METHOD + path`, plus `"?" + query` when the query is
/// not empty. `method` is upper-cased; `query` must be the decoded form
/// ([`Query::decoded`](affiliate_http::Query::decoded)).
pub fn prehash(timestamp_ms: i64, method: &str, path: &str, query: &str) -> String {
    let method = method.to_ascii_uppercase();
    if query.is_empty() {
        format!("{timestamp_ms}{method}{path}")
    } else {
        format!("{timestamp_ms}{method}{path}?{query}")
    }
}

/// `Base64(HMAC-SHA256(secret_key, prehash))` with standard, padded Base64.
///
/// Fails only if the HMAC cannot be keyed, which HMAC-SHA256 never refuses (any key length
/// is valid); the error exists so no code path can panic.
pub fn sign(secret_key: &Secret, prehash: &str) -> Result<String, CoinwError> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret_key.expose().as_bytes())
        .map_err(|_| CoinwError::Signing("the HMAC-SHA256 key was refused".into()))?;
    mac.update(prehash.as_bytes());
    Ok(BASE64.encode(mac.finalize().into_bytes()))
}

/// Signs every attempt of one request anew (fresh timestamp) and spots CoinW's throttling
/// code `29001` inside an HTTP 200.
pub(crate) struct Signer<'a> {
    pub(crate) api_key: &'a Secret,
    pub(crate) secret_key: &'a Secret,
    pub(crate) clock: &'a dyn Clock,
    /// Added to the clock: CoinW's clock minus ours, as its answers show it.
    pub(crate) skew: &'a ClockSkew,
    /// The skew this request's last attempt was signed with: when the estimate has moved
    /// since (this answer's `Date`, or a concurrent request's), a `6001` means a stale
    /// timestamp, worth one more attempt with the corrected clock.
    pub(crate) signed_with: AtomicI64,
    /// The path signed: the request URL's path as sent (with any base-URL prefix).
    pub(crate) path: &'a str,
    /// The decoded query, built once with the URL's encoded one.
    pub(crate) query: String,
}

fn sensitive(value: &str) -> Result<HeaderValue, HookError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        HookError("a CoinW credential contains characters not allowed in a header".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

impl RequestHooks for Signer<'_> {
    fn before_attempt(&self, request: &mut reqwest::Request) -> Result<(), HookError> {
        let skew = self.skew.get();
        self.signed_with.store(skew, Ordering::Relaxed);
        let timestamp = self.clock.now_millis().saturating_add(skew);
        let pre = prehash(timestamp, request.method().as_str(), self.path, &self.query);
        let signature = sign(self.secret_key, &pre).map_err(|e| HookError(e.to_string()))?;
        let headers = request.headers_mut();
        headers.insert(
            HeaderName::from_static("api_key"),
            sensitive(self.api_key.expose())?,
        );
        headers.insert(
            HeaderName::from_static("timestamp"),
            HeaderValue::from(timestamp),
        );
        headers.insert(HeaderName::from_static("sign"), sensitive(&signature)?);
        Ok(())
    }

    fn observe_response(&self, _status: StatusCode, headers: &HeaderMap) {
        self.skew.observe(headers, self.clock.now_millis());
    }

    fn classify_body(&self, _status: StatusCode, body: &[u8]) -> BodyVerdict {
        if is_throttled(body) {
            return BodyVerdict::Throttled;
        }
        let stale = self.signed_with.load(Ordering::Relaxed) != self.skew.get();
        if stale && has_code(body, "6001") {
            // Signed with a clock the server disagrees with: sign again with its time.
            return BodyVerdict::Retry;
        }
        BodyVerdict::FollowStatus
    }
}

/// True when the body is CoinW's throttling answer (`code` 29001, string or number).
pub(crate) fn is_throttled(body: &[u8]) -> bool {
    has_code(body, "29001")
}

/// True when the body's `code` (string or number) is `code`.
fn has_code(body: &[u8], code: &str) -> bool {
    #[derive(Deserialize)]
    struct CodeOnly {
        code: Option<Code>,
    }
    // Cheap pre-check: a page of a thousand rows is not parsed twice unless it mentions the code.
    if !body.windows(code.len()).any(|w| w == code.as_bytes()) {
        return false;
    }
    serde_json::from_slice::<CodeOnly>(body)
        .ok()
        .and_then(|c| c.code)
        .is_some_and(|c| c.as_str() == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use affiliate_http::Query;

    const SECRET: &str = "test_secret_key";
    const LIST: &str = "/api/v3/patener/openapi/v1/partner/invitation/user/list";

    fn check(prehash_text: &str, expected: &str) {
        assert_eq!(sign(&Secret::new(SECRET), prehash_text).unwrap(), expected);
    }

    #[test]
    fn vector_1_doc_sample_get() {
        let pre = prehash(
            1_701_944_491_793,
            "GET",
            "/v1/fapi/getStopProfit",
            "orderId=54635502191944903&instrument=BTC&openId=0",
        );
        assert_eq!(
            pre,
            "1701944491793GET/v1/fapi/getStopProfit?orderId=54635502191944903&instrument=BTC&openId=0"
        );
        check(&pre, "rPnaHWt5B1hTolwppDK2QK96K978JH4q6ofl3UgoWNI=");
    }

    #[test]
    fn vector_2_list_without_times() {
        let query = Query::new().push("pageNo", 1).push("pageSize", 100);
        let pre = prehash(1_700_000_000_000, "GET", LIST, &query.decoded());
        assert_eq!(
            pre,
            "1700000000000GET/api/v3/patener/openapi/v1/partner/invitation/user/list?pageNo=1&pageSize=100"
        );
        check(&pre, "9UWNvvu0xqyurvabKjvqfbar4uIvgBHVsdqsjq5+0Wc=");
    }

    #[test]
    fn vector_3_list_with_times_signs_the_decoded_query() {
        let query = Query::new()
            .push("pageNo", 1)
            .push("pageSize", 100)
            .push("startTime", "2021-09-09 13:43:18")
            .push("endTime", "2021-09-09 14:43:18");
        let pre = prehash(1_700_000_000_000, "get", LIST, &query.decoded());
        assert_eq!(
            pre,
            "1700000000000GET/api/v3/patener/openapi/v1/partner/invitation/user/list?pageNo=1&pageSize=100&startTime=2021-09-09 13:43:18&endTime=2021-09-09 14:43:18"
        );
        check(&pre, "jiSvEIIqqiE1clV5OP1FZheeVNH+lSlCxqVsQ6zunG8=");
        // The same Query sends the encoded form.
        assert!(query.encoded().contains("startTime=2021-09-09%2013:43:18"));
    }

    #[test]
    fn empty_query_has_no_question_mark() {
        assert_eq!(prehash(5, "GET", "/p", ""), "5GET/p");
    }

    #[test]
    fn the_hook_signs_each_attempt_with_the_clock() {
        let key = Secret::new("k-123");
        let secret = Secret::new(SECRET);
        let clock = FixedClock(1_700_000_000_000);
        let skew = ClockSkew::default();
        let signer = Signer {
            api_key: &key,
            secret_key: &secret,
            clock: &clock,
            skew: &skew,
            signed_with: AtomicI64::new(0),
            path: LIST,
            query: "pageNo=1&pageSize=100".into(),
        };
        let url = reqwest::Url::parse("https://api.coinw.com/api/v3/patener/openapi/v1/partner/invitation/user/list?pageNo=1&pageSize=100").unwrap();
        let mut request = reqwest::Request::new(reqwest::Method::GET, url);
        signer.before_attempt(&mut request).unwrap();
        let h = request.headers();
        assert_eq!(h["timestamp"], "1700000000000");
        assert_eq!(h["api_key"], "k-123");
        assert_eq!(h["sign"], "9UWNvvu0xqyurvabKjvqfbar4uIvgBHVsdqsjq5+0Wc=");
        assert!(h["api_key"].is_sensitive() && h["sign"].is_sensitive());
        assert!(!format!("{h:?}").contains("k-123"));
    }

    #[test]
    fn throttling_is_spotted_as_string_or_number() {
        assert!(is_throttled(
            br#"{"code":29001,"msg":"API access frequently"}"#
        ));
        assert!(is_throttled(br#"{"msg":"x","code":"29001"}"#));
        assert!(!is_throttled(
            br#"{"code":"200","data":{"list":[{"uid":29001}],"total":1}}"#
        ));
        assert!(!is_throttled(b"not json 29001"));
    }

    #[test]
    fn closures_are_clocks() {
        let c = || 42_i64;
        assert_eq!(Clock::now_millis(&c), 42);
        assert!(SystemClock.now_millis() > 1_600_000_000_000);
    }
}
