//! Numbers that stay true over time: refresh passes on incremental runs, the change history
//! of the database sinks, and the versions the file sinks append.

mod common;

use std::path::Path;
use std::sync::Arc;

use affiliate_core::{InviteeSource, InviteeStatus};
use affiliate_sync::{FileFormat, FileSink, Sink, SqliteSink, SyncEngine, SyncMode, SyncReport};
use chrono::TimeDelta;
use common::{arc, options, Fake};
use rusqlite::Connection;

/// Rows 0, 5, 10, … (`k` of them) get paid `1_000_000 × (i + 1)` more; rows 1, 6, … revoked.
fn pay_and_revoke(fake: &Fake, k: u64) {
    fake.edit(|i, row| {
        if i % 5 == 0 && i / 5 < k {
            row.total_paid_micro =
                Some(row.total_paid_micro.unwrap_or(0) + 1_000_000 * (i as i64 + 1));
        }
        if i % 5 == 1 && i / 5 < k {
            row.status = InviteeStatus::Revoked;
        }
    });
}

async fn sync(sink: Arc<dyn Sink>, fake: &Arc<Fake>, mode: SyncMode, force: bool) -> SyncReport {
    let options = options().with_mode(mode).with_force_refresh(force);
    let report = SyncEngine::new(sink)
        .with_source(arc(fake))
        .with_options(options)
        .run()
        .await;
    assert!(report.is_success(), "{report}");
    report
}

/// `(field, count, sum of delta_micro)` per field of `invitee_changes`.
fn change_counts(db: &Path) -> Vec<(String, i64, Option<i64>)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT field, COUNT(*), SUM(delta_micro) FROM invitee_changes GROUP BY field ORDER BY field")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn a_refresh_pass_stores_new_totals_and_records_each_change_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let sink: Arc<dyn Sink> = Arc::new(SqliteSink::open(&db).await.unwrap());
    let fake = Arc::new(Fake::counted("a", 40, 7));
    let first = sync(sink.clone(), &fake, SyncMode::Full, false).await;
    assert_eq!(
        (first.sources[0].records, first.sources[0].changed),
        (40, 0)
    );
    assert_eq!(change_counts(&db), [("*".to_owned(), 40, None)]);

    pay_and_revoke(&fake, 3);
    let refreshed = sync(sink.clone(), &fake, SyncMode::Incremental, true).await;
    let report = &refreshed.sources[0];
    assert!(report.refresh, "{refreshed}");
    assert_eq!(report.mode_label(), "incremental + refresh");
    assert_eq!(
        (report.records, report.existing, report.changed),
        (0, 40, 6)
    );
    // Deltas: rows 0, 5 and 10 were paid 1, 6 and 11 more.
    assert_eq!(
        change_counts(&db),
        [
            ("*".to_owned(), 40, None),
            ("status".to_owned(), 3, None),
            ("total_paid_micro".to_owned(), 3, Some(18_000_000)),
        ]
    );
    let conn = Connection::open(&db).unwrap();
    let revoked: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM invitees WHERE status = 'revoked'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(revoked, 3, "the stored rows carry the new values");

    let quiet = sync(sink, &fake, SyncMode::Incremental, true).await;
    assert_eq!(quiet.sources[0].changed, 0);
    assert_eq!(
        change_counts(&db).iter().map(|c| c.1).sum::<i64>(),
        46,
        "a quiet run writes nothing"
    );
}

#[tokio::test]
async fn a_refresh_is_due_only_when_the_last_full_listing_is_older_than_the_interval() {
    let sink: Arc<dyn Sink> = Arc::new(SqliteSink::open_in_memory().await.unwrap());
    let fake = Arc::new(Fake::counted("a", 10, 5));
    let run = |refresh: Option<TimeDelta>| {
        let (sink, fake) = (sink.clone(), fake.clone());
        async move {
            let options = options()
                .with_mode(SyncMode::Incremental)
                .with_refresh(refresh);
            SyncEngine::new(sink)
                .with_source(arc(&fake))
                .with_options(options)
                .run()
                .await
        }
    };
    let first = run(Some(TimeDelta::hours(24))).await;
    assert_eq!(
        (first.sources[0].mode, first.sources[0].refresh),
        (SyncMode::Full, false)
    );
    let fresh = run(Some(TimeDelta::hours(24))).await;
    assert_eq!(
        (fresh.sources[0].mode, fresh.sources[0].refresh),
        (SyncMode::Incremental, false)
    );
    let never = run(None).await;
    assert!(!never.sources[0].refresh);
    let due = run(Some(TimeDelta::zero())).await;
    assert_eq!(
        (due.sources[0].mode, due.sources[0].refresh),
        (SyncMode::Full, true)
    );
    let state = sink
        .load_state(InviteeSource::id(fake.as_ref()))
        .await
        .unwrap();
    assert!(state.refreshed_at.is_some());
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn files_append_each_changed_version_once_even_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let fake = Arc::new(Fake::counted("a", 12, 5));
    let open = || FileSink::open(path.clone(), FileFormat::Ndjson);
    sync(
        Arc::new(open().await.unwrap()),
        &fake,
        SyncMode::Full,
        false,
    )
    .await;
    assert_eq!(lines(&path).len(), 12);
    assert!(lines(&path).iter().all(|l| l["change"] == "new"));

    pay_and_revoke(&fake, 2);
    let changed = sync(
        Arc::new(open().await.unwrap()),
        &fake,
        SyncMode::Full,
        false,
    )
    .await;
    assert_eq!(changed.sources[0].changed, 4);
    let all = lines(&path);
    assert_eq!(all.len(), 16);
    let versions: Vec<_> = all.iter().filter(|l| l["change"] == "changed").collect();
    assert_eq!(versions.len(), 4);
    assert!(versions.iter().any(|l| l["status"] == "revoked"));
    assert!(versions.iter().all(|l| l["synced_at"].is_string()));

    // Reopened (versions rebuilt from the file) and listed again unchanged: nothing new.
    let quiet = sync(
        Arc::new(open().await.unwrap()),
        &fake,
        SyncMode::Full,
        false,
    )
    .await;
    assert_eq!(quiet.sources[0].changed, 0);
    assert_eq!(lines(&path).len(), 16);
}

#[tokio::test]
async fn csv_files_carry_the_change_marker_and_read_back_their_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let fake = Arc::new(Fake::counted("a", 6, 5));
    let open = || FileSink::open(path.clone(), FileFormat::Csv);
    sync(
        Arc::new(open().await.unwrap()),
        &fake,
        SyncMode::Full,
        false,
    )
    .await;
    pay_and_revoke(&fake, 1);
    sync(
        Arc::new(open().await.unwrap()),
        &fake,
        SyncMode::Full,
        false,
    )
    .await;
    sync(
        Arc::new(open().await.unwrap()),
        &fake,
        SyncMode::Full,
        false,
    )
    .await;
    let text = std::fs::read_to_string(&path).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows[0].ends_with(",synced_at,change"), "{}", rows[0]);
    assert_eq!(rows.len(), 1 + 6 + 2, "{text}");
    assert_eq!(rows.iter().filter(|r| r.ends_with(",changed")).count(), 2);
}
