//! NDJSON and CSV output, to a file (resumable) or to standard output.
//!
//! A file commit appends the page's new rows; the appended rows are then fsynced and the
//! state file `<file>.state.json` replaced atomically at the first commit
//! [`SYNC_INTERVAL`] after the last sync, when a run begins or ends, and on
//! [`Sink::flush`] (group commit). The state records how many bytes of the data file are
//! committed, together with every source's progress up to those bytes. Opening the file
//! again cuts off anything past that length (pages appended after the last sync), and
//! rebuilds the set of keys already written from the file, so a replayed page never writes
//! a row twice.
//!
//! So rows and progress always agree on disk: a killed process, a power failure, or a sink
//! dropped without [`Sink::flush`] loses at most the pages committed since the last sync
//! (usually a quarter of a second of them; longer while no page commits, such as during a
//! long `Retry-After`), and the next run fetches those again. Syncing every page instead
//! cost two fsyncs and a rename per page: 1.9 s of system time and half the wall time of a
//! sync of 1M invitees into NDJSON (2026-12-06). A failed sync refuses every later write
//! until the file is opened again.

mod csv;
mod ndjson;
mod scan;
mod state_file;
mod written;

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use affiliate_core::{Invitee, SourceId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::{info, warn};

use self::scan::{Scan, ScanError, Version};
use self::state_file::{StateFile, StateFileOut};
use self::written::{KeyDigest, VersionDigest, Written};
use super::{CommitOutcome, OwnedCommit, PageCommit, Sink, SYNC_INTERVAL};
use crate::state::{RunState, SourceState};
use crate::SinkError;

/// The line formats a [`FileSink`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileFormat {
    /// One JSON object per line: the [`Invitee`] serialisation plus `synced_at`.
    Ndjson,
    /// RFC 4180 CSV with a header of [`COLUMNS`](crate::sink::COLUMNS).
    Csv,
}

impl FileFormat {
    /// `"ndjson"` or `"csv"`: the sink's name in errors.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Ndjson => "ndjson",
            FileFormat::Csv => "csv",
        }
    }

    fn encode(
        self,
        rows: &[(&Invitee, Version)],
        synced_at: DateTime<Utc>,
        header: bool,
    ) -> Result<Vec<u8>, String> {
        // About 400 bytes a line: one allocation for most pages.
        let mut out = Vec::with_capacity(rows.len() * 512);
        match self {
            FileFormat::Ndjson => ndjson::encode(rows, synced_at, &mut out),
            FileFormat::Csv => {
                csv::encode(rows, synced_at, header, &mut out).map_err(|e| e.to_string())?
            }
        }
        Ok(out)
    }
}

/// Writes invitees as NDJSON or CSV lines, to a file or to standard output.
///
/// * **File**: exactly-once and resumable. Rows are appended; at the first commit
///   [`SYNC_INTERVAL`] after the last sync, when a run begins or ends, and on
///   [`Sink::flush`] they are fsynced and the state file `<path>.state.json` is replaced
///   atomically (see the module docs). Flush before dropping the sink (the sync engine
///   does): what was committed since the last sync is otherwise fetched again next time.
///   A record the file does not hold yet is appended with `change = "new"`; a record whose tracked columns
///   ([`TRACKED`](crate::sink::TRACKED)) differ from every version the file holds is
///   appended again with `change = "changed"` and its own `synced_at`; an unchanged record
///   is skipped. The last line of a key is its current version. One process at a time may
///   write a file.
/// * **Standard output**: the state lives in memory only, so every process starts a new
///   run; duplicates are still dropped within the process.
///
/// ```no_run
/// use affiliate_sync::{FileFormat, FileSink};
///
/// # async fn open() -> Result<(), affiliate_sync::SinkError> {
/// let sink = FileSink::open("invitees.ndjson", FileFormat::Ndjson).await?;
/// assert_eq!(sink.state_path().unwrap().to_str(), Some("invitees.ndjson.state.json"));
/// let stdout = FileSink::stdout(FileFormat::Csv);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FileSink {
    format: FileFormat,
    path: Option<PathBuf>,
    state_path: Option<PathBuf>,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    format: FileFormat,
    output: Output,
    /// Every key and version written, so a changed record is appended once per change.
    written: Written,
    sources: BTreeMap<SourceId, SourceState>,
}

#[derive(Debug)]
enum Output {
    File(DataFile),
    Stdout { header_written: bool },
}

#[derive(Debug)]
struct DataFile {
    path: PathBuf,
    state_path: PathBuf,
    file: File,
    /// Bytes of the file that the state file says are committed (durable).
    committed: u64,
    /// Bytes appended by commits so far (`committed` and the pages since the last sync).
    appended: u64,
    /// Bytes past `appended` may have been written by a failed append.
    dirty: bool,
    /// Some state changed since the state file was last written.
    pending: bool,
    /// When the state file was last written.
    synced_at: Instant,
    /// How long a commit may wait to become durable.
    interval: Duration,
    /// A sync failed: the appended bytes may never reach the disk (a failed fsync can drop
    /// them and report it only once), so every later write is refused; reopening the file
    /// cuts it back to what the state file covers.
    broken: bool,
}

impl FileSink {
    /// Opens (or creates) the data file at `path` and its state file, cutting off any
    /// uncommitted tail left by a crash and rebuilding the set of keys already written.
    ///
    /// Fails when the file holds something this sink did not write, or when it is shorter
    /// than the state file says (it was truncated or replaced).
    pub async fn open(path: impl Into<PathBuf>, format: FileFormat) -> Result<Self, SinkError> {
        let path = path.into();
        let opening = path.clone();
        let inner = tokio::task::spawn_blocking(move || Inner::open(opening, format))
            .await
            .map_err(|err| SinkError::worker(format.name(), err))??;
        Ok(Self {
            format,
            state_path: Some(state_file::state_path(&path)),
            path: Some(path),
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    /// Sets how long a commit may wait to become durable (default [`SYNC_INTERVAL`]): the
    /// file is synced at the first commit this long after the last sync, and whenever a
    /// run begins or ends or the sink is [flushed](Sink::flush). Longer means fewer fsyncs
    /// and more pages fetched again after a crash; no effect on standard output.
    pub fn with_sync_interval(self, interval: Duration) -> Self {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Output::File(data) = &mut inner.output {
            data.interval = interval;
        }
        drop(inner);
        self
    }

    /// Writes to standard output; state is kept in memory only.
    pub fn stdout(format: FileFormat) -> Self {
        Self {
            format,
            path: None,
            state_path: None,
            inner: Arc::new(Mutex::new(Inner {
                format,
                output: Output::Stdout {
                    header_written: false,
                },
                written: Written::default(),
                sources: BTreeMap::new(),
            })),
        }
    }

    /// The format written.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// The data file, or `None` for standard output.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The state file next to the data file, or `None` for standard output.
    pub fn state_path(&self) -> Option<&Path> {
        self.state_path.as_deref()
    }

    /// Runs `op` on the locked state in a blocking worker.
    async fn blocking<T, F>(&self, op: F) -> Result<T, SinkError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Inner) -> Result<T, SinkError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = inner.lock().unwrap_or_else(PoisonError::into_inner);
            op(&mut guard)
        })
        .await
        .map_err(|err| SinkError::worker(self.format.name(), err))?
    }
}

#[async_trait]
impl Sink for FileSink {
    fn name(&self) -> &'static str {
        self.format.name()
    }

    async fn load_state(&self, source: &SourceId) -> Result<SourceState, SinkError> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(inner.sources.get(source).cloned().unwrap_or_default())
    }

    async fn begin_run(&self, source: &SourceId, run: &RunState) -> Result<(), SinkError> {
        let (source, run) = (source.clone(), run.clone());
        self.blocking(move |inner| {
            let mut state = inner.sources.get(&source).cloned().unwrap_or_default();
            state.begin(run);
            inner.append(source, state, &[])?;
            // At once: a run killed before its first sync still resumes rather than
            // planning anew (CoinW's plan costs requests).
            inner.sync(true)
        })
        .await
    }

    async fn commit_page(
        &self,
        source: &SourceId,
        commit: &PageCommit<'_>,
    ) -> Result<CommitOutcome, SinkError> {
        let (source, commit) = (source.clone(), OwnedCommit::new(commit));
        self.blocking(move |inner| inner.commit(source, &commit.borrow()))
            .await
    }

    async fn finish_run(
        &self,
        source: &SourceId,
        run_id: &str,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<(), SinkError> {
        let (source, run_id) = (source.clone(), run_id.to_owned());
        self.blocking(move |inner| {
            let sink = inner.format.name();
            let mut state = inner.sources.get(&source).cloned().unwrap_or_default();
            state
                .finish(&run_id, watermark)
                .map_err(|source| SinkError::Conflict { sink, source })?;
            inner.append(source, state, &[])?;
            inner.sync(true)
        })
        .await
    }

    async fn flush(&self) -> Result<(), SinkError> {
        self.blocking(|inner| inner.sync(true)).await
    }
}

impl Inner {
    fn open(path: PathBuf, format: FileFormat) -> Result<Self, SinkError> {
        let sink = format.name();
        let state_path = state_file::state_path(&path);
        let state = match state_file::read(&state_path)
            .map_err(|e| SinkError::io(sink, "reading state file", &state_path, e))?
        {
            Some(bytes) => Some(parse_state(sink, &state_path, &bytes, format)?),
            None => None,
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| SinkError::io(sink, "opening", &path, e))?;
        let len = file
            .metadata()
            .map_err(|e| SinkError::io(sink, "reading the size of", &path, e))?
            .len();
        let (limit, strict) = match &state {
            Some(state) if state.data_len > len => {
                return Err(SinkError::corrupt(
                    sink,
                    path.display().to_string(),
                    format!(
                        "it holds {len} bytes but {} were committed, so it was truncated or \
                         replaced; restore it, or delete {} to start over",
                        state.data_len,
                        state_path.display()
                    ),
                ))
            }
            Some(state) => (state.data_len, true),
            None => (len, false),
        };
        let scan = scan_file(&path, format, limit, strict).map_err(|err| match err {
            ScanError::Io(e) => SinkError::io(sink, "reading", &path, e),
            ScanError::Invalid(detail) => SinkError::corrupt(
                sink,
                path.display().to_string(),
                format!("{detail}; write to a new file instead"),
            ),
        })?;
        if len > scan.valid_len {
            file.set_len(scan.valid_len)
                .and_then(|()| file.sync_data())
                .map_err(|e| SinkError::io(sink, "cutting the uncommitted tail off", &path, e))?;
            warn!(file = %path.display(), bytes = len - scan.valid_len, "cut off rows of a page that was never committed");
        }
        if scan.rows > 0 {
            info!(file = %path.display(), rows = scan.rows, "resuming an existing file");
        }
        let sources = state
            .map(|s| s.sources.into_iter().map(|e| (e.source, e.state)).collect())
            .unwrap_or_default();
        Ok(Self {
            format,
            output: Output::File(DataFile {
                path,
                state_path,
                file,
                committed: scan.valid_len,
                appended: scan.valid_len,
                dirty: false,
                pending: false,
                synced_at: Instant::now(),
                interval: SYNC_INTERVAL,
                broken: false,
            }),
            written: scan.written,
            sources,
        })
    }

    fn commit(&mut self, source: SourceId, c: &PageCommit<'_>) -> Result<CommitOutcome, SinkError> {
        let sink = self.format.name();
        let mut state = self.sources.get(&source).cloned().unwrap_or_default();
        state
            .apply(c.run_id, c.slice, c.resume, c.watermark, c.head_ids)
            .map_err(|source| SinkError::Conflict { sink, source })?;
        let mut in_page = HashSet::with_capacity_and_hasher(c.rows.len(), Xxh3DefaultBuilder);
        let mut written = Vec::with_capacity(c.rows.len());
        let mut written_keys = Vec::with_capacity(c.rows.len());
        let mut outcome = CommitOutcome::default();
        for row in c.rows {
            if !in_page.insert((&row.source, row.id.as_str())) {
                outcome.existing += 1;
                continue;
            }
            let (key, version) = (KeyDigest::of(row), VersionDigest::of(row));
            let index = |err| SinkError::io(sink, "reading the index of", self.output.label(), err);
            let kind = if !self.written.has_key(key).map_err(index)? {
                outcome.inserted += 1;
                Version::New
            } else if !self.written.has_version(key, version).map_err(index)? {
                outcome.existing += 1;
                outcome.changed += 1;
                Version::Changed
            } else {
                outcome.existing += 1;
                continue;
            };
            written.push((row, kind));
            written_keys.push((key, version));
        }
        let header = self.format == FileFormat::Csv && self.output.at_start();
        let bytes = self
            .format
            .encode(&written, Utc::now(), header)
            .map_err(|detail| {
                SinkError::io(
                    sink,
                    "encoding rows for",
                    self.output.label(),
                    io::Error::other(detail),
                )
            })?;
        self.append(source, state, &bytes)?;
        // Appended, so written (whether or not the sync below succeeds: a later sync makes
        // these bytes durable together with the state that covers them).
        for (key, version) in written_keys {
            self.written.insert(key, version);
        }
        self.sync(false)?;
        Ok(outcome)
    }

    /// Appends `bytes` and stores `state` for `source` in memory; a failed append leaves
    /// the previous state in place. Durable after the next [`Inner::sync`].
    fn append(
        &mut self,
        source: SourceId,
        state: SourceState,
        bytes: &[u8],
    ) -> Result<(), SinkError> {
        let sink = self.format.name();
        match &mut self.output {
            Output::Stdout { header_written } => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)
                    .and_then(|()| out.flush())
                    .map_err(|e| SinkError::io(sink, "writing rows to", "<stdout>", e))?;
                *header_written |= !bytes.is_empty();
            }
            Output::File(data) => {
                // In place rather than on a copy of every source's state (a clone per page):
                // a failed append puts the previous state back.
                let previous = self.sources.insert(source.clone(), state);
                if let Err(err) = data.append(self.format, bytes) {
                    match previous {
                        Some(previous) => self.sources.insert(source, previous),
                        None => self.sources.remove(&source),
                    };
                    return Err(err);
                }
                return Ok(());
            }
        }
        self.sources.insert(source, state);
        Ok(())
    }

    /// Makes what was appended durable with the state that covers it: when `now`, or when
    /// the last sync is the file's interval old. A failed sync breaks the file for this
    /// process ([`DataFile::sync`]).
    fn sync(&mut self, now: bool) -> Result<(), SinkError> {
        match &mut self.output {
            Output::File(data)
                if data.pending && (now || data.synced_at.elapsed() >= data.interval) =>
            {
                data.sync(self.format, &self.sources)
            }
            _ => Ok(()),
        }
    }
}

impl Output {
    /// True when nothing was written yet (a CSV header is due).
    fn at_start(&self) -> bool {
        match self {
            Output::File(data) => data.appended == 0,
            Output::Stdout { header_written } => !header_written,
        }
    }

    fn label(&self) -> PathBuf {
        match self {
            Output::File(data) => data.path.clone(),
            Output::Stdout { .. } => PathBuf::from("<stdout>"),
        }
    }
}

impl DataFile {
    /// Refuses every write once a sync has failed.
    fn usable(&self, sink: &'static str) -> Result<(), SinkError> {
        if self.broken {
            let cause = "an earlier sync failed, so rows appended since the last one may not \
                         be on disk; open the file again to continue from what is";
            return Err(SinkError::io(
                sink,
                "writing to",
                &self.path,
                io::Error::other(cause),
            ));
        }
        Ok(())
    }

    /// Appends `bytes` (not yet fsynced), first cutting off what a failed append left.
    fn append(&mut self, format: FileFormat, bytes: &[u8]) -> Result<(), SinkError> {
        let sink = format.name();
        self.usable(sink)?;
        if self.dirty {
            self.file.set_len(self.appended).map_err(|e| {
                SinkError::io(sink, "cutting off a failed append to", &self.path, e)
            })?;
            self.dirty = false;
        }
        self.pending = true;
        if !bytes.is_empty() {
            self.dirty = true;
            self.file
                .write_all(bytes)
                .map_err(|e| SinkError::io(sink, "appending rows to", &self.path, e))?;
            self.dirty = false;
            self.appended += bytes.len() as u64;
        }
        Ok(())
    }

    /// Fsyncs the appended bytes, then replaces the state file with `sources` and the
    /// appended length. Any failure breaks the file for this process: the pages appended
    /// since the last sync were reported committed, and a retried fsync can succeed without
    /// their bytes, so none is tried; the next run resumes from the last sync.
    fn sync(
        &mut self,
        format: FileFormat,
        sources: &BTreeMap<SourceId, SourceState>,
    ) -> Result<(), SinkError> {
        let sink = format.name();
        self.usable(sink)?;
        let result = self.write_durably(sink, sources);
        self.broken = result.is_err();
        result
    }

    fn write_durably(
        &mut self,
        sink: &'static str,
        sources: &BTreeMap<SourceId, SourceState>,
    ) -> Result<(), SinkError> {
        if self.appended > self.committed {
            self.file
                .sync_data()
                .map_err(|e| SinkError::io(sink, "syncing rows to", &self.path, e))?;
        }
        let state = StateFileOut::new(sink, self.appended, sources);
        // Compact: it is rewritten often.
        let encoded = serde_json::to_vec(&state).map_err(|e| {
            SinkError::io(
                sink,
                "encoding state file",
                &self.state_path,
                io::Error::other(e),
            )
        })?;
        state_file::write_atomic(&self.state_path, &encoded)
            .map_err(|(action, e)| SinkError::io(sink, action, &self.state_path, e))?;
        self.committed = self.appended;
        self.pending = false;
        self.synced_at = Instant::now();
        Ok(())
    }
}

fn parse_state(
    sink: &'static str,
    path: &Path,
    bytes: &[u8],
    format: FileFormat,
) -> Result<StateFile, SinkError> {
    let hint =
        "delete it to start over (rows already in the data file are kept and not written again)";
    let state: StateFile = serde_json::from_slice(bytes).map_err(|e| {
        SinkError::corrupt(sink, path.display().to_string(), format!("{e}; {hint}"))
    })?;
    state.validate().map_err(|detail| {
        SinkError::corrupt(
            sink,
            path.display().to_string(),
            format!("{detail}; {hint}"),
        )
    })?;
    if state.data_format != format.name() {
        return Err(SinkError::corrupt(
            sink,
            path.display().to_string(),
            format!(
                "it belongs to a {} file, not {}; use another path",
                state.data_format,
                format.name()
            ),
        ));
    }
    Ok(state)
}

/// Scans the first `limit` bytes of the data file.
fn scan_file(path: &Path, format: FileFormat, limit: u64, strict: bool) -> Result<Scan, ScanError> {
    if limit == 0 {
        return Ok(Scan::default());
    }
    let mut file = File::open(path).map_err(ScanError::Io)?;
    match format {
        FileFormat::Ndjson => ndjson::scan(BufReader::new(file.take(limit)), strict),
        FileFormat::Csv => {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(limit - 1))
                .and_then(|_| file.read_exact(&mut last))
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .map_err(ScanError::Io)?;
            csv::scan(BufReader::new(file.take(limit)), last[0] == b'\n', strict)
        }
    }
}
