//! `affiliate plan`, `worker` and `status` against the server named by
//! `AFFILIATE_TEST_POSTGRES_URL` (unset: `skipped`; set but unreachable: fails) and the four
//! emulators: workers killed (SIGKILL) or paused (SIGSTOP) mid-slice, racing plans. Each
//! test works in a schema (and queue) of its own, dropped afterwards. The figures are
//! printed (`-- --nocapture`).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use affiliate::sync::WorkQueue;
use affiliate_sandbox::{Drift, Emulator};
use chrono::Utc;
use common::*;
use sqlx::postgres::PgPool;

const VAR: &str = "AFFILIATE_TEST_POSTGRES_URL";

/// A schema, the emulators and a config whose `[output]` points at the schema.
struct Setup {
    pool: PgPool,
    schema: String,
    sandbox: Sandbox,
    config: PathBuf,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start(test: &str, records: u64, latency: Duration) -> Option<Self> {
        let Ok(url) = std::env::var(VAR) else {
            println!("skipped: {VAR} not set");
            return None;
        };
        let pool = PgPool::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{VAR}={url} is set but the server is unreachable: {e}"));
        let schema = format!("affwork_{test}_{}", std::process::id());
        let sandbox = Sandbox::start(records, latency).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut toml = sandbox.config(25, 1000, "1 month", "");
        toml.push_str(&format!(
            "\n[output]\nurl_env = \"PG_OUT\"\nschema = \"{schema}\"\n"
        ));
        let config = write(dir.path(), "affiliate.toml", &toml);
        let mut env = sandbox.env();
        env.push(("PG_OUT".to_owned(), url));
        let setup = Self {
            pool,
            schema,
            sandbox,
            config,
            env,
            _dir: dir,
        };
        setup.sql("DROP SCHEMA IF EXISTS {schema} CASCADE").await;
        Some(setup)
    }

    fn args(&self, command: &[&str]) -> Vec<String> {
        let mut all = args(command);
        all.extend(["--config".to_owned(), self.config.display().to_string()]);
        all
    }

    fn spawn(&self, what: &[&str]) -> Running {
        let mut env = self.env.clone();
        // Workers say when they take a slice: the tests wait for that line, not for a time.
        env.push((
            "RUST_LOG".to_owned(),
            "warn,affiliate_sync::queue=info".to_owned(),
        ));
        let child = command(&self.args(what), &env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start affiliate");
        Running::watch(child)
    }

    fn worker(&self, name: &str, timeout: &str) -> Running {
        self.spawn(&[
            "worker",
            "--exit-when-idle",
            "--name",
            name,
            "--visibility-timeout",
            timeout,
        ])
    }

    async fn sql(&self, sql: &str) {
        sqlx::raw_sql(&sql.replace("{schema}", &self.schema))
            .execute(&self.pool)
            .await
            .expect(sql);
    }

    async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(&sql.replace("{schema}", &self.schema))
            .fetch_one(&self.pool)
            .await
            .expect(sql)
    }

    /// Ids stored per provider, sorted.
    async fn stored(&self) -> BTreeMap<String, Vec<String>> {
        let rows: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT provider, id FROM {}.invitees ORDER BY provider, id",
            self.schema
        ))
        .fetch_all(&self.pool)
        .await
        .expect("read invitees");
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (provider, id) in rows {
            out.entry(provider).or_default().push(id);
        }
        out
    }

    /// Every id of every emulator stored once, every run finished, the queue empty.
    async fn assert_done_exactly_once(&self) -> usize {
        let truth = self.sandbox.truth();
        let stored = self.stored().await;
        for (provider, ids) in &truth {
            let mut ids = ids.clone();
            ids.sort();
            assert_eq!(
                stored.get(provider),
                Some(&ids),
                "{provider}: every id once"
            );
        }
        assert_eq!(
            self.scalar("SELECT count(*) FROM {schema}.sync_state WHERE run_id IS NOT NULL")
                .await,
            0,
            "every run finished"
        );
        let status = self.status().await;
        for source in status.as_array().expect("array") {
            assert_eq!(source["queued"], 0, "{source}");
            assert_eq!(
                source["running"].as_array().map(Vec::len),
                Some(0),
                "{source}"
            );
            assert!(
                source["failed"].as_array().is_some_and(|f| f.is_empty()),
                "{source}"
            );
        }
        truth.values().map(Vec::len).sum()
    }

    async fn status(&self) -> serde_json::Value {
        let out = run(self.args(&["status", "--format", "json"]), self.env.clone()).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_str(&stdout(&out)).expect("status JSON")
    }

    async fn plan(&self) {
        let out = run(self.args(&["plan"]), self.env.clone()).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }

    /// Drops the schema and its queue.
    async fn finish(self) {
        sqlx::query("SELECT pgmq.drop_queue($1)")
            .bind(WorkQueue::name_for(Some(&self.schema)))
            .execute(&self.pool)
            .await
            .expect("drop the queue");
        self.sql("DROP SCHEMA IF EXISTS {schema} CASCADE").await;
    }
}

/// A started `affiliate` process whose standard error is read line by line as it comes.
struct Running {
    child: Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn watch(mut child: Child) -> Self {
        let stderr = child.stderr.take().expect("piped stderr");
        let (send, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for the worker's "slice taken" line; false if it exited without one.
    async fn took_a_slice(&mut self) -> bool {
        while let Some(line) = self.lines.recv().await {
            let taken = line.contains("slice taken");
            self.seen.push(line);
            if taken {
                return true;
            }
        }
        false
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name}");
    }

    /// The exit code (`None`: killed by a signal) and all it wrote to standard error.
    async fn finish(mut self) -> (Option<i32>, String) {
        while let Some(line) = self.lines.recv().await {
            self.seen.push(line);
        }
        let mut child = self.child;
        let status = tokio::task::spawn_blocking(move || child.wait().expect("wait"))
            .await
            .expect("join");
        (status.code(), self.seen.join("\n"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_killed_mid_slice_store_every_record_once() {
    let Some(setup) = Setup::start("kill", 1200, Duration::from_millis(3)).await else {
        return;
    };
    let started = Instant::now();
    setup.plan().await;
    let slices = setup
        .scalar("SELECT count(*) FROM {schema}.sync_slices")
        .await;
    let workers: Vec<Running> = ["w1", "w2", "w3"]
        .iter()
        .map(|name| setup.worker(name, "3s"))
        .collect();
    let mut workers = workers.into_iter();
    let mut victim = workers.next().expect("w1");
    assert!(victim.took_a_slice().await, "w1 never took a slice");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let table = run(setup.args(&["status"]), setup.env.clone()).await;
    println!("status while the workers run:\n{}", stdout(&table));
    let mid_slice = setup
        .scalar(
            "SELECT count(*) FROM {schema}.sync_slices \
             WHERE worker = 'w1' AND lease_until > now() AND NOT complete",
        )
        .await;
    victim.signal("KILL");
    let (code, _) = victim.finish().await;
    assert_eq!(code, None, "killed by a signal");
    for worker in workers {
        let (code, err) = worker.finish().await;
        assert_eq!(code, Some(0), "{err}");
    }
    let rows = setup.assert_done_exactly_once().await;
    println!(
        "three workers, one SIGKILLed holding {mid_slice} slice(s): {slices} slices, {rows} rows \
         exactly once, {:.1}s",
        started.elapsed().as_secs_f64()
    );
    setup.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_workers_late_commit_is_refused_after_its_lease_expired() {
    let Some(setup) = Setup::start("pause", 600, Duration::from_millis(5)).await else {
        return;
    };
    setup.plan().await;
    let mut paused = setup.worker("paused", "2s");
    assert!(
        paused.took_a_slice().await,
        "the first worker never took a slice"
    );
    paused.signal("STOP");
    let taker = setup.worker("taker", "2s");
    let (code, err) = taker.finish().await;
    assert_eq!(code, Some(0), "{err}");
    paused.signal("CONT");
    let (code, err) = paused.finish().await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        !err.contains(" 0 taken over by others"),
        "the paused worker noticed it lost its slice: {err}"
    );
    let rows = setup.assert_done_exactly_once().await;
    // Each slice's row counter counts committed page rows: a late commit applied on top of
    // the taker's would count a page twice.
    let committed = setup
        .scalar("SELECT sum(rows)::bigint FROM {schema}.sync_slices")
        .await;
    assert_eq!(committed, rows as i64, "no page committed twice");
    println!(
        "paused worker: {rows} rows exactly once; its report: {}",
        err.trim()
    );
    setup.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_plans_racing_enqueue_each_slice_once() {
    let Some(setup) = Setup::start("race", 200, Duration::ZERO).await else {
        return;
    };
    let (a, b) = (setup.spawn(&["plan"]), setup.spawn(&["plan"]));
    let ((ca, ea), (cb, eb)) = (a.finish().await, b.finish().await);
    assert_eq!((ca, cb), (Some(0), Some(0)), "{ea}\n{eb}");
    let planned = format!("{ea}{eb}").matches(" planned ").count();
    assert_eq!(
        planned, 4,
        "each source planned by one of the two:\n{ea}\n{eb}"
    );
    let slices = setup
        .scalar("SELECT count(*) FROM {schema}.sync_slices")
        .await;
    let status = setup.status().await;
    let queued: i64 = status
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["queued"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(queued, slices);
    let worker = setup.worker("only", "5s");
    let (code, err) = worker.finish().await;
    assert_eq!(code, Some(0), "{err}");
    let rows = setup.assert_done_exactly_once().await;
    println!("racing plans: {slices} slices enqueued once, {rows} rows");
    setup.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinw_sign_ups_arriving_while_workers_run_are_included_once() {
    let Some(setup) = Setup::start("arrivals", 300, Duration::from_millis(2)).await else {
        return;
    };
    setup.plan().await;
    let bound = Utc::now();
    // Every CoinW request lets a sign-up arrive (two hours after the newest): the first few
    // land before the run's frozen bound, in the newest window, which was read first.
    setup.sandbox.coinw.set_drift(Drift {
        inserts_per_request: 1,
        deletes_per_request: 0,
    });
    let (code, err) = setup.worker("only", "5s").finish().await;
    setup.sandbox.coinw.set_drift(Drift::default());
    assert_eq!(code, Some(0), "{err}");
    let mut truth: Vec<String> = setup
        .sandbox
        .coinw
        .invitees_newest_first()
        .into_iter()
        .filter(|(_, at)| *at <= bound)
        .map(|(uid, _)| uid.to_string())
        .collect();
    truth.sort();
    assert!(
        truth.len() > 300,
        "sign-ups arrived before the bound: {}",
        truth.len()
    );
    let stored = setup.stored().await;
    assert_eq!(
        stored.get("coinw"),
        Some(&truth),
        "every CoinW sign-up once"
    );
    println!(
        "arrivals: {} CoinW invitees before the bound, each once",
        truth.len()
    );
    setup.finish().await;
}
