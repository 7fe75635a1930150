//! Reading a synced database back: the `invitees` rows the report needs, from SQLite or
//! PostgreSQL.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

use crate::error::Failure;
use crate::output::Target;
use crate::stats::{PaidChange, Period, RowFacts, Stats};

const COLUMNS: &str = "provider, account, status, joined_at, updated_at, total_paid_micro";

/// The money changes of the history.
const PAID_CHANGES: &str = "SELECT provider, observed_at, old_value, new_value, delta_micro \
                            FROM invitee_changes WHERE field = 'total_paid_micro'";

/// A database written by `affiliate sync` (or the demo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Db {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl Db {
    /// `sqlite://PATH`, a path ending in `.db`/`.sqlite`/`.sqlite3`, or `postgres://…`.
    pub(crate) fn parse(text: &str) -> Result<Self, Failure> {
        match Target::parse(text) {
            Ok(Target::Sqlite(path)) => Ok(Db::Sqlite(path)),
            Ok(Target::Postgres(url)) => Ok(Db::Postgres(url)),
            Ok(other) => Err(Failure::Usage(format!(
                "--db: {other} is a file of rows, not a database\n  fix: report on the database a sync wrote: sqlite://PATH or postgres://USER@HOST/DB"
            ))),
            Err(err) => Err(Failure::Usage(format!("--db: {err}"))),
        }
    }

    /// Totals of every row as of `now`, and the history's figures over `period`.
    pub(crate) async fn stats(
        &self,
        schema: Option<&str>,
        now: DateTime<Utc>,
        period: Option<Period>,
    ) -> Result<Stats, Failure> {
        match self {
            Db::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || sqlite_stats(&path, Stats::new(now, period)))
                    .await
                    .map_err(|e| Failure::Failed(format!("reading the database failed: {e}")))?
            }
            Db::Postgres(url) => postgres_stats(url, schema, Stats::new(now, period)).await,
        }
    }
}

/// Reads a SQLite database (read-only) into totals.
fn sqlite_stats(path: &Path, mut stats: Stats) -> Result<Stats, Failure> {
    if !path.is_file() {
        return Err(Failure::Usage(format!(
            "--db: there is no database at {}\n  fix: check the path, or create one with `affiliate sync` or `affiliate demo`",
            path.display()
        )));
    }
    let failed = |e: rusqlite::Error| Failure::Failed(format!("reading {}: {e}", path.display()));
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(failed)?;
    let has_table: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'invitees'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| {
            Failure::Usage(format!(
                "--db: {} is not a SQLite database ({e})\n  fix: point --db at a database written by `affiliate sync`",
                path.display()
            ))
        })?;
    if !has_table {
        return Err(Failure::Usage(format!(
            "--db: {} has no invitees table\n  fix: point --db at a database written by `affiliate sync`",
            path.display()
        )));
    }
    let mut stmt = conn
        .prepare(&format!("SELECT {COLUMNS} FROM invitees"))
        .map_err(failed)?;
    let mut rows = stmt.query([]).map_err(failed)?;
    while let Some(row) = rows.next().map_err(failed)? {
        let time = |i: usize| -> Result<Option<DateTime<Utc>>, Failure> {
            let text: Option<String> = row.get(i).map_err(failed)?;
            text.map(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        Failure::Failed(format!(
                            "{}: {t:?} in invitees is not an RFC 3339 instant: {e}",
                            path.display()
                        ))
                    })
            })
            .transpose()
        };
        stats.add(&RowFacts {
            provider: row.get(0).map_err(failed)?,
            account: row.get(1).map_err(failed)?,
            status: row.get(2).map_err(failed)?,
            joined_at: time(3)?,
            updated_at: time(4)?,
            total_paid_micro: row.get(5).map_err(failed)?,
        });
    }
    drop(rows);
    sqlite_paid(&conn, path, &mut stats)?;
    Ok(stats)
}

/// Adds the money changes of `invitee_changes` (absent in databases written before it).
fn sqlite_paid(conn: &Connection, path: &Path, stats: &mut Stats) -> Result<(), Failure> {
    let failed = |e: rusqlite::Error| Failure::Failed(format!("reading {}: {e}", path.display()));
    let has_history: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'invitee_changes'",
            [],
            |r| r.get(0),
        )
        .map_err(failed)?;
    if !has_history {
        return Ok(());
    }
    let mut stmt = conn.prepare(PAID_CHANGES).map_err(failed)?;
    let mut rows = stmt.query([]).map_err(failed)?;
    while let Some(row) = rows.next().map_err(failed)? {
        let at: String = row.get(1).map_err(failed)?;
        let observed_at = DateTime::parse_from_rfc3339(&at)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                Failure::Failed(format!(
                    "{}: {at:?} in invitee_changes: {e}",
                    path.display()
                ))
            })?;
        let amount = |i: usize| -> Result<Option<i64>, Failure> {
            let text: Option<String> = row.get(i).map_err(failed)?;
            Ok(text.and_then(|t| t.parse().ok()))
        };
        stats.add_paid(&PaidChange {
            provider: row.get(0).map_err(failed)?,
            observed_at,
            old: amount(2)?,
            new: amount(3)?,
            delta_micro: row.get::<_, Option<i64>>(4).map_err(failed)?.unwrap_or(0),
        });
    }
    Ok(())
}

/// Reads a PostgreSQL database into totals, connecting like the sink (TLS per `sslmode`;
/// plain connections to loopback only).
async fn postgres_stats(
    url: &str,
    schema: Option<&str>,
    mut stats: Stats,
) -> Result<Stats, Failure> {
    let prefix = match schema {
        None => String::new(),
        Some(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            format!("\"{s}\".")
        }
        Some(_) => {
            return Err(Failure::Usage(
                "--schema: must be letters, digits and '_'".to_owned(),
            ))
        }
    };
    let table = format!("{prefix}invitees");
    let (pool, _) = affiliate::sync::connect_postgres(url)
        .await
        .map_err(|e| match e {
            affiliate::sync::SinkError::Config { .. } => Failure::Usage(format!("--db: {e}")),
            other => Failure::Failed(format!("connecting to PostgreSQL: {other}")),
        })?;
    let reading = |what: &str| {
        let what = what.to_owned();
        move |e: sqlx::Error| Failure::Failed(format!("reading {what}: {}", chain(&e)))
    };
    type Facts = (
        String,
        String,
        String,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<i64>,
    );
    let rows: Vec<Facts> = sqlx::query_as(&format!(
        "SELECT provider, account, status, joined_at, updated_at, total_paid_micro FROM {table}"
    ))
    .fetch_all(&pool)
    .await
    .map_err(reading(&table))?;
    for (provider, account, status, joined_at, updated_at, total_paid_micro) in rows {
        stats.add(&RowFacts {
            provider,
            account,
            status,
            joined_at,
            updated_at,
            total_paid_micro,
        });
    }
    let history = format!("{prefix}invitee_changes");
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&history)
        .fetch_one(&pool)
        .await
        .map_err(reading(&history))?;
    if exists {
        let sql = PAID_CHANGES.replace("invitee_changes", &history);
        type Paid = (
            String,
            DateTime<Utc>,
            Option<String>,
            Option<String>,
            Option<i64>,
        );
        let rows: Vec<Paid> = sqlx::query_as(&sql)
            .fetch_all(&pool)
            .await
            .map_err(reading(&history))?;
        let amount = |text: Option<String>| text.and_then(|t| t.parse().ok());
        for (provider, observed_at, old, new, delta) in rows {
            stats.add_paid(&PaidChange {
                provider,
                observed_at,
                old: amount(old),
                new: amount(new),
                delta_micro: delta.unwrap_or(0),
            });
        }
    }
    pool.close().await;
    Ok(stats)
}

/// An error with its causes.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}
