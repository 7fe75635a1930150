//! `GET /api/v1/admin_user_invite`, its pagination object, and the normalisation into
//! [`Invitee`]s.

use affiliate_core::{
    Cursor, Invitee, InviteeSource, InviteeStatus, Page, Position, Scope, SourceError, SourceId,
    Strategy, TransportStats,
};
use affiliate_http::{DecodeError, Query};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{PrefactorClient, PrefactorError, Sorting, MAX_IDEMPOTENCY_KEY};

const PATH: &str = "/admin_user_invite";

/// One `AdminUserInvite_Summary` as Prefactor sends it. Only `id` and `status` are needed;
/// the rest is kept when present.
#[derive(Debug, Deserialize)]
struct Row {
    id: String,
    status: String,
    account_id: Option<String>,
    email: Option<String>,
    #[serde(
        default,
        deserialize_with = "affiliate_core::time_text::deserialize_option"
    )]
    inserted_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "affiliate_core::time_text::deserialize_option"
    )]
    updated_at: Option<DateTime<Utc>>,
    invite_url: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// `PaginationOutput`. Signed, so a negative number is reported as such rather than as a
/// decoding failure.
#[derive(Debug, Deserialize)]
struct Pagination {
    item_count: i64,
    item_start: i64,
    item_end: i64,
    next_page_offset: Option<i64>,
    page_count: i64,
    page_index: i64,
    page_offset: i64,
    page_size: i64,
    previous_page_offset: Option<i64>,
}

/// The sorting echo.
#[derive(Debug, Deserialize)]
struct SortingEcho {
    field: String,
    direction: String,
}

/// The list envelope, success or error: every field is optional so one pass decodes both.
/// The list comes as `summaries` (the API reference) or `details` (the official CLI's
/// typing); `pagination` and `sorting` may be null.
#[derive(Debug, Deserialize)]
struct Body {
    status: Option<String>,
    #[serde(alias = "details")]
    summaries: Option<Vec<Row>>,
    pagination: Option<Pagination>,
    sorting: Option<SortingEcho>,
    code: Option<String>,
    message: Option<String>,
    errors: Option<Map<String, Value>>,
}

/// Documented statuses; anything else is kept verbatim.
fn status(status: String) -> InviteeStatus {
    match status.as_str() {
        "pending" => InviteeStatus::Invited,
        "used" => InviteeStatus::Joined,
        "revoked" => InviteeStatus::Revoked,
        _ => InviteeStatus::Other(status),
    }
}

impl Row {
    fn into_invitee(self, source: &SourceId) -> Invitee {
        let mut invitee = Invitee::new(source.clone(), self.id, status(self.status));
        invitee.invited_at = self.inserted_at;
        invitee.updated_at = self.updated_at;
        invitee.email = self.email;
        if let Some(url) = self.invite_url {
            invitee
                .extra
                .insert("invite_url".into(), Value::String(url));
        }
        if let Some(kind) = self.kind {
            invitee.extra.insert("type".into(), Value::String(kind));
        }
        // The label may differ from the row's account (a custom label, or no account_id
        // configured): keep the provider's own account id then.
        if let Some(account) = self.account_id.filter(|a| *a != source.account) {
            invitee
                .extra
                .insert("account_id".into(), Value::String(account));
        }
        invitee
    }
}

impl Pagination {
    /// Checks the object against itself, the request and the rows it came with.
    fn check(&self, offset: u64, size: u32, rows: usize) -> Result<(), String> {
        let fields = [
            ("item_count", Some(self.item_count)),
            ("item_start", Some(self.item_start)),
            ("item_end", Some(self.item_end)),
            ("next_page_offset", self.next_page_offset),
            ("page_count", Some(self.page_count)),
            ("page_index", Some(self.page_index)),
            ("page_offset", Some(self.page_offset)),
            ("page_size", Some(self.page_size)),
            ("previous_page_offset", self.previous_page_offset),
        ];
        if let Some((name, Some(value))) = fields.iter().find(|(_, v)| v.is_some_and(|v| v < 0)) {
            return Err(format!("{name} is negative ({value})"));
        }
        // Non-negative from here on.
        let page_offset = self.page_offset as u64;
        if page_offset != offset {
            return Err(format!(
                "page_offset {page_offset} is not the requested offset {offset}"
            ));
        }
        if self.page_size != i64::from(size) {
            return Err(format!(
                "page_size {} is not the requested page size {size}",
                self.page_size
            ));
        }
        let rows = rows as i64;
        if rows > self.page_size {
            return Err(format!(
                "{rows} rows on a page of page_size {}",
                self.page_size
            ));
        }
        if rows > 0 {
            let (start, end) = (self.page_offset + 1, self.page_offset + rows);
            if self.item_start != start || self.item_end != end {
                return Err(format!(
                    "item_start/item_end {}..{} do not match {rows} rows at page_offset {} (expected {start}..{end})",
                    self.item_start, self.item_end, self.page_offset
                ));
            }
            if self.item_end > self.item_count {
                return Err(format!(
                    "item_end {} is past item_count {}",
                    self.item_end, self.item_count
                ));
            }
        } else if self.item_end > self.item_start {
            return Err(format!(
                "item_start/item_end {}..{} on an empty page",
                self.item_start, self.item_end
            ));
        }
        if let Some(next) = self.next_page_offset {
            if next <= self.page_offset {
                return Err(format!(
                    "next_page_offset {next} does not advance past page_offset {}",
                    self.page_offset
                ));
            }
        }
        if let Some(previous) = self.previous_page_offset {
            if previous >= self.page_offset {
                return Err(format!(
                    "previous_page_offset {previous} is not before page_offset {}",
                    self.page_offset
                ));
            }
        }
        Ok(())
    }
}

impl PrefactorClient {
    /// The sorting a cursor is listed in: a cursor marked with an incremental window lists
    /// the configured creation order reversed, newest first (see `plan`).
    fn sorting_of(&self, cursor: &Cursor) -> Sorting {
        let mut sorting = self.shared.sorting.clone();
        if cursor.window.is_some() {
            sorting.descending = true;
        }
        sorting
    }

    fn query(&self, offset: u64, limit: u32, sorting: &Sorting) -> Query {
        let key = self.shared.idempotency_key.as_deref();
        Query::new()
            .push_opt("account_id", self.shared.account_id.as_deref())
            .push_opt(
                "idempotency_key",
                key.map(|k| request_key(k, offset, limit)),
            )
            .push("sorting", sorting)
            .push("pagination[offset]", offset)
            .push("pagination[page_size]", limit)
    }

    /// Turns a decoded body into a page, or the error it carries or implies.
    fn page(
        &self,
        body: Body,
        offset: u64,
        limit: u32,
        sorting: &Sorting,
    ) -> Result<Page, PrefactorError> {
        if body.status.as_deref() == Some("error") {
            return Err(PrefactorError::from_code(
                200,
                body.code.as_deref().unwrap_or("unknown"),
                body.message,
                body.errors,
            ));
        }
        let Some(rows) = body.summaries else {
            return Err(PrefactorError::Decode(DecodeError {
                status: 200,
                cause: "a success body with neither `summaries` nor `details`".into(),
                snippet: String::new(),
            }));
        };
        if let Some(echo) = &body.sorting {
            if echo.field != sorting.field || echo.direction != sorting.direction() {
                return Err(PrefactorError::Pagination(format!(
                    "the server sorted by {} {}, not by {} {} as asked",
                    echo.field,
                    echo.direction,
                    sorting.field,
                    sorting.direction()
                )));
            }
        }
        let (total, next) = match &body.pagination {
            Some(p) => {
                p.check(offset, limit, rows.len())
                    .map_err(PrefactorError::Pagination)?;
                let next = p.next_page_offset.map(|n| {
                    Cursor::at(Position::Offset {
                        offset: n as u64,
                        limit,
                    })
                });
                (Some(p.item_count as u64), next)
            }
            // No pagination object: keep reading while pages come back full, so a server
            // that pages without saying so loses nothing; a short page is the last.
            None => {
                let full = rows.len() >= limit as usize && !rows.is_empty();
                let next = full.then(|| {
                    Cursor::at(Position::Offset {
                        offset: offset + rows.len() as u64,
                        limit,
                    })
                });
                (None, next)
            }
        };
        Ok(Page {
            invitees: rows
                .into_iter()
                .map(|r| r.into_invitee(&self.shared.id))
                .collect(),
            next,
            total,
        })
    }
}

/// The idempotency key of one page request: the configured key plus the page's offset and
/// size, so every page has its own key (a server that honours keys would refuse a key
/// reused for another page) and a retry, which resends the same request, reuses it. The
/// configured part is shortened so the whole stays within [`MAX_IDEMPOTENCY_KEY`].
fn request_key(configured: &str, offset: u64, limit: u32) -> String {
    let suffix = format!("-{offset}-{limit}");
    let room = MAX_IDEMPOTENCY_KEY.saturating_sub(suffix.len());
    let base: String = configured.chars().take(room).collect();
    base + &suffix
}

#[async_trait]
impl InviteeSource for PrefactorClient {
    fn transport_stats(&self) -> TransportStats {
        self.shared.http.transport_stats()
    }

    fn id(&self) -> &SourceId {
        &self.shared.id
    }

    /// Counted (the first page reports `item_count`); in creation order new invites land at
    /// the end, so the listing ends by re-reading it.
    fn strategy(&self) -> Strategy {
        Strategy::Counted {
            growing_tail: self.shared.sorting.is_creation_order(),
        }
    }

    /// A full listing is one slice, so its first round asks for the pages after the first
    /// too, before the total is known (an account shorter than the round costs a few
    /// requests answered empty).
    fn prefetches_before_total(&self) -> bool {
        true
    }

    /// In creation order (the default), an incremental scope is listed newest first
    /// (`sorting=-id`) down to its `since`, with Triport's overlapping offset walk.
    fn strategy_for(&self, scope: &Scope) -> Strategy {
        match scope.since {
            Some(_) if self.shared.sorting.is_creation_order() => Strategy::NewestFirstOffset,
            _ => self.strategy(),
        }
    }

    async fn plan(&self, scope: &Scope) -> Result<Vec<Cursor>, SourceError> {
        let first = Position::Offset {
            offset: 0,
            limit: self.shared.page_size,
        };
        Ok(vec![if self.shared.sorting.is_creation_order() {
            Cursor::scoped(scope, first)
        } else {
            Cursor::at(first)
        }])
    }

    async fn fetch(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        let Position::Offset { offset, limit } = cursor.position else {
            return Err(self.fail(
                PrefactorError::Config(format!(
                    "Prefactor pages by offset, got {:?}",
                    cursor.position
                )),
                PATH,
                0,
            ));
        };
        let sorting = self.sorting_of(cursor);
        let query = self.query(offset, limit, &sorting);
        let fetched = self.get_json::<Body>(PATH, &query).await?;
        self.page(fetched.value, offset, limit, &sorting)
            .map_err(|e| self.fail(e, &fetched.request, fetched.attempts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_page_has_its_own_key_within_the_cap() {
        assert_eq!(request_key("sync-1", 0, 100), "sync-1-0-100");
        assert_ne!(
            request_key("sync-1", 0, 100),
            request_key("sync-1", 100, 100)
        );
        let long = request_key(&"k".repeat(64), 1_000_000, 100);
        assert_eq!(long.chars().count(), MAX_IDEMPOTENCY_KEY);
        assert!(long.ends_with("-1000000-100"));
    }

    fn pagination(json: Value) -> Pagination {
        serde_json::from_value(json).unwrap()
    }

    fn good() -> Value {
        serde_json::json!({
            "item_count": 25, "item_start": 11, "item_end": 20, "next_page_offset": 20,
            "page_count": 3, "page_index": 2, "page_offset": 10, "page_size": 10,
            "previous_page_offset": 0
        })
    }

    #[test]
    fn the_next_cursor_is_the_servers_next_page_offset_verbatim() {
        // The document's own example: next_page_offset 110 at page_offset 90, page_size 10.
        let example = serde_json::json!({
            "item_count": 200, "item_end": 100, "item_start": 91, "next_page_offset": 110,
            "page_count": 20, "page_index": 10, "page_offset": 90, "page_size": 10,
            "previous_page_offset": 80
        });
        let rows: Vec<Value> = (0..10)
            .map(|i| serde_json::json!({"id": format!("i{i}"), "status": "pending"}))
            .collect();
        let body: Body = serde_json::from_value(serde_json::json!({
            "status": "success", "summaries": rows, "pagination": example
        }))
        .unwrap();
        let client = crate::PrefactorBuilder::new()
            .with_token("t")
            .build()
            .unwrap();
        let sorting = client.shared.sorting.clone();
        let page = client.page(body, 90, 10, &sorting).unwrap();
        let next = page.next.expect("a next page");
        assert_eq!(
            next.position,
            Position::Offset {
                offset: 110,
                limit: 10
            }
        );
    }

    #[test]
    fn a_consistent_object_passes() {
        assert_eq!(pagination(good()).check(10, 10, 10), Ok(()));
        let mut last = good();
        last["page_offset"] = 20.into();
        last["item_start"] = 21.into();
        last["item_end"] = 25.into();
        last["next_page_offset"] = Value::Null;
        last["previous_page_offset"] = 10.into();
        assert_eq!(pagination(last).check(20, 10, 5), Ok(()));
    }

    #[test]
    fn inconsistencies_are_named() {
        let cases: [(&str, Value, &str); 7] = [
            ("next_page_offset", (-10).into(), "negative"),
            ("page_offset", (-1).into(), "negative"),
            ("next_page_offset", 10.into(), "does not advance"),
            ("next_page_offset", 5.into(), "does not advance"),
            ("item_start", 12.into(), "item_start/item_end"),
            ("item_end", 30.into(), "item_start/item_end"),
            ("page_size", 25.into(), "page_size 25"),
        ];
        for (field, value, expected) in cases {
            let mut json = good();
            json[field] = value;
            let err = pagination(json).check(10, 10, 10).unwrap_err();
            assert!(err.contains(expected), "{field}: {err}");
        }
        assert!(pagination(good())
            .check(0, 10, 10)
            .unwrap_err()
            .contains("requested offset"));
        let mut past_end = good();
        past_end["item_count"] = 15.into();
        assert!(pagination(past_end)
            .check(10, 10, 10)
            .unwrap_err()
            .contains("past item_count"));
    }

    #[test]
    fn statuses_map_and_unknown_ones_are_kept() {
        assert_eq!(status("pending".into()), InviteeStatus::Invited);
        assert_eq!(status("used".into()), InviteeStatus::Joined);
        assert_eq!(status("revoked".into()), InviteeStatus::Revoked);
        assert_eq!(
            status("expired".into()),
            InviteeStatus::Other("expired".into())
        );
    }
}
