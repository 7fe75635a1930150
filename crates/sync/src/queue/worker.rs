//! `worker`: serves credentials one at a time, their slices page by page under leases.

use std::sync::Arc;
use std::time::Duration;

use affiliate_core::driver::SeenSet;
use affiliate_core::{InviteeSource, Strategy};
use futures::future::join_all;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::lease::{heartbeat, LeasedSink, SliceLease};
use super::task::{pending, read, source_key, Delivery, SliceTask};
use super::{queue_error, WorkQueue};
use crate::engine::slice::{Deadline, SliceDriver, SliceEnd};
use crate::engine::source_run::Watermark;
use crate::sink::db;
use crate::state::{cursor_key, SliceState};
use crate::{NoopObserver, SinkError, SyncOptions};

/// How a worker behaves. Defaults: a 30 s visibility timeout (extended every 10 s while a
/// slice runs), 5 attempts before a slice is dead, a 1 s poll, retries after 5 s doubling
/// up to 5 minutes, and the sync options' email policy, driver settings and slices per
/// source.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The worker's name in `status` (default: host name and process id).
    pub name: String,
    /// How long a read message (and a credential lease) stays hidden without a heartbeat.
    pub visibility_timeout: Duration,
    /// Reads of one message before its slice is marked dead.
    pub max_attempts: u32,
    /// The wait between looks at an empty queue.
    pub poll_interval: Duration,
    /// Stop once no message of the worker's sources is left (visible or not).
    pub exit_when_idle: bool,
    /// The first wait before a failed slice is retried; doubled per attempt, capped at 5 min.
    pub retry_backoff: Duration,
    /// Email policy, driver settings and slices run at once per credential.
    pub sync: SyncOptions,
}

impl WorkerOptions {
    /// The defaults above, named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            visibility_timeout: Duration::from_secs(30),
            max_attempts: 5,
            poll_interval: Duration::from_secs(1),
            exit_when_idle: false,
            retry_backoff: Duration::from_secs(5),
            sync: SyncOptions::default(),
        }
    }

    /// Sets [`WorkerOptions::visibility_timeout`] (at least one second).
    pub fn with_visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout.max(Duration::from_secs(1));
        self
    }

    /// Sets [`WorkerOptions::max_attempts`] (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets [`WorkerOptions::poll_interval`].
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets [`WorkerOptions::exit_when_idle`].
    pub fn with_exit_when_idle(mut self, exit: bool) -> Self {
        self.exit_when_idle = exit;
        self
    }

    /// Sets [`WorkerOptions::retry_backoff`].
    pub fn with_retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = backoff;
        self
    }

    /// Sets [`WorkerOptions::sync`].
    pub fn with_sync(mut self, sync: SyncOptions) -> Self {
        self.sync = sync;
        self
    }

    fn backoff(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(16);
        (self.retry_backoff * 2u32.pow(doublings)).min(Duration::from_secs(300))
    }
}

/// What one worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkerReport {
    /// Slices this worker finished.
    pub slices_done: u64,
    /// Slice attempts that failed (to be retried after the backoff).
    pub slices_failed: u64,
    /// Slices this worker marked dead (read more than `max_attempts` times).
    pub slices_dead: u64,
    /// Slices given up because another worker took them over.
    pub leases_lost: u64,
    /// Messages archived without work (their run was superseded or their slice done).
    pub stale: u64,
    /// Pages committed.
    pub pages: u64,
    /// New records stored.
    pub records: u64,
}

/// One worker over the sources it can serve (their credentials come from its config).
///
/// ```no_run
/// # async fn work(sources: Vec<std::sync::Arc<dyn affiliate_core::InviteeSource>>)
/// #     -> Result<(), affiliate_sync::SinkError> {
/// use std::sync::Arc;
/// use affiliate_sync::{CancellationToken, PostgresSink, WorkQueue, Worker, WorkerOptions};
///
/// let sink = PostgresSink::connect("postgres://postgres@127.0.0.1/test", None).await?;
/// let queue = WorkQueue::open(Arc::new(sink)).await?;
/// let options = WorkerOptions::new("worker-1").with_exit_when_idle(true);
/// let report = Worker::new(queue, sources, options).run(CancellationToken::new()).await?;
/// println!("{} slices done", report.slices_done);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Worker {
    queue: WorkQueue,
    sources: Vec<Arc<dyn InviteeSource>>,
    options: WorkerOptions,
}

impl Worker {
    /// A worker serving `sources` from `queue`.
    pub fn new(
        queue: WorkQueue,
        sources: Vec<Arc<dyn InviteeSource>>,
        options: WorkerOptions,
    ) -> Self {
        Self {
            queue,
            sources,
            options,
        }
    }

    /// Serves until cancelled (or, with `exit_when_idle`, until its sources' messages are
    /// gone). A database failure ends the worker with the error; source failures are
    /// recorded on their slices and retried.
    pub async fn run(&self, token: CancellationToken) -> Result<WorkerReport, SinkError> {
        let mut report = WorkerReport::default();
        let keys: Vec<String> = self.sources.iter().map(|s| source_key(s.id())).collect();
        while !token.is_cancelled() {
            let mut worked = false;
            for source in &self.sources {
                if token.is_cancelled() {
                    break;
                }
                worked |= self.serve(source, &token, &mut report).await?;
            }
            if worked {
                continue;
            }
            if self.options.exit_when_idle
                && pending(self.queue.pool(), self.queue.name(), &keys).await? == 0
            {
                break;
            }
            tokio::select! {
                () = token.cancelled() => {}
                () = tokio::time::sleep(self.options.poll_interval) => {}
            }
        }
        Ok(report)
    }

    /// Takes `source`'s credential lease if free and runs its visible slices; true if it
    /// ran any.
    async fn serve(
        &self,
        source: &Arc<dyn InviteeSource>,
        token: &CancellationToken,
        report: &mut WorkerReport,
    ) -> Result<bool, SinkError> {
        if !self.take_credential(source).await? {
            return Ok(false);
        }
        let vt = self.options.visibility_timeout;
        let vt_secs = i32::try_from(vt.as_secs()).unwrap_or(i32::MAX);
        let key = source_key(source.id());
        let mut worked = false;
        loop {
            if token.is_cancelled() || !self.take_credential(source).await? {
                break;
            }
            let qty = i32::try_from(self.options.sync.slices_per_source.max(1)).unwrap_or(1);
            let deliveries = read(self.queue.pool(), self.queue.name(), &key, vt_secs, qty).await?;
            if deliveries.is_empty() {
                break;
            }
            worked = true;
            let results = join_all(
                deliveries
                    .into_iter()
                    .map(|d| self.process(source.clone(), d, token.clone())),
            )
            .await;
            for result in results {
                report.absorb(result?);
            }
        }
        self.release_credential(source).await?;
        Ok(worked)
    }

    /// Takes (or extends) the credential lease of `source`; false if another worker's
    /// lease is still valid.
    async fn take_credential(&self, source: &Arc<dyn InviteeSource>) -> Result<bool, SinkError> {
        let id = source.id();
        let taken: Option<String> = sqlx::query_scalar(
            "INSERT INTO credential_leases (provider, account, worker, lease_until)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))
             ON CONFLICT (provider, account) DO UPDATE
                 SET worker = excluded.worker, lease_until = excluded.lease_until
                 WHERE credential_leases.lease_until < now()
                    OR credential_leases.worker = excluded.worker
             RETURNING worker",
        )
        .bind(id.provider.as_str())
        .bind(&id.account)
        .bind(&self.options.name)
        .bind(self.options.visibility_timeout.as_secs_f64())
        .fetch_optional(self.queue.pool())
        .await
        .map_err(db("taking a credential lease"))?;
        Ok(taken.is_some())
    }

    async fn release_credential(&self, source: &Arc<dyn InviteeSource>) -> Result<(), SinkError> {
        let id = source.id();
        sqlx::query(
            "DELETE FROM credential_leases WHERE provider = $1 AND account = $2 AND worker = $3",
        )
        .bind(id.provider.as_str())
        .bind(&id.account)
        .bind(&self.options.name)
        .execute(self.queue.pool())
        .await
        .map_err(db("releasing a credential lease"))?;
        Ok(())
    }

    /// Runs one delivered slice to its end (or its lease's).
    async fn process(
        &self,
        source: Arc<dyn InviteeSource>,
        delivery: Delivery,
        token: CancellationToken,
    ) -> Result<WorkerReport, SinkError> {
        let mut report = WorkerReport::default();
        let id = source.id().clone();
        if delivery.read_ct > i32::try_from(self.options.max_attempts).unwrap_or(i32::MAX) {
            self.dead_letter(&delivery).await?;
            report.slices_dead = 1;
            return Ok(report);
        }
        let sink = self.queue.sink().clone();
        let state = crate::Sink::load_state(sink.as_ref(), &id).await?;
        let run = state.run.filter(|run| run.id == delivery.task.run);
        let slice = run.as_ref().and_then(|run| {
            run.slices
                .iter()
                .find(|s| cursor_key(&s.start) == delivery.task.slice)
                .cloned()
        });
        let (Some(run), Some(slice)) = (run, slice) else {
            self.archive(delivery.msg_id).await?;
            report.stale = 1;
            return Ok(report);
        };
        let reread = delivery.task.reread;
        if slice.is_complete() && !reread {
            self.archive(delivery.msg_id).await?;
            report.stale = 1;
            return Ok(report);
        }
        let vt = self.options.visibility_timeout;
        let mut lease = SliceLease::take(
            self.queue.clone(),
            id.clone(),
            delivery.task.slice.clone(),
            &self.options.name,
            (delivery.msg_id, delivery.read_ct),
            vt,
        )
        .await?;
        lease.reread = reread;
        // Arrivals during the run land in the newest slice: once the others are done, it is
        // read once more (as `SyncEngine` does), as a message of its own.
        lease.then = (!reread && source.rereads_first_slice())
            .then(|| run.slices.first())
            .flatten()
            .map(|first| SliceTask {
                source: delivery.task.source.clone(),
                run: run.id.clone(),
                slice: cursor_key(&first.start),
                reread: true,
            });
        let lease = Arc::new(lease);
        let slice = if reread {
            SliceState::pending(slice.start.clone())
        } else {
            slice
        };
        let (done, lost) = (CancellationToken::new(), token.child_token());
        tokio::spawn(heartbeat(lease.clone(), vt, done.clone(), lost.clone()));
        let seen = SeenSet::holding(run.slices.iter().flat_map(|s| &s.head_ids));
        let driver = SliceDriver {
            source: source.clone(),
            sink: Arc::new(LeasedSink {
                lease: lease.clone(),
                sink,
            }),
            observer: Arc::new(NoopObserver),
            email: self.options.sync.email.clone(),
            run_id: run.id.clone(),
            scope: run.scope(),
            seen,
            driver: self.options.sync.driver.clone(),
            token: lost.clone(),
            watermark: Watermark::new(run.watermark),
            head_ids: matches!(
                source.strategy_for(&run.scope()),
                Strategy::NewestFirstOffset | Strategy::NewestFirstPages
            ),
            // The heartbeat keeps a live worker's lease: the deadline bounds its slice.
            deadline: Deadline::starting_now(self.options.sync.deadline),
        };
        info!(source = %id, slice = %delivery.task.slice, attempt = delivery.read_ct, "slice taken");
        let outcome = driver.drive(slice).await;
        done.cancel();
        report.pages = outcome.pages;
        report.records = outcome.inserted;
        match outcome.end {
            SliceEnd::Complete => report.slices_done = 1,
            SliceEnd::Cancelled if !token.is_cancelled() => report.leases_lost = 1,
            SliceEnd::Cancelled => {}
            SliceEnd::Failed(failure) => {
                let backoff = self.options.backoff(delivery.read_ct);
                if lease.failed(&failure.message, backoff).await? {
                    warn!(source = %id, "slice failed, retried in {backoff:?}: {}", failure.message);
                    report.slices_failed = 1;
                } else {
                    report.leases_lost = 1;
                }
            }
        }
        Ok(report)
    }

    /// Marks the delivered slice dead and archives its message, in one transaction.
    async fn dead_letter(&self, delivery: &Delivery) -> Result<(), SinkError> {
        let mut tx = self.queue.begin().await?;
        let (provider, account) = delivery
            .task
            .source
            .split_once('/')
            .unwrap_or((delivery.task.source.as_str(), ""));
        sqlx::query(
            "UPDATE sync_slices SET dead = true, lease_until = NULL,
                 attempts = $4 - 1,
                 last_error = COALESCE(last_error, 'no error recorded')
             WHERE provider = $1 AND account = $2 AND slice = $3",
        )
        .bind(provider)
        .bind(account)
        .bind(&delivery.task.slice)
        .bind(delivery.read_ct)
        .execute(&mut *tx)
        .await
        .map_err(db("dead-lettering a slice"))?;
        let pgmq = self.queue.pgmq().await;
        pgmq.archive_with_cxn(self.queue.name(), delivery.msg_id, &mut *tx)
            .await
            .map_err(queue_error("dead-lettering a slice"))?;
        tx.commit().await.map_err(db("dead-lettering a slice"))?;
        warn!(source = %delivery.task.source, slice = %delivery.task.slice, "slice is dead after {} attempts", delivery.read_ct - 1);
        Ok(())
    }

    async fn archive(&self, msg_id: i64) -> Result<(), SinkError> {
        let pgmq = self.queue.pgmq().await;
        pgmq.archive(self.queue.name(), msg_id)
            .await
            .map_err(queue_error("archiving a stale message"))?;
        Ok(())
    }
}

impl WorkerReport {
    fn absorb(&mut self, other: WorkerReport) {
        self.slices_done += other.slices_done;
        self.slices_failed += other.slices_failed;
        self.slices_dead += other.slices_dead;
        self.leases_lost += other.leases_lost;
        self.stale += other.stale;
        self.pages += other.pages;
        self.records += other.records;
    }
}
