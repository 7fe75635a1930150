//! Rows per second into each sink: 1,000,000 invitees (four sources of 250,000) committed in
//! pages of 1,000 through the `Sink` trait, as the engine commits them; then the same rows
//! again (every row already stored and unchanged, the refresh pass's common case).
//!
//! `cargo bench -p affiliate-tests --bench sinks` (PostgreSQL from
//! `AFFILIATE_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`; the
//! bench works in a schema of its own, dropped afterwards). `-- --rows N` changes the total.

use std::process::Command;
use std::time::Instant;

use affiliate_core::{Cursor, Invitee, InviteeStatus, Position, Provider, Scope, SourceId};
use affiliate_sync::{FileFormat, FileSink, PageCommit, PostgresSink, RunState, Sink, SyncMode};
use chrono::{Duration, TimeZone, Utc};

const PAGE: usize = 1000;
const PROVIDERS: [Provider; 4] = [
    Provider::Triport,
    Provider::Coinw,
    Provider::Prefactor,
    Provider::Census,
];

fn rows_of(source: &SourceId, count: usize) -> Vec<Invitee> {
    let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    (0..count)
        .map(|i| {
            let mut row = Invitee::new(source.clone(), format!("{i}"), InviteeStatus::Joined);
            row.invited_at = Some(t0 + Duration::seconds(i as i64));
            row.joined_at = Some(t0 + Duration::seconds(i as i64 + 60));
            row.display_name = Some(format!("User {i}"));
            row.email = Some(format!("user{i}@example.com"));
            row.total_paid_micro = Some((i as i64 % 1000) * 1_000_000);
            row.extra
                .insert("tier".into(), serde_json::Value::from(i % 3));
            row
        })
        .collect()
}

/// Commits every source's rows as one run of one slice, page by page; returns rows/s.
async fn load(sink: &dyn Sink, sources: &[(SourceId, Vec<Invitee>)]) -> f64 {
    let started = Instant::now();
    let mut total = 0usize;
    for (id, rows) in sources {
        let slice = Cursor::at(Position::Offset {
            offset: 0,
            limit: PAGE as u32,
        });
        let run = RunState::new(
            "bench",
            SyncMode::Full,
            &Scope::full(),
            Utc::now(),
            [slice.clone()],
        );
        sink.begin_run(id, &run).await.expect("begin run");
        let pages: Vec<&[Invitee]> = rows.chunks(PAGE).collect();
        for (n, page) in pages.iter().enumerate() {
            let next = Cursor::at(Position::Offset {
                offset: ((n + 1) * PAGE) as u64,
                limit: PAGE as u32,
            });
            let resume = (n + 1 < pages.len()).then_some(&next);
            let commit = PageCommit::new("bench", &slice, page, resume);
            sink.commit_page(id, &commit).await.expect("commit page");
            total += page.len();
        }
        sink.finish_run(id, "bench", None)
            .await
            .expect("finish run");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn psql(url: &str, sql: &str) {
    let status = Command::new("psql")
        .args([url, "-qc", sql])
        .env("PGOPTIONS", "--client-min-messages=warning")
        .status()
        .expect("psql runs");
    assert!(status.success(), "psql {sql}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1_000_000);
    let sources: Vec<(SourceId, Vec<Invitee>)> = PROVIDERS
        .iter()
        .map(|p| {
            let id = SourceId::new(p.clone(), "bench");
            let rows = rows_of(&id, total / PROVIDERS.len());
            (id, rows)
        })
        .collect();
    let url = std::env::var("AFFILIATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!("{total} rows in pages of {PAGE}");
    println!(
        "{:<12} {:>14} {:>16}",
        "sink", "load rows/s", "reload rows/s"
    );
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = FileSink::open(dir.path().join("out.ndjson"), FileFormat::Ndjson)
            .await
            .expect("ndjson sink");
        let first = load(&file, &sources).await;
        let again = load(&file, &sources).await;
        println!("{:<12} {first:>14.0} {again:>16.0}", "ndjson");

        let schema = format!("affbench_{}", std::process::id());
        psql(&url, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        let pg = PostgresSink::connect(&url, Some(&schema))
            .await
            .expect("postgres sink");
        let first = load(&pg, &sources).await;
        let again = load(&pg, &sources).await;
        println!("{:<12} {first:>14.0} {again:>16.0}", "postgres");
        drop(pg);
        psql(&url, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    });
}
