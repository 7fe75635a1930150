//! Walking numbered pages over a newest-first list (Census in `order=desc`).
//!
//! Inserts at the head push rows onto later pages: they come back as rows already emitted,
//! which the [`SeenSet`](super::SeenSet) drops. Deletions pull rows up onto pages already
//! read: the page's total drops, and the walk steps back the pages the drop covers. An
//! incremental listing stops at the first page holding records older than its scope.

use super::{Halt, PaginationError, Walk};
use crate::{Cursor, Position};

impl Walk {
    /// Walks the pages from `start`, then re-reads the head.
    pub(super) async fn newest_first_pages(&mut self, start: Cursor) -> Result<(), Halt> {
        let Position::Page { number, size } = start.position else {
            return Err(self.pagination(PaginationError::WrongCursorKind(start)));
        };
        let at = |number: u64| start.with_position(Position::Page { number, size });
        let mut number = number.max(1);
        let mut last_total: Option<u64> = None;
        let mut backtracks = 0u32;
        loop {
            let cursor = at(number);
            let (_, result) = self.request(cursor.clone()).await;
            let page = self.accept(result)?;
            if let (Some(before), Some(now)) = (last_total, page.total) {
                if now < before && number > 1 {
                    backtracks += 1;
                    if backtracks > self.options.max_backtracks {
                        return Err(self.pagination(PaginationError::KeepsShifting(backtracks)));
                    }
                    let back = (before - now).div_ceil(u64::from(size).max(1)).max(1);
                    last_total = Some(now);
                    number = number.saturating_sub(back).max(1);
                    continue;
                }
            }
            last_total = page.total.or(last_total);
            let short = page.invitees.len() < size as usize;
            let older = self.older_than_scope(&page.invitees);
            let last =
                page.next.is_none() && page.total.is_some_and(|t| number * u64::from(size) >= t);
            self.emit(cursor, page.invitees, Some(at(number + 1)))
                .await?;
            if short || older || last {
                break;
            }
            number += 1;
        }
        self.reread_head(at(1)).await
    }
}
