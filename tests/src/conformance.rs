//! One suite every adapter runs against its emulator with the same cases: sizes around the
//! page size, drift, every fault kind, cancellation and redaction.
//!
//! An adapter's test file implements [`Harness`] and invokes [`conformance_suite!`](crate::conformance_suite):
//!
//! ```text
//! affiliate_tests::conformance_suite!(TriportHarness);
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::{InviteeSource, Scope, SourceError};
use affiliate_http::SourceBuilder;
use affiliate_sandbox::{Drift, Emulator, Fault, FaultPlan};
use async_trait::async_trait;
use futures::StreamExt;

use crate::logs::CapturedLogs;

/// How to run one adapter against its emulator.
#[async_trait]
pub trait Harness: Send + Sync {
    /// The emulator type.
    type Emu: Emulator + 'static;
    /// Rows per page the suite configures the source with (small, to get many pages).
    fn page_size(&self) -> u32;
    /// Starts an emulator holding `records` records.
    async fn start(&self, records: u64) -> Self::Emu;
    /// A source reading `emu` at `via`'s base URL (the emulator's own, or a proxy in front
    /// of it), configured with [`Harness::page_size`],
    /// [`FastTransport::fast`](crate::FastTransport::fast) and `via`'s transport limits.
    fn source_via(&self, emu: &Self::Emu, via: &Via) -> Arc<dyn InviteeSource>;
    /// A source reading `emu` directly, configured with [`Harness::page_size`] and
    /// [`FastTransport::fast`](crate::FastTransport::fast).
    fn source(&self, emu: &Self::Emu) -> Arc<dyn InviteeSource> {
        self.source_via(emu, &Via::direct(emu.base_url()))
    }
    /// A source reading `emu` with credentials the emulator refuses, plus every secret
    /// value it was given (none may appear in `Debug`, errors or logs).
    fn refused_source(&self, emu: &Self::Emu) -> (Arc<dyn InviteeSource>, Vec<String>);
    /// The secret values [`Harness::source`] was given.
    fn secrets(&self, emu: &Self::Emu) -> Vec<String>;
}

/// Where and how a [`Harness`] source connects.
#[derive(Debug, Clone)]
pub struct Via {
    /// The base URL.
    pub base_url: String,
    /// The per-attempt timeout.
    pub timeout: Duration,
    /// The largest body read.
    pub max_body_bytes: usize,
}

impl Via {
    /// `base_url` with the test transport's timeout (5 s) and the default body cap (16 MiB).
    pub fn direct(base_url: String) -> Self {
        Self {
            base_url,
            timeout: Duration::from_secs(5),
            max_body_bytes: 16 * 1024 * 1024,
        }
    }

    /// Applies the limits to an adapter builder already set up by the harness.
    pub fn apply<B: SourceBuilder>(&self, builder: B) -> B {
        builder
            .with_base_url(self.base_url.clone())
            .with_timeout(self.timeout)
            .with_max_body_bytes(self.max_body_bytes)
    }
}

/// Collects a full listing, failing the test on any error.
pub async fn list(source: Arc<dyn InviteeSource>) -> Vec<String> {
    let results: Vec<Result<String, SourceError>> =
        invitees(source, Scope::full(), DriverOptions::default())
            .map(|r| r.map(|i| i.id))
            .collect()
            .await;
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("listing failed: {e}")))
        .collect()
}

/// The first error of a listing; panics when the listing succeeds. The listing sends one
/// request at a time (no page asked for ahead), so a scripted error answers its first
/// request and the requests it made can be counted exactly.
pub async fn first_error(source: Arc<dyn InviteeSource>) -> SourceError {
    let one_at_a_time = DriverOptions::default().with_concurrency(1);
    let mut stream = invitees(source, Scope::full(), one_at_a_time);
    while let Some(item) = stream.next().await {
        if let Err(err) = item {
            return err;
        }
    }
    panic!("the listing was expected to fail")
}

/// Asserts no id twice and every `must` id present.
pub fn assert_exactly_once(got: &[String], must: &[String]) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in got {
        *counts.entry(id).or_default() += 1;
    }
    let doubled: Vec<_> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    assert!(doubled.is_empty(), "emitted more than once: {doubled:?}");
    let missing: Vec<_> = must
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} records lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

async fn listing_matches_truth<H: Harness>(h: &H, records: u64) {
    let emu = h.start(records).await;
    let got = list(h.source(&emu)).await;
    let truth = emu.ids();
    assert_eq!(truth.len() as u64, records, "emulator ground truth");
    assert_eq!(got.len(), truth.len(), "record count");
    assert_exactly_once(&got, &truth);
}

/// No records at all.
pub async fn empty_source<H: Harness>(h: &H) {
    listing_matches_truth(h, 0).await;
}

/// Exactly one record.
pub async fn one_record<H: Harness>(h: &H) {
    listing_matches_truth(h, 1).await;
}

/// Exactly one full page.
pub async fn one_full_page<H: Harness>(h: &H) {
    listing_matches_truth(h, u64::from(h.page_size())).await;
}

/// An exact multiple of the page size.
pub async fn exact_multiple<H: Harness>(h: &H) {
    listing_matches_truth(h, 3 * u64::from(h.page_size())).await;
}

/// A partial last page.
pub async fn partial_last_page<H: Harness>(h: &H) {
    listing_matches_truth(h, 2 * u64::from(h.page_size()) + 3).await;
}

async fn drifting<H: Harness>(h: &H, drift: Drift) {
    let emu = h.start(6 * u64::from(h.page_size()) + 1).await;
    let before: HashSet<String> = emu.ids().into_iter().collect();
    emu.set_drift(drift);
    let got = list(h.source(&emu)).await;
    let after: Vec<String> = emu.ids();
    let survivors: Vec<String> = after
        .iter()
        .filter(|id| before.contains(*id))
        .cloned()
        .collect();
    assert_exactly_once(&got, &survivors);
    let known: HashSet<&String> = before.iter().chain(after.iter()).collect();
    let invented: Vec<_> = got.iter().filter(|id| !known.contains(id)).collect();
    assert!(
        invented.is_empty(),
        "emitted ids that never existed: {invented:?}"
    );
}

/// New records arrive while the listing runs.
pub async fn drift_inserts<H: Harness>(h: &H) {
    drifting(
        h,
        Drift {
            inserts_per_request: 2,
            deletes_per_request: 0,
        },
    )
    .await;
}

/// Records are deleted while the listing runs.
pub async fn drift_deletes<H: Harness>(h: &H) {
    drifting(
        h,
        Drift {
            inserts_per_request: 0,
            deletes_per_request: 2,
        },
    )
    .await;
}

/// Every fault kind, injected on every third request: retried (the transport's counters say
/// so for every kind that fails a request), nothing lost or doubled.
pub async fn faults_are_retried<H: Harness>(h: &H) {
    let kinds = [
        Fault::RateLimited {
            retry_after: Some(0),
        },
        Fault::RateLimited { retry_after: None },
        Fault::ServerError(500),
        Fault::ServerError(503),
        Fault::Malformed,
        Fault::Reset,
        Fault::Slow(Duration::from_millis(30)),
    ];
    for fault in kinds {
        let emu = h.start(4 * u64::from(h.page_size()) + 1).await;
        emu.set_faults(FaultPlan::none().every(3, fault.clone()));
        let source = h.source(&emu);
        let got = list(source.clone()).await;
        let truth = emu.ids();
        assert_eq!(got.len(), truth.len(), "{fault:?}");
        assert_exactly_once(&got, &truth);
        let retries = source.transport_stats().retries;
        match fault {
            // A slow answer inside the timeout is an answer: nothing to retry.
            Fault::Slow(_) => assert_eq!(retries, 0, "{fault:?}"),
            _ => assert!(retries > 0, "{fault:?} was injected but never retried"),
        }
    }
}

/// Dropping the stream stops issuing requests.
pub async fn dropped_stream_stops<H: Harness>(h: &H) {
    let emu = h.start(40 * u64::from(h.page_size())).await;
    let mut stream = invitees(h.source(&emu), Scope::full(), DriverOptions::default());
    for _ in 0..3 {
        stream.next().await.expect("a record").expect("no error");
    }
    drop(stream);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_drop = emu.requests().len();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        emu.requests().len(),
        after_drop,
        "requests continued after the stream was dropped"
    );
    assert!(after_drop < 20, "{after_drop} requests for 3 records");
}

/// Secrets never show in `Debug`, in error messages or in logs.
pub async fn secrets_are_redacted<H: Harness>(h: &H) {
    let logs = CapturedLogs::global();
    let emu = h.start(2 * u64::from(h.page_size())).await;
    let good = h.source(&emu);
    let listed = list(good.clone()).await;
    assert_eq!(listed.len() as u64, 2 * u64::from(h.page_size()));
    let (bad, bad_secrets) = h.refused_source(&emu);
    let err = first_error(bad.clone()).await;
    let shown = format!("{good:?}\n{bad:?}\n{err}\n{err:?}\n{}", logs.text());
    for secret in h.secrets(&emu).iter().chain(bad_secrets.iter()) {
        assert!(!secret.is_empty());
        assert!(
            !shown.contains(secret.as_str()),
            "secret leaked into: {shown}"
        );
    }
    assert!(
        logs.text().contains("http.request"),
        "request spans were logged"
    );
}

/// Declares one `#[tokio::test]` per conformance case for a harness expression.
#[macro_export]
macro_rules! conformance_suite {
    ($harness:expr) => {
        mod conformance {
            use super::*;
            #[test]
            fn fault_schedules() {
                let cases = $crate::schedules::check(&$harness, $crate::schedules::BOUNDED_CASES);
                eprintln!("{cases} fault schedules listed exactly once or failed typed");
            }
            /// Found by the schedules: a server answering its last page for every later
            /// request kept a newest-first listing fetching until `max_pages`, and made a
            /// counted one end early without its other rows.
            #[test]
            fn a_server_repeating_its_last_page_is_stopped() {
                let h = $harness;
                let wire = vec![
                    $crate::proxy::Wire::Pass,
                    $crate::proxy::Wire::Pass,
                    $crate::proxy::Wire::RepeatLast,
                ];
                $crate::schedules::replay(
                    &h,
                    &$crate::schedules::Schedule::wire_only(4 * u64::from(h.page_size()) + 3, wire),
                );
            }
            /// Found by the schedules: a server serving fewer rows a page than asked, without
            /// saying so, made a counted listing skip rows silently.
            #[test]
            fn a_silently_clamped_page_size_loses_nothing() {
                let h = $harness;
                let mut schedule = $crate::schedules::Schedule::wire_only(
                    4 * u64::from(h.page_size()) + 3,
                    Vec::new(),
                );
                schedule.clamp = Some(u64::from(h.page_size()) / 2);
                $crate::schedules::replay(&h, &schedule);
            }
            /// The long run: `cargo test -p affiliate-tests -- --ignored fault_schedules_long`.
            #[test]
            #[ignore = "long: 1,000 schedules per adapter"]
            fn fault_schedules_long() {
                let cases = $crate::schedules::check(&$harness, $crate::schedules::LONG_CASES);
                eprintln!("{cases} fault schedules listed exactly once or failed typed");
            }
            #[tokio::test]
            async fn empty_source() {
                $crate::conformance::empty_source(&$harness).await
            }
            #[tokio::test]
            async fn one_record() {
                $crate::conformance::one_record(&$harness).await
            }
            #[tokio::test]
            async fn one_full_page() {
                $crate::conformance::one_full_page(&$harness).await
            }
            #[tokio::test]
            async fn exact_multiple() {
                $crate::conformance::exact_multiple(&$harness).await
            }
            #[tokio::test]
            async fn partial_last_page() {
                $crate::conformance::partial_last_page(&$harness).await
            }
            #[tokio::test]
            async fn drift_inserts() {
                $crate::conformance::drift_inserts(&$harness).await
            }
            #[tokio::test]
            async fn drift_deletes() {
                $crate::conformance::drift_deletes(&$harness).await
            }
            #[tokio::test]
            async fn faults_are_retried() {
                $crate::conformance::faults_are_retried(&$harness).await
            }
            #[tokio::test]
            async fn dropped_stream_stops() {
                $crate::conformance::dropped_stream_stops(&$harness).await
            }
            #[tokio::test]
            async fn secrets_are_redacted() {
                $crate::conformance::secrets_are_redacted(&$harness).await
            }
        }
    };
}
