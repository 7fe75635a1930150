//! What happens to email addresses (PII) before rows reach a sink.

use std::fmt;
use std::fmt::Write as _;

use affiliate_core::Invitee;
use sha2::{Digest, Sha256};

/// How the engine treats [`Invitee::email`] before any sink sees the row.
///
/// ```
/// use affiliate_sync::EmailPolicy;
///
/// let policy = EmailPolicy::hash("pepper");
/// let hashed = policy.transform("Ana@Example.com ").unwrap();
/// assert_eq!(hashed.len(), 64);
/// assert_eq!(Some(hashed), policy.transform("ana@example.com"));
/// assert_eq!(EmailPolicy::Drop.transform("ana@example.com"), None);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailPolicy {
    /// Store addresses as the provider returned them.
    #[default]
    Keep,
    /// Store the lowercase hex SHA-256 of `salt` followed by the address, trimmed and
    /// lower-cased first (so the same person hashes alike across providers). Rows stay
    /// joinable on email without storing it; keep the salt secret, or the hash can be
    /// reversed by guessing addresses.
    Hash {
        /// Prepended to every address before hashing.
        salt: String,
    },
    /// Store no address at all.
    Drop,
}

impl EmailPolicy {
    /// [`EmailPolicy::Hash`] with `salt`.
    pub fn hash(salt: impl Into<String>) -> Self {
        EmailPolicy::Hash { salt: salt.into() }
    }

    /// The value to store for `email` under this policy.
    pub fn transform(&self, email: &str) -> Option<String> {
        match self {
            EmailPolicy::Keep => Some(email.to_owned()),
            EmailPolicy::Hash { salt } => Some(salted_sha256(salt, email)),
            EmailPolicy::Drop => None,
        }
    }

    /// Applies the policy to one record in place.
    pub fn apply(&self, invitee: &mut Invitee) {
        if matches!(self, EmailPolicy::Keep) {
            return;
        }
        invitee.email = invitee
            .email
            .take()
            .and_then(|email| self.transform(&email));
    }
}

impl fmt::Debug for EmailPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailPolicy::Keep => f.write_str("Keep"),
            EmailPolicy::Hash { .. } => f.debug_struct("Hash").field("salt", &"******").finish(),
            EmailPolicy::Drop => f.write_str("Drop"),
        }
    }
}

fn salted_sha256(salt: &str, email: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(email.trim().to_lowercase().as_bytes());
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use affiliate_core::{InviteeStatus, Provider, SourceId};

    use super::*;

    #[test]
    fn hash_matches_a_known_answer() {
        // printf 'saltana@example.com' | sha256sum
        assert_eq!(
            salted_sha256("salt", "ana@example.com"),
            "cf4f4850c663088f794408ad621b6e8b91ee01940f6d286ee082d3bd8c3970d9"
        );
    }

    #[test]
    fn policies_apply_in_place() {
        let mut row = Invitee::new(
            SourceId::new(Provider::Census, "a"),
            "1",
            InviteeStatus::Joined,
        );
        row.email = Some("ana@example.com".into());
        let mut kept = row.clone();
        EmailPolicy::Keep.apply(&mut kept);
        assert_eq!(kept.email.as_deref(), Some("ana@example.com"));
        let mut dropped = row.clone();
        EmailPolicy::Drop.apply(&mut dropped);
        assert_eq!(dropped.email, None);
        EmailPolicy::hash("salt").apply(&mut row);
        assert_eq!(row.email.as_deref().map(str::len), Some(64));
    }

    #[test]
    fn debug_hides_the_salt() {
        assert!(!format!("{:?}", EmailPolicy::hash("s3cret")).contains("s3cret"));
    }
}
