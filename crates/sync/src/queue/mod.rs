//! One run shared by many workers, on a [pgmq](https://github.com/pgmq/pgmq) queue in the
//! sink's own PostgreSQL database.
//!
//! * [`WorkQueue::plan`] plans every source and enqueues one message per slice, in the same
//!   transaction that records the run (`sync_state`, `sync_slices`). Planning is serialised
//!   per source by an advisory lock and skips a source whose run is still in progress, so
//!   planning twice (or twice at once) enqueues each slice once.
//! * [`Worker::run`] (any number, on any machines) takes a **credential lease** (one row per
//!   source in `credential_leases`), reads that source's messages with a visibility timeout,
//!   extends both while the slices run, and commits each page's rows together with the
//!   slice's cursor, compare-and-set on the cursor it started from and on its slice lease;
//!   the last page archives the message in the same transaction, and the last slice
//!   finishes the run (for a source whose arrivals land in its newest slice, CoinW, the
//!   last slice queues a re-read of the newest one instead, and that re-read finishes it). A killed worker's message reappears after the visibility timeout and
//!   the next worker resumes from the last committed page; a paused worker's late commit is
//!   refused by the compare-and-set. A message read more than `max_attempts` times marks
//!   its slice dead (shown by [`WorkQueue::status`]) and is archived, not retried forever.
//! * Rate limits hold across workers because a credential is served by one worker at a time:
//!   its client (and the limiter inside it) is the only one sending that credential's
//!   requests. A shared token-bucket row would allow several workers per credential but cost
//!   a database round trip per request and tie the bucket to one limiter design; one worker
//!   per credential keeps adaptive limits (which learn from one client's answers) correct.
//!   Parallelism comes from having many credentials, and from several slices of one
//!   credential running at once inside its worker.
//!
//! pgmq is installed as plain SQL by its crate (no extension needed; the `pgmq` schema,
//! versions recorded by pgmq), one queue per sink schema.

mod lease;
mod plan;
mod status;
mod task;
mod worker;

use std::sync::Arc;

use pgmq::PGMQueueExt;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgPool;

pub use plan::{PlanOutcome, Planned};
pub use status::{FailedSlice, RunningSlice, SourceProgress};
pub use worker::{Worker, WorkerOptions, WorkerReport};

use crate::sink::PostgresSink;
use crate::SinkError;

const SINK: &str = "postgres";

/// A key for `pg_advisory_lock` shared by every installer of the queue.
const INSTALL_LOCK: i64 = 0x6166_6669_6c69_6174; // "affiliat"

/// The sink's queue of slices: planning, workers and status share it.
#[derive(Debug, Clone)]
pub struct WorkQueue {
    sink: Arc<PostgresSink>,
    name: String,
}

pub(crate) fn queue_error(action: &'static str) -> impl Fn(pgmq::PgmqError) -> SinkError {
    move |e| SinkError::database(SINK, action, e)
}

impl WorkQueue {
    /// Installs pgmq (once per database, under an advisory lock) and creates the sink
    /// schema's queue if missing.
    ///
    /// ```no_run
    /// # async fn open() -> Result<(), affiliate_sync::SinkError> {
    /// use std::sync::Arc;
    /// use affiliate_sync::{PostgresSink, WorkQueue};
    ///
    /// let sink = PostgresSink::connect("postgres://postgres@127.0.0.1/test", Some("growth")).await?;
    /// let queue = WorkQueue::open(Arc::new(sink)).await?;
    /// for source in queue.status().await? {
    ///     println!("{}: {} queued, {} done", source.source, source.queued, source.done);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn open(sink: Arc<PostgresSink>) -> Result<Self, SinkError> {
        let name = Self::name_for(sink.schema());
        install(sink.pool(), &name).await?;
        Ok(Self { sink, name })
    }

    /// The pgmq queue's name (`affiliate_` and a hash of the sink's schema).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of the queue of the sink tables in `schema`: `affiliate_` and 12 hex digits
    /// of the schema's hash (pgmq names are short identifiers), e.g. to drop it with
    /// `pgmq.drop_queue`.
    pub fn name_for(schema: Option<&str>) -> String {
        let digest = Sha256::digest(schema.unwrap_or("public").as_bytes());
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("affiliate_{hex}")
    }

    pub(crate) fn sink(&self) -> &Arc<PostgresSink> {
        &self.sink
    }

    pub(crate) fn pool(&self) -> &PgPool {
        self.sink.pool()
    }

    /// A transaction in the sink's database.
    pub(crate) async fn begin(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, SinkError> {
        self.sink.begin().await
    }

    pub(crate) async fn pgmq(&self) -> PGMQueueExt {
        PGMQueueExt::new_with_pool(self.pool().clone()).await
    }
}

async fn install(pool: &PgPool, name: &str) -> Result<(), SinkError> {
    let mut lock = pool
        .acquire()
        .await
        .map_err(crate::sink::db("installing the queue"))?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(INSTALL_LOCK)
        .execute(&mut *lock)
        .await
        .map_err(crate::sink::db("installing the queue"))?;
    let queue = PGMQueueExt::new_with_pool(pool.clone()).await;
    let installed = async {
        queue
            .install_sql_from_embedded()
            .await
            .map_err(queue_error("installing pgmq"))?;
        queue
            .create(name)
            .await
            .map_err(queue_error("creating the queue"))
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(INSTALL_LOCK)
        .execute(&mut *lock)
        .await
        .map_err(crate::sink::db("installing the queue"))?;
    installed.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_schema_has_its_own_short_queue() {
        let a = WorkQueue::name_for(Some("growth"));
        assert_eq!(a.len(), "affiliate_".len() + 12);
        assert_ne!(a, WorkQueue::name_for(None));
        assert_eq!(
            WorkQueue::name_for(None),
            WorkQueue::name_for(Some("public"))
        );
    }
}
