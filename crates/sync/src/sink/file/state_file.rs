//! The JSON state file kept next to a data file, replaced atomically (write a temporary
//! file, fsync it, rename it over the old one, fsync the directory).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use affiliate_core::SourceId;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::state::SourceState;

const MAGIC: &str = "affiliate-sync-state";
const VERSION: u32 = 1;

/// Everything the state file holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct StateFile {
    /// Always [`MAGIC`]; guards against pointing at an unrelated JSON file.
    format: String,
    /// Layout version.
    version: u32,
    /// `ndjson` or `csv`.
    pub(super) data_format: String,
    /// Bytes of the data file that are committed; anything after them is an uncommitted
    /// page from a crashed run and is cut off on open.
    pub(super) data_len: u64,
    /// Per-source state.
    pub(super) sources: Vec<SourceEntry>,
}

/// One source's state (a list, because JSON object keys must be strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct SourceEntry {
    pub(super) source: SourceId,
    pub(super) state: SourceState,
}

impl StateFile {
    /// Checks the magic and version; the error says what is wrong.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.format != MAGIC {
            return Err(format!(
                "\"format\" is {:?}, expected {MAGIC:?}",
                self.format
            ));
        }
        if self.version != VERSION {
            return Err(format!(
                "layout version {} is not supported (expected {VERSION})",
                self.version
            ));
        }
        Ok(())
    }
}

/// The state file as written: the same layout as [`StateFile`], borrowing every source's
/// state instead of cloning it for each page's commit.
#[derive(Serialize)]
pub(super) struct StateFileOut<'a> {
    format: &'static str,
    version: u32,
    data_format: &'a str,
    data_len: u64,
    sources: Vec<SourceEntryOut<'a>>,
}

#[derive(Serialize)]
struct SourceEntryOut<'a> {
    source: &'a SourceId,
    state: &'a SourceState,
}

impl<'a> StateFileOut<'a> {
    pub(super) fn new(
        data_format: &'a str,
        data_len: u64,
        sources: &'a BTreeMap<SourceId, SourceState>,
    ) -> Self {
        Self {
            format: MAGIC,
            version: VERSION,
            data_format,
            data_len,
            sources: sources
                .iter()
                .map(|(source, state)| SourceEntryOut { source, state })
                .collect(),
        }
    }
}

/// Where the state of data file `data` lives: `<data>.state.json`.
pub(super) fn state_path(data: &Path) -> PathBuf {
    let mut name = data.as_os_str().to_owned();
    name.push(".state.json");
    PathBuf::from(name)
}

/// Reads the state file; `Ok(None)` when it does not exist.
pub(super) fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Replaces the state file atomically and durably. On error the old file is untouched.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), (&'static str, io::Error)> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut file = File::create(&tmp).map_err(|e| ("creating temporary state file", e))?;
    file.write_all(bytes)
        .map_err(|e| ("writing temporary state file", e))?;
    file.sync_all()
        .map_err(|e| ("syncing temporary state file", e))?;
    drop(file);
    fs::rename(&tmp, path).map_err(|e| ("renaming state file into place", e))?;
    // The rename is done and visible; failing to make it durable across a power loss must
    // not make the caller believe the commit did not happen.
    if let Err(err) = sync_dir(path) {
        warn!(file = %path.display(), "could not fsync the state file's directory: {err}");
    }
    Ok(())
}

/// Makes a rename in the file's directory durable (a no-op where directories cannot be
/// opened, e.g. Windows).
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match File::open(dir) {
        Ok(dir) => dir.sync_all().or_else(|err| {
            // Some platforms refuse fsync on a directory handle; the rename stands.
            if err.kind() == io::ErrorKind::InvalidInput
                || err.kind() == io::ErrorKind::PermissionDenied
            {
                Ok(())
            } else {
                Err(err)
            }
        }),
        Err(_) if cfg!(windows) => Ok(()),
        Err(err) => Err(err),
    }
}
