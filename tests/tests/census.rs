//! Census against its emulator: the conformance suite plus Census-specific cases.

use affiliate_http::SourceBuilder;
use std::sync::Arc;
use std::time::Duration;

use affiliate_census::{CensusBuilder, CensusClient, CensusError, Order, Region};
use affiliate_core::driver::{invitees, DriverOptions, PaginationError};
use affiliate_core::{ErrorKind, InviteeSource, InviteeStatus, Scope, SourceError, Strategy};
use affiliate_sandbox::census::{CensusConfig, CensusEmulator};
use affiliate_sandbox::Emulator;
use affiliate_sandbox::{Drift, Fault, FaultPlan};
use affiliate_tests::conformance::{assert_exactly_once, first_error, list, Harness, Via};
use affiliate_tests::FastTransport;
use async_trait::async_trait;
use futures::TryStreamExt;

struct CensusHarness;

const PAGE: u32 = 7;

fn builder(emu: &CensusEmulator) -> CensusBuilder {
    CensusBuilder::new()
        .with_base_url(emu.base_url())
        .with_token(emu.token())
        .with_per_page(PAGE)
        .fast()
}

fn client(emu: &CensusEmulator) -> CensusClient {
    builder(emu).build().expect("valid config")
}

#[async_trait]
impl Harness for CensusHarness {
    type Emu = CensusEmulator;
    fn page_size(&self) -> u32 {
        PAGE
    }
    async fn start(&self, records: u64) -> CensusEmulator {
        CensusEmulator::start(CensusConfig::new(records))
            .await
            .expect("emulator starts")
    }
    fn source_via(&self, emu: &CensusEmulator, via: &Via) -> Arc<dyn InviteeSource> {
        Arc::new(via.apply(builder(emu)).build().expect("valid config"))
    }
    fn refused_source(&self, emu: &CensusEmulator) -> (Arc<dyn InviteeSource>, Vec<String>) {
        let wrong = "census_wrong_pat_7f7f".to_owned();
        let source = builder(emu)
            .with_token(wrong.as_str())
            .build()
            .expect("valid config");
        (Arc::new(source), vec![wrong])
    }
    fn secrets(&self, emu: &CensusEmulator) -> Vec<String> {
        vec![emu.token().to_owned()]
    }
}

affiliate_tests::conformance_suite!(CensusHarness);

async fn emulator(records: u64) -> CensusEmulator {
    CensusEmulator::start(CensusConfig::new(records))
        .await
        .expect("emulator starts")
}

fn variant(err: &SourceError) -> &CensusError {
    err.downcast_ref::<CensusError>()
        .unwrap_or_else(|| panic!("not a CensusError: {err}"))
}

#[tokio::test]
async fn records_are_normalised_oldest_first() {
    let emu = emulator(40).await;
    let mut rows = emu.rows_newest_first();
    rows.reverse();
    let got: Vec<_> = invitees(
        Arc::new(client(&emu)),
        Scope::full(),
        DriverOptions::default(),
    )
    .try_collect()
    .await
    .unwrap();
    assert_eq!(got.len(), rows.len());
    let ms = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    };
    for (invitee, row) in got.iter().zip(rows.iter()) {
        assert_eq!(
            invitee.id,
            row["id"].as_u64().unwrap().to_string(),
            "oldest first"
        );
        assert_eq!(invitee.source.provider.as_str(), "census");
        assert_eq!(invitee.source.account, "default");
        let claimed = !row["claimed_at"].is_null();
        let expected = if claimed {
            InviteeStatus::Joined
        } else {
            InviteeStatus::Invited
        };
        assert_eq!(invitee.status, expected);
        assert_eq!(
            ms(invitee.invited_at).as_deref(),
            row["created_at"].as_str()
        );
        assert_eq!(ms(invitee.joined_at).as_deref(), row["claimed_at"].as_str());
        assert_eq!(invitee.email.as_deref(), row["email"].as_str());
        assert_eq!(invitee.role.as_deref(), row["role"].as_str());
        assert_eq!(
            invitee.invited_by,
            Some(row["created_by_id"].as_u64().unwrap().to_string())
        );
        assert_eq!(
            invitee.extra.get("claimed_by_id"),
            claimed.then(|| &row["claimed_by_id"])
        );
        assert_eq!(
            invitee.extra["associated_workspace_invitations"],
            row["associated_workspace_invitations"]
        );
    }
}

#[tokio::test]
async fn requests_carry_page_per_page_and_order_asc() {
    let emu = emulator(20).await;
    assert_eq!(list(Arc::new(client(&emu))).await.len(), 20);
    let requests = emu.requests();
    // The newest page pins the list as the pass begins and is read again after it.
    let pin = "GET /api/v1/invitations?page=1&per_page=7&order=desc";
    let pins = requests.iter().filter(|r| *r == pin).count();
    assert_eq!(pins, 2, "{requests:?}");
    for page in [1, 2] {
        let wanted = format!("page={page}&per_page=7&order=asc");
        assert!(
            requests.iter().any(|r| r.ends_with(&wanted)),
            "{requests:?}"
        );
    }
}

#[tokio::test]
async fn default_per_page_is_100() {
    let emu = emulator(250).await;
    let source = CensusBuilder::new()
        .with_base_url(emu.base_url())
        .with_token(emu.token())
        .fast()
        .build()
        .unwrap();
    assert_eq!(source.per_page(), 100);
    assert_eq!(source.order(), Order::Asc);
    let got = list(Arc::new(source)).await;
    assert_exactly_once(&got, &emu.ids_newest_first());
    assert!(emu.requests().iter().all(|r| r.contains("per_page=100&")));
}

#[tokio::test]
async fn descending_order_lists_everything_newest_first() {
    let emu = emulator(30).await;
    let desc = builder(&emu).with_order(Order::Desc).build().unwrap();
    assert_eq!(
        desc.strategy(),
        Strategy::Counted {
            growing_tail: false
        }
    );
    assert_eq!(list(Arc::new(desc)).await, emu.ids_newest_first());
    assert!(emu.requests().iter().all(|r| r.ends_with("order=desc")));
}

#[tokio::test]
async fn statuses_map_to_distinct_variants_with_the_message() {
    let emu = emulator(3).await;
    type Check = fn(&CensusError) -> bool;
    let cases: [(u16, &str, ErrorKind, Check); 5] = [
        (
            403,
            "Only admins may list invitations",
            ErrorKind::PermissionDenied,
            |e| matches!(e, CensusError::Forbidden { message } if message == "Only admins may list invitations"),
        ),
        (
            404,
            "Organization not found",
            ErrorKind::NotFound,
            |e| matches!(e, CensusError::NotFound { message } if message == "Organization not found"),
        ),
        (
            422,
            "per_page is invalid",
            ErrorKind::InvalidRequest,
            |e| matches!(e, CensusError::Unprocessable { message } if message == "per_page is invalid"),
        ),
        (
            400,
            "bad",
            ErrorKind::InvalidRequest,
            |e| matches!(e, CensusError::Api { status: 400, message } if message == "bad"),
        ),
        (
            409,
            "",
            ErrorKind::Other,
            |e| matches!(e, CensusError::Api { status: 409, message } if message == "(empty body)"),
        ),
    ];
    for (status, message, kind, check) in cases {
        emu.push_error(status, message);
        let before = emu.requests().len();
        let err = first_error(Arc::new(client(&emu))).await;
        assert!(check(variant(&err)), "{status}: {err:?}");
        assert_eq!(err.kind(), kind, "{status}");
        assert_eq!(emu.requests().len(), before + 1, "{status} is not retried");
    }

    let err = first_error(Arc::new(builder(&emu).with_token("nope").build().unwrap())).await;
    assert!(
        matches!(variant(&err), CensusError::Unauthorized { message } if message.contains("personal access token")),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(
        err.to_string()
            .starts_with("census GET /api/v1/invitations?page=1&per_page=7&order=desc: 401"),
        "{err}"
    );

    // Throttling and server errors come as plain text: the raw body is the message.
    emu.set_faults(FaultPlan::none().every(
        1,
        Fault::RateLimited {
            retry_after: Some(0),
        },
    ));
    let err = first_error(Arc::new(client(&emu))).await;
    assert!(
        matches!(variant(&err), CensusError::RateLimited { message, .. } if message == "Retry later\n"),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.attempts(), 7, "1 attempt + 6 retries");

    emu.set_faults(FaultPlan::none().every(1, Fault::ServerError(502)));
    let err = first_error(Arc::new(client(&emu))).await;
    assert!(
        matches!(variant(&err), CensusError::Server { status: 502, message } if message == "Internal Server Error"),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Server);

    emu.set_faults(FaultPlan::none().every(1, Fault::Malformed));
    assert_eq!(
        first_error(Arc::new(client(&emu))).await.kind(),
        ErrorKind::Decode
    );
    emu.set_faults(FaultPlan::none().every(1, Fault::Reset));
    assert_eq!(
        first_error(Arc::new(client(&emu))).await.kind(),
        ErrorKind::Transport
    );

    // A base URL without the API (wrong region/proxy path): 404 from the route.
    emu.set_faults(FaultPlan::none());
    let wrong_path = builder(&emu)
        .with_base_url(format!("{}/nope", emu.base_url()))
        .build()
        .unwrap();
    let err = first_error(Arc::new(wrong_path)).await;
    assert!(
        matches!(variant(&err), CensusError::NotFound { .. }),
        "{err}"
    );
}

#[test]
fn configuration_is_checked_at_build_time() {
    let base = || CensusBuilder::new().with_token("t");
    assert_eq!(
        base().build().unwrap().base_url().as_str(),
        "https://app.getcensus.com/"
    );
    assert_eq!(
        base()
            .with_region(Region::Eu)
            .build()
            .unwrap()
            .base_url()
            .as_str(),
        "https://app-eu.getcensus.com/"
    );
    assert_eq!(
        base()
            .with_region(Region::Eu)
            .with_base_url("https://proxy.example/census")
            .build()
            .unwrap()
            .base_url()
            .as_str(),
        "https://proxy.example/census"
    );
    assert_eq!("EU".parse::<Region>().unwrap(), Region::Eu);
    assert!("mars".parse::<Region>().is_err());
    for per_page in [0, 101] {
        let err = base().with_per_page(per_page).build().unwrap_err();
        assert!(err.to_string().contains("1..=100"), "{err}");
    }
    assert!(base().with_per_page(1).build().is_ok());
    assert!(base().with_base_url("http://example.com").build().is_err());
    let err = CensusBuilder::new().build().unwrap_err();
    assert!(matches!(err, CensusError::MissingCredential(_)), "{err}");
    assert!(err.to_string().contains("CENSUS_TOKEN"));
}

#[tokio::test]
async fn bounded_drift_is_read_exactly_once() {
    let emu = emulator(60).await;
    let before = emu.ids_newest_first();
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
            // Oldest-first: deleting the oldest shifts every later page back.
            let last = before.len() as u64 - 1;
            emu.delete_at(last);
            emu.delete_at(last - 5);
            emu.insert_newest(9);
        }
    }
    let after = emu.ids_newest_first();
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

/// Totals that are off (an approximate count) but still name the right last page: the
/// last page holds rows past `total_records` (4 fewer than real), or the count is 15 too
/// high. (A count so low that the server's own `next_page` ends the list early hides rows
/// from any client that follows the documented pagination; that is not tested.)
#[tokio::test]
async fn approximate_totals_in_either_direction_lose_nothing() {
    for error in [-4, 15] {
        let emu = CensusEmulator::start(CensusConfig::new(47).approximate_total(error))
            .await
            .expect("emulator");
        let got = list(Arc::new(client(&emu))).await;
        assert_exactly_once(&got, &emu.ids());
        assert_eq!(got.len(), 47, "total off by {error}");
    }
}

/// An incremental scope is listed newest first (`order=desc`) page by page; under drift
/// (sign-ups at the head, deletions anywhere) every record that existed throughout is
/// listed once, none twice.
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
        Drift {
            inserts_per_request: 1,
            deletes_per_request: 1,
        },
    ] {
        let emu = emulator(120).await;
        let before: std::collections::HashSet<String> = emu.ids().into_iter().collect();
        emu.set_drift(drift);
        let source = client(&emu);
        assert_eq!(
            source.strategy_for(&Scope::since(since)),
            Strategy::NewestFirstPages
        );
        let rows: Vec<_> = invitees(source, Scope::since(since), DriverOptions::default())
            .try_collect()
            .await
            .expect("listing");
        let got: Vec<String> = rows
            .into_iter()
            .map(|i: affiliate_core::Invitee| i.id)
            .collect();
        emu.set_drift(Drift::default());
        let survivors: Vec<String> = emu
            .ids()
            .into_iter()
            .filter(|i| before.contains(i))
            .collect();
        assert_exactly_once(&got, &survivors);
        assert!(
            emu.requests().iter().all(|r| r.contains("order=desc")),
            "{drift:?}"
        );
    }
}

#[tokio::test]
async fn a_deletion_hidden_by_an_arrival_is_caught_through_the_adapter() {
    // 50 rows in pages of 7, one request at a time, 20 ms each. Once the first ascending
    // page is served, its first row is deleted and a row arrives: the total stays at 50,
    // page 2 starts one row further on, and only the pin shows what happened.
    let emu = Arc::new(
        CensusEmulator::start(CensusConfig::new(50).latency(Duration::from_millis(20)))
            .await
            .expect("emulator starts"),
    );
    let oldest = emu.ids().last().cloned().expect("rows");
    let change = {
        let emu = emu.clone();
        tokio::spawn(async move {
            // The pin, then page 1; its rows are built as it arrives.
            while emu.requests().len() < 2 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert!(emu.delete_at(emu.ids().len() as u64 - 1), "the oldest row");
            emu.insert_newest(1);
        })
    };
    let options = DriverOptions::default().with_concurrency(1);
    let got: Vec<String> = invitees(Arc::new(client(&emu)), Scope::full(), options)
        .map_ok(|invitee| invitee.id)
        .try_collect()
        .await
        .expect("the listing settles once the list does");
    change.await.expect("the change was made");
    let mut now = emu.ids();
    assert_eq!(now.len(), 50, "the total did not change");
    now.push(oldest);
    assert_exactly_once(&got, &now);
}

#[tokio::test]
async fn a_list_that_never_settles_ends_with_a_typed_error_not_short() {
    // One arrival and one deletion after every request: the total never moves, and rows
    // keep sliding back onto pages already read. (Unpinned, the listing of 60 ended
    // "complete" without two rows.)
    for records in [60, 90, 150] {
        let emu = emulator(records).await;
        emu.set_drift(Drift {
            inserts_per_request: 1,
            deletes_per_request: 1,
        });
        let options = DriverOptions::default().with_concurrency(1);
        let err = invitees(Arc::new(client(&emu)), Scope::full(), options)
            .try_collect::<Vec<_>>()
            .await
            .expect_err("a list that never settles cannot be listed complete");
        assert!(
            matches!(
                err.downcast_ref::<PaginationError>(),
                Some(PaginationError::KeepsShrinking(_))
            ),
            "{records}: {err}"
        );
    }
}
