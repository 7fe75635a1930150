//! The PostgreSQL sink against a real server named by `AFFILIATE_TEST_POSTGRES_URL`.
//!
//! Unset: each test prints `skipped: AFFILIATE_TEST_POSTGRES_URL not set` and passes. Set
//! but unreachable: the tests fail, saying so. Each test works in a schema of its own
//! (`affsync_<test>_<pid>`), dropped at the start and the end.

mod common;

use std::sync::Arc;

use affiliate_core::{
    Cursor, Invitee, InviteeSource, InviteeStatus, Position, Provider, Scope, SourceId,
};
use affiliate_sync::{
    PageCommit, PostgresSink, RunState, Sink, SinkError, SliceProgress, SourceStatus, SyncEngine,
    SyncMode,
};
use chrono::{DateTime, Utc};
use common::{arc, options, row_time, Fake};
use sqlx::postgres::PgPool;
use sqlx::Row;

const VAR: &str = "AFFILIATE_TEST_POSTGRES_URL";

/// A test's own schema, a sink in it and a plain client for checks.
struct Db {
    sink: Arc<PostgresSink>,
    client: PgPool,
    schema: String,
}

impl Db {
    async fn open(test: &str) -> Option<Self> {
        let Ok(url) = std::env::var(VAR) else {
            println!("skipped: {VAR} not set");
            return None;
        };
        let client = PgPool::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{VAR}={url} is set but the server is unreachable: {e}"));
        let schema = format!("affsync_{test}_{}", std::process::id());
        sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&client)
            .await
            .unwrap();
        let sink = PostgresSink::connect(&url, Some(&schema))
            .await
            .unwrap_or_else(|e| panic!("{VAR}={url}: {e}"));
        Some(Self {
            sink: Arc::new(sink),
            client,
            schema,
        })
    }

    async fn count(&self, account: &str) -> (i64, i64) {
        sqlx::query_as(&format!(
            "SELECT count(*), count(DISTINCT id) FROM {}.invitees WHERE account = $1",
            self.schema
        ))
        .bind(account)
        .fetch_one(&self.client)
        .await
        .unwrap()
    }

    /// The one value `sql` selects (`{schema}` replaced by the test's schema).
    async fn scalar<T>(&self, sql: &str) -> T
    where
        T: Send + Unpin + for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        sqlx::query_scalar(&sql.replace("{schema}", &self.schema))
            .fetch_one(&self.client)
            .await
            .unwrap()
    }

    async fn drop_schema(self) {
        sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .execute(&self.client)
            .await
            .unwrap();
    }
}

fn source() -> SourceId {
    SourceId::new(Provider::Census, "acme")
}

fn first() -> Cursor {
    Cursor::at(Position::Page { number: 1, size: 3 })
}

#[tokio::test]
async fn postgres_stores_a_replayed_page_once_with_typed_columns_and_state() {
    let Some(db) = Db::open("replay").await else {
        return;
    };
    let run = RunState::new("r1", SyncMode::Full, &Scope::full(), Utc::now(), [first()]);
    db.sink.begin_run(&source(), &run).await.unwrap();
    let mut rows: Vec<Invitee> = ["1", "2", "3"]
        .iter()
        .map(|id| Invitee::new(source(), *id, InviteeStatus::Invited))
        .collect();
    rows[0].invited_at = Some(row_time(5));
    rows[0].total_paid_micro = Some(-12_500_000);
    rows[0].email = Some("ana@example.com".into());
    rows[0]
        .extra
        .insert("invite_url".into(), "https://x.test/i/1".into());
    let next = Cursor::at(Position::Page { number: 2, size: 3 });
    let commit = PageCommit::new("r1", &run.slices[0].start, &rows, Some(&next))
        .with_watermark(Some(row_time(5)));
    let once = db.sink.commit_page(&source(), &commit).await.unwrap();
    assert_eq!((once.inserted, once.existing), (3, 0));
    let twice = db.sink.commit_page(&source(), &commit).await.unwrap();
    assert_eq!((twice.inserted, twice.existing), (0, 3));
    assert_eq!(db.count("acme").await, (3, 3));

    let row = sqlx::query(&format!(
        "SELECT invited_at, total_paid_micro, extra->>'invite_url', email, status
         FROM {}.invitees WHERE id = '1'",
        db.schema
    ))
    .fetch_one(&db.client)
    .await
    .unwrap();
    assert_eq!(row.get::<DateTime<Utc>, _>(0), row_time(5));
    assert_eq!(row.get::<i64, _>(1), -12_500_000);
    assert_eq!(row.get::<String, _>(2), "https://x.test/i/1");
    assert_eq!(row.get::<String, _>(3), "ana@example.com");
    assert_eq!(row.get::<String, _>(4), "invited");

    let state = db.sink.load_state(&source()).await.unwrap();
    let loaded = state.run.unwrap();
    assert_eq!(loaded.id, "r1");
    assert_eq!(loaded.slices[0].progress, SliceProgress::At(next.clone()));
    assert_eq!(loaded.watermark, Some(row_time(5)));

    // A superseded run cannot write.
    let newer = RunState::new("r2", SyncMode::Full, &Scope::full(), Utc::now(), [first()]);
    db.sink.begin_run(&source(), &newer).await.unwrap();
    let err = db.sink.commit_page(&source(), &commit).await.unwrap_err();
    assert!(matches!(err, SinkError::Conflict { .. }), "{err}");
    db.sink
        .finish_run(&source(), "r2", Some(row_time(9)))
        .await
        .unwrap();
    let state = db.sink.load_state(&source()).await.unwrap();
    assert!(state.run.is_none());
    assert_eq!(state.watermark, Some(row_time(9)));
    db.drop_schema().await;
}

#[tokio::test]
async fn postgres_sync_resumes_after_a_failure_with_every_record_once() {
    let Some(db) = Db::open("resume").await else {
        return;
    };
    let sink = db.sink.clone();
    let fake = Arc::new(Fake::counted("pg", 95, 10));
    fake.fail_from_row(Some(50));
    let failed = SyncEngine::new(sink.clone())
        .with_source(arc(&fake))
        .with_options(options())
        .run()
        .await;
    assert_eq!(failed.sources[0].status, SourceStatus::Failed);
    // Offset pages overlap by one row: the page at 45 holds rows 45-54, the one at 54 fails.
    assert_eq!(failed.sources[0].records, 55);

    fake.fail_from_row(None);
    let resumed = SyncEngine::new(sink.clone())
        .with_source(arc(&fake))
        .with_options(options())
        .run()
        .await;
    assert!(resumed.is_success(), "{resumed}");
    assert!(resumed.sources[0].resumed);
    assert_eq!(resumed.sources[0].records, 40);
    let state = sink.load_state(fake.id()).await.unwrap();
    assert_eq!(state.watermark, Some(row_time(94)));
    assert_eq!(db.count("pg").await, (95, 95));
    db.drop_schema().await;
}

#[tokio::test]
async fn postgres_upserts_pages_larger_than_one_batch() {
    let Some(db) = Db::open("batches").await else {
        return;
    };
    let sink = db.sink.clone();
    // One page of 2,500 rows: three INSERT statements in one transaction.
    let fake = Arc::new(Fake::counted("big", 2_500, 2_500));
    for expected in [2_500, 0] {
        let report = SyncEngine::new(sink.clone())
            .with_source(arc(&fake))
            .with_options(options())
            .run()
            .await;
        assert!(report.is_success(), "{report}");
        assert_eq!(report.sources[0].records, expected);
    }
    assert_eq!(db.count("big").await, (2_500, 2_500));
    db.drop_schema().await;
}

#[tokio::test]
async fn plain_connections_to_remote_hosts_are_refused_before_connecting() {
    let err = PostgresSink::connect("postgres://u@db.example.com/x?sslmode=disable", None)
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Config { .. }), "{err}");
    assert!(err.to_string().contains("unencrypted"), "{err}");
}

/// The TLS cluster `.ci/ensure-postgres-tls` starts: its URL, the CA that signed its
/// certificate (for `localhost`) and an unrelated CA.
fn tls_cluster() -> Option<(String, String, String)> {
    const TLS: &str = "AFFILIATE_TEST_POSTGRES_TLS_URL";
    let Ok(url) = std::env::var(TLS) else {
        println!("skipped: {TLS} not set (bash .ci/ensure-postgres-tls starts the cluster)");
        return None;
    };
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{TLS} is set but {name} is not"))
    };
    Some((
        url,
        var("AFFILIATE_TEST_POSTGRES_TLS_ROOT"),
        var("AFFILIATE_TEST_POSTGRES_TLS_WRONG_ROOT"),
    ))
}

#[tokio::test]
async fn verify_full_with_the_right_root_connects_over_tls() {
    let Some((url, root, _)) = tls_cluster() else {
        return;
    };
    // The tables go in the TLS cluster's default schema (created if missing, reused).
    let sink = PostgresSink::connect(
        &format!("{url}?sslmode=verify-full&sslrootcert={root}"),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("verify-full against {url}: {e}"));
    sink.begin_run(
        &source(),
        &RunState::new("r1", SyncMode::Full, &Scope::full(), Utc::now(), [first()]),
    )
    .await
    .expect("a run over TLS");
    // The server only accepts TLS (hostssl): a plain connection is refused by it.
    let plain = PostgresSink::connect(&format!("{url}?sslmode=disable"), None).await;
    assert!(plain.is_err(), "the TLS cluster refuses plain connections");
}

#[tokio::test]
async fn a_wrong_root_or_a_wrong_host_name_fails_the_handshake_clearly() {
    let Some((url, root, wrong)) = tls_cluster() else {
        return;
    };
    let err = PostgresSink::connect(
        &format!("{url}?sslmode=verify-full&sslrootcert={wrong}"),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    println!("a wrong root: {err}");
    // The certificate names localhost, not 127.0.0.1: verify-full refuses, verify-ca not.
    let by_ip = url.replace("localhost", "127.0.0.1");
    let err = PostgresSink::connect(
        &format!("{by_ip}?sslmode=verify-full&sslrootcert={root}"),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    println!("a wrong host name: {err}");
    // verify-ca checks the chain: the right root passes, the wrong one does not. (With
    // sqlx 0.8 it also checks the host name, stricter than libpq: sqlx issue #3793.)
    PostgresSink::connect(&format!("{url}?sslmode=verify-ca&sslrootcert={root}"), None)
        .await
        .unwrap_or_else(|e| panic!("verify-ca with the right root: {e}"));
    let err = PostgresSink::connect(
        &format!("{url}?sslmode=verify-ca&sslrootcert={wrong}"),
        None,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn changes_are_recorded_with_their_money_deltas_and_a_quiet_run_writes_none() {
    let Some(db) = Db::open("history").await else {
        return;
    };
    let fake = Arc::new(Fake::counted("h", 20, 6));
    fake.edit(|i, row| {
        row.total_paid_micro = Some(i as i64);
        row.extra
            .insert("tier".into(), serde_json::json!({"b": 1, "a": [1, 2]}));
    });
    let sync = |force: bool| {
        let (sink, fake) = (db.sink.clone(), fake.clone());
        async move {
            let options = options()
                .with_mode(SyncMode::Incremental)
                .with_force_refresh(force);
            SyncEngine::new(sink)
                .with_source(arc(&fake))
                .with_options(options)
                .run()
                .await
        }
    };
    let changes = |field: &'static str| {
        let sql = format!(
            "SELECT count(*), sum(delta_micro)::bigint FROM {}.invitee_changes WHERE field = $1",
            db.schema
        );
        let client = &db.client;
        async move {
            let row: (i64, Option<i64>) = sqlx::query_as(&sql)
                .bind(field)
                .fetch_one(client)
                .await
                .unwrap();
            row
        }
    };
    assert!(sync(false).await.is_success());
    assert_eq!(changes("*").await, (20, None));
    fake.edit(|i, row| {
        if i < 4 {
            row.total_paid_micro = Some(i as i64 + 2_500_000);
            row.status = InviteeStatus::Revoked;
        }
    });
    let refreshed = sync(true).await;
    assert!(refreshed.is_success(), "{refreshed}");
    assert!(refreshed.sources[0].refresh);
    assert_eq!(refreshed.sources[0].changed, 4);
    assert_eq!(changes("total_paid_micro").await, (4, Some(10_000_000)));
    assert_eq!(changes("status").await, (4, None));
    // jsonb reorders the extra object's keys: still no change on a quiet run.
    let quiet = sync(true).await;
    assert_eq!(quiet.sources[0].changed, 0, "{quiet}");
    let all: i64 = db
        .scalar("SELECT count(*) FROM {schema}.invitee_changes")
        .await;
    assert_eq!(all, 28);
    let refreshed: bool = db
        .scalar("SELECT refreshed_at IS NOT NULL FROM {schema}.sync_state")
        .await;
    assert!(refreshed);
    db.drop_schema().await;
}

#[tokio::test]
async fn migrations_are_recorded_once_and_adopt_tables_made_before_them() {
    let Some(db) = Db::open("migrate").await else {
        return;
    };
    let versions = "SELECT array_agg(version ORDER BY version) FROM {schema}._sqlx_migrations";
    let applied: Vec<i64> = db.scalar(versions).await;
    assert_eq!(applied, [1, 2]);
    // Connecting again applies nothing and keeps the rows.
    let url = std::env::var(VAR).unwrap();
    PostgresSink::connect(&url, Some(&db.schema)).await.unwrap();
    let again: Vec<i64> = db.scalar(versions).await;
    assert_eq!(again, [1, 2]);

    // A database from before recorded migrations: the same tables, no version table.
    let old = format!("{}_old", db.schema);
    sqlx::raw_sql(&format!(
        "DROP SCHEMA IF EXISTS {old} CASCADE; CREATE SCHEMA {old}; SET search_path TO {old}; {}",
        include_str!("../migrations/postgres/0001_tables.sql")
    ))
    .execute(&db.client)
    .await
    .unwrap();
    let adopted = PostgresSink::connect(&url, Some(&old)).await.unwrap();
    adopted.load_state(&source()).await.unwrap();
    let applied: Vec<i64> = db
        .scalar(&format!(
            "SELECT array_agg(version ORDER BY version) FROM {old}._sqlx_migrations"
        ))
        .await;
    assert_eq!(applied, [1, 2]);
    sqlx::raw_sql(&format!("DROP SCHEMA {old} CASCADE"))
        .execute(&db.client)
        .await
        .unwrap();
    db.drop_schema().await;
}

#[tokio::test]
async fn text_that_copy_would_misread_is_stored_as_listed() {
    let Some(db) = Db::open("escapes").await else {
        return;
    };
    let run = RunState::new("r1", SyncMode::Full, &Scope::full(), Utc::now(), [first()]);
    db.sink.begin_run(&source(), &run).await.unwrap();
    let mut row = Invitee::new(source(), "tab\tid", InviteeStatus::Joined);
    row.display_name = Some("back\\slash\nnew line\r\tand \\N".into());
    row.email = Some(String::new());
    row.extra.insert("note".into(), "a\\nb\t\"q\"".into());
    let rows = [row.clone()];
    let commit = PageCommit::new("r1", &run.slices[0].start, &rows, None);
    db.sink.commit_page(&source(), &commit).await.unwrap();
    let stored: (String, String, Option<String>, String) = sqlx::query_as(&format!(
        "SELECT id, display_name, email, extra->>'note' FROM {}.invitees",
        db.schema
    ))
    .fetch_one(&db.client)
    .await
    .unwrap();
    assert_eq!(stored.0, "tab\tid");
    assert_eq!(Some(stored.1), row.display_name);
    assert_eq!(stored.2.as_deref(), Some(""), "an empty string is not NULL");
    assert_eq!(stored.3, "a\\nb\t\"q\"");
    db.drop_schema().await;
}
