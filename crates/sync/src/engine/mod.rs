//! The [`SyncEngine`]: many sources, one sink, checkpoints after every page.

pub(crate) mod slice;
pub(crate) mod source_run;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use affiliate_core::InviteeSource;
use futures::{stream, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::observer::{NoopObserver, Observer};
use crate::report::{FailureStage, SourceFailure, SourceReport, SyncReport};
use crate::{Sink, SourceLimits, SyncOptions};

/// Runs sources into a sink, exactly once, resumably.
///
/// For each source the engine loads the sink's state and either continues the unfinished
/// run (same scope, same slices, each from its stored resume cursor; complete slices are
/// skipped) or plans a new one (full, or incremental from `watermark - overlap`). Each slice
/// is paged by [`affiliate_core::driver::slice_pages`], one de-duplication set per source
/// run; every page's rows (after the [`EmailPolicy`](crate::EmailPolicy)) are committed
/// together with the slice's resume cursor. When every slice is complete the run is
/// finished and the watermark advances to the newest activity seen (never past the run's
/// start).
///
/// Sources run concurrently (up to [`SyncOptions::max_sources_in_parallel`], each on its
/// own Tokio task), and so do the slices of one source (up to
/// [`SyncOptions::slices_per_source`] or the source's [`SourceLimits`]). A failing source
/// stops at its first error and does not stop the others unless
/// [`SyncOptions::fail_fast`] is set. Cancelling the token stops every source between
/// pages: the page in flight is either committed whole or discarded, and the next run
/// resumes.
///
/// Must run inside a Tokio runtime.
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use affiliate_core::*;
/// use affiliate_sync::{FileFormat, FileSink, SyncEngine, SyncOptions};
///
/// /// Five invitees on pages of three, with a total.
/// #[derive(Debug)]
/// struct Five(SourceId);
///
/// #[async_trait]
/// impl InviteeSource for Five {
///     fn id(&self) -> &SourceId { &self.0 }
///     fn strategy(&self) -> Strategy { Strategy::Counted { growing_tail: false } }
///     async fn plan(&self, _: &Scope) -> Result<Vec<Cursor>, SourceError> {
///         Ok(vec![Cursor::at(Position::Offset { offset: 0, limit: 3 })])
///     }
///     async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
///         let start = cursor.position.first_row();
///         let invitees = (start..(start + 3).min(5))
///             .map(|i| Invitee::new(self.0.clone(), i.to_string(), InviteeStatus::Joined))
///             .collect();
///         Ok(Page { invitees, next: None, total: Some(5) })
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// // NDJSON lines on standard output; `SqliteSink::open("affiliate.db")` keeps state
/// // across processes, so an interrupted run resumes.
/// let sink = Arc::new(FileSink::stdout(FileFormat::Ndjson));
/// let source = Five(SourceId::new(Provider::Other("demo".into()), "a"));
/// let report = SyncEngine::new(sink)
///     .with_source(source)
///     .with_options(SyncOptions::default())
///     .run()
///     .await;
/// assert!(report.is_success(), "{report}");
/// assert_eq!(report.records(), 5);
/// // Offset pages overlap by one row (rows 0-2, then 2-4), so a shift shows.
/// assert_eq!(report.pages(), 2);
/// # });
/// ```
pub struct SyncEngine {
    sources: Vec<(Arc<dyn InviteeSource>, Option<SourceLimits>)>,
    sink: Arc<dyn Sink>,
    options: SyncOptions,
    cancel: CancellationToken,
    observer: Arc<dyn Observer>,
}

impl fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncEngine")
            .field(
                "sources",
                &self.sources.iter().map(|(s, _)| s.id()).collect::<Vec<_>>(),
            )
            .field("sink", &self.sink)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SyncEngine {
    /// A sync into `sink` with no sources yet and default options.
    pub fn new(sink: Arc<dyn Sink>) -> Self {
        Self {
            sources: Vec::new(),
            sink,
            options: SyncOptions::default(),
            cancel: CancellationToken::new(),
            observer: Arc::new(NoopObserver),
        }
    }

    /// Adds a source (using the run-wide concurrency defaults).
    pub fn with_source(mut self, source: impl InviteeSource + 'static) -> Self {
        self.sources.push((Arc::new(source), None));
        self
    }

    /// Adds several sources (e.g. a `Vec<Arc<dyn InviteeSource>>` built from a config).
    pub fn with_sources<S: InviteeSource + 'static>(
        mut self,
        sources: impl IntoIterator<Item = S>,
    ) -> Self {
        let sources = sources
            .into_iter()
            .map(|s| (Arc::new(s) as Arc<dyn InviteeSource>, None));
        self.sources.extend(sources);
        self
    }

    /// Adds a source with its own concurrency limits.
    pub fn with_limited_source(
        mut self,
        source: impl InviteeSource + 'static,
        limits: SourceLimits,
    ) -> Self {
        self.sources.push((Arc::new(source), Some(limits)));
        self
    }

    /// Replaces the options.
    pub fn with_options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// Uses `token` for cancellation (e.g. cancelled from a Ctrl-C handler).
    pub fn with_cancellation(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// Reports progress to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// The token that cancels this sync (cancel it from anywhere to stop between pages).
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The options in force.
    pub fn options(&self) -> &SyncOptions {
        &self.options
    }

    /// Runs every source once and reports per source. Never fails as a whole: every
    /// failure is in the report of the source it belongs to.
    pub async fn run(&self) -> SyncReport {
        let started = Instant::now();
        let ctx = Arc::new(source_run::Ctx {
            sink: self.sink.clone(),
            options: self.options.clone(),
            observer: self.observer.clone(),
            run_token: self.cancel.child_token(),
        });
        let mut ids = HashSet::new();
        let jobs: Vec<_> = self
            .sources
            .iter()
            .map(|(source, limits)| {
                let duplicate = !ids.insert(source.id().clone());
                let limits = limits.clone().unwrap_or_else(|| {
                    SourceLimits::new(self.options.slices_per_source, self.options.driver.clone())
                });
                (source.clone(), limits, duplicate)
            })
            .collect();
        let sources = stream::iter(jobs)
            .map(|(source, limits, duplicate)| {
                let ctx = ctx.clone();
                async move {
                    let id = source.id().clone();
                    if duplicate {
                        let failure = SourceFailure::other(
                            FailureStage::Config,
                            format!("{id} is configured more than once; give each account its own label"),
                        );
                        let report = SourceReport::new(id, ctx.options.mode).failed(failure);
                        ctx.observer.source_finished(&report);
                        return report;
                    }
                    match tokio::spawn(source_run::run(ctx.clone(), source, limits)).await {
                        Ok(report) => report,
                        Err(err) => {
                            let failure = SourceFailure::other(
                                FailureStage::Panic,
                                format!("the task syncing {id} failed: {err}"),
                            );
                            if ctx.options.fail_fast {
                                ctx.run_token.cancel();
                            }
                            let report = SourceReport::new(id, ctx.options.mode).failed(failure);
                            ctx.observer.source_finished(&report);
                            report
                        }
                    }
                }
            })
            .buffered(self.options.max_sources_in_parallel.max(1))
            .collect()
            .await;
        SyncReport {
            sources,
            duration: started.elapsed(),
            cancelled: self.cancel.is_cancelled(),
        }
    }
}
