//! The sinks on their own: replayed pages, reopening after a crash, stale runs, state.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use affiliate_core::{Cursor, Invitee, InviteeStatus, Position, Provider, Scope, SourceId};
use affiliate_sync::{
    FileFormat, FileSink, PageCommit, RunState, Sink, SinkError, SliceProgress, SqliteSink,
    SyncMode,
};
use chrono::Utc;
use common::{assert_unique, row_time};
use rusqlite::Connection;

fn source() -> SourceId {
    SourceId::new(Provider::Census, "acme")
}

fn slice() -> Cursor {
    Cursor::at(Position::Page { number: 1, size: 3 })
}

fn page(n: u64) -> Cursor {
    Cursor::at(Position::Page { number: n, size: 3 })
}

fn rows(ids: &[&str]) -> Vec<Invitee> {
    ids.iter()
        .map(|id| {
            let mut row = Invitee::new(source(), *id, InviteeStatus::Invited);
            row.invited_at = Some(row_time(1));
            row
        })
        .collect()
}

fn run(id: &str) -> RunState {
    RunState::new(id, SyncMode::Full, &Scope::full(), Utc::now(), [slice()])
}

/// Commits the same page twice (a replay after a crash between commit and checkpoint).
async fn replay_twice(sink: &dyn Sink) {
    sink.begin_run(&source(), &run("r1")).await.unwrap();
    let page_rows = rows(&["1", "2", "3"]);
    let (first_cursor, next) = (slice(), page(2));
    let commit = PageCommit::new("r1", &first_cursor, &page_rows, Some(&next))
        .with_watermark(Some(row_time(1)));
    let first = sink.commit_page(&source(), &commit).await.unwrap();
    assert_eq!((first.inserted, first.existing), (3, 0));
    let again = sink.commit_page(&source(), &commit).await.unwrap();
    assert_eq!((again.inserted, again.existing), (0, 3));
    let state = sink.load_state(&source()).await.unwrap();
    let run = state.run.unwrap();
    assert_eq!(run.slices[0].progress, SliceProgress::At(next));
    assert_eq!(run.watermark, Some(row_time(1)));
    // What the engine does when a source's run ends without finishing.
    sink.flush().await.unwrap();
}

/// An NDJSON sink at `path` with run `r1` begun and its first page (rows 1 and 2)
/// committed, continuing at page 2.
async fn ndjson_with_first_page(path: &Path) -> FileSink {
    let sink = FileSink::open(path, FileFormat::Ndjson).await.unwrap();
    sink.begin_run(&source(), &run("r1")).await.unwrap();
    let first = rows(&["1", "2"]);
    sink.commit_page(
        &source(),
        &PageCommit::new("r1", &slice(), &first, Some(&page(2))),
    )
    .await
    .unwrap();
    sink
}

fn sqlite_ids(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM invitees").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn ndjson_ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn sqlite_stores_a_replayed_page_once_and_keeps_state_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("out.db");
    replay_twice(&SqliteSink::open(&db).await.unwrap()).await;
    assert_eq!(assert_unique(&sqlite_ids(&db)), 3);

    let sink = SqliteSink::open(&db).await.unwrap();
    let mode: String = Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let state = sink.load_state(&source()).await.unwrap();
    assert_eq!(
        state.run.as_ref().unwrap().slices[0].progress,
        SliceProgress::At(page(2))
    );
    let last = rows(&["3", "4"]);
    let done = sink
        .commit_page(&source(), &PageCommit::new("r1", &slice(), &last, None))
        .await
        .unwrap();
    assert_eq!((done.inserted, done.existing), (1, 1));
    sink.finish_run(&source(), "r1", Some(row_time(7)))
        .await
        .unwrap();
    let state = sink.load_state(&source()).await.unwrap();
    assert!(state.run.is_none());
    assert_eq!(state.watermark, Some(row_time(7)));
    assert_eq!(assert_unique(&sqlite_ids(&db)), 4);
}

#[tokio::test]
async fn sqlite_upserts_update_changed_records() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("out.db");
    let sink = SqliteSink::open(&db).await.unwrap();
    sink.begin_run(&source(), &run("r1")).await.unwrap();
    let first = slice();
    let mut changed = rows(&["1"]);
    sink.commit_page(
        &source(),
        &PageCommit::new("r1", &first, &changed, Some(&page(2))),
    )
    .await
    .unwrap();
    changed[0].status = InviteeStatus::Joined;
    changed[0].total_paid_micro = Some(1_500_000);
    let outcome = sink
        .commit_page(
            &source(),
            &PageCommit::new("r1", &first, &changed, Some(&page(2))),
        )
        .await
        .unwrap();
    assert_eq!((outcome.inserted, outcome.existing), (0, 1));
    let (status, paid, invited_at): (String, i64, String) = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT status, total_paid_micro, invited_at FROM invitees WHERE id = '1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), paid), ("joined", 1_500_000));
    assert_eq!(invited_at, "2024-01-01T01:00:00.000000Z");
}

#[tokio::test]
async fn file_sinks_store_a_replayed_page_once_even_after_reopening() {
    for format in [FileFormat::Ndjson, FileFormat::Csv] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        replay_twice(&FileSink::open(&path, format).await.unwrap()).await;

        // A new process replays the page once more: the keys come back from the file.
        let sink = FileSink::open(&path, format).await.unwrap();
        let page_rows = rows(&["1", "2", "3"]);
        let replay = sink
            .commit_page(
                &source(),
                &PageCommit::new("r1", &slice(), &page_rows, Some(&page(2))),
            )
            .await
            .unwrap();
        assert_eq!((replay.inserted, replay.existing), (0, 3), "{format:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        let records = text.matches("census").count();
        assert_eq!(records, 3, "{format:?}: {text}");
    }
}

#[tokio::test]
async fn an_uncommitted_tail_is_cut_off_when_the_file_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let sink = ndjson_with_first_page(&path).await;
    sink.flush().await.unwrap();
    let committed = std::fs::metadata(&path).unwrap().len();
    drop(sink);

    // A crash after appending the next page's rows but before the state file was renamed:
    // one whole line and one torn line.
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"{\"provider\":\"census\",\"account\":\"acme\",\"id\":\"3\",\"status\":\"invited\"}\n{\"provider\":\"cen")
        .unwrap();
    drop(file);

    let sink = FileSink::open(&path, FileFormat::Ndjson).await.unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), committed);
    let state = sink.load_state(&source()).await.unwrap();
    assert_eq!(
        state.run.unwrap().slices[0].progress,
        SliceProgress::At(page(2))
    );
    let replayed = rows(&["3", "4"]);
    let outcome = sink
        .commit_page(&source(), &PageCommit::new("r1", &slice(), &replayed, None))
        .await
        .unwrap();
    assert_eq!(outcome.inserted, 2, "the cut-off rows are written again");
    assert_eq!(assert_unique(&ndjson_ids(&path)), 4);
}

#[tokio::test]
async fn pages_committed_since_the_last_sync_are_fetched_again_never_half_kept() {
    // Group commit: a page appended but not yet synced (a process killed within
    // SYNC_INTERVAL of its commit) is neither kept as rows nor as progress.
    for format in [FileFormat::Ndjson, FileFormat::Csv] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        // No sync by time in this test: only the flush below makes the first page durable.
        let sink = FileSink::open(&path, format)
            .await
            .unwrap()
            .with_sync_interval(Duration::from_secs(3_600));
        sink.begin_run(&source(), &run("r1")).await.unwrap();
        let (first, second) = (rows(&["1", "2"]), rows(&["3", "4"]));
        let at_two = page(2);
        sink.commit_page(
            &source(),
            &PageCommit::new("r1", &slice(), &first, Some(&at_two)),
        )
        .await
        .unwrap();
        sink.flush().await.unwrap();
        let durable = std::fs::metadata(&path).unwrap().len();
        sink.commit_page(
            &source(),
            &PageCommit::new("r1", &slice(), &second, Some(&page(3))),
        )
        .await
        .unwrap();
        assert!(
            std::fs::metadata(&path).unwrap().len() > durable,
            "{format:?}: appended at once"
        );
        drop(sink);

        let sink = FileSink::open(&path, format).await.unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            durable,
            "{format:?}"
        );
        let state = sink.load_state(&source()).await.unwrap();
        assert_eq!(
            state.run.unwrap().slices[0].progress,
            SliceProgress::At(at_two),
            "{format:?}: resumes at the page whose rows were cut off"
        );
        let replayed = sink
            .commit_page(&source(), &PageCommit::new("r1", &slice(), &second, None))
            .await
            .unwrap();
        assert_eq!(replayed.inserted, 2, "{format:?}");
        sink.flush().await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("census").count(), 4, "{format:?}: {text}");
    }
}

#[tokio::test]
async fn a_failed_sync_refuses_every_later_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let sink = ndjson_with_first_page(&path).await;
    // The state file cannot be replaced any more: a directory with a file in it.
    let state = sink.state_path().unwrap().to_owned();
    std::fs::remove_file(&state).unwrap();
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("blocker"), b"").unwrap();
    let err = sink.flush().await.unwrap_err();
    assert!(matches!(err, SinkError::Io { .. }), "{err}");
    // Everything after it is refused, even once the state file could be written again.
    std::fs::remove_dir_all(&state).unwrap();
    let second = rows(&["3"]);
    let refused = sink
        .commit_page(
            &source(),
            &PageCommit::new("r1", &slice(), &second, Some(&page(3))),
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("earlier sync failed"),
        "{refused}"
    );
    assert!(sink.flush().await.is_err());
}

#[tokio::test]
async fn a_file_shorter_than_its_committed_length_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let sink = ndjson_with_first_page(&path).await;
    sink.flush().await.unwrap();
    drop(sink);
    std::fs::write(&path, b"").unwrap();
    let err = FileSink::open(&path, FileFormat::Ndjson).await.unwrap_err();
    assert!(matches!(err, SinkError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("truncated or replaced"), "{err}");
    assert_eq!(err.sink(), "ndjson");
}

#[tokio::test]
async fn a_foreign_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.csv");
    std::fs::write(&path, "name,amount\nana,3\n").unwrap();
    let err = FileSink::open(&path, FileFormat::Csv).await.unwrap_err();
    assert!(
        err.to_string().contains("not written by this sink"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "name,amount\nana,3\n"
    );
}

#[tokio::test]
async fn commits_of_a_superseded_run_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(SqliteSink::open_in_memory().await.unwrap()),
        Box::new(
            FileSink::open(dir.path().join("a.ndjson"), FileFormat::Ndjson)
                .await
                .unwrap(),
        ),
    ];
    for sink in sinks {
        sink.begin_run(&source(), &run("old")).await.unwrap();
        sink.begin_run(&source(), &run("new")).await.unwrap();
        let stale = rows(&["1"]);
        let err = sink
            .commit_page(&source(), &PageCommit::new("old", &slice(), &stale, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SinkError::Conflict { .. }), "{err}");
        assert!(err.to_string().starts_with(sink.name()), "{err}");
        let unknown = Cursor::at(Position::Page { number: 9, size: 3 });
        let err = sink
            .commit_page(&source(), &PageCommit::new("new", &unknown, &stale, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SinkError::Conflict { .. }), "{err}");
        assert!(sink.finish_run(&source(), "old", None).await.is_err());
        // Nothing of the refused commits was stored.
        let state = sink.load_state(&source()).await.unwrap();
        assert_eq!(
            state.run.unwrap().slices[0].progress,
            SliceProgress::Pending
        );
    }
}

#[tokio::test]
async fn a_version_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE sync_state (provider TEXT NOT NULL, account TEXT NOT NULL, watermark TEXT,
                 run_id TEXT, run_mode TEXT, run_since TEXT, run_until TEXT, run_started_at TEXT,
                 run_watermark TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (provider, account));
             INSERT INTO sync_state VALUES ('census', 'acme', '2024-01-01T00:00:00.000000Z',
                 NULL, NULL, NULL, NULL, NULL, NULL, '2024-01-01T00:00:00.000000Z');
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let sink = SqliteSink::open(&db).await.unwrap();
    let state = sink.load_state(&source()).await.unwrap();
    assert_eq!(state.watermark, Some(common::t0()));
    assert_eq!(state.refreshed_at, None);
    drop(sink);
    let conn = Connection::open(&db).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    let changes: i64 = conn
        .query_row("SELECT COUNT(*) FROM invitee_changes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(changes, 0);
    // Opening again runs no migration twice.
    drop(conn);
    SqliteSink::open(&db).await.unwrap();
}

/// Commits `pages` pages of 1,000 rows (ids `i0`, `i1`, …, status `status` for the ids in
/// `changed`) and returns the rows counted new and changed.
async fn commit_thousands(sink: &FileSink, pages: u64, changed: &[u64]) -> (u64, u64) {
    let (mut inserted, mut changes) = (0, 0);
    for n in 1..=pages {
        let ids: Vec<String> = ((n - 1) * 1000..n * 1000)
            .map(|i| format!("i{i}"))
            .collect();
        let mut rows = rows(&ids.iter().map(String::as_str).collect::<Vec<_>>());
        for row in &mut rows {
            let number: u64 = row.id[1..].parse().unwrap();
            if changed.contains(&number) {
                row.status = InviteeStatus::Joined;
            }
        }
        let next = page(n + 1);
        let outcome = sink
            .commit_page(
                &source(),
                &PageCommit::new("r1", &slice(), &rows, Some(&next)),
            )
            .await
            .unwrap();
        inserted += outcome.inserted;
        changes += outcome.changed;
    }
    (inserted, changes)
}

#[tokio::test]
async fn an_index_larger_than_memory_holds_still_tells_new_changed_and_stored_rows() {
    // 40,000 rows: most of the index of written versions lives in runs on disk.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.ndjson");
    let sink = FileSink::open(&path, FileFormat::Ndjson).await.unwrap();
    sink.begin_run(&source(), &run("r1")).await.unwrap();
    assert_eq!(commit_thousands(&sink, 40, &[]).await, (40_000, 0));
    assert_eq!(commit_thousands(&sink, 40, &[7, 39_999]).await, (0, 2));
    sink.flush().await.unwrap();
    drop(sink);

    // Reopened, the index is rebuilt from the file: nothing new, the two changes stored.
    let sink = FileSink::open(&path, FileFormat::Ndjson).await.unwrap();
    assert_eq!(commit_thousands(&sink, 40, &[7, 39_999]).await, (0, 0));
    assert_eq!(commit_thousands(&sink, 41, &[7, 39_999]).await, (1_000, 0));
    sink.flush().await.unwrap();
    let ids = ndjson_ids(&path);
    assert_eq!(
        ids.len(),
        41_002,
        "each row once, plus two changed versions"
    );
}
