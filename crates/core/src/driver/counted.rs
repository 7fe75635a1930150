//! Walking a slice whose first page reports a total.

use std::collections::HashSet;

use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::StreamExt;
use tracing::{debug, warn};

use super::pin::{EarlyPage, Pin};
use super::short_pages::ShortPages;
use super::slots::Slots;
use super::{Fetched, Halt, PaginationError, Walk};
use crate::{Cursor, Invitee, Page, Position, SourceError};

impl Walk {
    /// Walks the slice, re-reading it while its total keeps changing (bounded).
    pub(super) async fn counted(&mut self, start: Cursor, growing_tail: bool) -> Result<(), Halt> {
        let mut rescans = 0;
        // The re-read before this one found nothing new.
        let mut quiet = false;
        loop {
            let before = self.emitted_inside;
            let drift = self.counted_pass(&start, growing_tail).await?;
            if drift == Drift::Steady {
                return Ok(());
            }
            // A re-read that found nothing new inside the slice's first extent has caught
            // every row that slid back (rows that arrived at the end of an oldest-first
            // list lie past it: a list that keeps growing is not read again and again),
            // unless it shrank while it ran (a row may have slid past it again): then it
            // takes a second quiet re-read in a row. (Requiring a re-read that does not
            // shrink would never end on a total that is only approximate, as Census's is.)
            let found_nothing = rescans > 0 && self.emitted_inside == before;
            if found_nothing && (drift != Drift::Shrank || quiet) {
                return Ok(());
            }
            quiet = found_nothing;
            if rescans >= self.options.drift_rescans {
                if drift == Drift::Shrank {
                    // Rows may still have slid onto pages already read during the last
                    // re-read: ending here could lose some silently.
                    return Err(self.pagination(PaginationError::KeepsShrinking(rescans)));
                }
                warn!(source = %self.source.id(), "total still growing after {rescans} re-reads; ending the listing (what arrives now belongs to the next run)");
                return Ok(());
            }
            rescans += 1;
            warn!(source = %self.source.id(), "total changed during the listing; re-reading the slice");
        }
    }

    /// One pass over the slice, and how its total moved while it ran. A growing tail is
    /// [pinned](super::pin) when the source can list it newest first, and otherwise re-read
    /// from the last page.
    async fn counted_pass(&mut self, start: &Cursor, growing_tail: bool) -> Result<Drift, Halt> {
        let pinned = growing_tail && self.source.lists_newest_first();
        let slots = Slots::new(self.options.concurrency);
        let mut pin_read =
            pinned.then(|| self.spawned_holding(start.newest_page(), slots.try_take()));
        let mut pin = self.pin_alone(&mut pin_read).await?;
        if let Some(pin) = pin.take_if(|pin| pin.holds_all()) {
            return self.close_pin(pin, start, Vec::new()).await;
        }
        let first = self.spawned_holding(start.clone(), slots.try_take());
        let (in_flight, ahead) = self.ahead_of_the_total(start, &slots);
        // The pages asked for so far may be served before the pin: they are read again.
        let early_until = pin_read.is_some().then_some(ahead);
        if let Some(read) = pin_read {
            pin = self.pin_from(read.await)?;
        }
        if let Some(pin) = pin.take_if(|pin| pin.holds_all()) {
            return self.close_pin(pin, start, Vec::new()).await;
        }
        let (_, first) = first.await;
        let first = self.accept(first)?;
        if let (Some(total), u64::MAX) = (first.total, self.extent) {
            self.extent = total;
        }
        let Some(total) = first.total else {
            let next = first.next.clone();
            let resume = next.clone();
            self.emit(start.clone(), first.invitees, resume).await?;
            self.follow_next(start.clone(), next).await?;
            return Ok(Drift::Steady);
        };
        let early_until = early_until.filter(|_| pin.is_some());
        // A newest-first list's tail never grows: a page its own total contradicts is
        // checked even when the total moved (arrivals at the head would hide a clamp).
        let short = ShortPages::new(total, !growing_tail);
        let mut pass = self.open_pass(start, &first, short, ahead, early_until, pin.as_ref())?;
        pass.keep_if_early(start, &first.invitees);
        let resume = Some(start.with_position(start.position.following_with_overlap()));
        self.emit(start.clone(), first.invitees, resume).await?;
        self.take_planned(&mut pass, in_flight, start, &slots)
            .await?;
        self.confirm_short_page(&mut pass).await?;
        match (pin, growing_tail) {
            (Some(pin), _) => {
                let early = std::mem::take(&mut pass.early);
                pass.drift = pass.drift.max(self.close_pin(pin, start, early).await?);
            }
            (None, true) => self.reread_tail(pass.last).await?,
            (None, false) if self.checks_head(start, pass.pages_after_first) => {
                let head = self
                    .head_drift(start, pass.head.as_deref(), pass.total)
                    .await?;
                pass.drift = pass.drift.max(head);
            }
            (None, false) => {}
        }
        Ok(pass.drift)
    }

    /// The pin, when the pass may send one request at a time: its newest page then goes
    /// first, alone (`read` is taken); otherwise it goes with the first round (`None`).
    /// `None` too when that page came back oldest first.
    async fn pin_alone(
        &mut self,
        read: &mut Option<BoxFuture<'static, Fetched>>,
    ) -> Result<Option<Pin>, Halt> {
        match read.take_if(|_| self.options.concurrency < 2) {
            Some(read) => self.pin_from(read.await),
            None => Ok(None),
        }
    }

    /// Checks the pass's `first` page with `short` (which holds the pass's total) and plans
    /// the pages after `ahead` (none for the rows a `pin` read); the pages up to
    /// `early_until` were asked for before the pin's answer.
    fn open_pass(
        &self,
        start: &Cursor,
        first: &Page,
        mut short: ShortPages,
        ahead: Position,
        early_until: Option<Position>,
        pin: Option<&Pin>,
    ) -> Result<Pass, Halt> {
        let total = short.total();
        if !first.invitees.is_empty() {
            short.check(self, start, first.invitees.len(), first.total)?;
        }
        // A pin's total is the list its rows and the pass's pages cover together (a first
        // page that reports another is drift, read again).
        let covered = pin
            .and_then(|pin| pin.total)
            .map_or(total, |t| t.max(total));
        let planned_rows = if first.invitees.is_empty() {
            0
        } else {
            covered.saturating_sub(pin.map_or(0, Pin::rows))
        };
        let plan = Remaining::after(ahead, planned_rows);
        if self.fetched + plan.pages() > self.options.max_pages {
            return Err(self.pagination(PaginationError::PageCeiling(self.options.max_pages)));
        }
        let drift = pin.map_or(Drift::Steady, |pin| {
            Drift::between(pin.total.unwrap_or(total), Some(total))
        });
        Ok(Pass {
            total,
            plan,
            short,
            drift,
            last: start.clone(),
            head: first.invitees.first().map(|row| row.id.clone()),
            pages_after_first: 0,
            last_row: first.invitees.last().map(|row| row.id.clone()),
            early_until,
            early: Vec::new(),
        })
    }

    /// Takes the pass's pages in order, starting the plan's next ones as slots free up;
    /// the pages still in flight when it returns are dropped (their requests aborted).
    async fn take_planned(
        &mut self,
        pass: &mut Pass,
        mut in_flight: FuturesOrdered<BoxFuture<'static, Fetched>>,
        start: &Cursor,
        slots: &Slots,
    ) -> Result<(), Halt> {
        self.fill(&mut in_flight, &mut pass.plan, start, slots);
        loop {
            let room = in_flight.len() < self.buffered_pages() && pass.plan.has_next();
            tokio::select! {
                biased;
                taken = in_flight.next() => {
                    let Some((cursor, result)) = taken else {
                        return Ok(());
                    };
                    if !self.take_page(pass, cursor, result).await? {
                        return Ok(());
                    }
                }
                Some(slot) = slots.take(), if room => {
                    if let Some(position) = pass.plan.next() {
                        let cursor = start.with_position(position);
                        in_flight.push_back(self.spawned_holding(cursor, slot));
                    }
                }
            }
            self.fill(&mut in_flight, &mut pass.plan, start, slots);
        }
    }

    /// The pages after `start` a [prefetching](crate::InviteeSource::prefetches_before_total)
    /// source asks for alongside it (up to the concurrency), and the last of them (`start`'s
    /// own position when none).
    fn ahead_of_the_total(
        &self,
        start: &Cursor,
        slots: &Slots,
    ) -> (FuturesOrdered<BoxFuture<'static, Fetched>>, Position) {
        let mut in_flight = FuturesOrdered::new();
        let mut ahead = start.position;
        if self.source.prefetches_before_total() {
            while let Some(slot) = slots.try_take() {
                ahead = ahead.following_with_overlap();
                in_flight.push_back(self.spawned_holding(start.with_position(ahead), slot));
            }
        }
        (in_flight, ahead)
    }

    /// Pages a pass holds at most, running or answered and waiting for the pages before
    /// them: twice the concurrency, so requests keep running while a slow answer holds
    /// the pages after it.
    fn buffered_pages(&self) -> usize {
        2 * self.options.concurrency
    }

    /// Starts the plan's next pages while slots are free and the buffer has room.
    fn fill(
        &self,
        in_flight: &mut FuturesOrdered<BoxFuture<'static, Fetched>>,
        plan: &mut Remaining,
        start: &Cursor,
        slots: &Slots,
    ) {
        while in_flight.len() < self.buffered_pages() && plan.has_next() {
            let Some(slot) = slots.try_take() else {
                break;
            };
            let Some(position) = plan.next() else {
                break;
            };
            in_flight.push_back(self.spawned_holding(start.with_position(position), slot));
        }
    }

    /// Takes the pass's next page (in order); false once the list ended early.
    async fn take_page(
        &mut self,
        pass: &mut Pass,
        cursor: Cursor,
        result: Result<Page, SourceError>,
    ) -> Result<bool, Halt> {
        // A page asked for ahead of the total, past the rows the pass planned for: not
        // needed, so neither its failure (a server may refuse a page past its end) nor its
        // emptiness ends the pass.
        let past_plan = !pass.plan.covers(cursor.position);
        pass.pages_after_first += 1;
        let page = match self.accept(result) {
            Ok(page) => page,
            Err(Halt::Failed(err)) if past_plan => {
                debug!(source = %self.source.id(), "page asked for ahead of the total failed; not needed: {err}");
                return Ok(true);
            }
            Err(halt) => return Err(halt),
        };
        let steady = page.total == Some(pass.total);
        if steady || pass.short.checks_every_page() {
            pass.short
                .check(self, &cursor, page.invitees.len(), page.total)?;
        }
        if !steady {
            pass.drift = pass.drift.max(Drift::between(pass.total, page.total));
            // Rows added inside the slice push its tail past the planned pages: plan the
            // pages the new total needs, so the tail is not left behind.
            if let Some(now) = page.total {
                pass.plan.extend_to(now);
            }
        }
        let empty = page.invitees.is_empty();
        if past_plan && empty {
            return Ok(true);
        }
        if pass.shifted(cursor.position, &page.invitees) {
            debug!(source = %self.source.id(), cursor = ?cursor.position, "page does not start with the row the page before it ended with; the slice will be re-read");
        }
        pass.last_row = page.invitees.last().map(|row| row.id.clone());
        pass.keep_if_early(&cursor, &page.invitees);
        let resume = Some(cursor.with_position(cursor.position.following_with_overlap()));
        self.emit(cursor.clone(), page.invitees, resume).await?;
        pass.last = cursor;
        if empty {
            // The list shrank under us: the rest is past its end.
            pass.drift = Drift::Shrank;
        }
        Ok(!empty)
    }

    /// When the pass's short page was the last planned one, reads the page after it: a
    /// total that over-counts (empty) or a clamp (rows).
    async fn confirm_short_page(&mut self, pass: &mut Pass) -> Result<(), Halt> {
        let Some(probe) = pass.short.unconfirmed() else {
            return Ok(());
        };
        let (_, result) = self.spawned_request(probe.clone()).await;
        let page = self.accept(result)?;
        let steady = page.total == Some(pass.total);
        if steady || pass.short.checks_every_page() {
            pass.short
                .check(self, &probe, page.invitees.len(), page.total)?;
        }
        if !steady && !page.invitees.is_empty() {
            pass.drift = pass.drift.max(Drift::between(pass.total, page.total));
            self.emit(probe.clone(), page.invitees, None).await?;
        }
        Ok(())
    }

    /// Re-reads the last page and follows `next` until the list ends again, picking up
    /// records appended while the listing ran.
    async fn reread_tail(&mut self, last: Cursor) -> Result<(), Halt> {
        let (_, page) = self.spawned_request(last.clone()).await;
        let page = self.accept(page)?;
        let next = page.next.clone();
        let full = page.invitees.len() >= last.position.size() as usize;
        self.emit(last.clone(), page.invitees, next.clone()).await?;
        if full {
            self.follow_next(last, next).await?;
        }
        Ok(())
    }

    /// Whether every row of a page was emitted before.
    fn all_seen(&self, rows: &[Invitee]) -> Result<bool, Halt> {
        for row in rows {
            if !self.seen_before(&row.id)? {
                return Ok(false);
            }
        }
        Ok(true)
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
            let (_, page) = self.spawned_request(cursor.clone()).await;
            let page = self.accept(page)?;
            let empty = page.invitees.is_empty();
            if !empty && self.all_seen(&page.invitees)? {
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

/// What one counted pass knows so far.
struct Pass {
    /// The total its first page reported.
    total: u64,
    /// The pages still to ask for.
    plan: Remaining,
    short: ShortPages,
    drift: Drift,
    /// The last page emitted (the growing tail is re-read from it).
    last: Cursor,
    /// The id of the first page's first row ([the head check](super::head)).
    head: Option<String>,
    /// Pages taken after the first one.
    pages_after_first: u64,
    /// The id of that page's last row, which the next page should start with when pages
    /// [overlap](Position::overlaps).
    last_row: Option<String>,
    /// The last page asked for before the pin's answer was in, when the pass is pinned.
    early_until: Option<Position>,
    /// The planned pages up to it, as read: read again when the pin closes.
    early: Vec<EarlyPage>,
}

impl Pass {
    /// Keeps the rows of a planned page asked for before the pin's answer was in.
    fn keep_if_early(&mut self, cursor: &Cursor, rows: &[Invitee]) {
        let early = self
            .early_until
            .is_some_and(|until| cursor.position.first_row() <= until.first_row());
        if early && self.plan.covers(cursor.position) {
            self.early.push(EarlyPage {
                cursor: cursor.clone(),
                ids: rows.iter().map(|row| row.id.clone()).collect(),
            });
        }
    }

    /// Whether a page at `position` (taken in order) fails to start with the last row of
    /// the page before it, which overlapping pages should: rows slid between the two reads,
    /// even when the total did not change (a deletion and an arrival), so the pass counts
    /// as drifted and the slice is read again. The earlier page's last row further down
    /// this page means rows arrived before it (positions already read); otherwise rows
    /// before it went away and later rows slid back onto pages already read.
    fn shifted(&mut self, position: Position, rows: &[Invitee]) -> bool {
        let (Some(last), Some(first)) = (&self.last_row, rows.first()) else {
            return false;
        };
        if !position.overlaps() || first.id == *last {
            return false;
        }
        let shift = if rows.iter().any(|row| row.id == *last) {
            Drift::Grew
        } else {
            Drift::Shrank
        };
        self.drift = self.drift.max(shift);
        true
    }
}

/// The pages of a counted slice still to request, produced one at a time (a slice of a
/// million rows does not become ten thousand cursors up front). Offset pages
/// [overlap](Position::following_with_overlap) by one row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Remaining {
    /// The next page to hand out.
    next: Position,
    /// Rows the slice holds, as far as its totals said so far.
    rows: u64,
}

impl Remaining {
    /// The pages after `first` of a slice holding `rows` rows.
    fn after(first: Position, rows: u64) -> Self {
        Self {
            next: first.following_with_overlap(),
            rows,
        }
    }

    /// Rows each page shares with the page before it (1 for offsets, 0 for page numbers).
    fn overlap(&self) -> u64 {
        u64::from(self.next.overlaps())
    }

    /// Whether the slice's rows reach past the rows a page at `position` shares with the
    /// page before it.
    fn covers(&self, position: Position) -> bool {
        position.first_row() + self.overlap() < self.rows
    }

    /// Whether a page is left to hand out.
    fn has_next(&self) -> bool {
        self.covers(self.next)
    }

    /// How many pages are left.
    fn pages(&self) -> u64 {
        let step = u64::from(self.next.size())
            .saturating_sub(self.overlap())
            .max(1);
        self.rows
            .saturating_sub(self.overlap())
            .saturating_sub(self.next.first_row())
            .div_ceil(step)
    }

    /// Plans for a slice that grew to `rows` rows (a smaller total changes nothing: the
    /// pages past the end come back empty and end the pass).
    fn extend_to(&mut self, rows: u64) {
        self.rows = self.rows.max(rows);
    }
}

impl Iterator for Remaining {
    type Item = Position;

    fn next(&mut self) -> Option<Position> {
        let position = self.next;
        self.covers(position).then(|| {
            self.next = position.following_with_overlap();
            position
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_offsets_cover_the_total_exactly() {
        let first = Position::Offset {
            offset: 0,
            limit: 10,
        };
        // Each page starts with the last row of the page before it.
        let rest: Vec<u64> = Remaining::after(first, 30).map(|p| p.first_row()).collect();
        assert_eq!(rest, [9, 18, 27]);
        for rows in [0, 1, 10, 11, 19, 20, 28, 29, 30, 1000] {
            let plan = Remaining::after(first, rows);
            assert_eq!(plan.pages(), plan.clone().count() as u64, "{rows} rows");
        }
        assert_eq!(Remaining::after(first, 10).count(), 0);
        assert_eq!(Remaining::after(first, 11).pages(), 1);
        assert_eq!(Remaining::after(first, 19).pages(), 1);
        assert_eq!(Remaining::after(first, 20).pages(), 2);
        // One row a page cannot overlap.
        let single = Position::Offset {
            offset: 0,
            limit: 1,
        };
        let rest: Vec<u64> = Remaining::after(single, 3).map(|p| p.first_row()).collect();
        assert_eq!(rest, [1, 2]);
    }

    #[test]
    fn pages_are_one_based() {
        let first = Position::Page {
            number: 1,
            size: 100,
        };
        let pages: Vec<Position> = Remaining::after(first, 250).collect();
        assert_eq!(
            pages,
            [
                Position::Page {
                    number: 2,
                    size: 100
                },
                Position::Page {
                    number: 3,
                    size: 100
                }
            ]
        );
    }

    #[test]
    fn a_larger_total_extends_the_plan_lazily() {
        let first = Position::Offset {
            offset: 0,
            limit: 10,
        };
        let mut plan = Remaining::after(first, 19);
        assert_eq!(plan.next().map(|p| p.first_row()), Some(9));
        assert_eq!(plan.next(), None);
        plan.extend_to(35);
        plan.extend_to(5);
        let rest: Vec<u64> = plan.map(|p| p.first_row()).collect();
        assert_eq!(rest, [18, 27]);
    }
}

/// How a counted slice's total moved during one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Drift {
    /// Every page reported the first page's total.
    Steady,
    /// Totals only grew, or an overlapping page started with rows already read: rows
    /// arrived (deletions may hide behind more arrivals, so a grown
    /// slice is re-read too; arrivals at the end of an oldest-first list lie past its first
    /// extent and do not keep the re-reads going).
    Grew,
    /// A total fell, the list ended early or an overlapping page did not start with the
    /// row the page before it ended with: rows were deleted, and rows after them slid
    /// towards pages already read.
    Shrank,
}

impl Drift {
    /// The drift a page reporting `now` shows against the pass's first `total`.
    pub(super) fn between(total: u64, now: Option<u64>) -> Self {
        match now {
            Some(now) if now == total => Drift::Steady,
            Some(now) if now > total => Drift::Grew,
            _ => Drift::Shrank,
        }
    }
}
