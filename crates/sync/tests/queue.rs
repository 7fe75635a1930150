//! The pgmq work queue against the real server named by `AFFILIATE_TEST_POSTGRES_URL`
//! (unset: `skipped`; set but unreachable: fails). Each test works in a schema of its own,
//! with its own queue, both dropped at the end.

mod common;

use std::sync::Arc;
use std::time::Duration;

use affiliate_core::InviteeSource;
use affiliate_sync::{
    CancellationToken, Planned, PostgresSink, Sink, WorkQueue, Worker, WorkerOptions,
};
use common::{arc, options, row_time, Fake};
use sqlx::postgres::PgPool;

const VAR: &str = "AFFILIATE_TEST_POSTGRES_URL";

struct Db {
    queue: WorkQueue,
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
        let schema = format!("affqueue_{test}_{}", std::process::id());
        sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&client)
            .await
            .unwrap();
        let sink = Arc::new(PostgresSink::connect(&url, Some(&schema)).await.unwrap());
        let queue = WorkQueue::open(sink.clone()).await.unwrap();
        Some(Self {
            queue,
            sink,
            client,
            schema,
        })
    }

    async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(
            &sql.replace("{schema}", &self.schema)
                .replace("{queue}", self.queue.name()),
        )
        .fetch_one(&self.client)
        .await
        .unwrap()
    }

    fn worker(&self, name: &str, sources: &[Arc<dyn InviteeSource>]) -> Worker {
        let options = WorkerOptions::new(name)
            .with_exit_when_idle(true)
            .with_poll_interval(Duration::from_millis(50))
            .with_visibility_timeout(Duration::from_secs(2))
            .with_retry_backoff(Duration::from_millis(10))
            .with_sync(options());
        Worker::new(self.queue.clone(), sources.to_vec(), options)
    }

    async fn drop(self) {
        sqlx::query("SELECT pgmq.drop_queue($1)")
            .bind(self.queue.name())
            .execute(&self.client)
            .await
            .unwrap();
        sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .execute(&self.client)
            .await
            .unwrap();
    }
}

fn windowed(account: &str) -> Arc<Fake> {
    Arc::new(Fake::counted(account, 95, 10).windowed(24))
}

#[tokio::test]
async fn racing_and_repeated_plans_enqueue_each_slice_once() {
    let Some(db) = Db::open("plan").await else {
        return;
    };
    let fake = windowed("p");
    let sources = [arc(&fake)];
    let opts = options();
    let (a, b) = tokio::join!(
        db.queue.plan(&sources, &opts),
        db.queue.plan(&sources, &opts)
    );
    let results: Vec<_> = [&a[0].result, &b[0].result]
        .into_iter()
        .map(|r| r.clone().unwrap())
        .collect();
    let enqueued: Vec<usize> = results
        .iter()
        .filter_map(|r| match r {
            Planned::Enqueued { slices, .. } => Some(*slices),
            Planned::InProgress { .. } => None,
        })
        .collect();
    assert_eq!(enqueued.len(), 1, "{results:?}");
    assert!(enqueued[0] > 1, "several windows: {results:?}");
    let again = db.queue.plan(&sources, &options()).await;
    assert!(matches!(again[0].result, Ok(Planned::InProgress { .. })));
    let messages = db.scalar("SELECT count(*) FROM pgmq.q_{queue}").await;
    assert_eq!(messages, enqueued[0] as i64);
    let status = db.queue.status().await.unwrap();
    assert_eq!(status[0].queued, enqueued[0]);
    db.drop().await;
}

#[tokio::test]
async fn two_workers_store_every_record_once_and_finish_the_run() {
    let Some(db) = Db::open("workers").await else {
        return;
    };
    let (one, two) = (windowed("w1"), windowed("w2"));
    let sources = [arc(&one), arc(&two)];
    db.queue.plan(&sources, &options()).await;
    let (a, b) = (db.worker("a", &sources), db.worker("b", &sources));
    let (ra, rb) = tokio::join!(
        a.run(CancellationToken::new()),
        b.run(CancellationToken::new())
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.records + rb.records, 190, "{ra:?} {rb:?}");
    assert_eq!(ra.leases_lost + rb.leases_lost, 0);
    let rows = db
        .scalar("SELECT count(DISTINCT (account, id)) + count(*) FROM {schema}.invitees")
        .await;
    assert_eq!(rows, 380, "every record once");
    for fake in [&one, &two] {
        let state = db.sink.load_state(fake.id()).await.unwrap();
        assert!(state.run.is_none(), "the run is finished");
        assert_eq!(state.watermark, Some(row_time(94)));
    }
    let status = db.queue.status().await.unwrap();
    assert!(status
        .iter()
        .all(|s| s.queued == 0 && s.running.is_empty() && s.failed.is_empty()));
    assert_eq!(status.iter().map(|s| s.rows).sum::<i64>(), 190);
    assert_eq!(db.scalar("SELECT count(*) FROM pgmq.q_{queue}").await, 0);
    db.drop().await;
}

#[tokio::test]
async fn a_slice_that_keeps_failing_is_dead_after_its_attempts() {
    let Some(db) = Db::open("dead").await else {
        return;
    };
    let fake = windowed("d");
    fake.fail_windows_from(row_time(48));
    let sources = [arc(&fake)];
    db.queue.plan(&sources, &options()).await;
    let worker = Worker::new(
        db.queue.clone(),
        sources.to_vec(),
        WorkerOptions::new("a")
            .with_exit_when_idle(true)
            .with_poll_interval(Duration::from_millis(50))
            .with_max_attempts(2)
            .with_retry_backoff(Duration::from_millis(10))
            .with_sync(options()),
    );
    let report = worker.run(CancellationToken::new()).await.unwrap();
    assert!(report.slices_dead >= 1, "{report:?}");
    assert_eq!(report.slices_failed, 2 * report.slices_dead, "{report:?}");
    let status = db.queue.status().await.unwrap();
    let dead: Vec<_> = status[0].failed.iter().filter(|f| f.dead).collect();
    assert_eq!(dead.len() as u64, report.slices_dead);
    assert!(dead[0].error.contains("fake"), "{:?}", dead[0]);
    assert_eq!(dead[0].attempts, 2);
    assert!(status[0].run_id.is_some(), "the run stays unfinished");
    db.drop().await;
}
