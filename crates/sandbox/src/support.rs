//! Plumbing shared by the emulators: the mutable state behind one emulator, the per-request
//! prelude (request log, rate limit, latency, injected fault), query parsing and the bearer
//! check.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::http::{header, HeaderMap, Method};
use axum::response::Response;

use crate::ratelimit::Limiter;
use crate::{Dataset, Fault, FaultPlan, RateLimit, RequestRecord, Throttling};

/// An error answer scripted for the next request, as `(HTTP status, provider detail)`:
/// the detail is Prefactor's `code` or Census's `message`.
pub(crate) type ScriptedError = (u16, String);

/// What one emulator changes while it serves; `S` is the emulator's scripted answer, `X`
/// what else it keeps (e.g. the rows changed since start).
#[derive(Debug)]
pub(crate) struct State<S = ScriptedError, X = ()> {
    pub(crate) data: Dataset,
    pub(crate) faults: FaultPlan,
    pub(crate) log: Vec<RequestRecord>,
    pub(crate) limiter: Limiter,
    pub(crate) scripted: VecDeque<S>,
    pub(crate) extra: X,
}

/// The state behind a lock, shared by the handlers and the test-facing handle.
#[derive(Debug)]
pub(crate) struct Shared<S = ScriptedError, X = ()>(Arc<Mutex<State<S, X>>>);

impl<S, X> Clone for Shared<S, X> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// How one provider answers what the prelude decides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answers {
    /// The provider's rendering of an injected fault (`None`: answer normally).
    pub(crate) fault: fn(Fault) -> Option<Response>,
    /// The provider's documented throttling answer.
    pub(crate) throttled: fn() -> Response,
}

impl<S, X: Default> Shared<S, X> {
    pub(crate) fn new(data: Dataset, faults: FaultPlan, rate_limit: Option<RateLimit>) -> Self {
        Self(Arc::new(Mutex::new(State {
            data,
            faults,
            log: Vec::new(),
            limiter: Limiter::new(rate_limit),
            scripted: VecDeque::new(),
            extra: X::default(),
        })))
    }
}

impl<S, X> Shared<S, X> {
    /// The state; a handler that panicked does not poison the emulator for the next test.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<S, X>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the request, applies the rate limit to `credential` (the presented cookie,
    /// token or key; `None` shares one bucket), waits a `Slow` fault's delay (the latency is
    /// the server's, [`Running::serve`](crate::server::Running::serve)) and returns the throttling answer or the injected fault's, if any. A throttled
    /// request draws no fault.
    pub(crate) async fn prelude(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        credential: Option<&str>,
        answers: Answers,
    ) -> Option<Response> {
        let (fault, admitted) = {
            let mut state = self.lock();
            let line = match query {
                Some(q) => format!("{method} {path}?{q}"),
                None => format!("{method} {path}"),
            };
            let arrived = Instant::now();
            let admitted = state.limiter.admit(credential.unwrap_or_default(), arrived);
            state.log.push(RequestRecord {
                line,
                arrived,
                throttled: !admitted,
            });
            let fault = if admitted {
                state.faults.next_fault()
            } else {
                None
            };
            (fault, admitted)
        };
        if let Some(Fault::Slow(delay)) = &fault {
            tokio::time::sleep(*delay).await;
        }
        if !admitted {
            return Some((answers.throttled)());
        }
        fault.and_then(answers.fault)
    }

    /// Every request so far, as `METHOD /path?query`.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.lock().log.iter().map(|r| r.line.clone()).collect()
    }

    /// Every request so far, with its arrival time.
    pub(crate) fn request_log(&self) -> Vec<RequestRecord> {
        self.lock().log.clone()
    }

    /// Served and throttled counts.
    pub(crate) fn throttling(&self) -> Throttling {
        self.lock().limiter.counts()
    }

    /// Replaces the rate limit.
    pub(crate) fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.lock().limiter.set(limit);
    }
}

/// The query as a map of percent-decoded keys and values (the last of repeated keys wins).
pub(crate) fn query_params(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Percent-decodes a query string the way a form decoder does (`+` is a space, `%XX` a
/// byte, a stray `%` stays literal); invalid UTF-8 is replaced.
pub(crate) fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: &u8| (*b as char).to_digit(16);
                match (
                    bytes.get(i + 1).and_then(hex),
                    bytes.get(i + 2).and_then(hex),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the `Authorization` header carries.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bearer<'a> {
    /// No `Authorization` header.
    Missing,
    /// A header that is not `Bearer <token>`.
    Malformed,
    /// `Bearer <token>`.
    Token(&'a str),
}

/// Reads `Authorization: Bearer <token>` (scheme case-insensitive).
pub(crate) fn bearer(headers: &HeaderMap) -> Bearer<'_> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Bearer::Missing;
    };
    let Ok(value) = value.to_str() else {
        return Bearer::Malformed;
    };
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Bearer::Token(token.trim())
        }
        _ => Bearer::Malformed,
    }
}

impl<'a> Bearer<'a> {
    /// The token, if one was presented.
    pub(crate) fn token(&self) -> Option<&'a str> {
        match self {
            Bearer::Token(t) => Some(t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn queries_are_decoded() {
        let q = query_params(Some(
            "pagination%5Boffset%5D=10&sorting=-id&x=a+b%2Fc&bad=%zz&flag",
        ));
        assert_eq!(q["pagination[offset]"], "10");
        assert_eq!(q["sorting"], "-id");
        assert_eq!(q["x"], "a b/c");
        assert_eq!(q["bad"], "%zz");
        assert_eq!(q["flag"], "");
        assert_eq!(
            query_params(Some("a=%4")).get("a").map(String::as_str),
            Some("%4")
        );
        assert!(query_params(None).is_empty());
    }

    #[test]
    fn bearer_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), Bearer::Missing);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Bearer::Token("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer(&h), Bearer::Token("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), Bearer::Malformed);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), Bearer::Malformed);
    }
}
