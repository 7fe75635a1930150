//! The error every sink returns: which sink, what it was doing, and the cause.

use std::error::Error as StdError;
use std::io;
use std::path::PathBuf;

use crate::state::StateConflict;

/// A boxed cause from a database driver or codec.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A sink could not open, read its state or commit a page.
///
/// Every variant names the sink (`"ndjson"`, `"csv"`, `"sqlite"`, `"postgres"`, ...).
/// Nothing is half-committed when a commit fails: the page can be replayed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Reading or writing a file failed.
    #[error("{sink} sink: {action} {}: {source}", path.display())]
    Io {
        /// The sink.
        sink: &'static str,
        /// What it was doing (`"appending rows to"`, `"renaming state file"`, ...).
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The database refused a statement or the connection failed.
    #[error("{sink} sink: {action}: {source}")]
    Database {
        /// The sink.
        sink: &'static str,
        /// What it was doing (`"committing a page"`, `"creating the schema"`, ...).
        action: &'static str,
        /// The driver's error.
        source: BoxError,
    },
    /// Existing data or state could not be understood; nothing was changed.
    #[error("{sink} sink: {what} is not usable: {detail}")]
    Corrupt {
        /// The sink.
        sink: &'static str,
        /// Which file or table.
        what: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// The commit does not fit the stored state (another run took over, unknown slice).
    #[error("{sink} sink: {source}")]
    Conflict {
        /// The sink.
        sink: &'static str,
        /// The conflict.
        source: StateConflict,
    },
    /// The sink was configured in a way it does not support.
    #[error("{sink} sink: {detail}")]
    Config {
        /// The sink.
        sink: &'static str,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// A blocking worker of the sink panicked or was cancelled.
    #[error("{sink} sink: background worker failed: {detail}")]
    Worker {
        /// The sink.
        sink: &'static str,
        /// The join error.
        detail: String,
    },
}

impl SinkError {
    /// The name of the sink that failed.
    pub fn sink(&self) -> &'static str {
        match self {
            SinkError::Io { sink, .. }
            | SinkError::Database { sink, .. }
            | SinkError::Corrupt { sink, .. }
            | SinkError::Conflict { sink, .. }
            | SinkError::Config { sink, .. }
            | SinkError::Worker { sink, .. } => sink,
        }
    }

    pub(crate) fn io(
        sink: &'static str,
        action: &'static str,
        path: impl Into<PathBuf>,
        source: io::Error,
    ) -> Self {
        SinkError::Io {
            sink,
            action,
            path: path.into(),
            source,
        }
    }

    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn database(
        sink: &'static str,
        action: &'static str,
        source: impl Into<BoxError>,
    ) -> Self {
        SinkError::Database {
            sink,
            action,
            source: source.into(),
        }
    }

    pub(crate) fn corrupt(
        sink: &'static str,
        what: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        SinkError::Corrupt {
            sink,
            what: what.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn worker(sink: &'static str, err: tokio::task::JoinError) -> Self {
        SinkError::Worker {
            sink,
            detail: err.to_string(),
        }
    }
}
