//! The head check of a counted pass over a newest-first list (CoinW's windows).
//!
//! Records arrive at the head of such a list and push every row below down; a deletion
//! pulls the rows below it up. Read one page at a time, in order, that loses nothing: while
//! the total stays put, arrivals are at least as many as the deletions above any row not
//! read yet, so it can only move down, onto a page still to come. Pages read at once may be
//! served out of order, though: a row pushed off a page not yet served, onto one already
//! served, is read by neither, and a deletion further down hides the arrival from the
//! total. The arrival is still at the head when the pass ends (or the total moved), so the
//! pass reads its first row again: a different row there means rows moved under it, and
//! the slice is read again.

use super::counted::Drift;
use super::{Halt, Walk};
use crate::Cursor;

impl Walk {
    /// Whether a pass over a newest-first list (no growing tail) from `start` that read
    /// `pages_after_first` pages after its first one reads its first row again when it
    /// closes: only in pages that do not [overlap](crate::Position::overlaps) (overlapping
    /// pages show a shift by themselves), read more than one page at a time, over a slice
    /// arrivals can reach.
    pub(super) fn checks_head(&self, start: &Cursor, pages_after_first: u64) -> bool {
        // With a single page after the first, the pages were read one after the other.
        !start.position.overlaps()
            && self.options.concurrency > 1
            && pages_after_first >= 2
            && self.source.arrivals_land_in(start)
    }

    /// Reads the row `start` begins with again (a page of one row): drift when the total
    /// moved from `total`, or when the row there is no longer `head`, the pass's first row
    /// (rows arrived at the head and as many were deleted further down).
    pub(super) async fn head_drift(
        &mut self,
        start: &Cursor,
        head: Option<&str>,
        total: u64,
    ) -> Result<Drift, Halt> {
        let probe = start.with_position(start.position.single_row());
        let (_, result) = self.spawned_request(probe).await;
        let page = self.accept(result)?;
        let moved = Drift::between(total, page.total);
        if moved != Drift::Steady {
            return Ok(moved);
        }
        let now = page.invitees.first().map(|row| row.id.as_str());
        Ok(if now == head {
            Drift::Steady
        } else {
            Drift::Shrank
        })
    }
}
