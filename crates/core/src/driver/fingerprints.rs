//! A compact set of 128-bit fingerprints: 16 bytes per entry, no doubling peaks.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// A set of `u128` fingerprints stored in one sorted vector (16 bytes per entry), with new
/// entries collected in a small hash set and merged in every [`FingerprintSet::MERGE_AT`]
/// entries. A plain hash set peaks near 50 bytes per entry while it grows; this one never
/// holds more than the vector plus one batch.
///
/// Besides exact lookups it answers "any entry with these high 64 bits?"
/// ([`FingerprintSet::any_with_high_bits`]), so a fingerprint can carry a key in its high
/// bits and a version in its low bits.
///
/// ```
/// use affiliate_core::driver::FingerprintSet;
///
/// let mut set = FingerprintSet::new();
/// assert!(set.insert((7 << 64) | 1));
/// assert!(!set.insert((7 << 64) | 1));
/// assert!(set.any_with_high_bits(7));
/// assert!(!set.contains(8 << 64));
/// ```
#[derive(Debug, Clone, Default)]
pub struct FingerprintSet {
    sorted: Vec<u128>,
    recent: HashSet<u128, AlreadyHashed>,
    /// The high 64 bits of every entry in `recent`.
    recent_high: HashSet<u64, AlreadyHashed>,
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
    /// since every listing and every file sink holds one batch. Going from 1 << 16 to
    /// 1 << 14 took a SQLite sync of a million records from 45.7 to 32.2 MiB peak
    /// (BENCHMARKS.md). A merge moves the whole vector, so a million entries cost about
    /// n² / 2 / MERGE_AT = 30 M moves over the whole listing.
    pub const MERGE_AT: usize = 1 << 14;

    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when `fp` is in the set.
    pub fn contains(&self, fp: u128) -> bool {
        self.recent.contains(&fp) || self.sorted.binary_search(&fp).is_ok()
    }

    /// True when any entry's high 64 bits are `high`.
    pub fn any_with_high_bits(&self, high: u64) -> bool {
        let low_end = u128::from(high) << 64;
        let first = self.sorted.partition_point(|fp| *fp < low_end);
        let in_sorted = self
            .sorted
            .get(first)
            .is_some_and(|fp| (fp >> 64) as u64 == high);
        in_sorted || self.recent_high.contains(&high)
    }

    /// Adds `fp`; true when it was not in the set.
    pub fn insert(&mut self, fp: u128) -> bool {
        if self.sorted.binary_search(&fp).is_ok() || !self.recent.insert(fp) {
            return false;
        }
        self.recent_high.insert((fp >> 64) as u64);
        if self.recent.len() >= Self::MERGE_AT {
            let mut batch: Vec<u128> = self.recent.drain().collect();
            batch.sort_unstable();
            merge_into(&mut self.sorted, &batch);
            self.recent_high.clear();
        }
        true
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
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

    #[test]
    fn exact_and_range_lookups_survive_merges() {
        let mut set = FingerprintSet::new();
        let n = FingerprintSet::MERGE_AT as u128 * 2 + 17;
        for i in 0..n {
            assert!(set.insert(i * 4));
        }
        for i in 0..n {
            assert!(!set.insert(i * 4), "{i}");
            assert!(set.contains(i * 4));
            assert!(!set.contains(i * 4 + 1));
        }
        assert_eq!(set.len(), n as usize);
        let mut keyed = FingerprintSet::new();
        for i in 0..n as u64 {
            keyed.insert((u128::from(i * 2) << 64) | 7);
        }
        for i in 0..n as u64 {
            assert!(keyed.any_with_high_bits(i * 2), "{i}");
            assert!(!keyed.any_with_high_bits(i * 2 + 1), "{i}");
        }
    }
}
