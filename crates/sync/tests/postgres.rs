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
use tokio_postgres::{Client, NoTls};

const VAR: &str = "AFFILIATE_TEST_POSTGRES_URL";

/// A test's own schema, a sink in it and a plain client for checks.
struct Db {
    sink: Arc<PostgresSink>,
    client: Client,
    schema: String,
}

impl Db {
    async fn open(test: &str) -> Option<Self> {
        let Ok(url) = std::env::var(VAR) else {
            println!("skipped: {VAR} not set");
            return None;
        };
        let (client, connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .unwrap_or_else(|e| {
                let cause = std::error::Error::source(&e)
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                panic!("{VAR}={url} is set but the server is unreachable: {e}: {cause}")
            });
        tokio::spawn(connection);
        let schema = format!("affsync_{test}_{}", std::process::id());
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
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
        let row = self
            .client
            .query_one(
                &format!(
                    "SELECT count(*), count(DISTINCT id) FROM {}.invitees WHERE account = $1",
                    self.schema
                ),
                &[&account],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    }

    async fn drop_schema(self) {
        self.client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
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

    let row = db
        .client
        .query_one(
            &format!(
                "SELECT invited_at, total_paid_micro, extra->>'invite_url', email, status
                 FROM {}.invitees WHERE id = '1'",
                db.schema
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, DateTime<Utc>>(0), row_time(5));
    assert_eq!(row.get::<_, i64>(1), -12_500_000);
    assert_eq!(row.get::<_, String>(2), "https://x.test/i/1");
    assert_eq!(row.get::<_, String>(3), "ana@example.com");
    assert_eq!(row.get::<_, String>(4), "invited");

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
    assert_eq!(failed.sources[0].records, 50);

    fake.fail_from_row(None);
    let resumed = SyncEngine::new(sink.clone())
        .with_source(arc(&fake))
        .with_options(options())
        .run()
        .await;
    assert!(resumed.is_success(), "{resumed}");
    assert!(resumed.sources[0].resumed);
    assert_eq!(resumed.sources[0].records, 45);
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
    PostgresSink::connect(
        &format!("{by_ip}?sslmode=verify-ca&sslrootcert={root}"),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("verify-ca ignores the host name: {e}"));
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
            let row = client.query_one(&sql, &[&field]).await.unwrap();
            (row.get::<_, i64>(0), row.get::<_, Option<i64>>(1))
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
    let all = db
        .client
        .query_one(
            &format!("SELECT count(*) FROM {}.invitee_changes", db.schema),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(all.get::<_, i64>(0), 28);
    let refreshed_at = db
        .client
        .query_one(
            &format!(
                "SELECT refreshed_at IS NOT NULL FROM {}.sync_state",
                db.schema
            ),
            &[],
        )
        .await
        .unwrap();
    assert!(refreshed_at.get::<_, bool>(0));
    db.drop_schema().await;
}
