//! Why the driver gave up on a listing.

use crate::{Cursor, ErrorKind, Provider, SourceError};

/// Pagination went wrong in a way that retrying the same request cannot fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PaginationError {
    /// The provider pointed back at a page already fetched in this pass.
    #[error("the provider pointed again at a page already fetched ({0:?})")]
    RepeatedCursor(Cursor),
    /// The provider's next page does not start after the current one.
    #[error("the next page ({next:?}) does not advance past the current one ({current:?})")]
    NotAdvancing {
        /// The page just fetched.
        current: Cursor,
        /// What the provider said comes next.
        next: Cursor,
    },
    /// A page held only rows already emitted (following `next`), or exactly the rows of the
    /// page before it from another position: the server is ignoring the position asked for.
    #[error("page {0:?} repeated only rows already listed; the server ignores the position")]
    NoProgress(Cursor),
    /// A page came back with fewer rows than asked for (or none), yet a later page under
    /// the same total held rows: the server serves smaller pages than asked without saying
    /// so, or answered the wrong page, and walking on by page would skip rows.
    #[error("page {cursor:?} held {rows} rows of the {asked} asked for, yet later pages held more (total {total}): the server silently serves smaller pages than asked, or answered the wrong page")]
    ShortPage {
        /// The page.
        cursor: Cursor,
        /// Rows it held.
        rows: usize,
        /// Rows asked for.
        asked: u32,
        /// The total the listing reported.
        total: u64,
    },
    /// More pages than the configured ceiling.
    #[error("more than {0} pages in one listing (max_pages)")]
    PageCeiling(u64),
    /// A counted slice still shrank during the last of its re-reads (`drift_rescans`), and
    /// no re-read settled it (found no new row inside the slice's first extent, twice in a
    /// row): rows that slid onto pages already read might still be missing, so the listing
    /// stops instead of ending as if complete. Committed pages are kept.
    #[error("the slice kept shrinking while it was read, and {0} re-reads did not settle it; giving up rather than risk rows that slid past every read (drift_rescans)")]
    KeepsShrinking(u32),
    /// The list kept shifting under the listing.
    #[error("the list shifted {0} times during one listing; giving up (max_backtracks)")]
    KeepsShifting(u32),
    /// The listing ran past [`DriverOptions::deadline`](super::DriverOptions::deadline);
    /// pages already emitted stand.
    #[error("the listing's deadline of {0:?} passed while paging (DriverOptions::deadline)")]
    Deadline(std::time::Duration),
    /// The source handed the driver a cursor its strategy cannot walk.
    #[error("cursor {0:?} does not fit the source's pagination strategy")]
    WrongCursorKind(Cursor),
}

impl PaginationError {
    pub(crate) fn into_source_error(self, provider: &Provider) -> SourceError {
        SourceError::new(provider.clone(), ErrorKind::Pagination, self)
    }
}
