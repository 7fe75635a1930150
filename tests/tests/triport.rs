//! Triport against its emulator: the conformance suite plus Triport-specific cases.

use affiliate_http::SourceBuilder;
use std::sync::Arc;
use std::time::Duration;

use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::{ErrorKind, InviteeSource, Scope};
use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use affiliate_sandbox::{Emulator, Fault, FaultPlan};
use affiliate_tests::conformance::{assert_exactly_once, first_error, list, Harness, Via};
use affiliate_tests::FastTransport;
use affiliate_triport::{TriportBuilder, TriportClient, TriportError};
use async_trait::async_trait;
use futures::StreamExt;

struct TriportHarness;

const PAGE: u32 = 7;

fn builder(emu: &TriportEmulator, limit: u32) -> TriportBuilder {
    TriportBuilder::new()
        .with_base_url(emu.base_url())
        .with_session(emu.session())
        .with_admin_token(emu.admin_token().unwrap_or("none"))
        .with_limit(limit)
        .fast()
}

fn client(emu: &TriportEmulator, limit: u32) -> TriportClient {
    builder(emu, limit).build().expect("valid config")
}

#[async_trait]
impl Harness for TriportHarness {
    type Emu = TriportEmulator;
    fn page_size(&self) -> u32 {
        PAGE
    }
    async fn start(&self, records: u64) -> TriportEmulator {
        TriportEmulator::start(TriportConfig::new(records))
            .await
            .expect("emulator starts")
    }
    fn source_via(&self, emu: &TriportEmulator, via: &Via) -> Arc<dyn InviteeSource> {
        Arc::new(via.apply(builder(emu, PAGE)).build().expect("valid config"))
    }
    fn refused_source(&self, emu: &TriportEmulator) -> (Arc<dyn InviteeSource>, Vec<String>) {
        let wrong = "wrong-session-7f7f".to_owned();
        let source = TriportBuilder::new()
            .with_base_url(emu.base_url())
            .with_session(wrong.as_str())
            .fast()
            .build()
            .expect("valid config");
        (Arc::new(source), vec![wrong])
    }
    fn secrets(&self, emu: &TriportEmulator) -> Vec<String> {
        vec![
            emu.session().to_owned(),
            emu.admin_token().unwrap_or_default().to_owned(),
        ]
    }
}

affiliate_tests::conformance_suite!(TriportHarness);

async fn emulator(records: u64) -> TriportEmulator {
    TriportEmulator::start(TriportConfig::new(records))
        .await
        .expect("emulator starts")
}

#[tokio::test]
async fn limits_1_and_200_are_sent_as_configured() {
    for limit in [1, 200] {
        let emu = emulator(450).await;
        let got = list(Arc::new(client(&emu, limit))).await;
        assert_exactly_once(&got, &emu.ids());
        assert_eq!(got.len(), 450);
        let requests = emu.requests();
        assert!(
            requests
                .iter()
                .all(|r| r.contains(&format!("limit={limit}&"))),
            "{requests:?}"
        );
    }
}

#[test]
fn limits_0_and_201_are_refused_at_build_time() {
    for limit in [0, 201, 1000] {
        let err = TriportBuilder::new()
            .with_session("s")
            .with_limit(limit)
            .build()
            .unwrap_err();
        assert!(matches!(err, TriportError::Config(_)), "{err}");
        assert!(err.to_string().contains("1..=200"), "{err}");
    }
}

#[tokio::test]
async fn default_limit_is_200_and_never_above() {
    let emu = emulator(401).await;
    let source = TriportBuilder::new()
        .with_base_url(emu.base_url())
        .with_session(emu.session())
        .fast()
        .build()
        .unwrap();
    assert_eq!(source.limit(), 200);
    let got = list(Arc::new(source)).await;
    assert_eq!(got.len(), 401);
    assert!(emu.requests().iter().all(|r| r.contains("limit=200")));
}

#[tokio::test]
async fn records_are_normalised() {
    let emu = emulator(3).await;
    let rows = emu.rows_newest_first();
    let got: Vec<_> = invitees(
        Arc::new(client(&emu, 50)),
        Scope::full(),
        DriverOptions::default(),
    )
    .map(|r| r.unwrap())
    .collect()
    .await;
    assert_eq!(got.len(), 3);
    for (invitee, row) in got.iter().zip(rows.iter()) {
        assert_eq!(invitee.id, row["user_id"].as_str().unwrap());
        assert_eq!(invitee.source.provider.as_str(), "triport");
        assert_eq!(invitee.status.as_str(), "joined");
        assert_eq!(
            invitee.display_name.as_deref(),
            row["display_name"].as_str()
        );
        assert_eq!(invitee.total_paid_micro, row["total_paid_micro"].as_i64());
        assert_eq!(
            invitee
                .joined_at
                .unwrap()
                .to_rfc3339_opts(chrono_secs(), true),
            row["signed_at"].as_str().unwrap()
        );
        assert!(invitee.email.is_none());
    }
}

fn chrono_secs() -> chrono::SecondsFormat {
    chrono::SecondsFormat::Secs
}

#[tokio::test]
async fn unauthenticated_is_its_own_error() {
    let emu = emulator(5).await;
    let source = TriportBuilder::new()
        .with_base_url(emu.base_url())
        .with_session("nope")
        .fast()
        .build()
        .unwrap();
    let err = first_error(Arc::new(source)).await;
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(matches!(
        err.downcast_ref::<TriportError>(),
        Some(TriportError::Unauthenticated(_))
    ));
    assert!(
        err.to_string()
            .starts_with("triport GET /v1/referrals/invitees?limit=200&offset=0"),
        "{err}"
    );
    assert_eq!(emu.requests().len(), 1, "401 is not retried");
}

#[tokio::test]
async fn missing_session_fails_before_any_request() {
    let emu = emulator(5).await;
    let source = TriportBuilder::new()
        .with_base_url(emu.base_url())
        .fast()
        .build()
        .unwrap();
    let err = first_error(Arc::new(source)).await;
    assert_eq!(err.kind(), ErrorKind::MissingCredential);
    assert!(emu.requests().is_empty());
}

#[tokio::test]
async fn rate_limited_honours_retry_after_then_gives_a_typed_error() {
    let emu = emulator(5).await;
    emu.set_faults(FaultPlan::none().then(Fault::RateLimited {
        retry_after: Some(1),
    }));
    let source = client(&emu, 50);
    let got = list(Arc::new(source.clone())).await;
    assert_eq!(got.len(), 5);
    // The wait the client chose before its one retry: what Retry-After asked, although
    // this client's own back-off is a few milliseconds.
    let stats = source.transport_stats();
    assert_eq!(stats.retries, 1);
    assert!(
        stats.retry_wait >= Duration::from_secs(1),
        "waited {:?} before retrying, Retry-After said 1 s",
        stats.retry_wait
    );

    // Throttled on every request: retries run out and the error says so.
    emu.set_faults(FaultPlan::none().every(
        1,
        Fault::RateLimited {
            retry_after: Some(0),
        },
    ));
    let err = first_error(Arc::new(client(&emu, 50))).await;
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(matches!(
        err.downcast_ref::<TriportError>(),
        Some(TriportError::RateLimited { .. })
    ));
    assert_eq!(err.attempts(), 7, "1 attempt + 6 retries");
}

#[tokio::test]
async fn internal_errors_and_malformed_bodies_after_retries() {
    let emu = emulator(5).await;
    emu.set_faults(FaultPlan::none().every(1, Fault::ServerError(500)));
    let err = first_error(Arc::new(client(&emu, 50))).await;
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(matches!(
        err.downcast_ref::<TriportError>(),
        Some(TriportError::Internal { status: 500, .. })
    ));

    emu.set_faults(FaultPlan::none().every(1, Fault::Malformed));
    let err = first_error(Arc::new(client(&emu, 50))).await;
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("not the documented JSON"), "{err}");

    emu.set_faults(FaultPlan::none().every(1, Fault::Reset));
    let err = first_error(Arc::new(client(&emu, 50))).await;
    assert_eq!(err.kind(), ErrorKind::Transport);
}

#[tokio::test]
async fn an_error_envelope_in_a_200_is_the_error_it_names() {
    let emu = emulator(5).await;
    let in_ok = |code: &str| Fault::Refused {
        status: 200,
        code: code.into(),
    };
    emu.set_faults(FaultPlan::none().then(in_ok("tier_insufficient")));
    let err = first_error(Arc::new(client(&emu, 50))).await;
    assert!(
        matches!(
            err.downcast_ref::<TriportError>(),
            Some(TriportError::TierInsufficient(_))
        ),
        "{err}"
    );
    assert_eq!(err.attempts(), 1, "a refusal is not retried: {err}");

    // `internal` in a 200 is retried like a 500, and the listing completes.
    emu.set_faults(FaultPlan::none().then(in_ok("internal")));
    let source = Arc::new(client(&emu, 50));
    let listed = list(source.clone()).await;
    assert_exactly_once(&listed, &emu.ids());
    assert_eq!(source.transport_stats().retries, 1);
}

#[tokio::test]
async fn operator_view_is_typed() {
    let emu = emulator(1).await;
    let triport = client(&emu, 50);
    // A user the emulator gives attribution rows (their number depends on the id).
    let mut candidates = (0..64).map(|n| format!("3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d{n:02x}"));
    let (id, raw) = loop {
        let id = candidates.next().expect("a user with attribution rows");
        let raw = raw_json(&emu, &format!("/v1/admin/referrals/users/{id}")).await;
        if raw["recent_attributions"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            break (id, raw);
        }
    };
    let id = id.as_str();
    let view = triport.get_user(id).await.expect("operator view");
    // Every typed field equals the raw answer for the same id.
    assert_eq!(view.user_id, raw["user_id"].as_str().unwrap_or_default());
    assert_eq!(view.tier, raw["tier"].as_i64().unwrap_or(-1));
    assert_eq!(
        view.tier_label,
        raw["tier_label"].as_str().unwrap_or_default()
    );
    assert_eq!(view.rate_bps, raw["rate_bps"].as_i64().unwrap_or(-1));
    assert_eq!(
        view.primary_code,
        raw["primary_code"].as_str().unwrap_or_default()
    );
    assert_eq!(view.custom_slug.as_deref(), raw["custom_slug"].as_str());
    let balance = &raw["balance"];
    assert_eq!(
        Some(view.balance.pending_micro),
        balance["pending_micro"].as_i64()
    );
    assert_eq!(
        Some(view.balance.available_micro),
        balance["available_micro"].as_i64()
    );
    assert_eq!(
        Some(view.balance.lifetime_micro),
        balance["lifetime_micro"].as_i64()
    );
    let rows = raw["recent_attributions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!rows.is_empty(), "the emulator answers attribution rows");
    assert_eq!(view.recent_attributions.len(), rows.len());
    for (typed, raw) in view.recent_attributions.iter().zip(&rows) {
        // The typed row keeps `ID` as text (Triport sends a number or a string); every
        // other field, known or not, comes back as sent.
        let mut expected = raw.clone();
        expected["ID"] = serde_json::Value::String(match &raw["ID"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        assert_eq!(serde_json::to_value(typed).unwrap_or_default(), expected);
    }
    for row in &view.recent_attributions {
        assert_eq!(row.user_id.as_deref(), Some(id));
        assert!(row.created_at.is_some());
        assert!(
            row.other.contains_key("Meta"),
            "unknown PascalCase fields kept"
        );
    }
}

#[tokio::test]
async fn operator_view_errors_are_distinct() {
    let emu = emulator(1).await;
    let id = "3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e";

    // Not a UUID: refused before any request.
    let err = client(&emu, 50).get_user("not-a-uuid").await.unwrap_err();
    assert!(matches!(
        err.downcast_ref::<TriportError>(),
        Some(TriportError::NotAUuid(_))
    ));
    assert!(emu.requests().is_empty());

    // No admin token configured on the client.
    let no_token = TriportBuilder::new()
        .with_base_url(emu.base_url())
        .with_session(emu.session())
        .build()
        .unwrap();
    let err = no_token.get_user(id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingCredential);

    // Wrong token.
    let wrong = TriportBuilder::new()
        .with_base_url(emu.base_url())
        .with_admin_token("wrong")
        .build()
        .unwrap();
    let err = wrong.get_user(id).await.unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<TriportError>(),
            Some(TriportError::AdminTokenInvalid(_))
        ),
        "{err}"
    );

    // Server without an operator token.
    let unset = TriportEmulator::start(TriportConfig::new(1).admin_token(None))
        .await
        .unwrap();
    let err = TriportBuilder::new()
        .with_base_url(unset.base_url())
        .with_admin_token("anything")
        .build()
        .unwrap()
        .get_user(id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<TriportError>(),
            Some(TriportError::AdminTokenUnset(_))
        ),
        "{err}"
    );

    // internal
    emu.set_faults(FaultPlan::none().every(1, Fault::ServerError(500)));
    let err = client(&emu, 50).get_user(id).await.unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<TriportError>(),
            Some(TriportError::Internal { .. })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn method_not_allowed_gone_and_invalid_user_id_map_from_the_wire() {
    // The client only sends GETs with valid UUIDs, so these come from raw responses.
    let emu = emulator(1).await;
    let user = "/v1/admin/referrals/users/3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e";
    let post = raw(&emu, affiliate_http::Method::POST, user).await;
    assert!(
        matches!(
            post.downcast_ref::<TriportError>(),
            Some(TriportError::MethodNotAllowed(_))
        ),
        "{post}"
    );
    assert!(post.to_string().contains("405"), "{post}");
    let gone = raw(
        &emu,
        affiliate_http::Method::POST,
        "/v1/admin/referrals/simulate-paid",
    )
    .await;
    assert!(
        matches!(
            gone.downcast_ref::<TriportError>(),
            Some(TriportError::Gone(_))
        ),
        "{gone}"
    );
    let invalid = raw(
        &emu,
        affiliate_http::Method::GET,
        "/v1/admin/referrals/users/12345",
    )
    .await;
    assert!(
        matches!(
            invalid.downcast_ref::<TriportError>(),
            Some(TriportError::InvalidUserId(_))
        ),
        "{invalid}"
    );
}

/// Sends `method path` with the operator token over the shared transport; the error it
/// settles on.
async fn raw(
    emu: &TriportEmulator,
    method: affiliate_http::Method,
    path: &str,
) -> affiliate_core::SourceError {
    use affiliate_http::{ClientConfig, HeaderName, HttpClient, NoHooks, RequestSpec, Secret, Url};
    let config = ClientConfig::default().with_retry(affiliate_tests::fast_retry());
    let http = HttpClient::new(affiliate_core::Provider::Triport, config).unwrap();
    let mut spec = RequestSpec::get(Url::parse(&format!("{}{path}", emu.base_url())).unwrap())
        .secret_header(
            HeaderName::from_static("x-admin-token"),
            &Secret::new(emu.admin_token().unwrap()),
        )
        .unwrap();
    spec.method = method;
    http.get_json::<serde_json::Value, TriportError>(&spec, &NoHooks)
        .await
        .expect_err("an error status")
}

#[tokio::test]
async fn a_session_pasted_with_its_cookie_name_still_works() {
    let emu = emulator(3).await;
    let source = TriportBuilder::new()
        .with_base_url(emu.base_url())
        .with_session(format!("nl_session={} ", emu.session()))
        .fast()
        .build()
        .unwrap();
    assert_eq!(list(Arc::new(source)).await.len(), 3);
}

#[tokio::test]
async fn credentials_are_refused_for_plain_http_off_loopback_at_build_time() {
    let err = TriportBuilder::new()
        .with_base_url("http://api.triport.io")
        .with_session("s3cr3t-session")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("plain HTTP"), "{err}");
    assert!(!err.to_string().contains("s3cr3t"));
}

/// The raw JSON body of a GET with the operator token.
async fn raw_json(emu: &TriportEmulator, path: &str) -> serde_json::Value {
    use affiliate_http::{ClientConfig, HeaderName, HttpClient, NoHooks, RequestSpec, Secret, Url};
    let http = HttpClient::new(affiliate_core::Provider::Triport, ClientConfig::default()).unwrap();
    let spec = RequestSpec::get(Url::parse(&format!("{}{path}", emu.base_url())).unwrap())
        .secret_header(
            HeaderName::from_static("x-admin-token"),
            &Secret::new(emu.admin_token().unwrap()),
        )
        .unwrap();
    http.get_json::<serde_json::Value, TriportError>(&spec, &NoHooks)
        .await
        .expect("a raw answer")
        .value
}
