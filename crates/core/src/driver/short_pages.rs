//! Pages shorter than asked inside a counted pass: the end of the list, or a clamp.

use super::{Halt, PaginationError, Walk};
use crate::Cursor;

/// Watches a counted pass for a page shorter than asked, which is the end of the list when
/// only empty pages follow (a total that over-counts, as Census's approximate one may), but
/// a clamped page size or a wrong page when rows follow it: walking on by the planned pages
/// would skip rows, so that is an error.
///
/// Pages are checked while they report the pass's total. A newest-first list
/// ([`ShortPages::checks_every_page`]) has every page checked, whatever its total: arrivals
/// at its head move the total on every request while a clamp skips rows below, and only
/// a page its own total contradicts (fewer rows than asked, though the total says more lie
/// past them) counts as short there, since rows pushed down past a list's true end follow
/// it legitimately.
pub(super) struct ShortPages {
    total: u64,
    every_page: bool,
    /// The first short page, its rows and the total it reported.
    first_short: Option<(Cursor, usize, u64)>,
    /// Whether a page after the first short one was checked.
    confirmed: bool,
}

impl ShortPages {
    /// Watches a pass whose first page reported `total`; `every_page` for a newest-first
    /// list.
    pub(super) fn new(total: u64, every_page: bool) -> Self {
        Self {
            total,
            every_page,
            first_short: None,
            confirmed: false,
        }
    }

    /// The total the pass's first page reported.
    pub(super) fn total(&self) -> u64 {
        self.total
    }

    /// Whether pages that report another total are checked too.
    pub(super) fn checks_every_page(&self) -> bool {
        self.every_page
    }

    /// Takes a page of `rows` rows fetched at `cursor` (in order), reporting `total`, into
    /// account.
    pub(super) fn check(
        &mut self,
        walk: &Walk,
        cursor: &Cursor,
        rows: usize,
        total: Option<u64>,
    ) -> Result<(), Halt> {
        if let Some((short, short_rows, short_total)) = &self.first_short {
            self.confirmed = true;
            if rows > 0 {
                return Err(walk.pagination(PaginationError::ShortPage {
                    cursor: short.clone(),
                    rows: *short_rows,
                    asked: short.position.size(),
                    total: *short_total,
                }));
            }
        }
        let total = total.unwrap_or(self.total);
        let says_more = cursor.position.first_row() + (rows as u64) < total;
        let short = rows < cursor.position.size() as usize && (says_more || !self.every_page);
        if short && self.first_short.is_none() {
            self.first_short = Some((cursor.clone(), rows, total));
        }
        Ok(())
    }

    /// The page after a short one nothing was checked after, when the total says rows
    /// lie past the short page.
    pub(super) fn unconfirmed(&self) -> Option<Cursor> {
        let (short, rows, total) = self.first_short.as_ref()?;
        let beyond = short.position.first_row() + (*rows as u64) < *total;
        (!self.confirmed && beyond).then(|| short.with_position(short.position.following()))
    }
}
