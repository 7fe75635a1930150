//! A set of 128-bit fingerprints whose memory stays flat: the bulk lives in temporary
//! files.

mod bloom;
mod run;

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::path::PathBuf;

use tracing::warn;

use run::DiskRun;

/// A set of `u128` fingerprints in three tiers: new entries in a small hash set, merged
/// every [`FingerprintSet::MERGE_AT`] entries into a sorted vector, which goes to a sorted
/// run in an anonymous temporary file once it holds [`FingerprintSet::SPILL_AT`] (runs of
/// equal size are merged, so a set of n entries has about log2(n / `SPILL_AT`) of them).
/// Memory stays at about 1.6 bytes per entry on disk (each run's Bloom filter and block
/// index) plus the two small tiers: a listing or data file of a million records no longer
/// holds 16 bytes per record (a plain hash set peaks near 50). A lookup the filters rule
/// out reads nothing; any other reads one 4 KiB block per run the filter lets through
/// (through the page cache, not the process's memory).
///
/// When a temporary file cannot be written (no space, no writable temporary directory),
/// the set warns once and keeps everything in memory: nothing is lost. Reading a run back
/// can fail only on an I/O error, which lookups return.
///
/// Besides exact lookups it answers "any entry with these high 64 bits?"
/// ([`FingerprintSet::any_with_high_bits`]), so a fingerprint can carry a key in its high
/// bits and a version in its low bits.
///
/// ```
/// use affiliate_core::driver::FingerprintSet;
///
/// let mut set = FingerprintSet::new();
/// assert!(set.insert((7 << 64) | 1)?);
/// assert!(!set.insert((7 << 64) | 1)?);
/// assert!(set.any_with_high_bits(7)?);
/// assert!(!set.contains(8 << 64)?);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct FingerprintSet {
    sorted: Vec<u128>,
    recent: HashSet<u128, AlreadyHashed>,
    /// The high 64 bits of every entry in `recent`.
    recent_high: HashSet<u64, AlreadyHashed>,
    /// Older entries in temporary files, largest first.
    runs: Vec<DiskRun>,
    /// Entries `sorted` holds before it goes to a run (`usize::MAX` once a write failed).
    spill_at: usize,
    /// Where runs are written (the system's temporary directory when `None`).
    dir: Option<PathBuf>,
}

impl Default for FingerprintSet {
    fn default() -> Self {
        Self::with_spill_at(Self::SPILL_AT)
    }
}

/// Fingerprints are digests already: hashing them again (SipHash, by default) only costs.
type AlreadyHashed = BuildHasherDefault<Fold>;

/// Folds a fingerprint to its own bits.
#[derive(Debug, Default)]
struct Fold(u64);

impl Hasher for Fold {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }

    fn write_u128(&mut self, v: u128) {
        self.0 ^= (v >> 64) as u64 ^ v as u64;
    }
}

impl FingerprintSet {
    /// Entries kept in the hash set before they are merged into the sorted vector: small,
    /// since every listing and every file sink holds one batch. (From 1 << 16 to 1 << 14
    /// took a SQLite sync of a million records from 45.7 to 32.2 MiB peak; with runs on
    /// disk, 1 << 11 and a [`Self::SPILL_AT`] of 1 << 14 took an NDJSON sync of a million
    /// from 32.6 to 31.5 MiB against 1 << 12 and 1 << 15.) A merge moves the whole vector,
    /// at most [`Self::SPILL_AT`] entries.
    pub const MERGE_AT: usize = 1 << 11;

    /// Entries the sorted vector holds (256 KiB) before it is written out as a run.
    pub const SPILL_AT: usize = 1 << 14;

    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set that writes a run once `entries` are sorted in memory (at least
    /// [`Self::MERGE_AT`]; the default is [`Self::SPILL_AT`]).
    pub fn with_spill_at(entries: usize) -> Self {
        Self {
            sorted: Vec::new(),
            recent: HashSet::default(),
            recent_high: HashSet::default(),
            runs: Vec::new(),
            spill_at: entries.max(Self::MERGE_AT),
            dir: None,
        }
    }

    /// True when `fp` is in the set; fails only when a run cannot be read back.
    pub fn contains(&self, fp: u128) -> io::Result<bool> {
        if self.recent.contains(&fp) || self.sorted.binary_search(&fp).is_ok() {
            return Ok(true);
        }
        for run in &self.runs {
            if run.contains(fp)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// True when any entry's high 64 bits are `high`; fails only when a run cannot be read
    /// back.
    pub fn any_with_high_bits(&self, high: u64) -> io::Result<bool> {
        let low_end = u128::from(high) << 64;
        let first = self.sorted.partition_point(|fp| *fp < low_end);
        let in_sorted = self
            .sorted
            .get(first)
            .is_some_and(|fp| (fp >> 64) as u64 == high);
        if in_sorted || self.recent_high.contains(&high) {
            return Ok(true);
        }
        for run in &self.runs {
            if run.any_with_high_bits(high)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Adds `fp`; true when it was not in the set. Fails only when a run cannot be read
    /// back (the set is then unchanged).
    pub fn insert(&mut self, fp: u128) -> io::Result<bool> {
        if self.contains(fp)? {
            return Ok(false);
        }
        self.add(fp);
        Ok(true)
    }

    /// Adds `fp` without looking it up, so it cannot fail (for a caller that knows `fp` is
    /// new, or does not mind it being held twice: lookups still answer right, and
    /// [`FingerprintSet::len`] counts it twice).
    pub fn add(&mut self, fp: u128) {
        if !self.recent.insert(fp) {
            return;
        }
        self.recent_high.insert((fp >> 64) as u64);
        if self.recent.len() >= Self::MERGE_AT {
            let mut batch: Vec<u128> = self.recent.drain().collect();
            batch.sort_unstable();
            merge_into(&mut self.sorted, &batch);
            self.recent_high.clear();
            if self.sorted.len() >= self.spill_at {
                self.spill();
            }
        }
    }

    /// Writes the sorted vector out as a run and merges runs of equal size; on a failed
    /// write, keeps everything in memory from now on.
    fn spill(&mut self) {
        let entries = self.sorted.iter().map(|fp| Ok(*fp));
        match DiskRun::write(self.dir.as_deref(), self.sorted.len(), entries) {
            Ok(run) => {
                self.sorted.clear();
                self.runs.push(run);
                self.merge_runs();
            }
            Err(err) => {
                warn!("could not write fingerprints to a temporary file ({err}); keeping them all in memory");
                self.spill_at = usize::MAX;
            }
        }
    }

    /// Merges the newest run into the one before it while that one is no larger.
    fn merge_runs(&mut self) {
        while let [.., older, newer] = self.runs.as_slice() {
            if older.len() > newer.len() {
                return;
            }
            match DiskRun::merge(self.dir.as_deref(), older, newer) {
                Ok(merged) => {
                    self.runs.truncate(self.runs.len() - 2);
                    self.runs.push(merged);
                }
                Err(err) => {
                    warn!("could not merge two temporary fingerprint files ({err}); keeping both");
                    return;
                }
            }
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len() + self.runs.iter().map(DiskRun::len).sum::<usize>()
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Merges the sorted `batch` into the sorted `sorted`, from the back, in place: O(n + b)
/// time and no scratch beyond the batch (re-sorting all n per merge made a listing of a
/// million records quadratic; a stable sort's merge would need n/2 of scratch).
fn merge_into(sorted: &mut Vec<u128>, batch: &[u128]) {
    let old = sorted.len();
    sorted.reserve_exact(batch.len());
    sorted.resize(old + batch.len(), 0);
    let (mut i, mut j, mut out) = (old, batch.len(), sorted.len());
    while j > 0 {
        out -= 1;
        if i > 0 && sorted[i - 1] > batch[j - 1] {
            sorted[out] = sorted[i - 1];
            i -= 1;
        } else {
            sorted[out] = batch[j - 1];
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_a_batch_keeps_everything_sorted() {
        let mut sorted = vec![2, 4, 6, 8];
        merge_into(&mut sorted, &[1, 5, 9, 10]);
        assert_eq!(sorted, [1, 2, 4, 5, 6, 8, 9, 10]);
        let mut empty = Vec::new();
        merge_into(&mut empty, &[3, 7]);
        assert_eq!(empty, [3, 7]);
        merge_into(&mut empty, &[]);
        assert_eq!(empty, [3, 7]);
    }

    /// A well-mixed 128-bit value for `i`, as real fingerprints are.
    fn mixed(i: u64) -> u128 {
        xxhash_rust::xxh3::xxh3_128(&i.to_le_bytes())
    }

    #[test]
    fn exact_and_range_lookups_survive_merges_and_runs_on_disk() {
        // Small runs, so this set writes and merges several.
        let spill_at = FingerprintSet::MERGE_AT * 2;
        let n = (spill_at * 5 + 17) as u64;
        let mut set = FingerprintSet::with_spill_at(spill_at);
        for i in 0..n {
            assert!(set.insert(mixed(i)).unwrap(), "{i}");
        }
        assert!(!set.runs.is_empty(), "entries went to disk");
        assert!(
            set.runs.len() <= 3,
            "runs of equal size merge: {}",
            set.runs.len()
        );
        for i in 0..n {
            assert!(!set.insert(mixed(i)).unwrap(), "{i}");
            assert!(set.contains(mixed(i)).unwrap(), "{i}");
            assert!(!set.contains(mixed(i) ^ 1).unwrap(), "{i}");
        }
        assert_eq!(set.len(), n as usize);
        // A key in the high bits, versions in the low bits; two versions of every other key.
        let mut keyed = FingerprintSet::with_spill_at(spill_at);
        let key = |i: u64| (mixed(i) >> 64) as u64;
        for i in 0..n {
            keyed.insert((u128::from(key(i)) << 64) | 7).unwrap();
            if i % 2 == 0 {
                keyed.insert((u128::from(key(i)) << 64) | 9).unwrap();
            }
        }
        assert!(!keyed.runs.is_empty());
        for i in 0..n {
            assert!(keyed.any_with_high_bits(key(i)).unwrap(), "{i}");
            assert!(!keyed.any_with_high_bits(key(i) ^ 1).unwrap(), "{i}");
            let v9 = (u128::from(key(i)) << 64) | 9;
            assert_eq!(keyed.contains(v9).unwrap(), i % 2 == 0, "{i}");
        }
    }

    #[test]
    fn without_a_writable_directory_everything_stays_in_memory() {
        let mut set = FingerprintSet::with_spill_at(FingerprintSet::MERGE_AT);
        set.dir = Some(PathBuf::from("/nonexistent/affiliate-fingerprints"));
        let n = FingerprintSet::MERGE_AT as u64 * 3;
        for i in 0..n {
            assert!(set.insert(mixed(i)).unwrap());
        }
        assert!(set.runs.is_empty(), "no run could be written");
        assert_eq!(set.spill_at, usize::MAX, "no more tries");
        for i in 0..n {
            assert!(set.contains(mixed(i)).unwrap(), "{i}");
        }
        assert_eq!(set.len(), n as usize);
    }

    #[test]
    fn an_entry_added_twice_across_runs_is_still_found_after_their_merge() {
        let mut set = FingerprintSet::with_spill_at(FingerprintSet::MERGE_AT);
        let twice = mixed(u64::MAX);
        for round in 0..2u64 {
            set.add(twice);
            for i in 1..FingerprintSet::MERGE_AT as u64 {
                set.add(mixed(round * 1_000_000 + i));
            }
        }
        assert_eq!(set.runs.len(), 1, "two equal runs merged");
        assert!(set.contains(twice).unwrap());
        assert!(set.any_with_high_bits((twice >> 64) as u64).unwrap());
        assert!(!set.insert(twice).unwrap());
        assert_eq!(set.len(), 2 * FingerprintSet::MERGE_AT);
    }

    #[test]
    fn the_edges_of_the_key_range_are_found_on_disk() {
        let mut set = FingerprintSet::with_spill_at(FingerprintSet::MERGE_AT);
        let edges = [0, 1, u128::MAX, u128::MAX - 1, u128::from(u64::MAX)];
        for fp in edges {
            set.insert(fp).unwrap();
        }
        for i in 0..FingerprintSet::MERGE_AT as u64 {
            set.insert(mixed(i)).unwrap();
        }
        assert!(!set.runs.is_empty());
        for fp in edges {
            assert!(set.contains(fp).unwrap(), "{fp}");
            assert!(set.any_with_high_bits((fp >> 64) as u64).unwrap(), "{fp}");
        }
        assert!(!set.contains(2).unwrap());
    }
}
