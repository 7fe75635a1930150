//! Every CoinW code and HTTP failure mapped to its variant and kind, retries where they
//! belong (29001, 5xx, malformed bodies) and nowhere else, builder refusals, and secrets
//! kept out of `Debug`, errors and logs.

mod common;

use affiliate_http::SourceBuilder;
use std::sync::Arc;

use affiliate_coinw::{CoinwBuilder, CoinwError, WindowLength};
use affiliate_core::{ErrorKind, Scope, SourceError};
use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator};
use affiliate_sandbox::Emulator;
use affiliate_sandbox::{Fault, FaultPlan};
use chrono::{Duration, Utc};
use serde_json::json;

use common::*;

fn coinw(err: &SourceError) -> &CoinwError {
    err.downcast_ref::<CoinwError>()
        .unwrap_or_else(|| panic!("not a CoinwError: {err}"))
}

/// A small account whose whole plan is one window (so one failing request ends it).
async fn small() -> CoinwEmulator {
    let config = CoinwConfig::new(30).spacing(chrono::Duration::seconds(60));
    emulator(config).await
}

fn one_window(emu: &CoinwEmulator) -> CoinwBuilder {
    builder(emu)
        .without_split()
        .with_since(Utc::now() - Duration::days(2))
        .with_window_length(WindowLength::Months(1200))
}

#[tokio::test]
async fn a_wrong_secret_is_6001_and_not_retried() {
    let emu = small().await;
    let client = one_window(&emu)
        .with_secret_key("not-the-secret")
        .build()
        .unwrap();
    let err = first_error(client).await;
    assert!(
        matches!(coinw(&err), CoinwError::InvalidSignature { message } if message == "invalid signature")
    );
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(err.attempts(), 1);
    assert_eq!(list_requests(&emu), 1);
    assert!(err.request().unwrap().starts_with("GET /api/v3/patener/openapi/v1/partner/invitation/user/list?pageNo=1&pageSize=1000&startTime="));
}

#[tokio::test]
async fn an_unknown_key_is_6000() {
    let emu = small().await;
    let client = one_window(&emu)
        .with_api_key("who-is-this")
        .build()
        .unwrap();
    let err = first_error(client).await;
    assert!(
        matches!(coinw(&err), CoinwError::Unauthenticated { message } if message.contains("unknown api_key")),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(list_requests(&emu), 1);
}

#[tokio::test]
async fn a_key_without_the_affiliate_permission_is_6003_with_coinws_message() {
    let emu = small().await;
    let (key, secret) = emu.restricted_key().unwrap();
    let client = one_window(&emu)
        .with_api_key(key)
        .with_secret_key(secret)
        .build()
        .unwrap();
    let err = first_error(client).await;
    assert!(
        matches!(coinw(&err), CoinwError::PermissionDenied { message } if message.contains("not recognized as an affiliate")),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(list_requests(&emu), 1);
}

#[tokio::test]
async fn a_stale_clock_is_refused_and_says_so() {
    let emu = small().await;
    let hour_ago = Utc::now().timestamp_millis() - 3_600_000;
    let client = one_window(&emu)
        .with_since(Utc::now() - Duration::days(4))
        .with_clock(move || hour_ago)
        .build()
        .unwrap();
    let err = first_error(client).await;
    assert!(
        matches!(coinw(&err), CoinwError::InvalidSignature { message } if message.contains("expired")),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
}

/// One scripted answer, then the listing's first error.
async fn answered(status: u16, body: serde_json::Value) -> (SourceError, usize) {
    let emu = small().await;
    emu.push_answer(status, body);
    let err = first_error(one_window(&emu).build().unwrap()).await;
    (err, list_requests(&emu))
}

#[tokio::test]
async fn param_required_402_as_number_or_string() {
    for code in [json!(402), json!("402")] {
        let (err, requests) = answered(200, json!({"code": code, "msg": "param required"})).await;
        assert!(
            matches!(coinw(&err), CoinwError::ParamRequired { message } if message == "param required")
        );
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(requests, 1, "not retried");
    }
}

#[tokio::test]
async fn code_500_in_a_200_is_internal() {
    let (err, requests) = answered(200, json!({"code": 500, "msg": "Internal server error"})).await;
    assert!(
        matches!(coinw(&err), CoinwError::Internal { status: 200, .. }),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(requests, 1);
}

#[tokio::test]
async fn the_6003_shape_with_message_retry_success() {
    let body = json!({"code": 6003, "message": "require more permission", "retry": false, "success": false});
    let (err, _) = answered(200, body).await;
    assert!(
        matches!(coinw(&err), CoinwError::PermissionDenied { message } if message == "require more permission")
    );
}

#[tokio::test]
async fn auth_codes_as_strings_too() {
    let (err, _) = answered(200, json!({"code": "6000", "msg": "authentication failed"})).await;
    assert!(matches!(coinw(&err), CoinwError::Unauthenticated { .. }));
    let (err, _) = answered(200, json!({"code": "6001", "msg": "sign error"})).await;
    assert!(
        matches!(coinw(&err), CoinwError::InvalidSignature { message } if message == "sign error")
    );
}

#[tokio::test]
async fn unknown_codes_are_kept_verbatim() {
    let (err, requests) = answered(200, json!({"code": -103, "msg": "spot says no"})).await;
    match coinw(&err) {
        CoinwError::Api {
            status,
            code,
            message,
        } => {
            assert_eq!(
                (*status, code.as_str(), message.as_str()),
                (200, "-103", "spot says no")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Other);
    assert_eq!(requests, 1);
    assert!(err.to_string().contains("-103"), "{err}");
}

#[tokio::test]
async fn http_statuses_without_an_envelope_are_mapped_by_status() {
    let cases = [
        (401, ErrorKind::Unauthenticated),
        (403, ErrorKind::PermissionDenied),
        (404, ErrorKind::NotFound),
        (400, ErrorKind::InvalidRequest),
        (418, ErrorKind::Other),
    ];
    for (status, kind) in cases {
        let (err, requests) = answered(status, json!("<html>nope</html>")).await;
        assert!(
            matches!(coinw(&err), CoinwError::HttpStatus { status: s, .. } if *s == status),
            "{err}"
        );
        assert_eq!(err.kind(), kind, "{status}");
        assert_eq!(requests, 1, "{status} is final");
    }
}

#[tokio::test]
async fn an_envelope_in_an_http_error_is_mapped_by_its_code() {
    let (err, _) = answered(
        403,
        json!({"code": 6003, "message": "require more permission"}),
    )
    .await;
    assert!(
        matches!(coinw(&err), CoinwError::PermissionDenied { .. }),
        "{err}"
    );
    // A wrong URL: CoinW answers code 500.
    let emu = small().await;
    let client = one_window(&emu)
        .with_base_url(format!("{}/wrong-prefix", emu.base_url()))
        .build()
        .unwrap();
    let err = first_error(client).await;
    assert!(
        matches!(coinw(&err), CoinwError::Internal { status: 404, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn throttling_29001_is_retried_then_reported_as_rate_limited() {
    let emu = small().await;
    emu.set_faults(FaultPlan::none().every(1, Fault::RateLimited { retry_after: None }));
    let err = first_error(one_window(&emu).build().unwrap()).await;
    assert!(
        matches!(coinw(&err), CoinwError::RateLimited { message } if message == "API access frequently"),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_transient());
    assert_eq!(err.attempts(), 7, "1 + max_retries (6)");
    assert_eq!(list_requests(&emu), 7);
}

#[tokio::test]
async fn throttling_29001_then_success_loses_nothing() {
    let emu = small().await;
    emu.set_faults(
        FaultPlan::none()
            .then(Fault::RateLimited { retry_after: None })
            .then(Fault::RateLimited { retry_after: None })
            .then(Fault::RateLimited { retry_after: None }),
    );
    let got = list_all(Arc::new(one_window(&emu).build().unwrap()), Scope::full())
        .await
        .unwrap();
    assert_eq!(got.len(), 30);
    assert_eq!(
        list_requests(&emu),
        5,
        "three 29001 answers, then the page, then the newest window read again"
    );
}

#[tokio::test]
async fn persistent_5xx_is_retried_then_internal() {
    let emu = small().await;
    emu.set_faults(FaultPlan::none().every(1, Fault::ServerError(503)));
    let err = first_error(one_window(&emu).build().unwrap()).await;
    assert!(
        matches!(coinw(&err), CoinwError::Internal { status: 503, .. }),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(list_requests(&emu), 7);
}

#[tokio::test]
async fn malformed_bodies_are_retried_then_a_decode_error() {
    let emu = small().await;
    emu.set_faults(FaultPlan::none().then(Fault::Malformed).then(Fault::Reset));
    let got = list_all(Arc::new(one_window(&emu).build().unwrap()), Scope::full())
        .await
        .unwrap();
    assert_eq!(got.len(), 30);
    assert_eq!(
        list_requests(&emu),
        4,
        "two retries, the page, the final re-read"
    );

    let emu = small().await;
    emu.set_faults(FaultPlan::none().every(1, Fault::Malformed));
    let err = first_error(one_window(&emu).build().unwrap()).await;
    assert!(matches!(coinw(&err), CoinwError::Decode(_)), "{err}");
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(
        list_requests(&emu),
        4,
        "a bad body is retried max_decode_retries (3) times"
    );
}

#[tokio::test]
async fn a_broken_connection_is_a_transport_error() {
    let emu = small().await;
    emu.set_faults(FaultPlan::none().every(1, Fault::Reset));
    let err = first_error(one_window(&emu).build().unwrap()).await;
    assert!(matches!(coinw(&err), CoinwError::Transport(_)), "{err}");
    assert_eq!(err.kind(), ErrorKind::Transport);

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = one_window(&emu)
        .with_base_url(format!("http://{closed}"))
        .build()
        .unwrap();
    let err = first_error(client).await;
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
}

#[tokio::test]
async fn success_codes_200_as_number_and_0_and_lenient_number_types() {
    let emu = small().await;
    let window_end = Utc::now() - Duration::minutes(90);
    let text = affiliate_coinw::zone::to_provider_text(window_end, emu.utc_offset());
    // Each listing reads its one window twice (the final re-read of the newest window).
    for code in [
        json!(200),
        json!(200),
        json!(0),
        json!(0),
        json!("0"),
        json!("0"),
        json!("200"),
        json!("200"),
    ] {
        emu.push_answer(200, json!({"code": code, "msg": "success", "data": {"list": [{"uid": "1116977", "registerTime": text}], "total": "1"}}));
    }
    let client = one_window(&emu).build().unwrap();
    for _ in 0..4 {
        let got = list_all(Arc::new(client.clone()), Scope::full())
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, "1116977");
    }
}

#[tokio::test]
async fn a_success_without_data_is_a_typed_error_not_an_empty_window() {
    for body in [
        json!({"code": "200", "msg": "success", "data": null}),
        json!({"code": 200, "msg": "success"}),
    ] {
        let (err, _) = answered(200, body.clone()).await;
        assert!(
            matches!(coinw(&err), CoinwError::MissingData),
            "{body}: {err}"
        );
        assert_eq!(err.kind(), ErrorKind::Decode);
    }
}

#[tokio::test]
async fn bad_rows_and_rows_outside_the_window_are_reported() {
    let emu = small().await;
    emu.push_answer(200, json!({"code": "200", "msg": "success", "data": {"list": [{"uid": 1, "registerTime": "2021-09-09T14:43:18Z"}], "total": 1}}));
    let err = first_error(one_window(&emu).build().unwrap()).await;
    assert!(matches!(coinw(&err), CoinwError::BadRecord(_)), "{err}");
    assert_eq!(err.kind(), ErrorKind::Decode);

    emu.push_answer(200, json!({"code": "200", "msg": "success", "data": {"list": [{"uid": 1, "registerTime": "2001-01-01 00:00:00"}], "total": 1}}));
    let err = first_error(one_window(&emu).build().unwrap()).await;
    assert!(
        matches!(coinw(&err), CoinwError::OutsideWindow { uid, .. } if uid == "1"),
        "{err}"
    );

    emu.push_answer(200, json!({"code": "200", "msg": "success", "data": {"list": [{"registerTime": "2001-01-01 00:00:00"}], "total": 1}}));
    let err = first_error(one_window(&emu).build().unwrap()).await;
    assert!(matches!(coinw(&err), CoinwError::Decode(_)), "{err}");
}

#[test]
fn the_builder_refuses_bad_input_with_clear_errors() {
    let ok = || {
        CoinwBuilder::new()
            .with_api_key("k")
            .with_secret_key("s")
            .with_utc_offset("+08:00")
    };
    let refused = |b: CoinwBuilder, needle: &str| {
        let err = b.build().expect_err(needle);
        assert!(
            err.to_string().contains(needle),
            "{err} should mention {needle:?}"
        );
        err
    };
    assert!(ok().build().is_ok());
    let e = refused(
        CoinwBuilder::new().with_api_key("k").with_secret_key("s"),
        "UTC offset",
    );
    assert!(matches!(e, CoinwError::Config(_)));
    refused(ok().with_utc_offset("Asia/Shanghai"), "Asia/Shanghai");
    refused(ok().with_utc_offset("+25:00"), "+25:00");
    refused(ok().with_window_length(WindowLength::Months(0)), "zero");
    refused(ok().with_window_length(WindowLength::Days(0)), "zero");
    let now = Utc::now();
    refused(
        ok().with_since(now - Duration::days(1))
            .with_until(now - Duration::days(2)),
        "after until",
    );
    refused(ok().with_since(now + Duration::days(1)), "after now");
    refused(ok().with_uid("12ab"), "not numeric");
    refused(ok().with_uid("-5"), "not numeric");
    assert_eq!(
        ok().with_uid(1116977).build().unwrap().uid(),
        Some(1_116_977)
    );
    refused(ok().with_page_size(0), "1..=1000");
    refused(ok().with_page_size(1001), "1..=1000");
    assert!(ok().with_page_size(1).build().is_ok());
    refused(ok().with_base_url("http://api.coinw.com"), "plain HTTP");
    assert!(ok().with_base_url("http://127.0.0.1:9").build().is_ok());
    refused(ok().with_base_url("not a url"), "base URL");
    refused(ok().with_referral_code(""), "referral code");
    refused(ok().with_split_cap(0), "split cap");
    let e = refused(
        CoinwBuilder::new()
            .with_secret_key("s")
            .with_utc_offset("Z"),
        "COINW_API_KEY",
    );
    assert!(matches!(e, CoinwError::MissingCredential(_)));
    refused(
        CoinwBuilder::new().with_api_key("k").with_utc_offset("Z"),
        "COINW_SECRET_KEY",
    );
    refused(ok().with_api_key("bad\nkey"), "header");
}

#[test]
fn from_env_reads_keys_base_url_and_offset() {
    // Only this test touches COINW_* variables in this binary.
    std::env::set_var("COINW_API_KEY", "env-key");
    std::env::set_var("COINW_SECRET_KEY", "env-secret");
    std::env::set_var("COINW_BASE_URL", "http://127.0.0.1:1");
    std::env::set_var("COINW_UTC_OFFSET", "-03:00");
    let client = CoinwBuilder::from_env().build().unwrap();
    assert_eq!(client.utc_offset().local_minus_utc(), -3 * 3600);
    let shown = format!("{client:?}");
    assert_eq!(client.base_url().as_str(), "http://127.0.0.1:1/");
    assert!(
        !shown.contains("env-secret") && !shown.contains("env-key"),
        "{shown}"
    );
    std::env::set_var("COINW_UTC_OFFSET", "");
    let err = CoinwBuilder::from_env().build().unwrap_err();
    assert!(err.to_string().contains("UTC offset"), "{err}");
    for name in [
        "COINW_API_KEY",
        "COINW_SECRET_KEY",
        "COINW_BASE_URL",
        "COINW_UTC_OFFSET",
    ] {
        std::env::remove_var(name);
    }
}
