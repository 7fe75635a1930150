//! Where synced invitees go: the [`Sink`] trait and its implementations.
//!
//! Every sink stores the same columns ([`COLUMNS`]), keyed by (provider, account, id):
//!
//! | column | meaning | SQLite | PostgreSQL |
//! |---|---|---|---|
//! | `provider`, `account`, `id` | the key | `TEXT` | `text` |
//! | `status` | `invited`, `joined`, `revoked` or the provider's own word | `TEXT` | `text` |
//! | `invited_at`, `joined_at`, `updated_at` | instants in UTC | RFC 3339 `TEXT` (`2024-05-01T12:00:00.000000Z`) | `timestamptz` |
//! | `display_name`, `email`, `role`, `invited_by` | text, `email` after the [`EmailPolicy`](crate::EmailPolicy) | `TEXT` | `text` |
//! | `total_paid_micro` | lifetime paid, micro-units | `INTEGER` | `bigint` |
//! | `extra` | provider-specific fields as a JSON object, `NULL` when there are none | JSON `TEXT` | `jsonb` |
//! | `synced_at` | when the row was last written | RFC 3339 `TEXT` | `timestamptz` |
//!
//! The sync state sits beside the rows and is changed in the same commit: in databases
//! the tables `sync_state` (one row per source: watermark and the run in progress) and
//! `sync_slices` (one row per slice of that run: resume cursor, completion); in files a
//! JSON state file next to the data file.

mod changes;
mod file;
mod json_text;
#[cfg(feature = "postgres")]
mod postgres;
mod row;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use affiliate_core::{Cursor, Invitee, SourceId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use changes::TRACKED;
pub use file::{FileFormat, FileSink};
#[cfg(feature = "postgres")]
pub(crate) use postgres::{apply_page, db, load_state_in, stage_page, store_run};
#[cfg(feature = "postgres")]
pub use postgres::{connect_postgres, PostgresSink};
pub use row::COLUMNS;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteSink;

use crate::state::{RunState, SourceState};
use crate::SinkError;

/// One driven page to commit, together with the slice's progress after it.
///
/// The rows and the progress are committed atomically: after a crash either both are
/// stored or neither is, so the page is replayed, and replays never store a row twice.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PageCommit<'a> {
    /// The run the page belongs to; a commit for any other run is refused.
    pub run_id: &'a str,
    /// The slice's first cursor (identifies the slice within the run).
    pub slice: &'a Cursor,
    /// The page's records (unique ids within the page, email policy already applied).
    pub rows: &'a [Invitee],
    /// Where the slice continues after this page; `None` marks the slice complete.
    pub resume: Option<&'a Cursor>,
    /// Newest activity instant seen in the run so far; sinks keep the newest they were given.
    pub watermark: Option<DateTime<Utc>>,
    /// Ids to remember for the slice if it has none yet (its first committed page).
    pub head_ids: Option<&'a [String]>,
    /// `rows` as a shared allocation a sink may keep without copying them.
    shared: Option<&'a Arc<[Invitee]>>,
}

impl<'a> PageCommit<'a> {
    /// A commit of `rows` for `slice` of run `run_id`, continuing at `resume`.
    pub fn new(
        run_id: &'a str,
        slice: &'a Cursor,
        rows: &'a [Invitee],
        resume: Option<&'a Cursor>,
    ) -> Self {
        Self {
            run_id,
            slice,
            rows,
            resume,
            watermark: None,
            head_ids: None,
            shared: None,
        }
    }

    /// [`PageCommit::new`] with rows a sink may keep without copying them: the built-in
    /// SQLite and file sinks hand a page to a blocking writer, and cloning every row for it
    /// was 7 % of a sync's instructions.
    pub fn sharing(
        run_id: &'a str,
        slice: &'a Cursor,
        rows: &'a Arc<[Invitee]>,
        resume: Option<&'a Cursor>,
    ) -> Self {
        Self {
            shared: Some(rows),
            ..Self::new(run_id, slice, rows, resume)
        }
    }

    /// Sets [`PageCommit::watermark`].
    pub fn with_watermark(mut self, watermark: Option<DateTime<Utc>>) -> Self {
        self.watermark = watermark;
        self
    }

    /// Sets [`PageCommit::head_ids`].
    pub fn with_head_ids(mut self, head_ids: &'a [String]) -> Self {
        self.head_ids = Some(head_ids);
        self
    }
}

/// The file sinks' default group-commit interval: they sync at the first commit this long
/// after the last sync, whenever a run begins or ends, and on [`Sink::flush`]
/// ([`FileSink::with_sync_interval`] changes it). Four syncs a second cost nothing
/// measurable; a longer wait would only let a process killed again and again lose more of
/// its progress.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(250);

/// A [`PageCommit`] that owns its data, to cross into a blocking worker.
#[derive(Debug, Clone)]
pub(crate) struct OwnedCommit {
    run_id: String,
    slice: Cursor,
    rows: Arc<[Invitee]>,
    resume: Option<Cursor>,
    watermark: Option<DateTime<Utc>>,
    head_ids: Option<Vec<String>>,
}

impl OwnedCommit {
    pub(crate) fn new(commit: &PageCommit<'_>) -> Self {
        Self {
            run_id: commit.run_id.to_owned(),
            slice: commit.slice.clone(),
            // The shared rows only while they are still `rows` (the field is public).
            rows: commit
                .shared
                .filter(|shared| std::ptr::eq(&***shared, commit.rows))
                .cloned()
                .unwrap_or_else(|| commit.rows.into()),
            resume: commit.resume.cloned(),
            watermark: commit.watermark,
            head_ids: commit.head_ids.map(<[String]>::to_vec),
        }
    }

    pub(crate) fn borrow(&self) -> PageCommit<'_> {
        PageCommit {
            run_id: &self.run_id,
            slice: &self.slice,
            rows: &self.rows,
            resume: self.resume.as_ref(),
            watermark: self.watermark,
            head_ids: self.head_ids.as_deref(),
            shared: Some(&self.rows),
        }
    }
}

/// What a commit did with the page's rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitOutcome {
    /// Rows whose key the sink did not hold before.
    pub inserted: u64,
    /// Rows whose key the sink already held (changed or not).
    pub existing: u64,
    /// Of the existing rows, those whose tracked columns changed: updated in place (and
    /// recorded in `invitee_changes`) by databases, appended as a new version by files.
    pub changed: u64,
}

impl CommitOutcome {
    /// An outcome with these counts and no changed rows.
    pub fn new(inserted: u64, existing: u64) -> Self {
        Self {
            inserted,
            existing,
            changed: 0,
        }
    }

    /// Sets [`CommitOutcome::changed`].
    pub fn with_changed(mut self, changed: u64) -> Self {
        self.changed = changed;
        self
    }
}

/// A destination for invitees that commits rows and sync progress together.
///
/// The engine calls, per source: [`load_state`](Sink::load_state); then, for a new run,
/// [`begin_run`](Sink::begin_run); then [`commit_page`](Sink::commit_page) for every driven
/// page (concurrently for different sources and slices); and
/// [`finish_run`](Sink::finish_run) when every slice completed. A source that failed or was
/// cancelled keeps its run in progress, so the next run resumes it.
///
/// Implementations must make each `commit_page` atomic and idempotent per row key. A
/// commit may become durable later than it returns (group commit), as long as rows and
/// progress become durable together; the engine calls [`flush`](Sink::flush) when a
/// source's run ends without [`finish_run`](Sink::finish_run) (a failure or a cancel).
#[async_trait]
pub trait Sink: Debug + Send + Sync {
    /// Short name used in errors and logs (`"sqlite"`, `"ndjson"`, ...).
    fn name(&self) -> &'static str;

    /// The stored state of `source` (default state when the sink never saw it).
    async fn load_state(&self, source: &SourceId) -> Result<SourceState, SinkError>;

    /// Records `run` as the run in progress of `source`, replacing any unfinished run
    /// (whose resume cursors become invalid). The watermark is kept.
    async fn begin_run(&self, source: &SourceId, run: &RunState) -> Result<(), SinkError>;

    /// Stores the page's rows (upsert by key) and the slice's progress in one atomic step.
    async fn commit_page(
        &self,
        source: &SourceId,
        commit: &PageCommit<'_>,
    ) -> Result<CommitOutcome, SinkError>;

    /// Ends run `run_id` of `source`: the watermark becomes the newer of the stored one and
    /// `watermark`, and the run in progress is cleared.
    async fn finish_run(
        &self,
        source: &SourceId,
        run_id: &str,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<(), SinkError>;

    /// Makes every commit so far durable (default: nothing to do, each commit already is).
    /// [`finish_run`](Sink::finish_run) implies it for the source it ends.
    async fn flush(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[async_trait]
impl<T: Sink + ?Sized> Sink for std::sync::Arc<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    async fn load_state(&self, source: &SourceId) -> Result<SourceState, SinkError> {
        (**self).load_state(source).await
    }
    async fn begin_run(&self, source: &SourceId, run: &RunState) -> Result<(), SinkError> {
        (**self).begin_run(source, run).await
    }
    async fn commit_page(
        &self,
        source: &SourceId,
        commit: &PageCommit<'_>,
    ) -> Result<CommitOutcome, SinkError> {
        (**self).commit_page(source, commit).await
    }
    async fn finish_run(
        &self,
        source: &SourceId,
        run_id: &str,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<(), SinkError> {
        (**self).finish_run(source, run_id, watermark).await
    }
    async fn flush(&self) -> Result<(), SinkError> {
        (**self).flush().await
    }
}

/// Compile-time check that the trait stays object safe.
#[allow(dead_code)]
fn _object_safe(_: &dyn Sink, _: Box<dyn Sink>, _: std::sync::Arc<dyn Sink>) {}
