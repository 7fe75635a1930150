//! Census against a stub server answering canned bodies: malformed pagination objects and
//! error bodies the emulator never sends.

use affiliate_http::SourceBuilder;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use affiliate_census::{CensusBuilder, CensusError};
use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::{ErrorKind, Invitee, Scope, SourceError};
use affiliate_tests::stub::canned;
use affiliate_tests::FastTransport;
use futures::StreamExt;
use serde_json::{json, Value};

async fn run(
    status: u16,
    content_type: &'static str,
    body: String,
) -> (Vec<Result<Invitee, SourceError>>, usize) {
    let (url, hits) = canned(status, content_type, body).await;
    let source = CensusBuilder::new()
        .with_base_url(url)
        .with_token("stub-pat")
        .with_per_page(10)
        .fast()
        .build()
        .unwrap();
    // One request at a time: the stub answers every page with the same canned body, so a
    // page asked for ahead of the total would only meet a body for another page.
    let one_at_a_time = DriverOptions::default().with_concurrency(1);
    let results = invitees(Arc::new(source), Scope::full(), one_at_a_time)
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
        ("last_page", json!(0), "page 1 is past last_page 0"),
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
                .contains("GET /api/v1/invitations?page=1&per_page=10&order=desc"),
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
    assert_eq!(hits, 4, "1 attempt + max_decode_retries (3)");
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
    assert_eq!(hits, 7, "5xx is retried: 1 attempt + max_retries (6)");
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
    // The first request (order=desc) pins the newest page; it held the whole list.
    assert_eq!(
        hits, 1,
        "the newest page held every row: nothing more to read"
    );
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
