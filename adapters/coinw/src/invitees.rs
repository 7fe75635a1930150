//! The invited-user list as an [`InviteeSource`]: windows as slices, pages by number.
//!
//! Planning probes `total` (one `pageSize=1` request) top-down: first the whole range, then
//! runs of it cut along calendar-window edges (as many as should hold half the cap each),
//! until a run of neighbouring windows holds no more than the split cap (the run is then
//! one slice, read page by page) or nothing (it is dropped). A single window over the cap is halved at its middle second, recursively: the
//! core driver cannot split a slice once it runs, so the split happens while planning.
//!
//! The newest calendar window is always a slice of its own, even when it is empty: it is
//! where sign-ups arriving during the run land, and the listing reads it again at the end.
//! CoinW lists newest first, so sign-ups land at a window's head; a pass over a window that
//! reaches CoinW's now reads its first row again when it closes (the driver's head check,
//! [`InviteeSource::arrivals_land_in`]), so a deletion hidden by a sign-up is caught even
//! when pages are served out of order.
//!
//! Reading a run of windows as one slice is what makes a sparse history cheap: 100,000 rows
//! over 276 months were 276 pages of about 360 rows (and, probed one by one, 276 probes);
//! as 20 runs they are 115 pages after 22 probes. At CoinW's conservative 80
//! requests/s that was the longest source of a default sync. Every slice still lies on the
//! calendar grid (its edges are window edges, or the midpoints of halved windows) and
//! never holds more rows than the cap. [`CoinwClient::probe_windows`] exposes the planned
//! windows for callers who want to see them first;
//! [`CoinwBuilder::without_split`](crate::CoinwBuilder::without_split) plans the calendar
//! windows unprobed, one slice each.

use std::ops::Range;

use affiliate_core::{
    Cursor, InviteeSource, Page, Position, Scope, SourceError, SourceId, Strategy, TransportStats,
    Window,
};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use crate::skew::MAX_CORRECTION_MS;
use crate::window::halve;
use crate::{CoinwClient, CoinwError};

/// Ranges probed at once by planning (the rate limit applies on top).
const PROBE_CONCURRENCY: usize = 4;

/// A window of the plan and its size when probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbedWindow {
    /// The inclusive registration-time window: a run of neighbouring calendar windows, one
    /// calendar window, or a piece of one.
    pub window: Window,
    /// `total` when probed.
    pub total: u64,
}

/// One range planning still has to probe.
#[derive(Debug, Clone)]
enum Pending {
    /// A run of neighbouring calendar windows (indices into the newest-first list).
    Calendar(Range<usize>),
    /// A piece of one calendar window that held more than the cap.
    Piece(Window),
}

/// What planning knows once every range is probed.
#[derive(Debug, Default)]
struct Probed {
    windows: Vec<ProbedWindow>,
    probes: u64,
}

impl Probed {
    /// Takes one probe's answer: keeps (a range within the cap is one slice), drops (an
    /// empty one) or splits the range, returning what is left to probe.
    fn settle(
        &mut self,
        calendar: &[Window],
        pending: Pending,
        total: u64,
        cap: u64,
    ) -> Vec<Pending> {
        let span = span(calendar, &pending);
        // The newest window stays in the plan even when empty: the listing reads the first
        // slice again at the end for sign-ups that arrived meanwhile, and it must be that one.
        let newest = matches!(&pending, Pending::Calendar(run) if run.start == 0);
        match pending {
            _ if total == 0 && !newest => Vec::new(),
            _ if total <= cap => {
                self.windows.push(ProbedWindow {
                    window: span,
                    total,
                });
                Vec::new()
            }
            Pending::Calendar(run) if run.len() > 1 => parts(run, total, cap)
                .into_iter()
                .map(Pending::Calendar)
                .collect(),
            // One window or piece over the cap: halved while longer than two seconds.
            _ => match halve(span) {
                Some((older, newer)) => vec![Pending::Piece(newer), Pending::Piece(older)],
                None => {
                    self.windows.push(ProbedWindow {
                        window: span,
                        total,
                    });
                    Vec::new()
                }
            },
        }
    }

    /// The windows newest first (neighbours share at most their edge second).
    fn newest_first(mut self) -> (Vec<ProbedWindow>, u64) {
        self.windows
            .sort_by_key(|probed| std::cmp::Reverse((probed.window.end, probed.window.start)));
        (self.windows, self.probes)
    }
}

/// A run over the cap cut into runs of equal length, as many as should each hold about half
/// the cap if rows were spread evenly (at least two, at most one per window): one probe
/// level for a history that is even, a further cut only where it is not.
fn parts(run: Range<usize>, total: u64, cap: u64) -> Vec<Range<usize>> {
    let len = run.len() as u64;
    let count = total.saturating_mul(2).div_ceil(cap.max(1)).clamp(2, len);
    // In u64: k * len passes u32 for long runs (up to MAX_WINDOWS windows).
    let edge = |k: u64| run.start + usize::try_from(k * len / count).unwrap_or(run.len());
    (0..count).map(|k| edge(k)..edge(k + 1)).collect()
}

/// The registration-time range a pending probe covers.
fn span(calendar: &[Window], pending: &Pending) -> Window {
    match pending {
        Pending::Calendar(run) => Window {
            start: calendar[run.end - 1].start,
            end: calendar[run.start].end,
        },
        Pending::Piece(window) => *window,
    }
}

impl CoinwClient {
    fn first_page(&self, window: Window) -> Cursor {
        Cursor::in_window(
            window,
            Position::Page {
                number: 1,
                size: self.shared.page_size,
            },
        )
    }

    /// The plan's windows, newest first, and the number of probe requests: the scope's
    /// calendar windows, probed top-down as the crate docs describe (Split cap), runs of
    /// them within the split cap merged into one window each. The newest window stands
    /// alone and is kept even when empty; other empty runs are dropped; a window over the
    /// split cap is halved (a single second never is).
    ///
    /// A sparse history costs a few probes for the whole range instead of one per window;
    /// a dense one (windows near the cap) about one per window, as probing each would.
    pub async fn probe_windows(
        &self,
        scope: &Scope,
    ) -> Result<(Vec<ProbedWindow>, u64), SourceError> {
        let calendar = self.calendar_windows(scope)?;
        let cap = self.shared.split_cap.unwrap_or(u64::MAX);
        let mut probed = Probed::default();
        // The newest window is never merged: sign-ups arriving during the run land there,
        // and the listing reads that slice again at the end, which must stay one window.
        let mut pending: Vec<Pending> = [0..calendar.len().min(1), 1..calendar.len()]
            .into_iter()
            .filter(|run| !run.is_empty())
            .map(Pending::Calendar)
            .collect();
        while !pending.is_empty() {
            let spans: Vec<Window> = pending.iter().map(|p| span(&calendar, p)).collect();
            let totals: Vec<u64> = futures::stream::iter(spans)
                .map(|window| self.probe(window))
                .buffered(PROBE_CONCURRENCY)
                .try_collect()
                .await?;
            probed.probes += totals.len() as u64;
            pending = pending
                .into_iter()
                .zip(totals)
                .flat_map(|(range, total)| probed.settle(&calendar, range, total, cap))
                .collect();
        }
        Ok(probed.newest_first())
    }

    /// `total` of one registration-time range.
    async fn probe(&self, window: Window) -> Result<u64, SourceError> {
        Ok(self.list_page(&window, 1, 1).await?.total)
    }
}

#[async_trait]
impl InviteeSource for CoinwClient {
    fn transport_stats(&self) -> TransportStats {
        self.shared.http.transport_stats()
    }

    /// The plan is newest window first and its upper bound is frozen: registrations that
    /// arrive while the listing runs (up to that bound) land in the newest window, which the
    /// listing therefore reads again at the end.
    fn rereads_first_slice(&self) -> bool {
        true
    }

    /// Sign-ups carry CoinW's time as they arrive, so they land only in a window that
    /// reaches CoinW's now (the local clock corrected by the measured skew), give or take
    /// the largest skew left uncorrected: older windows are closed, and their passes skip
    /// [the driver's head check](affiliate_core::InviteeSource::arrivals_land_in).
    fn arrivals_land_in(&self, slice: &Cursor) -> bool {
        let now = self.shared.clock.0.now_millis() + self.shared.skew.get();
        slice
            .window
            .is_none_or(|window| window.end.timestamp_millis() + MAX_CORRECTION_MS >= now)
    }

    fn id(&self) -> &SourceId {
        &self.shared.id
    }

    fn strategy(&self) -> Strategy {
        Strategy::Counted {
            growing_tail: false,
        }
    }

    /// One slice per planned window, newest first (per calendar window, unprobed, after
    /// [`CoinwBuilder::without_split`](crate::CoinwBuilder::without_split)): the scope's calendar windows
    /// (`until` frozen now: the scope's, the configured one, or the clock's now), probed
    /// top-down, runs within the split cap merged, windows over it split
    /// ([`CoinwClient::probe_windows`]).
    async fn plan(&self, scope: &Scope) -> Result<Vec<Cursor>, SourceError> {
        if self.shared.split_cap.is_none() {
            let windows = self.calendar_windows(scope)?;
            return Ok(windows.into_iter().map(|w| self.first_page(w)).collect());
        }
        let (windows, _) = self.probe_windows(scope).await?;
        Ok(windows
            .into_iter()
            .map(|probed| self.first_page(probed.window))
            .collect())
    }

    async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        let Some(window) = cursor.window else {
            return Err(self.fail(
                CoinwError::Config("CoinW cursors carry a registration-time window".into()),
                "fetch",
                0,
            ));
        };
        let Position::Page { number, size } = cursor.position else {
            return Err(self.fail(
                CoinwError::Config(format!("CoinW pages by number, got {:?}", cursor.position)),
                "fetch",
                0,
            ));
        };
        if number == 0 || !(1..=crate::MAX_PAGE_SIZE).contains(&size) {
            return Err(self.fail(
                CoinwError::Config(format!(
                    "page {number} of size {size}: pages start at 1 and hold 1..={} rows",
                    crate::MAX_PAGE_SIZE
                )),
                "fetch",
                0,
            ));
        }
        let page = self.list_page(&window, number, size).await?;
        let next = (number.saturating_mul(u64::from(size)) < page.total).then(|| {
            cursor.with_position(Position::Page {
                number: number + 1,
                size,
            })
        });
        Ok(Page {
            invitees: page.invitees,
            next,
            total: Some(page.total),
        })
    }
}
