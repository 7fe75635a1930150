//! Reading the stored versions of a page's records and recording what changed
//! (`invitee_changes`), inside the page's transaction.

use std::collections::HashMap;

use affiliate_core::Invitee;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::connect::db;
use super::statements::{INSERT_CHANGES, STORED};
use crate::sink::changes::{Change, Tracked};
use crate::sink::row::{format_time, key_of};
use crate::SinkError;

/// The tracked cells of every stored record among `rows`, by row key, in the text form
/// [`tracked`](crate::sink::changes::tracked) gives a record.
pub(super) async fn stored(
    conn: &mut PgConnection,
    rows: &[&Invitee],
) -> Result<HashMap<String, Tracked>, SinkError> {
    let providers: Vec<&str> = rows.iter().map(|r| r.source.provider.as_str()).collect();
    let accounts: Vec<&str> = rows.iter().map(|r| r.source.account.as_str()).collect();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let found = sqlx::query(STORED)
        .bind(providers)
        .bind(accounts)
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(db("reading stored rows"))?;
    let mut out = HashMap::with_capacity(found.len());
    for row in found {
        let (key, cells) = cells_of(&row).map_err(db("reading stored rows"))?;
        out.insert(key, cells);
    }
    Ok(out)
}

/// One stored row's key and tracked cells.
fn cells_of(row: &PgRow) -> Result<(String, Tracked), sqlx::Error> {
    let time = |i| -> Result<Option<String>, sqlx::Error> {
        let at: Option<DateTime<Utc>> = row.try_get(i)?;
        Ok(at.map(format_time))
    };
    let text = |i| -> Result<Option<String>, sqlx::Error> { row.try_get(i) };
    let paid: Option<i64> = row.try_get(9)?;
    let extra: Option<String> = row.try_get(12)?;
    let cells: Tracked = [
        text(3)?,
        time(4)?,
        time(5)?,
        time(6)?,
        text(7)?,
        text(8)?,
        paid.map(|p| p.to_string()),
        text(10)?,
        text(11)?,
        extra.map(|e| canonical_json(&e)),
    ];
    let (provider, account, id): (String, String, String) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    Ok((key_of(&provider, &account, &id), cells))
}

/// `jsonb` text as the sinks write JSON (serde's key order and spacing), so a stored
/// `extra` compares equal to the same object listed again.
fn canonical_json(text: &str) -> String {
    serde_json::from_str::<Map<String, Value>>(text)
        .ok()
        .and_then(|map| serde_json::to_string(&map).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// Inserts one `invitee_changes` row per change, observed now in run `run_id`.
pub(super) async fn record(
    conn: &mut PgConnection,
    run_id: &str,
    changes: &[(&Invitee, Change)],
) -> Result<(), SinkError> {
    if changes.is_empty() {
        return Ok(());
    }
    let providers: Vec<&str> = changes
        .iter()
        .map(|(r, _)| r.source.provider.as_str())
        .collect();
    let accounts: Vec<&str> = changes
        .iter()
        .map(|(r, _)| r.source.account.as_str())
        .collect();
    let ids: Vec<&str> = changes.iter().map(|(r, _)| r.id.as_str()).collect();
    let fields: Vec<&str> = changes.iter().map(|(_, c)| c.field).collect();
    let olds: Vec<Option<&str>> = changes.iter().map(|(_, c)| c.old.as_deref()).collect();
    let news: Vec<Option<&str>> = changes.iter().map(|(_, c)| c.new.as_deref()).collect();
    let deltas: Vec<Option<i64>> = changes.iter().map(|(_, c)| c.delta_micro).collect();
    sqlx::query(INSERT_CHANGES)
        .bind(providers)
        .bind(accounts)
        .bind(ids)
        .bind(run_id)
        .bind(fields)
        .bind(olds)
        .bind(news)
        .bind(deltas)
        .execute(&mut *conn)
        .await
        .map_err(db("recording changes"))?;
    Ok(())
}
