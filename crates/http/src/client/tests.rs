//! The transport against a scripted local server: retries, Retry-After, size cap, timeouts,
//! per-attempt hooks, the plain-HTTP guard and redaction.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use affiliate_core::Provider;
use axum::http::StatusCode;
use reqwest::header::HeaderName;
use url::Url;

use super::{HttpClient, Settled};
use crate::{
    BackoffConfig, BodyVerdict, ClientConfig, Jitter, NoHooks, RequestHooks, RequestSpec,
    RetryConfig, Secret, TransportErrorKind,
};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One scripted answer: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);

/// Serves the scripted responses in order (the last one repeats) and counts requests.
struct Script {
    responses: Mutex<Vec<Answer>>,
    hits: AtomicU32,
    seen_headers: Mutex<Vec<HeaderMap>>,
}

async fn serve(script: Vec<Answer>) -> (String, Arc<Script>) {
    let state = Arc::new(Script {
        responses: Mutex::new(script),
        hits: AtomicU32::new(0),
        seen_headers: Mutex::new(Vec::new()),
    });
    let shared = state.clone();
    let app = Router::new()
        .route(
            "/r",
            get(move |headers: HeaderMap| {
                let s = shared.clone();
                async move {
                    let n = s.hits.fetch_add(1, Ordering::SeqCst) as usize;
                    s.seen_headers.lock().unwrap().push(headers);
                    let responses = s.responses.lock().unwrap();
                    let (status, hdrs, body) = responses[n.min(responses.len() - 1)].clone();
                    let mut response: Response = body.into_response();
                    *response.status_mut() = StatusCode::from_u16(status).unwrap();
                    for (k, v) in hdrs {
                        response.headers_mut().insert(k, v.parse().unwrap());
                    }
                    response
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

fn fast() -> ClientConfig {
    ClientConfig::default().with_retry(RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(10),
        max_decode_retries: 3,
        max_retry_after: Duration::from_secs(5),
    })
}

fn test_provider() -> Provider {
    Provider::Other("test".into())
}

fn spec(base: &str, path: &str) -> RequestSpec {
    RequestSpec::get(Url::parse(&format!("{base}{path}")).unwrap())
}

#[tokio::test]
async fn retries_5xx_then_succeeds() {
    let (base, script) = serve(vec![
        (503, vec![], "busy".into()),
        (502, vec![], "busy".into()),
        (200, vec![], "{\"ok\":true}".into()),
    ])
    .await;
    let client = HttpClient::new(test_provider(), fast()).unwrap();
    let settled: Settled<serde_json::Value> = client
        .fetch_json(&spec(&base, "/r"), &NoHooks)
        .await
        .unwrap();
    match settled {
        Settled::Decoded {
            value, attempts, ..
        } => {
            assert_eq!(value["ok"], true);
            assert_eq!(attempts, 3);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(script.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn gives_up_after_max_retries_with_the_last_response() {
    let (base, script) = serve(vec![(500, vec![], "{\"error\":\"internal\"}".into())]).await;
    let client = HttpClient::new(test_provider(), fast()).unwrap();
    let ex = client.execute(&spec(&base, "/r"), &NoHooks).await.unwrap();
    assert_eq!(ex.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(ex.attempts, 4);
    assert_eq!(script.hits.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn does_not_retry_client_errors() {
    let (base, script) = serve(vec![(401, vec![], "{}".into())]).await;
    let client = HttpClient::new(test_provider(), fast()).unwrap();
    let ex = client.execute(&spec(&base, "/r"), &NoHooks).await.unwrap();
    assert_eq!(ex.status.as_u16(), 401);
    assert_eq!(script.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn honours_retry_after_seconds_and_dates() {
    let date = httpdate_in(Duration::from_secs(2));
    let (base, _) = serve(vec![
        (429, vec![("retry-after", "1".into())], String::new()),
        (503, vec![("retry-after", date)], String::new()),
        (200, vec![], "{}".into()),
    ])
    .await;
    let client = HttpClient::new(test_provider(), fast()).unwrap();
    let waits = Waits::default();
    let ex = client.execute(&spec(&base, "/r"), &waits).await.unwrap();
    assert_eq!(ex.status.as_u16(), 200);
    // The waits the client chose: the seconds form exactly; the date form what is left of
    // the 2-3 s it named when the second answer came (a second later), at second
    // resolution. Neither is the millisecond backoff `fast()` would draw.
    let waits = waits.0.lock().unwrap().clone();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert_eq!(waits[0], Duration::from_secs(1), "Retry-After: 1");
    assert!(
        (Duration::from_millis(500)..=Duration::from_secs(3)).contains(&waits[1]),
        "Retry-After as an HTTP date: {waits:?}"
    );
}

fn httpdate_in(d: Duration) -> String {
    // HTTP-dates have second resolution: round up so the wait is at least `d - 1 s`.
    httpdate::fmt_http_date(std::time::SystemTime::now() + d + Duration::from_millis(999))
}

#[tokio::test]
async fn retry_after_is_capped_by_max_retry_after_and_counted_against_the_budget() {
    let (base, script) = serve(vec![(
        429,
        vec![("retry-after", "3600".into())],
        String::new(),
    )])
    .await;
    let mut config = fast();
    config.retry.max_retry_after = Duration::from_millis(50);
    config.retry.retry_timeout = Duration::from_millis(120);
    let client = HttpClient::new(test_provider(), config).unwrap();
    let waits = Waits::default();
    let ex = client.execute(&spec(&base, "/r"), &waits).await.unwrap();
    assert_eq!(ex.status.as_u16(), 429);
    let chosen = waits.0.lock().unwrap().clone();
    assert!(
        chosen.iter().all(|w| *w == Duration::from_millis(50)),
        "an hour of Retry-After is capped at 50 ms: {chosen:?}"
    );
    assert!(chosen.iter().sum::<Duration>() <= Duration::from_millis(120));
    let hits = script.hits.load(Ordering::SeqCst);
    assert!(
        (2..=3).contains(&hits),
        "the 120 ms budget allows two 50 ms waits, got {hits} hits"
    );
}

#[tokio::test]
async fn malformed_success_bodies_are_retried_then_reported() {
    let (base, script) = serve(vec![
        (200, vec![], "{\"items\": [".into()),
        (200, vec![], "{\"ok\": 1}".into()),
    ])
    .await;
    let client = HttpClient::new(test_provider(), fast()).unwrap();
    let settled: Settled<serde_json::Value> = client
        .fetch_json(&spec(&base, "/r"), &NoHooks)
        .await
        .unwrap();
    assert!(
        matches!(settled, Settled::Decoded { attempts: 2, .. }),
        "{settled:?}"
    );
    assert_eq!(script.hits.load(Ordering::SeqCst), 2);

    let (base, _) = serve(vec![(200, vec![], "not json".into())]).await;
    let settled: Settled<serde_json::Value> = client
        .fetch_json(&spec(&base, "/r"), &NoHooks)
        .await
        .unwrap();
    match settled {
        Settled::Undecodable { error, exchange } => {
            assert_eq!(exchange.attempts, 4);
            assert!(error.to_string().contains("not json"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn body_size_cap_is_enforced() {
    let (base, _) = serve(vec![(200, vec![], "x".repeat(10_000))]).await;
    let client = HttpClient::new(test_provider(), fast().with_max_body_bytes(1_000)).unwrap();
    let err = client
        .execute(&spec(&base, "/r"), &NoHooks)
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::BodyTooLarge);
    assert_eq!(err.attempts, 1, "an oversized body is not retried");
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let (base, _) = serve(vec![]).await;
    let mut config = fast().with_timeout(Duration::from_millis(100));
    config.retry.max_retries = 1;
    let client = HttpClient::new(test_provider(), config).unwrap();
    let err = client
        .execute(&spec(&base, "/slow"), &NoHooks)
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Timeout);
    assert_eq!(err.attempts, 2);
    assert!(err.to_string().contains("GET /slow timed out"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = HttpClient::new(test_provider(), fast()).unwrap();
    let err = client
        .execute(&spec(&format!("http://{addr}"), "/r"), &NoHooks)
        .await
        .unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Connect);
    assert_eq!(err.attempts, 4);
}

/// Counts attempts and stamps each one, like a timestamped signature.
struct Stamp(AtomicU32);

impl RequestHooks for Stamp {
    fn before_attempt(&self, request: &mut reqwest::Request) -> Result<(), crate::HookError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        request
            .headers_mut()
            .insert("x-attempt", n.to_string().parse().unwrap());
        Ok(())
    }
    fn classify_body(&self, _: StatusCode, body: &[u8]) -> BodyVerdict {
        if body.starts_with(b"{\"code\":29001") {
            BodyVerdict::Throttled
        } else {
            BodyVerdict::FollowStatus
        }
    }
}

#[tokio::test]
async fn hooks_run_per_attempt_and_classify_bodies() {
    let (base, script) = serve(vec![
        (200, vec![], "{\"code\":29001}".into()),
        (200, vec![], "{\"code\":200}".into()),
    ])
    .await;
    let client = HttpClient::new(test_provider(), fast()).unwrap();
    let hooks = Stamp(AtomicU32::new(0));
    let ex = client.execute(&spec(&base, "/r"), &hooks).await.unwrap();
    assert_eq!(&ex.body[..], b"{\"code\":200}");
    let seen = script.seen_headers.lock().unwrap();
    let stamps: Vec<_> = seen
        .iter()
        .map(|h| h["x-attempt"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(stamps, vec!["0", "1"], "each attempt was prepared anew");
    assert_eq!(
        client.transport_stats().throttled,
        1,
        "the 29001 body counts"
    );
}

/// Flags `{"error":…}` bodies as refusals.
struct EnvelopeInOk;

impl RequestHooks for EnvelopeInOk {
    fn classify_body(&self, _: StatusCode, body: &[u8]) -> BodyVerdict {
        if body.starts_with(b"{\"error\"") {
            BodyVerdict::Refused
        } else {
            BodyVerdict::FollowStatus
        }
    }
}

#[tokio::test]
async fn a_refused_success_body_is_handed_back_at_once_for_the_adapter_to_map() {
    let (base, script) = serve(vec![
        (200, vec![], "{\"error\":\"tier_insufficient\"}".into()),
        (200, vec![], "{\"items\":[]}".into()),
    ])
    .await;
    let client = HttpClient::new(test_provider(), fast()).unwrap();
    let settled: Settled<serde_json::Value> = client
        .fetch_json(&spec(&base, "/r"), &EnvelopeInOk)
        .await
        .unwrap();
    match settled {
        Settled::Status(ex) => {
            assert_eq!(ex.attempts, 1);
            assert_eq!(&ex.body[..], b"{\"error\":\"tier_insufficient\"}");
        }
        other => panic!("a refusal is not decoded nor retried: {other:?}"),
    }
    assert_eq!(script.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_redirect_is_not_followed_so_credentials_stay_with_the_first_host() {
    let (elsewhere, other) = serve(vec![(200, vec![], "{}".into())]).await;
    let (base, script) = serve(vec![(
        302,
        vec![("location", format!("{elsewhere}/r"))],
        String::new(),
    )])
    .await;
    let client = HttpClient::new(test_provider(), fast()).unwrap();
    let spec = spec(&base, "/r")
        .secret_header(
            reqwest::header::AUTHORIZATION,
            &crate::Secret::new("Bearer s3cr3t"),
        )
        .unwrap();
    let answer = client.execute(&spec, &NoHooks).await;
    assert_eq!(script.hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        other.hits.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
    assert!(
        !matches!(&answer, Ok(ex) if ex.status.is_success()),
        "a redirect is not a success"
    );
}

#[tokio::test]
async fn credentials_are_refused_over_plain_http_off_loopback() {
    let client = HttpClient::new(test_provider(), fast()).unwrap();
    let spec = RequestSpec::get(Url::parse("http://example.com/r").unwrap())
        .secret_header(
            HeaderName::from_static("x-admin-token"),
            &Secret::new("s3cr3t"),
        )
        .unwrap();
    let err = client.execute(&spec, &NoHooks).await.unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::Insecure);
    assert_eq!(err.attempts, 0, "nothing was sent");
    assert!(!format!("{err} {err:?} {spec:?}").contains("s3cr3t"));
}

#[tokio::test]
async fn requests_take_their_tokens_from_the_configured_limiter() {
    let (base, script) = serve(vec![(200, vec![], "{}".into())]).await;
    // One token per 100 s: the only one is the burst.
    let limit = crate::RateLimit::new(0.01, 1);
    let client = HttpClient::new(test_provider(), fast().with_rate_limit(limit)).unwrap();
    assert_eq!(client.limiter.policy(), crate::RatePolicy::Fixed(limit));
    client.execute(&spec(&base, "/r"), &NoHooks).await.unwrap();
    assert_eq!(script.hits.load(Ordering::SeqCst), 1);
    // The request spent the only token: the next one must wait (the limiter's own pacing
    // is tested with a paused clock in `rate`).
    assert!(
        client.limiter.next_wait().is_some(),
        "the request did not go through the limiter"
    );
}

#[tokio::test]
async fn throttling_answers_are_counted_and_cut_the_adaptive_rate() {
    let (base, _script) = serve(vec![
        (429, vec![("retry-after", "0".into())], "{}".into()),
        (503, vec![], "{}".into()),
        (500, vec![], "{}".into()),
        (200, vec![], "{}".into()),
    ])
    .await;
    let client = HttpClient::new(
        test_provider(),
        fast().with_adaptive_rate(crate::AdaptiveRate::default()),
    )
    .unwrap();
    client.execute(&spec(&base, "/r"), &NoHooks).await.unwrap();
    let stats = client.transport_stats();
    assert_eq!(stats.throttled, 2, "the 429 and the 503, not the 500");
    let rate = stats.rate_per_second.expect("an adaptive rate");
    assert!(rate < 20.0, "cut below the initial 20/s: {rate}");
}

/// Records every wait the client chose before a retry.
#[derive(Default)]
struct Waits(Mutex<Vec<Duration>>);

impl RequestHooks for Waits {
    fn before_retry(&self, _attempt: u32, delay: Duration) {
        self.0.lock().unwrap().push(delay);
    }
}

#[tokio::test]
async fn a_wait_is_drawn_once_and_never_overruns_the_budget() {
    let (base, script) = serve(vec![(503, vec![], "busy".into())]).await;
    // Random factors alternate 0, 1, 0, 1, ...: a client that drew one factor for the
    // budget check and another for the sleep would check a wait of 0 and sleep 200 ms.
    let draws = Arc::new(AtomicU32::new(0));
    let counter = draws.clone();
    let jitter = Jitter::from_fn(move || f64::from(counter.fetch_add(1, Ordering::SeqCst) % 2));
    let config = ClientConfig::default()
        .with_jitter(jitter)
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_millis(200),
                base: 1.0,
            },
            max_retries: 10,
            retry_timeout: Duration::from_millis(150),
            ..RetryConfig::default()
        });
    let client = HttpClient::new(test_provider(), config).unwrap();
    let waits = Waits::default();
    let ex = client.execute(&spec(&base, "/r"), &waits).await.unwrap();
    assert_eq!(ex.status, StatusCode::SERVICE_UNAVAILABLE);
    // Retry 1 draws 0 and waits 0; retry 2 draws 1, and its 200 ms would overrun the
    // 150 ms budget, so it is not made.
    assert_eq!(*waits.0.lock().unwrap(), [Duration::ZERO]);
    assert_eq!(
        draws.load(Ordering::SeqCst),
        2,
        "one draw per retry considered"
    );
    assert_eq!(script.hits.load(Ordering::SeqCst), 2);
}
