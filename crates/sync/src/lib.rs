//! # affiliate-sync
//!
//! Runs many [`InviteeSource`](affiliate_core::InviteeSource)s into one [`Sink`], exactly
//! once and resumably:
//!
//! * [`SyncEngine`]: the engine. Sources run concurrently (bounded), the slices of one source too;
//!   per-source [`SourceReport`]s say what was done and exactly what failed; fail-fast is
//!   optional; cancellation stops between pages.
//! * Checkpoints: every page's rows and the slice's resume cursor are committed together
//!   ([`PageCommit`]). Kill the process at any point and the next run continues from the
//!   last committed page; replays never store a row twice.
//! * Incremental runs: a per-source watermark (newest activity seen) with a configurable
//!   overlap ([`SyncOptions::overlap`]).
//! * Sinks: [`FileSink`] (NDJSON or CSV, file or stdout), `SqliteSink` (embedded, WAL;
//!   cargo feature `sqlite`, on by default), `PostgresSink` (`COPY` bulk upserts, TLS, recorded migrations; feature
//!   `postgres`, on by default). The table layout is described in [`sink`].
//! * PII: an [`EmailPolicy`] (keep, salted hash, drop) applied before rows reach a sink.
//!
//! See [`SyncEngine`] for a complete example.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(rustdoc::broken_intra_doc_links)]

mod engine;
mod error;
mod observer;
mod options;
mod pii;
#[cfg(feature = "postgres")]
mod queue;
mod report;
pub mod sink;
pub mod state;

pub use engine::SyncEngine;
pub use error::{BoxError, SinkError};
pub use observer::{NoopObserver, Observer, PageEvent, SourceStart};
pub use options::{SourceLimits, SyncOptions, DEFAULT_DEADLINE};
pub use pii::EmailPolicy;
#[cfg(feature = "postgres")]
pub use queue::{
    FailedSlice, PlanOutcome, Planned, RunningSlice, SourceProgress, WorkQueue, Worker,
    WorkerOptions, WorkerReport,
};
pub use report::{FailureStage, SourceFailure, SourceReport, SourceStatus, SyncReport};
#[cfg(feature = "sqlite")]
pub use sink::SqliteSink;
#[cfg(feature = "postgres")]
pub use sink::{connect_postgres, PostgresSink};
pub use sink::{CommitOutcome, FileFormat, FileSink, PageCommit, Sink, COLUMNS, SYNC_INTERVAL};
pub use state::{RunState, SliceProgress, SliceState, SourceState, StateConflict, SyncMode};
/// Re-exported so callers can cancel a run without depending on `tokio-util` themselves.
pub use tokio_util::sync::CancellationToken;
