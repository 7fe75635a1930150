//! What a data file already holds: every key and every version written, in one set.

use std::io;

use affiliate_core::driver::FingerprintSet;
use affiliate_core::Invitee;

use crate::sink::row::visit_value_cells;

/// The keys and versions a data file holds, in a [`FingerprintSet`] (16 bytes per version
/// written, mostly in temporary files: about 1.6 bytes of memory per version).
///
/// Each version is one 128-bit entry: the [`KeyDigest`] of its record in the high bits and
/// the [`VersionDigest`] of its tracked cells in the low bits. "Does the file hold this
/// key?" is a range query over the high bits, "this version?" an exact lookup. (Two
/// separate 128-bit sets of built strings took 32 bytes per record and most of a commit's
/// time.) A false "this version is held" needs both digests to collide at once, about 2⁻⁶⁴
/// per changed record; a key collision alone only labels a new record `changed`.
#[derive(Debug, Default)]
pub(super) struct Written {
    entries: FingerprintSet,
}

impl Written {
    /// Whether any version of the record was written. Fails only when a temporary file
    /// of the set cannot be read back.
    pub(super) fn has_key(&self, key: KeyDigest) -> io::Result<bool> {
        self.entries.any_with_high_bits(key.0)
    }

    /// Whether this exact version of the record was written (fails as
    /// [`Written::has_key`]).
    pub(super) fn has_version(&self, key: KeyDigest, version: VersionDigest) -> io::Result<bool> {
        self.entries.contains(entry(key, version))
    }

    /// Records a version as written, without looking it up first (a version recorded twice
    /// is harmless), so it cannot fail: rows already appended are always indexed.
    pub(super) fn insert(&mut self, key: KeyDigest, version: VersionDigest) {
        self.entries.add(entry(key, version));
    }
}

fn entry(key: KeyDigest, version: VersionDigest) -> u128 {
    (u128::from(key.0) << 64) | u128::from(version.0)
}

/// A 64-bit digest of a record's key (provider, account, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeyDigest(u64);

impl KeyDigest {
    /// The digest of a key given as its three text parts.
    pub(super) fn of_parts(provider: &str, account: &str, id: &str) -> Self {
        let mut hasher = CellHasher::default();
        for part in [provider, account, id] {
            hasher.cell(Some(part));
        }
        Self(hasher.finish())
    }

    /// The digest of `invitee`'s key.
    pub(super) fn of(invitee: &Invitee) -> Self {
        Self::of_parts(
            invitee.source.provider.as_str(),
            &invitee.source.account,
            &invitee.id,
        )
    }
}

/// A 64-bit digest of a version's 10 tracked cells in their stored text form, so a record
/// read back from a CSV file (all text) digests as it did when it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct VersionDigest(u64);

impl VersionDigest {
    /// The digest of `invitee`'s tracked cells.
    pub(super) fn of(invitee: &Invitee) -> Self {
        let mut hasher = CellHasher::default();
        visit_value_cells(invitee, |cell| hasher.cell(cell));
        Self(hasher.finish())
    }

    /// The digest of tracked cells given as text (a CSV row's).
    pub(super) fn of_cells<'a>(cells: impl IntoIterator<Item = Option<&'a str>>) -> Self {
        let mut hasher = CellHasher::default();
        for cell in cells {
            hasher.cell(cell);
        }
        Self(hasher.finish())
    }
}

/// Hashes text cells with a separator after each; an empty cell and a missing one hash
/// alike (CSV reads both as empty). The cells are gathered and hashed in one call with
/// XXH3 (SipHash, the std hasher, cost more than the rest of the digest together).
struct CellHasher(Vec<u8>);

impl Default for CellHasher {
    fn default() -> Self {
        // A record's tracked cells rarely pass 512 bytes: one allocation, no regrowth.
        Self(Vec::with_capacity(512))
    }
}

impl CellHasher {
    fn cell(&mut self, text: Option<&str>) {
        self.0
            .extend_from_slice(text.unwrap_or_default().as_bytes());
        self.0.push(0x1f);
    }

    fn finish(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use affiliate_core::{InviteeStatus, Provider, SourceId};

    use super::*;
    use crate::sink::row::value_cells;

    #[test]
    fn keys_and_versions_are_told_apart() {
        let (k1, k2) = (
            KeyDigest::of_parts("p", "a", "1"),
            KeyDigest::of_parts("p", "a", "2"),
        );
        let (va, vb) = (
            VersionDigest::of_cells([Some("a")]),
            VersionDigest::of_cells([Some("b")]),
        );
        let mut written = Written::default();
        written.insert(k1, va);
        assert!(written.has_key(k1).unwrap() && written.has_version(k1, va).unwrap());
        assert!(!written.has_version(k1, vb).unwrap(), "a changed version");
        assert!(!written.has_key(k2).unwrap() && !written.has_version(k2, va).unwrap());
        written.insert(k1, vb);
        assert!(written.has_version(k1, va).unwrap() && written.has_version(k1, vb).unwrap());
    }

    #[test]
    fn version_digests_follow_every_cell_and_match_the_text_form() {
        let none = VersionDigest::of_cells([None, None]);
        assert_eq!(
            none,
            VersionDigest::of_cells([None, Some("")]),
            "CSV reads both as empty"
        );
        assert_ne!(none, VersionDigest::of_cells([None, Some("x")]));
        assert_ne!(
            VersionDigest::of_cells([Some("x"), None]),
            VersionDigest::of_cells([None, Some("x")])
        );
        assert_ne!(
            KeyDigest::of_parts("p", "ab", "c"),
            KeyDigest::of_parts("p", "a", "bc")
        );

        let mut row = Invitee::new(
            SourceId::new(Provider::Triport, "a"),
            "u1",
            InviteeStatus::Joined,
        );
        row.total_paid_micro = Some(-5);
        row.invited_at = chrono::DateTime::from_timestamp(1_700_000_000, 123_456_789);
        row.extra.insert("k".into(), serde_json::json!([1, "x"]));
        let cells = value_cells(&row);
        assert_eq!(
            VersionDigest::of(&row),
            VersionDigest::of_cells(cells.iter().map(Option::as_deref)),
            "the record's digest is the digest of its stored text"
        );
        assert_eq!(
            KeyDigest::of(&row),
            KeyDigest::of_parts("triport", "a", "u1")
        );
    }
}
