//! Driver behaviour against in-memory lists that change while they are read.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use super::*;
use crate::{InviteeStatus, Page, Position, Provider, SourceId, Strategy};

/// Changes the list after the n-th fetch.
type Mutation = Box<dyn Fn(u64, &mut Vec<String>) + Send + Sync>;

/// A list of ids (newest first for `NewestFirstOffset`), with a hook that mutates it after
/// each fetch.
struct FakeList {
    id: SourceId,
    strategy: Strategy,
    limit: u32,
    rows: Mutex<Vec<String>>,
    fetches: AtomicU64,
    on_fetch: Mutation,
    report_total: bool,
    /// Serve at most this many rows a page, whatever the cursor asks.
    clamp: Option<usize>,
    /// From this many fetches on, answer every cursor with the last page served.
    repeat_after: Option<u64>,
    last: Mutex<Option<Page>>,
    /// Ask for the first round before the total ([`InviteeSource::prefetches_before_total`]).
    prefetch: bool,
    /// Fetches running now (a prefetching list's fetch yields before it answers, so the
    /// others of its round start).
    running: AtomicU64,
    /// From this many fetches on, never answer (a server that stalls).
    stall_from: Option<u64>,
    /// Refuse pages past the end of the list (as a server may).
    refuse_past_end: bool,
    /// Whether the first page's fetch is running.
    first_running: AtomicBool,
    /// The most fetches running at once while the first page's was.
    beside_first: AtomicU64,
    /// Page a counted list by offsets (as Prefactor does), not by page numbers.
    offsets: bool,
    /// Read cursors marked newest first from the other end ([`InviteeSource::lists_newest_first`]).
    pins: bool,
    /// A newest-first read answers only once this many other fetches began.
    pin_after: Option<u64>,
    /// Serve newest-first reads oldest first (a server ignoring the order); rows carry
    /// times (row `rN` invited at second N).
    ignores_order: bool,
    /// The page starting at this row answers only once this many fetches began.
    hold: Option<(u64, u64)>,
    /// Fetches between their start and their answer now, and the most at once.
    live: AtomicU64,
    most_live: AtomicU64,
    /// Changes the list once, right after the first page starting at this row is served.
    after_row: Option<(u64, Mutation)>,
    after_row_done: AtomicBool,
    /// Tell the driver no arrival reaches the slice ([`InviteeSource::arrivals_land_in`]).
    closed: bool,
}

/// Counts a fetch as live until dropped.
struct Live<'a>(&'a AtomicU64);

impl<'a> Live<'a> {
    fn enter(live: &'a AtomicU64, most: &AtomicU64) -> Self {
        let now = live.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        Self(live)
    }
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for FakeList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeList")
    }
}

impl FakeList {
    fn new(strategy: Strategy, limit: u32, n: usize) -> Self {
        Self {
            id: SourceId::new(Provider::Other("fake".into()), "t"),
            strategy,
            limit,
            rows: Mutex::new((0..n).rev().map(|i| format!("r{i}")).collect()),
            fetches: AtomicU64::new(0),
            on_fetch: Box::new(|_, _| {}),
            report_total: true,
            clamp: None,
            repeat_after: None,
            last: Mutex::new(None),
            prefetch: false,
            running: AtomicU64::new(0),
            stall_from: None,
            refuse_past_end: false,
            first_running: AtomicBool::new(false),
            beside_first: AtomicU64::new(0),
            offsets: false,
            pins: false,
            pin_after: None,
            ignores_order: false,
            hold: None,
            live: AtomicU64::new(0),
            most_live: AtomicU64::new(0),
            after_row: None,
            after_row_done: AtomicBool::new(false),
            closed: false,
        }
    }

    fn by_offsets(mut self) -> Self {
        self.offsets = true;
        self
    }

    fn pinning(mut self) -> Self {
        self.pins = true;
        self
    }

    fn prefetching(mut self) -> Self {
        self.prefetch = true;
        self
    }

    fn clamped(mut self, rows: usize) -> Self {
        self.clamp = Some(rows);
        self
    }

    fn repeating_after(mut self, fetches: u64) -> Self {
        self.repeat_after = Some(fetches);
        self
    }

    /// No arrival reaches the slice: a newest-first pass skips the head check, and asks
    /// for one request per page.
    fn closed(mut self) -> Self {
        self.closed = true;
        self
    }

    fn mutate(mut self, f: impl Fn(u64, &mut Vec<String>) + Send + Sync + 'static) -> Self {
        self.on_fetch = Box::new(f);
        self
    }
}

#[async_trait]
impl InviteeSource for FakeList {
    fn id(&self) -> &SourceId {
        &self.id
    }
    fn strategy(&self) -> Strategy {
        self.strategy
    }
    fn prefetches_before_total(&self) -> bool {
        self.prefetch
    }
    fn lists_newest_first(&self) -> bool {
        self.pins
    }
    fn arrivals_land_in(&self, _: &Cursor) -> bool {
        !self.closed
    }
    async fn plan(&self, _: &Scope) -> Result<Vec<Cursor>, SourceError> {
        let position = match self.strategy {
            _ if self.offsets => Position::Offset {
                offset: 0,
                limit: self.limit,
            },
            Strategy::NewestFirstOffset => Position::Offset {
                offset: 0,
                limit: self.limit,
            },
            _ => Position::Page {
                number: 1,
                size: self.limit,
            },
        };
        Ok(vec![Cursor::at(position)])
    }
    async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        if self.prefetch {
            let first = cursor.position.first_row() == 0;
            let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.first_running.fetch_or(first, Ordering::SeqCst);
            if self.first_running.load(Ordering::SeqCst) {
                self.beside_first.fetch_max(running, Ordering::SeqCst);
            }
            // On the test's one thread, every fetch spawned before this one yields starts.
            tokio::task::yield_now().await;
            if first {
                self.first_running.store(false, Ordering::SeqCst);
            }
            self.running.fetch_sub(1, Ordering::SeqCst);
        }
        if let Some(after) = self.pin_after.filter(|_| cursor.newest_first) {
            while self.fetches.load(Ordering::SeqCst) < after {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        let _live = Live::enter(&self.live, &self.most_live);
        let n = self.fetches.fetch_add(1, Ordering::SeqCst);
        if let Some((row, until)) = self.hold {
            while cursor.position.first_row() == row && self.fetches.load(Ordering::SeqCst) < until
            {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        if self.stall_from.is_some_and(|from| n >= from) {
            futures::future::pending::<()>().await;
        }
        if self.repeat_after.is_some_and(|after| n >= after) {
            if let Some(page) = self.last.lock().unwrap().clone() {
                return Ok(page);
            }
        }
        let mut rows = self.rows.lock().unwrap();
        let size = self.clamp.map_or(cursor.position.size() as usize, |c| {
            c.min(cursor.position.size() as usize)
        });
        let start = match cursor.position {
            Position::Page { number, .. } => (number as usize - 1) * size,
            Position::Offset { offset, .. } => offset as usize,
        };
        if self.refuse_past_end && start >= rows.len() && start > 0 {
            let cause = format!("page at row {start} is past the end");
            return Err(SourceError::new(
                self.id.provider.clone(),
                crate::ErrorKind::InvalidRequest,
                cause,
            ));
        }
        let end = (start + size).min(rows.len());
        let listed: Vec<&String> = if cursor.newest_first && !self.ignores_order {
            rows.iter().rev().skip(start).take(size).collect()
        } else {
            rows.get(start..end).unwrap_or_default().iter().collect()
        };
        let invitees = listed
            .into_iter()
            .map(|id| {
                let mut row = Invitee::new(self.id.clone(), id.clone(), InviteeStatus::Joined);
                if self.ignores_order {
                    let second = id.trim_start_matches('r').parse().ok();
                    row.invited_at = second.and_then(|s| chrono::DateTime::from_timestamp(s, 0));
                }
                row
            })
            .collect();
        let total = self.report_total.then(|| rows.len() as u64);
        (self.on_fetch)(n, &mut rows);
        if let Some((row, change)) = &self.after_row {
            if cursor.position.first_row() == *row
                && !self.after_row_done.swap(true, Ordering::SeqCst)
            {
                change(0, &mut rows);
            }
        }
        let page = Page {
            invitees,
            next: None,
            total,
        };
        *self.last.lock().unwrap() = Some(page.clone());
        Ok(page)
    }
}

async fn ids(source: Arc<FakeList>, concurrency: usize) -> Vec<String> {
    let options = DriverOptions::default().with_concurrency(concurrency);
    invitees(source, Scope::full(), options)
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap()
}

fn assert_exactly_once(got: &[String], expected: impl IntoIterator<Item = String>) {
    let mut got_sorted = got.to_vec();
    got_sorted.sort();
    let before = got_sorted.len();
    got_sorted.dedup();
    assert_eq!(before, got_sorted.len(), "duplicates emitted: {got:?}");
    let mut expected: Vec<String> = expected.into_iter().collect();
    expected.sort();
    let missing: Vec<_> = expected
        .iter()
        .filter(|e| !got_sorted.contains(e))
        .collect();
    assert!(missing.is_empty(), "missing {missing:?}");
}

#[tokio::test]
async fn newest_first_sizes_and_exact_multiples() {
    for (n, limit) in [
        (0, 5),
        (1, 5),
        (4, 5),
        (5, 5),
        (9, 5),
        (10, 5),
        (23, 5),
        (7, 1),
        (7, 2),
    ] {
        for concurrency in [1, 3] {
            let list = Arc::new(FakeList::new(Strategy::NewestFirstOffset, limit, n));
            let got = ids(list, concurrency).await;
            assert_eq!(got.len(), n, "n={n} limit={limit} c={concurrency}");
            assert_exactly_once(&got, (0..n).map(|i| format!("r{i}")));
        }
    }
}

#[tokio::test]
async fn newest_first_output_order_is_the_list_order() {
    let list = Arc::new(FakeList::new(Strategy::NewestFirstOffset, 4, 17));
    let got = ids(list, 4).await;
    let expected: Vec<String> = (0..17).rev().map(|i| format!("r{i}")).collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn newest_first_inserts_at_head_are_neither_doubled_nor_lost() {
    // Two sign-ups arrive after every fetch.
    let counter = Arc::new(AtomicU64::new(0));
    let c = counter.clone();
    let list = Arc::new(FakeList::new(Strategy::NewestFirstOffset, 10, 95).mutate(
        move |_, rows| {
            for _ in 0..2 {
                let k = c.fetch_add(1, Ordering::SeqCst);
                rows.insert(0, format!("new{k}"));
            }
        },
    ));
    let got = ids(list.clone(), 1).await;
    assert_exactly_once(&got, (0..95).map(|i| format!("r{i}")));
    // Every new row that was at the head when the head was re-read is included too.
    let news = got.iter().filter(|id| id.starts_with("new")).count();
    assert!(news > 0, "head re-read picked up no sign-ups");
}

#[tokio::test]
async fn newest_first_deletions_are_detected_and_reread() {
    // After fetches 2, 4 and 6 delete the three rows at positions 3, 5, 7 (already read),
    // which slides unread rows up past the next offset.
    let list = Arc::new(
        FakeList::new(Strategy::NewestFirstOffset, 10, 60).mutate(|n, rows| {
            if matches!(n, 2 | 4 | 6) && rows.len() > 8 {
                rows.remove(7);
                rows.remove(5);
                rows.remove(3);
            }
        }),
    );
    let got = ids(list.clone(), 1).await;
    let survivors: Vec<String> = list.rows.lock().unwrap().clone();
    assert_exactly_once(&got, survivors);
}

#[tokio::test]
async fn newest_first_speculative_prefetch_survives_deletions() {
    let list = Arc::new(
        FakeList::new(Strategy::NewestFirstOffset, 10, 80).mutate(|n, rows| {
            if n % 3 == 1 && rows.len() > 30 {
                rows.drain(2..5);
            }
        }),
    );
    let got = ids(list.clone(), 4).await;
    let survivors: Vec<String> = list.rows.lock().unwrap().clone();
    assert_exactly_once(&got, survivors);
}

#[tokio::test]
async fn counted_fetches_all_pages_concurrently_in_order() {
    for (n, size) in [(0, 10), (1, 10), (10, 10), (30, 10), (31, 10)] {
        let list = Arc::new(
            FakeList::new(
                Strategy::Counted {
                    growing_tail: false,
                },
                size,
                n,
            )
            .closed(),
        );
        let got = ids(list.clone(), 4).await;
        let expected: Vec<String> = (0..n).rev().map(|i| format!("r{i}")).collect();
        assert_eq!(got, expected, "n={n}");
        let pages = (n as u64).div_ceil(u64::from(size)).max(1);
        assert_eq!(
            list.fetches.load(Ordering::SeqCst),
            pages,
            "n={n}: one request per page"
        );
    }
}

#[tokio::test]
async fn a_prefetching_slice_asks_for_its_first_round_before_the_total() {
    let counted = Strategy::Counted {
        growing_tail: false,
    };
    let list = Arc::new(FakeList::new(counted, 10, 75).prefetching().closed());
    let got = ids(list.clone(), 4).await;
    let expected: Vec<String> = (0..75).rev().map(|i| format!("r{i}")).collect();
    assert_eq!(got, expected);
    assert_eq!(
        list.beside_first.load(Ordering::SeqCst),
        4,
        "one round of four"
    );
    assert_eq!(
        list.fetches.load(Ordering::SeqCst),
        8,
        "one request per page"
    );
}

#[tokio::test]
async fn pages_prefetched_past_a_short_list_are_dropped_without_a_re_read() {
    for growing_tail in [false, true] {
        let list = FakeList::new(Strategy::Counted { growing_tail }, 10, 15)
            .prefetching()
            .closed();
        let list = Arc::new(list);
        let got = ids(list.clone(), 4).await;
        let expected: Vec<String> = (0..15).rev().map(|i| format!("r{i}")).collect();
        assert_eq!(got, expected);
        // Pages 1-4 (3 and 4 answered empty), then the tail's re-read of page 2.
        let fetches = list.fetches.load(Ordering::SeqCst);
        assert_eq!(
            fetches,
            4 + u64::from(growing_tail),
            "no re-read of the slice"
        );
    }
}

#[tokio::test]
async fn a_page_prefetched_past_the_end_that_fails_is_not_needed() {
    let counted = Strategy::Counted {
        growing_tail: false,
    };
    let mut list = FakeList::new(counted, 10, 15).prefetching();
    list.refuse_past_end = true;
    let got = ids(Arc::new(list), 4).await;
    let expected: Vec<String> = (0..15).rev().map(|i| format!("r{i}")).collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_prefetching_slice_that_shrinks_is_still_read_exactly_once() {
    let counted = Strategy::Counted {
        growing_tail: false,
    };
    let list = FakeList::new(counted, 10, 50)
        .prefetching()
        .mutate(|n, rows| {
            if n == 1 {
                rows.remove(0);
            }
        });
    let list = Arc::new(list);
    let got = ids(list.clone(), 4).await;
    let survivors: Vec<String> = list.rows.lock().unwrap().clone();
    assert_exactly_once(&got, survivors);
}

#[tokio::test]
async fn counted_rescans_when_the_total_changes() {
    // A deletion at the front after the first fetch shifts every later page by one.
    let list = Arc::new(
        FakeList::new(
            Strategy::Counted {
                growing_tail: false,
            },
            10,
            50,
        )
        .mutate(|n, rows| {
            if n == 0 {
                rows.remove(0);
            }
        }),
    );
    let got = ids(list.clone(), 2).await;
    let survivors: Vec<String> = list.rows.lock().unwrap().clone();
    assert_exactly_once(&got, survivors);
}

#[tokio::test]
async fn growing_tail_rereads_the_end() {
    // Oldest-first list: rows appended at the end while the listing runs.
    let list = FakeList::new(Strategy::Counted { growing_tail: true }, 10, 25).mutate(|n, rows| {
        if n < 3 {
            rows.push(format!("late{n}"));
        }
    });
    list.rows.lock().unwrap().reverse();
    let list = Arc::new(list);
    let got = ids(list.clone(), 1).await;
    let all: Vec<String> = list.rows.lock().unwrap().clone();
    assert_exactly_once(&got, all);
}

#[tokio::test]
async fn a_stalled_listing_ends_at_its_deadline_with_a_typed_error() {
    for strategy in [
        Strategy::NewestFirstOffset,
        Strategy::Counted {
            growing_tail: false,
        },
    ] {
        let mut list = FakeList::new(strategy, 10, 50);
        list.stall_from = Some(1);
        let options = DriverOptions::default()
            .with_concurrency(1)
            .with_deadline(std::time::Duration::from_millis(200));
        let listing = invitees(Arc::new(list), Scope::full(), options).collect::<Vec<_>>();
        let results = tokio::time::timeout(std::time::Duration::from_secs(10), listing)
            .await
            .expect("the deadline ended the listing");
        let (rows, errors): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        assert_eq!(rows.len(), 10, "the first page stands");
        let err = errors.into_iter().find_map(Result::err).expect("an error");
        assert_eq!(err.kind(), crate::ErrorKind::Pagination);
        assert!(err.to_string().contains("deadline of 200ms"), "{err}");
    }
}

#[tokio::test]
async fn page_ceiling_ends_with_an_error_not_a_loop() {
    let list = Arc::new(FakeList::new(Strategy::NewestFirstOffset, 2, 100));
    let options = DriverOptions::default().with_max_pages(5);
    let results: Vec<_> = invitees(list, Scope::full(), options).collect().await;
    let err = results.into_iter().find_map(Result::err).expect("an error");
    assert_eq!(err.kind(), crate::ErrorKind::Pagination);
    assert!(err.to_string().contains("max_pages"), "{err}");
}

#[tokio::test]
async fn dropping_the_stream_stops_requests() {
    let list = Arc::new(FakeList::new(Strategy::NewestFirstOffset, 5, 1000));
    let mut stream = invitees(
        list.clone(),
        Scope::full(),
        DriverOptions::default().with_concurrency(2),
    );
    for _ in 0..7 {
        stream.next().await.unwrap().unwrap();
    }
    drop(stream);
    let after_drop = list.fetches.load(Ordering::SeqCst);
    tokio::task::yield_now().await;
    assert_eq!(list.fetches.load(Ordering::SeqCst), after_drop);
    assert!(after_drop <= 5, "fetched {after_drop} pages for 7 rows");
}

/// A source whose `next` pointer never advances.
#[derive(Debug)]
struct Stuck(SourceId);

#[async_trait]
impl InviteeSource for Stuck {
    fn id(&self) -> &SourceId {
        &self.0
    }
    fn strategy(&self) -> Strategy {
        Strategy::Counted {
            growing_tail: false,
        }
    }
    async fn plan(&self, _: &Scope) -> Result<Vec<Cursor>, SourceError> {
        Ok(vec![Cursor::at(Position::Offset {
            offset: 0,
            limit: 2,
        })])
    }
    async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        let row = Invitee::new(
            self.0.clone(),
            format!("x{}", cursor.position.first_row()),
            InviteeStatus::Invited,
        );
        Ok(Page {
            invitees: vec![row.clone(), row],
            next: Some(cursor.clone()),
            total: None,
        })
    }
}

#[tokio::test]
async fn a_next_pointer_that_does_not_advance_is_an_error() {
    let source = Arc::new(Stuck(SourceId::new(Provider::Other("stuck".into()), "a")));
    let results: Vec<_> = invitees(source, Scope::full(), DriverOptions::default())
        .collect()
        .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "the duplicate row is dropped"
    );
    let err = results.into_iter().find_map(Result::err).expect("an error");
    assert!(err.to_string().contains("does not advance"), "{err}");
}

#[tokio::test]
async fn counted_newest_first_slice_growing_inside_keeps_its_tail() {
    // Rows land at the head of a counted, newest-first slice while it is read: each one
    // pushes the oldest rows past the pages planned from the first total.
    let counter = Arc::new(AtomicU64::new(0));
    let c = counter.clone();
    let list = Arc::new(
        FakeList::new(
            Strategy::Counted {
                growing_tail: false,
            },
            10,
            95,
        )
        .mutate(move |_, rows| {
            for _ in 0..3 {
                let k = c.fetch_add(1, Ordering::SeqCst);
                rows.insert(0, format!("new{k}"));
            }
        }),
    );
    let options = DriverOptions::default().with_concurrency(1);
    let mut options = options;
    options.drift_rescans = 0;
    let got: Vec<String> = invitees(list.clone(), Scope::full(), options)
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    assert_exactly_once(&got, (0..95).map(|i| format!("r{i}")));
}

#[tokio::test]
async fn a_counted_slice_that_keeps_shrinking_fails_instead_of_ending_short() {
    // Churn: on every fetch two rows are deleted from the front (later rows slide back
    // onto pages already read) and a new one lands in the middle, so every re-read finds
    // rows the reads before it missed, and the total keeps falling.
    let counter = AtomicU64::new(0);
    let list = FakeList::new(
        Strategy::Counted {
            growing_tail: false,
        },
        10,
        400,
    )
    .mutate(move |_, rows| {
        rows.drain(..2.min(rows.len()));
        let k = counter.fetch_add(1, Ordering::SeqCst);
        rows.insert(rows.len() / 2, format!("fresh{k}"));
    });
    let (err, fetches) = first_error(list).await;
    let rescans = DriverOptions::default().drift_rescans;
    assert!(
        matches!(
            err.downcast_ref::<PaginationError>(),
            Some(PaginationError::KeepsShrinking(n)) if *n == rescans
        ),
        "{err}"
    );
    assert!(err.to_string().contains("kept shrinking"), "{err}");
    assert!(
        fetches > 20 * u64::from(rescans),
        "every re-read ran: {fetches}"
    );
}

#[tokio::test]
async fn a_re_read_that_shrank_does_not_settle_the_slice_even_when_it_found_nothing_new() {
    // 30 rows, pages of 10, one request at a time. Pass 1: a deletion before its third
    // page slides the row at position 20 onto page 2, already read. Before pass 2, nine
    // more deletions; after its first page, one more, so that row slides from page 2 back
    // onto page 1 again: pass 2 finds nothing new, but it shrank, so it does not settle
    // the slice, and a third pass reads the row.
    let list = Arc::new(
        FakeList::new(
            Strategy::Counted {
                growing_tail: false,
            },
            10,
            30,
        )
        .mutate(|n, rows| match n {
            1 | 3 => drop(rows.remove(0)),
            2 => drop(rows.drain(..9)),
            _ => {}
        }),
    );
    let options = DriverOptions::default().with_concurrency(1);
    let got: Vec<String> = invitees(list.clone(), Scope::full(), options)
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    let survivors = list.rows.lock().unwrap().clone();
    assert_eq!(survivors.len(), 19);
    for id in &survivors {
        assert!(got.contains(id), "{id} was never listed: {got:?}");
    }
    assert_eq!(
        got.len(),
        got.iter().collect::<HashSet<_>>().len(),
        "no doubles"
    );
}

#[tokio::test]
async fn a_counted_slice_that_keeps_growing_at_its_end_is_read_twice_not_seven_times() {
    // Rows arriving on every fetch at the end of an oldest-first list: one re-read finds
    // nothing new inside the slice's first extent (the arrivals lie past it), which settles
    // it; re-reading while the total changed read it seven times.
    let counter = Arc::new(AtomicU64::new(0));
    let c = counter.clone();
    let list = Arc::new(
        FakeList::new(Strategy::Counted { growing_tail: true }, 10, 95)
            .mutate(move |_, rows| rows.push(format!("late{}", c.fetch_add(1, Ordering::SeqCst)))),
    );
    let got: Vec<String> = invitees(list.clone(), Scope::full(), DriverOptions::default())
        .map_ok(|i| i.id)
        .try_collect()
        .await
        .unwrap();
    for i in 0..95 {
        assert!(got.contains(&format!("r{i}")), "r{i} missing");
    }
    // Ten pages planned, a few more as the total grew, the tail followed: two passes.
    let fetches = list.fetches.load(Ordering::SeqCst);
    assert!(fetches <= 30, "{fetches} fetches");
}

async fn first_error(list: FakeList) -> (SourceError, u64) {
    let list = Arc::new(list);
    let results: Vec<_> = invitees(list.clone(), Scope::full(), DriverOptions::default())
        .collect()
        .await;
    let err = results.into_iter().find_map(Result::err).expect("an error");
    (err, list.fetches.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_silently_clamped_page_size_is_an_error_not_a_loss() {
    // 20 rows asked 7 a page; the server serves 3 a page and says 20 in all: paging by 7
    // would skip 4 rows of every 7.
    let list = FakeList::new(
        Strategy::Counted {
            growing_tail: false,
        },
        7,
        20,
    )
    .clamped(3);
    let (err, _) = first_error(list).await;
    assert_eq!(err.kind(), crate::ErrorKind::Pagination);
    assert!(err.to_string().contains("held 3 rows of the 7"), "{err}");
    // A short last page is the end of the list, not a clamp.
    let list = Arc::new(FakeList::new(
        Strategy::Counted {
            growing_tail: false,
        },
        7,
        20,
    ));
    assert_eq!(ids(list, 4).await.len(), 20);
}

#[tokio::test]
async fn a_clamp_under_arrivals_at_the_head_is_an_error_not_a_loss() {
    // Two rows arrive at the head of a newest-first list after every request, so no two
    // pages report the same total, and the server serves 3 of the 7 rows asked for: every
    // page but the first starts past rows never served. (Found by CoinW's fault schedules
    // once its sign-ups landed inside the windows read: one row was lost.)
    let counter = Arc::new(AtomicU64::new(0));
    let arrivals = counter.clone();
    let list = FakeList::new(
        Strategy::Counted {
            growing_tail: false,
        },
        7,
        20,
    )
    .clamped(3)
    .mutate(move |_, rows| {
        for _ in 0..2 {
            let k = arrivals.fetch_add(1, Ordering::SeqCst);
            rows.insert(0, format!("new{k}"));
        }
    });
    let (err, _) = first_error(list).await;
    assert_eq!(err.kind(), crate::ErrorKind::Pagination);
    assert!(err.to_string().contains("held 3 rows of the 7"), "{err}");
    // Arrivals alone push rows past a list's end, onto a page after its short last one:
    // that is no clamp.
    let counter = Arc::new(AtomicU64::new(0));
    let list = Arc::new(
        FakeList::new(
            Strategy::Counted {
                growing_tail: false,
            },
            7,
            20,
        )
        .mutate(move |_, rows| {
            let k = counter.fetch_add(1, Ordering::SeqCst);
            rows.insert(0, format!("new{k}"));
        }),
    );
    let got = ids(list, 4).await;
    assert_exactly_once(&got, (0..20).map(|i| format!("r{i}")));
}

#[tokio::test]
async fn a_server_repeating_its_last_page_forever_is_stopped() {
    for strategy in [
        Strategy::NewestFirstOffset,
        Strategy::Counted {
            growing_tail: false,
        },
        Strategy::NewestFirstPages,
    ] {
        let list = FakeList::new(strategy, 5, 200).repeating_after(2);
        let (err, fetches) = first_error(list).await;
        assert_eq!(err.kind(), crate::ErrorKind::Pagination, "{strategy:?}");
        assert!(
            err.to_string().contains("ignores the position"),
            "{strategy:?}: {err}"
        );
        assert!(
            fetches < 20,
            "{strategy:?}: {fetches} fetches before stopping"
        );
    }
}

/// A counted list of 50 paged by ten offsets one request at a time, whose rows change after
/// its second fetch as `change` says, without changing its total.
async fn read_while_the_total_hides_a_change(change: fn(&mut Vec<String>)) -> Arc<FakeList> {
    let counted = Strategy::Counted {
        growing_tail: false,
    };
    let list = Arc::new(
        FakeList::new(counted, 10, 50)
            .by_offsets()
            .mutate(move |n, rows| {
                if n == 1 {
                    change(rows);
                }
            }),
    );
    let got = ids(list.clone(), 1).await;
    let now = list.rows.lock().unwrap().clone();
    assert_eq!(now.len(), 50, "the total did not change");
    assert_exactly_once(&got, now);
    list
}

#[tokio::test]
async fn deletions_hidden_by_arrivals_under_an_unchanged_total_are_caught_by_overlapping_offsets() {
    // Two rows deleted before the third page and two arrivals at the end: the third page
    // starts two rows further on, and without the overlap the row between went unread.
    let list = read_while_the_total_hides_a_change(|rows| {
        rows.drain(..2);
        rows.extend(["late0".to_string(), "late1".to_string()]);
    })
    .await;
    let fetches = list.fetches.load(Ordering::SeqCst);
    assert!(fetches > 6, "the slice was read again: {fetches} fetches");
}

#[tokio::test]
async fn an_arrival_on_a_page_already_read_under_an_unchanged_total_is_caught() {
    // A row backdated to the front and the last row deleted: the total stays at 50, the
    // third page starts one row early, and only a re-read finds the row at the front.
    read_while_the_total_hides_a_change(|rows| {
        rows.insert(0, "backdated".to_string());
        rows.pop();
    })
    .await;
}

#[tokio::test]
async fn overlapping_offsets_cost_one_row_a_page_and_lose_none() {
    for (n, limit) in [
        (0, 10),
        (1, 10),
        (10, 10),
        (19, 10),
        (20, 10),
        (100, 10),
        (7, 1),
    ] {
        let counted = Strategy::Counted {
            growing_tail: false,
        };
        // Closed: pages of one row cannot overlap, and would be checked at their head.
        let list = Arc::new(FakeList::new(counted, limit, n).by_offsets().closed());
        let got = ids(list.clone(), 4).await;
        let expected: Vec<String> = (0..n).rev().map(|i| format!("r{i}")).collect();
        assert_eq!(got, expected, "n={n}");
        let step = u64::from(limit).saturating_sub(1).max(1);
        let pages = 1 + (n as u64).saturating_sub(u64::from(limit)).div_ceil(step);
        assert_eq!(list.fetches.load(Ordering::SeqCst), pages, "n={n}");
    }
}

#[tokio::test]
async fn a_slow_answer_does_not_hold_the_requests_after_it() {
    // Page 2 answers only once five fetches began. Refilling only when the oldest page is
    // taken, a pass of two requests at a time waited on it for ever with page 3 done.
    let counted = Strategy::Counted {
        growing_tail: false,
    };
    let mut list = FakeList::new(counted, 10, 100).closed();
    list.hold = Some((10, 5));
    let list = Arc::new(list);
    let listing = ids(list.clone(), 2);
    let got = tokio::time::timeout(std::time::Duration::from_secs(20), listing)
        .await
        .expect("the pass went on around the slow answer");
    let expected: Vec<String> = (0..100).rev().map(|i| format!("r{i}")).collect();
    assert_eq!(got, expected, "in order");
    assert_eq!(list.fetches.load(Ordering::SeqCst), 10);
    assert_eq!(
        list.most_live.load(Ordering::SeqCst),
        2,
        "never more than two at once"
    );
}

/// An oldest-first list of 50 in numbered pages of ten (Census), from which a row on the
/// first page is deleted once that page is read, while a row arrives at the end: the total
/// stays at 50, and the second page starts one row further on. What the listing emitted,
/// and the list at the end.
async fn read_oldest_first_while_a_deletion_hides(
    pinned: bool,
    concurrency: usize,
) -> (Vec<String>, Vec<String>) {
    let tail = Strategy::Counted { growing_tail: true };
    // The fetch that reads the first page: the pin comes before it.
    let first_page = u64::from(pinned);
    let mut list = FakeList::new(tail, 10, 50).mutate(move |n, rows| {
        if n == first_page {
            rows.remove(0);
            rows.push("late".to_string());
        }
    });
    list.rows.lock().unwrap().reverse();
    if pinned {
        list = list.pinning().prefetching();
    }
    let list = Arc::new(list);
    let got = ids(list.clone(), concurrency).await;
    let now = list.rows.lock().unwrap().clone();
    assert_eq!(now.len(), 50, "the total did not change");
    (got, now)
}

#[tokio::test]
async fn a_deletion_hidden_by_an_arrival_is_caught_by_pinning_the_newest_page() {
    for concurrency in [1, 4] {
        let (got, now) = read_oldest_first_while_a_deletion_hides(true, concurrency).await;
        assert_exactly_once(&got, now);
    }
    // Re-reading the last page alone finds the arrival but not the row the deletion slid
    // onto the first page.
    let (got, _) = read_oldest_first_while_a_deletion_hides(false, 1).await;
    assert!(got.contains(&"late".to_string()));
    assert!(!got.contains(&"r10".to_string()), "unpinned, r10 is lost");
}

#[tokio::test]
async fn a_pinned_pass_over_a_steady_list_costs_what_it_reads_again_and_no_more() {
    for (n, fetches) in [(0, 1), (7, 1), (10, 1), (11, 3), (50, 6), (55, 7)] {
        let tail = Strategy::Counted { growing_tail: true };
        let list = FakeList::new(tail, 10, n).pinning();
        list.rows.lock().unwrap().reverse();
        let list = Arc::new(list);
        let got = ids(list.clone(), 1).await;
        assert_exactly_once(&got, list.rows.lock().unwrap().clone());
        // The pin, the pages below the newest ten rows, the newest page again.
        assert_eq!(list.fetches.load(Ordering::SeqCst), fetches, "n={n}");
    }
    // Four at once: the first round (the pin and pages 1 to 3) takes no round of its own,
    // and pages 1 to 3 are read again in the closing round.
    for (n, fetches) in [(50, 9), (55, 10), (200, 24)] {
        let tail = Strategy::Counted { growing_tail: true };
        let list = FakeList::new(tail, 10, n).pinning().prefetching();
        list.rows.lock().unwrap().reverse();
        let list = Arc::new(list);
        let got = ids(list.clone(), 4).await;
        assert_exactly_once(&got, list.rows.lock().unwrap().clone());
        assert_eq!(list.fetches.load(Ordering::SeqCst), fetches, "n={n}");
    }
}

#[tokio::test]
async fn pages_served_before_the_pin_are_read_again_and_compared() {
    // Concurrency 4: the pin and pages 1 to 3 go out together, and the pin is served last.
    // A row of page 1 is deleted once page 1 is read and a row arrives: page 2 starts one
    // row further on, and the pin already shows the arrival, so only reading page 1 again
    // (it now holds r10) shows the change.
    let tail = Strategy::Counted { growing_tail: true };
    let mut list = FakeList::new(tail, 10, 50)
        .pinning()
        .prefetching()
        .mutate(|n, rows| {
            if n == 0 {
                rows.remove(0);
                rows.push("late".to_string());
            }
        });
    list.rows.lock().unwrap().reverse();
    list.pin_after = Some(3);
    let list = Arc::new(list);
    let got = ids(list.clone(), 4).await;
    let now = list.rows.lock().unwrap().clone();
    assert_eq!(now.len(), 50, "the total did not change");
    assert_exactly_once(&got, now);
    // One pass is the pin, pages 1 to 4 and the closing round (the newest page, pages 1 to
    // 3 again). Page 1 read differently, so the slice was read again: a row could have slid
    // between two of the closing reads too.
    let fetches = list.fetches.load(Ordering::SeqCst);
    assert!(fetches > 9, "the slice was read again: {fetches} fetches");
}

#[tokio::test]
async fn a_server_ignoring_the_newest_first_order_is_listed_unpinned() {
    // The newest page comes back as the oldest: trusted, the real newest ten rows would
    // never be read. The pass goes unpinned and reads its tail again instead.
    for concurrency in [1, 4] {
        let tail = Strategy::Counted { growing_tail: true };
        let mut list = FakeList::new(tail, 10, 50).pinning().prefetching();
        list.rows.lock().unwrap().reverse();
        list.ignores_order = true;
        let list = Arc::new(list);
        let got = ids(list.clone(), concurrency).await;
        assert_exactly_once(&got, list.rows.lock().unwrap().clone());
    }
}

/// A newest-first counted list of 50 in numbered pages of ten, read `concurrency` pages at
/// a time (`closed`: the source says no arrival reaches it). Page 2 is served only once
/// page 3 has been (when pages run at once); right after page 3 a row arrives at the head and the oldest row is
/// deleted: the total stays at 50 and every row in between moves one down, so `r30` moves
/// from page 2, not served yet, onto page 3, already served. What the listing emitted, the
/// list at the end and the fetches.
async fn read_newest_first_while_an_arrival_hides(
    concurrency: usize,
    closed: bool,
) -> (Vec<String>, Vec<String>, u64) {
    let counted = Strategy::Counted {
        growing_tail: false,
    };
    let mut list = FakeList::new(counted, 10, 50);
    if concurrency > 1 {
        list.hold = Some((10, 3));
    }
    list.closed = closed;
    list.after_row = Some((
        20,
        Box::new(|_, rows: &mut Vec<String>| {
            rows.insert(0, "new0".to_string());
            rows.pop();
        }),
    ));
    let list = Arc::new(list);
    let got = ids(list.clone(), concurrency).await;
    let now = list.rows.lock().unwrap().clone();
    assert_eq!(now.len(), 50, "the total did not change");
    (got, now, list.fetches.load(Ordering::SeqCst))
}

#[tokio::test]
async fn an_arrival_at_the_head_hiding_a_deletion_is_caught_by_reading_the_head_again() {
    let (got, now, fetches) = read_newest_first_while_an_arrival_hides(4, false).await;
    assert_exactly_once(&got, now);
    // Five pages, the head's row, the slice again and its head's row.
    assert_eq!(fetches, 12);
    // Without the head check the row is read by neither page.
    let (got, _, fetches) = read_newest_first_while_an_arrival_hides(4, true).await;
    assert!(!got.contains(&"r30".to_string()), "unchecked, r30 is lost");
    assert_eq!(fetches, 5);
}

#[tokio::test]
async fn a_newest_first_list_read_one_page_at_a_time_loses_nothing_without_the_head_check() {
    // In order, the arrival pushes r30 onto page 3 before page 3 is read.
    let (got, now, fetches) = read_newest_first_while_an_arrival_hides(1, false).await;
    let there_throughout = now.into_iter().filter(|id| id != "new0");
    assert_exactly_once(&got, there_throughout);
    assert_eq!(fetches, 5, "no head check, no re-read");
}

#[tokio::test]
async fn the_head_check_costs_one_row_a_pass_and_only_where_pages_run_at_once() {
    // (rows, concurrency, closed, fetches)
    for (n, concurrency, closed, fetches) in [
        (50, 4, false, 6),
        (50, 1, false, 5),
        (50, 4, true, 5),
        (20, 4, false, 2),
        (30, 4, false, 4),
        (5, 4, false, 1),
    ] {
        let counted = Strategy::Counted {
            growing_tail: false,
        };
        let mut list = FakeList::new(counted, 10, n);
        list.closed = closed;
        let list = Arc::new(list);
        let got = ids(list.clone(), concurrency).await;
        let expected: Vec<String> = (0..n).rev().map(|i| format!("r{i}")).collect();
        assert_eq!(got, expected, "n={n}");
        assert_eq!(
            list.fetches.load(Ordering::SeqCst),
            fetches,
            "n={n} C={concurrency} closed={closed}"
        );
    }
}
