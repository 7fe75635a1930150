//! Prefactor against its emulator: the conformance suite plus Prefactor-specific cases.

use affiliate_http::SourceBuilder;
use std::sync::Arc;

use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::{ErrorKind, InviteeSource, InviteeStatus, Scope, SourceError, Strategy};
use affiliate_prefactor::{PrefactorBuilder, PrefactorClient, PrefactorError};
use affiliate_sandbox::prefactor::{PrefactorConfig, PrefactorEmulator};
use affiliate_sandbox::Emulator;
use affiliate_sandbox::{Fault, FaultPlan};
use affiliate_tests::conformance::{assert_exactly_once, first_error, list, Harness, Via};
use affiliate_tests::FastTransport;
use async_trait::async_trait;
use futures::TryStreamExt;

struct PrefactorHarness;

const PAGE: u32 = 7;

fn builder(emu: &PrefactorEmulator) -> PrefactorBuilder {
    PrefactorBuilder::new()
        .with_base_url(emu.base_url())
        .with_token(emu.token())
        .with_page_size(PAGE)
        .fast()
}

fn client(emu: &PrefactorEmulator) -> PrefactorClient {
    builder(emu).build().expect("valid config")
}

#[async_trait]
impl Harness for PrefactorHarness {
    type Emu = PrefactorEmulator;
    fn page_size(&self) -> u32 {
        PAGE
    }
    async fn start(&self, records: u64) -> PrefactorEmulator {
        PrefactorEmulator::start(PrefactorConfig::new(records))
            .await
            .expect("emulator starts")
    }
    fn source_via(&self, emu: &PrefactorEmulator, via: &Via) -> Arc<dyn InviteeSource> {
        Arc::new(via.apply(builder(emu)).build().expect("valid config"))
    }
    fn refused_source(&self, emu: &PrefactorEmulator) -> (Arc<dyn InviteeSource>, Vec<String>) {
        let wrong = "pf_wrong_token_7f7f".to_owned();
        let source = builder(emu)
            .with_token(wrong.as_str())
            .build()
            .expect("valid config");
        (Arc::new(source), vec![wrong])
    }
    fn secrets(&self, emu: &PrefactorEmulator) -> Vec<String> {
        vec![emu.token().to_owned()]
    }
}

affiliate_tests::conformance_suite!(PrefactorHarness);

async fn emulator(records: u64) -> PrefactorEmulator {
    PrefactorEmulator::start(PrefactorConfig::new(records))
        .await
        .expect("emulator starts")
}

fn variant(err: &SourceError) -> &PrefactorError {
    err.downcast_ref::<PrefactorError>()
        .unwrap_or_else(|| panic!("not a PrefactorError: {err}"))
}

#[tokio::test]
async fn records_are_normalised() {
    let emu = emulator(40).await;
    let rows = emu.rows();
    let got: Vec<_> = invitees(
        Arc::new(client(&emu)),
        Scope::full(),
        DriverOptions::default(),
    )
    .try_collect()
    .await
    .unwrap();
    assert_eq!(got.len(), rows.len());
    for (invitee, row) in got.iter().zip(rows.iter()) {
        assert_eq!(invitee.id, row["id"].as_str().unwrap(), "creation order");
        assert_eq!(invitee.source.provider.as_str(), "prefactor");
        assert_eq!(invitee.source.account, "default");
        let expected = match row["status"].as_str().unwrap() {
            "pending" => InviteeStatus::Invited,
            "used" => InviteeStatus::Joined,
            "revoked" => InviteeStatus::Revoked,
            other => panic!("emulator sent {other}"),
        };
        assert_eq!(invitee.status, expected);
        assert_eq!(invitee.email.as_deref(), row["email"].as_str());
        let rfc = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        assert_eq!(
            rfc(invitee.invited_at),
            row["inserted_at"].as_str().unwrap()
        );
        assert_eq!(rfc(invitee.updated_at), row["updated_at"].as_str().unwrap());
        assert!(invitee.joined_at.is_none());
        assert_eq!(invitee.extra["invite_url"], row["invite_url"]);
        assert_eq!(invitee.extra["type"], "admin_user_invite");
        assert_eq!(
            invitee.extra["account_id"], row["account_id"],
            "no account_id configured: the row's is kept"
        );
    }
    let statuses: std::collections::HashSet<_> = got.iter().map(|i| i.status.clone()).collect();
    assert_eq!(statuses.len(), 3, "all three documented statuses seen");
}

#[tokio::test]
async fn account_id_is_sent_and_labels_the_source() {
    let emu = emulator(10).await;
    let source = builder(&emu)
        .with_account_id(emu.account_id())
        .build()
        .unwrap();
    assert_eq!(source.id().account, emu.account_id());
    let got: Vec<_> = invitees(Arc::new(source), Scope::full(), DriverOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|i| i.source.account == emu.account_id()));
    assert!(
        got.iter().all(|i| !i.extra.contains_key("account_id")),
        "the label already is the account"
    );
    let account = format!("account_id={}&", emu.account_id());
    assert!(emu.requests().iter().all(|r| r.contains(&account)));

    let labelled = builder(&emu)
        .with_account_id(emu.account_id())
        .with_label("growth")
        .build()
        .unwrap();
    assert_eq!(labelled.id().account, "growth");
}

#[tokio::test]
async fn requests_carry_sorting_and_pagination_and_no_idempotency_key_by_default() {
    let emu = emulator(15).await;
    let got = list(Arc::new(client(&emu))).await;
    assert_eq!(got.len(), 15);
    let requests = emu.requests();
    assert_eq!(
        requests[0],
        "GET /api/v1/admin_user_invite?sorting=id&pagination%5Boffset%5D=0&pagination%5Bpage_size%5D=7"
    );
    assert!(requests.iter().all(|r| !r.contains("idempotency_key")));
    // Pages overlap by one row.
    for offset in [6, 12] {
        let page = format!("pagination%5Boffset%5D={offset}&");
        assert!(requests.iter().any(|r| r.contains(&page)), "{requests:?}");
    }
}

#[tokio::test]
async fn every_page_sends_its_own_idempotency_key_and_retries_reuse_it() {
    let emu = emulator(20).await;
    // Every other request fails once, so pages are retried.
    emu.set_faults(FaultPlan::none().every(2, Fault::ServerError(503)));
    let keyed = builder(&emu)
        .with_idempotency_key("list-2026-11")
        .build()
        .unwrap();
    assert_eq!(list(Arc::new(keyed)).await.len(), 20);
    let requests = emu.requests();
    let mut keys = std::collections::BTreeMap::new();
    for request in &requests {
        let offset = request
            .split("pagination%5Boffset%5D=")
            .nth(1)
            .and_then(|rest| rest.split('&').next())
            .expect("an offset");
        let key = format!("idempotency_key=list-2026-11-{offset}-{PAGE}&");
        assert!(request.contains(&key), "{request} should carry {key}");
        *keys.entry(offset.to_owned()).or_insert(0) += 1;
    }
    assert!(keys.len() >= 3, "three pages at least: {keys:?}");
    assert!(
        keys.values().any(|n| *n > 1),
        "some page was retried: {requests:?}"
    );
}

#[tokio::test]
async fn default_page_size_is_100() {
    let emu = emulator(250).await;
    let source = PrefactorBuilder::new()
        .with_base_url(emu.base_url())
        .with_token(emu.token())
        .fast()
        .build()
        .unwrap();
    assert_eq!(source.page_size(), 100);
    let got = list(Arc::new(source)).await;
    assert_exactly_once(&got, &emu.ids());
    assert!(emu
        .requests()
        .iter()
        .all(|r| r.ends_with("pagination%5Bpage_size%5D=100")));
}

#[tokio::test]
async fn descending_and_inserted_at_sortings_list_everything() {
    let emu = emulator(30).await;
    let desc = builder(&emu).with_sorting("-id").build().unwrap();
    assert_eq!(
        desc.strategy(),
        Strategy::Counted {
            growing_tail: false
        }
    );
    let got = list(Arc::new(desc)).await;
    let mut expected = emu.ids();
    expected.reverse();
    assert_eq!(got, expected, "newest first");

    let by_time = builder(&emu).with_sorting("inserted_at").build().unwrap();
    assert_eq!(by_time.strategy(), Strategy::Counted { growing_tail: true });
    assert_eq!(list(Arc::new(by_time)).await, emu.ids());

    // A field the emulator does not sort by: invalid_value, not a silent misorder.
    let other = builder(&emu).with_sorting("email").build().unwrap();
    let err = first_error(Arc::new(other)).await;
    assert!(
        matches!(variant(&err), PrefactorError::InvalidValue(_)),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

#[tokio::test]
async fn every_error_code_maps_to_its_variant() {
    type Check = fn(&PrefactorError) -> bool;
    let cases: [(u16, &str, ErrorKind, Check); 14] = [
        (400, "bad_request", ErrorKind::InvalidRequest, |e| {
            matches!(e, PrefactorError::BadRequest(_))
        }),
        (401, "bad_authtoken", ErrorKind::Unauthenticated, |e| {
            matches!(e, PrefactorError::BadAuthtoken(_))
        }),
        (401, "not_authenticated", ErrorKind::Unauthenticated, |e| {
            matches!(e, PrefactorError::NotAuthenticated(_))
        }),
        (403, "not_permitted", ErrorKind::PermissionDenied, |e| {
            matches!(e, PrefactorError::NotPermitted(_))
        }),
        (400, "not_implemented", ErrorKind::InvalidRequest, |e| {
            matches!(e, PrefactorError::NotImplemented(_))
        }),
        (400, "unknown", ErrorKind::InvalidRequest, |e| {
            matches!(e, PrefactorError::Unknown(_))
        }),
        (404, "not_found", ErrorKind::NotFound, |e| {
            matches!(e, PrefactorError::NotFound(_))
        }),
        (400, "unexpected_ref_type", ErrorKind::InvalidRequest, |e| {
            matches!(e, PrefactorError::UnexpectedRefType(_))
        }),
        (400, "unexpected", ErrorKind::InvalidRequest, |e| {
            matches!(e, PrefactorError::Unexpected(_))
        }),
        (400, "invalid_action", ErrorKind::InvalidRequest, |e| {
            matches!(e, PrefactorError::InvalidAction(_))
        }),
        (400, "invalid_value", ErrorKind::InvalidRequest, |e| {
            matches!(e, PrefactorError::InvalidValue(_))
        }),
        (422, "required_value", ErrorKind::InvalidRequest, |e| {
            matches!(e, PrefactorError::RequiredValue(_))
        }),
        (
            409,
            "idempotency_key_already_used",
            ErrorKind::InvalidRequest,
            |e| matches!(e, PrefactorError::IdempotencyKeyAlreadyUsed(_)),
        ),
        (
            422,
            "validation_errors",
            ErrorKind::InvalidRequest,
            |e| matches!(e, PrefactorError::ValidationErrors { errors, .. } if errors.contains_key("email")),
        ),
    ];
    let emu = emulator(3).await;
    for (status, code, kind, check) in cases {
        emu.push_error(status, code);
        let before = emu.requests().len();
        let err = first_error(Arc::new(client(&emu))).await;
        assert!(check(variant(&err)), "{code}: {err}");
        assert_eq!(err.kind(), kind, "{code}");
        assert!(err.to_string().contains(code), "{err}");
        assert!(err.to_string().contains(&format!("HTTP {status}")), "{err}");
        assert_eq!(emu.requests().len(), before + 1, "{code} is not retried");
    }
    emu.push_error(418, "brand_new_code");
    let err = first_error(Arc::new(client(&emu))).await;
    assert!(
        matches!(variant(&err), PrefactorError::Api { code, .. } if code == "brand_new_code"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_token_wrong_account_and_server_errors() {
    let emu = emulator(3).await;
    let err = first_error(Arc::new(builder(&emu).with_token("nope").build().unwrap())).await;
    assert!(
        matches!(variant(&err), PrefactorError::BadAuthtoken(_)),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(emu.requests().len(), 1, "401 is not retried");
    assert!(
        err.to_string()
            .starts_with("prefactor GET /api/v1/admin_user_invite?sorting=id"),
        "{err}"
    );

    let other_account = builder(&emu)
        .with_account_id("013xrzp12g3nqk8ngskn1wtxgka5b0nf")
        .build()
        .unwrap();
    let err = first_error(Arc::new(other_account)).await;
    assert!(
        matches!(variant(&err), PrefactorError::NotPermitted(_)),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);

    emu.set_faults(FaultPlan::none().every(1, Fault::ServerError(500)));
    let err = first_error(Arc::new(client(&emu))).await;
    assert!(
        matches!(variant(&err), PrefactorError::Unexpected(d) if d.status == 500),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.attempts(), 7, "1 attempt + 6 retries");

    emu.set_faults(FaultPlan::none().every(
        1,
        Fault::RateLimited {
            retry_after: Some(0),
        },
    ));
    let err = first_error(Arc::new(client(&emu))).await;
    assert!(
        matches!(variant(&err), PrefactorError::RateLimited { .. }),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::RateLimited);

    emu.set_faults(FaultPlan::none().every(1, Fault::Malformed));
    let err = first_error(Arc::new(client(&emu))).await;
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");

    emu.set_faults(FaultPlan::none().every(1, Fault::Reset));
    let err = first_error(Arc::new(client(&emu))).await;
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
}

#[test]
fn configuration_is_checked_at_build_time() {
    let base = || PrefactorBuilder::new().with_token("t");
    for size in [0, 101, 1000] {
        let err = base().with_page_size(size).build().unwrap_err();
        assert!(matches!(err, PrefactorError::Config(_)), "{err}");
        assert!(err.to_string().contains("1..=100"), "{err}");
    }
    assert!(base().with_page_size(1).build().is_ok());
    assert!(base().with_page_size(100).build().is_ok());
    for sorting in ["", "-", "--id", "Id", "id,email"] {
        assert!(base().with_sorting(sorting).build().is_err(), "{sorting:?}");
    }
    assert!(base().with_idempotency_key("").build().is_err());
    assert!(base().with_idempotency_key("k".repeat(65)).build().is_err());
    assert!(base().with_idempotency_key("k".repeat(64)).build().is_ok());
    assert!(base().with_account_id("").build().is_err());
    assert!(base().with_base_url("http://example.com").build().is_err());
    let err = PrefactorBuilder::new().build().unwrap_err();
    assert!(matches!(err, PrefactorError::MissingCredential(_)), "{err}");
    assert!(err.to_string().contains("PREFACTOR_TOKEN"));
}

#[tokio::test]
async fn bounded_drift_is_read_exactly_once() {
    // Records are inserted and deleted between pages, not after every request.
    let emu = emulator(60).await;
    let before = emu.ids();
    let source: Arc<dyn InviteeSource> = Arc::new(client(&emu));
    let mut pages = affiliate_core::driver::pages(
        source,
        Scope::full(),
        DriverOptions::default().with_concurrency(1),
    );
    let mut got = Vec::new();
    let mut n = 0;
    while let Some(page) = pages.try_next().await.unwrap() {
        got.extend(page.invitees.into_iter().map(|i| i.id));
        n += 1;
        if n == 2 {
            emu.delete_at(0);
            emu.delete_at(10);
            emu.insert_newest(9);
        }
    }
    let after = emu.ids();
    let survivors: Vec<String> = before
        .iter()
        .filter(|id| after.contains(id))
        .cloned()
        .collect();
    assert_exactly_once(&got, &survivors);
    let inserted: Vec<String> = after
        .iter()
        .filter(|id| !before.contains(id))
        .cloned()
        .collect();
    assert_exactly_once(&got, &inserted);
}

#[tokio::test]
async fn a_server_that_honours_idempotency_keys_serves_every_page() {
    let emu = PrefactorEmulator::start(PrefactorConfig::new(30).honour_idempotency_keys())
        .await
        .expect("emulator");
    let keyed = builder(&emu)
        .with_idempotency_key("sync-7")
        .build()
        .unwrap();
    let got = list(Arc::new(keyed)).await;
    assert_exactly_once(&got, &emu.ids());
    assert_eq!(got.len(), 30);
}

/// An incremental scope in creation order is listed newest first (`sorting=-id`) with the
/// overlapping offset walk; under drift every record that existed throughout is listed once.
#[tokio::test]
async fn an_incremental_listing_walks_newest_first_safely_under_drift() {
    use affiliate_sandbox::Drift;
    let since = chrono::DateTime::from_timestamp(0, 0).unwrap();
    for drift in [
        Drift {
            inserts_per_request: 2,
            deletes_per_request: 0,
        },
        Drift {
            inserts_per_request: 0,
            deletes_per_request: 2,
        },
    ] {
        let emu = emulator(90).await;
        let before: std::collections::HashSet<String> = emu.ids().into_iter().collect();
        emu.set_drift(drift);
        let source = client(&emu);
        assert_eq!(
            source.strategy_for(&Scope::since(since)),
            Strategy::NewestFirstOffset
        );
        let rows: Vec<affiliate_core::Invitee> =
            invitees(source, Scope::since(since), DriverOptions::default())
                .try_collect()
                .await
                .expect("listing");
        emu.set_drift(Drift::default());
        let got: Vec<String> = rows.into_iter().map(|i| i.id).collect();
        let survivors: Vec<String> = emu
            .ids()
            .into_iter()
            .filter(|i| before.contains(i))
            .collect();
        assert_exactly_once(&got, &survivors);
        assert!(
            emu.requests().iter().all(|r| r.contains("sorting=-id")),
            "{drift:?}"
        );
    }
}
