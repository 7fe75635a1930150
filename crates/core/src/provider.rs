//! Which provider and which account a record came from.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A provider `affiliate` knows how to read. Unknown names are kept in [`Provider::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Provider {
    /// Triport console referrals (`/v1/referrals/invitees`).
    Triport,
    /// CoinW partner (affiliate) API.
    Coinw,
    /// Prefactor admin user invites.
    Prefactor,
    /// Census organization invitations.
    Census,
    /// A provider name this version does not know, kept verbatim.
    Other(String),
}

impl Provider {
    /// The stable lowercase name used in sinks, configs and logs.
    pub fn as_str(&self) -> &str {
        match self {
            Provider::Triport => "triport",
            Provider::Coinw => "coinw",
            Provider::Prefactor => "prefactor",
            Provider::Census => "census",
            Provider::Other(name) => name,
        }
    }

    /// Parses a stable name; anything unknown becomes [`Provider::Other`].
    pub fn parse(name: &str) -> Self {
        match name {
            "triport" => Provider::Triport,
            "coinw" => Provider::Coinw,
            "prefactor" => Provider::Prefactor,
            "census" => Provider::Census,
            other => Provider::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Provider {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(Provider::parse(&name))
    }
}

/// Identifies one configured source: a provider plus the account label the user gave it.
///
/// Stable across runs: sinks key rows and sync state by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourceId {
    /// The provider.
    pub provider: Provider,
    /// The account label (configured, or the provider's own account id).
    pub account: String,
}

impl SourceId {
    /// Builds a source id.
    pub fn new(provider: Provider, account: impl Into<String>) -> Self {
        Self {
            provider,
            account: account.into(),
        }
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_provider_names_are_kept() {
        let p: Provider = serde_json::from_str("\"acme\"").unwrap();
        assert_eq!(p, Provider::Other("acme".into()));
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"acme\"");
        assert_eq!(Provider::parse("coinw"), Provider::Coinw);
    }
}
