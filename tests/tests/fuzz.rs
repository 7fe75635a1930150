//! Fuzzing on the stable toolchain (no nightly compiler here, so no libFuzzer): proptest is
//! the engine, fed arbitrary bytes and structure-aware mutations of real answers (byte edits
//! of a captured page, and a captured page whose JSON has one node replaced by an arbitrary
//! JSON value). Targets:
//!
//! * every provider's page decoder, over HTTP exactly as a listing reads it (status,
//!   `Content-Type` and body fuzzed; CoinW's in-body error check included);
//! * every provider's error-envelope decoder (`ResponseError::from_response`), in process;
//! * Triport's public `parse_invitees`, in process.
//!
//! (The config parser is fuzzed inside the CLI crate, `crates/cli/src/config/fuzz.rs`.)
//!
//! Each input must come back as a value or a typed error: no panic, no hang, and no more
//! than `ALLOCATION_CAP` (64 MiB) allocated while it is decoded. The normal test run tries
//! `CASES` (128) inputs per target; the long run fuzzes each target for a fixed time:
//!
//! ```text
//! AFFILIATE_FUZZ_SECONDS=60 cargo test --release -p affiliate-tests --test fuzz -- --ignored --nocapture
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use affiliate_census::{CensusBuilder, CensusError};
use affiliate_coinw::{CoinwBuilder, CoinwError, WindowLength};
use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::{InviteeSource, Provider, Scope, SourceId};
use affiliate_http::{
    BackoffConfig, Exchange, HeaderMap, HeaderValue, ResponseError, RetryConfig, SourceBuilder,
    StatusCode,
};
use affiliate_prefactor::{PrefactorBuilder, PrefactorError};
use affiliate_sandbox::census::{CensusConfig, CensusEmulator};
use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator};
use affiliate_sandbox::prefactor::{PrefactorConfig, PrefactorEmulator};
use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use affiliate_tests::fuzzing::{bodies, fuzz, within_cap, Counting};
use affiliate_tests::proxy::FaultProxy;
use affiliate_tests::FastTransport;
use affiliate_triport::{TriportBuilder, TriportError};
use axum::http::header;
use axum::Router;
use futures::StreamExt;
use proptest::prelude::*;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A status a provider or something in front of it may answer.
fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => Just(200u16),
        1 => proptest::sample::select(vec![400u16, 401, 403, 404, 410, 422, 429, 500, 502, 503]),
        1 => 100u16..1000,
    ]
}

/// A final answer as the shared request path hands it to an adapter's error decoder.
fn exchange(status: u16, retry_after: Option<String>, body: Vec<u8>) -> Exchange {
    let mut headers = HeaderMap::new();
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(header::RETRY_AFTER, value);
    }
    Exchange {
        request: "GET /fuzz".into(),
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        headers,
        body: body.into(),
        attempts: 1,
    }
}

/// Decodes the envelope and renders it, as a failure is shown.
fn envelope<E: ResponseError>(ex: &Exchange) -> String {
    let err = E::from_response(ex);
    format!("{err} {:?} {err:?}", err.kind())
}

fn envelope_seeds() -> Vec<Vec<u8>> {
    [
        r#"{"error":"rate_limited","message":"slow down","request_id":"req_1"}"#,
        r#"{"error":"tier_insufficient"}"#,
        r#"{"status":"error","code":"validation_errors","message":"bad","errors":{"page_size":["too big"]}}"#,
        r#"{"status":"error","code":"unauthorized","message":"no"}"#,
        r#"{"message":"Bad credentials"}"#,
        r#"{"message":"Validation Failed","errors":[{"field":"per_page","code":"invalid"}]}"#,
        r#"{"code":29001,"msg":"API access too frequent"}"#,
        r#"{"code":"6001","msg":"timestamp expired"}"#,
        "<html><body>502 Bad Gateway</body></html>",
    ]
    .map(|s| s.as_bytes().to_vec())
    .to_vec()
}

fn error_envelopes(long: bool) -> u64 {
    let retry_after = proptest::option::of(prop_oneof![
        any::<String>(),
        Just("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
        (0u64..100_000_000_000).prop_map(|n| n.to_string()),
    ]);
    let input = (status(), retry_after, bodies(envelope_seeds()));
    fuzz(
        "error envelopes (4 providers)",
        long,
        input,
        |(status, after, body)| {
            let ex = exchange(status, after, body);
            within_cap(|| {
                envelope::<TriportError>(&ex);
                envelope::<PrefactorError>(&ex);
                envelope::<CensusError>(&ex);
                envelope::<CoinwError>(&ex);
            })
        },
    )
}

/// A server answering every request with the current fuzz answer.
struct Stub {
    base_url: String,
    answer: Arc<Mutex<(u16, &'static str, Vec<u8>)>>,
}

impl Stub {
    async fn start() -> Self {
        let answer = Arc::new(Mutex::new((200u16, "application/json", Vec::new())));
        let shared = answer.clone();
        let app = Router::new().fallback(move || {
            let (status, content_type, body) = shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            async move {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                (status, [(header::CONTENT_TYPE, content_type)], body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { base_url, answer }
    }

    fn set(&self, status: u16, content_type: &'static str, body: Vec<u8>) {
        *self.answer.lock().unwrap_or_else(PoisonError::into_inner) = (status, content_type, body);
    }
}

/// One retry with no waiting: a fuzzed answer is the same on every attempt.
fn no_wait() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            base: 2.0,
        },
        max_retries: 1,
        retry_timeout: Duration::from_secs(5),
        max_decode_retries: 1,
        max_retry_after: Duration::ZERO,
    }
}

/// A source of `provider` reading `base_url`, and a captured listing of its emulator.
async fn source_and_seeds(
    provider: Provider,
    base_url: &str,
) -> (Arc<dyn InviteeSource>, Vec<Vec<u8>>) {
    macro_rules! seeded {
        ($emu:expr, $build:expr) => {{
            let emu = $emu;
            let proxy = FaultProxy::start(&emu.base_url(), Vec::new())
                .await
                .unwrap();
            let capture: Arc<dyn InviteeSource> =
                Arc::new($build(&emu, proxy.base_url()).fast().build().unwrap());
            let listed: Vec<_> = invitees(capture, Scope::full(), DriverOptions::default())
                .collect()
                .await;
            assert!(
                listed.iter().all(Result::is_ok),
                "seed listing of {provider}"
            );
            let source: Arc<dyn InviteeSource> = Arc::new(
                $build(&emu, base_url.to_owned())
                    .fast()
                    .with_retry(no_wait())
                    .with_timeout(Duration::from_secs(5))
                    .build()
                    .unwrap(),
            );
            let seeds = proxy.bodies();
            assert!(!seeds.is_empty(), "captured answers of {provider}");
            (source, seeds)
        }};
    }
    match provider {
        Provider::Triport => seeded!(
            TriportEmulator::start(TriportConfig::new(12))
                .await
                .unwrap(),
            |e: &TriportEmulator, url: String| TriportBuilder::new()
                .with_base_url(url)
                .with_session(e.session())
                .with_limit(5)
        ),
        Provider::Prefactor => seeded!(
            PrefactorEmulator::start(PrefactorConfig::new(12))
                .await
                .unwrap(),
            |e: &PrefactorEmulator, url: String| PrefactorBuilder::new()
                .with_base_url(url)
                .with_token(e.token())
                .with_page_size(5)
        ),
        Provider::Census => seeded!(
            CensusEmulator::start(CensusConfig::new(12)).await.unwrap(),
            |e: &CensusEmulator, url: String| CensusBuilder::new()
                .with_base_url(url)
                .with_token(e.token())
                .with_per_page(5)
        ),
        _ => seeded!(
            CoinwEmulator::start(CoinwConfig::new(12)).await.unwrap(),
            |e: &CoinwEmulator, url: String| CoinwBuilder::new()
                .with_base_url(url)
                .with_api_key(e.api_key())
                .with_secret_key(e.secret_key())
                .with_offset(e.utc_offset())
                .with_page_size(5)
                .with_window_length(WindowLength::Days(3))
                .with_since(e.oldest_at() - chrono::Duration::days(1))
        ),
    }
}

fn pages_over_http(provider: Provider, long: bool) -> u64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stub = runtime.block_on(Stub::start());
    let (source, seeds) = runtime.block_on(source_and_seeds(provider.clone(), &stub.base_url));
    let content_type = prop_oneof![
        6 => Just("application/json"),
        1 => Just("text/html"),
        1 => Just("application/json; charset=latin1"),
    ];
    let input = (status(), content_type, bodies(seeds));
    let options = DriverOptions::default()
        .with_max_pages(8)
        .with_concurrency(1);
    fuzz(
        &format!("{provider} pages over HTTP"),
        long,
        input,
        |(status, ct, body)| {
            stub.set(status, ct, body);
            within_cap(|| {
                // The page ceiling and each attempt's timeout bound the listing.
                let rows = runtime.block_on(
                    invitees(source.clone(), Scope::full(), options.clone()).collect::<Vec<_>>(),
                );
                for err in rows.into_iter().filter_map(Result::err) {
                    assert_eq!(err.provider(), &provider, "{err}");
                }
            })
        },
    )
}

fn triport_parse_invitees(long: bool) -> u64 {
    let seeds = vec![
        br#"{"items":[{"user_id":"3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e","signed_at":"2024-01-01T00:00:00Z","status":"joined","total_paid_micro":1500000}]}"#.to_vec(),
    ];
    let source = SourceId::new(Provider::Triport, "fuzz");
    fuzz("triport parse_invitees", long, bodies(seeds), |body| {
        within_cap(|| {
            let _ = affiliate_triport::parse_invitees(&source, &body);
        })
    })
}

fn every_target(long: bool) {
    let mut total = error_envelopes(long) + triport_parse_invitees(long);
    for provider in [
        Provider::Triport,
        Provider::Prefactor,
        Provider::Census,
        Provider::Coinw,
    ] {
        total += pages_over_http(provider, long);
    }
    println!("fuzz: {total} inputs over 6 targets");
}

#[test]
fn decoders_survive_fuzzed_input() {
    every_target(false);
}

#[test]
#[ignore = "long: AFFILIATE_FUZZ_SECONDS per target (default 60)"]
fn decoders_survive_fuzzed_input_long() {
    every_target(true);
}
