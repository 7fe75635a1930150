//! The set of records one listing has already emitted.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

/// Ids emitted so far by one listing, shared by all of its slices.
///
/// Stores a 128-bit fingerprint per id (two independent SipHash digests), so memory is
/// 16 bytes per record whatever the id's length, and a false "already seen" needs a
/// 128-bit collision (about 10⁻²⁷ for a million records).
#[derive(Debug, Clone, Default)]
pub struct SeenSet {
    inner: Arc<Mutex<HashSet<u128>>>,
}

impl SeenSet {
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

    /// Records `id`; true when it was not seen before.
    pub fn insert(&self, id: &str) -> bool {
        let fp = Self::fingerprint(id);
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(fp)
    }

    /// Whether `id` was emitted already.
    pub fn contains(&self, id: &str) -> bool {
        let fp = Self::fingerprint(id);
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&fp)
    }

    /// Number of distinct ids seen.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
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
}
