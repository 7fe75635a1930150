//! The operator view: `GET /v1/admin/referrals/users/{user_id}` with `X-Admin-Token`.

use affiliate_core::SourceError;
use affiliate_http::Query;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::client::Credential;
use crate::{TriportClient, TriportError};

/// One user's referral standing plus the tail of their attribution log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OperatorView {
    /// The inspected user (echoes the request).
    pub user_id: String,
    /// Numeric referral tier.
    pub tier: i64,
    /// Human-readable tier ("Silver").
    pub tier_label: String,
    /// Commission rate in basis points (1500 = 15 %).
    pub rate_bps: i64,
    /// The always-available referral code.
    pub primary_code: String,
    /// Vanity slug, if the user set one.
    pub custom_slug: Option<String>,
    /// Invitees who became paying customers.
    pub paid_invitees_info: i64,
    /// Earnings, in micro-units.
    pub balance: Balance,
    /// Up to 50 most recent attribution rows, newest first.
    pub recent_attributions: Vec<Attribution>,
}

/// Earnings balance in micro-units (millionths of the account currency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Earned, not yet unlocked.
    pub pending_micro: i64,
    /// Unlocked, available to spend or withdraw.
    pub available_micro: i64,
    /// Earned over the account's lifetime.
    pub lifetime_micro: i64,
}

/// What an attribution row records. Unknown events are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttributionEvent {
    /// An invitee signed up.
    Signup,
    /// An invitee paid for the first time.
    FirstPaid,
    /// An attribution was rejected.
    Rejected,
    /// The user's tier changed.
    TierChanged,
    /// An event this version does not know.
    Other(String),
}

impl AttributionEvent {
    fn as_str(&self) -> &str {
        match self {
            AttributionEvent::Signup => "signup",
            AttributionEvent::FirstPaid => "first-paid",
            AttributionEvent::Rejected => "rejected",
            AttributionEvent::TierChanged => "tier-changed",
            AttributionEvent::Other(s) => s,
        }
    }
}

impl Serialize for AttributionEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AttributionEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match String::deserialize(d)?.as_str() {
            "signup" => AttributionEvent::Signup,
            "first-paid" | "first_paid" => AttributionEvent::FirstPaid,
            "rejected" => AttributionEvent::Rejected,
            "tier-changed" | "tier_changed" => AttributionEvent::TierChanged,
            other => AttributionEvent::Other(other.to_owned()),
        })
    }
}

/// One attribution audit row. Triport sends these with Go-style PascalCase keys (`ID`,
/// `UserID`, `Event`, `CreatedAt`); fields this version does not model are kept in
/// [`Attribution::other`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Attribution {
    /// Row id (`ID`), as text whether Triport sends a number or a string.
    #[serde(rename = "ID", deserialize_with = "id_text")]
    pub id: String,
    /// The user the row belongs to (`UserID`).
    #[serde(rename = "UserID", default)]
    pub user_id: Option<String>,
    /// What happened (`Event`).
    #[serde(rename = "Event")]
    pub event: AttributionEvent,
    /// When it happened (`CreatedAt`).
    #[serde(rename = "CreatedAt", default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

fn id_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "ID must be a number or string, got {other}"
        ))),
    }
}

impl TriportClient {
    /// The operator view of one user. The id is checked to be a UUID before any request;
    /// the admin token must be configured.
    pub async fn get_user(&self, user_id: &str) -> Result<OperatorView, SourceError> {
        let path_label = "/v1/admin/referrals/users/{user_id}";
        let id = uuid::Uuid::parse_str(user_id.trim())
            .map_err(|_| self.fail(TriportError::NotAUuid(user_id.to_owned()), path_label, 0))?;
        let Some(token) = &self.shared.admin_token else {
            return Err(self.fail(
                TriportError::MissingCredential("Triport operator token (TRIPORT_ADMIN_TOKEN)"),
                path_label,
                0,
            ));
        };
        let path = format!("/v1/admin/referrals/users/{}", id.hyphenated());
        self.get_json(&path, &Query::new(), Credential::AdminToken(token))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribution_keeps_pascal_case_and_unknown_fields() {
        let row: Attribution = serde_json::from_value(serde_json::json!({
            "ID": 17, "UserID": "u", "Event": "payout-held", "CreatedAt": "2026-01-02T03:04:05Z",
            "Meta": {"k": 1}, "InviteeID": "x"
        }))
        .unwrap();
        assert_eq!(row.id, "17");
        assert_eq!(row.event, AttributionEvent::Other("payout-held".into()));
        assert_eq!(row.other["Meta"]["k"], 1);
        assert_eq!(row.other["InviteeID"], "x");
        let back = serde_json::to_value(&row).unwrap();
        assert_eq!(back["Event"], "payout-held");
        assert_eq!(back["Meta"]["k"], 1);
    }
}
