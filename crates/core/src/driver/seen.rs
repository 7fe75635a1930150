//! The set of records one listing has already emitted.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

/// Ids emitted so far by one listing, shared by all of its slices.
///
/// Stores a 128-bit fingerprint per id (two independent SipHash digests), so a false
/// "already seen" needs a 128-bit collision (about 10⁻²⁷ for a million records).
/// Fingerprints collect in a small hash set and are merged into one sorted vector every
/// [`SeenSet::MERGE_AT`] entries, so memory is 16 bytes per record with no doubling peaks
/// (a plain hash set peaks near 50 bytes per record while it grows).
#[derive(Debug, Clone, Default)]
pub struct SeenSet {
    inner: Arc<Mutex<Fingerprints>>,
}

#[derive(Debug, Default)]
struct Fingerprints {
    sorted: Vec<u128>,
    recent: HashSet<u128>,
}

impl Fingerprints {
    fn contains(&self, fp: u128) -> bool {
        self.recent.contains(&fp) || self.sorted.binary_search(&fp).is_ok()
    }

    fn insert(&mut self, fp: u128) -> bool {
        if self.contains(fp) {
            return false;
        }
        self.recent.insert(fp);
        if self.recent.len() >= SeenSet::MERGE_AT {
            let mut batch: Vec<u128> = self.recent.drain().collect();
            batch.sort_unstable();
            merge_into(&mut self.sorted, &batch);
        }
        true
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

impl SeenSet {
    /// Entries kept in the hash set before they are merged into the sorted vector.
    pub const MERGE_AT: usize = 1 << 16;

    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn fingerprint(id: &str) -> u128 {
        let mut low = DefaultHasher::new();
        id.hash(&mut low);
        let mut high = DefaultHasher::new();
        (0x5eed_u16, id).hash(&mut high);
        (u128::from(high.finish()) << 64) | u128::from(low.finish())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Fingerprints> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `id`; true when it was not seen before.
    pub fn insert(&self, id: &str) -> bool {
        self.lock().insert(Self::fingerprint(id))
    }

    /// Whether `id` was emitted already.
    pub fn contains(&self, id: &str) -> bool {
        self.lock().contains(Self::fingerprint(id))
    }

    /// Number of distinct ids seen.
    pub fn len(&self) -> usize {
        let inner = self.lock();
        inner.sorted.len() + inner.recent.len()
    }

    /// True when nothing was seen yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_once() {
        let seen = SeenSet::new();
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"));
        assert!(seen.contains("a"));
        assert!(!seen.contains("b"));
        assert_eq!(seen.clone().len(), 1);
    }

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
    fn survives_merges() {
        let seen = SeenSet::new();
        let n = SeenSet::MERGE_AT * 2 + 17;
        for i in 0..n {
            assert!(seen.insert(&i.to_string()));
        }
        for i in 0..n {
            assert!(!seen.insert(&i.to_string()), "{i}");
        }
        assert_eq!(seen.len(), n);
        assert!(!seen.contains("nope"));
    }
}
