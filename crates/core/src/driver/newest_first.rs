//! Walking a newest-first offset list that reports no total (Triport).
//!
//! Pages are requested `limit - 1` rows apart, so each page should start with the last row
//! of the page before it. Inserts at the head push rows down: the page then starts with rows
//! already emitted, which the [`SeenSet`](super::SeenSet) drops. Deletions pull rows up: the
//! page then starts with a row never seen, meaning rows may have slid before its offset, so
//! the driver steps back one page and reads again. Pages past the current one are fetched
//! speculatively and discarded when a shift invalidates them.

use futures::stream::FuturesOrdered;
use futures::StreamExt;
use tracing::debug;

use super::{Halt, PaginationError, Walk};
use crate::{Cursor, Invitee, Position};

impl Walk {
    /// Walks the list from `start`, then re-reads the head.
    pub(super) async fn newest_first(&mut self, start: Cursor) -> Result<(), Halt> {
        let Position::Offset {
            offset: start_offset,
            limit,
        } = start.position
        else {
            return Err(self.pagination(PaginationError::WrongCursorKind(start)));
        };
        let overlap = start.position.overlaps();
        let step = (start.position.following_with_overlap().first_row() - start_offset).max(1);
        let at = |offset: u64| start.with_position(Position::Offset { offset, limit });

        let mut next_offset = start_offset;
        let mut first = true;
        let mut backtracks = 0u32;
        'passes: loop {
            let mut predicted = next_offset;
            let mut in_flight = FuturesOrdered::new();
            // The very first page goes alone (a refused credential or a tiny list costs one
            // request); after it, up to `concurrency` pages are in flight.
            let initial = if first { 1 } else { self.options.concurrency };
            for _ in 0..initial {
                in_flight.push_back(self.request(at(predicted)));
                predicted += step;
            }
            while let Some((cursor, result)) = in_flight.next().await {
                let page = self.accept(result)?;
                let offset = cursor.position.first_row();
                let anchored = match page.invitees.first() {
                    Some(row) => self.seen_before(&row.id)?,
                    None => false,
                };
                if overlap && !first && offset > 0 && !anchored {
                    backtracks += 1;
                    if backtracks > self.options.max_backtracks {
                        return Err(self.pagination(PaginationError::KeepsShifting(backtracks)));
                    }
                    next_offset = offset.saturating_sub(step);
                    debug!(source = %self.source.id(), offset, "list shifted; re-reading from {next_offset}");
                    continue 'passes;
                }
                first = false;
                let short = page.invitees.len() < limit as usize;
                let older = self.older_than_scope(&page.invitees);
                let resume = Some(at(offset + step));
                self.emit(cursor, page.invitees, resume).await?;
                if short || older {
                    break 'passes;
                }
                while in_flight.len() < self.options.concurrency {
                    in_flight.push_back(self.request(at(predicted)));
                    predicted += step;
                }
            }
            break;
        }
        self.reread_head(start.with_position(Position::Offset { offset: 0, limit }))
            .await
    }

    /// True when an incremental listing has reached records older than its watermark.
    pub(super) fn older_than_scope(&self, rows: &[Invitee]) -> bool {
        match (self.scope.since, rows.last().and_then(Invitee::activity_at)) {
            (Some(since), Some(last)) => last < since,
            _ => false,
        }
    }

    /// Reads from `head` (the first page) on until a row emitted earlier shows up:
    /// sign-ups that arrived during the listing.
    pub(super) async fn reread_head(&mut self, head: Cursor) -> Result<(), Halt> {
        let size = head.position.size();
        let mut cursor = head;
        loop {
            let (_, result) = self.request(cursor.clone()).await;
            let page = self.accept(result)?;
            let rows = page.invitees.len();
            let short = rows < size as usize;
            let mut fresh: Vec<Invitee> = Vec::with_capacity(rows);
            for row in page.invitees {
                if self.seen_before(&row.id)? {
                    break;
                }
                fresh.push(row);
            }
            let met_seen = fresh.len() < rows;
            let next = cursor.with_position(cursor.position.following());
            self.emit(cursor, fresh, None).await?;
            if met_seen || short {
                return Ok(());
            }
            cursor = next;
        }
    }
}
