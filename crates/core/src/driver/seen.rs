//! The set of records one listing has already emitted.

use std::sync::{Arc, Mutex, PoisonError};

use super::FingerprintSet;

/// Ids emitted so far by one listing, shared by all of its slices.
///
/// Stores a 128-bit fingerprint per id (XXH3-128), so a false
/// "already seen" needs a 128-bit collision (about 10⁻²⁷ for a million records).
/// They are kept in a [`FingerprintSet`]: 16 bytes per record with no doubling peaks.
#[derive(Debug, Clone, Default)]
pub struct SeenSet {
    inner: Arc<Mutex<FingerprintSet>>,
}

impl SeenSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The 128-bit fingerprint of `text` (XXH3-128: a tenth of the cost of the two SipHash
    /// digests it replaced, which were 5 % of a sync's instructions with the change check's).
    fn fingerprint(text: &str) -> u128 {
        xxhash_rust::xxh3::xxh3_128(text.as_bytes())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FingerprintSet> {
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
        self.lock().len()
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
    fn survives_merges() {
        let seen = SeenSet::new();
        let n = FingerprintSet::MERGE_AT * 2 + 17;
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
