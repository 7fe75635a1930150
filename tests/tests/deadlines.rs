//! Deadlines: a server that trickles its answer a byte at a time, or never finishes a
//! chunked body, holds a sync no longer than its configured deadline, and the failure says
//! so; without a deadline, the per-request timeout ends each attempt with a typed error.
//! Nothing here measures time: the failure's stage and message say which limit ended it.

use std::sync::Arc;
use std::time::Duration;

use affiliate_census::CensusBuilder;
use affiliate_core::driver::DriverOptions;
use affiliate_core::ErrorKind;
use affiliate_http::SourceBuilder;
use affiliate_sandbox::census::{CensusConfig, CensusEmulator};
use affiliate_sync::{FailureStage, SourceStatus, SqliteSink, SyncEngine, SyncOptions};
use affiliate_tests::proxy::{FaultProxy, Wire};
use affiliate_tests::FastTransport;

/// Syncs 40 Census records (pages of 10) through a proxy playing `wire` on requests 2 to
/// `times + 1`, with `timeout` per attempt and `deadline` per source.
async fn sync_through(
    wire: Wire,
    times: usize,
    timeout: Duration,
    deadline: Option<Duration>,
) -> affiliate_sync::SourceReport {
    let emu = CensusEmulator::start(CensusConfig::new(40)).await.unwrap();
    // The newest page (the pin) and the first page answer; the pages after them, one at a
    // time, meet `wire`.
    let mut script = vec![Wire::Pass, Wire::Pass];
    script.extend(std::iter::repeat_n(wire, times));
    let proxy = FaultProxy::start(&emu.base_url(), script).await.unwrap();
    let source = CensusBuilder::new()
        .with_base_url(proxy.base_url())
        .with_token(emu.token())
        .with_per_page(10)
        .fast()
        .with_timeout(timeout)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(SqliteSink::open(dir.path().join("d.db")).await.unwrap());
    let options = SyncOptions::default()
        .with_deadline(deadline)
        .with_driver(DriverOptions::default().with_concurrency(1));
    let engine = SyncEngine::new(sink)
        .with_sources(vec![source])
        .with_options(options);
    // No guard timer: were the deadline ignored, the slow answers would end after minutes
    // and the sync would succeed, which the deadline tests refuse.
    let report = engine.run().await;
    report.sources.into_iter().next().expect("one source")
}

fn assert_deadline(report: &affiliate_sync::SourceReport) {
    assert_eq!(report.status, SourceStatus::Failed, "{report:?}");
    let failure = &report.errors[0];
    assert_eq!(failure.stage, FailureStage::Deadline, "{failure}");
    assert!(
        failure
            .to_string()
            .contains("deadline of 1s passed while paging"),
        "{failure}"
    );
    // The first page was committed before the slow answers began, and is kept.
    assert!(report.pages >= 1, "{report:?}");
}

#[tokio::test]
async fn a_slow_loris_or_never_ending_body_cannot_hold_a_sync_past_its_deadline() {
    // One byte every 100 ms, or a chunked body never finished, with a one-minute request
    // timeout: only the deadline ends the sync.
    for wire in [Wire::Trickle(Duration::from_millis(100)), Wire::NeverEnds] {
        let report = sync_through(
            wire,
            3,
            Duration::from_secs(60),
            Some(Duration::from_secs(1)),
        )
        .await;
        assert_deadline(&report);
    }
}

#[tokio::test]
async fn without_a_deadline_each_attempt_times_out_and_is_retried() {
    // Three slow answers in a row, one attempt each (fast retries allow six): the attempt
    // after them succeeds, so the per-request timeout, not a deadline, ended the three.
    let report = sync_through(
        Wire::Trickle(Duration::from_millis(100)),
        3,
        Duration::from_millis(300),
        None,
    )
    .await;
    assert_eq!(report.status, SourceStatus::Ok, "{report:?}");
    assert_eq!(report.records, 40);
    assert_eq!(report.retries, 3, "{report:?}");
}

#[tokio::test]
async fn a_request_that_keeps_timing_out_fails_typed_and_says_so() {
    let report = sync_through(Wire::NeverEnds, 20, Duration::from_millis(200), None).await;
    assert_eq!(report.status, SourceStatus::Failed, "{report:?}");
    let failure = &report.errors[0];
    assert_eq!(failure.stage, FailureStage::Fetch, "{failure}");
    assert_eq!(failure.kind, Some(ErrorKind::Transport), "{failure}");
    assert!(failure.to_string().contains("timed out"), "{failure}");
    assert!(failure.to_string().contains("census"), "{failure}");
    // A page retried six times, then the typed error (the other two pages in flight
    // stop with it): the attempts were bounded, and the message says so once.
    assert!((6..=18).contains(&report.retries), "{report:?}");
    let message = failure.to_string();
    assert_eq!(
        message.matches("(after 7 attempts)").count(),
        1,
        "{message}"
    );
    assert_eq!(
        message.matches("GET /api/v1/invitations").count(),
        1,
        "{message}"
    );
}
