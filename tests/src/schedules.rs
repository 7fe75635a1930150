//! Property-tested fault schedules: random mixes of every fault kind (the emulator's
//! provider-shaped answers and the [proxy](crate::proxy)'s wire faults), drift and a
//! silently clamped page size, against one adapter. Every listing either lists every
//! record exactly once, or stops with a typed error naming the provider after bounded
//! retries (no more than the faults injected) and bounded time (far fewer pages than a
//! ceiling that only a loop reaches, each attempt under its timeout); proptest shrinks a
//! failing case to a minimal schedule.
//!
//! The normal test run tries [`BOUNDED_CASES`] schedules per adapter (more with
//! `AFFILIATE_SCHEDULE_CASES`); the `#[ignore]`d long run tries [`LONG_CASES`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::{InviteeSource, Scope, SourceError, Strategy as Paging};
use affiliate_sandbox::{Drift, Emulator, Fault, FaultPlan};
use futures::StreamExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::conformance::{Harness, Via};
use crate::proxy::{FaultProxy, Wire};

/// Schedules per adapter in the normal test run.
pub const BOUNDED_CASES: u32 = 24;
/// Schedules per adapter in the long run.
pub const LONG_CASES: u32 = 1_000;

/// The per-attempt timeout the schedules run with: slow answers past it are faults.
const TIMEOUT: Duration = Duration::from_millis(300);
/// The body cap the schedules run with; [`Wire::Oversized`] answers are bigger.
const MAX_BODY: usize = 64 * 1024;
/// The longest wait the schedules' retry policy ([`crate::fast_retry`]) chooses before a
/// retry: its `max_retry_after` (its back-off is shorter).
const MAX_RETRY_WAIT: Duration = Duration::from_secs(2);
/// A listing still running after this long is hung.
const HANG: Duration = Duration::from_secs(120);
/// The page ceiling the schedules list with: a listing of at most a few pages that reaches
/// it is looping (time is bounded by pages, their retries and each attempt's timeout).
const MAX_PAGES: u64 = 200;

/// One generated case.
#[derive(Clone)]
pub struct Schedule {
    /// Records the emulator starts with, in pages of the harness's page size.
    pub records: u64,
    /// The proxy's wire faults, one per request from the first.
    pub wire: Vec<Wire>,
    /// The emulator's answers, one per request it sees (`None`: a normal answer).
    pub answers: Vec<Option<Fault>>,
    /// Rows inserted and deleted after every request.
    pub drift: Drift,
    /// The page size the server silently serves instead of the one asked for.
    pub clamp: Option<u64>,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only what is not a pass, so a shrunk case reads as the faults that matter.
        let wire: Vec<_> = self
            .wire
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != Wire::Pass)
            .collect();
        let answers: Vec<_> = self
            .answers
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_some())
            .collect();
        f.debug_struct("Schedule")
            .field("records", &self.records)
            .field("wire", &wire)
            .field("answers", &answers)
            .field("drift", &self.drift)
            .field("clamp", &self.clamp)
            .finish()
    }
}

impl Schedule {
    /// `records` records behind the proxy's `wire` script, and nothing else.
    pub fn wire_only(records: u64, wire: Vec<Wire>) -> Self {
        Self {
            records,
            wire,
            answers: Vec::new(),
            drift: Drift::default(),
            clamp: None,
        }
    }

    /// Whether a correct client must finish this listing: only faults a retry cures (a
    /// body cut short or not JSON is one: the client decodes again up to
    /// `max_decode_retries` times, so at most that many; a `Content-Type` that is not
    /// JSON over a JSON body is read anyway; a proxy's 429 or 5xx page is retried), fewer
    /// than the retry budget allows, no drift and no clamp.
    fn must_complete(&self) -> bool {
        let wire_ok = self.wire.iter().all(|w| {
            matches!(
                w,
                Wire::Pass
                    | Wire::CloseBeforeHeaders
                    | Wire::CutMidBody
                    | Wire::Truncated
                    | Wire::WrongContentType
                    | Wire::Slow(_)
            )
        });
        let answers_ok = self.answers.iter().flatten().all(|f| match f {
            Fault::Bare { status, .. } => *status == 429 || *status >= 500,
            f => matches!(
                f,
                Fault::RateLimited { .. }
                    | Fault::ServerError(_)
                    | Fault::Malformed
                    | Fault::Reset
                    | Fault::Slow(_)
            ),
        });
        let undecodable = self.wire.iter().filter(|w| **w == Wire::Truncated).count()
            + self
                .answers
                .iter()
                .flatten()
                .filter(|f| matches!(f, Fault::Malformed))
                .count();
        let faults = self.wire.iter().filter(|w| **w != Wire::Pass).count()
            + self.answers.iter().flatten().count();
        wire_ok
            && answers_ok
            && undecodable <= 3
            && faults <= 4
            && self.drift == Drift::default()
            && self.clamp.is_none()
    }

    /// Faults that can fail an attempt: each is worth at most one retry.
    fn failing_faults(&self) -> u64 {
        let wire = self
            .wire
            .iter()
            .filter(|w| w.fails_attempt(TIMEOUT))
            .count();
        let answers = self
            .answers
            .iter()
            .flatten()
            .filter(|f| !matches!(f, Fault::Slow(d) if *d < TIMEOUT))
            .count();
        (wire + answers) as u64
    }
}

fn wire() -> impl Strategy<Value = Wire> {
    prop_oneof![
        12 => Just(Wire::Pass),
        1 => Just(Wire::CloseBeforeHeaders),
        1 => Just(Wire::CutMidBody),
        1 => Just(Wire::Truncated),
        1 => Just(Wire::WrongContentType),
        1 => Just(Wire::Oversized(MAX_BODY * 2)),
        1 => prop_oneof![Just(Duration::from_millis(20)), Just(TIMEOUT * 2)].prop_map(Wire::Slow),
        1 => Just(Wire::Trickle(Duration::from_millis(50))),
        1 => Just(Wire::NeverEnds),
        1 => Just(Wire::RepeatLast),
    ]
}

fn answer() -> impl Strategy<Value = Option<Fault>> {
    prop_oneof![
        10 => Just(None),
        2 => prop_oneof![Just(None), Just(Some(0)), Just(Some(1))]
            .prop_map(|retry_after| Some(Fault::RateLimited { retry_after })),
        2 => prop_oneof![Just(500u16), Just(502), Just(503), Just(504)].prop_map(|s| Some(Fault::ServerError(s))),
        1 => prop_oneof![Just(502u16), Just(503), Just(429), Just(403)]
            .prop_map(|status| Some(Fault::Bare { status, html: true })),
        1 => Just(Some(Fault::Malformed)),
        1 => Just(Some(Fault::Reset)),
        1 => Just(Some(Fault::Refused { status: 200, code: "internal".into() })),
        1 => any::<bool>().prop_map(|omitted| Some(Fault::NullData { omitted })),
    ]
}

/// Schedules for a source paging `page` rows at a time; with `mixed_drift`, records also
/// arrive and leave at once ([`sees_hidden_shifts`]).
pub fn schedules(page: u32, mixed_drift: bool) -> impl Strategy<Value = Schedule> {
    let page = u64::from(page);
    // Otherwise inserts or deletes, not both at once: a listing that neither overlaps its
    // pages, pins its newest page nor checks its head cannot see rows slide under it while
    // as many arrive as leave (its total stays put).
    let mixed = if mixed_drift { 1 } else { 0 };
    let drift = prop_oneof![
        4 => Just(Drift::default()),
        1 => (1u32..=2).prop_map(|inserts_per_request| Drift {
            inserts_per_request,
            deletes_per_request: 0,
        }),
        1 => (1u32..=2).prop_map(|deletes_per_request| Drift {
            inserts_per_request: 0,
            deletes_per_request,
        }),
        mixed => (1u32..=2, 1u32..=2).prop_map(|(inserts_per_request, deletes_per_request)| Drift {
            inserts_per_request,
            deletes_per_request,
        }),
    ];
    let clamp = prop_oneof![4 => Just(None), 1 => (1..page.max(2)).prop_map(Some)];
    (
        0..=4 * page + 3,
        proptest::collection::vec(wire(), 0..16),
        proptest::collection::vec(answer(), 0..16),
        drift,
        clamp,
    )
        .prop_map(|(records, wire, answers, drift, clamp)| Schedule {
            records,
            wire,
            answers,
            drift,
            clamp,
        })
}

/// Runs `cases` schedules against `harness` (`AFFILIATE_SCHEDULE_CASES` overrides the
/// count); panics with the shrunk schedule when one fails. Returns how many ran.
pub fn check<H: Harness>(harness: &H, cases: u32) -> u32 {
    let cases = std::env::var("AFFILIATE_SCHEDULE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = schedules(
        harness.page_size(),
        runtime.block_on(sees_hidden_shifts(harness)),
    );
    let result = runner.run(&strategy, |schedule| {
        runtime.block_on(run_case(harness, &schedule))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    cases
}

/// Whether `harness`'s full listing sees rows slide under it even when its total stays
/// put, by the driver's own rules: its first planned page overlaps the next
/// ([`Position::overlaps`](affiliate_core::Position::overlaps)), the source pins the
/// newest page of its list ([`InviteeSource::lists_newest_first`]), or it is a counted
/// newest-first list whose first slice arrivals reach (its passes read their head again:
/// [`InviteeSource::arrivals_land_in`]). Then its schedules also drift both ways at once.
pub async fn sees_hidden_shifts<H: Harness>(harness: &H) -> bool {
    let emu = harness.start(1).await;
    let source = harness.source(&emu);
    let slices = source
        .plan(&Scope::full())
        .await
        .expect("the harness's source plans a full listing");
    let newest_first = matches!(
        source.strategy_for(&Scope::full()),
        Paging::Counted {
            growing_tail: false
        }
    );
    let first = slices.first();
    let overlaps = first.is_some_and(|slice| slice.position.overlaps());
    let checks_head = newest_first && first.is_some_and(|slice| source.arrivals_land_in(slice));
    overlaps || source.lists_newest_first() || checks_head
}

/// Runs one schedule (a shrunk failure kept as a regression test); panics when the listing
/// breaks the property.
pub fn replay<H: Harness>(harness: &H, schedule: &Schedule) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    if let Err(failure) = runtime.block_on(run_case(harness, schedule)) {
        panic!("{failure}\n{schedule:?}");
    }
}

/// What one listing did.
struct Listing {
    result: Result<Vec<String>, SourceError>,
    retries: u64,
    /// The waits the client chose before its retries, added up.
    retry_wait: Duration,
    /// Whether the source's pages report a total (a short page can be told from the end).
    totals: bool,
}

async fn run_case<H: Harness>(harness: &H, schedule: &Schedule) -> Result<(), TestCaseError> {
    let emu = harness.start(schedule.records).await;
    let before: HashSet<String> = emu.ids().into_iter().collect();
    let mut plan = FaultPlan::none();
    for answer in &schedule.answers {
        // A zero delay is a normal answer that still takes its place in the script.
        plan = plan.then(answer.clone().unwrap_or(Fault::Slow(Duration::ZERO)));
    }
    emu.set_faults(plan);
    emu.set_drift(schedule.drift);
    emu.set_page_clamp(schedule.clamp);
    let proxy = FaultProxy::start(&emu.base_url(), schedule.wire.clone())
        .await
        .map_err(|e| TestCaseError::fail(format!("proxy: {e}")))?;
    let via = Via {
        timeout: TIMEOUT,
        max_body_bytes: MAX_BODY,
        ..Via::direct(proxy.base_url())
    };
    let source = harness.source_via(&emu, &via);
    let options = DriverOptions::default().with_max_pages(MAX_PAGES);
    let listing = invitees(source.clone(), Scope::full(), options)
        .map(|r| r.map(|i| i.id))
        .collect::<Vec<_>>();
    // Only a guard against a hang (the bound itself is judged from the waits chosen).
    let rows = tokio::time::timeout(HANG, listing)
        .await
        .map_err(|_| TestCaseError::fail(format!("the listing still ran after {HANG:?}")))?;
    let listing = rows.into_iter().collect::<Result<Vec<_>, _>>();
    let listing = Listing {
        result: listing,
        retries: source.transport_stats().retries,
        retry_wait: source.transport_stats().retry_wait,
        totals: !matches!(
            source.strategy_for(&Scope::full()),
            Paging::NewestFirstOffset
        ),
    };
    emu.set_page_clamp(None);
    let after: HashSet<String> = emu.ids().into_iter().collect();
    judge(
        schedule,
        &listing,
        &before,
        &after,
        &source.id().provider.to_string(),
    )
}

fn judge(
    schedule: &Schedule,
    listing: &Listing,
    before: &HashSet<String>,
    after: &HashSet<String>,
    provider: &str,
) -> Result<(), TestCaseError> {
    let repeats = schedule.wire.contains(&Wire::RepeatLast);
    // Without a total, a page cut short by the server is the end of the list to any client.
    let blind_clamp = schedule.clamp.is_some() && !listing.totals;
    if !repeats {
        // Every failed attempt comes from an injected fault: no retry storm.
        prop_assert!(
            listing.retries <= schedule.failing_faults(),
            "{} retries for {} injected faults",
            listing.retries,
            schedule.failing_faults()
        );
    }
    // Bounded time: no wait past the longest the retry policy allows, on top of pages
    // below the ceiling and attempts under their timeout.
    let longest = MAX_RETRY_WAIT * u32::try_from(listing.retries).unwrap_or(u32::MAX);
    prop_assert!(
        listing.retry_wait <= longest,
        "waited {:?} over {} retries",
        listing.retry_wait,
        listing.retries
    );
    match &listing.result {
        Ok(ids) => {
            let mut counts: HashMap<&str, u32> = HashMap::new();
            for id in ids {
                *counts.entry(id).or_default() += 1;
            }
            let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
            prop_assert!(doubled.is_empty(), "listed twice: {doubled:?}");
            // Records there from start to end must all be listed. A server that answers
            // one short or empty page for every later request looks, to a client without a
            // total, exactly like a list whose records were deleted: there the promise is
            // no duplicate, nothing unknown and a bounded end (a repeated full page is an
            // error: `a_server_repeating_its_last_page_is_stopped`). Likewise a page clamped
            // below the size asked is the end of the list to a source without totals.
            let missing: Vec<_> = before
                .intersection(after)
                .filter(|id| !counts.contains_key(id.as_str()))
                .collect();
            prop_assert!(
                missing.is_empty() || repeats || blind_clamp,
                "{} records lost: {:?}",
                missing.len(),
                missing
            );
            if schedule.drift == Drift::default() {
                let unknown: Vec<_> = counts.keys().filter(|id| !before.contains(**id)).collect();
                prop_assert!(unknown.is_empty(), "records never served: {unknown:?}");
            }
        }
        Err(err) => {
            // A listing of a few pages that reached the page ceiling was looping.
            prop_assert!(
                !err.to_string().contains("max_pages"),
                "the listing looped: {err}"
            );
            prop_assert!(
                !schedule.must_complete(),
                "a listing with only curable faults failed: {err}"
            );
            prop_assert_eq!(err.provider().to_string(), provider);
            prop_assert!(
                err.to_string().contains(provider),
                "error without its provider: {err}"
            );
        }
    }
    Ok(())
}
