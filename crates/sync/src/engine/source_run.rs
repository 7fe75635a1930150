//! One source's part of a run: load state, resume or plan, drive the slices, finish.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use affiliate_core::driver::SeenSet;
use affiliate_core::{Invitee, InviteeSource, Scope, SourceId, Strategy};
use chrono::{DateTime, Utc};
use futures::{stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::slice::{Deadline, SliceDriver, SliceEnd, SliceOutcome};
use crate::observer::{Observer, SourceStart};
use crate::report::{FailureStage, SourceFailure, SourceReport, SourceStatus};
use crate::state::{newest, RunState, SliceState, SourceState};
use crate::{Sink, SourceLimits, SyncMode, SyncOptions};

/// What every source task of one run shares.
pub(super) struct Ctx {
    pub(super) sink: Arc<dyn Sink>,
    pub(super) options: SyncOptions,
    pub(super) observer: Arc<dyn Observer>,
    /// Cancelled by the caller's token or by fail-fast.
    pub(super) run_token: CancellationToken,
}

/// Runs `source` and reports; never panics on I/O or provider failures.
pub(super) async fn run(
    ctx: Arc<Ctx>,
    source: Arc<dyn InviteeSource>,
    limits: SourceLimits,
) -> SourceReport {
    let started = Instant::now();
    let stats_before = source.transport_stats();
    let id = source.id().clone();
    let mut report = SourceReport::new(id.clone(), ctx.options.mode);
    if ctx.run_token.is_cancelled() {
        report.status = SourceStatus::Cancelled;
    } else {
        execute(&ctx, source.clone(), &limits, &mut report).await;
        if report.status != SourceStatus::Ok {
            // Pages committed before the failure or the cancel become durable now
            // (`finish_run` did it for a finished run).
            if let Err(err) = ctx.sink.flush().await {
                fail(&mut report, SourceFailure::sink(&err, None));
            }
        }
    }
    report.duration = started.elapsed();
    let sent = source.transport_stats().since(&stats_before);
    (report.requests, report.retries) = (sent.attempts, sent.retries);
    (report.throttled, report.rate_per_second) = (sent.throttled, sent.rate_per_second);
    if report.status == SourceStatus::Failed {
        for err in &report.errors {
            warn!(source = %id, "{err}");
        }
        if ctx.options.fail_fast {
            ctx.run_token.cancel();
        }
    } else {
        info!(source = %id, status = %report.status, pages = report.pages, records = report.records, "source done");
    }
    ctx.observer.source_finished(&report);
    report
}

async fn execute(
    ctx: &Ctx,
    source: Arc<dyn InviteeSource>,
    limits: &SourceLimits,
    report: &mut SourceReport,
) {
    let id = source.id().clone();
    let deadline = Deadline::starting_now(ctx.options.deadline);
    let state = match ctx.sink.load_state(&id).await {
        Ok(state) => state,
        Err(err) => return fail(report, SourceFailure::sink(&err, None)),
    };
    report.watermark = state.watermark;
    let (run, resumed) = match start_or_resume(ctx, source.as_ref(), &state, report).await {
        Ok(started) => started,
        Err(failure) => return fail(report, failure),
    };
    report.run_id = Some(run.id.clone());
    report.mode = run.mode;
    report.resumed = resumed;
    report.slices = run.slices.len();
    report.slices_skipped = run.slices.iter().filter(|s| s.is_complete()).count();
    ctx.observer.source_started(
        &id,
        &SourceStart {
            run_id: run.id.clone(),
            mode: run.mode,
            resumed,
            slices: report.slices,
            slices_done: report.slices_skipped,
        },
    );

    let seen = SeenSet::holding(run.slices.iter().flat_map(|slice| &slice.head_ids));
    let source_token = ctx.run_token.child_token();
    let driver = Arc::new(SliceDriver {
        source: source.clone(),
        sink: ctx.sink.clone(),
        observer: ctx.observer.clone(),
        email: ctx.options.email.clone(),
        run_id: run.id.clone(),
        scope: run.scope(),
        seen,
        driver: limits.driver.clone(),
        token: source_token.clone(),
        watermark: Watermark::new(run.watermark),
        head_ids: matches!(
            source.strategy_for(&run.scope()),
            Strategy::NewestFirstOffset | Strategy::NewestFirstPages
        ),
        deadline,
    });
    let pending: Vec<SliceState> = run
        .slices
        .iter()
        .filter(|s| !s.is_complete())
        .cloned()
        .collect();
    let outcomes: Vec<SliceOutcome> = stream::iter(pending)
        .map(|slice| {
            let driver = driver.clone();
            async move { driver.drive(slice).await }
        })
        .buffer_unordered(limits.slices_in_parallel.max(1))
        .inspect(|outcome| {
            if matches!(outcome.end, SliceEnd::Failed(_)) {
                // A source stops at its first failure; its other slices stop between pages.
                source_token.cancel();
            }
        })
        .collect()
        .await;

    let mut outcomes = outcomes;
    if source.rereads_first_slice() && outcomes.iter().all(|o| matches!(o.end, SliceEnd::Complete))
    {
        if let Some(first) = run.slices.first() {
            // Records that arrived while the run listed land in the first (newest) slice:
            // read it once more; the shared de-duplication set emits only the new ones.
            outcomes.push(driver.drive(SliceState::pending(first.start.clone())).await);
        }
    }
    let mut cancelled = false;
    for outcome in outcomes {
        report.pages += outcome.pages;
        report.records += outcome.inserted;
        report.existing += outcome.existing;
        report.changed += outcome.changed;
        report.duplicates += outcome.duplicates;
        match outcome.end {
            SliceEnd::Complete => {}
            SliceEnd::Cancelled => cancelled = true,
            SliceEnd::Failed(failure) => {
                report.status = SourceStatus::Failed;
                report.errors.push(failure);
            }
        }
    }
    if report.status == SourceStatus::Failed {
        return;
    }
    if cancelled {
        report.status = SourceStatus::Cancelled;
        return;
    }
    // The watermark never passes the run's start: a record stamped in the future (a
    // provider clock ahead of ours) must not make the next run skip what arrives meanwhile.
    let watermark = driver.watermark.get().map(|w| w.min(run.started_at));
    if let Err(err) = ctx.sink.finish_run(&id, &run.id, watermark).await {
        return fail(report, SourceFailure::sink(&err, None));
    }
    report.watermark = newest(state.watermark, watermark);
}

fn fail(report: &mut SourceReport, failure: SourceFailure) {
    report.status = SourceStatus::Failed;
    report.errors.push(failure);
}

/// Continues the stored unfinished run when allowed, or plans and records a new one.
async fn start_or_resume(
    ctx: &Ctx,
    source: &dyn InviteeSource,
    state: &SourceState,
    report: &mut SourceReport,
) -> Result<(RunState, bool), SourceFailure> {
    let id = source.id();
    if let Some(run) = &state.run {
        if ctx.options.resume && run.mode.satisfies(ctx.options.mode) {
            info!(source = %id, run = %run.id, "resuming the unfinished run");
            return Ok((run.clone(), true));
        }
        info!(source = %id, run = %run.id, "abandoning the unfinished run");
    }
    let planned = plan_run(source, &ctx.options, state).await?;
    report.refresh = planned.refresh;
    let run = planned.run;
    ctx.sink
        .begin_run(id, &run)
        .await
        .map_err(|err| SourceFailure::sink(&err, None))?;
    Ok((run, false))
}

/// A new run planned for a source, and whether it is a refresh pass.
pub(crate) struct PlannedRun {
    pub(crate) run: RunState,
    pub(crate) refresh: bool,
}

/// Plans a new run of `source` in `state` under `options`: its scope (everything, or since
/// the watermark less the overlap; a due refresh lists everything), mode and slices.
pub(crate) async fn plan_run(
    source: &dyn InviteeSource,
    options: &SyncOptions,
    state: &SourceState,
) -> Result<PlannedRun, SourceFailure> {
    let id = source.id();
    let now = Utc::now();
    let refresh = options.mode == SyncMode::Incremental
        && state.watermark.is_some()
        && options.refresh_due(state.refreshed_at, now);
    if refresh {
        info!(source = %id, refreshed_at = ?state.refreshed_at, "refresh due: listing in full");
    }
    let since = match options.mode {
        SyncMode::Incremental if !refresh => state.watermark.map(|w| w - options.overlap),
        _ => None,
    };
    let scope = match since {
        Some(since) => Scope::since(since),
        None => Scope::full(),
    }
    .until(now);
    // Without a lower bound an incremental request lists everything: record it as full,
    // so an interruption can be resumed by either kind of request.
    let mode = if since.is_some() {
        SyncMode::Incremental
    } else {
        SyncMode::Full
    };
    let planned = tokio::select! {
        planned = source.plan(&scope) => planned,
        () = Deadline::passed(Deadline::starting_now(options.deadline)) => {
            let length = options.deadline.unwrap_or_default();
            return Err(SourceFailure::deadline(length, "planning", None));
        }
    };
    let slices = planned.map_err(|err| SourceFailure::source(FailureStage::Plan, &err, None))?;
    let run = RunState::new(new_run_id(id, now), mode, &scope, now, slices);
    Ok(PlannedRun { run, refresh })
}

/// A run id unique across processes: start time, process id and a counter.
fn new_run_id(source: &SourceId, now: DateTime<Utc>) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}-{}-{}-{n}",
        now.format("%Y%m%dT%H%M%S%.6fZ"),
        source.provider,
        std::process::id()
    )
}

/// The newest activity instant seen by one source run, shared by its slices.
#[derive(Debug)]
pub(crate) struct Watermark(Mutex<Option<DateTime<Utc>>>);

impl Watermark {
    pub(crate) fn new(start: Option<DateTime<Utc>>) -> Self {
        Self(Mutex::new(start))
    }

    /// Takes `rows` into account and returns the newest instant so far.
    pub(crate) fn observe(&self, rows: &[Invitee]) -> Option<DateTime<Utc>> {
        let page = rows.iter().filter_map(Invitee::activity_at).max();
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *guard = newest(*guard, page);
        *guard
    }

    pub(crate) fn get(&self) -> Option<DateTime<Utc>> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
