//! `GET /v1/referrals/invitees` and its normalisation into [`Invitee`]s.

use affiliate_core::{
    Cursor, Invitee, InviteeSource, InviteeStatus, Page, Position, Scope, SourceError, SourceId,
    Strategy, TransportStats,
};
use affiliate_http::Query;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::client::Credential;
use crate::{TriportClient, TriportError};

const PATH: &str = "/v1/referrals/invitees";

/// One row as Triport sends it.
#[derive(Debug, Deserialize)]
struct Row {
    /// A UUID, kept as Triport wrote it (the provider's own id, verbatim).
    user_id: String,
    display_name: Option<String>,
    #[serde(deserialize_with = "affiliate_core::time_text::deserialize")]
    signed_at: DateTime<Utc>,
    total_paid_micro: Option<i64>,
}

/// The documented body: `items` is never null.
#[derive(Debug, Deserialize)]
struct Body {
    items: Vec<Row>,
}

impl Row {
    fn into_invitee(self, source: &SourceId) -> Invitee {
        let mut invitee = Invitee::new(source.clone(), self.user_id, InviteeStatus::Joined);
        invitee.joined_at = Some(self.signed_at);
        invitee.display_name = self.display_name;
        invitee.total_paid_micro = self.total_paid_micro;
        invitee
    }
}

/// Decodes and normalises one `GET /v1/referrals/invitees` response body (for replaying
/// saved responses, and what [`TriportClient`]'s `fetch` does with each page).
///
/// ```
/// use affiliate_core::{Provider, SourceId};
/// let source = SourceId::new(Provider::Triport, "main");
/// let body = br#"{"items":[{"user_id":"3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e","display_name":"Ada",
///                 "signed_at":"2026-01-02T03:04:05Z","total_paid_micro":1500000}]}"#;
/// let rows = affiliate_triport::parse_invitees(&source, body).unwrap();
/// assert_eq!(rows[0].total_paid_micro, Some(1_500_000));
/// ```
pub fn parse_invitees(source: &SourceId, body: &[u8]) -> Result<Vec<Invitee>, serde_json::Error> {
    let body: Body = serde_json::from_slice(body)?;
    Ok(body
        .items
        .into_iter()
        .map(|r| r.into_invitee(source))
        .collect())
}

#[async_trait]
impl InviteeSource for TriportClient {
    fn transport_stats(&self) -> TransportStats {
        self.shared.http.transport_stats()
    }

    fn id(&self) -> &SourceId {
        &self.shared.id
    }

    fn strategy(&self) -> Strategy {
        Strategy::NewestFirstOffset
    }

    async fn plan(&self, _scope: &Scope) -> Result<Vec<Cursor>, SourceError> {
        Ok(vec![Cursor::at(Position::Offset {
            offset: 0,
            limit: self.shared.limit,
        })])
    }

    async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        let Position::Offset { offset, limit } = cursor.position else {
            return Err(self.fail(
                TriportError::Config(format!(
                    "Triport pages by offset, got {:?}",
                    cursor.position
                )),
                PATH,
                0,
            ));
        };
        let Some(session) = &self.shared.session else {
            return Err(self.fail(
                TriportError::MissingCredential("Triport session cookie (TRIPORT_SESSION)"),
                PATH,
                0,
            ));
        };
        let query = Query::new().push("limit", limit).push("offset", offset);
        let body: Body = self
            .get_json(PATH, &query, Credential::Session(session))
            .await?;
        Ok(Page {
            invitees: body
                .items
                .into_iter()
                .map(|r| r.into_invitee(&self.shared.id))
                .collect(),
            next: None,
            total: None,
        })
    }
}
