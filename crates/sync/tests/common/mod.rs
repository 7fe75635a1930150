//! An in-memory `InviteeSource` for engine and sink tests: configurable strategy, page size,
//! time windows, injected failures and latency, with a log of every fetched cursor.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use affiliate_core::driver::DriverOptions;
use affiliate_core::{
    Cursor, ErrorKind, Invitee, InviteeSource, InviteeStatus, Page, Position, Provider, Scope,
    SourceError, SourceId, Strategy, Window,
};
use affiliate_sync::{Observer, PageEvent, SyncOptions};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

/// The instant of row 0; row `i` joined `i` hours later.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap() // 2024-01-01T00:00:00Z
}

pub fn row_time(i: u64) -> DateTime<Utc> {
    t0() + TimeDelta::hours(i as i64)
}

/// A fake provider. Rows are numbered in sign-up order (0 is the oldest).
#[derive(Debug)]
pub struct Fake {
    id: SourceId,
    strategy: Strategy,
    page_size: u32,
    /// Rows in sign-up order.
    rows: Mutex<Vec<Invitee>>,
    /// Window length for windowed plans (`Counted` only).
    window: Option<TimeDelta>,
    /// Which fetches fail.
    fail: Mutex<Option<Fail>>,
    delay: Option<Duration>,
    fetches: AtomicUsize,
    log: Mutex<Vec<Cursor>>,
}

impl Fake {
    pub fn new(account: &str, strategy: Strategy, rows: u64, page_size: u32) -> Self {
        let id = SourceId::new(Provider::Other("fake".into()), account);
        let rows = (0..rows).map(|i| make_row(&id, i)).collect();
        Self {
            id,
            strategy,
            page_size,
            rows: Mutex::new(rows),
            window: None,
            fail: Mutex::new(None),
            delay: None,
            fetches: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        }
    }

    pub fn counted(account: &str, rows: u64, page_size: u32) -> Self {
        Self::new(
            account,
            Strategy::Counted {
                growing_tail: false,
            },
            rows,
            page_size,
        )
    }

    pub fn newest_first(account: &str, rows: u64, page_size: u32) -> Self {
        Self::new(account, Strategy::NewestFirstOffset, rows, page_size)
    }

    /// Splits the plan into windows of `hours` hours (one slice each).
    pub fn windowed(mut self, hours: i64) -> Self {
        self.window = Some(TimeDelta::hours(hours));
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Fetches of a cursor whose first row is at or past `row` fail (`None`: no failures).
    pub fn fail_from_row(&self, row: Option<u64>) {
        *self.fail.lock().unwrap() = row.map(Fail::FromRow);
    }

    /// Fetches in windows starting at or after `start` fail.
    pub fn fail_windows_from(&self, start: DateTime<Utc>) {
        *self.fail.lock().unwrap() = Some(Fail::FromWindow(start));
    }

    /// Adds `n` rows that signed up after every existing one.
    pub fn sign_up(&self, n: u64) {
        let mut rows = self.rows.lock().unwrap();
        let start = rows.len() as u64;
        for i in start..start + n {
            rows.push(make_row(&self.id, i));
        }
    }

    /// Edits every row (e.g. to set emails or awkward names).
    pub fn edit(&self, f: impl Fn(u64, &mut Invitee)) {
        for (i, row) in self.rows.lock().unwrap().iter_mut().enumerate() {
            f(i as u64, row);
        }
    }

    pub fn len(&self) -> u64 {
        self.rows.lock().unwrap().len() as u64
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The cursors fetched since the last call, in order.
    pub fn take_log(&self) -> Vec<Cursor> {
        self.fetches.store(0, Ordering::SeqCst);
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    pub fn ids(&self) -> Vec<String> {
        self.rows
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.id.clone())
            .collect()
    }

    fn windows(&self, scope: &Scope) -> Vec<Window> {
        let Some(len) = self.window else {
            return Vec::new();
        };
        let n = self.len();
        let last = row_time(n.saturating_sub(1));
        let mut out = Vec::new();
        let mut start = t0();
        while start <= last {
            let end = start + len - TimeDelta::seconds(1);
            if scope.since.is_none_or(|since| end >= since) {
                out.push(Window { start, end });
            }
            start += len;
        }
        out
    }
}

/// Which fetches of a [`Fake`] fail.
#[derive(Debug, Clone, Copy)]
pub enum Fail {
    /// Cursors whose first row is at or past this one.
    FromRow(u64),
    /// Cursors in windows starting at or after this instant.
    FromWindow(DateTime<Utc>),
}

fn make_row(source: &SourceId, i: u64) -> Invitee {
    let mut row = Invitee::new(source.clone(), format!("u{i:05}"), InviteeStatus::Joined);
    row.joined_at = Some(row_time(i));
    row.display_name = Some(format!("User {i}"));
    row
}

#[async_trait]
impl InviteeSource for Fake {
    fn id(&self) -> &SourceId {
        &self.id
    }

    fn strategy(&self) -> Strategy {
        self.strategy
    }

    async fn plan(&self, scope: &Scope) -> Result<Vec<Cursor>, SourceError> {
        let first = Position::Offset {
            offset: 0,
            limit: self.page_size,
        };
        if self.window.is_some() {
            Ok(self
                .windows(scope)
                .into_iter()
                .map(|w| Cursor::in_window(w, first))
                .collect())
        } else {
            Ok(vec![Cursor::at(first)])
        }
    }

    async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push(cursor.clone());
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let first = cursor.position.first_row();
        let failing = match *self.fail.lock().unwrap() {
            Some(Fail::FromRow(row)) => first >= row,
            Some(Fail::FromWindow(start)) => cursor.window.is_some_and(|w| w.start >= start),
            None => false,
        };
        if failing {
            return Err(SourceError::new(
                self.id.provider.clone(),
                ErrorKind::Server,
                "injected failure: the fake provider answered 503",
            )
            .with_request(format!("GET /fake?offset={first}")));
        }
        let all = self.rows.lock().unwrap().clone();
        let size = cursor.position.size() as usize;
        let listing: Vec<Invitee> = match self.strategy {
            Strategy::NewestFirstOffset => all.into_iter().rev().collect(),
            _ => all
                .into_iter()
                .filter(|r| {
                    cursor.window.is_none_or(|w| {
                        let t = r.joined_at.unwrap();
                        t >= w.start && t <= w.end
                    })
                })
                .collect(),
        };
        let total = listing.len() as u64;
        let invitees: Vec<Invitee> = listing
            .into_iter()
            .skip(first as usize)
            .take(size)
            .collect();
        let more = first + (invitees.len() as u64) < total;
        Ok(match self.strategy {
            Strategy::NewestFirstOffset => Page {
                invitees,
                next: None,
                total: None,
            },
            _ => Page {
                invitees,
                next: more.then(|| cursor.with_position(cursor.position.following())),
                total: Some(total),
            },
        })
    }
}

/// Options for deterministic tests: one page in flight per slice.
pub fn options() -> SyncOptions {
    SyncOptions::default().with_driver(DriverOptions::default().with_concurrency(1))
}

/// Cancels a token once `after` pages were committed.
#[derive(Debug)]
pub struct CancelAfter {
    pub after: usize,
    pub seen: AtomicUsize,
    pub token: affiliate_sync::CancellationToken,
}

impl Observer for CancelAfter {
    fn page_committed(&self, _: &SourceId, _: &PageEvent) {
        if self.seen.fetch_add(1, Ordering::SeqCst) + 1 >= self.after {
            self.token.cancel();
        }
    }
}

/// Counts of each id in `ids`; asserts none repeats and returns how many there are.
pub fn assert_unique(ids: &[String]) -> usize {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in ids {
        *counts.entry(id).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        repeated.is_empty(),
        "ids stored more than once: {repeated:?}"
    );
    counts.len()
}

pub fn arc(fake: &Arc<Fake>) -> Arc<dyn InviteeSource> {
    fake.clone()
}
