//! Knobs of a sync run: plain data with documented defaults.

use affiliate_core::driver::DriverOptions;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::{EmailPolicy, SyncMode};

/// The default [`SyncOptions::deadline`]: 6 hours per source.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(6 * 3600);

/// How a [`SyncEngine`](crate::SyncEngine) runs. Every field has a documented default.
///
/// ```
/// use affiliate_sync::{EmailPolicy, SyncMode, SyncOptions};
///
/// let options = SyncOptions::default()
///     .with_mode(SyncMode::Incremental)
///     .with_overlap(chrono::TimeDelta::minutes(30))
///     .with_fail_fast(true)
///     .with_email(EmailPolicy::Drop);
/// assert_eq!(options.max_sources_in_parallel, 4);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Full or incremental (default [`SyncMode::Full`]).
    pub mode: SyncMode,
    /// How far before the watermark an incremental run starts (default 1 hour), to absorb
    /// clock skew and records whose timestamps land late.
    pub overlap: TimeDelta,
    /// Sources synced at the same time (default 4, at least 1).
    pub max_sources_in_parallel: usize,
    /// Slices of one source driven at the same time (default 2, at least 1), unless the
    /// source has its own [`SourceLimits`].
    pub slices_per_source: usize,
    /// Page-driver settings for every slice (pages in flight, page ceiling, ...), unless
    /// the source has its own [`SourceLimits`].
    pub driver: DriverOptions,
    /// Stop every other source (between pages) as soon as one fails (default false).
    pub fail_fast: bool,
    /// Continue an unfinished run from its stored cursors (default true). When false, an
    /// unfinished run is abandoned and a new one starts from the first page.
    pub resume: bool,
    /// What to do with email addresses before any sink sees them (default keep).
    pub email: EmailPolicy,
    /// The longest an incremental run lets stored rows' mutable fields (paid totals,
    /// statuses, claim times) age (default 24 hours): when the last full listing of a
    /// source started longer ago, the incremental run lists it in full instead (a refresh
    /// pass), then the next runs are incremental again. `None` never refreshes.
    pub refresh: Option<TimeDelta>,
    /// Make the next incremental run a refresh pass whatever its age (default false).
    pub force_refresh: bool,
    /// The longest one source's part of a run may take, planning included (default 6
    /// hours; `None`: no limit). Each request has its own timeout and the retries their
    /// own budget; this bounds the whole listing, so a server that trickles its answers
    /// or never finishes a body cannot hold a scheduled run forever. When it passes, the
    /// request in flight is dropped, committed pages stay (the next run resumes from
    /// them) and the source fails with [`FailureStage::Deadline`](crate::FailureStage::Deadline).
    pub deadline: Option<Duration>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            mode: SyncMode::Full,
            overlap: TimeDelta::hours(1),
            max_sources_in_parallel: 4,
            slices_per_source: 2,
            driver: DriverOptions::default(),
            fail_fast: false,
            resume: true,
            email: EmailPolicy::Keep,
            refresh: Some(TimeDelta::hours(24)),
            force_refresh: false,
            deadline: Some(DEFAULT_DEADLINE),
        }
    }
}

impl SyncOptions {
    /// Sets [`SyncOptions::mode`].
    pub fn with_mode(mut self, mode: SyncMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets [`SyncOptions::overlap`] (negative values count as zero).
    pub fn with_overlap(mut self, overlap: TimeDelta) -> Self {
        self.overlap = overlap.max(TimeDelta::zero());
        self
    }

    /// Sets [`SyncOptions::max_sources_in_parallel`] (at least 1).
    pub fn with_max_sources_in_parallel(mut self, n: usize) -> Self {
        self.max_sources_in_parallel = n.max(1);
        self
    }

    /// Sets [`SyncOptions::slices_per_source`] (at least 1).
    pub fn with_slices_per_source(mut self, n: usize) -> Self {
        self.slices_per_source = n.max(1);
        self
    }

    /// Sets [`SyncOptions::driver`].
    pub fn with_driver(mut self, driver: DriverOptions) -> Self {
        self.driver = driver;
        self
    }

    /// Sets [`SyncOptions::fail_fast`].
    pub fn with_fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }

    /// Sets [`SyncOptions::resume`].
    pub fn with_resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Sets [`SyncOptions::email`].
    pub fn with_email(mut self, email: EmailPolicy) -> Self {
        self.email = email;
        self
    }

    /// Sets [`SyncOptions::refresh`].
    pub fn with_refresh(mut self, refresh: Option<TimeDelta>) -> Self {
        self.refresh = refresh;
        self
    }

    /// Sets [`SyncOptions::deadline`].
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets [`SyncOptions::force_refresh`].
    pub fn with_force_refresh(mut self, force: bool) -> Self {
        self.force_refresh = force;
        self
    }

    /// Whether an incremental request for a source last refreshed at `refreshed_at` must
    /// list it in full at `now`.
    pub fn refresh_due(&self, refreshed_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        match (self.force_refresh, self.refresh, refreshed_at) {
            (true, _, _) => true,
            (false, None, _) => false,
            (false, Some(_), None) => true,
            (false, Some(interval), Some(at)) => now - at >= interval,
        }
    }
}

/// Concurrency of one source, overriding the run-wide defaults. Use it to keep one
/// credential's slices within what its provider allows; the request rate itself is
/// limited by the source's transport.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SourceLimits {
    /// Slices driven at the same time (at least 1).
    pub slices_in_parallel: usize,
    /// Page-driver settings for each slice.
    pub driver: DriverOptions,
}

impl SourceLimits {
    /// Limits with `slices_in_parallel` slices and `driver` settings.
    pub fn new(slices_in_parallel: usize, driver: DriverOptions) -> Self {
        Self {
            slices_in_parallel: slices_in_parallel.max(1),
            driver,
        }
    }
}
