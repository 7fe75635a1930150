//! PostgreSQL: batched multi-row upserts and the sync state in the same transaction.

mod history;
mod schema;
mod tls;

use std::collections::HashMap;
use std::fmt;

use affiliate_core::{Invitee, SourceId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tokio_postgres::config::Host;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Transaction};
use tracing::warn;

use self::schema::{Statements, BATCH_ROWS};
use super::changes::{diff, tracked};
use super::row::{extra_json, row_key};
use super::sql::SliceRow;
use super::{CommitOutcome, PageCommit, Sink};
use crate::state::{RunState, SourceState, StateConflict, SyncMode};
use crate::SinkError;

const SINK: &str = "postgres";

/// A PostgreSQL database holding the `invitees`, `sync_state` and `sync_slices` tables
/// (optionally inside a schema of their own).
///
/// Each page is one transaction: the run is checked (`SELECT ... FOR UPDATE` on the
/// source's state row), rows are upserted with multi-row `INSERT ... ON CONFLICT` of up to
/// 1,000 rows, then the slice's progress is stored. `extra` is `jsonb`, instants are
/// `timestamptz`.
///
/// Connections follow libpq's `sslmode` (`disable`, `prefer`, `require`, `verify-ca`,
/// `verify-full`) and `sslrootcert` in the URL, with rustls: without `sslmode`, loopback
/// hosts and Unix sockets connect plain and every other host with `verify-full` against the
/// webpki roots (or `sslrootcert`); a plain connection to any other host is refused before
/// connecting. A password missing from the URL is read from `PGPASSWORD`.
///
/// ```no_run
/// # async fn open() -> Result<(), affiliate_sync::SinkError> {
/// use affiliate_sync::PostgresSink;
///
/// let sink = PostgresSink::connect("postgres://postgres@127.0.0.1:5432/affiliate", None).await?;
/// // A managed server: TLS, the certificate and the host name checked.
/// let managed = PostgresSink::connect(
///     "postgres://sync@db.example.com:5432/growth?sslmode=verify-full&sslrootcert=/etc/ssl/rds-ca.pem",
///     Some("affiliate"),
/// )
/// .await?;
/// # Ok(()) }
/// ```
pub struct PostgresSink {
    target: String,
    schema: Option<String>,
    statements: Statements,
    client: Mutex<Client>,
}

impl fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSink")
            .field("target", &self.target)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn db(action: &'static str) -> impl Fn(tokio_postgres::Error) -> SinkError {
    move |e| SinkError::database(SINK, action, Driver::new(e))
}

/// A driver error whose message carries its causes: `tokio_postgres::Error` displays only
/// its kind ("db error"); the server's message sits in its source.
#[derive(Debug)]
struct Driver {
    message: String,
    source: tokio_postgres::Error,
}

impl Driver {
    fn new(source: tokio_postgres::Error) -> Self {
        let mut message = source.to_string();
        let mut cause = std::error::Error::source(&source);
        while let Some(err) = cause {
            message.push_str(": ");
            message.push_str(&err.to_string());
            cause = err.source();
        }
        Self { message, source }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Driver {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl PostgresSink {
    /// Connects to `url` (`postgres://user@127.0.0.1:5432/db` or key=value form), creates
    /// `schema` if given and the tables in it (or in the connection's default schema).
    ///
    /// Must run inside a Tokio runtime: the connection is driven by a spawned task.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self, SinkError> {
        let (client, target) = connect_client(url).await?;
        let statements = Statements::new(schema);
        client
            .batch_execute(&statements.create)
            .await
            .map_err(db("creating the schema and tables"))?;
        Ok(Self {
            target,
            schema: schema.map(str::to_owned),
            statements,
            client: Mutex::new(client),
        })
    }

    /// The schema the tables live in, when one was given.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
}

/// A client connected to `url` the way [`PostgresSink`] connects (libpq `sslmode` and
/// `sslrootcert` with rustls; plain connections only to loopback or a Unix socket), and
/// `host:port/db` for messages. The connection is driven by a spawned task.
///
/// ```no_run
/// # async fn read() -> Result<(), affiliate_sync::SinkError> {
/// let (client, target) =
///     affiliate_sync::connect_postgres("postgres://reader@127.0.0.1/growth").await?;
/// println!("connected to {target}");
/// # drop(client); Ok(()) }
/// ```
pub async fn connect_postgres(url: &str) -> Result<(Client, String), SinkError> {
    connect_client(url).await
}

async fn connect_client(url: &str) -> Result<(Client, String), SinkError> {
    let parsed = tls::Target::parse(url)?;
    let target = describe(&parsed.config);
    let failed = |e: tokio_postgres::Error| SinkError::Database {
        sink: SINK,
        action: "connecting",
        source: format!("{target}: {}", Driver::new(e)).into(),
    };
    let label = target.clone();
    let ended = move |err: tokio_postgres::Error| {
        warn!(server = %label, "postgres connection ended: {err}");
    };
    let client = match parsed.tls()? {
        None => {
            let (client, connection) = parsed.config.connect(NoTls).await.map_err(failed)?;
            tokio::spawn(async move { connection.await.map_err(ended) });
            client
        }
        Some(tls) => {
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
            let (client, connection) = parsed.config.connect(tls).await.map_err(failed)?;
            tokio::spawn(async move { connection.await.map_err(ended) });
            client
        }
    };
    Ok((client, target))
}

/// `host:port/db` for messages (never the password).
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(""))
}

#[async_trait]
impl Sink for PostgresSink {
    fn name(&self) -> &'static str {
        SINK
    }

    async fn load_state(&self, source: &SourceId) -> Result<SourceState, SinkError> {
        let client = self.client.lock().await;
        load_state(&client, &self.statements, source).await
    }

    async fn begin_run(&self, source: &SourceId, run: &RunState) -> Result<(), SinkError> {
        let mut client = self.client.lock().await;
        let tx = client
            .transaction()
            .await
            .map_err(db("starting a transaction"))?;
        let (provider, account) = (source.provider.as_str(), source.account.as_str());
        let s = &self.statements;
        tx.execute(
            &s.begin_run,
            &[
                &provider,
                &account,
                &run.id,
                &run.mode.as_str(),
                &run.since,
                &run.until,
                &run.started_at,
                &run.watermark,
            ],
        )
        .await
        .map_err(db("starting a run"))?;
        tx.execute(&s.delete_slices, &[&provider, &account])
            .await
            .map_err(db("clearing old slices"))?;
        let insert = tx
            .prepare(&s.insert_slice)
            .await
            .map_err(db("storing slices"))?;
        for (ordinal, slice) in run.slices.iter().enumerate() {
            let row = SliceRow::of_state(slice);
            let ordinal = i32::try_from(ordinal).unwrap_or(i32::MAX);
            tx.execute(
                &insert,
                &[
                    &provider,
                    &account,
                    &ordinal,
                    &row.slice,
                    &row.resume,
                    &row.complete,
                    &row.head_ids,
                ],
            )
            .await
            .map_err(db("storing slices"))?;
        }
        tx.commit()
            .await
            .map_err(db("committing the start of a run"))
    }

    async fn commit_page(
        &self,
        source: &SourceId,
        commit: &PageCommit<'_>,
    ) -> Result<CommitOutcome, SinkError> {
        let mut client = self.client.lock().await;
        let tx = client
            .transaction()
            .await
            .map_err(db("starting a transaction"))?;
        check_run(&tx, &self.statements, source, commit.run_id).await?;
        let outcome = upsert(&tx, &self.statements, commit.run_id, commit.rows).await?;
        let (provider, account) = (source.provider.as_str(), source.account.as_str());
        let slice = SliceRow::of_commit(commit);
        let changed = tx
            .execute(
                &self.statements.advance_slice,
                &[
                    &provider,
                    &account,
                    &slice.slice,
                    &slice.resume,
                    &slice.complete,
                    &slice.head_ids,
                ],
            )
            .await
            .map_err(db("storing slice progress"))?;
        if changed == 0 {
            return Err(SinkError::Conflict {
                sink: SINK,
                source: StateConflict::UnknownSlice(slice.slice),
            });
        }
        tx.execute(
            &self.statements.advance_run,
            &[&provider, &account, &commit.watermark],
        )
        .await
        .map_err(db("storing the run watermark"))?;
        tx.commit().await.map_err(db("committing a page"))?;
        Ok(outcome)
    }

    async fn finish_run(
        &self,
        source: &SourceId,
        run_id: &str,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<(), SinkError> {
        let mut client = self.client.lock().await;
        let tx = client
            .transaction()
            .await
            .map_err(db("starting a transaction"))?;
        check_run(&tx, &self.statements, source, run_id).await?;
        let (provider, account) = (source.provider.as_str(), source.account.as_str());
        tx.execute(
            &self.statements.finish_run,
            &[&provider, &account, &watermark],
        )
        .await
        .map_err(db("finishing a run"))?;
        tx.execute(&self.statements.delete_slices, &[&provider, &account])
            .await
            .map_err(db("clearing finished slices"))?;
        tx.commit().await.map_err(db("committing the end of a run"))
    }
}

/// Locks the source's state row and refuses unless `run_id` is its run in progress.
async fn check_run(
    tx: &Transaction<'_>,
    statements: &Statements,
    source: &SourceId,
    run_id: &str,
) -> Result<(), SinkError> {
    let row = tx
        .query_opt(
            &statements.run_id_for_update,
            &[&source.provider.as_str(), &source.account],
        )
        .await
        .map_err(db("reading the run in progress"))?;
    let current: Option<String> = match row {
        Some(row) => row.try_get(0).map_err(db("reading the run in progress"))?,
        None => None,
    };
    if current.as_deref() == Some(run_id) {
        return Ok(());
    }
    Err(SinkError::Conflict {
        sink: SINK,
        source: StateConflict::WrongRun {
            expected: current.unwrap_or_else(|| "none".to_owned()),
            got: run_id.to_owned(),
        },
    })
}

/// One record as typed parameters.
struct Params<'a> {
    row: &'a Invitee,
    status: &'a str,
    provider: &'a str,
    extra: Option<String>,
}

/// Upserts the new and changed records of `rows` in batches (the last occurrence of a
/// repeated key wins) and records their changes; unchanged records are left alone.
async fn upsert(
    tx: &Transaction<'_>,
    statements: &Statements,
    run_id: &str,
    rows: &[Invitee],
) -> Result<CommitOutcome, SinkError> {
    // One statement may not touch a key twice, so keep the last version of each key.
    let mut last: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        last.insert(row_key(row), i);
    }
    let mut unique: Vec<usize> = last.into_values().collect();
    unique.sort_unstable();
    let unique: Vec<&Invitee> = unique.iter().map(|&i| &rows[i]).collect();
    let stored = history::stored(tx, statements, &unique).await?;
    let mut outcome = CommitOutcome::new(0, (rows.len() - unique.len()) as u64);
    let mut changes = Vec::new();
    let mut written = Vec::new();
    for row in unique {
        let old = stored.get(&row_key(row));
        let diff = diff(old, &tracked(row));
        match (old, diff.is_empty()) {
            (None, _) => outcome.inserted += 1,
            (Some(_), true) => outcome.existing += 1,
            (Some(_), false) => {
                outcome.existing += 1;
                outcome.changed += 1;
            }
        }
        if !diff.is_empty() {
            written.push(row);
            changes.extend(diff.into_iter().map(|c| (row, c)));
        }
    }
    history::record(tx, statements, run_id, &changes).await?;
    let params: Vec<Params<'_>> = written
        .iter()
        .map(|row| Params {
            row,
            status: row.status.as_str(),
            provider: row.source.provider.as_str(),
            extra: extra_json(row),
        })
        .collect();
    let synced_at = Utc::now();
    for batch in params.chunks(BATCH_ROWS) {
        let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(batch.len() * 14);
        for p in batch {
            values.extend_from_slice(&[
                &p.provider,
                &p.row.source.account,
                &p.row.id,
                &p.status,
                &p.row.invited_at,
                &p.row.joined_at,
                &p.row.updated_at,
                &p.row.display_name,
                &p.row.email,
                &p.row.total_paid_micro,
                &p.row.role,
                &p.row.invited_by,
                &p.extra,
                &synced_at,
            ]);
        }
        tx.execute(&statements.upsert(batch.len()), &values)
            .await
            .map_err(db("upserting rows"))?;
    }
    Ok(outcome)
}

async fn load_state(
    client: &Client,
    statements: &Statements,
    source: &SourceId,
) -> Result<SourceState, SinkError> {
    let read = db("reading sync state");
    let key: [&(dyn ToSql + Sync); 2] = [&source.provider.as_str(), &source.account];
    let Some(row) = client
        .query_opt(&statements.load_state, &key)
        .await
        .map_err(&read)?
    else {
        return Ok(SourceState::default());
    };
    let bad =
        |detail: String| SinkError::corrupt(SINK, format!("table sync_state ({source})"), detail);
    let mut state = SourceState {
        watermark: row.try_get(0).map_err(&read)?,
        refreshed_at: row.try_get(7).map_err(&read)?,
        run: None,
    };
    let Some(run_id) = row.try_get::<_, Option<String>>(1).map_err(&read)? else {
        return Ok(state);
    };
    let mode: Option<String> = row.try_get(2).map_err(&read)?;
    let mode = mode
        .as_deref()
        .and_then(SyncMode::parse)
        .ok_or_else(|| bad(format!("run_mode {mode:?} is not full or incremental")))?;
    let started_at: Option<DateTime<Utc>> = row.try_get(5).map_err(&read)?;
    let started_at = started_at.ok_or_else(|| bad("run_started_at is missing".into()))?;
    let mut slices = Vec::new();
    for r in client
        .query(&statements.load_slices, &key)
        .await
        .map_err(&read)?
    {
        let slice = SliceRow {
            slice: r.try_get(0).map_err(&read)?,
            resume: r.try_get(1).map_err(&read)?,
            complete: r.try_get(2).map_err(&read)?,
            head_ids: r.try_get(3).map_err(&read)?,
        };
        slices.push(
            slice.into_state().map_err(|d| {
                SinkError::corrupt(SINK, format!("table sync_slices ({source})"), d)
            })?,
        );
    }
    state.run = Some(RunState {
        id: run_id,
        mode,
        since: row.try_get(3).map_err(&read)?,
        until: row.try_get(4).map_err(&read)?,
        started_at,
        watermark: row.try_get(6).map_err(&read)?,
        slices,
    });
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_name_the_server_and_the_cause() {
        let err = PostgresSink::connect("postgres://postgres@127.0.0.1:1/none", None)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "postgres sink: connecting: 127.0.0.1:1/none: error connecting to server: "
            ),
            "{text}"
        );
    }

    #[test]
    fn plain_connections_only_to_loopback() {
        let plain = |url: &str| tls::Target::parse(url).is_ok();
        assert!(plain("postgres://postgres@127.0.0.1:5432/test"));
        assert!(plain("postgres://postgres@localhost/test"));
        assert!(plain("host=::1 user=postgres"));
        assert!(!plain(
            "postgres://postgres@db.example.com/test?sslmode=disable"
        ));
        assert!(!plain("postgres://postgres@10.0.0.5/test?sslmode=prefer"));
        assert!(
            plain("postgres://postgres@10.0.0.5/test"),
            "verify-full by default"
        );
    }
}
