//! Prefactor against a stub server answering canned bodies: malformed pagination objects,
//! the nullable and alternative envelope forms, errors the emulator never sends.

use affiliate_http::SourceBuilder;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::{ErrorKind, Invitee, InviteeStatus, Scope, SourceError};
use affiliate_prefactor::{PrefactorBuilder, PrefactorError};
use affiliate_tests::stub::canned;
use affiliate_tests::FastTransport;
use futures::StreamExt;
use serde_json::{json, Value};

async fn run(status: u16, body: Value) -> (Vec<Result<Invitee, SourceError>>, usize) {
    let (url, hits) = canned(status, "application/json", body.to_string()).await;
    let source = PrefactorBuilder::new()
        .with_base_url(url)
        .with_token("stub-token")
        .with_page_size(10)
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

async fn error(status: u16, body: Value) -> (SourceError, usize) {
    let (results, hits) = run(status, body).await;
    let err = results
        .into_iter()
        .find_map(Result::err)
        .expect("the listing fails");
    (err, hits)
}

fn row(id: &str, status: &str) -> Value {
    json!({"account_id": "013xrzp12g3nqk8ngskn1wtxgka5b0nf", "email": format!("{id}@example.com"),
           "id": id, "inserted_at": "2024-01-01T00:00:00Z", "invite_url": "https://example.com",
           "status": status, "type": "admin_user_invite", "updated_at": "2024-01-02T00:00:00Z"})
}

fn ten_rows() -> Vec<Value> {
    (0..10).map(|i| row(&format!("r{i}"), "pending")).collect()
}

/// A first page of 10 rows out of 30 with one pagination field replaced.
fn first_page_with(field: &str, value: Value) -> Value {
    let mut pagination = json!({
        "item_count": 30, "item_start": 1, "item_end": 10, "next_page_offset": 10,
        "page_count": 3, "page_index": 1, "page_offset": 0, "page_size": 10,
        "previous_page_offset": null
    });
    pagination[field] = value;
    json!({"status": "success", "summaries": ten_rows(), "pagination": pagination,
           "sorting": {"field": "id", "direction": "asc"}})
}

#[tokio::test]
async fn malformed_pagination_objects_end_in_a_clear_error_not_a_loop() {
    let cases: [(&str, Value, &str); 8] = [
        ("page_offset", json!(-10), "page_offset is negative"),
        (
            "next_page_offset",
            json!(-1),
            "next_page_offset is negative",
        ),
        ("item_count", json!(-5), "item_count is negative"),
        (
            "next_page_offset",
            json!(0),
            "does not advance past page_offset 0",
        ),
        ("item_start", json!(0), "item_start/item_end"),
        ("item_end", json!(9), "item_start/item_end"),
        (
            "page_size",
            json!(100),
            "page_size 100 is not the requested page size 10",
        ),
        (
            "page_offset",
            json!(20),
            "page_offset 20 is not the requested offset 0",
        ),
    ];
    for (field, value, expected) in cases {
        let (err, hits) = error(200, first_page_with(field, value.clone())).await;
        assert_eq!(err.kind(), ErrorKind::Pagination, "{field}={value}: {err}");
        assert!(
            matches!(
                err.downcast_ref::<PrefactorError>(),
                Some(PrefactorError::Pagination(_))
            ),
            "{err}"
        );
        assert!(err.to_string().contains(expected), "{field}={value}: {err}");
        assert!(
            err.to_string()
                .contains("GET /api/v1/admin_user_invite?sorting=id"),
            "{err}"
        );
        assert_eq!(hits, 1, "{field}={value}: no retry, no loop");
    }
}

#[tokio::test]
async fn a_server_ignoring_the_sorting_is_refused() {
    let mut body = first_page_with("page_index", json!(1));
    body["sorting"] = json!({"field": "email", "direction": "asc"});
    let (err, _) = error(200, body).await;
    assert!(
        err.to_string()
            .contains("sorted by email asc, not by id asc"),
        "{err}"
    );
}

#[tokio::test]
async fn null_pagination_and_sorting_read_on_while_pages_are_full() {
    // Ten rows on a page of ten, no pagination object: the next offset is asked for. This
    // stub ignores the offset and repeats the same rows, which ends in a clear error
    // instead of a loop.
    let body =
        json!({"status": "success", "summaries": ten_rows(), "pagination": null, "sorting": null});
    let (results, hits) = run(200, body).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 10);
    let err = results.into_iter().find_map(Result::err).expect("an error");
    assert!(err.to_string().contains("ignores the position"), "{err}");
    assert_eq!(hits, 2);
}

#[tokio::test]
async fn the_list_may_come_as_details_and_unknown_statuses_are_kept() {
    let mut rows = ten_rows();
    rows[0] = row("r0", "expired");
    rows[1] = row("r1", "used");
    rows[2] = row("r2", "revoked");
    let body = json!({"status": "success", "details": rows, "pagination": {
        "item_count": 10, "item_start": 1, "item_end": 10, "next_page_offset": null,
        "page_count": 1, "page_index": 1, "page_offset": 0, "page_size": 10,
        "previous_page_offset": null}, "sorting": null});
    let (results, hits) = run(200, body).await;
    let got: Vec<Invitee> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(got.len(), 10);
    assert_eq!(hits, 2, "the page, then the re-read of the (growing) tail");
    assert_eq!(got[0].status, InviteeStatus::Other("expired".into()));
    assert_eq!(got[0].status.as_str(), "expired");
    assert_eq!(got[1].status, InviteeStatus::Joined);
    assert_eq!(got[2].status, InviteeStatus::Revoked);
    assert_eq!(got[3].status, InviteeStatus::Invited);
}

#[tokio::test]
async fn a_success_body_without_a_list_is_a_decode_error() {
    let (err, _) = error(200, json!({"status": "success", "pagination": null})).await;
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(
        err.to_string()
            .contains("neither `summaries` nor `details`"),
        "{err}"
    );
}

#[tokio::test]
async fn an_error_envelope_inside_a_200_is_still_an_error() {
    let (err, hits) = error(
        200,
        json!({"status": "error", "code": "not_permitted", "message": "nope"}),
    )
    .await;
    assert!(
        matches!(err.downcast_ref::<PrefactorError>(), Some(PrefactorError::NotPermitted(d)) if d.message.as_deref() == Some("nope")),
        "{err}"
    );
    assert_eq!(hits, 1);
}

#[tokio::test]
async fn validation_errors_keep_their_map_and_bodies_without_an_envelope_are_quoted() {
    let (err, _) = error(
        422,
        json!({"status": "error", "code": "validation_errors", "message": "invalid",
               "errors": {"pagination.page_size": ["must be at most 100"]}}),
    )
    .await;
    match err.downcast_ref::<PrefactorError>() {
        Some(PrefactorError::ValidationErrors { details, errors }) => {
            assert_eq!(details.status, 422);
            assert_eq!(errors["pagination.page_size"][0], "must be at most 100");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("must be at most 100"), "{err}");

    let (err, _) = error(403, json!(["not", "an", "envelope"])).await;
    assert!(
        matches!(
            err.downcast_ref::<PrefactorError>(),
            Some(PrefactorError::UnexpectedStatus { status: 403, .. })
        ),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(!err.to_string().contains("stub-token"), "{err}");
}
