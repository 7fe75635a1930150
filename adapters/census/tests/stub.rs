//! Census against a stub server answering canned bodies: malformed pagination objects and
//! error bodies the emulator never sends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use affiliate_census::{CensusBuilder, CensusError};
use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::{ErrorKind, Invitee, Scope, SourceError};
use affiliate_http::{BackoffConfig, ClientConfig, RetryConfig};
use axum::http::{header, StatusCode};
use axum::Router;
use futures::StreamExt;
use serde_json::{json, Value};

/// Serves `body` with `status` and `content_type` to every request; counts the requests.
async fn stub(status: u16, content_type: &'static str, body: String) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(move || {
        let counter = counter.clone();
        let body = body.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            (
                StatusCode::from_u16(status).unwrap(),
                [(header::CONTENT_TYPE, content_type)],
                body,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{addr}"), hits)
}

fn fast() -> ClientConfig {
    ClientConfig::default().with_retry(RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(5),
        max_decode_retries: 3,
        max_retry_after: Duration::from_millis(10),
    })
}

async fn run(
    status: u16,
    content_type: &'static str,
    body: String,
) -> (Vec<Result<Invitee, SourceError>>, usize) {
    let (url, hits) = stub(status, content_type, body).await;
    let source = CensusBuilder::new()
        .with_base_url(url)
        .with_token("stub-pat")
        .with_per_page(10)
        .with_client_config(fast())
        .build()
        .unwrap();
    let results = invitees(Arc::new(source), Scope::full(), DriverOptions::default())
        .collect()
        .await;
    (results, hits.load(Ordering::SeqCst))
}

async fn error(status: u16, content_type: &'static str, body: String) -> (SourceError, usize) {
    let (results, hits) = run(status, content_type, body).await;
    let err = results
        .into_iter()
        .find_map(Result::err)
        .expect("the listing fails");
    (err, hits)
}

fn rows() -> Vec<Value> {
    (0..10)
        .map(|i| {
            json!({"id": 100 + i, "email": format!("u{i}@example.com"),
                   "created_at": "2023-09-22T20:25:45.185Z", "created_by_id": 13,
                   "claimed_at": null, "claimed_by_id": null, "role": "admin",
                   "associated_workspace_invitations": []})
        })
        .collect()
}

/// Page 1 of 10 rows out of 30 with one pagination field replaced.
fn first_page_with(field: &str, value: Value) -> String {
    let mut pagination = json!({"total_records": 30, "per_page": 10, "prev_page": null,
                                "page": 1, "next_page": 2, "last_page": 3});
    pagination[field] = value;
    json!({"status": "success", "pagination": pagination, "data": rows()}).to_string()
}

#[tokio::test]
async fn malformed_pagination_objects_end_in_a_clear_error_not_a_loop() {
    let cases: [(&str, Value, &str); 7] = [
        (
            "next_page",
            json!(1),
            "next_page 1 does not advance past page 1",
        ),
        ("next_page", json!(0), "does not advance"),
        ("total_records", json!(-3), "total_records is negative"),
        ("prev_page", json!(-1), "prev_page is negative"),
        (
            "per_page",
            json!(25),
            "per_page 25 is not the requested per_page 10",
        ),
        ("page", json!(2), "page 2 is not the requested page 1"),
        ("total_records", json!(4), "total_records is 4"),
    ];
    for (field, value, expected) in cases {
        let (err, hits) = error(
            200,
            "application/json",
            first_page_with(field, value.clone()),
        )
        .await;
        assert_eq!(err.kind(), ErrorKind::Pagination, "{field}={value}: {err}");
        assert!(
            matches!(
                err.downcast_ref::<CensusError>(),
                Some(CensusError::Pagination(_))
            ),
            "{err}"
        );
        assert!(err.to_string().contains(expected), "{field}={value}: {err}");
        assert!(
            err.to_string()
                .contains("GET /api/v1/invitations?page=1&per_page=10&order=asc"),
            "{err}"
        );
        assert_eq!(hits, 1, "{field}={value}: no retry, no loop");
    }
}

#[tokio::test]
async fn a_body_without_pagination_or_data_is_a_decode_error_after_retries() {
    let body = json!({"status": "success", "data": rows()}).to_string();
    let (err, hits) = error(200, "application/json", body).await;
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.to_string().contains("pagination"), "{err}");
    assert_eq!(hits, 3, "1 attempt + 2 retries");
}

#[tokio::test]
async fn error_messages_come_from_message_or_the_raw_body() {
    let (err, _) = error(
        401,
        "application/json",
        json!({"status": "error", "message": "Token revoked"}).to_string(),
    )
    .await;
    assert!(
        matches!(err.downcast_ref::<CensusError>(), Some(CensusError::Unauthorized { message }) if message == "Token revoked"),
        "{err}"
    );
    let (err, _) = error(403, "text/html", "<h1>Forbidden</h1>".into()).await;
    assert!(
        matches!(err.downcast_ref::<CensusError>(), Some(CensusError::Forbidden { message }) if message == "<h1>Forbidden</h1>"),
        "{err}"
    );
    assert!(err.to_string().contains("<h1>Forbidden</h1>"), "{err}");
    assert!(!format!("{err} {err:?}").contains("stub-pat"));
    let (err, hits) = error(503, "text/plain", "upstream down".into()).await;
    assert!(
        matches!(err.downcast_ref::<CensusError>(), Some(CensusError::Server { status: 503, message }) if message == "upstream down"),
        "{err}"
    );
    assert_eq!(hits, 3, "5xx is retried");
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_last_page_ends_the_listing() {
    let body = json!({"status": "success", "data": rows(), "pagination": {
        "total_records": 10, "per_page": 10, "prev_page": null, "page": 1,
        "next_page": null, "last_page": 1}})
    .to_string();
    let (results, hits) = run(200, "application/json", body).await;
    assert_eq!(results.len(), 10);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(hits, 2, "the page, then the re-read of the (growing) tail");
}

#[tokio::test]
async fn an_empty_organization_may_have_no_last_page() {
    // "The number of the last page with records": with no records there is none.
    for last_page in [json!(null), json!(0)] {
        let body = json!({
            "status": "success",
            "pagination": {"total_records": 0, "per_page": 10, "prev_page": null, "page": 1,
                           "next_page": null, "last_page": last_page},
            "data": []
        });
        let (results, hits) = run(200, "application/json", body.to_string()).await;
        assert!(results.is_empty(), "{last_page}: {results:?}");
        assert!(hits <= 2, "{last_page}: {hits} requests");
    }
}
