//! The retrying, rate-limited, size-capped HTTP client.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, CONTENT_LENGTH};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::{field, info_span, warn, Instrument};

use crate::error::{TransportError, TransportErrorKind};
use crate::hooks::{combine, RequestHooks};
use crate::retry::{classify_status, RetryConfig, Verdict};
use crate::{decode_json, ensure_secure, DecodeError, RateLimit, RateLimiter, RequestSpec};

/// Settings of one [`HttpClient`]. Plain data with documented defaults.
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
    /// Client-side rate limit shared by every request of this client (default none).
    pub rate_limit: Option<RateLimit>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 16 * 1024 * 1024,
            retry: RetryConfig::default(),
            rate_limit: None,
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

    /// Sets the client-side rate limit.
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Sets the body size cap.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }
}

/// A response the retry loop settled on: success, or a final error status for the adapter
/// to map to its typed errors.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `GET /path?query` of the request.
    pub request: String,
    /// Final status.
    pub status: StatusCode,
    /// Final headers.
    pub headers: HeaderMap,
    /// Final body (at most `max_body_bytes`).
    pub body: Bytes,
    /// Attempts made (1 when the first one settled).
    pub attempts: u32,
}

/// How [`HttpClient::fetch_json`] settled.
#[derive(Debug)]
pub enum Settled<T> {
    /// A success status whose body decoded as `T`.
    Decoded {
        /// The decoded body.
        value: T,
        /// `GET /path?query` of the request.
        request: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A final non-success status (or a body the hooks flagged) for the adapter to map.
    Status(Exchange),
    /// A success status whose body never decoded, even after retries.
    Undecodable {
        /// Why the last body did not decode.
        error: DecodeError,
        /// The last response.
        exchange: Exchange,
    },
}

/// What an adapter's error enum is made from on the shared request path
/// ([`HttpClient::get_json`]): a transport failure, an undecodable body, or a final error
/// response that only the adapter knows how to read.
pub trait ResponseError: From<TransportError> + From<DecodeError> {
    /// Maps a final non-success response (or one the hooks flagged) to the adapter's variant.
    fn from_response(exchange: &Exchange) -> Self;
}

/// A decoded success of [`HttpClient::get_json`].
#[derive(Debug)]
pub struct Success<T> {
    /// The decoded body.
    pub value: T,
    /// `GET /path?query` of the request.
    pub request: String,
    /// Attempts made.
    pub attempts: u32,
}

/// A failure of [`HttpClient::get_json`]: the adapter's error plus what request failed.
#[derive(Debug)]
pub struct Failure<E> {
    /// The adapter's typed error.
    pub error: E,
    /// `GET /path?query` of the request.
    pub request: String,
    /// Attempts made (0 when nothing was sent).
    pub attempts: u32,
}

/// The HTTP client every adapter uses. Cheap to clone; clones share the connection pool
/// and the rate limiter (one budget per credential).
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    provider: &'static str,
    config: ClientConfig,
    limiter: Option<Arc<RateLimiter>>,
    counters: Arc<Counters>,
}

/// Attempts and retries sent by one client and its clones.
#[derive(Debug, Default)]
struct Counters {
    attempts: AtomicU64,
    retries: AtomicU64,
}

/// How one attempt ended.
enum Attempt {
    Response(Exchange),
    Failed(TransportError),
}

impl HttpClient {
    /// A client for `provider` (named in logs and errors).
    pub fn new(provider: &'static str, config: ClientConfig) -> Result<Self, TransportError> {
        let inner = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("affiliate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Setup,
                    provider.to_owned(),
                    Some(Box::new(e.without_url())),
                )
            })?;
        let limiter = config.rate_limit.map(|l| Arc::new(RateLimiter::new(l)));
        Ok(Self {
            inner,
            provider,
            config,
            limiter,
            counters: Arc::default(),
        })
    }

    /// The provider this client talks to.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// `(attempts, retries)` sent so far by this client and its clones.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.counters.attempts.load(Ordering::Relaxed),
            self.counters.retries.load(Ordering::Relaxed),
        )
    }

    /// The settings in force.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Sends `spec`, retrying per the policy, and returns the response the loop settled on.
    ///
    /// Transport failures (connect, timeout, reset, oversized body) are retried for safe
    /// methods; a final one is an `Err`. A final response of any status is an `Ok`:
    /// error statuses are the adapter's to interpret.
    pub async fn execute(
        &self,
        spec: &RequestSpec,
        hooks: &dyn RequestHooks,
    ) -> Result<Exchange, TransportError> {
        let settled = self
            .run(spec, hooks, |_: &Exchange| Ok(None::<Infallible>))
            .await?;
        Ok(match settled {
            Settled::Decoded { value, .. } => match value {},
            Settled::Status(ex) => ex,
            Settled::Undecodable { exchange, .. } => exchange,
        })
    }

    /// Like [`HttpClient::execute`], and also decodes a success body as JSON `T` inside the
    /// retry loop: a truncated or malformed 2xx body is retried like a 5xx, and only a body
    /// that never decodes is reported ([`Settled::Undecodable`]).
    pub async fn fetch_json<T: DeserializeOwned>(
        &self,
        spec: &RequestSpec,
        hooks: &dyn RequestHooks,
    ) -> Result<Settled<T>, TransportError> {
        self.run(spec, hooks, |ex: &Exchange| decode_json::<T>(ex).map(Some))
            .await
    }

    /// The request path every adapter shares: [`HttpClient::fetch_json`], then a success
    /// body as `T` or the adapter's error `E` for whatever went wrong.
    pub async fn get_json<T: DeserializeOwned, E: ResponseError>(
        &self,
        spec: &RequestSpec,
        hooks: &dyn RequestHooks,
    ) -> Result<Success<T>, Failure<E>> {
        let request = spec.label();
        let fail = |error: E, attempts: u32, request: String| Failure {
            error,
            request,
            attempts,
        };
        match self.fetch_json::<T>(spec, hooks).await {
            Ok(Settled::Decoded {
                value, attempts, ..
            }) => Ok(Success {
                value,
                request,
                attempts,
            }),
            Ok(Settled::Status(ex)) => Err(fail(E::from_response(&ex), ex.attempts, request)),
            Ok(Settled::Undecodable { error, exchange }) => {
                Err(fail(E::from(error), exchange.attempts, request))
            }
            Err(err) => {
                let attempts = err.attempts;
                Err(fail(E::from(err), attempts, request))
            }
        }
    }

    /// The retry loop. `decode` turns a success body into `Some(value)` (settle), `None`
    /// (hand the exchange back as is) or a decode error (retry, then report).
    async fn run<T>(
        &self,
        spec: &RequestSpec,
        hooks: &dyn RequestHooks,
        decode: impl Fn(&Exchange) -> Result<Option<T>, DecodeError>,
    ) -> Result<Settled<T>, TransportError> {
        let label = spec.label();
        if spec.carries_credentials {
            ensure_secure(&spec.url).map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Insecure,
                    label.clone(),
                    Some(Box::new(e)),
                )
            })?;
        }
        let retry = &self.config.retry;
        let started = Instant::now();
        let mut attempt = 0;
        let mut decode_failures = 0;
        loop {
            attempt += 1;
            self.counters.attempts.fetch_add(1, Ordering::Relaxed);
            if attempt > 1 {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(limiter) = &self.limiter {
                limiter.acquire().await;
            }
            let span = info_span!(
                "http.request",
                provider = self.provider,
                method = %spec.method,
                path = %label,
                attempt,
                status = field::Empty,
                latency_ms = field::Empty,
            );
            let outcome = self
                .attempt(spec, hooks, &label)
                .instrument(span.clone())
                .await;
            let mut decoded = None;
            let verdict = match &outcome {
                Attempt::Response(ex) => {
                    span.record("status", ex.status.as_u16());
                    let by_status = classify_status(ex.status, &ex.headers, SystemTime::now());
                    let verdict = combine(by_status, hooks.classify_body(ex.status, &ex.body));
                    if verdict == Verdict::Done && ex.status.is_success() {
                        decoded = Some(decode(ex));
                    }
                    match &decoded {
                        Some(Err(_)) => {
                            decode_failures += 1;
                            if decode_failures > retry.max_decode_retries {
                                Verdict::Done
                            } else {
                                Verdict::Retry { after: None }
                            }
                        }
                        _ => verdict,
                    }
                }
                Attempt::Failed(err) if retryable_failure(err.kind, &spec.method) => {
                    Verdict::Retry { after: None }
                }
                Attempt::Failed(_) => Verdict::Done,
            };
            let give_up = |delay: Duration| {
                attempt > retry.max_retries || started.elapsed() + delay > retry.retry_timeout
            };
            match (verdict, outcome) {
                (Verdict::Retry { after }, outcome) if !give_up(retry.delay(attempt, after)) => {
                    let delay = retry.delay(attempt, after);
                    let reason = match (&outcome, &decoded) {
                        (Attempt::Response(_), Some(Err(e))) => e.to_string(),
                        (Attempt::Response(ex), _) => format!("status {}", ex.status.as_u16()),
                        (Attempt::Failed(err), _) => err.to_string(),
                    };
                    warn!(
                        provider = self.provider,
                        request = %label,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        %reason,
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                (_, Attempt::Response(mut ex)) => {
                    ex.attempts = attempt;
                    return Ok(match decoded {
                        Some(Ok(Some(value))) => Settled::Decoded {
                            value,
                            request: label,
                            attempts: attempt,
                        },
                        Some(Err(error)) => Settled::Undecodable {
                            error,
                            exchange: ex,
                        },
                        Some(Ok(None)) | None => Settled::Status(ex),
                    });
                }
                (_, Attempt::Failed(mut err)) => {
                    err.attempts = attempt;
                    return Err(err);
                }
            }
        }
    }

    async fn attempt(&self, spec: &RequestSpec, hooks: &dyn RequestHooks, label: &str) -> Attempt {
        let started = Instant::now();
        let mut request = reqwest::Request::new(spec.method.clone(), spec.url.clone());
        *request.headers_mut() = spec.headers.clone();
        if let Err(e) = hooks.before_attempt(&mut request) {
            return Attempt::Failed(TransportError::new(
                TransportErrorKind::Hook,
                label.to_owned(),
                Some(Box::new(e)),
            ));
        }
        let result = match self.inner.execute(request).await {
            Ok(response) => self.read(response, label).await,
            Err(e) => Err(self.failure(e, label)),
        };
        tracing::Span::current().record("latency_ms", started.elapsed().as_millis() as u64);
        match result {
            Ok(ex) => Attempt::Response(ex),
            Err(err) => Attempt::Failed(err),
        }
    }

    async fn read(
        &self,
        mut response: reqwest::Response,
        label: &str,
    ) -> Result<Exchange, TransportError> {
        let cap = self.config.max_body_bytes;
        let too_large = || {
            TransportError::new(
                TransportErrorKind::BodyTooLarge,
                label.to_owned(),
                Some(format!("more than {cap} bytes").into()),
            )
        };
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > cap as u64) {
            return Err(too_large());
        }
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(cap as u64) as usize);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > cap {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.failure(e, label)),
            }
        }
        Ok(Exchange {
            request: label.to_owned(),
            status,
            headers,
            body: body.freeze(),
            attempts: 0,
        })
    }

    fn failure(&self, e: reqwest::Error, label: &str) -> TransportError {
        let kind = if e.is_timeout() {
            TransportErrorKind::Timeout
        } else if e.is_connect() {
            TransportErrorKind::Connect
        } else {
            TransportErrorKind::Interrupted
        };
        TransportError::new(kind, label.to_owned(), Some(Box::new(e.without_url())))
    }
}

/// Transport failures worth another attempt: connection problems always; timeouts and
/// interrupted bodies only for safe (idempotent) methods.
fn retryable_failure(kind: TransportErrorKind, method: &reqwest::Method) -> bool {
    match kind {
        TransportErrorKind::Connect => true,
        TransportErrorKind::Timeout | TransportErrorKind::Interrupted => method.is_safe(),
        TransportErrorKind::BodyTooLarge
        | TransportErrorKind::Insecure
        | TransportErrorKind::Hook
        | TransportErrorKind::Setup => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;

    #[test]
    fn failure_table() {
        use TransportErrorKind::*;
        let cases = [
            (Connect, Method::GET, true),
            (Connect, Method::POST, true),
            (Timeout, Method::GET, true),
            (Timeout, Method::POST, false),
            (Interrupted, Method::GET, true),
            (Interrupted, Method::POST, false),
            (BodyTooLarge, Method::GET, false),
            (Insecure, Method::GET, false),
            (Hook, Method::GET, false),
        ];
        for (kind, method, retry) in cases {
            assert_eq!(retryable_failure(kind, &method), retry, "{kind:?} {method}");
        }
    }
}
