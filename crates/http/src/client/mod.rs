//! The retrying, rate-limited, size-capped HTTP client, and the one request path every
//! adapter shares ([`HttpClient::get_json`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use affiliate_core::{AdapterError, Provider, SourceError, TransportStats};
use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, CONTENT_LENGTH};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::{field, info_span, warn, Instrument};

use crate::error::{TransportError, TransportErrorKind};
use crate::hooks::{combine, BodyVerdict, RequestHooks};
use crate::rate::Signal;
use crate::retry::{classify_status, Verdict};
use crate::{
    decode_json, ensure_secure, ClientConfig, DecodeError, RateLimiter, RateStats, RequestSpec,
};

/// A final response the retry loop settled on, for the adapter to map to its typed errors.
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

/// How the retry loop settled.
#[derive(Debug)]
enum Settled<T> {
    /// A success status whose body decoded as `T`.
    Decoded { value: T, attempts: u32 },
    /// A final non-success status (or a body the hooks flagged) for the adapter to map.
    Status(Exchange),
    /// A success status whose body never decoded, even after retries.
    Undecodable {
        error: DecodeError,
        exchange: Exchange,
    },
}

/// What an adapter's error enum is made from on the shared request path
/// ([`HttpClient::get_json`]): a transport failure, an undecodable body, or a final error
/// response that only the adapter knows how to read.
pub trait ResponseError: AdapterError + From<TransportError> + From<DecodeError> {
    /// Maps a final non-success response (or one the hooks flagged) to the adapter's variant.
    fn from_response(exchange: &Exchange) -> Self;
}

/// A decoded success of [`HttpClient::get_json`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Fetched<T> {
    /// The decoded body.
    pub value: T,
    /// `GET /path?query` of the request.
    pub request: String,
    /// Attempts made.
    pub attempts: u32,
}

/// The HTTP client every adapter uses. Cheap to clone; clones share the connection pool,
/// the counters and the rate limiter (one budget per credential).
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    provider: Provider,
    config: Arc<ClientConfig>,
    limiter: Arc<RateLimiter>,
    counters: Arc<Counters>,
}

/// Attempts and retries sent by one client and its clones.
#[derive(Debug, Default)]
struct Counters {
    attempts: AtomicU64,
    retries: AtomicU64,
    /// The waits chosen before retries, in microseconds, added up.
    retry_wait_micros: AtomicU64,
}

/// How one attempt ended.
enum Attempt {
    Response(Exchange),
    Failed(TransportError),
}

/// What one attempt's outcome calls for, what it tells the rate limiter, and the body
/// decoded on the way.
struct Judged<T> {
    verdict: Verdict,
    signal: Signal,
    decoded: Option<Result<Option<T>, DecodeError>>,
}

impl HttpClient {
    /// A client for `provider` (named in logs and errors).
    pub fn new(provider: Provider, config: ClientConfig) -> Result<Self, TransportError> {
        let inner = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("affiliate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Setup,
                    provider.to_string(),
                    Some(Box::new(e.without_url())),
                )
            })?;
        let limiter = Arc::new(RateLimiter::new(config.rate));
        Ok(Self {
            inner,
            provider,
            config: Arc::new(config),
            limiter,
            counters: Arc::default(),
        })
    }

    /// The provider this client talks to.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// Attempts, retries and throttling answers so far (this client and its clones), and
    /// the rate requests are paced at now.
    pub fn transport_stats(&self) -> TransportStats {
        let rate = self.rate_stats();
        TransportStats::new(
            self.counters.attempts.load(Ordering::Relaxed),
            self.counters.retries.load(Ordering::Relaxed),
        )
        .with_throttling(rate.throttled, rate.per_second)
        .with_retry_wait(Duration::from_micros(
            self.counters.retry_wait_micros.load(Ordering::Relaxed),
        ))
    }

    /// The rate limiter's current rate and the throttling answers it has seen.
    pub fn rate_stats(&self) -> RateStats {
        self.limiter.stats()
    }

    /// Wraps an adapter's error with the provider, the request and the attempts made.
    pub fn fail<E: AdapterError>(&self, error: E, request: &str, attempts: u32) -> SourceError {
        SourceError::from_adapter(self.provider.clone(), error)
            .with_request(request)
            .with_attempts(attempts)
    }

    /// The request path every adapter shares: sends `spec` (rate-limited, re-signed and
    /// retried per the policy), decodes a success body as `T` inside the retry loop (a
    /// truncated or malformed 2xx body is retried like a 5xx), and maps whatever went wrong
    /// to the adapter's error `E`, wrapped with the provider, request and attempts.
    pub async fn get_json<T: DeserializeOwned, E: ResponseError>(
        &self,
        spec: &RequestSpec,
        hooks: &dyn RequestHooks,
    ) -> Result<Fetched<T>, SourceError> {
        let request = spec.label();
        let decode = |ex: &Exchange| decode_json::<T>(ex).map(Some);
        match self.run(spec, hooks, decode).await {
            Ok(Settled::Decoded { value, attempts }) => Ok(Fetched {
                value,
                request,
                attempts,
            }),
            Ok(Settled::Status(ex)) => Err(self.fail(E::from_response(&ex), &request, ex.attempts)),
            Ok(Settled::Undecodable { error, exchange }) => {
                Err(self.fail(E::from(error), &request, exchange.attempts))
            }
            Err(err) => {
                let attempts = err.attempts;
                Err(self.fail(E::from(err), &request, attempts))
            }
        }
    }

    /// Sends `spec` and returns the final response whatever its status (tests of the retry
    /// loop itself).
    #[cfg(test)]
    async fn execute(
        &self,
        spec: &RequestSpec,
        hooks: &dyn RequestHooks,
    ) -> Result<Exchange, TransportError> {
        let settled = self
            .run(spec, hooks, |_: &Exchange| {
                Ok(None::<std::convert::Infallible>)
            })
            .await?;
        Ok(match settled {
            Settled::Decoded { value, .. } => match value {},
            Settled::Status(ex) => ex,
            Settled::Undecodable { exchange, .. } => exchange,
        })
    }

    /// Sends `spec` and decodes a success body as `T` (tests of the retry loop itself).
    #[cfg(test)]
    async fn fetch_json<T: DeserializeOwned>(
        &self,
        spec: &RequestSpec,
        hooks: &dyn RequestHooks,
    ) -> Result<Settled<T>, TransportError> {
        self.run(spec, hooks, |ex: &Exchange| decode_json::<T>(ex).map(Some))
            .await
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
        self.refuse_insecure(spec, &label)?;
        let retry = &self.config.retry;
        let started = Instant::now();
        let mut attempt = 0;
        let mut decode_failures = 0;
        loop {
            attempt += 1;
            let (outcome, sent) = self.send_counted(spec, hooks, &label, attempt).await;
            let judged = judge(
                &outcome,
                spec,
                hooks,
                &decode,
                &mut decode_failures,
                retry.max_decode_retries,
            );
            self.pace(&outcome, &judged, sent);
            if let Verdict::Retry { after } = judged.verdict {
                // One draw per retry: the wait checked against the budget is the wait slept.
                let delay = retry.delay(attempt, after, self.config.jitter.draw());
                let within_budget = attempt <= retry.max_retries
                    && started.elapsed() + delay <= retry.retry_timeout;
                if within_budget {
                    self.log_retry(&label, attempt, delay, &outcome, &judged);
                    hooks.before_retry(attempt, delay);
                    tokio::time::sleep(delay).await;
                    // Counted once waited (a listing dropped meanwhile sends no retry).
                    let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
                    self.counters
                        .retry_wait_micros
                        .fetch_add(micros, Ordering::Relaxed);
                    continue;
                }
            }
            return settle(outcome, judged.decoded, attempt);
        }
    }

    /// Tells the rate limiter what the answer said: its quota headers, whether it was a
    /// throttle (and the `Retry-After` every request of the credential then waits for).
    fn pace<T>(&self, outcome: &Attempt, judged: &Judged<T>, sent: Instant) {
        let max_wait = self.config.retry.max_retry_after;
        if let Attempt::Response(ex) = outcome {
            self.limiter.observe_quota(&ex.headers, max_wait);
        }
        let pause = match (judged.signal, &judged.verdict) {
            (Signal::Throttled, &Verdict::Retry { after: Some(after) }) => {
                Some(after.min(max_wait))
            }
            _ => None,
        };
        self.limiter.feedback(sent, judged.signal, pause);
    }

    /// Refuses to send credentials over plain HTTP to anything but loopback.
    fn refuse_insecure(&self, spec: &RequestSpec, label: &str) -> Result<(), TransportError> {
        if !spec.carries_credentials {
            return Ok(());
        }
        ensure_secure(&spec.url).map_err(|e| {
            TransportError::new(
                TransportErrorKind::Insecure,
                label.to_owned(),
                Some(Box::new(e)),
            )
        })
    }

    /// One attempt, counted, rate-limited and inside its tracing span; with when it left.
    async fn send_counted(
        &self,
        spec: &RequestSpec,
        hooks: &dyn RequestHooks,
        label: &str,
        attempt: u32,
    ) -> (Attempt, Instant) {
        self.counters.attempts.fetch_add(1, Ordering::Relaxed);
        if attempt > 1 {
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
        }
        let sent = self.limiter.acquire().await;
        let span = info_span!(
            "http.request",
            provider = %self.provider,
            method = %spec.method,
            path = %label,
            attempt,
            status = field::Empty,
            latency_ms = field::Empty,
        );
        let outcome = self
            .attempt(spec, hooks, label)
            .instrument(span.clone())
            .await;
        if let Attempt::Response(ex) = &outcome {
            span.record("status", ex.status.as_u16());
        }
        (outcome, sent)
    }

    fn log_retry<T>(
        &self,
        label: &str,
        attempt: u32,
        delay: Duration,
        outcome: &Attempt,
        judged: &Judged<T>,
    ) {
        let reason = match (outcome, &judged.decoded) {
            (Attempt::Response(_), Some(Err(e))) => e.to_string(),
            (Attempt::Response(ex), _) => format!("status {}", ex.status.as_u16()),
            (Attempt::Failed(err), _) => err.to_string(),
        };
        warn!(
            provider = %self.provider,
            request = %label,
            attempt,
            delay_ms = delay.as_millis() as u64,
            %reason,
            "retrying"
        );
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

/// Decides what an attempt's outcome calls for, decoding a success body on the way.
fn judge<T>(
    outcome: &Attempt,
    spec: &RequestSpec,
    hooks: &dyn RequestHooks,
    decode: &impl Fn(&Exchange) -> Result<Option<T>, DecodeError>,
    decode_failures: &mut u32,
    max_decode_retries: u32,
) -> Judged<T> {
    let ex = match outcome {
        Attempt::Failed(err) => {
            let verdict = if retryable_failure(err.kind, &spec.method) {
                Verdict::Retry { after: None }
            } else {
                Verdict::Done
            };
            return Judged {
                verdict,
                signal: Signal::Neutral,
                decoded: None,
            };
        }
        Attempt::Response(ex) => ex,
    };
    hooks.observe_response(ex.status, &ex.headers);
    let by_status = classify_status(ex.status, &ex.headers, SystemTime::now());
    let body = hooks.classify_body(ex.status, &ex.body);
    let verdict = combine(by_status, body);
    let throttled = matches!(
        ex.status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) || body == BodyVerdict::Throttled;
    if verdict != Verdict::Done || !ex.status.is_success() || body == BodyVerdict::Refused {
        return Judged {
            verdict,
            signal: if throttled {
                Signal::Throttled
            } else {
                Signal::Neutral
            },
            decoded: None,
        };
    }
    let decoded = decode(ex);
    let verdict = if decoded.is_err() {
        *decode_failures += 1;
        if *decode_failures > max_decode_retries {
            Verdict::Done
        } else {
            Verdict::Retry { after: None }
        }
    } else {
        Verdict::Done
    };
    Judged {
        verdict,
        signal: if decoded.is_ok() {
            Signal::Healthy
        } else {
            Signal::Neutral
        },
        decoded: Some(decoded),
    }
}

/// The loop's result once no further attempt is made.
fn settle<T>(
    outcome: Attempt,
    decoded: Option<Result<Option<T>, DecodeError>>,
    attempt: u32,
) -> Result<Settled<T>, TransportError> {
    match outcome {
        Attempt::Response(mut ex) => {
            ex.attempts = attempt;
            Ok(match decoded {
                Some(Ok(Some(value))) => Settled::Decoded {
                    value,
                    attempts: attempt,
                },
                Some(Err(error)) => Settled::Undecodable {
                    error,
                    exchange: ex,
                },
                Some(Ok(None)) | None => Settled::Status(ex),
            })
        }
        Attempt::Failed(mut err) => {
            err.attempts = attempt;
            Err(err)
        }
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
mod failure_table {
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

#[cfg(test)]
mod tests;
