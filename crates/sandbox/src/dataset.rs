//! A virtual, ordered list of rows that can grow at the head and lose rows anywhere,
//! without ever materialising its rows.
//!
//! Rows are identified by a sequence number: larger is newer. Row `seq` was created at
//! `epoch + seq * spacing`. The list starts with `initial` rows (`0..initial`); inserts take
//! the next numbers (they are the newest), deletions are kept in a small set.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use crate::generate::hash;

/// How the list changes while it is being read: applied after every served request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drift {
    /// New rows added at the head after each request.
    pub inserts_per_request: u32,
    /// Existing rows deleted (pseudo-randomly, deterministically) after each request.
    pub deletes_per_request: u32,
}

/// The rows of one emulated account.
#[derive(Debug, Clone)]
pub struct Dataset {
    seed: u64,
    next_seq: u64,
    deleted: BTreeSet<u64>,
    epoch: DateTime<Utc>,
    spacing: Duration,
    drift: Drift,
    drift_steps: u64,
    page_clamp: Option<u64>,
}

impl Dataset {
    /// `initial` rows whose newest was created at `newest_at`, `spacing` apart.
    pub fn new(seed: u64, initial: u64, newest_at: DateTime<Utc>, spacing: Duration) -> Self {
        let span = spacing * i32::try_from(initial.saturating_sub(1)).unwrap_or(i32::MAX);
        Self {
            seed,
            next_seq: initial,
            deleted: BTreeSet::new(),
            epoch: newest_at - span,
            spacing,
            drift: Drift::default(),
            drift_steps: 0,
            page_clamp: None,
        }
    }

    /// The seed rows are derived from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Sets the drift applied by [`Dataset::after_request`].
    pub fn set_drift(&mut self, drift: Drift) {
        self.drift = drift;
    }

    /// Serves at most `rows` rows a page whatever the request asks and without saying so
    /// (a silently clamped page size, see [`Dataset::page_size`]); `None` serves what is
    /// asked.
    pub fn set_page_clamp(&mut self, rows: Option<u64>) {
        self.page_clamp = rows;
    }

    /// The page size served for `asked`: lowered to the page clamp. Emulators paging by
    /// number compute offsets from it, as a server that clamps does.
    pub fn page_size(&self, asked: u64) -> u64 {
        self.page_clamp
            .map_or(asked, |clamp| asked.min(clamp.max(1)))
    }

    /// Live rows.
    pub fn len(&self) -> u64 {
        self.next_seq - self.deleted.len() as u64
    }

    /// True when no row is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When row `seq` was created.
    pub fn created_at(&self, seq: u64) -> DateTime<Utc> {
        self.epoch + self.spacing * i32::try_from(seq).unwrap_or(i32::MAX)
    }

    /// Whether `seq` exists and is not deleted.
    pub fn is_live(&self, seq: u64) -> bool {
        seq < self.next_seq && !self.deleted.contains(&seq)
    }

    /// Adds `count` rows at the head (the newest); returns their sequence numbers.
    pub fn insert_head(&mut self, count: u64) -> std::ops::Range<u64> {
        let start = self.next_seq;
        self.next_seq += count;
        start..self.next_seq
    }

    /// Deletes row `seq`; false when it was not live.
    pub fn delete(&mut self, seq: u64) -> bool {
        self.is_live(seq) && self.deleted.insert(seq)
    }

    /// Deletes the live row at 0-based position `n`, newest first; false if there is none.
    pub fn delete_newest_at(&mut self, n: u64) -> bool {
        match self.nth_desc(0, self.next_seq, n) {
            Some(seq) => self.delete(seq),
            None => false,
        }
    }

    /// Deletes the live row at 0-based position `n`, oldest first; false if there is none.
    pub fn delete_oldest_at(&mut self, n: u64) -> bool {
        match self.nth_asc(0, self.next_seq, n) {
            Some(seq) => self.delete(seq),
            None => false,
        }
    }

    /// Applies the configured drift once.
    pub fn after_request(&mut self) {
        if self.drift.inserts_per_request > 0 {
            self.insert_head(u64::from(self.drift.inserts_per_request));
        }
        for _ in 0..self.drift.deletes_per_request {
            let len = self.len();
            if len == 0 {
                break;
            }
            self.drift_steps += 1;
            let n = hash(self.seed, self.drift_steps, 99) % len;
            if let Some(seq) = self.nth_desc(0, self.next_seq, n) {
                self.delete(seq);
            }
        }
    }

    /// Live rows in the half-open range `lo..hi`.
    pub fn count_in(&self, lo: u64, hi: u64) -> u64 {
        let hi = hi.min(self.next_seq);
        if lo >= hi {
            return 0;
        }
        (hi - lo) - self.deleted.range(lo..hi).count() as u64
    }

    /// The `n`-th (0-based) newest live row in `lo..hi`.
    pub fn nth_desc(&self, lo: u64, hi: u64, n: u64) -> Option<u64> {
        let hi = hi.min(self.next_seq);
        if n >= self.count_in(lo, hi) {
            return None;
        }
        let mut seq = hi - 1 - n;
        for &d in self.deleted.range(lo..hi).rev() {
            if d >= seq {
                seq -= 1;
            } else {
                break;
            }
        }
        Some(seq)
    }

    /// The `n`-th (0-based) oldest live row in `lo..hi`.
    pub fn nth_asc(&self, lo: u64, hi: u64, n: u64) -> Option<u64> {
        let hi = hi.min(self.next_seq);
        if n >= self.count_in(lo, hi) {
            return None;
        }
        let mut seq = lo + n;
        for &d in self.deleted.range(lo..hi) {
            if d <= seq {
                seq += 1;
            } else {
                break;
            }
        }
        Some(seq)
    }

    /// Up to `limit` live rows of `lo..hi`, newest first, skipping `offset`.
    pub fn page_desc(&self, lo: u64, hi: u64, offset: u64, limit: u64) -> Vec<u64> {
        let Some(mut seq) = self.nth_desc(lo, hi, offset) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(limit.min(10_000) as usize);
        loop {
            if self.is_live(seq) {
                out.push(seq);
                if out.len() as u64 == limit {
                    break;
                }
            }
            if seq == lo {
                break;
            }
            seq -= 1;
        }
        out
    }

    /// Up to `limit` live rows of `lo..hi`, oldest first, skipping `offset`.
    pub fn page_asc(&self, lo: u64, hi: u64, offset: u64, limit: u64) -> Vec<u64> {
        let hi = hi.min(self.next_seq);
        let Some(mut seq) = self.nth_asc(lo, hi, offset) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(limit.min(10_000) as usize);
        while seq < hi && (out.len() as u64) < limit {
            if self.is_live(seq) {
                out.push(seq);
            }
            seq += 1;
        }
        out
    }

    /// The half-open sequence range of rows created within `[start, end]` (inclusive).
    pub fn range_between(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> (u64, u64) {
        let step = self.spacing.num_milliseconds().max(1);
        let index = |t: DateTime<Utc>, round_up: bool| -> u64 {
            let ms = (t - self.epoch).num_milliseconds();
            if ms <= 0 {
                return 0;
            }
            let q = ms / step;
            let q = if round_up && ms % step != 0 { q + 1 } else { q };
            u64::try_from(q).unwrap_or(0)
        };
        let lo = index(start, true).min(self.next_seq);
        let hi = if end < self.epoch {
            0
        } else {
            (index(end, false) + 1).min(self.next_seq)
        };
        (lo, hi.max(lo))
    }

    /// Up to `count` live rows, oldest first, for which `eligible` holds (scans from the
    /// oldest row and stops as soon as it has them).
    pub(crate) fn oldest_where(&self, count: u64, eligible: impl Fn(u64) -> bool) -> Vec<u64> {
        (0..self.next_seq)
            .filter(|&seq| !self.deleted.contains(&seq) && eligible(seq))
            .take(usize::try_from(count).unwrap_or(usize::MAX))
            .collect()
    }

    /// Every live row, newest first (ground truth for tests; materialises the ids).
    pub fn all_desc(&self) -> Vec<u64> {
        self.page_desc(0, self.next_seq, 0, u64::MAX)
    }

    /// One past the newest sequence number ever created.
    pub fn end(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(n: u64) -> Dataset {
        Dataset::new(
            7,
            n,
            DateTime::from_timestamp(1_000_000, 0).unwrap(),
            Duration::seconds(10),
        )
    }

    #[test]
    fn pages_skip_deleted_rows_both_ways() {
        let mut d = ds(10);
        d.delete(8);
        d.delete(5);
        assert_eq!(d.len(), 8);
        assert_eq!(d.page_desc(0, 10, 0, 3), vec![9, 7, 6]);
        assert_eq!(d.page_desc(0, 10, 3, 3), vec![4, 3, 2]);
        assert_eq!(d.page_asc(0, 10, 0, 6), vec![0, 1, 2, 3, 4, 6]);
        assert_eq!(d.page_asc(0, 10, 6, 6), vec![7, 9]);
        assert!(d.page_desc(0, 10, 8, 3).is_empty());
        let all = d.all_desc();
        for n in 0..8 {
            assert_eq!(d.nth_desc(0, 10, n), Some(all[n as usize]));
        }
    }

    #[test]
    fn inserts_are_the_newest() {
        let mut d = ds(3);
        let new = d.insert_head(2);
        assert_eq!(new, 3..5);
        assert_eq!(d.page_desc(0, d.end(), 0, 2), vec![4, 3]);
        assert!(d.created_at(4) > d.created_at(2));
    }

    #[test]
    fn time_ranges_are_inclusive() {
        let d = ds(10);
        let t = |seq| d.created_at(seq);
        assert_eq!(d.range_between(t(2), t(4)), (2, 5));
        assert_eq!(d.range_between(t(2) + Duration::seconds(1), t(4)), (3, 5));
        assert_eq!(
            d.range_between(t(0) - Duration::days(1), t(9) + Duration::days(1)),
            (0, 10)
        );
        assert_eq!(
            d.range_between(t(0) - Duration::days(2), t(0) - Duration::days(1)),
            (0, 0)
        );
    }

    #[test]
    fn oldest_where_skips_deleted_and_ineligible_rows() {
        let mut d = ds(10);
        d.delete(1);
        assert_eq!(d.oldest_where(3, |seq| seq % 2 == 1), vec![3, 5, 7]);
        assert_eq!(d.oldest_where(3, |_| true), vec![0, 2, 3]);
        assert_eq!(d.oldest_where(20, |seq| seq > 7), vec![8, 9]);
    }

    #[test]
    fn drift_changes_the_list() {
        let mut d = ds(100);
        d.set_drift(Drift {
            inserts_per_request: 2,
            deletes_per_request: 1,
        });
        d.after_request();
        assert_eq!(d.len(), 101);
        assert_eq!(d.end(), 102);
    }
}
