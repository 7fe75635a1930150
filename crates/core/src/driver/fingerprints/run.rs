//! A sorted run of fingerprints in a temporary file, looked up through memory-resident
//! summaries.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::bloom::Bloom;

/// Entries per block: one 4 KiB read answers a lookup.
const BLOCK: usize = 256;
/// Bytes per entry on disk.
const ENTRY: usize = 16;

/// Fingerprints in ascending order in an anonymous temporary file (deleted when dropped,
/// and by the system if the process dies). Memory holds only a [`Bloom`] filter of the
/// entries' high 64 bits (1.5 bytes per entry) and the first entry of every block of
/// [`BLOCK`] (1/16 byte per entry): a lookup the filter rules out reads nothing, any other
/// reads one block. Reads go through `pread`, not a memory map, so the file's pages stay
/// in the page cache and out of the process's resident memory.
#[derive(Debug)]
pub(super) struct DiskRun {
    file: File,
    len: usize,
    /// The first entry of every block.
    firsts: Vec<u128>,
    bloom: Bloom,
}

impl DiskRun {
    /// Writes `len` entries, ascending, to a new temporary file in `dir` (the system's
    /// temporary directory when `None`).
    pub(super) fn write(
        dir: Option<&Path>,
        len: usize,
        entries: impl IntoIterator<Item = io::Result<u128>>,
    ) -> io::Result<Self> {
        let file = match dir {
            Some(dir) => tempfile::tempfile_in(dir)?,
            None => tempfile::tempfile()?,
        };
        let mut out = BufWriter::with_capacity(64 * 1024, &file);
        let mut firsts = Vec::with_capacity(len.div_ceil(BLOCK));
        let mut bloom = Bloom::with_capacity(len);
        let mut written = 0;
        for entry in entries {
            let entry = entry?;
            if written % BLOCK == 0 {
                firsts.push(entry);
            }
            bloom.insert(high(entry));
            out.write_all(&entry.to_le_bytes())?;
            written += 1;
        }
        out.flush()?;
        drop(out);
        if written != len {
            return Err(io::Error::other(format!(
                "a run of {len} fingerprints got {written}"
            )));
        }
        Ok(Self {
            file,
            len,
            firsts,
            bloom,
        })
    }

    /// Merges two runs into a new one holding both lengths: an entry in both (one
    /// [`add`](super::FingerprintSet::add)ed twice) is kept twice, which lookups do not mind.
    pub(super) fn merge(dir: Option<&Path>, a: &DiskRun, b: &DiskRun) -> io::Result<Self> {
        let mut left = a.entries().peekable();
        let mut right = b.entries().peekable();
        let entries = std::iter::from_fn(move || {
            let take_left = match (left.peek(), right.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) | (_, None) => true,
                (_, Some(Err(_))) | (None, _) => false,
                (Some(Ok(l)), Some(Ok(r))) => l <= r,
            };
            if take_left {
                left.next()
            } else {
                right.next()
            }
        });
        Self::write(dir, a.len + b.len, entries)
    }

    /// Entries held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// True when `fp` is held.
    pub(super) fn contains(&self, fp: u128) -> io::Result<bool> {
        if !self.bloom.may_hold(high(fp)) {
            return Ok(false);
        }
        let block = self.firsts.partition_point(|first| *first <= fp);
        let Some(block) = block.checked_sub(1) else {
            return Ok(false);
        };
        Ok(self.block(block)?.binary_search(&fp).is_ok())
    }

    /// True when an entry's high 64 bits are `key`.
    pub(super) fn any_with_high_bits(&self, key: u64) -> io::Result<bool> {
        if !self.bloom.may_hold(key) {
            return Ok(false);
        }
        let low_end = u128::from(key) << 64;
        // The first entry at or above `low_end` ends the block before `after`, or starts it.
        let after = self.firsts.partition_point(|first| *first < low_end);
        let mut first_at_or_above = None;
        if let Some(before) = after.checked_sub(1) {
            let block = self.block(before)?;
            first_at_or_above = block.get(block.partition_point(|e| *e < low_end)).copied();
        }
        let first = first_at_or_above.or_else(|| self.firsts.get(after).copied());
        Ok(first.is_some_and(|entry| high(entry) == key))
    }

    /// The entries of block `index`.
    fn block(&self, index: usize) -> io::Result<Vec<u128>> {
        let start = index * BLOCK;
        let count = BLOCK.min(self.len - start);
        let mut bytes = vec![0u8; count * ENTRY];
        self.file
            .read_exact_at(&mut bytes, (start * ENTRY) as u64)?;
        Ok(bytes
            .chunks_exact(ENTRY)
            .map(|chunk| {
                let mut entry = [0u8; ENTRY];
                entry.copy_from_slice(chunk);
                u128::from_le_bytes(entry)
            })
            .collect())
    }

    /// Every entry in order, read a block at a time.
    fn entries(&self) -> impl Iterator<Item = io::Result<u128>> + '_ {
        (0..self.firsts.len()).flat_map(move |index| match self.block(index) {
            Ok(block) => block.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(err) => vec![Err(err)],
        })
    }
}

fn high(entry: u128) -> u64 {
    (entry >> 64) as u64
}
