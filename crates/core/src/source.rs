//! The contract one adapter implements: describe the slices of a listing, fetch one page.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use futures::stream::BoxStream;

use crate::driver::{self, DriverOptions};
use crate::{Cursor, Invitee, SourceError, SourceId};

/// What a listing should cover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Scope {
    /// Only records whose activity is at or after this instant (incremental runs). Sources
    /// that can filter (windowed ones) plan fewer slices; newest-first lists stop early.
    pub since: Option<DateTime<Utc>>,
    /// Upper bound for windowed sources, frozen when the run starts. `None` means "now".
    pub until: Option<DateTime<Utc>>,
}

impl Scope {
    /// Everything the source has.
    pub fn full() -> Self {
        Self::default()
    }

    /// Only what changed at or after `since`.
    pub fn since(since: DateTime<Utc>) -> Self {
        Self {
            since: Some(since),
            until: None,
        }
    }

    /// Sets the frozen upper bound.
    pub fn until(mut self, until: DateTime<Utc>) -> Self {
        self.until = Some(until);
        self
    }
}

/// One page as the provider returned it, already normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The records, in the provider's order.
    pub invitees: Vec<Invitee>,
    /// The provider's own pointer to the next page; `None` when it says this is the last.
    pub next: Option<Cursor>,
    /// The number of rows in the slice, when the provider reports one.
    pub total: Option<u64>,
}

/// How the page driver should walk a source's slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// Offset pages over a newest-first list that reports no total (Triport): pages overlap
    /// by one row to detect shifts, later pages are prefetched speculatively, and the
    /// listing ends by re-reading the head for sign-ups that arrived meanwhile.
    NewestFirstOffset,
    /// The first page reports the slice's total; the remaining pages are fetched
    /// concurrently. With `growing_tail` (oldest-first lists) the driver re-reads the last
    /// page at the end and follows `next` until the list ends again, or, when the source
    /// [lists newest first](InviteeSource::lists_newest_first) on demand, pins the pass by
    /// its newest page instead.
    Counted {
        /// New records appear at the end of the list.
        growing_tail: bool,
    },
    /// Numbered pages over a newest-first list (Census in `order=desc`): pages are read one
    /// after the other until a page holds records older than the scope, a short page or the
    /// last; a total that drops between pages (deletions pulled rows up) steps back the
    /// pages it covers; the listing ends by re-reading the head for records that arrived.
    NewestFirstPages,
}

/// Requests a source has sent so far, for run reports. Counters only grow.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct TransportStats {
    /// HTTP attempts sent (first tries and retries).
    pub attempts: u64,
    /// Attempts that were retries of an earlier one.
    pub retries: u64,
    /// Answers that said "too fast" (429, 503, a provider's throttling body).
    pub throttled: u64,
    /// The rate requests are paced at now, per second (`None`: unlimited or unknown).
    pub rate_per_second: Option<f64>,
    /// The waits the transport chose before its retries, added up (a `Retry-After`, or
    /// its back-off).
    pub retry_wait: Duration,
}

impl TransportStats {
    /// Counters with these values (nothing throttled, rate unknown).
    pub fn new(attempts: u64, retries: u64) -> Self {
        Self {
            attempts,
            retries,
            ..Self::default()
        }
    }

    /// The same counters with the waits chosen before retries, added up.
    pub fn with_retry_wait(mut self, retry_wait: Duration) -> Self {
        self.retry_wait = retry_wait;
        self
    }

    /// The same counters with the throttling answers seen and the current rate.
    pub fn with_throttling(mut self, throttled: u64, rate_per_second: Option<f64>) -> Self {
        self.throttled = throttled;
        self.rate_per_second = rate_per_second;
        self
    }

    /// What happened between `earlier` and `self` (the rate is `self`'s).
    pub fn since(&self, earlier: &TransportStats) -> TransportStats {
        TransportStats {
            attempts: self.attempts.saturating_sub(earlier.attempts),
            retries: self.retries.saturating_sub(earlier.retries),
            throttled: self.throttled.saturating_sub(earlier.throttled),
            rate_per_second: self.rate_per_second,
            retry_wait: self.retry_wait.saturating_sub(earlier.retry_wait),
        }
    }
}

/// A paginated source of invitees: one implementation per provider.
///
/// Implementors only describe slices and fetch single pages; the [`driver`](crate::driver)
/// does concurrency, de-duplication, drift detection and stop rules.
#[async_trait]
pub trait InviteeSource: Debug + Send + Sync {
    /// Provider plus account label; stable across runs.
    fn id(&self) -> &SourceId;

    /// How the driver should walk this source.
    fn strategy(&self) -> Strategy;

    /// How the driver should walk a listing of `scope` (default: [`InviteeSource::strategy`]).
    /// Oldest-first sources without a server-side filter list an incremental scope newest
    /// first instead, so it can stop at the watermark.
    fn strategy_for(&self, scope: &Scope) -> Strategy {
        let _ = scope;
        self.strategy()
    }

    /// The first cursor of each independent slice the scope needs, in output order.
    ///
    /// May send requests (CoinW probes each window's size to split oversized ones). Fails
    /// when the scope cannot be served, e.g. `since` after `until` (before any request).
    async fn plan(&self, scope: &Scope) -> Result<Vec<Cursor>, SourceError>;

    /// Fetches and normalises one page.
    async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError>;

    /// Requests and retries sent so far (zeros for sources without a transport).
    fn transport_stats(&self) -> TransportStats {
        TransportStats::default()
    }

    /// True when records that arrive while a listing runs land in the plan's **first**
    /// slice (a windowed source listing its newest window first, with a frozen upper
    /// bound): the listing then ends by reading that slice again, emitting only records it
    /// has not emitted yet. Default false.
    fn rereads_first_slice(&self) -> bool {
        false
    }

    /// True when a [counted](Strategy::Counted) slice's first round should ask for the
    /// pages after its first one too (up to the driver's concurrency), before the first
    /// page tells the total: a slice of P pages then takes ceil(P/C) rounds of requests
    /// instead of one more. Worth it for a source that lists one large slice (a list
    /// shorter than the round costs up to C - 1 requests answered empty, which the driver
    /// drops); not for one that plans many small slices. Default false.
    fn prefetches_before_total(&self) -> bool {
        false
    }

    /// True when `fetch` reads a cursor marked [`newest_first`](Cursor::newest_first) newest
    /// first, although the source lists oldest first (Census's `order=desc`). A
    /// [counted](Strategy::Counted) pass over a growing tail then pins the list as it starts
    /// (the newest page, asked for with the first round: its total and newest row) and
    /// reads the newest page again, with the first round's pages, when it ends. Rows newer
    /// than the pinned one arrived meanwhile; a total that did not grow by as many shows
    /// deletions the arrivals hid, after which rows may have slid onto pages already read,
    /// so the slice is read again. Page numbers cannot overlap to show that, as offsets do.
    /// Default false.
    fn lists_newest_first(&self) -> bool {
        false
    }

    /// True when records that arrive while a listing runs may land in `slice` (default
    /// true). A [counted](Strategy::Counted) slice of a newest-first list (no growing tail)
    /// takes arrivals at its head: rows below shift down, and a deletion can hide behind
    /// each under an unchanged total. Read one page at a time that loses nothing, but pages
    /// read at once may be served out of order, so such a pass reads its first row again
    /// when it closes and reads the slice again when that row or the total moved. A slice
    /// no arrival can reach (a window closed in the past) skips that request.
    fn arrivals_land_in(&self, slice: &Cursor) -> bool {
        let _ = slice;
        true
    }

    /// Every invitee the scope covers, each once, through the page [`driver`] with default
    /// [`DriverOptions`] (use [`driver::invitees`] to change them). Adapter clients are
    /// cheap to clone (their state is shared), so the source stays usable afterwards.
    fn invitees(&self, scope: Scope) -> BoxStream<'static, Result<Invitee, SourceError>>
    where
        Self: Clone + Sized + 'static,
    {
        driver::invitees(self.clone(), scope, DriverOptions::default())
    }
}

#[async_trait]
impl<T: InviteeSource + ?Sized> InviteeSource for Arc<T> {
    fn transport_stats(&self) -> TransportStats {
        (**self).transport_stats()
    }
    fn strategy_for(&self, scope: &Scope) -> Strategy {
        (**self).strategy_for(scope)
    }
    fn rereads_first_slice(&self) -> bool {
        (**self).rereads_first_slice()
    }
    fn prefetches_before_total(&self) -> bool {
        (**self).prefetches_before_total()
    }
    fn lists_newest_first(&self) -> bool {
        (**self).lists_newest_first()
    }
    fn arrivals_land_in(&self, slice: &Cursor) -> bool {
        (**self).arrivals_land_in(slice)
    }
    fn id(&self) -> &SourceId {
        (**self).id()
    }
    fn strategy(&self) -> Strategy {
        (**self).strategy()
    }
    async fn plan(&self, scope: &Scope) -> Result<Vec<Cursor>, SourceError> {
        (**self).plan(scope).await
    }
    async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        (**self).fetch(cursor).await
    }
}

#[async_trait]
impl<T: InviteeSource + ?Sized> InviteeSource for Box<T> {
    fn transport_stats(&self) -> TransportStats {
        (**self).transport_stats()
    }
    fn strategy_for(&self, scope: &Scope) -> Strategy {
        (**self).strategy_for(scope)
    }
    fn rereads_first_slice(&self) -> bool {
        (**self).rereads_first_slice()
    }
    fn prefetches_before_total(&self) -> bool {
        (**self).prefetches_before_total()
    }
    fn lists_newest_first(&self) -> bool {
        (**self).lists_newest_first()
    }
    fn arrivals_land_in(&self, slice: &Cursor) -> bool {
        (**self).arrivals_land_in(slice)
    }
    fn id(&self) -> &SourceId {
        (**self).id()
    }
    fn strategy(&self) -> Strategy {
        (**self).strategy()
    }
    async fn plan(&self, scope: &Scope) -> Result<Vec<Cursor>, SourceError> {
        (**self).plan(scope).await
    }
    async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        (**self).fetch(cursor).await
    }
}

/// Compile-time check that the trait stays object safe.
#[allow(dead_code)]
fn _object_safe(_: &dyn InviteeSource, _: Box<dyn InviteeSource>, _: Arc<dyn InviteeSource>) {}
