//! SQLite: the embedded default. WAL journal, upsert keyed by (provider, account, id), and
//! the sync state in the same database, changed in the same transaction as the rows.

mod schema;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use affiliate_core::SourceId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::changes::{diff, tracked, Tracked};
use super::row::{extra_json, format_time, parse_time};
use super::sql::SliceRow;
use super::{CommitOutcome, OwnedCommit, PageCommit, Sink};
use crate::state::{RunState, SourceState, StateConflict, SyncMode};
use crate::SinkError;

const SINK: &str = "sqlite";

/// A SQLite database holding the `invitees`, `sync_state` and `sync_slices` tables.
///
/// Each page's rows and the slice's progress are written in one `IMMEDIATE` transaction.
/// The database uses the WAL journal with `synchronous = NORMAL`: a killed process never
/// loses a committed page, and a power loss can only lose whole recent transactions (rows
/// and progress together), never split them. Calls run on Tokio's blocking pool, one at a
/// time per sink.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use affiliate_core::{Provider, SourceId};
/// use affiliate_sync::{Sink, SqliteSink};
///
/// let sink = SqliteSink::open_in_memory().await?;
/// let state = sink.load_state(&SourceId::new(Provider::Triport, "main")).await?;
/// assert!(state.run.is_none() && state.watermark.is_none());
/// # Ok::<(), affiliate_sync::SinkError>(())
/// # }).unwrap();
/// ```
pub struct SqliteSink {
    path: Option<PathBuf>,
    conn: Arc<Mutex<Connection>>,
}

impl fmt::Debug for SqliteSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteSink")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteSink {
    /// Opens (or creates) the database file at `path` and its tables.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, SinkError> {
        let path = path.as_ref().to_path_buf();
        let opening = path.clone();
        let conn = tokio::task::spawn_blocking(move || {
            let conn = Connection::open(&opening)
                .map_err(|e| SinkError::database(SINK, "opening the database", e))?;
            prepare(conn, true)
        })
        .await
        .map_err(|e| SinkError::worker(SINK, e))??;
        Ok(Self {
            path: Some(path),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// A private in-memory database (for tests and examples; nothing survives the sink).
    pub async fn open_in_memory() -> Result<Self, SinkError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| SinkError::database(SINK, "opening an in-memory database", e))?;
        Ok(Self {
            path: None,
            conn: Arc::new(Mutex::new(prepare(conn, false)?)),
        })
    }

    /// The database file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `op` on the connection in a blocking worker.
    async fn blocking<T, F>(&self, op: F) -> Result<T, SinkError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, SinkError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            op(&mut guard)
        })
        .await
        .map_err(|e| SinkError::worker(SINK, e))?
    }
}

/// Sets the journal and timeouts and creates the tables.
fn prepare(conn: Connection, wal: bool) -> Result<Connection, SinkError> {
    let db = |action| move |e| SinkError::database(SINK, action, e);
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(db("setting the busy timeout"))?;
    if wal {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(db("switching to the WAL journal"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(SinkError::Config {
                sink: SINK,
                detail: format!("the database refused the WAL journal (it stays in {mode:?} mode)"),
            });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db("setting synchronous = NORMAL"))?;
    }
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(db("reading the schema version"))?;
    if version > schema::VERSION {
        return Err(SinkError::corrupt(
            SINK,
            "the database",
            format!(
                "its schema version {version} is newer than this build understands ({}); \
                 upgrade affiliate",
                schema::VERSION
            ),
        ));
    }
    if version > 0 {
        for migration in &schema::MIGRATIONS[(version as usize).saturating_sub(1)..] {
            conn.execute_batch(migration)
                .map_err(db("upgrading the schema"))?;
        }
    }
    conn.execute_batch(schema::CREATE)
        .map_err(db("creating the tables"))?;
    conn.pragma_update(None, "user_version", schema::VERSION)
        .map_err(db("recording the schema version"))?;
    Ok(conn)
}

#[async_trait]
impl Sink for SqliteSink {
    fn name(&self) -> &'static str {
        SINK
    }

    async fn load_state(&self, source: &SourceId) -> Result<SourceState, SinkError> {
        let source = source.clone();
        self.blocking(move |conn| load_state(conn, &source)).await
    }

    async fn begin_run(&self, source: &SourceId, run: &RunState) -> Result<(), SinkError> {
        let (source, run) = (source.clone(), run.clone());
        self.blocking(move |conn| {
            let tx = immediate(conn)?;
            begin_run(&tx, &source, &run)
                .map_err(|e| SinkError::database(SINK, "starting a run", e))?;
            tx.commit()
                .map_err(|e| SinkError::database(SINK, "committing the start of a run", e))
        })
        .await
    }

    async fn commit_page(
        &self,
        source: &SourceId,
        commit: &PageCommit<'_>,
    ) -> Result<CommitOutcome, SinkError> {
        let (source, commit) = (source.clone(), OwnedCommit::new(commit));
        self.blocking(move |conn| {
            let commit = commit.borrow();
            let tx = immediate(conn)?;
            check_run(&tx, &source, commit.run_id)?;
            let outcome = write_page(&tx, &source, &commit)?;
            tx.commit()
                .map_err(|e| SinkError::database(SINK, "committing a page", e))?;
            Ok(outcome)
        })
        .await
    }

    async fn finish_run(
        &self,
        source: &SourceId,
        run_id: &str,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<(), SinkError> {
        let (source, run_id) = (source.clone(), run_id.to_owned());
        self.blocking(move |conn| {
            let tx = immediate(conn)?;
            check_run(&tx, &source, &run_id)?;
            let key = (source.provider.as_str(), source.account.as_str());
            let now = format_time(Utc::now());
            tx.execute(
                schema::FINISH_RUN,
                params![key.0, key.1, watermark.map(format_time), now],
            )
            .and_then(|_| tx.execute(schema::DELETE_SLICES, params![key.0, key.1]))
            .map_err(|e| SinkError::database(SINK, "finishing a run", e))?;
            tx.commit()
                .map_err(|e| SinkError::database(SINK, "committing the end of a run", e))
        })
        .await
    }
}

fn immediate(conn: &mut Connection) -> Result<Transaction<'_>, SinkError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| SinkError::database(SINK, "starting a transaction", e))
}

/// Refuses the commit unless `run_id` is the source's run in progress.
fn check_run(tx: &Transaction<'_>, source: &SourceId, run_id: &str) -> Result<(), SinkError> {
    let current: Option<String> = tx
        .query_row(
            schema::RUN_ID,
            params![source.provider.as_str(), source.account],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| SinkError::database(SINK, "reading the run in progress", e))?
        .flatten();
    if current.as_deref() == Some(run_id) {
        return Ok(());
    }
    Err(SinkError::Conflict {
        sink: SINK,
        source: StateConflict::WrongRun {
            expected: current.unwrap_or_else(|| "none".to_owned()),
            got: run_id.to_owned(),
        },
    })
}

/// Upserts the rows and advances the slice and the run's watermark.
fn write_page(
    tx: &Transaction<'_>,
    source: &SourceId,
    commit: &PageCommit<'_>,
) -> Result<CommitOutcome, SinkError> {
    let db = |e| SinkError::database(SINK, "writing a page", e);
    let now = format_time(Utc::now());
    let mut outcome = CommitOutcome::default();
    {
        let mut stored = tx.prepare_cached(schema::STORED).map_err(db)?;
        let mut upsert = tx.prepare_cached(schema::UPSERT).map_err(db)?;
        let mut change = tx.prepare_cached(schema::INSERT_CHANGE).map_err(db)?;
        for row in commit.rows {
            let key = params![row.source.provider.as_str(), row.source.account, row.id];
            let old: Option<Tracked> = stored
                .query_row(key, |r| {
                    let mut cells = Tracked::default();
                    for (i, cell) in cells.iter_mut().enumerate() {
                        *cell = r.get(i)?;
                    }
                    Ok(cells)
                })
                .optional()
                .map_err(db)?;
            let new = tracked(row);
            let changes = diff(old.as_ref(), &new);
            match (&old, changes.is_empty()) {
                (None, _) => outcome.inserted += 1,
                (Some(_), true) => {
                    outcome.existing += 1;
                    continue;
                }
                (Some(_), false) => {
                    outcome.existing += 1;
                    outcome.changed += 1;
                }
            }
            for c in &changes {
                change
                    .execute(params![
                        row.source.provider.as_str(),
                        row.source.account,
                        row.id,
                        now,
                        commit.run_id,
                        c.field,
                        c.old,
                        c.new,
                        c.delta_micro,
                    ])
                    .map_err(db)?;
            }
            upsert
                .execute(params![
                    row.source.provider.as_str(),
                    row.source.account,
                    row.id,
                    row.status.as_str(),
                    row.invited_at.map(format_time),
                    row.joined_at.map(format_time),
                    row.updated_at.map(format_time),
                    row.display_name,
                    row.email,
                    row.total_paid_micro,
                    row.role,
                    row.invited_by,
                    extra_json(row),
                    now,
                ])
                .map_err(db)?;
        }
    }
    let key = (source.provider.as_str(), source.account.as_str());
    let slice = SliceRow::of_commit(commit);
    let changed = tx
        .execute(
            schema::ADVANCE_SLICE,
            params![
                key.0,
                key.1,
                slice.slice,
                slice.resume,
                slice.complete,
                slice.head_ids,
                now
            ],
        )
        .map_err(db)?;
    if changed == 0 {
        return Err(SinkError::Conflict {
            sink: SINK,
            source: StateConflict::UnknownSlice(slice.slice),
        });
    }
    tx.execute(
        schema::ADVANCE_RUN,
        params![key.0, key.1, commit.watermark.map(format_time), now],
    )
    .map_err(db)?;
    Ok(outcome)
}

fn begin_run(tx: &Transaction<'_>, source: &SourceId, run: &RunState) -> rusqlite::Result<()> {
    let key = (source.provider.as_str(), source.account.as_str());
    let now = format_time(Utc::now());
    tx.execute(
        schema::BEGIN_RUN,
        params![
            key.0,
            key.1,
            run.id,
            run.mode.as_str(),
            run.since.map(format_time),
            run.until.map(format_time),
            format_time(run.started_at),
            run.watermark.map(format_time),
            now,
        ],
    )?;
    tx.execute(schema::DELETE_SLICES, params![key.0, key.1])?;
    let mut insert = tx.prepare_cached(schema::INSERT_SLICE)?;
    for (ordinal, slice) in run.slices.iter().enumerate() {
        let row = SliceRow::of_state(slice);
        insert.execute(params![
            key.0,
            key.1,
            ordinal as i64,
            row.slice,
            row.resume,
            row.complete,
            row.head_ids,
            now
        ])?;
    }
    Ok(())
}

type StateRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn load_state(conn: &mut Connection, source: &SourceId) -> Result<SourceState, SinkError> {
    let db = |e| SinkError::database(SINK, "reading sync state", e);
    let key = (source.provider.as_str(), source.account.as_str());
    let row: Option<StateRow> = conn
        .query_row(schema::LOAD_STATE, params![key.0, key.1], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .optional()
        .map_err(db)?;
    let Some((watermark, run_id, mode, since, until, started_at, run_watermark, refreshed_at)) =
        row
    else {
        return Ok(SourceState::default());
    };
    let bad =
        |detail: String| SinkError::corrupt(SINK, format!("table sync_state ({source})"), detail);
    let time = |text: Option<String>| -> Result<Option<DateTime<Utc>>, SinkError> {
        text.map(|t| {
            parse_time(&t).map_err(|e| bad(format!("{t:?} is not an RFC 3339 instant: {e}")))
        })
        .transpose()
    };
    let mut state = SourceState {
        watermark: time(watermark)?,
        refreshed_at: time(refreshed_at)?,
        run: None,
    };
    let Some(run_id) = run_id else {
        return Ok(state);
    };
    let mode = mode
        .as_deref()
        .and_then(SyncMode::parse)
        .ok_or_else(|| bad(format!("run_mode {mode:?} is not full or incremental")))?;
    let started_at = time(started_at)?.ok_or_else(|| bad("run_started_at is missing".into()))?;
    let mut stmt = conn.prepare_cached(schema::LOAD_SLICES).map_err(db)?;
    let rows = stmt
        .query_map(params![key.0, key.1], |r| {
            Ok(SliceRow {
                slice: r.get(0)?,
                resume: r.get(1)?,
                complete: r.get(2)?,
                head_ids: r.get(3)?,
            })
        })
        .map_err(db)?;
    let mut slices = Vec::new();
    for row in rows {
        let row = row.map_err(db)?;
        slices.push(
            row.into_state().map_err(|d| {
                SinkError::corrupt(SINK, format!("table sync_slices ({source})"), d)
            })?,
        );
    }
    state.run = Some(RunState {
        id: run_id,
        mode,
        since: time(since)?,
        until: time(until)?,
        started_at,
        watermark: time(run_watermark)?,
        slices,
    });
    Ok(state)
}
