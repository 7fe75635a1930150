//! What a sink remembers about each source between runs: the watermark of the last finished
//! run, and the run in progress (its scope, its slices and how far each slice got).
//!
//! The types are plain serialisable data. File sinks keep them as JSON; the database sinks
//! keep them in the `sync_state` and `sync_slices` tables. The transitions
//! ([`SourceState::begin`], [`SourceState::apply`], [`SourceState::finish`]) are defined here
//! once, so every sink implements the same rules.

use std::fmt;

use affiliate_core::{Cursor, Scope};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Full listing or only what changed since the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// List everything the source has (the watermark is ignored but still advanced).
    #[default]
    Full,
    /// List only records active at or after `watermark - overlap`; a source without a
    /// watermark yet is listed in full.
    Incremental,
}

impl SyncMode {
    /// The stable lowercase name stored in sink state.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Full => "full",
            SyncMode::Incremental => "incremental",
        }
    }

    /// Parses [`SyncMode::as_str`]; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "full" => Some(SyncMode::Full),
            "incremental" => Some(SyncMode::Incremental),
            _ => None,
        }
    }

    /// Whether an unfinished run of mode `self` may be resumed when `requested` is asked
    /// for: an interrupted full run also satisfies an incremental request, not the reverse.
    pub fn satisfies(self, requested: SyncMode) -> bool {
        self == requested || (self == SyncMode::Full && requested == SyncMode::Incremental)
    }
}

impl fmt::Display for SyncMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far one slice of the run in progress got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "cursor", rename_all = "lowercase")]
pub enum SliceProgress {
    /// Nothing committed yet: start at the slice's first cursor.
    Pending,
    /// Pages were committed; restart at this cursor.
    At(Cursor),
    /// The slice needs no more requests in this run.
    Complete,
}

/// One slice of the run in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceState {
    /// The slice's first cursor, as planned; identifies the slice.
    pub start: Cursor,
    /// How far the slice got.
    pub progress: SliceProgress,
    /// Ids of the records committed from the slice's first page in this run. A resumed run
    /// seeds its de-duplication set with them, so a newest-first listing's final head
    /// re-read stops at the old head instead of re-reading every page before the resume
    /// point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub head_ids: Vec<String>,
}

impl SliceState {
    /// A slice nothing was committed for.
    pub fn pending(start: Cursor) -> Self {
        Self {
            start,
            progress: SliceProgress::Pending,
            head_ids: Vec::new(),
        }
    }

    /// Where the slice continues, or `None` when it is complete.
    pub fn next_cursor(&self) -> Option<Cursor> {
        match &self.progress {
            SliceProgress::Pending => Some(self.start.clone()),
            SliceProgress::At(cursor) => Some(cursor.clone()),
            SliceProgress::Complete => None,
        }
    }

    /// True once the slice needs no more requests.
    pub fn is_complete(&self) -> bool {
        self.progress == SliceProgress::Complete
    }
}

/// A run that started and has not finished: resume cursors are valid only inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// Unique id of the run, checked on every commit so a stale writer cannot corrupt a
    /// newer run's progress.
    pub id: String,
    /// The mode the run was started in.
    pub mode: SyncMode,
    /// The scope's lower bound (incremental runs).
    pub since: Option<DateTime<Utc>>,
    /// The scope's frozen upper bound (the run's start).
    pub until: Option<DateTime<Utc>>,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// Newest activity instant committed so far in this run; becomes the source's watermark
    /// when the run finishes.
    pub watermark: Option<DateTime<Utc>>,
    /// Every slice the run planned, in plan order.
    pub slices: Vec<SliceState>,
}

impl RunState {
    /// A new run over `slices`, nothing committed yet.
    pub fn new(
        id: impl Into<String>,
        mode: SyncMode,
        scope: &Scope,
        started_at: DateTime<Utc>,
        slices: impl IntoIterator<Item = Cursor>,
    ) -> Self {
        Self {
            id: id.into(),
            mode,
            since: scope.since,
            until: scope.until,
            started_at,
            watermark: None,
            slices: slices.into_iter().map(SliceState::pending).collect(),
        }
    }

    /// The scope the run lists (the same on every resume).
    pub fn scope(&self) -> Scope {
        let mut scope = match self.since {
            Some(since) => Scope::since(since),
            None => Scope::full(),
        };
        if let Some(until) = self.until {
            scope = scope.until(until);
        }
        scope
    }

    /// True when every slice is complete.
    pub fn is_complete(&self) -> bool {
        self.slices.iter().all(SliceState::is_complete)
    }
}

/// Everything a sink keeps about one source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    /// Newest activity instant of the last finished run (incremental runs start from it).
    pub watermark: Option<DateTime<Utc>>,
    /// When the last finished full listing started: every stored row's mutable fields
    /// (paid totals, statuses) are at least this fresh. Incremental runs start a full
    /// refresh pass when it is older than [`SyncOptions::refresh`](crate::SyncOptions::refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed_at: Option<DateTime<Utc>>,
    /// The unfinished run, if the last one was interrupted or failed.
    pub run: Option<RunState>,
}

/// A state change that does not fit the state it is applied to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateConflict {
    /// The commit belongs to another run than the one in progress.
    #[error("run {got} is not the run in progress ({expected})")]
    WrongRun {
        /// The run in progress (`none` when there is none).
        expected: String,
        /// The run the commit named.
        got: String,
    },
    /// The commit names a slice the run did not plan.
    #[error("slice {0} is not part of the run in progress")]
    UnknownSlice(String),
    /// A worker's lease on the slice was taken over (it expired while the worker was away),
    /// or the slice moved on since the worker last committed: the commit is refused.
    #[error("the lease {lease} on slice {slice} is no longer held at the cursor it started from")]
    LeaseLost {
        /// The slice (its first cursor).
        slice: String,
        /// The lease the refused commit held.
        lease: String,
    },
}

impl SourceState {
    /// Starts `run`, replacing any unfinished run (whose cursors become invalid). The
    /// watermark is kept.
    pub fn begin(&mut self, run: RunState) {
        self.run = Some(run);
    }

    /// Records that a page of `slice` was committed: the slice continues at `resume`
    /// (complete when `None`), the run's watermark becomes the newer of the two, and
    /// `head_ids` are kept if the slice has none yet. A complete slice stays complete.
    pub fn apply(
        &mut self,
        run_id: &str,
        slice: &Cursor,
        resume: Option<&Cursor>,
        watermark: Option<DateTime<Utc>>,
        head_ids: Option<&[String]>,
    ) -> Result<(), StateConflict> {
        let run = self.current_run_mut(run_id)?;
        let entry = run
            .slices
            .iter_mut()
            .find(|s| &s.start == slice)
            .ok_or_else(|| StateConflict::UnknownSlice(cursor_key(slice)))?;
        if entry.progress != SliceProgress::Complete {
            entry.progress = match resume {
                Some(cursor) => SliceProgress::At(cursor.clone()),
                None => SliceProgress::Complete,
            };
        }
        if let Some(ids) = head_ids {
            if entry.head_ids.is_empty() {
                entry.head_ids = ids.to_vec();
            }
        }
        run.watermark = newest(run.watermark, watermark);
        Ok(())
    }

    /// Ends run `run_id`: the watermark becomes the newer of the old one and `watermark`,
    /// a full run's start becomes [`SourceState::refreshed_at`], and the run (with its
    /// cursors) is forgotten, so the next run starts from scratch.
    pub fn finish(
        &mut self,
        run_id: &str,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<(), StateConflict> {
        let run = self.current_run_mut(run_id)?;
        let full_start = (run.mode == SyncMode::Full).then_some(run.started_at);
        if full_start.is_some() {
            self.refreshed_at = full_start;
        }
        self.watermark = newest(self.watermark, watermark);
        self.run = None;
        Ok(())
    }

    fn current_run_mut(&mut self, run_id: &str) -> Result<&mut RunState, StateConflict> {
        let expected = match &self.run {
            Some(run) if run.id == run_id => None,
            Some(run) => Some(run.id.clone()),
            None => Some("none".to_owned()),
        };
        match (expected, self.run.as_mut()) {
            (None, Some(run)) => Ok(run),
            (expected, _) => Err(StateConflict::WrongRun {
                expected: expected.unwrap_or_default(),
                got: run_id.to_owned(),
            }),
        }
    }
}

/// The later of two optional instants.
pub(crate) fn newest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.max(b)
}

/// The canonical text of a cursor, used as the slice key in database state tables.
pub(crate) fn cursor_key(cursor: &Cursor) -> String {
    // Serialising a derived struct cannot fail; fall back to Debug just in case.
    serde_json::to_string(cursor).unwrap_or_else(|_| format!("{cursor:?}"))
}

#[cfg(test)]
mod tests {
    use affiliate_core::Position;

    use super::*;

    fn at(offset: u64) -> Cursor {
        Cursor::at(Position::Offset { offset, limit: 10 })
    }

    fn ts(secs: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(secs, 0)
    }

    #[test]
    fn commits_advance_slices_and_finish_moves_the_watermark() {
        let mut state = SourceState {
            watermark: ts(50),
            refreshed_at: None,
            run: None,
        };
        state.begin(RunState::new(
            "r1",
            SyncMode::Full,
            &Scope::full(),
            Utc::now(),
            [at(0)],
        ));
        state
            .apply("r1", &at(0), Some(&at(10)), ts(40), Some(&["a".into()]))
            .unwrap();
        state
            .apply("r1", &at(0), Some(&at(20)), ts(30), Some(&["b".into()]))
            .unwrap();
        let run = state.run.as_ref().unwrap();
        assert_eq!(run.slices[0].progress, SliceProgress::At(at(20)));
        assert_eq!(run.slices[0].head_ids, vec!["a".to_owned()]);
        assert_eq!(run.watermark, ts(40));
        state.apply("r1", &at(0), None, None, None).unwrap();
        state
            .apply("r1", &at(0), Some(&at(30)), None, None)
            .unwrap();
        assert!(state.run.as_ref().unwrap().is_complete());
        let started = state.run.as_ref().map(|r| r.started_at);
        state.finish("r1", ts(40)).unwrap();
        assert_eq!(state.watermark, ts(50));
        assert!(state.run.is_none());
        assert_eq!(
            state.refreshed_at, started,
            "a full run's start is the refresh time"
        );
    }

    #[test]
    fn stale_runs_and_unknown_slices_are_refused() {
        let mut state = SourceState::default();
        assert!(matches!(
            state.apply("r1", &at(0), None, None, None),
            Err(StateConflict::WrongRun { .. })
        ));
        state.begin(RunState::new(
            "r2",
            SyncMode::Incremental,
            &Scope::full(),
            Utc::now(),
            [at(0)],
        ));
        assert!(matches!(
            state.apply("r1", &at(0), None, None, None),
            Err(StateConflict::WrongRun { .. })
        ));
        assert!(matches!(
            state.apply("r2", &at(5), None, None, None),
            Err(StateConflict::UnknownSlice(_))
        ));
        assert!(state.finish("r1", None).is_err());
    }

    #[test]
    fn full_runs_satisfy_incremental_requests_only() {
        assert!(SyncMode::Full.satisfies(SyncMode::Incremental));
        assert!(!SyncMode::Incremental.satisfies(SyncMode::Full));
        assert!(SyncMode::Incremental.satisfies(SyncMode::Incremental));
    }

    #[test]
    fn state_roundtrips_through_json() {
        let mut state = SourceState::default();
        state.begin(RunState::new(
            "r",
            SyncMode::Full,
            &Scope::full().until(Utc::now()),
            Utc::now(),
            [at(0), at(100)],
        ));
        state
            .apply("r", &at(0), Some(&at(10)), ts(1), None)
            .unwrap();
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<SourceState>(&text).unwrap(), state);
    }
}
