//! The set of records one listing has already emitted.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use super::FingerprintSet;

/// Ids emitted so far by one listing, shared by all of its slices.
///
/// Stores a 128-bit fingerprint per id (XXH3-128), so a false
/// "already seen" needs a 128-bit collision (about 10⁻²⁷ for a million records).
/// They are kept in a [`FingerprintSet`], whose bulk lives in temporary files: about 1.6
/// bytes of memory per record.
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

    /// A set holding `ids` already (the newest rows a resumed run had read); an id given
    /// twice counts twice in [`SeenSet::len`].
    pub fn holding<'a>(ids: impl IntoIterator<Item = &'a String>) -> Self {
        let seen = Self::new();
        {
            let mut set = seen.lock();
            for id in ids {
                set.add(Self::fingerprint(id));
            }
        }
        seen
    }

    /// Records `id`; true when it was not seen before. Fails only when a temporary file
    /// the set wrote cannot be read back.
    pub fn insert(&self, id: &str) -> io::Result<bool> {
        self.lock().insert(Self::fingerprint(id))
    }

    /// Whether `id` was emitted already. Fails only when a temporary file the set wrote
    /// cannot be read back.
    pub fn contains(&self, id: &str) -> io::Result<bool> {
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
        let seen = SeenSet::holding(&["h".to_owned()]);
        assert!(seen.insert("a").unwrap());
        assert!(!seen.insert("a").unwrap());
        assert!(seen.contains("a").unwrap());
        assert!(!seen.contains("b").unwrap());
        assert!(!seen.insert("h").unwrap(), "held from the start");
        assert_eq!(seen.clone().len(), 2);
    }

    #[test]
    fn survives_merges() {
        let seen = SeenSet::new();
        let n = FingerprintSet::MERGE_AT * 2 + 17;
        for i in 0..n {
            assert!(seen.insert(&i.to_string()).unwrap());
        }
        for i in 0..n {
            assert!(!seen.insert(&i.to_string()).unwrap(), "{i}");
        }
        assert_eq!(seen.len(), n);
        assert!(!seen.contains("nope").unwrap());
    }

    #[test]
    fn a_listing_longer_than_memory_holds_is_still_seen_once() {
        // Past the spill point twice: most ids live in runs on disk.
        let seen = SeenSet::new();
        let n = FingerprintSet::SPILL_AT * 2 + 17;
        for i in 0..n {
            assert!(seen.insert(&format!("id-{i}")).unwrap());
        }
        for i in (0..n).step_by(7) {
            assert!(!seen.insert(&format!("id-{i}")).unwrap(), "{i}");
            assert!(seen.contains(&format!("id-{i}")).unwrap(), "{i}");
            assert!(!seen.contains(&format!("other-{i}")).unwrap(), "{i}");
        }
        assert_eq!(seen.len(), n);
    }
}
