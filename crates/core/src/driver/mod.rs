//! The page driver: turns any [`InviteeSource`] into a stream of de-duplicated pages or
//! invitees, with bounded memory and bounded concurrency.
//!
//! * **Counted** sources (the first page reports a total) have their remaining pages fetched
//!   concurrently (at most [`DriverOptions::concurrency`] requests running, refilled as soon
//!   as any answer is in), output in order. A later page reporting a larger total extends the plan.
//!   Any change of total means drift (deletions slide later rows onto pages already read;
//!   a total that grew can hide them), so the slice is re-read (only unseen rows are
//!   emitted) until a re-read finds no new row inside the slice's first extent (rows that
//!   arrived at the end of an oldest-first list lie past it), twice in a row if it shrank
//!   while it ran, up to [`DriverOptions::drift_rescans`] times; a slice still shrinking
//!   then fails with [`PaginationError::KeepsShrinking`]. Offset pages overlap by one row
//!   ([`Position::following_with_overlap`]), so a page that does not start with the row the
//!   page before it ended with is drift too, even under an unchanged total.
//!   Oldest-first lists end by re-reading their last page and following `next`, or are
//!   pinned by their newest page ([`InviteeSource::lists_newest_first`]); a newest-first
//!   pass that ran pages at once reads its first row again when it closes
//!   ([`InviteeSource::arrivals_land_in`]).
//! * **Newest-first offset** sources (no total) are prefetched speculatively; pages overlap
//!   by one row, so a page whose first row was never seen reveals a shift caused by deletions
//!   and is re-read one step back; the listing ends by re-reading the head until it meets a
//!   record it has already emitted.
//!
//! Every record is emitted at most once per listing ([`SeenSet`]); a loop guard (a cursor
//! fetched twice, a `next` that does not advance, a page ceiling) ends the listing with an
//! error instead of looping.
//!
//! ```
//! use async_trait::async_trait;
//! use futures::TryStreamExt;
//! use affiliate_core::driver::{invitees, DriverOptions};
//! use affiliate_core::*;
//!
//! /// Ten rows served three at a time, with a total.
//! #[derive(Debug, Clone)]
//! struct Ten(SourceId);
//!
//! #[async_trait]
//! impl InviteeSource for Ten {
//!     fn id(&self) -> &SourceId { &self.0 }
//!     fn strategy(&self) -> Strategy { Strategy::Counted { growing_tail: false } }
//!     async fn plan(&self, _: &Scope) -> Result<Vec<Cursor>, SourceError> {
//!         Ok(vec![Cursor::at(Position::Offset { offset: 0, limit: 3 })])
//!     }
//!     async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
//!         let start = cursor.position.first_row();
//!         let invitees = (start..(start + 3).min(10))
//!             .map(|i| Invitee::new(self.0.clone(), i.to_string(), InviteeStatus::Joined))
//!             .collect();
//!         Ok(Page { invitees, next: None, total: Some(10) })
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let source = Ten(SourceId::new(Provider::Other("demo".into()), "a"));
//! // With default options:
//! let all: Vec<Invitee> = source.invitees(Scope::full()).try_collect().await?;
//! assert_eq!(all.len(), 10);
//! // With one page in flight at a time:
//! let options = DriverOptions::new().with_concurrency(1);
//! let all: Vec<Invitee> = invitees(source, Scope::full(), options).try_collect().await?;
//! assert_eq!(all.len(), 10);
//! # Ok::<(), SourceError>(())
//! # }).unwrap();
//! ```

mod counted;
mod deadline;
mod error;
mod fingerprints;
mod head;
mod newest_first;
mod newest_pages;
mod pin;
mod seen;
mod short_pages;
mod slots;
mod task;

use std::future::{ready, Future};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};
use futures::{FutureExt, SinkExt, StreamExt};

pub use error::PaginationError;
pub use fingerprints::FingerprintSet;
pub use seen::SeenSet;

use crate::{Cursor, Invitee, InviteeSource, Page, Position, Scope, SourceError, Strategy};

/// Knobs of the driver. Plain data with documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverOptions {
    /// Pages of one slice in flight at once (default 4). The transport's rate limit still
    /// applies on top.
    pub concurrency: usize,
    /// Ceiling on pages per listing; past it the listing fails (default 1,000,000).
    pub max_pages: u64,
    /// How often a newest-first listing may step back after a shift (default 1,000).
    pub max_backtracks: u32,
    /// How often a counted slice whose total changed is re-read (default 6). Each re-read
    /// emits only rows not seen yet, so rows that slid onto pages already read (deletions
    /// while paging) are found by a later read; with two re-reads, CoinW's drift test (two
    /// deletions per request) still lost rows on some days' window layouts. Re-reading
    /// stops once a re-read finds no new row inside the slice's first extent (twice in a
    /// row if it shrank while it ran); a slice still shrinking after the last re-read fails
    /// ([`PaginationError::KeepsShrinking`]).
    pub drift_rescans: u32,
    /// How long the whole listing may take (default none): past it the stream ends with
    /// [`PaginationError::Deadline`], however slowly the server answers. Each request
    /// also has the transport's own timeout. (The sync engine sets its own per source.)
    pub deadline: Option<Duration>,
}

impl Default for DriverOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            max_pages: 1_000_000,
            max_backtracks: 1_000,
            drift_rescans: 6,
            deadline: None,
        }
    }
}

impl DriverOptions {
    /// The defaults (the same as [`DriverOptions::default`]), to chain setters on.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`DriverOptions::concurrency`] (at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Sets [`DriverOptions::max_pages`].
    pub fn with_max_pages(mut self, max_pages: u64) -> Self {
        self.max_pages = max_pages;
        self
    }

    /// Sets [`DriverOptions::max_backtracks`].
    pub fn with_max_backtracks(mut self, max_backtracks: u32) -> Self {
        self.max_backtracks = max_backtracks;
        self
    }

    /// Sets [`DriverOptions::deadline`].
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets [`DriverOptions::drift_rescans`].
    pub fn with_drift_rescans(mut self, drift_rescans: u32) -> Self {
        self.drift_rescans = drift_rescans;
        self
    }
}

/// One page as the driver emits it: only records not emitted before in this listing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DrivenPage {
    /// The first cursor of the slice this page belongs to (identifies the slice).
    pub slice: Cursor,
    /// The cursor that was fetched.
    pub fetched: Cursor,
    /// Records new to this listing, in provider order.
    pub invitees: Vec<Invitee>,
    /// Rows of the page that were dropped as already emitted.
    pub duplicates: usize,
    /// Where to restart this slice after this page is committed; `None` once the slice
    /// needs no more requests.
    pub resume: Option<Cursor>,
}

/// A stream of driven pages.
pub type PageStream = BoxStream<'static, Result<DrivenPage, SourceError>>;

/// Every slice the scope needs, one after the other, sharing one [`SeenSet`]; a source
/// that [re-reads its first slice](InviteeSource::rereads_first_slice) ends with it again.
pub fn pages(source: Arc<dyn InviteeSource>, scope: Scope, options: DriverOptions) -> PageStream {
    match options.deadline {
        Some(length) => {
            let provider = source.id().provider.clone();
            deadline::bounded(unbounded(source, scope, options), length, provider)
        }
        None => unbounded(source, scope, options),
    }
}

/// [`pages`] without the deadline.
fn unbounded(source: Arc<dyn InviteeSource>, scope: Scope, options: DriverOptions) -> PageStream {
    let planned = {
        let (source, scope) = (source.clone(), scope.clone());
        async move { source.plan(&scope).await }
    };
    let seen = SeenSet::new();
    stream::once(planned)
        .flat_map(move |plan| match plan {
            Ok(mut slices) => {
                let (source, scope, seen, options) =
                    (source.clone(), scope.clone(), seen.clone(), options.clone());
                if source.rereads_first_slice() {
                    if let Some(first) = slices.first().cloned() {
                        slices.push(first);
                    }
                }
                stream::iter(slices)
                    .map(move |start| {
                        slice_pages(
                            source.clone(),
                            start,
                            scope.clone(),
                            seen.clone(),
                            options.clone(),
                        )
                    })
                    .flatten()
                    .left_stream()
            }
            Err(err) => stream::once(ready(Err(err))).right_stream(),
        })
        .boxed()
}

/// Every invitee the scope covers, each once. [`InviteeSource::invitees`] is the same with
/// default options.
pub fn invitees(
    source: impl InviteeSource + 'static,
    scope: Scope,
    options: DriverOptions,
) -> BoxStream<'static, Result<Invitee, SourceError>> {
    pages(Arc::new(source), scope, options)
        .flat_map(|page| match page {
            Ok(page) => stream::iter(page.invitees.into_iter().map(Ok)).left_stream(),
            Err(err) => stream::once(ready(Err(err))).right_stream(),
        })
        .boxed()
}

/// One slice, starting at `start` (the slice's first cursor or a resume cursor).
pub fn slice_pages(
    source: Arc<dyn InviteeSource>,
    start: Cursor,
    scope: Scope,
    seen: SeenSet,
    options: DriverOptions,
) -> PageStream {
    generate(move |out| async move {
        let mut walk = Walk {
            source,
            slice: start.clone(),
            scope,
            seen,
            options,
            out,
            fetched: 0,
            emitted_inside: 0,
            extent: u64::MAX,
            previous: None,
        };
        let result = match walk.source.strategy_for(&walk.scope) {
            Strategy::NewestFirstOffset => walk.newest_first(start).await,
            Strategy::NewestFirstPages => walk.newest_first_pages(start).await,
            Strategy::Counted { growing_tail } => walk.counted(start, growing_tail).await,
        };
        if let Err(Halt::Failed(err)) = result {
            walk.out.send(Err(err)).await.ok();
        }
    })
}

/// Why a walk stopped early.
enum Halt {
    /// The consumer dropped the stream: stop issuing requests.
    Dropped,
    /// The listing failed; the error is sent before the stream ends.
    Failed(SourceError),
}

impl From<SourceError> for Halt {
    fn from(err: SourceError) -> Self {
        Halt::Failed(err)
    }
}

type Fetched = (Cursor, Result<Page, SourceError>);

/// The state one slice walk shares between the strategies.
struct Walk {
    source: Arc<dyn InviteeSource>,
    slice: Cursor,
    scope: Scope,
    seen: SeenSet,
    options: DriverOptions,
    out: mpsc::Sender<Result<DrivenPage, SourceError>>,
    fetched: u64,
    /// Rows emitted so far (new to the listing) from positions below `extent`.
    emitted_inside: u64,
    /// The slice's rows when its first page was read (`u64::MAX` before, or without a
    /// total): rows that arrive at the end of an oldest-first list lie past it.
    extent: u64,
    /// The position and row fingerprint of the last non-empty page emitted.
    previous: Option<(Position, u64)>,
}

impl Walk {
    /// A fetch that owns what it needs, to sit in a `FuturesOrdered`.
    fn request(&self, cursor: Cursor) -> BoxFuture<'static, Fetched> {
        let source = self.source.clone();
        async move {
            let result = source.fetch(&cursor).await;
            (cursor, result)
        }
        .boxed()
    }

    /// The same fetch as its own task ([`task::fetch_task`]), for the counted walk: its
    /// pages are known ahead, so each is decoded on any worker as soon as it arrives
    /// (Census's latency ratio at C = 4 / 8: 1.17-1.19 / 1.22 inline, 1.12-1.14 / 1.14-1.19
    /// as tasks). Triport's speculative walk stays inline: as tasks it measured 0.82-0.84 R
    /// against a 400/s server, 0.86 inline.
    fn spawned_request(&self, cursor: Cursor) -> BoxFuture<'static, Fetched> {
        self.spawned_holding(cursor, ())
    }

    /// [`Walk::spawned_request`] keeping `slot` (a counted pass's
    /// [`Slot`](slots::Slot)) until the answer is in.
    fn spawned_holding<S: Send + 'static>(
        &self,
        cursor: Cursor,
        slot: S,
    ) -> BoxFuture<'static, Fetched> {
        let source = self.source.clone();
        let fetch = {
            let cursor = cursor.clone();
            async move {
                let page = source.fetch(&cursor).await;
                drop(slot);
                page
            }
            .boxed()
        };
        let fetched = task::fetch_task(&self.source.id().provider, fetch);
        async move { (cursor, fetched.await) }.boxed()
    }

    /// Counts a fetched page against the ceiling and unwraps it.
    fn accept(&mut self, result: Result<Page, SourceError>) -> Result<Page, Halt> {
        self.fetched += 1;
        if self.fetched > self.options.max_pages {
            return Err(self.pagination(PaginationError::PageCeiling(self.options.max_pages)));
        }
        Ok(result?)
    }

    /// Fails a page holding the same rows, in the same order, as the page emitted before it
    /// from another position: the server ignores the position asked for (it repeats a
    /// page), and walking on would either never end or end with rows never read. A
    /// newest-first page (a [pin](pin)) is not a step of the walk: it may hold what the
    /// walk's last page held, reversed.
    fn check_moves(&mut self, fetched: &Cursor, rows: &[Invitee]) -> Result<(), Halt> {
        if rows.is_empty() || fetched.newest_first {
            return Ok(());
        }
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for row in rows {
            hasher.update(row.id.as_bytes());
            hasher.update(&[0x1f]);
        }
        let print = hasher.digest();
        let repeated = self
            .previous
            .is_some_and(|(position, previous)| previous == print && position != fetched.position);
        if repeated {
            return Err(self.pagination(PaginationError::NoProgress(fetched.clone())));
        }
        self.previous = Some((fetched.position, print));
        Ok(())
    }

    /// Records `id` as emitted; true when it was not before.
    fn first_sight(&self, id: &str) -> Result<bool, Halt> {
        self.seen
            .insert(id)
            .map_err(|err| self.seen_unreadable(err))
    }

    /// Whether `id` was emitted before.
    fn seen_before(&self, id: &str) -> Result<bool, Halt> {
        self.seen
            .contains(id)
            .map_err(|err| self.seen_unreadable(err))
    }

    /// The listing fails when its record of emitted rows cannot be read back: going on
    /// could emit a row twice.
    fn seen_unreadable(&self, err: std::io::Error) -> Halt {
        let cause = format!(
            "the listing's record of emitted rows could not read its temporary file: {err}"
        );
        Halt::Failed(SourceError::new(
            self.source.id().provider.clone(),
            crate::ErrorKind::Other,
            cause,
        ))
    }

    fn pagination(&self, err: PaginationError) -> Halt {
        Halt::Failed(err.into_source_error(&self.source.id().provider))
    }

    /// Emits the page's rows not seen before, keeping provider order.
    async fn emit(
        &mut self,
        fetched: Cursor,
        rows: Vec<Invitee>,
        resume: Option<Cursor>,
    ) -> Result<(), Halt> {
        self.check_moves(&fetched, &rows)?;
        let before = rows.len();
        let first = fetched.position.first_row();
        // A newest-first page's positions count from the other end of the slice.
        let extent = if fetched.newest_first { 0 } else { self.extent };
        let mut invitees = Vec::with_capacity(before);
        for (i, row) in rows.into_iter().enumerate() {
            if self.first_sight(&row.id)? {
                self.emitted_inside += u64::from(first + (i as u64) < extent);
                invitees.push(row);
            }
        }
        let page = DrivenPage {
            slice: self.slice.clone(),
            fetched,
            duplicates: before - invitees.len(),
            invitees,
            resume,
        };
        self.out.send(Ok(page)).await.map_err(|_| Halt::Dropped)
    }
}

/// Runs `producer` as the body of a stream: every item it sends comes out of the stream,
/// and dropping the stream drops the producer (and its in-flight requests).
fn generate<T, F, Fut>(producer: F) -> BoxStream<'static, T>
where
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(0);
    let body = producer(tx).into_stream().filter_map(|()| ready(None));
    stream::select(body, rx).boxed()
}

#[cfg(test)]
mod tests;
