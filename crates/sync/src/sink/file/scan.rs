//! What reading an existing data file yields: the keys already written and how many bytes
//! of it hold whole records.

use std::io;

use affiliate_core::driver::SeenSet;

/// The result of scanning a data file.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// Keys (provider, account, id) of every whole record.
    pub(super) keys: SeenSet,
    /// Bytes from the start of the file that hold whole records (and the header).
    pub(super) valid_len: u64,
    /// Number of whole records.
    pub(super) rows: u64,
}

/// Why a data file could not be scanned.
#[derive(Debug)]
pub(super) enum ScanError {
    /// Reading failed.
    Io(io::Error),
    /// The content is not what this sink writes; the text says where and why.
    Invalid(String),
}
