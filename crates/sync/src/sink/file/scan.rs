//! What reading an existing data file yields: the keys and versions already written and
//! how many bytes of it hold whole records.

use std::io;

use super::written::{KeyDigest, VersionDigest, Written};

/// The result of scanning a data file.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// The keys (provider, account, id) and versions of every whole record.
    pub(super) written: Written,
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

impl Scan {
    /// Counts one whole record: its key and its version.
    pub(super) fn record(&mut self, key: KeyDigest, version: VersionDigest) {
        self.written.insert(key, version);
        self.rows += 1;
    }
}

/// Whether a line holds a record seen for the first time or a changed version of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    /// The first version of the record in this file.
    New,
    /// A later version whose tracked columns differ from every earlier one.
    Changed,
}

impl Version {
    /// `new` or `changed`: the line's change marker.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Version::New => "new",
            Version::Changed => "changed",
        }
    }
}
