//! What a data file already holds: every key and every version written, in one set.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use affiliate_core::driver::FingerprintSet;

/// The keys and versions a data file holds, at 16 bytes per version written.
///
/// Each version is one 128-bit entry: a 64-bit digest of its row key in the high bits and
/// a 64-bit digest of its version key in the low bits. "Does the file hold this key?" is a
/// range query over the high bits, "this version?" an exact lookup. (Two separate 128-bit
/// sets took 32 bytes per record.) A false "this version is held" needs the key digest and
/// the version digest to collide at once, about 2⁻⁶⁴ per changed record; a key collision
/// alone only labels a new record `changed`.
#[derive(Debug, Default)]
pub(super) struct Written {
    entries: FingerprintSet,
}

impl Written {
    /// Whether any version of `key` was written.
    pub(super) fn has_key(&self, key: &str) -> bool {
        let high = u128::from(digest(key)) << 64;
        self.entries.any_in(high..=high | u128::from(u64::MAX))
    }

    /// Whether this exact version (`version` being its version key) was written.
    pub(super) fn has_version(&self, key: &str, version: &str) -> bool {
        self.entries.contains(entry(key, version))
    }

    /// Records a version as written.
    pub(super) fn insert(&mut self, key: &str, version: &str) {
        self.entries.insert(entry(key, version));
    }
}

fn entry(key: &str, version: &str) -> u128 {
    (u128::from(digest(key)) << 64) | u128::from(digest(version))
}

fn digest(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_versions_are_told_apart() {
        let mut written = Written::default();
        written.insert("k1", "k1|a");
        assert!(written.has_key("k1") && written.has_version("k1", "k1|a"));
        assert!(!written.has_version("k1", "k1|b"), "a changed version");
        assert!(!written.has_key("k2") && !written.has_version("k2", "k1|a"));
        written.insert("k1", "k1|b");
        assert!(written.has_version("k1", "k1|a") && written.has_version("k1", "k1|b"));
    }
}
