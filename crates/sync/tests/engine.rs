//! The SyncEngine engine against in-memory fake sources: exactly-once, resume, incremental,
//! fail-fast, PII and CSV output.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use affiliate_core::{Cursor, InviteeSource, Position};
use affiliate_sync::{
    CancellationToken, EmailPolicy, FailureStage, FileFormat, FileSink, Sink, SliceProgress,
    SourceStatus, SqliteSink, SyncEngine, SyncMode, COLUMNS,
};
use chrono::TimeDelta;
use common::{arc, assert_unique, options, row_time, CancelAfter, Fake};
use rusqlite::Connection;

fn sqlite_ids(path: &Path, account: &str) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT id FROM invitees WHERE account = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([account], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn ndjson_ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            value["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn offsets(log: &[Cursor]) -> Vec<u64> {
    log.iter().map(|c| c.position.first_row()).collect()
}

#[tokio::test]
async fn counted_source_lands_exactly_once_in_sqlite_and_a_second_run_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("out.db");
    let fake = Arc::new(Fake::counted("a", 95, 10));
    let sink = Arc::new(SqliteSink::open(&db).await.unwrap());
    let sync = SyncEngine::new(sink.clone())
        .with_source(arc(&fake))
        .with_options(options());

    let first = sync.run().await;
    assert!(first.is_success(), "{first}");
    let report = &first.sources[0];
    // Offset pages overlap by one row: 10 rows, then 9 new a page.
    assert_eq!((report.pages, report.records, report.existing), (11, 95, 0));
    assert_eq!(report.mode, SyncMode::Full);
    assert_eq!(report.watermark, Some(row_time(94)));
    assert_eq!(assert_unique(&sqlite_ids(&db, "a")), 95);

    let second = sync.run().await;
    assert!(second.is_success(), "{second}");
    let report = &second.sources[0];
    assert!(!report.resumed, "a finished run must not be resumed");
    assert_eq!((report.records, report.existing), (0, 95));
    assert_eq!(assert_unique(&sqlite_ids(&db, "a")), 95);
    assert!(sink.load_state(fake.id()).await.unwrap().run.is_none());
}

#[tokio::test]
async fn newest_first_source_lands_exactly_once_in_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.ndjson");
    let fake = Arc::new(Fake::newest_first("nf", 95, 10));
    for _ in 0..2 {
        let sink = Arc::new(FileSink::open(&file, FileFormat::Ndjson).await.unwrap());
        let report = SyncEngine::new(sink)
            .with_source(arc(&fake))
            .with_options(options())
            .run()
            .await;
        assert!(report.is_success(), "{report}");
    }
    let ids = ndjson_ids(&file);
    assert_eq!(assert_unique(&ids), 95);
    assert_eq!(ids.len(), 95);
}

#[tokio::test]
async fn a_source_failing_midway_resumes_from_its_last_committed_page() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("out.db");
    let fake = Arc::new(Fake::counted("a", 95, 10));
    // Offset pages overlap by one row: the seventh page starts at row 54.
    fake.fail_from_row(Some(50));

    let sink = Arc::new(SqliteSink::open(&db).await.unwrap());
    let failed = SyncEngine::new(sink)
        .with_source(arc(&fake))
        .with_options(options())
        .run()
        .await;
    let report = &failed.sources[0];
    assert_eq!(report.status, SourceStatus::Failed);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].stage, FailureStage::Fetch);
    assert!(
        report.errors[0].message.contains("injected failure"),
        "{}",
        report.errors[0]
    );
    assert!(report.errors[0].message.contains("GET /fake?offset=54"));
    assert_eq!(report.records, 55);
    assert_eq!(sqlite_ids(&db, "a").len(), 55);
    fake.take_log();

    // A new process: reopen the database.
    fake.fail_from_row(None);
    let sink = Arc::new(SqliteSink::open(&db).await.unwrap());
    let state = sink.load_state(fake.id()).await.unwrap();
    let run = state.run.expect("the failed run stays in progress");
    assert_eq!(
        run.slices[0].progress,
        SliceProgress::At(Cursor::at(Position::Offset {
            offset: 54,
            limit: 10
        }))
    );
    let resumed = SyncEngine::new(sink)
        .with_source(arc(&fake))
        .with_options(options())
        .run()
        .await;
    assert!(resumed.is_success(), "{resumed}");
    let report = &resumed.sources[0];
    assert!(report.resumed);
    assert_eq!(report.run_id.as_deref(), Some(run.id.as_str()));
    assert_eq!(report.records, 40);
    assert_eq!(report.existing, 1, "the row the pages share");
    assert_eq!(offsets(&fake.take_log()), vec![54, 63, 72, 81, 90]);
    assert_eq!(assert_unique(&sqlite_ids(&db, "a")), 95);
}

#[tokio::test]
async fn a_cancelled_newest_first_run_resumes_without_rereading_earlier_pages() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.ndjson");
    let fake = Arc::new(Fake::newest_first("nf", 95, 10));
    let token = CancellationToken::new();
    let observer = Arc::new(CancelAfter {
        after: 3,
        seen: AtomicUsize::new(0),
        token: token.clone(),
    });

    let sink = Arc::new(FileSink::open(&file, FileFormat::Ndjson).await.unwrap());
    let cancelled = SyncEngine::new(sink)
        .with_source(arc(&fake))
        .with_options(options())
        .with_cancellation(token)
        .with_observer(observer)
        .run()
        .await;
    assert!(cancelled.cancelled);
    let report = &cancelled.sources[0];
    assert_eq!(report.status, SourceStatus::Cancelled);
    assert!(report.errors.is_empty());
    assert_eq!(report.pages, 3);
    // Pages overlap by one row: 10 + 9 + 9 rows.
    assert_eq!(ndjson_ids(&file).len(), 28);
    fake.take_log();

    let sink = Arc::new(FileSink::open(&file, FileFormat::Ndjson).await.unwrap());
    let resumed = SyncEngine::new(sink)
        .with_source(arc(&fake))
        .with_options(options())
        .run()
        .await;
    assert!(resumed.is_success(), "{resumed}");
    assert!(resumed.sources[0].resumed);
    let fetched = offsets(&fake.take_log());
    assert_eq!(
        fetched.first(),
        Some(&27),
        "resumes after the third page: {fetched:?}"
    );
    // The final head re-read stops at once on the remembered head ids.
    assert_eq!(
        fetched.iter().filter(|&&o| o < 27).collect::<Vec<_>>(),
        vec![&0]
    );
    let ids = ndjson_ids(&file);
    assert_eq!(ids.len(), 95);
    assert_eq!(assert_unique(&ids), 95);
}

#[tokio::test]
async fn an_incremental_newest_first_run_stops_at_the_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(SqliteSink::open(dir.path().join("out.db")).await.unwrap());
    let fake = Arc::new(Fake::newest_first("nf", 200, 10));
    let sync = |mode| {
        SyncEngine::new(sink.clone())
            .with_source(arc(&fake))
            .with_options(options().with_mode(mode).with_overlap(TimeDelta::hours(1)))
    };

    let first = sync(SyncMode::Incremental).run().await;
    assert!(first.is_success(), "{first}");
    assert_eq!(
        first.sources[0].mode,
        SyncMode::Full,
        "no watermark yet: a full listing"
    );
    assert_eq!(first.sources[0].watermark, Some(row_time(199)));
    let full_fetches = fake.take_log().len();
    assert!(full_fetches >= 23, "{full_fetches}");

    fake.sign_up(5);
    let second = sync(SyncMode::Incremental).run().await;
    assert!(second.is_success(), "{second}");
    let report = &second.sources[0];
    assert_eq!(report.mode, SyncMode::Incremental);
    assert_eq!(report.records, 5);
    assert_eq!(report.watermark, Some(row_time(204)));
    let fetched = offsets(&fake.take_log());
    // The first page reaches past the watermark; the head re-read meets a seen row.
    assert_eq!(fetched, vec![0, 0], "only the head was read: {fetched:?}");

    // A full run ignores the watermark and reads everything again.
    let third = sync(SyncMode::Full).run().await;
    assert!(third.is_success(), "{third}");
    assert!(fake.take_log().len() >= 23);
    assert_eq!(third.sources[0].existing, 205);
}

#[tokio::test]
async fn an_incremental_windowed_run_scans_only_windows_after_the_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(SqliteSink::open(dir.path().join("out.db")).await.unwrap());
    // 100 rows one hour apart in 10-hour windows: 10 slices of 10 rows, pages of 4.
    let fake = Arc::new(Fake::counted("w", 100, 4).windowed(10));
    let sync = || {
        SyncEngine::new(sink.clone())
            .with_source(arc(&fake))
            .with_options(
                options()
                    .with_mode(SyncMode::Incremental)
                    .with_slices_per_source(3),
            )
    };
    let first = sync().run().await;
    assert!(first.is_success(), "{first}");
    assert_eq!(
        (first.sources[0].slices, first.sources[0].records),
        (10, 100)
    );
    fake.take_log();

    fake.sign_up(15);
    let second = sync().run().await;
    assert!(second.is_success(), "{second}");
    assert_eq!(second.sources[0].records, 15);
    let since = row_time(99) - TimeDelta::hours(1);
    let log = fake.take_log();
    assert!(!log.is_empty());
    for cursor in &log {
        let window = cursor.window.expect("windowed");
        assert!(
            window.end >= since,
            "window {window:?} lies before the watermark"
        );
    }
    // The last old window (overlap) and the two new ones.
    assert_eq!(second.sources[0].slices, 3);
}

#[tokio::test]
async fn completed_slices_are_skipped_when_a_windowed_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("out.db");
    // 10 windows of 10 rows; windows 5.. fail, one slice at a time.
    let fake = Arc::new(Fake::counted("w", 100, 4).windowed(10));
    fake.fail_windows_from(row_time(50));
    let sink = Arc::new(SqliteSink::open(&db).await.unwrap());
    let opts = options().with_slices_per_source(1);
    let failed = SyncEngine::new(sink.clone())
        .with_source(arc(&fake))
        .with_options(opts.clone())
        .run()
        .await;
    assert_eq!(failed.sources[0].status, SourceStatus::Failed);
    assert_eq!(
        failed.sources[0].records, 50,
        "the source stops at its first failure"
    );
    fake.take_log();

    fake.fail_from_row(None);
    let resumed = SyncEngine::new(sink)
        .with_source(arc(&fake))
        .with_options(opts)
        .run()
        .await;
    assert!(resumed.is_success(), "{resumed}");
    let report = &resumed.sources[0];
    assert!(report.resumed);
    assert_eq!((report.slices, report.slices_skipped), (10, 5));
    assert_eq!(report.records, 50);
    assert!(fake
        .take_log()
        .iter()
        .all(|c| c.window.unwrap().start >= row_time(50)));
    assert_eq!(assert_unique(&sqlite_ids(&db, "w")), 100);
}

#[tokio::test]
async fn a_failing_source_does_not_stop_the_others_unless_fail_fast() {
    for fail_fast in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("out.db");
        let broken =
            Arc::new(Fake::counted("broken", 30, 10).with_delay(Duration::from_millis(30)));
        broken.fail_from_row(Some(0));
        let slow = Arc::new(Fake::counted("slow", 200, 10).with_delay(Duration::from_millis(15)));
        let sink = Arc::new(SqliteSink::open(&db).await.unwrap());
        let report = SyncEngine::new(sink.clone())
            .with_sources([arc(&broken), arc(&slow)])
            .with_options(options().with_fail_fast(fail_fast))
            .run()
            .await;
        assert!(!report.is_success());
        assert!(!report.cancelled, "fail-fast is not a caller cancellation");
        let failed: Vec<_> = report.failed().map(|s| s.source.account.clone()).collect();
        assert_eq!(failed, vec!["broken".to_owned()]);
        let slow_report = &report.sources[1];
        if fail_fast {
            assert_eq!(slow_report.status, SourceStatus::Cancelled, "{report}");
            assert!(slow_report.records < 200);
            // The next run picks the stopped source up where it was.
            broken.fail_from_row(None);
            let again = SyncEngine::new(sink)
                .with_sources([arc(&broken), arc(&slow)])
                .with_options(options())
                .run()
                .await;
            assert!(again.is_success(), "{again}");
            assert!(again.sources[1].resumed);
            assert_eq!(
                again.sources[1].records + slow_report.records,
                200,
                "nothing lost or doubled across the two runs"
            );
        } else {
            assert_eq!(slow_report.status, SourceStatus::Ok, "{report}");
            assert_eq!(slow_report.records, 200);
        }
        assert_eq!(assert_unique(&sqlite_ids(&db, "slow")), 200);
    }
}

#[tokio::test]
async fn the_same_source_twice_is_a_configuration_failure() {
    let sink = Arc::new(SqliteSink::open_in_memory().await.unwrap());
    let fake = Arc::new(Fake::counted("a", 5, 10));
    let report = SyncEngine::new(sink)
        .with_sources([arc(&fake), arc(&fake)])
        .run()
        .await;
    assert_eq!(report.sources[0].status, SourceStatus::Ok);
    assert_eq!(report.sources[1].status, SourceStatus::Failed);
    assert_eq!(report.sources[1].errors[0].stage, FailureStage::Config);
}

#[tokio::test]
async fn emails_are_hashed_or_dropped_before_any_sink() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(Fake::counted("pii", 3, 10));
    fake.edit(|i, row| row.email = Some(format!("user{i}@example.com")));

    let db = dir.path().join("hashed.db");
    let sink = Arc::new(SqliteSink::open(&db).await.unwrap());
    let report = SyncEngine::new(sink)
        .with_source(arc(&fake))
        .with_options(options().with_email(EmailPolicy::hash("pepper")))
        .run()
        .await;
    assert!(report.is_success(), "{report}");
    let conn = Connection::open(&db).unwrap();
    let email: String = conn
        .query_row("SELECT email FROM invitees WHERE id = 'u00001'", [], |r| {
            r.get(0)
        })
        .unwrap();
    // printf 'pepperuser1@example.com' | sha256sum
    assert_eq!(
        email,
        "d3e4b169df32897f42f1708d467fa40bebd4e835ecfc7308a7b2e883a0bf47dc"
    );

    let file = dir.path().join("dropped.ndjson");
    let sink = Arc::new(FileSink::open(&file, FileFormat::Ndjson).await.unwrap());
    let report = SyncEngine::new(sink)
        .with_source(arc(&fake))
        .with_options(options().with_email(EmailPolicy::Drop))
        .run()
        .await;
    assert!(report.is_success(), "{report}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("example.com"), "{text}");
    assert_eq!(text.matches("\"email\":null").count(), 3);
}

#[tokio::test]
async fn csv_output_has_one_header_and_escapes_awkward_text() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.csv");
    let fake = Arc::new(Fake::counted("csv", 25, 10));
    fake.edit(|i, row| {
        if i == 3 {
            row.display_name = Some("Doe, \"Jo\"\nsecond line".into());
            row.extra
                .insert("invite_url".into(), "https://x.test/?a=1,b=2".into());
        }
    });
    for _ in 0..2 {
        let sink = Arc::new(FileSink::open(&file, FileFormat::Csv).await.unwrap());
        let report = SyncEngine::new(sink)
            .with_source(arc(&fake))
            .with_options(options())
            .run()
            .await;
        assert!(report.is_success(), "{report}");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with(&format!("{},change\n", COLUMNS.join(","))));
    assert_eq!(text.matches("provider,account,id").count(), 1, "one header");
    assert!(text.contains("\"Doe, \"\"Jo\"\"\nsecond line\""), "{text}");

    let mut reader = csv::Reader::from_path(&file).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 25);
    let awkward = records.iter().find(|r| &r[2] == "u00003").unwrap();
    assert_eq!(&awkward[7], "Doe, \"Jo\"\nsecond line");
    assert_eq!(&awkward[12], "{\"invite_url\":\"https://x.test/?a=1,b=2\"}");
    assert_eq!(&awkward[5], "2024-01-01T03:00:00.000000Z");
}

#[tokio::test]
async fn many_sources_with_prefetching_land_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.ndjson");
    let windowed = Arc::new(Fake::counted("windowed", 120, 7).windowed(24));
    let newest = Arc::new(Fake::newest_first("newest", 333, 25));
    let counted = Arc::new(Fake::counted("counted", 250, 20));
    let sink = Arc::new(FileSink::open(&file, FileFormat::Ndjson).await.unwrap());
    // Default options: four pages in flight per slice, two slices per source.
    let report = SyncEngine::new(sink)
        .with_sources([arc(&windowed), arc(&newest), arc(&counted)])
        .run()
        .await;
    assert!(report.is_success(), "{report}");
    assert_eq!(report.records(), 120 + 333 + 250);
    let ids: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            format!(
                "{}/{}",
                v["account"].as_str().unwrap(),
                v["id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(ids.len(), 703);
    assert_eq!(assert_unique(&ids), 703);
}
