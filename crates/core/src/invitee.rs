//! The one normalised record every adapter produces.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::rfc3339::{Fraction, Rfc3339};
use crate::SourceId;

/// Where an invitee stands. Unknown provider values are kept in [`InviteeStatus::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InviteeStatus {
    /// Invited, not yet joined.
    Invited,
    /// Signed up / claimed the invitation.
    Joined,
    /// The invitation was withdrawn.
    Revoked,
    /// A provider status this version does not know, kept verbatim.
    Other(String),
}

impl InviteeStatus {
    /// The stable lowercase name used in sinks.
    pub fn as_str(&self) -> &str {
        match self {
            InviteeStatus::Invited => "invited",
            InviteeStatus::Joined => "joined",
            InviteeStatus::Revoked => "revoked",
            InviteeStatus::Other(s) => s,
        }
    }

    /// Parses a stable name; anything else becomes [`InviteeStatus::Other`].
    pub fn parse(name: &str) -> Self {
        match name {
            "invited" => InviteeStatus::Invited,
            "joined" => InviteeStatus::Joined,
            "revoked" => InviteeStatus::Revoked,
            other => InviteeStatus::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for InviteeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for InviteeStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for InviteeStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(InviteeStatus::parse(&name))
    }
}

/// One person per source, normalised: every instant in UTC, every amount in integer
/// micro-units. Fields a provider does not have are `None`; provider-specific leftovers
/// live in [`Invitee::extra`].
///
/// Serialised flat (`provider`, `account`, `id`, ...), which is the NDJSON line format.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Invitee {
    /// Which provider and account the record came from.
    #[serde(flatten)]
    pub source: SourceId,
    /// The provider's own id of the person or invitation, as text.
    pub id: String,
    /// Where the invitee stands.
    pub status: InviteeStatus,
    /// When the invitation was created.
    pub invited_at: Option<DateTime<Utc>>,
    /// When the invitee signed up / claimed the invitation.
    pub joined_at: Option<DateTime<Utc>>,
    /// When the provider last changed the record.
    pub updated_at: Option<DateTime<Utc>>,
    /// Public display name.
    pub display_name: Option<String>,
    /// Email address (PII: sinks can hash or drop it).
    pub email: Option<String>,
    /// Lifetime amount paid, in micro-units (millionths of the account currency).
    pub total_paid_micro: Option<i64>,
    /// Role granted by the invitation.
    pub role: Option<String>,
    /// Provider id of whoever sent the invitation.
    pub invited_by: Option<String>,
    /// Provider-specific fields kept as they came.
    #[serde(default)]
    pub extra: Map<String, Value>,
}

/// Written by hand rather than derived: `#[serde(flatten)]` on `source` would route every
/// field through serde's map path, and chrono's own `Serialize` hands its text to the
/// serializer one character at a time (together a quarter of a sync's instructions into
/// NDJSON). The layout is the derived one: `source` flattened, `extra` left out when empty.
impl Serialize for Invitee {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let time = |at: Option<DateTime<Utc>>| at.map(|at| Rfc3339::new(at, Fraction::Auto));
        let mut row = serializer.serialize_struct("Invitee", 14)?;
        row.serialize_field("provider", &self.source.provider)?;
        row.serialize_field("account", &self.source.account)?;
        row.serialize_field("id", &self.id)?;
        row.serialize_field("status", &self.status)?;
        row.serialize_field("invited_at", &time(self.invited_at))?;
        row.serialize_field("joined_at", &time(self.joined_at))?;
        row.serialize_field("updated_at", &time(self.updated_at))?;
        row.serialize_field("display_name", &self.display_name)?;
        row.serialize_field("email", &self.email)?;
        row.serialize_field("total_paid_micro", &self.total_paid_micro)?;
        row.serialize_field("role", &self.role)?;
        row.serialize_field("invited_by", &self.invited_by)?;
        if self.extra.is_empty() {
            row.skip_field("extra")?;
        } else {
            row.serialize_field("extra", &self.extra)?;
        }
        row.end()
    }
}

impl Invitee {
    /// A record with only its identity and status set.
    pub fn new(source: SourceId, id: impl Into<String>, status: InviteeStatus) -> Self {
        Self {
            source,
            id: id.into(),
            status,
            invited_at: None,
            joined_at: None,
            updated_at: None,
            display_name: None,
            email: None,
            total_paid_micro: None,
            role: None,
            invited_by: None,
            extra: Map::new(),
        }
    }

    /// The newest instant known about the record (`updated_at`, `joined_at`, `invited_at`):
    /// what incremental watermarks are built from.
    pub fn activity_at(&self) -> Option<DateTime<Utc>> {
        [self.updated_at, self.joined_at, self.invited_at]
            .into_iter()
            .flatten()
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;

    #[test]
    fn serialises_flat_and_keeps_unknown_status() {
        let mut inv = Invitee::new(
            SourceId::new(Provider::Census, "acme"),
            "7",
            InviteeStatus::parse("expired"),
        );
        inv.extra.insert("claimed_by_id".into(), Value::from(11));
        let json = serde_json::to_value(&inv).unwrap();
        assert_eq!(json["provider"], "census");
        assert_eq!(json["account"], "acme");
        assert_eq!(json["status"], "expired");
        assert_eq!(json["extra"]["claimed_by_id"], 11);
        let back: Invitee = serde_json::from_value(json).unwrap();
        assert_eq!(back, inv);
    }

    #[test]
    fn the_hand_written_layout_is_the_flat_one_with_chrono_times() {
        let mut inv = Invitee::new(
            SourceId::new(Provider::Triport, "a"),
            "1",
            InviteeStatus::Joined,
        );
        inv.invited_at = DateTime::from_timestamp(1_700_000_000, 120_000_000);
        inv.total_paid_micro = Some(5);
        let text = serde_json::to_string(&inv).unwrap();
        let invited = serde_json::to_string(&inv.invited_at).unwrap();
        assert_eq!(
            text,
            format!(
                "{{\"provider\":\"triport\",\"account\":\"a\",\"id\":\"1\",\"status\":\"joined\",\
                 \"invited_at\":{invited},\"joined_at\":null,\"updated_at\":null,\
                 \"display_name\":null,\"email\":null,\"total_paid_micro\":5,\"role\":null,\
                 \"invited_by\":null}}"
            ),
            "field order, flat source, no empty extra, times as chrono writes them"
        );
        assert_eq!(serde_json::from_str::<Invitee>(&text).unwrap(), inv);
    }

    #[test]
    fn activity_is_the_newest_known_instant() {
        let mut inv = Invitee::new(
            SourceId::new(Provider::Triport, "a"),
            "1",
            InviteeStatus::Joined,
        );
        assert_eq!(inv.activity_at(), None);
        let early = DateTime::from_timestamp(100, 0).unwrap();
        let late = DateTime::from_timestamp(200, 0).unwrap();
        inv.invited_at = Some(early);
        inv.updated_at = Some(late);
        assert_eq!(inv.activity_at(), Some(late));
    }
}
