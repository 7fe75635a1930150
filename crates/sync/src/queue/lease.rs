//! A worker's hold on one slice: page commits guarded by the slice lease and the cursor the
//! worker last committed (compare-and-set), the message archived with the last page, the
//! run finished with its last slice; and the heartbeat that extends the lease.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use affiliate_core::SourceId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;

use super::{queue_error, WorkQueue};
use crate::sink::{apply_page, db, stage_page, PostgresSink};
use crate::state::{cursor_key, SourceState, StateConflict};
use crate::{CommitOutcome, PageCommit, RunState, Sink, SinkError};

const SINK: &str = "postgres";

/// One slice held by one worker through one delivery of its message.
#[derive(Debug)]
pub(crate) struct SliceLease {
    pub(crate) queue: WorkQueue,
    pub(crate) source: SourceId,
    /// The slice's key (`sync_slices.slice`).
    pub(crate) slice: String,
    /// `worker#msg_id#read_ct`: unique per delivery.
    pub(crate) token: String,
    /// The worker holding it (and the source's credential lease).
    worker: String,
    pub(crate) msg_id: i64,
    /// The resume cursor (as stored) the next commit must find.
    previous: Mutex<Option<String>>,
    /// The lease's length: also the longest this worker's transactions may sit idle or wait
    /// for a lock (see [`SliceLease::bound`]).
    length: Duration,
    /// This delivery re-reads a finished slice: commits check the lease only (the slice's
    /// cursor stays where it finished) and the last one finishes the run.
    pub(crate) reread: bool,
    /// Queued, instead of finishing the run, when this delivery completes the run's last
    /// slice (the re-read of its newest window).
    pub(crate) then: Option<super::task::SliceTask>,
}

impl SliceLease {
    /// Takes the slice for this delivery: later commits of any earlier holder are refused.
    pub(crate) async fn take(
        queue: WorkQueue,
        source: SourceId,
        slice: String,
        worker: &str,
        delivery: (i64, i32),
        lease: Duration,
    ) -> Result<Self, SinkError> {
        let (msg_id, read_ct) = delivery;
        let token = format!("{worker}#{msg_id}#{read_ct}");
        let previous: Option<Option<String>> = sqlx::query_scalar(
            "UPDATE sync_slices SET lease = $4, worker = $5, leased_at = now(),
                 lease_until = now() + make_interval(secs => $6), attempts = $7
             WHERE provider = $1 AND account = $2 AND slice = $3 RETURNING resume",
        )
        .bind(source.provider.as_str())
        .bind(&source.account)
        .bind(&slice)
        .bind(&token)
        .bind(worker)
        .bind(lease.as_secs_f64())
        .bind(read_ct)
        .fetch_optional(queue.pool())
        .await
        .map_err(db("taking a slice lease"))?;
        let Some(previous) = previous else {
            return Err(SinkError::Conflict {
                sink: SINK,
                source: StateConflict::UnknownSlice(slice),
            });
        };
        Ok(Self {
            queue,
            source,
            slice,
            token,
            worker: worker.to_owned(),
            msg_id,
            previous: Mutex::new(previous),
            length: lease,
            reread: false,
            then: None,
        })
    }

    /// Extends the message's visibility, the slice lease and the credential lease; false
    /// once the slice lease is lost.
    pub(crate) async fn extend(&self, lease: Duration) -> Result<bool, SinkError> {
        let mut tx = self.queue.begin().await?;
        self.bound(&mut tx).await?;
        let held = sqlx::query(
            "UPDATE sync_slices SET lease_until = now() + make_interval(secs => $5)
             WHERE provider = $1 AND account = $2 AND slice = $3 AND lease = $4",
        )
        .bind(self.source.provider.as_str())
        .bind(&self.source.account)
        .bind(&self.slice)
        .bind(&self.token)
        .bind(lease.as_secs_f64())
        .execute(&mut *tx)
        .await
        .map_err(db("extending a lease"))?
        .rows_affected()
            == 1;
        if held {
            set_visibility(&mut tx, self.queue.name(), self.msg_id, lease).await?;
            sqlx::query(
                "UPDATE credential_leases SET lease_until = now() + make_interval(secs => $4)
                 WHERE provider = $1 AND account = $2 AND worker = $3",
            )
            .bind(self.source.provider.as_str())
            .bind(&self.source.account)
            .bind(&self.worker)
            .bind(lease.as_secs_f64())
            .execute(&mut *tx)
            .await
            .map_err(db("extending a credential lease"))?;
        }
        tx.commit().await.map_err(db("extending a lease"))?;
        Ok(held)
    }

    /// Records why the slice failed this time and hides its message for `backoff`; false
    /// when the lease was lost (another worker holds the slice: nothing is recorded).
    pub(crate) async fn failed(&self, error: &str, backoff: Duration) -> Result<bool, SinkError> {
        let mut tx = self.queue.begin().await?;
        self.bound(&mut tx).await?;
        let held = sqlx::query(
            "UPDATE sync_slices SET last_error = $5, lease_until = NULL
             WHERE provider = $1 AND account = $2 AND slice = $3 AND lease = $4",
        )
        .bind(self.source.provider.as_str())
        .bind(&self.source.account)
        .bind(&self.slice)
        .bind(&self.token)
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(db("recording a failure"))?
        .rows_affected()
            == 1;
        if held {
            set_visibility(&mut tx, self.queue.name(), self.msg_id, backoff).await?;
        }
        tx.commit().await.map_err(db("recording a failure"))?;
        Ok(held)
    }

    /// Bounds the caller's transaction by the lease's length: a worker paused inside it
    /// (SIGSTOP, a frozen VM), between statements or in the middle of one (a `COPY` waiting
    /// for its data), has its statement cancelled or its session ended by the server and its
    /// locks released, so the worker taking the slice over waits at most that long; a lock
    /// wait that long fails.
    async fn bound(&self, conn: &mut PgConnection) -> Result<(), SinkError> {
        let millis = self.length.as_millis().to_string();
        sqlx::query(
            "SELECT set_config('idle_in_transaction_session_timeout', $1, true),
                    set_config('statement_timeout', $1, true),
                    set_config('lock_timeout', $1, true)",
        )
        .bind(millis)
        .execute(&mut *conn)
        .await
        .map_err(db("bounding a transaction"))?;
        Ok(())
    }

    /// The commit guard: the slice is still leased to this delivery, at the cursor this
    /// lease last committed. Locks the slice row for the rest of the transaction.
    async fn check(&self, conn: &mut PgConnection) -> Result<(), SinkError> {
        let previous = self
            .previous
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let held: Option<bool> = sqlx::query_scalar(
            "SELECT true FROM sync_slices
             WHERE provider = $1 AND account = $2 AND slice = $3 AND lease = $4
               AND ($6 OR (resume IS NOT DISTINCT FROM $5 AND NOT complete))
             FOR UPDATE",
        )
        .bind(self.source.provider.as_str())
        .bind(&self.source.account)
        .bind(&self.slice)
        .bind(&self.token)
        .bind(previous)
        .bind(self.reread)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("checking the slice lease"))?;
        if held.is_some() {
            return Ok(());
        }
        Err(SinkError::Conflict {
            sink: SINK,
            source: StateConflict::LeaseLost {
                slice: self.slice.clone(),
                lease: self.token.clone(),
            },
        })
    }
}

/// Sets a message's visibility timeout; an archived message is left alone.
async fn set_visibility(
    conn: &mut PgConnection,
    queue: &str,
    msg_id: i64,
    after: Duration,
) -> Result<(), SinkError> {
    sqlx::query("SELECT 1 FROM pgmq.set_vt(queue_name => $1, msg_id => $2, vt => $3)")
        .bind(queue)
        .bind(msg_id)
        .bind(i32::try_from(after.as_secs().max(1)).unwrap_or(i32::MAX))
        .execute(&mut *conn)
        .await
        .map_err(db("setting a message's visibility"))?;
    Ok(())
}

/// True when no slice of the source's run is left unfinished.
async fn all_complete(conn: &mut PgConnection, source: &SourceId) -> Result<bool, SinkError> {
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sync_slices WHERE provider = $1 AND account = $2 AND NOT complete",
    )
    .bind(source.provider.as_str())
    .bind(&source.account)
    .fetch_one(&mut *conn)
    .await
    .map_err(db("counting unfinished slices"))?;
    Ok(left == 0)
}

/// Finishes the run when no slice of it is left: the watermark is the newest activity the
/// slices committed, never past the run's start.
async fn finish_if_last(conn: &mut PgConnection, source: &SourceId) -> Result<(), SinkError> {
    sqlx::query(
        "UPDATE sync_state SET
             watermark = GREATEST(watermark, LEAST(run_watermark, run_started_at)),
             refreshed_at = CASE WHEN run_mode = 'full' THEN run_started_at ELSE refreshed_at END,
             run_id = NULL, run_mode = NULL, run_since = NULL, run_until = NULL,
             run_started_at = NULL, run_watermark = NULL, updated_at = now()
         WHERE provider = $1 AND account = $2 AND NOT EXISTS (
             SELECT 1 FROM sync_slices s
             WHERE s.provider = $1 AND s.account = $2 AND NOT s.complete)",
    )
    .bind(source.provider.as_str())
    .bind(&source.account)
    .execute(&mut *conn)
    .await
    .map_err(db("finishing a run"))?;
    Ok(())
}

/// The sink a leased slice's pages go through: [`SliceLease`]'s guard, then the ordinary
/// page write; the state methods are the PostgreSQL sink's own.
#[derive(Debug)]
pub(crate) struct LeasedSink {
    pub(crate) lease: Arc<SliceLease>,
    pub(crate) sink: Arc<PostgresSink>,
}

#[async_trait]
impl Sink for LeasedSink {
    fn name(&self) -> &'static str {
        SINK
    }

    async fn load_state(&self, source: &SourceId) -> Result<SourceState, SinkError> {
        self.sink.load_state(source).await
    }

    async fn begin_run(&self, source: &SourceId, run: &RunState) -> Result<(), SinkError> {
        self.sink.begin_run(source, run).await
    }

    async fn commit_page(
        &self,
        source: &SourceId,
        commit: &PageCommit<'_>,
    ) -> Result<CommitOutcome, SinkError> {
        let lease = &self.lease;
        let mut tx = lease.queue.begin().await?;
        lease.bound(&mut tx).await?;
        // Rows first (no shared lock held while the client streams them), then the guard.
        let staged = stage_page(&mut tx, commit).await?;
        lease.check(&mut tx).await?;
        let outcome = apply_page(&mut tx, source, commit, staged).await?;
        if commit.resume.is_none() {
            let pgmq = lease.queue.pgmq().await;
            pgmq.archive_with_cxn(lease.queue.name(), lease.msg_id, &mut *tx)
                .await
                .map_err(queue_error("archiving a finished slice"))?;
            match &lease.then {
                Some(next) if all_complete(&mut tx, source).await? => {
                    pgmq.send_with_cxn(lease.queue.name(), next, &mut *tx)
                        .await
                        .map_err(queue_error("queueing the re-read of the newest slice"))?;
                }
                _ => finish_if_last(&mut tx, source).await?,
            }
        }
        tx.commit().await.map_err(db("committing a page"))?;
        if !lease.reread {
            *lease
                .previous
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = commit.resume.map(cursor_key);
        }
        Ok(outcome)
    }

    async fn finish_run(
        &self,
        source: &SourceId,
        run_id: &str,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<(), SinkError> {
        self.sink.finish_run(source, run_id, watermark).await
    }
}

/// Extends `lease` every third of its length until `done` is cancelled; cancels `lost`
/// when the lease is gone (taken over after expiring) so the slice stops between pages.
pub(crate) async fn heartbeat(
    lease: Arc<SliceLease>,
    length: Duration,
    done: CancellationToken,
    lost: CancellationToken,
) {
    loop {
        tokio::select! {
            () = done.cancelled() => return,
            () = tokio::time::sleep(length / 3) => {}
        }
        match lease.extend(length).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(slice = %lease.slice, "slice lease lost: stopping the slice");
                lost.cancel();
                return;
            }
            Err(err) => tracing::warn!("extending a slice lease: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SyncMode;
    use affiliate_core::{Cursor, Invitee, InviteeStatus, Position, Provider, Scope};

    /// A run of one slice in a schema (and queue) of its own, against
    /// `AFFILIATE_TEST_POSTGRES_URL` (`None`, and a line saying so, when it is unset).
    struct Fixture {
        sink: Arc<PostgresSink>,
        queue: WorkQueue,
        id: SourceId,
        slice: Cursor,
        schema: String,
    }

    impl Fixture {
        async fn open(name: &str) -> Option<Self> {
            let Ok(url) = std::env::var("AFFILIATE_TEST_POSTGRES_URL") else {
                println!("skipped: AFFILIATE_TEST_POSTGRES_URL not set");
                return None;
            };
            let schema = format!("aff{name}_{}", std::process::id());
            let sink = Arc::new(PostgresSink::connect(&url, Some(&schema)).await.unwrap());
            let queue = WorkQueue::open(sink.clone()).await.unwrap();
            let id = SourceId::new(Provider::Census, name);
            let slice = Cursor::at(Position::Page { number: 1, size: 1 });
            let run = RunState::new(
                "r1",
                SyncMode::Full,
                &Scope::full(),
                Utc::now(),
                [slice.clone()],
            );
            sink.begin_run(&id, &run).await.unwrap();
            Some(Self {
                sink,
                queue,
                id,
                slice,
                schema,
            })
        }

        /// `worker` takes the slice through the `read_ct`-th delivery of message 1.
        async fn take(&self, worker: &str, read_ct: i32, length: Duration) -> Arc<SliceLease> {
            let key = cursor_key(&self.slice);
            let lease = SliceLease::take(
                self.queue.clone(),
                self.id.clone(),
                key,
                worker,
                (1, read_ct),
                length,
            );
            Arc::new(lease.await.unwrap())
        }

        fn sink(&self, lease: Arc<SliceLease>) -> LeasedSink {
            LeasedSink {
                lease,
                sink: self.sink.clone(),
            }
        }

        async fn drop_all(self) {
            sqlx::query("SELECT pgmq.drop_queue($1)")
                .bind(self.queue.name())
                .execute(self.sink.pool())
                .await
                .unwrap();
            sqlx::raw_sql(&format!("DROP SCHEMA {} CASCADE", self.schema))
                .execute(self.sink.pool())
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_commit_after_the_lease_was_taken_over_is_refused() {
        let Some(f) = Fixture::open("lease").await else {
            return;
        };
        let long = Duration::from_secs(30);
        let late = f.sink(f.take("a", 1, long).await);
        let rows = [Invitee::new(f.id.clone(), "1", InviteeStatus::Joined)];
        let next = Cursor::at(Position::Page { number: 2, size: 1 });
        let page = PageCommit::new("r1", &f.slice, &rows, Some(&next));
        late.commit_page(&f.id, &page).await.unwrap();

        // Its message was read again after the visibility timeout: another worker holds it.
        let taker = f.sink(f.take("b", 2, long).await);
        let last = [Invitee::new(f.id.clone(), "2", InviteeStatus::Joined)];
        let end = PageCommit::new("r1", &f.slice, &last, None);
        let err = late.commit_page(&f.id, &end).await.unwrap_err();
        assert!(
            matches!(
                &err,
                SinkError::Conflict {
                    source: StateConflict::LeaseLost { .. },
                    ..
                }
            ),
            "{err}"
        );
        // The taker started from the committed cursor: its commit goes in.
        taker.commit_page(&f.id, &end).await.unwrap();
        let state = f.sink.load_state(&f.id).await.unwrap();
        assert!(state.run.is_none(), "the last slice finished the run");
        f.drop_all().await;
    }

    /// A worker frozen inside a page's transaction after it locked the slice row is ended by
    /// the server once its lease runs out, so the worker taking the slice over gets the row.
    /// (Its `COPY` comes before any shared lock: the server cannot end a `COPY` waiting for
    /// data.)
    #[tokio::test]
    async fn a_transaction_frozen_holding_the_slice_lock_is_ended_by_the_server() {
        let Some(f) = Fixture::open("stall").await else {
            return;
        };
        let frozen = f.take("a", 1, Duration::from_secs(1)).await;
        let mut tx = f.sink.pool().begin().await.unwrap();
        frozen.bound(&mut tx).await.unwrap();
        frozen.check(&mut tx).await.unwrap();
        // The frozen worker sends nothing more. Another session needs the row; its own
        // lock_timeout, far beyond the lease, would refuse it if the frozen one held on.
        let mut taker = f.sink.pool().begin().await.unwrap();
        sqlx::query("SET LOCAL lock_timeout = '60s'")
            .execute(&mut *taker)
            .await
            .unwrap();
        sqlx::query("UPDATE sync_slices SET lease = 'b' WHERE slice = $1")
            .bind(cursor_key(&f.slice))
            .execute(&mut *taker)
            .await
            .expect("the frozen transaction released the row");
        taker.commit().await.unwrap();
        let late = tx.commit().await;
        assert!(late.is_err(), "the server ended the frozen transaction");
        f.drop_all().await;
    }
}
