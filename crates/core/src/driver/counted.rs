//! Walking a slice whose first page reports a total.

use std::collections::{HashSet, VecDeque};

use futures::stream::FuturesOrdered;
use futures::StreamExt;
use tracing::warn;

use super::{Halt, PaginationError, Walk};
use crate::{Cursor, Total};

impl Walk {
    /// Walks the slice, re-reading it while its total keeps changing (bounded).
    pub(super) async fn counted(&mut self, start: Cursor, growing_tail: bool) -> Result<(), Halt> {
        let mut rescans = 0;
        while self.counted_pass(&start, growing_tail).await? {
            if rescans >= self.options.drift_rescans {
                warn!(source = %self.source.id(), "total still changing after {rescans} re-reads; ending the listing");
                break;
            }
            rescans += 1;
            warn!(source = %self.source.id(), "total changed during the listing; re-reading the slice");
        }
        Ok(())
    }

    /// One pass over the slice; true when the total changed while it ran.
    async fn counted_pass(&mut self, start: &Cursor, growing_tail: bool) -> Result<bool, Halt> {
        let (_, first) = self.request(start.clone()).await;
        let first = self.accept(first)?;
        let size = start.position.size();
        let Some(total) = first.total else {
            let next = first.next.clone();
            let resume = next.clone();
            self.emit(start.clone(), first.invitees, resume).await?;
            self.follow_next(start.clone(), next).await?;
            return Ok(false);
        };
        let rows_of = |total: Total| match total {
            Total::Items(n) => n,
            Total::Pages(p) => p.saturating_mul(u64::from(size)),
        };
        let mut planned_rows = rows_of(total);
        let empty = first.invitees.is_empty();
        let mut queue: VecDeque<Cursor> = if empty {
            VecDeque::new()
        } else {
            start
                .position
                .remaining(planned_rows)
                .into_iter()
                .map(|p| start.with_position(p))
                .collect()
        };
        if self.fetched + queue.len() as u64 > self.options.max_pages {
            return Err(self.pagination(PaginationError::PageCeiling(self.options.max_pages)));
        }
        let resume = Some(start.with_position(start.position.following()));
        self.emit(start.clone(), first.invitees, resume).await?;

        let mut drifted = false;
        let mut last = start.clone();
        // The last position planned so far, to extend the plan from when the list grows.
        let mut planned_end = queue.back().cloned().unwrap_or_else(|| start.clone());
        let mut in_flight = FuturesOrdered::new();
        while in_flight.len() < self.options.concurrency {
            let Some(cursor) = queue.pop_front() else {
                break;
            };
            in_flight.push_back(self.request(cursor));
        }
        while let Some((cursor, result)) = in_flight.next().await {
            let page = self.accept(result)?;
            if page.total != Some(total) {
                drifted = true;
                // Rows added inside the slice push its tail past the planned pages: plan
                // the pages the new total needs, so the tail is not left behind.
                if let Some(now) = page.total.map(rows_of).filter(|n| *n > planned_rows) {
                    for p in planned_end.position.remaining(now) {
                        queue.push_back(start.with_position(p));
                    }
                    planned_end = queue.back().cloned().unwrap_or(planned_end);
                    planned_rows = now;
                }
            }
            let empty = page.invitees.is_empty();
            let resume = Some(cursor.with_position(cursor.position.following()));
            self.emit(cursor.clone(), page.invitees, resume).await?;
            last = cursor;
            if empty {
                // The list shrank under us: the rest is past its end.
                drifted = true;
                break;
            }
            if let Some(cursor) = queue.pop_front() {
                in_flight.push_back(self.request(cursor));
            }
        }
        drop(in_flight);
        if growing_tail {
            self.reread_tail(last).await?;
        }
        Ok(drifted)
    }

    /// Re-reads the last page and follows `next` until the list ends again, picking up
    /// records appended while the listing ran.
    async fn reread_tail(&mut self, last: Cursor) -> Result<(), Halt> {
        let (_, page) = self.request(last.clone()).await;
        let page = self.accept(page)?;
        let next = page.next.clone();
        let full = page.invitees.len() >= last.position.size() as usize;
        self.emit(last.clone(), page.invitees, next.clone()).await?;
        if full {
            self.follow_next(last, next).await?;
        }
        Ok(())
    }

    /// Follows the provider's `next` pointers one page at a time.
    async fn follow_next(
        &mut self,
        mut current: Cursor,
        mut next: Option<Cursor>,
    ) -> Result<(), Halt> {
        let mut visited: HashSet<Cursor> = HashSet::from([current.clone()]);
        while let Some(cursor) = next {
            if cursor.position.first_row() <= current.position.first_row()
                || cursor.window != current.window
            {
                return Err(self.pagination(PaginationError::NotAdvancing {
                    current,
                    next: cursor,
                }));
            }
            if !visited.insert(cursor.clone()) {
                return Err(self.pagination(PaginationError::RepeatedCursor(cursor)));
            }
            let (_, page) = self.request(cursor.clone()).await;
            let page = self.accept(page)?;
            let empty = page.invitees.is_empty();
            if !empty && page.invitees.iter().all(|r| self.seen.contains(&r.id)) {
                return Err(self.pagination(PaginationError::NoProgress(cursor)));
            }
            next = if empty { None } else { page.next.clone() };
            self.emit(cursor.clone(), page.invitees, next.clone())
                .await?;
            current = cursor;
        }
        Ok(())
    }
}
