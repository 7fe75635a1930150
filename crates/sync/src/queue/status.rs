//! `status`: per source, the slices queued, running (by whom, for how long), done and failed.

use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use super::WorkQueue;
use crate::sink::db;
use crate::SinkError;

/// A slice a worker holds now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunningSlice {
    /// The slice (its first cursor as stored).
    pub slice: String,
    /// The worker holding it.
    pub worker: String,
    /// Since when it holds it.
    pub lease_age: Duration,
}

/// A slice whose last attempt failed (`dead`: no more attempts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedSlice {
    /// The slice (its first cursor as stored).
    pub slice: String,
    /// Attempts so far.
    pub attempts: i32,
    /// The last attempt's error.
    pub error: String,
    /// Given up: moved to the dead-letter state, not retried.
    pub dead: bool,
}

/// One source's slices as the queue sees them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceProgress {
    /// `provider/account`.
    pub source: String,
    /// The run in progress; `None` once its last slice finished.
    pub run_id: Option<String>,
    /// Slices waiting for a worker (including failed ones waiting for their retry).
    pub queued: usize,
    /// Slices a worker holds now.
    pub running: Vec<RunningSlice>,
    /// Slices finished.
    pub done: usize,
    /// Slices whose last attempt failed, dead or to be retried.
    pub failed: Vec<FailedSlice>,
    /// Rows committed by the run's slices so far.
    pub rows: i64,
}

impl WorkQueue {
    /// Every source with slices, in provider and account order.
    pub async fn status(&self) -> Result<Vec<SourceProgress>, SinkError> {
        let read = db("reading the queue status");
        let rows = sqlx::query(
            "SELECT s.provider || '/' || s.account, st.run_id, s.slice, s.complete, s.dead,
                    s.worker, COALESCE(s.lease_until > now(), false),
                    COALESCE(EXTRACT(EPOCH FROM now() - s.leased_at), 0)::float8,
                    s.attempts, s.last_error, s.rows
             FROM sync_slices s
             LEFT JOIN sync_state st USING (provider, account)
             ORDER BY s.provider, s.account, s.ordinal",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&read)?;
        let mut out: Vec<SourceProgress> = Vec::new();
        for row in rows {
            let source: String = row.try_get(0).map_err(&read)?;
            if out.last().is_none_or(|p| p.source != source) {
                out.push(SourceProgress {
                    source,
                    run_id: row.try_get(1).map_err(&read)?,
                    queued: 0,
                    running: Vec::new(),
                    done: 0,
                    failed: Vec::new(),
                    rows: 0,
                });
            }
            let progress = out.last_mut().expect("pushed above");
            let slice: String = row.try_get(2).map_err(&read)?;
            let (complete, dead): (bool, bool) = (
                row.try_get(3).map_err(&read)?,
                row.try_get(4).map_err(&read)?,
            );
            let live: bool = row.try_get(6).map_err(&read)?;
            let error: Option<String> = row.try_get(9).map_err(&read)?;
            progress.rows += row.try_get::<i64, _>(10).map_err(&read)?;
            if complete {
                progress.done += 1;
                continue;
            }
            if let (Some(error), false) = (error, live) {
                progress.failed.push(FailedSlice {
                    slice: slice.clone(),
                    attempts: row.try_get(8).map_err(&read)?,
                    error,
                    dead,
                });
            }
            if dead {
                continue;
            }
            if live {
                let age: f64 = row.try_get(7).map_err(&read)?;
                progress.running.push(RunningSlice {
                    slice,
                    worker: row
                        .try_get::<Option<String>, _>(5)
                        .map_err(&read)?
                        .unwrap_or_default(),
                    lease_age: Duration::from_secs_f64(age.max(0.0)),
                });
            } else {
                progress.queued += 1;
            }
        }
        Ok(out)
    }
}
