//! Pinning an oldest-first counted list by its newest page, before and after a pass.
//!
//! Page numbers cannot overlap, so a deletion on a page already read, hidden from the totals
//! by an arrival, leaves no trace in the pages: the rows after it slide back one place and
//! the row at the boundary is read by neither page. An arrival lands at the end of an
//! oldest-first list, though, where the newest page shows it. A pass over a source that
//! [lists newest first](crate::InviteeSource::lists_newest_first) on demand reads that page
//! as it starts and again when it ends: rows newer than the pinned one arrived during the
//! pass, and a total that did not grow by as many means rows the pass may have read around
//! were deleted.
//!
//! The pin does not wait alone: the pass's first round asks for it and for the first
//! ascending pages at once, and only the pages after them wait for its answer. Those early
//! pages may have been served before the pin, so the pass reads them again alongside the
//! closing newest page and compares: a change among them shows as a page that reads
//! differently (a row that slid onto an early page changes it), and the slice is read again.
//! A pass of P pages thus takes the ceil(P/C) rounds it would unpinned, for C - 1 more
//! requests, instead of a round of its own for the pin.

use futures::future::join_all;
use tracing::warn;

use super::counted::Drift;
use super::{Fetched, Halt, Walk};
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

    /// Whether the page came back newest first, as far as its rows' times tell (rows
    /// without a time tell nothing). A server that ignored the order sent the oldest rows:
    /// trusting them as the newest would leave the real newest page unread.
    pub(super) fn reads_newest_first(&self) -> bool {
        self.page
            .windows(2)
            .all(|pair| match (pair[0].invited_at, pair[1].invited_at) {
                (Some(newer), Some(older)) => newer >= older,
                _ => true,
            })
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

/// A page of the pass's first round, asked for before the pin's answer was in: read again
/// when the pin closes, and compared.
#[derive(Debug)]
pub(super) struct EarlyPage {
    pub(super) cursor: Cursor,
    /// Its rows as first read, in order.
    pub(super) ids: Vec<String>,
}

impl Walk {
    /// The pin the newest page's answer makes; `None` when the page came back oldest first
    /// (the pass then goes unpinned, reading its tail again at the end).
    pub(super) fn pin_from(&mut self, (_, result): Fetched) -> Result<Option<Pin>, Halt> {
        let page = self.accept(result)?;
        let pin = Pin {
            total: page.total,
            page: page.invitees,
        };
        if !pin.reads_newest_first() {
            warn!(source = %self.source.id(), "the newest page came back oldest first; listing without the pin");
            return Ok(None);
        }
        Ok(Some(pin))
    }

    /// Once the pass's pages are in: unless the pinned rows were the whole list, reads the
    /// newest page and the `early` pages again (at once), emits what it read (oldest first;
    /// the walk drops rows emitted before) and returns how the list moved since the pin, or [`Drift::Shrank`]
    /// when an early page reads differently.
    pub(super) async fn close_pin(
        &mut self,
        pin: Pin,
        start: &Cursor,
        early: Vec<EarlyPage>,
    ) -> Result<Drift, Halt> {
        let head = start.newest_page();
        if pin.holds_all() {
            self.emit(head, oldest_first(pin.page), None).await?;
            return Ok(Drift::Steady);
        }
        let newest = self.spawned_request(head.clone());
        let again = join_all(
            early
                .iter()
                .map(|page| self.spawned_request(page.cursor.clone())),
        );
        let ((_, newest), again) = futures::join!(newest, again);
        let newest = self.accept(newest)?;
        let mut drift = pin.drift(&newest.invitees, newest.total);
        for (page, (cursor, result)) in early.into_iter().zip(again) {
            let read = self.accept(result)?;
            if !read.invitees.iter().map(|row| &row.id).eq(page.ids.iter()) {
                drift = Drift::Shrank;
            }
            self.emit(cursor, read.invitees, Some(start.clone()))
                .await?;
        }
        self.emit(head.clone(), oldest_first(pin.page), Some(start.clone()))
            .await?;
        self.emit(head, oldest_first(newest.invitees), None).await?;
        Ok(drift)
    }
}

/// A newest-first page's rows, oldest first (the listing's own order).
fn oldest_first(mut rows: Vec<Invitee>) -> Vec<Invitee> {
    rows.reverse();
    rows
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
    fn the_newest_page_against_a_pin_of_ten_rows_under_c() {
        // (the newest page again, its total, the drift it shows)
        let cases: [(&[&str], u64, Drift); 7] = [
            // Nothing moved, or arrivals the total counts.
            (&["c", "b", "a"], 10, Drift::Steady),
            (&["e", "d", "c"], 12, Drift::Steady),
            // An arrival under an unchanged total: a deletion hid behind it.
            (&["d", "c", "b"], 10, Drift::Shrank),
            (&["c", "b", "a"], 9, Drift::Shrank),
            (&["c", "b", "a"], 11, Drift::Grew),
            // The pinned row off the page: pushed off by arrivals, or deleted.
            (&["f", "e", "d"], 13, Drift::Shrank),
            (&["b", "a"], 9, Drift::Shrank),
        ];
        for (page, total, drift) in cases {
            assert_eq!(
                pin(10, "c").drift(&rows(page), Some(total)),
                drift,
                "{page:?}"
            );
        }
    }

    #[test]
    fn a_page_in_ascending_time_is_not_newest_first() {
        let at = |secs| chrono::DateTime::from_timestamp(secs, 0);
        let mut page = rows(&["a", "b", "c"]);
        for (row, secs) in page.iter_mut().zip([30, 20, 20]) {
            row.invited_at = at(secs);
        }
        let mut pin = Pin {
            total: Some(10),
            page,
        };
        assert!(pin.reads_newest_first());
        pin.page.reverse();
        assert!(!pin.reads_newest_first());
        pin.page[0].invited_at = None;
        pin.page[2].invited_at = None;
        assert!(pin.reads_newest_first(), "no times, nothing to tell");
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
