//! Driving one slice: page, apply the email policy, commit with the resume cursor, repeat;
//! stop between pages when cancelled.

use std::sync::Arc;
use std::time::Duration;

use affiliate_core::driver::{slice_pages, DriverOptions, SeenSet};
use affiliate_core::{Invitee, InviteeSource, Scope};
use futures::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::source_run::Watermark;
use crate::observer::{Observer, PageEvent};
use crate::report::{FailureStage, SourceFailure};
use crate::state::{SliceProgress, SliceState};
use crate::{EmailPolicy, PageCommit, Sink};

/// Ids remembered from a newest-first slice's first page (see [`SliceState::head_ids`]).
const HEAD_IDS: usize = 32;

/// Everything needed to drive the slices of one source run.
pub(crate) struct SliceDriver {
    pub(crate) source: Arc<dyn InviteeSource>,
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) observer: Arc<dyn Observer>,
    pub(crate) email: EmailPolicy,
    pub(crate) run_id: String,
    pub(crate) scope: Scope,
    pub(crate) seen: SeenSet,
    pub(crate) driver: DriverOptions,
    pub(crate) token: CancellationToken,
    pub(crate) watermark: Watermark,
    /// Remember the first page's ids (newest-first sources).
    pub(crate) head_ids: bool,
    /// When the source's part of the run must end.
    pub(crate) deadline: Option<Deadline>,
}

/// The instant a source's part of a run must end, and the configured length (for the
/// message).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) length: Duration,
}

impl Deadline {
    /// `length` from now; `None` for no deadline.
    pub(crate) fn starting_now(length: Option<Duration>) -> Option<Self> {
        length.map(|length| Self {
            at: Instant::now() + length,
            length,
        })
    }

    /// Resolves when `deadline` passes; never without one.
    pub(crate) async fn passed(deadline: Option<Self>) {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline.at).await,
            None => std::future::pending().await,
        }
    }
}

/// How a slice ended.
#[derive(Debug)]
pub(crate) enum SliceEnd {
    /// Every page committed and the slice marked complete.
    Complete,
    /// Stopped between pages.
    Cancelled,
    /// A fetch or a commit failed; committed pages stay.
    Failed(SourceFailure),
}

/// Counts and the end of one slice.
#[derive(Debug)]
pub(crate) struct SliceOutcome {
    pub(crate) pages: u64,
    pub(crate) inserted: u64,
    pub(crate) existing: u64,
    pub(crate) changed: u64,
    pub(crate) duplicates: u64,
    pub(crate) end: SliceEnd,
}

impl SliceDriver {
    /// Pages `slice` from where it stopped until it completes, fails or is cancelled.
    pub(crate) async fn drive(&self, slice: SliceState) -> SliceOutcome {
        let mut outcome = SliceOutcome {
            pages: 0,
            inserted: 0,
            existing: 0,
            changed: 0,
            duplicates: 0,
            end: SliceEnd::Complete,
        };
        let Some(from) = slice.next_cursor() else {
            return outcome;
        };
        if self.token.is_cancelled() {
            outcome.end = SliceEnd::Cancelled;
            return outcome;
        }
        let id = self.source.id().clone();
        let mut want_head = self.head_ids && slice.progress == SliceProgress::Pending;
        let mut complete = false;
        let mut pages = slice_pages(
            self.source.clone(),
            from,
            self.scope.clone(),
            self.seen.clone(),
            self.driver.clone(),
        );
        loop {
            let next = tokio::select! {
                biased;
                () = self.token.cancelled() => {
                    outcome.end = SliceEnd::Cancelled;
                    return outcome;
                }
                () = Deadline::passed(self.deadline) => {
                    let length = self.deadline.map_or(Duration::ZERO, |d| d.length);
                    let doing = format!("paging (after {} pages of this slice)", outcome.pages);
                    outcome.end = SliceEnd::Failed(SourceFailure::deadline(length, &doing, Some(&slice.start)));
                    return outcome;
                }
                next = pages.next() => next,
            };
            let page = match next {
                None => break,
                Some(Ok(page)) => page,
                Some(Err(err)) => {
                    outcome.end = SliceEnd::Failed(SourceFailure::source(
                        FailureStage::Fetch,
                        &err,
                        Some(&slice.start),
                    ));
                    return outcome;
                }
            };
            let mut rows = page.invitees;
            for row in &mut rows {
                self.email.apply(row);
            }
            let watermark = self.watermark.observe(&rows);
            let rows: Arc<[Invitee]> = rows.into();
            let head: Vec<String> = if want_head {
                rows.iter().take(HEAD_IDS).map(|r| r.id.clone()).collect()
            } else {
                Vec::new()
            };
            let mut commit =
                PageCommit::sharing(&self.run_id, &slice.start, &rows, page.resume.as_ref())
                    .with_watermark(watermark);
            if !head.is_empty() {
                commit = commit.with_head_ids(&head);
            }
            let result = match self.sink.commit_page(&id, &commit).await {
                Ok(result) => result,
                Err(err) => {
                    outcome.end = SliceEnd::Failed(SourceFailure::sink(&err, Some(&slice.start)));
                    return outcome;
                }
            };
            want_head &= head.is_empty();
            complete |= page.resume.is_none();
            outcome.pages += 1;
            outcome.inserted += result.inserted;
            outcome.existing += result.existing;
            outcome.changed += result.changed;
            outcome.duplicates += page.duplicates as u64;
            self.observer.page_committed(
                &id,
                &PageEvent {
                    slice: slice.start.clone(),
                    fetched: page.fetched,
                    rows: rows.len(),
                    inserted: result.inserted,
                    existing: result.existing,
                    duplicates: page.duplicates,
                    slice_complete: page.resume.is_none(),
                },
            );
        }
        if !complete {
            // The listing ended without a page that said so: record completion on its own.
            let done = PageCommit::new(&self.run_id, &slice.start, &[], None);
            if let Err(err) = self.sink.commit_page(&id, &done).await {
                outcome.end = SliceEnd::Failed(SourceFailure::sink(&err, Some(&slice.start)));
            }
        }
        outcome
    }
}
