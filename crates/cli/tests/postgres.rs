//! `affiliate sync` into PostgreSQL and `affiliate report` from it, against the server named
//! by `AFFILIATE_TEST_POSTGRES_URL` (unset: prints `skipped` and passes; set but
//! unreachable: fails). The test works in a schema of its own, dropped before and after.

mod common;

use std::time::Duration;

use common::*;

const VAR: &str = "AFFILIATE_TEST_POSTGRES_URL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_into_postgres_then_report_from_it() {
    let Ok(url) = std::env::var(VAR) else {
        println!("skipped: {VAR} not set");
        return;
    };
    let client = sqlx::PgPool::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{VAR}={url} is set but the server is unreachable: {e}"));
    let schema = format!("affcli_{}", std::process::id());
    let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    sqlx::raw_sql(&drop)
        .execute(&client)
        .await
        .expect("drop schema");

    let sandbox = Sandbox::start(80, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut toml = sandbox.config(30, 500, "1 month", "");
    toml.push_str(&format!(
        "\n[output]\nurl_env = \"PG_OUT\"\nschema = \"{schema}\"\n"
    ));
    let config = write(dir.path(), "affiliate.toml", &toml);
    let mut env = sandbox.env();
    env.push(("PG_OUT".to_owned(), url.clone()));
    let path = config.to_str().unwrap_or_default();

    let first = run(args(&["sync", "--config", path]), env.clone()).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let second = run(args(&["sync", "--config", path]), env).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));

    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {schema}.invitees"))
        .fetch_one(&client)
        .await
        .expect("count");
    assert_eq!(rows, 320);
    let distinct: i64 = sqlx::query_scalar(&format!(
        "SELECT count(DISTINCT (provider, account, id)) FROM {schema}.invitees"
    ))
    .fetch_one(&client)
    .await
    .expect("count distinct");
    assert_eq!(distinct, 320);

    let report = run(
        args(&[
            "report", "--db", &url, "--schema", &schema, "--format", "json",
        ]),
        Vec::new(),
    )
    .await;
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    let value: serde_json::Value = serde_json::from_str(&stdout(&report)).expect("JSON");
    let providers = value.as_array().expect("array");
    assert_eq!(providers.len(), 4);
    assert!(providers.iter().all(|p| p["invitees"] == 80), "{value}");

    sqlx::raw_sql(&drop)
        .execute(&client)
        .await
        .expect("drop schema");
}

/// A full sync of 100,000 invitees per provider (rate limits lifted, largest pages) into
/// NDJSON and into PostgreSQL; prints each wall time and the PostgreSQL rows per second.
///
/// `cargo test -p affiliate-cli --release --test postgres -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale measurement; run it with --ignored"]
async fn full_sync_into_postgres_and_ndjson_at_100k_per_provider() {
    let Ok(url) = std::env::var(VAR) else {
        println!("skipped: {VAR} not set");
        return;
    };
    let client = sqlx::PgPool::connect(&url).await.expect("server");
    let schema = format!("affscale_{}", std::process::id());
    let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    sqlx::raw_sql(&drop).execute(&client).await.expect("drop");
    let sandbox = Sandbox::start(100_000, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = sandbox
        .config(100, 1000, "1 month", "")
        .replacen("limit = 100", "limit = 200", 1)
        .replacen("page_size = 100", "page_size = 1000", 1);
    let mut pg = text.clone();
    pg.push_str(&format!(
        "\n[output]\nurl_env = \"PG_OUT\"\nschema = \"{schema}\"\n"
    ));
    let ndjson = dir.path().join("all.ndjson");
    let runs = [
        (
            "ndjson",
            write(dir.path(), "nd.toml", &text),
            Some(format!("ndjson:{}", ndjson.display())),
        ),
        ("postgres", write(dir.path(), "pg.toml", &pg), None),
    ];
    for (name, config, out) in runs {
        let mut a = vec![
            "sync".to_owned(),
            "--config".into(),
            config.display().to_string(),
        ];
        if let Some(out) = out {
            a.extend(["--out".to_owned(), out]);
        }
        let mut env = sandbox.env();
        env.push(("PG_OUT".to_owned(), url.clone()));
        let started = std::time::Instant::now();
        let result = run(a, env).await;
        let wall = started.elapsed().as_secs_f64();
        assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
        println!(
            "{name}: 400,000 rows in {wall:.1}s ({:.0} rows/s)",
            400_000.0 / wall
        );
    }
    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {schema}.invitees"))
        .fetch_one(&client)
        .await
        .expect("count");
    assert_eq!(rows, 400_000);
    sqlx::raw_sql(&drop).execute(&client).await.expect("drop");
}
