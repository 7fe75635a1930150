//! NDJSON and CSV output, to a file (resumable) or to standard output.
//!
//! A file commit appends the page's new rows and fsyncs them, then replaces the state file
//! `<file>.state.json` atomically; the state records how many bytes of the data file are
//! committed. Opening the file again cuts off anything past that length (a page whose
//! commit never completed), and rebuilds the set of keys already written from the file, so
//! a replayed page never writes a row twice.

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

use affiliate_core::{Invitee, SourceId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::{info, warn};

use self::scan::{Scan, ScanError, Version};
use self::state_file::{StateFile, StateFileOut};
use self::written::{KeyDigest, VersionDigest, Written};
use super::{CommitOutcome, OwnedCommit, PageCommit, Sink};
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
        let mut out = Vec::new();
        match self {
            FileFormat::Ndjson => {
                ndjson::encode(rows, synced_at, &mut out).map_err(|e| e.to_string())?
            }
            FileFormat::Csv => {
                csv::encode(rows, synced_at, header, &mut out).map_err(|e| e.to_string())?
            }
        }
        Ok(out)
    }
}

/// Writes invitees as NDJSON or CSV lines, to a file or to standard output.
///
/// * **File**: exactly-once and resumable. Rows are appended and fsynced, then the state
///   file `<path>.state.json` is replaced atomically. A record the file does not hold yet
///   is appended with `change = "new"`; a record whose tracked columns
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
    /// Bytes of the file that are committed.
    committed: u64,
    /// Bytes past `committed` may have been written by a failed commit.
    dirty: bool,
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
            inner.save(source, state, &[])
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
            inner.save(source, state, &[])
        })
        .await
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
                dirty: false,
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
        let mut in_page = HashSet::new();
        let mut written = Vec::new();
        let mut written_keys = Vec::new();
        let mut outcome = CommitOutcome::default();
        for row in c.rows {
            if !in_page.insert((&row.source, row.id.as_str())) {
                outcome.existing += 1;
                continue;
            }
            let (key, version) = (KeyDigest::of(row), VersionDigest::of(row));
            let kind = if !self.written.has_key(key) {
                outcome.inserted += 1;
                Version::New
            } else if !self.written.has_version(key, version) {
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
        self.save(source, state, &bytes)?;
        for (key, version) in written_keys {
            self.written.insert(key, version);
        }
        Ok(outcome)
    }

    /// Appends `bytes` and stores `state` for `source`, atomically as far as the output
    /// allows; the in-memory state changes only when both succeeded.
    fn save(
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
                // a failed commit puts the previous state back.
                let previous = self.sources.insert(source.clone(), state);
                if let Err(err) = data.commit(self.format, bytes, &self.sources) {
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
}

impl Output {
    /// True when nothing was written yet (a CSV header is due).
    fn at_start(&self) -> bool {
        match self {
            Output::File(data) => data.committed == 0,
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
    /// Appends and fsyncs `bytes`, then replaces the state file with `sources` and the new
    /// committed length.
    fn commit(
        &mut self,
        format: FileFormat,
        bytes: &[u8],
        sources: &BTreeMap<SourceId, SourceState>,
    ) -> Result<(), SinkError> {
        let sink = format.name();
        if self.dirty {
            self.file.set_len(self.committed).map_err(|e| {
                SinkError::io(sink, "cutting off a failed append to", &self.path, e)
            })?;
            self.dirty = false;
        }
        if !bytes.is_empty() {
            self.dirty = true;
            self.file
                .write_all(bytes)
                .and_then(|()| self.file.sync_data())
                .map_err(|e| SinkError::io(sink, "appending rows to", &self.path, e))?;
        }
        let data_len = self.committed + bytes.len() as u64;
        let state = StateFileOut::new(sink, data_len, sources);
        // Compact: it is rewritten after every page.
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
        self.committed = data_len;
        self.dirty = false;
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
