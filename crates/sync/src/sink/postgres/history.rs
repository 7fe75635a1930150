//! Reading the stored versions of a page's records and recording what changed
//! (`invitee_changes`), inside the page's transaction.

use std::collections::HashMap;

use affiliate_core::Invitee;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio_postgres::Transaction;

use super::db;
use super::schema::Statements;
use crate::sink::changes::{Change, Tracked};
use crate::sink::row::{format_time, key_of};
use crate::SinkError;

/// The tracked cells of every stored record among `rows`, by row key, in the text form
/// [`tracked`](crate::sink::changes::tracked) gives a record.
pub(super) async fn stored(
    tx: &Transaction<'_>,
    statements: &Statements,
    rows: &[&Invitee],
) -> Result<HashMap<String, Tracked>, SinkError> {
    let read = db("reading stored rows");
    let providers: Vec<&str> = rows.iter().map(|r| r.source.provider.as_str()).collect();
    let accounts: Vec<&str> = rows.iter().map(|r| r.source.account.as_str()).collect();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let found = tx
        .query(&statements.stored, &[&providers, &accounts, &ids])
        .await
        .map_err(&read)?;
    let mut out = HashMap::with_capacity(found.len());
    for row in found {
        let time = |i| -> Result<Option<String>, SinkError> {
            let at: Option<DateTime<Utc>> = row.try_get(i).map_err(&read)?;
            Ok(at.map(format_time))
        };
        let text = |i| -> Result<Option<String>, SinkError> { row.try_get(i).map_err(&read) };
        let paid: Option<i64> = row.try_get(9).map_err(&read)?;
        let extra: Option<String> = row.try_get(12).map_err(&read)?;
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
        let (provider, account, id): (String, String, String) = (
            text(0)?.unwrap_or_default(),
            text(1)?.unwrap_or_default(),
            text(2)?.unwrap_or_default(),
        );
        out.insert(key_of(&provider, &account, &id), cells);
    }
    Ok(out)
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
    tx: &Transaction<'_>,
    statements: &Statements,
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
    tx.execute(
        &statements.insert_changes,
        &[
            &providers, &accounts, &ids, &run_id, &fields, &olds, &news, &deltas,
        ],
    )
    .await
    .map_err(db("recording changes"))?;
    Ok(())
}
