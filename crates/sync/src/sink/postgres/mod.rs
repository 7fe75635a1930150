//! PostgreSQL: each page `COPY`'d into a staging table and upserted, with the sync state, in
//! one transaction; tables created and upgraded by recorded migrations.

mod connect;
mod copy;
mod history;
mod run_state;
mod statements;

use std::collections::HashMap;
use std::fmt;

use affiliate_core::{Invitee, SourceId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;
use sqlx::PgConnection;

pub(crate) use self::connect::{db, Target};
use self::statements::{
    ADVANCE_RUN, ADVANCE_SLICE, BEGIN_RUN, DELETE_SLICES, FINISH_RUN, INSERT_SLICES,
};
use super::changes::{diff, tracked};
use super::row::row_key;
use super::sql::SliceRow;
use super::{CommitOutcome, PageCommit, Sink};
use crate::state::{RunState, SourceState, StateConflict};
use crate::SinkError;

const SINK: &str = "postgres";

/// A PostgreSQL database holding the `invitees`, `invitee_changes`, `sync_state` and
/// `sync_slices` tables (optionally inside a schema of their own).
///
/// Each page is one transaction: the run is checked (`SELECT ... FOR UPDATE` on the
/// source's state row), the page's new and changed rows are `COPY`'d into a per-connection
/// staging table and upserted with one `INSERT ... SELECT ... ON CONFLICT`, their changes
/// recorded, then the slice's progress is stored. `extra` is `jsonb`, instants are
/// `timestamptz`. The tables come from migrations whose versions are recorded in
/// `_sqlx_migrations`; connecting applies the missing ones (idempotent, under an advisory
/// lock, so workers may connect at once).
///
/// Connections follow libpq's `sslmode` (`disable`, `allow`, `prefer`, `require`,
/// `verify-ca`, `verify-full`) and `sslrootcert` in the URL, with rustls: without `sslmode`,
/// loopback hosts and Unix sockets connect plain and every other host with `verify-full`
/// against the webpki roots (plus `sslrootcert`); a plain connection to any other host is
/// refused before connecting. A password missing from the URL is read from `PGPASSWORD`.
///
/// ```no_run
/// # async fn open() -> Result<(), affiliate_sync::SinkError> {
/// use affiliate_sync::PostgresSink;
///
/// let sink = PostgresSink::connect("postgres://postgres@127.0.0.1:5432/affiliate", None).await?;
/// // A managed server: TLS, the certificate and the host name checked.
/// let managed = PostgresSink::connect(
///     "postgres://sync@db.example.com:5432/growth?sslmode=verify-full&sslrootcert=/etc/ssl/rds-ca.pem",
///     Some("affiliate"),
/// )
/// .await?;
/// # Ok(()) }
/// ```
pub struct PostgresSink {
    target: String,
    schema: Option<String>,
    pool: PgPool,
}

impl fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSink")
            .field("target", &self.target)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PostgresSink {
    /// Connects to `url` (`postgres://user@127.0.0.1:5432/db?sslmode=...`), creates `schema`
    /// if given and migrates the tables in it (or in the connection's default schema).
    ///
    /// Must run inside a Tokio runtime.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self, SinkError> {
        let target = Target::parse(url)?;
        target.prepare(schema).await?;
        let pool = target.in_schema(schema).pool();
        Ok(Self {
            target: target.label,
            schema: schema.map(str::to_owned),
            pool,
        })
    }

    /// The schema the tables live in, when one was given.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The connection pool (every connection's `search_path` starts with the schema).
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction on the pool; the error names the server.
    pub(crate) async fn begin(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, SinkError> {
        self.pool.begin().await.map_err(|e| SinkError::Database {
            sink: SINK,
            action: "starting a transaction",
            source: format!("{}: {}", self.target, connect::Driver::new(e)).into(),
        })
    }
}

/// A pool connected to `url` the way [`PostgresSink`] connects (libpq `sslmode` and
/// `sslrootcert` with rustls; plain connections only to loopback or a Unix socket), and
/// `host:port/db` for messages. Nothing is created or migrated.
///
/// ```no_run
/// # async fn read() -> Result<(), Box<dyn std::error::Error>> {
/// let (pool, target) =
///     affiliate_sync::connect_postgres("postgres://reader@127.0.0.1/growth").await?;
/// let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM invitees")
///     .fetch_one(&pool)
///     .await?;
/// println!("{rows} invitees in {target}");
/// # Ok(()) }
/// ```
pub async fn connect_postgres(url: &str) -> Result<(PgPool, String), SinkError> {
    let target = Target::parse(url)?;
    target.check().await?;
    Ok((target.pool(), target.label))
}

#[async_trait]
impl Sink for PostgresSink {
    fn name(&self) -> &'static str {
        SINK
    }

    async fn load_state(&self, source: &SourceId) -> Result<SourceState, SinkError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db("reading sync state"))?;
        run_state::load(&mut conn, source).await
    }

    async fn begin_run(&self, source: &SourceId, run: &RunState) -> Result<(), SinkError> {
        let mut tx = self.begin().await?;
        store_run(&mut tx, source, run).await?;
        tx.commit()
            .await
            .map_err(db("committing the start of a run"))
    }

    async fn commit_page(
        &self,
        source: &SourceId,
        commit: &PageCommit<'_>,
    ) -> Result<CommitOutcome, SinkError> {
        let mut tx = self.begin().await?;
        let staged = stage_page(&mut tx, commit).await?;
        let outcome = apply_page(&mut tx, source, commit, staged).await?;
        tx.commit().await.map_err(db("committing a page"))?;
        Ok(outcome)
    }

    async fn finish_run(
        &self,
        source: &SourceId,
        run_id: &str,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<(), SinkError> {
        let mut tx = self.begin().await?;
        run_state::check_run(&mut tx, source, run_id).await?;
        sqlx::query(FINISH_RUN)
            .bind(source.provider.as_str())
            .bind(&source.account)
            .bind(watermark)
            .execute(&mut *tx)
            .await
            .map_err(db("finishing a run"))?;
        sqlx::query(DELETE_SLICES)
            .bind(source.provider.as_str())
            .bind(&source.account)
            .execute(&mut *tx)
            .await
            .map_err(db("clearing finished slices"))?;
        tx.commit().await.map_err(db("committing the end of a run"))
    }
}

/// The stored state of `source`, read inside the caller's transaction.
pub(crate) async fn load_state_in(
    conn: &mut PgConnection,
    source: &SourceId,
) -> Result<SourceState, SinkError> {
    run_state::load(conn, source).await
}

/// Records `run` as the source's run in progress, replacing its slices.
pub(crate) async fn store_run(
    conn: &mut PgConnection,
    source: &SourceId,
    run: &RunState,
) -> Result<(), SinkError> {
    let (provider, account) = (source.provider.as_str(), source.account.as_str());
    sqlx::query(BEGIN_RUN)
        .bind(provider)
        .bind(account)
        .bind(&run.id)
        .bind(run.mode.as_str())
        .bind(run.since)
        .bind(run.until)
        .bind(run.started_at)
        .bind(run.watermark)
        .execute(&mut *conn)
        .await
        .map_err(db("starting a run"))?;
    sqlx::query(DELETE_SLICES)
        .bind(provider)
        .bind(account)
        .execute(&mut *conn)
        .await
        .map_err(db("clearing old slices"))?;
    let rows: Vec<SliceRow> = run.slices.iter().map(SliceRow::of_state).collect();
    let ordinals: Vec<i32> = (0..rows.len())
        .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
        .collect();
    sqlx::query(INSERT_SLICES)
        .bind(provider)
        .bind(account)
        .bind(ordinals)
        .bind(rows.iter().map(|r| r.slice.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.resume.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.complete).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.head_ids.as_deref())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *conn)
        .await
        .map_err(db("storing slices"))?;
    Ok(())
}

/// A page's rows copied into the connection's staging table, one version per key (the last
/// occurrence of a repeated key wins), before any shared row is locked: a worker frozen in
/// the middle of a `COPY` (which the server cannot time out while it waits for data) then
/// holds no lock another worker needs.
pub(crate) struct Staged<'a> {
    unique: Vec<&'a Invitee>,
    repeated: u64,
}

/// Copies `commit`'s rows into the staging table (see [`Staged`]).
pub(crate) async fn stage_page<'a>(
    conn: &mut PgConnection,
    commit: &PageCommit<'a>,
) -> Result<Staged<'a>, SinkError> {
    let rows = commit.rows;
    let mut last: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        last.insert(row_key(row), i);
    }
    let mut unique: Vec<usize> = last.into_values().collect();
    unique.sort_unstable();
    let unique: Vec<&Invitee> = unique.iter().map(|&i| &rows[i]).collect();
    copy::stage(conn, &unique, Utc::now()).await?;
    Ok(Staged {
        repeated: (rows.len() - unique.len()) as u64,
        unique,
    })
}

/// One page inside the caller's transaction, its rows already staged: the run checked (the
/// source's state row locked), the new and changed rows upserted and their changes recorded,
/// the slice and the run's watermark advanced.
pub(crate) async fn apply_page(
    conn: &mut PgConnection,
    source: &SourceId,
    commit: &PageCommit<'_>,
    staged: Staged<'_>,
) -> Result<CommitOutcome, SinkError> {
    run_state::check_run(conn, source, commit.run_id).await?;
    let outcome = upsert(conn, commit.run_id, staged).await?;
    let slice = SliceRow::of_commit(commit);
    let advanced = sqlx::query(ADVANCE_SLICE)
        .bind(source.provider.as_str())
        .bind(&source.account)
        .bind(&slice.slice)
        .bind(&slice.resume)
        .bind(slice.complete)
        .bind(&slice.head_ids)
        .bind(commit.rows.len() as i64)
        .execute(&mut *conn)
        .await
        .map_err(db("storing slice progress"))?;
    if advanced.rows_affected() == 0 {
        return Err(SinkError::Conflict {
            sink: SINK,
            source: StateConflict::UnknownSlice(slice.slice),
        });
    }
    sqlx::query(ADVANCE_RUN)
        .bind(source.provider.as_str())
        .bind(&source.account)
        .bind(commit.watermark)
        .execute(&mut *conn)
        .await
        .map_err(db("storing the run watermark"))?;
    Ok(outcome)
}

/// Upserts the new and changed records among the staged ones and records their changes;
/// unchanged records are left alone.
async fn upsert(
    conn: &mut PgConnection,
    run_id: &str,
    staged: Staged<'_>,
) -> Result<CommitOutcome, SinkError> {
    let stored = history::stored(conn, &staged.unique).await?;
    let mut outcome = CommitOutcome::new(0, staged.repeated);
    let mut changes = Vec::new();
    let mut written = Vec::new();
    for &row in &staged.unique {
        let old = stored.get(&row_key(row));
        let diff = diff(old, &tracked(row));
        match (old, diff.is_empty()) {
            (None, _) => outcome.inserted += 1,
            (Some(_), true) => outcome.existing += 1,
            (Some(_), false) => {
                outcome.existing += 1;
                outcome.changed += 1;
            }
        }
        if !diff.is_empty() {
            written.push(row);
            changes.extend(diff.into_iter().map(|c| (row, c)));
        }
    }
    history::record(conn, run_id, &changes).await?;
    let every = written.len() == staged.unique.len();
    copy::upsert_staged(conn, &written, every).await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_name_the_server_and_the_cause() {
        let err = PostgresSink::connect("postgres://postgres@127.0.0.1:1/none", None)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("postgres sink: connecting: 127.0.0.1:1/none: "),
            "{text}"
        );
        assert!(text.contains("refused"), "{text}");
    }
}
