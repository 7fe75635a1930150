//! Pinning an oldest-first counted list by its newest page, before and after a pass.
//!
//! Page numbers cannot overlap, so a deletion on a page already read, hidden from the totals
//! by an arrival, leaves no trace in the pages: the rows after it slide back one place and
//! the row at the boundary is read by neither page. An arrival lands at the end of an
//! oldest-first list, though, where the newest page shows it. A pass over a source that
//! [lists newest first](crate::InviteeSource::lists_newest_first) on demand reads that page
//! before it starts and again when it ends: rows newer than the pinned one arrived during
//! the pass, and a total that did not grow by as many means rows the pass may have read
//! around were deleted.

use super::counted::Drift;
use super::{Halt, Walk};
use crate::{Cursor, Invitee};

/// The list as the newest page showed it before a pass.
#[derive(Debug)]
pub(super) struct Pin {
    /// Its total.
    pub(super) total: Option<u64>,
    /// The page's rows, newest first, emitted when the pass closes the pin (the listing
    /// stays oldest first).
    page: Vec<Invitee>,
}

impl Pin {
    /// Rows the page held (the newest ones, which the pass's own pages need not read).
    pub(super) fn rows(&self) -> u64 {
        self.page.len() as u64
    }

    /// Whether the pinned page held the whole list.
    pub(super) fn holds_all(&self) -> bool {
        self.total.is_some_and(|total| total <= self.rows())
    }

    /// How the list moved between the pin and a newest page `rows` reporting `total`: rows
    /// newer than the pinned one arrived; deletions show as a total short of the pin's
    /// plus those arrivals ([`Drift::Shrank`]); a total past them as [`Drift::Grew`].
    pub(super) fn drift(&self, rows: &[Invitee], total: Option<u64>) -> Drift {
        let arrived = match self.page.first() {
            None => Some(rows.len() as u64),
            Some(newest) => rows
                .iter()
                .position(|row| row.id == newest.id)
                .map(|i| i as u64),
        };
        match (arrived, self.total, total) {
            (Some(arrived), Some(before), now) => Drift::between(before + arrived, now),
            // The pinned row is off the page: deleted, or pushed off by more arrivals than
            // the page shows. Either way rows may have slid, so the slice is read again.
            _ => Drift::Shrank,
        }
    }
}

impl Walk {
    /// Reads the newest page of the slice `start` before a pass over it begins.
    pub(super) async fn pin_newest(&mut self, start: &Cursor) -> Result<Pin, Halt> {
        let (_, result) = self.spawned_request(start.newest_page()).await;
        let page = self.accept(result)?;
        Ok(Pin {
            total: page.total,
            page: page.invitees,
        })
    }

    /// Emits the pinned rows once the pass's pages are in and, unless they were the whole
    /// list, reads the newest page again and emits its new rows; returns how the list moved
    /// since the pin.
    pub(super) async fn close_pin(&mut self, pin: Pin, start: &Cursor) -> Result<Drift, Halt> {
        let head = start.newest_page();
        if pin.holds_all() {
            let rows = self.unseen_oldest_first(pin.page)?;
            self.emit(head, rows, None).await?;
            return Ok(Drift::Steady);
        }
        let (_, result) = self.spawned_request(head.clone()).await;
        let page = self.accept(result)?;
        let drift = pin.drift(&page.invitees, page.total);
        let rows = self.unseen_oldest_first(pin.page)?;
        self.emit(head.clone(), rows, Some(start.clone())).await?;
        let rows = self.unseen_oldest_first(page.invitees)?;
        self.emit(head, rows, None).await?;
        Ok(drift)
    }

    /// The rows of a newest-first page not emitted yet, oldest first. Only those: a page
    /// the pass already read may hold the same rows, which [`Walk::emit`] would take for a
    /// server ignoring the position.
    fn unseen_oldest_first(&self, rows: Vec<Invitee>) -> Result<Vec<Invitee>, Halt> {
        let mut unseen = Vec::new();
        for row in rows.into_iter().rev() {
            if !self.seen_before(&row.id)? {
                unseen.push(row);
            }
        }
        Ok(unseen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InviteeStatus, SourceId};

    fn rows(ids: &[&str]) -> Vec<Invitee> {
        let source = SourceId::new(crate::Provider::Census, "acct");
        ids.iter()
            .map(|id| Invitee::new(source.clone(), (*id).to_owned(), InviteeStatus::Invited))
            .collect()
    }

    fn pin(total: u64, newest: &str) -> Pin {
        Pin {
            total: Some(total),
            page: rows(&[newest, "older", "oldest"]),
        }
    }

    #[test]
    fn arrivals_the_total_counts_are_steady() {
        assert_eq!(
            pin(10, "c").drift(&rows(&["c", "b", "a"]), Some(10)),
            Drift::Steady
        );
        assert_eq!(
            pin(10, "c").drift(&rows(&["e", "d", "c"]), Some(12)),
            Drift::Steady
        );
    }

    #[test]
    fn an_arrival_under_an_unchanged_total_shows_a_deletion() {
        assert_eq!(
            pin(10, "c").drift(&rows(&["d", "c", "b"]), Some(10)),
            Drift::Shrank
        );
        assert_eq!(
            pin(10, "c").drift(&rows(&["c", "b", "a"]), Some(9)),
            Drift::Shrank
        );
        assert_eq!(
            pin(10, "c").drift(&rows(&["c", "b", "a"]), Some(11)),
            Drift::Grew
        );
    }

    #[test]
    fn a_pinned_row_off_the_page_is_drift() {
        assert_eq!(
            pin(10, "c").drift(&rows(&["f", "e", "d"]), Some(13)),
            Drift::Shrank
        );
        assert_eq!(
            pin(10, "c").drift(&rows(&["b", "a"]), Some(9)),
            Drift::Shrank
        );
    }

    #[test]
    fn an_empty_pin_counts_every_row_as_an_arrival() {
        let empty = Pin {
            total: Some(0),
            page: Vec::new(),
        };
        assert!(empty.holds_all());
        assert_eq!(empty.drift(&rows(&["a"]), Some(1)), Drift::Steady);
        assert_eq!(empty.drift(&rows(&["a"]), Some(0)), Drift::Shrank);
        assert!(!pin(10, "c").holds_all());
    }
}
