//! `GET /api/v1/invitations`, its pagination object, and the normalisation into
//! [`Invitee`]s.

use affiliate_core::{
    Cursor, Invitee, InviteeSource, InviteeStatus, Page, Position, Scope, SourceError, SourceId,
    Strategy, TransportStats,
};
use affiliate_http::Query;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::{CensusClient, CensusError, Order};

const PATH: &str = "/invitations";

/// One invitation as Census sends it. `claimed_*` are null until the invitation is
/// claimed.
#[derive(Debug, Deserialize)]
struct Row {
    id: u64,
    email: Option<String>,
    #[serde(
        default,
        deserialize_with = "affiliate_core::time_text::deserialize_option"
    )]
    created_at: Option<DateTime<Utc>>,
    created_by_id: Option<u64>,
    #[serde(
        default,
        deserialize_with = "affiliate_core::time_text::deserialize_option"
    )]
    claimed_at: Option<DateTime<Utc>>,
    claimed_by_id: Option<u64>,
    role: Option<String>,
    associated_workspace_invitations: Option<Value>,
}

/// The pagination object. Signed, so a negative number is reported as such rather than as
/// a decoding failure.
#[derive(Debug, Deserialize)]
struct Pagination {
    total_records: i64,
    per_page: i64,
    prev_page: Option<i64>,
    page: i64,
    next_page: Option<i64>,
    /// "The number of the last page with records": absent or null when there are none.
    #[serde(default)]
    last_page: Option<i64>,
}

/// `{"status": "success", "pagination": {…}, "data": […]}`.
#[derive(Debug, Deserialize)]
struct Body {
    pagination: Pagination,
    data: Vec<Row>,
}

impl Row {
    fn into_invitee(self, source: &SourceId) -> Invitee {
        let status = if self.claimed_at.is_some() {
            InviteeStatus::Joined
        } else {
            InviteeStatus::Invited
        };
        let mut invitee = Invitee::new(source.clone(), self.id.to_string(), status);
        invitee.invited_at = self.created_at;
        invitee.joined_at = self.claimed_at;
        invitee.email = self.email;
        invitee.role = self.role;
        invitee.invited_by = self.created_by_id.map(|id| id.to_string());
        if let Some(id) = self.claimed_by_id {
            invitee
                .extra
                .insert("claimed_by_id".into(), Value::from(id));
        }
        if let Some(workspaces) = self.associated_workspace_invitations {
            invitee
                .extra
                .insert("associated_workspace_invitations".into(), workspaces);
        }
        invitee
    }
}

impl Pagination {
    /// The rows the slice holds at least, given `rows` on this page and its `next_page`.
    fn rows_at_least(&self, rows: usize) -> u64 {
        let before = (self.page.max(1) as u64 - 1).saturating_mul(self.per_page as u64);
        before + rows as u64 + u64::from(self.next_page.is_some())
    }

    /// Checks the object against itself, the request and the rows it came with.
    fn check(&self, page: u64, per_page: u32, rows: usize) -> Result<(), String> {
        let fields = [
            ("total_records", Some(self.total_records)),
            ("per_page", Some(self.per_page)),
            ("prev_page", self.prev_page),
            ("page", Some(self.page)),
            ("next_page", self.next_page),
            ("last_page", self.last_page),
        ];
        if let Some((name, Some(value))) = fields.iter().find(|(_, v)| v.is_some_and(|v| v < 0)) {
            return Err(format!("{name} is negative ({value})"));
        }
        if self.page as u64 != page {
            return Err(format!(
                "page {} is not the requested page {page}",
                self.page
            ));
        }
        if self.per_page != i64::from(per_page) {
            return Err(format!(
                "per_page {} is not the requested per_page {per_page}",
                self.per_page
            ));
        }
        let rows = rows as i64;
        if rows > self.per_page {
            return Err(format!(
                "{rows} rows on a page of per_page {}",
                self.per_page
            ));
        }
        // Rows past `total_records` are not refused: totals may be approximate, and a total
        // smaller than what was seen is drift the driver re-reads (see `rows_at_least`). A
        // page past `last_page` that still holds rows is impossible, though.
        if let Some(last) = self.last_page.filter(|last| self.page > *last && rows > 0) {
            return Err(format!(
                "page {} is past last_page {last} but holds {rows} rows",
                self.page
            ));
        }
        if let Some(next) = self.next_page {
            if next <= self.page {
                return Err(format!(
                    "next_page {next} does not advance past page {}",
                    self.page
                ));
            }
        }
        if let Some(prev) = self.prev_page {
            if prev >= self.page {
                return Err(format!("prev_page {prev} is not before page {}", self.page));
            }
        }
        Ok(())
    }
}

impl CensusClient {
    /// Turns a decoded body into a page.
    fn page(&self, body: Body, number: u64, size: u32) -> Result<Page, CensusError> {
        let p = &body.pagination;
        p.check(number, size, body.data.len())
            .map_err(CensusError::Pagination)?;
        let next = p.next_page.map(|n| {
            Cursor::at(Position::Page {
                number: n as u64,
                size,
            })
        });
        // `total_records` rather than `last_page`: it changes with every insert or
        // deletion (so the driver notices drift exactly), and page arithmetic uses our own
        // page size anyway. A total smaller than the rows this page proves exist is read as
        // at least those rows (plus one when the server names a next page), so the driver
        // sees a changed total and re-reads instead of stopping early.
        let total = Some(p.rows_at_least(body.data.len()).max(p.total_records as u64));
        Ok(Page {
            invitees: body
                .data
                .into_iter()
                .map(|r| r.into_invitee(&self.shared.id))
                .collect(),
            next,
            total,
        })
    }
}

#[async_trait]
impl InviteeSource for CensusClient {
    fn transport_stats(&self) -> TransportStats {
        self.shared.http.transport_stats()
    }

    fn id(&self) -> &SourceId {
        &self.shared.id
    }

    /// Counted (every page reports `total_records`); oldest first, new invitations land at
    /// the end, so the listing ends by re-reading it.
    fn strategy(&self) -> Strategy {
        Strategy::Counted {
            growing_tail: self.shared.order == Order::Asc,
        }
    }

    /// A full listing is one slice, so its first round asks for the pages after the first
    /// too, before the total is known (an account shorter than the round costs a few
    /// requests answered empty).
    fn prefetches_before_total(&self) -> bool {
        true
    }

    /// Oldest first, the driver pins the list by its newest page (`order=desc`) before and
    /// after each pass, which shows a deletion an arrival hid from the totals.
    fn lists_newest_first(&self) -> bool {
        self.shared.order == Order::Asc
    }

    /// An incremental scope is listed newest first (`order=desc`) down to its `since`.
    fn strategy_for(&self, scope: &Scope) -> Strategy {
        match scope.since {
            Some(_) => Strategy::NewestFirstPages,
            None => self.strategy(),
        }
    }

    async fn plan(&self, scope: &Scope) -> Result<Vec<Cursor>, SourceError> {
        let first = Position::Page {
            number: 1,
            size: self.shared.per_page,
        };
        Ok(vec![Cursor::scoped(scope, first)])
    }

    async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        let Position::Page { number, size } = cursor.position else {
            return Err(self.fail(
                CensusError::Config(format!(
                    "Census pages by page number, got {:?}",
                    cursor.position
                )),
                PATH,
                0,
            ));
        };
        // Census treats page 0 as 1; asking for 1 keeps the echo check exact.
        let number = number.max(1);
        // A cursor marked with an incremental window lists newest first (see `plan`), as
        // does the driver's pin of a full listing (`lists_newest_first`).
        let order = if cursor.window.is_some() || cursor.newest_first {
            Order::Desc
        } else {
            self.shared.order
        };
        let query = Query::new()
            .push("page", number)
            .push("per_page", size)
            .push("order", order);
        let fetched = self.get_json::<Body>(PATH, &query).await?;
        self.page(fetched.value, number, size)
            .map_err(|e| self.fail(e, &fetched.request, fetched.attempts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pagination(json: Value) -> Pagination {
        serde_json::from_value(json).unwrap()
    }

    fn good() -> Value {
        serde_json::json!({
            "total_records": 25, "per_page": 10, "prev_page": 1, "page": 2,
            "next_page": 3, "last_page": 3
        })
    }

    #[test]
    fn a_consistent_object_passes() {
        assert_eq!(pagination(good()).check(2, 10, 10), Ok(()));
        let mut last = good();
        last["page"] = 3.into();
        last["prev_page"] = 2.into();
        last["next_page"] = Value::Null;
        assert_eq!(pagination(last).check(3, 10, 5), Ok(()));
    }

    #[test]
    fn an_approximate_total_is_drift_not_an_error() {
        // Page 2 holds rows 11..20, but the server counts only 12 (an approximate count).
        let mut json = good();
        json["total_records"] = 12.into();
        let p = pagination(json);
        assert_eq!(p.check(2, 10, 10), Ok(()));
        // The page proves 20 rows, and names a next page: at least 21.
        assert_eq!(p.rows_at_least(10), 21);
        let mut last = good();
        last["next_page"] = Value::Null;
        last["last_page"] = 2.into();
        assert_eq!(pagination(last).rows_at_least(4), 14);
    }

    #[test]
    fn inconsistencies_are_named() {
        let cases: [(&str, Value, &str); 6] = [
            ("next_page", 2.into(), "does not advance"),
            ("next_page", 1.into(), "does not advance"),
            ("total_records", (-1).into(), "negative"),
            ("per_page", 25.into(), "per_page 25"),
            ("page", 3.into(), "requested page"),
            ("last_page", 1.into(), "past last_page 1"),
        ];
        for (field, value, expected) in cases {
            let mut json = good();
            json[field] = value;
            let err = pagination(json).check(2, 10, 10).unwrap_err();
            assert!(err.contains(expected), "{field}: {err}");
        }
    }

    #[test]
    fn claimed_means_joined_and_extras_are_kept() {
        let source = SourceId::new(affiliate_core::Provider::Census, "acme");
        let row: Row = serde_json::from_value(serde_json::json!({
            "id": 90967, "email": "newuser@example.com",
            "created_at": "2023-09-22T20:25:45.185Z", "created_by_id": 13,
            "claimed_at": "2023-09-22T20:25:45.185Z", "claimed_by_id": 11, "role": "custom-analyst",
            "associated_workspace_invitations": [{"id": 90967, "workspace_id": 1234, "role": "Viewer"}]
        }))
        .unwrap();
        let invitee = row.into_invitee(&source);
        assert_eq!(invitee.id, "90967");
        assert_eq!(invitee.status, InviteeStatus::Joined);
        assert_eq!(invitee.role.as_deref(), Some("custom-analyst"));
        assert_eq!(invitee.invited_by.as_deref(), Some("13"));
        assert!(invitee.joined_at.is_some() && invitee.invited_at.is_some());
        assert_eq!(invitee.extra["claimed_by_id"], 11);
        assert_eq!(
            invitee.extra["associated_workspace_invitations"][0]["workspace_id"],
            1234
        );

        let row: Row = serde_json::from_value(serde_json::json!({
            "id": 1, "email": "a@example.com", "created_at": "2023-09-22T20:25:45Z",
            "created_by_id": 13, "claimed_at": null, "claimed_by_id": null, "role": "admin",
            "associated_workspace_invitations": []
        }))
        .unwrap();
        let invitee = row.into_invitee(&source);
        assert_eq!(invitee.status, InviteeStatus::Invited);
        assert!(invitee.joined_at.is_none());
        assert!(!invitee.extra.contains_key("claimed_by_id"));
    }
}
