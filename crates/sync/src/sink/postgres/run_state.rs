//! The `sync_state` and `sync_slices` rows: loading a source's state and guarding a page
//! commit by the run it belongs to.

use affiliate_core::SourceId;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::connect::db;
use super::statements::{LOAD_SLICES, LOAD_STATE, RUN_ID_FOR_UPDATE};
use super::SINK;
use crate::sink::sql::SliceRow;
use crate::state::{RunState, SourceState, StateConflict, SyncMode};
use crate::SinkError;

/// Locks the source's state row and refuses unless `run_id` is its run in progress.
pub(super) async fn check_run(
    conn: &mut PgConnection,
    source: &SourceId,
    run_id: &str,
) -> Result<(), SinkError> {
    let read = db("reading the run in progress");
    let row = sqlx::query(RUN_ID_FOR_UPDATE)
        .bind(source.provider.as_str())
        .bind(&source.account)
        .fetch_optional(&mut *conn)
        .await
        .map_err(&read)?;
    let current: Option<String> = match row {
        Some(row) => row.try_get(0).map_err(&read)?,
        None => None,
    };
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

/// The stored state of `source`: its watermark and its run in progress with every slice.
pub(super) async fn load(
    conn: &mut PgConnection,
    source: &SourceId,
) -> Result<SourceState, SinkError> {
    let read = db("reading sync state");
    let Some(row) = sqlx::query(LOAD_STATE)
        .bind(source.provider.as_str())
        .bind(&source.account)
        .fetch_optional(&mut *conn)
        .await
        .map_err(&read)?
    else {
        return Ok(SourceState::default());
    };
    let mut state = SourceState {
        watermark: row.try_get(0).map_err(&read)?,
        refreshed_at: row.try_get(7).map_err(&read)?,
        run: None,
    };
    let Some(run_id) = row.try_get::<Option<String>, _>(1).map_err(&read)? else {
        return Ok(state);
    };
    let slices = sqlx::query(LOAD_SLICES)
        .bind(source.provider.as_str())
        .bind(&source.account)
        .fetch_all(&mut *conn)
        .await
        .map_err(&read)?;
    state.run = Some(run_of(source, run_id, &row, &slices)?);
    Ok(state)
}

fn run_of(
    source: &SourceId,
    id: String,
    row: &PgRow,
    slice_rows: &[PgRow],
) -> Result<RunState, SinkError> {
    let read = db("reading sync state");
    let bad =
        |detail: String| SinkError::corrupt(SINK, format!("table sync_state ({source})"), detail);
    let mode: Option<String> = row.try_get(2).map_err(&read)?;
    let mode = mode
        .as_deref()
        .and_then(SyncMode::parse)
        .ok_or_else(|| bad(format!("run_mode {mode:?} is not full or incremental")))?;
    let started_at: Option<DateTime<Utc>> = row.try_get(5).map_err(&read)?;
    let started_at = started_at.ok_or_else(|| bad("run_started_at is missing".into()))?;
    let mut slices = Vec::with_capacity(slice_rows.len());
    for r in slice_rows {
        let slice = SliceRow {
            slice: r.try_get(0).map_err(&read)?,
            resume: r.try_get(1).map_err(&read)?,
            complete: r.try_get(2).map_err(&read)?,
            head_ids: r.try_get(3).map_err(&read)?,
        };
        slices.push(
            slice.into_state().map_err(|d| {
                SinkError::corrupt(SINK, format!("table sync_slices ({source})"), d)
            })?,
        );
    }
    Ok(RunState {
        id,
        mode,
        since: row.try_get(3).map_err(&read)?,
        until: row.try_get(4).map_err(&read)?,
        started_at,
        watermark: row.try_get(6).map_err(&read)?,
        slices,
    })
}
