//! Progress callbacks, for progress bars and logs.

use affiliate_core::{Cursor, SourceId};

use crate::{SourceReport, SyncMode};

/// Receives progress while a sync runs. Every method has a no-op default; calls come from
/// the sources' tasks, concurrently, and must not block for long.
pub trait Observer: Send + Sync {
    /// A source's run is planned (or its unfinished run was loaded) and paging starts.
    fn source_started(&self, _source: &SourceId, _start: &SourceStart) {}

    /// A page was committed to the sink.
    fn page_committed(&self, _source: &SourceId, _page: &PageEvent) {}

    /// A source ended (successfully or not); the report is final.
    fn source_finished(&self, _report: &SourceReport) {}
}

/// An [`Observer`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {}

/// A source's run as it starts paging.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SourceStart {
    /// The run's id.
    pub run_id: String,
    /// The run's mode.
    pub mode: SyncMode,
    /// True when an unfinished run is being continued.
    pub resumed: bool,
    /// Slices the run planned.
    pub slices: usize,
    /// Slices already complete from an earlier attempt.
    pub slices_done: usize,
}

/// One committed page.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PageEvent {
    /// The slice's first cursor.
    pub slice: Cursor,
    /// The cursor that was fetched.
    pub fetched: Cursor,
    /// Rows committed (after de-duplication within the listing).
    pub rows: usize,
    /// Rows new to the sink.
    pub inserted: u64,
    /// Rows the sink already held.
    pub existing: u64,
    /// Rows the driver dropped as already emitted in this listing.
    pub duplicates: usize,
    /// True when this page completed the slice.
    pub slice_complete: bool,
}
