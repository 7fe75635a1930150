//! `plan`: a new run per source, its slices enqueued in the same transaction.

use affiliate_core::{InviteeSource, SourceId};

use super::task::{source_key, SliceTask};
use super::{queue_error, WorkQueue};
use crate::engine::source_run::plan_run;
use crate::report::SourceFailure;
use crate::sink::{db, load_state_in, store_run};
use crate::state::cursor_key;
use crate::SyncOptions;

/// What planning did for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// A new run, with this many slices enqueued.
    Enqueued {
        /// The run's id.
        run_id: String,
        /// Slices enqueued (one message each).
        slices: usize,
    },
    /// A run is still in progress: nothing was enqueued.
    InProgress {
        /// The run in progress.
        run_id: String,
    },
}

/// One source's outcome of [`WorkQueue::plan`].
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    /// The source.
    pub source: SourceId,
    /// What was planned, or why the source could not be.
    pub result: Result<Planned, SourceFailure>,
}

impl WorkQueue {
    /// Plans every source and enqueues its slices. A source whose run is still in progress
    /// is left alone, so planning again (or two planners at once) enqueues nothing new.
    pub async fn plan(
        &self,
        sources: &[std::sync::Arc<dyn InviteeSource>],
        options: &SyncOptions,
    ) -> Vec<PlanOutcome> {
        let mut outcomes = Vec::with_capacity(sources.len());
        for source in sources {
            let result = self.plan_one(source.as_ref(), options).await;
            outcomes.push(PlanOutcome {
                source: source.id().clone(),
                result,
            });
        }
        outcomes
    }

    async fn plan_one(
        &self,
        source: &dyn InviteeSource,
        options: &SyncOptions,
    ) -> Result<Planned, SourceFailure> {
        let sink_failure = |e| SourceFailure::sink(&e, None);
        let id = source.id();
        let key = source_key(id);
        let mut tx = self.begin().await.map_err(sink_failure)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('affiliate plan ' || $1))")
            .bind(&key)
            .execute(&mut *tx)
            .await
            .map_err(|e| sink_failure(db("locking the source's plan")(e)))?;
        let state = load_state_in(&mut tx, id).await.map_err(sink_failure)?;
        if let Some(run) = state.run {
            return Ok(Planned::InProgress { run_id: run.id });
        }
        let planned = plan_run(source, options, &state).await?;
        let run = planned.run;
        store_run(&mut tx, id, &run).await.map_err(sink_failure)?;
        let pgmq = self.pgmq().await;
        for slice in &run.slices {
            let task = SliceTask {
                source: key.clone(),
                run: run.id.clone(),
                slice: cursor_key(&slice.start),
                reread: false,
            };
            pgmq.send_with_cxn(self.name(), &task, &mut *tx)
                .await
                .map_err(|e| sink_failure(queue_error("enqueueing a slice")(e)))?;
        }
        tx.commit()
            .await
            .map_err(|e| sink_failure(db("committing the plan")(e)))?;
        Ok(Planned::Enqueued {
            run_id: run.id,
            slices: run.slices.len(),
        })
    }
}
