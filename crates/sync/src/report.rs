//! What a sync run did, per source: counts, duration, and exactly what failed and why.

use std::fmt;
use std::time::Duration;

use affiliate_core::{Cursor, ErrorKind, SourceError, SourceId};
use chrono::{DateTime, Utc};

use crate::{SinkError, SyncMode};

/// How a source's part of the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SourceStatus {
    /// Every slice completed; the run is finished and the watermark advanced.
    Ok,
    /// The source failed; see [`SourceReport::errors`]. Committed pages are kept and the
    /// next run resumes from them.
    Failed,
    /// The run was cancelled (or stopped by fail-fast) between pages; the next run resumes.
    Cancelled,
}

impl SourceStatus {
    /// `ok`, `failed` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Ok => "ok",
            SourceStatus::Failed => "failed",
            SourceStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for SourceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureStage {
    /// The source was configured twice in one run (same provider and account).
    Config,
    /// The source could not plan its slices.
    Plan,
    /// A page could not be fetched (after the transport's retries) or pagination broke.
    Fetch,
    /// The sink could not load state or commit.
    Sink,
    /// The source's part of the run passed [`SyncOptions::deadline`](crate::SyncOptions::deadline).
    Deadline,
    /// The source's task panicked.
    Panic,
}

impl fmt::Display for FailureStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureStage::Config => "config",
            FailureStage::Plan => "plan",
            FailureStage::Fetch => "fetch",
            FailureStage::Sink => "sink",
            FailureStage::Deadline => "deadline",
            FailureStage::Panic => "panic",
        })
    }
}

/// One failure of a source, as text (the error itself stays with the source).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceFailure {
    /// The step that failed.
    pub stage: FailureStage,
    /// The class of a source failure; `None` for sink and other failures.
    pub kind: Option<ErrorKind>,
    /// The slice (its first cursor) being paged, when the failure was inside one.
    pub slice: Option<Cursor>,
    /// The full message: provider, request and cause for source errors, sink and cause
    /// for sink errors.
    pub message: String,
}

impl SourceFailure {
    pub(crate) fn source(stage: FailureStage, err: &SourceError, slice: Option<&Cursor>) -> Self {
        Self {
            stage,
            kind: Some(err.kind()),
            slice: slice.cloned(),
            message: err.to_string(),
        }
    }

    pub(crate) fn sink(err: &SinkError, slice: Option<&Cursor>) -> Self {
        Self {
            stage: FailureStage::Sink,
            kind: None,
            slice: slice.cloned(),
            message: err.to_string(),
        }
    }

    /// The deadline passed while `stage` ran (in `slice`, when paging).
    pub(crate) fn deadline(deadline: Duration, doing: &str, slice: Option<&Cursor>) -> Self {
        Self {
            stage: FailureStage::Deadline,
            kind: None,
            slice: slice.cloned(),
            message: format!(
                "the source's deadline of {} passed while {doing}; committed pages are kept and the next run resumes from them (raise sync.deadline if the provider is this slow)",
                humantime::format_duration(deadline)
            ),
        }
    }

    pub(crate) fn other(stage: FailureStage, message: impl Into<String>) -> Self {
        Self {
            stage,
            kind: None,
            slice: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for SourceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stage {
            // The message already says what ran out.
            FailureStage::Deadline => f.write_str(&self.message),
            stage => write!(f, "{stage} failed: {}", self.message),
        }
    }
}

/// One source's part of a run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SourceReport {
    /// The source.
    pub source: SourceId,
    /// How it ended.
    pub status: SourceStatus,
    /// The run's id (`None` when the source failed before a run was started or loaded).
    pub run_id: Option<String>,
    /// The mode the run was in (an incremental request without a watermark, or with a
    /// refresh due, runs full).
    pub mode: SyncMode,
    /// True when an incremental request ran a full refresh pass (the last one was older
    /// than [`SyncOptions::refresh`](crate::SyncOptions::refresh), or one was forced).
    pub refresh: bool,
    /// True when an unfinished earlier run was continued.
    pub resumed: bool,
    /// Slices the run planned.
    pub slices: usize,
    /// Slices that were already complete from an earlier attempt and were skipped.
    pub slices_skipped: usize,
    /// Pages committed.
    pub pages: u64,
    /// Rows new to the sink.
    pub records: u64,
    /// Rows the sink already held, changed or not.
    pub existing: u64,
    /// Of those, rows whose tracked columns changed (recorded in `invitee_changes` by
    /// databases, appended as a new version by files).
    pub changed: u64,
    /// Rows the page driver dropped as already emitted in this listing.
    pub duplicates: u64,
    /// HTTP attempts the source started during the run (retries included; a speculative
    /// page cancelled before it reached the server counts too).
    pub requests: u64,
    /// Attempts that retried an earlier one (throttling, 5xx, resets, bad bodies).
    pub retries: u64,
    /// Answers that said "too fast" (429, 503, CoinW's `29001`).
    pub throttled: u64,
    /// The rate the source's requests were paced at when it finished, per second (`None`:
    /// unlimited).
    pub rate_per_second: Option<f64>,
    /// What failed, first failure first; empty unless the status is `Failed`.
    pub errors: Vec<SourceFailure>,
    /// Wall time of the source's part.
    pub duration: Duration,
    /// The source's watermark after the run (the stored one when the run did not finish).
    pub watermark: Option<DateTime<Utc>>,
}

impl SourceReport {
    pub(crate) fn new(source: SourceId, mode: SyncMode) -> Self {
        Self {
            source,
            status: SourceStatus::Ok,
            run_id: None,
            mode,
            refresh: false,
            resumed: false,
            slices: 0,
            slices_skipped: 0,
            pages: 0,
            records: 0,
            existing: 0,
            changed: 0,
            duplicates: 0,
            requests: 0,
            retries: 0,
            throttled: 0,
            rate_per_second: None,
            errors: Vec::new(),
            duration: Duration::ZERO,
            watermark: None,
        }
    }

    /// `full`, `incremental`, or `incremental + refresh` (a refresh pass ran on an
    /// incremental request).
    pub fn mode_label(&self) -> &'static str {
        if self.refresh {
            "incremental + refresh"
        } else {
            self.mode.as_str()
        }
    }

    /// The final rate as `12.5/s`, or `unlimited`.
    pub fn rate_label(&self) -> String {
        match self.rate_per_second {
            Some(rate) if rate >= 10.0 => format!("{rate:.0}/s"),
            Some(rate) => format!("{rate:.1}/s"),
            None => "unlimited".to_owned(),
        }
    }

    pub(crate) fn failed(mut self, failure: SourceFailure) -> Self {
        self.status = SourceStatus::Failed;
        self.errors.push(failure);
        self
    }
}

/// The result of [`SyncEngine::run`](crate::SyncEngine::run): one report per source, in the order the
/// sources were added.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncReport {
    /// Per-source reports.
    pub sources: Vec<SourceReport>,
    /// Wall time of the whole run.
    pub duration: Duration,
    /// True when the caller cancelled the run.
    pub cancelled: bool,
}

impl SyncReport {
    /// True when every source finished.
    pub fn is_success(&self) -> bool {
        self.sources.iter().all(|s| s.status == SourceStatus::Ok)
    }

    /// Sources that failed, with their errors.
    pub fn failed(&self) -> impl Iterator<Item = &SourceReport> {
        self.sources
            .iter()
            .filter(|s| s.status == SourceStatus::Failed)
    }

    /// The report of `source`, if it took part.
    pub fn get(&self, source: &SourceId) -> Option<&SourceReport> {
        self.sources.iter().find(|s| &s.source == source)
    }

    /// Rows new to the sink, over all sources.
    pub fn records(&self) -> u64 {
        self.sources.iter().map(|s| s.records).sum()
    }

    /// Pages committed, over all sources.
    pub fn pages(&self) -> u64 {
        self.sources.iter().map(|s| s.pages).sum()
    }
}

impl fmt::Display for SyncReport {
    /// One line per source: status, pages, records, requests, retries, duration and the
    /// first error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.sources {
            write!(
                f,
                "{}: {} ({}, {} pages, {} new, {} existing, {} changed, {} duplicates, {} requests, {} retries, {} throttled, rate {}, {:.1}s)",
                s.source,
                s.status,
                s.mode_label(),
                s.pages,
                s.records,
                s.existing,
                s.changed,
                s.duplicates,
                s.requests,
                s.retries,
                s.throttled,
                s.rate_label(),
                s.duration.as_secs_f64()
            )?;
            if let Some(err) = s.errors.first() {
                write!(f, ": {err}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
