//! The invited-user list as an [`InviteeSource`]: windows as slices, pages by number.
//!
//! Two ways to plan a listing:
//!
//! * [`InviteeSource::plan`] on [`CoinwClient`]: calendar windows only (no request). Every
//!   window is read whole, however many rows it holds.
//! * [`CoinwClient::prepare`]: the calendar windows are **probed** (one `pageSize=1` request
//!   each, reading `total`), every window holding more than the split cap is halved at its
//!   middle second and probed again, recursively, and empty windows are dropped. The result
//!   is a [`CoinwListing`], itself an [`InviteeSource`] whose `plan` returns the split
//!   windows. This is the recommended path for large accounts: it bounds how deep any
//!   window is paged and how much a drifting window costs to re-read. (The core driver has
//!   no way to split a slice once it is running, so the split happens before the listing.)

use std::sync::Arc;

use affiliate_core::{
    Cursor, InviteeSource, Page, Position, Scope, SourceError, SourceId, Strategy, Total,
    TransportStats, Window,
};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use crate::window::halve;
use crate::{CoinwClient, CoinwError};

/// Windows probed at once by [`CoinwClient::prepare`] (the rate limit applies on top).
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
                size: self.page_size,
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
            if self.split_cap.is_some_and(|cap| total > cap) {
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

    /// Freezes the scope's bounds now, probes and splits its windows
    /// ([`CoinwClient::probe_windows`]), and returns the listing to hand to the driver.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use futures::TryStreamExt;
    /// use affiliate_core::{driver, Scope};
    /// use affiliate_coinw::CoinwBuilder;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// // COINW_API_KEY, COINW_SECRET_KEY (and COINW_BASE_URL) from the environment.
    /// let coinw = CoinwBuilder::from_env().with_utc_offset("+08:00").build()?;
    /// let scope = Scope::full();
    /// let listing = Arc::new(coinw.prepare(&scope).await?);
    /// println!("{} windows after {} probes", listing.windows().len(), listing.probes());
    /// let invitees: Vec<_> = driver::invitees(listing, scope, Default::default())
    ///     .try_collect()
    ///     .await?;
    /// println!("{} invitees", invitees.len());
    /// # Ok(()) }
    /// ```
    pub async fn prepare(&self, scope: &Scope) -> Result<CoinwListing, SourceError> {
        let (since, until) = self.bounds(scope).map_err(|e| self.fail(e, "plan", 0))?;
        let frozen = Scope::since(since).until(until);
        let (windows, probes) = self.probe_windows(&frozen).await?;
        Ok(CoinwListing {
            client: Arc::new(self.clone()),
            scope: scope.clone(),
            windows,
            probes,
        })
    }
}

#[async_trait]
impl InviteeSource for CoinwClient {
    fn transport_stats(&self) -> TransportStats {
        let (attempts, retries) = self.http.counters();
        TransportStats::new(attempts, retries)
    }

    fn id(&self) -> &SourceId {
        &self.id
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
        if self.split_cap.is_none() {
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
            total: Some(Total::Items(page.total)),
        })
    }
}

/// A CoinW listing whose windows were probed and split at the cap by
/// [`CoinwClient::prepare`]. Its `plan` returns those windows (for the scope it was
/// prepared with); `fetch` is the client's.
#[derive(Debug, Clone)]
pub struct CoinwListing {
    client: Arc<CoinwClient>,
    scope: Scope,
    windows: Vec<ProbedWindow>,
    probes: u64,
}

impl CoinwListing {
    /// The windows to read, newest first, with their probed totals.
    pub fn windows(&self) -> &[ProbedWindow] {
        &self.windows
    }

    /// Requests spent probing.
    pub fn probes(&self) -> u64 {
        self.probes
    }

    /// Rows the probes counted in all.
    pub fn expected_total(&self) -> u64 {
        self.windows.iter().map(|w| w.total).sum()
    }

    /// The client.
    pub fn client(&self) -> &CoinwClient {
        &self.client
    }
}

#[async_trait]
impl InviteeSource for CoinwListing {
    fn transport_stats(&self) -> TransportStats {
        self.client.transport_stats()
    }

    fn id(&self) -> &SourceId {
        self.client.id()
    }

    fn strategy(&self) -> Strategy {
        self.client.strategy()
    }

    /// The prepared windows; refuses a scope other than the one it was prepared with.
    async fn plan(&self, scope: &Scope) -> Result<Vec<Cursor>, SourceError> {
        if *scope != self.scope {
            return Err(self.client.fail(
                CoinwError::Config(format!(
                    "this listing was prepared for {:?}, not {scope:?}; prepare a new one",
                    self.scope
                )),
                "plan",
                0,
            ));
        }
        Ok(self
            .windows
            .iter()
            .map(|w| self.client.first_page(w.window))
            .collect())
    }

    async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        self.client.fetch(cursor).await
    }
}
