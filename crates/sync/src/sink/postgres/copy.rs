//! A page's rows into PostgreSQL in bulk: `COPY` (text format) into the connection's
//! staging table, then one `INSERT ... SELECT ... ON CONFLICT` of the new and changed ones
//! into `invitees`. Measured
//! against the multi-row `INSERT` it replaces in `BENCHMARKS.md`.

use affiliate_core::Invitee;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::connect::db;
use super::statements::{copy_into_stage, upsert_from_stage};
use crate::sink::row::text_cells;
use crate::SinkError;

/// Copies `rows` (one version per key), stamped `synced_at`, into the staging table.
pub(super) async fn stage(
    conn: &mut PgConnection,
    rows: &[&Invitee],
    synced_at: DateTime<Utc>,
) -> Result<(), SinkError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut data = Vec::with_capacity(rows.len() * 256);
    for row in rows {
        encode_row(&mut data, &text_cells(row, synced_at));
    }
    let mut copy = conn
        .copy_in_raw(&copy_into_stage())
        .await
        .map_err(db("copying rows"))?;
    copy.send(data).await.map_err(db("copying rows"))?;
    copy.finish().await.map_err(db("copying rows"))?;
    Ok(())
}

/// Moves the staged versions of `rows` into `invitees` (`every`: all staged rows are
/// meant, no filter needed).
pub(super) async fn upsert_staged(
    conn: &mut PgConnection,
    rows: &[&Invitee],
    every: bool,
) -> Result<(), SinkError> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = upsert_from_stage(!every);
    let mut query = sqlx::query(&sql);
    if !every {
        let providers: Vec<&str> = rows.iter().map(|r| r.source.provider.as_str()).collect();
        let accounts: Vec<&str> = rows.iter().map(|r| r.source.account.as_str()).collect();
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        query = query.bind(providers).bind(accounts).bind(ids);
    }
    query
        .execute(&mut *conn)
        .await
        .map_err(db("upserting rows"))?;
    Ok(())
}

/// One line of COPY text: cells separated by tabs, `\N` for NULL.
fn encode_row(out: &mut Vec<u8>, cells: &[Option<String>]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match cell {
            None => out.extend_from_slice(b"\\N"),
            Some(text) => escape(out, text),
        }
    }
    out.push(b'\n');
}

/// COPY's text escapes: backslash, tab, newline and carriage return.
fn escape(out: &mut Vec<u8>, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped_and_nulls_marked() {
        let mut out = Vec::new();
        let cells = [
            Some("a\tb".to_owned()),
            None,
            Some(String::new()),
            Some("line\nnext\\ \r".to_owned()),
        ];
        encode_row(&mut out, &cells);
        assert_eq!(out, b"a\\tb\t\\N\t\tline\\nnext\\\\ \\r\n");
    }
}
