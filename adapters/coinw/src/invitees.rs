//! The invited-user list as an [`InviteeSource`]: windows as slices, pages by number.
//!
//! Planning probes each calendar window (one `pageSize=1` request reading `total`), halves
//! every window holding more than the split cap at its middle second, recursively, and
//! drops empty windows: the core driver cannot split a slice once it runs, so the split
//! happens while planning. [`CoinwClient::probe_windows`] exposes the probed windows for
//! callers who want to see them first; [`CoinwBuilder::without_split`](crate::CoinwBuilder::without_split)
//! plans the calendar windows unprobed.

use affiliate_core::{
    Cursor, InviteeSource, Page, Position, Scope, SourceError, SourceId, Strategy, TransportStats,
    Window,
};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use crate::window::halve;
use crate::{CoinwClient, CoinwError};

/// Windows probed at once by planning (the rate limit applies on top).
const PROBE_CONCURRENCY: usize = 4;

/// A window and the number of rows CoinW reported for it when probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbedWindow {
    /// The inclusive registration-time window.
    pub window: Window,
    /// `total` when probed.
    pub total: u64,
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

    /// Probes one calendar window and splits it while it holds more than the cap; returns
    /// the non-empty pieces newest first, and the number of probes made.
    async fn split(&self, window: Window) -> Result<(Vec<ProbedWindow>, u64), SourceError> {
        let mut out = Vec::new();
        let mut probes = 0;
        let mut stack = vec![window];
        while let Some(window) = stack.pop() {
            let total = self.list_page(&window, 1, 1).await?.total;
            probes += 1;
            if self.shared.split_cap.is_some_and(|cap| total > cap) {
                if let Some((older, newer)) = halve(window) {
                    stack.push(older);
                    stack.push(newer);
                    continue;
                }
            }
            if total > 0 {
                out.push(ProbedWindow { window, total });
            }
        }
        Ok((out, probes))
    }

    /// Probes the scope's calendar windows and splits every window holding more than the
    /// split cap in two, recursively (a single second is never split). Empty windows are
    /// dropped. Returns the windows newest first and the number of probe requests.
    pub async fn probe_windows(
        &self,
        scope: &Scope,
    ) -> Result<(Vec<ProbedWindow>, u64), SourceError> {
        let calendar = self.calendar_windows(scope)?;
        let pieces: Vec<(Vec<ProbedWindow>, u64)> = futures::stream::iter(calendar)
            .map(|window| self.split(window))
            .buffered(PROBE_CONCURRENCY)
            .try_collect()
            .await?;
        let probes = pieces.iter().map(|(_, n)| n).sum();
        Ok((pieces.into_iter().flat_map(|(w, _)| w).collect(), probes))
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

    fn id(&self) -> &SourceId {
        &self.shared.id
    }

    fn strategy(&self) -> Strategy {
        Strategy::Counted {
            growing_tail: false,
        }
    }

    /// One slice per non-empty window, newest first (per calendar window, unprobed, after
    /// [`CoinwBuilder::without_split`](crate::CoinwBuilder::without_split)): the scope's calendar windows
    /// (`until` frozen now: the scope's, the configured one, or the clock's now), probed
    /// and split at the cap ([`CoinwClient::probe_windows`], one request per window).
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
