//! A sync of the four providers with `RUST_LOG=trace` (reqwest, hyper, rustls and our own
//! spans included), into SQLite, into NDJSON and into PostgreSQL over TLS: no secret value
//! (the providers' credentials, the database password) appears in the complete log output,
//! the database, the NDJSON file or its state file, and neither does any CoinW request
//! signature the emulator received.

mod common;

use std::time::Duration;

use common::*;

/// Every byte the run left behind that a person or a tool could read.
fn haystacks(dir: &std::path::Path, log: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("log".to_owned(), log.as_bytes().to_vec())];
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read file");
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

/// Where a run writes: `--out` arguments, or a config section naming the URL's variable,
/// plus that variable.
struct Output {
    args: Vec<String>,
    section: String,
    env: Vec<(String, String)>,
}

/// SQLite, NDJSON and, when `.ci/ensure-postgres-tls` started its cluster, PostgreSQL over
/// TLS (verify-full) with a password in the URL (the cluster trusts, so it is never sent).
fn outputs(dir: &std::path::Path, db_password: &str) -> Vec<Output> {
    let file = |url: String| Output {
        args: args(&["--out", &url]),
        section: String::new(),
        env: Vec::new(),
    };
    let mut outputs = vec![
        file(format!("sqlite://{}/out.db", dir.display())),
        file(format!("ndjson:{}/out.ndjson", dir.display())),
    ];
    const TLS: &str = "AFFILIATE_TEST_POSTGRES_TLS_URL";
    match (
        std::env::var(TLS),
        std::env::var("AFFILIATE_TEST_POSTGRES_TLS_ROOT"),
    ) {
        (Ok(url), Ok(root)) => outputs.push(Output {
            args: Vec::new(),
            section: "[output]\nurl_env = \"TRACE_TEST_OUTPUT_URL\"\nschema = \"trace_secrets\"\n"
                .into(),
            env: vec![(
                "TRACE_TEST_OUTPUT_URL".into(),
                format!(
                    "{}?sslmode=verify-full&sslrootcert={root}",
                    url.replacen("postgres@", &format!("postgres:{db_password}@"), 1)
                ),
            )],
        }),
        _ => println!("skipped the PostgreSQL run: {TLS} not set (bash .ci/ensure-postgres-tls)"),
    }
    outputs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_trace_logs_databases_or_state_files() {
    let sandbox = Sandbox::start(120, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db_password = "db-pw-7f3a9c1e";
    let mut secrets: Vec<String> = sandbox.env().into_iter().map(|(_, value)| value).collect();
    secrets.push(db_password.to_owned());
    let mut scanned = 0usize;
    let mut signed = 0usize;
    for output in outputs(dir.path(), db_password) {
        let config = sandbox.config(25, 1000, "1 month", "") + &output.section;
        let config = write(dir.path(), "affiliate.toml", &config);
        let mut env = sandbox.env();
        env.push(("RUST_LOG".to_owned(), "trace".to_owned()));
        env.extend(output.env);
        let mut command = args(&["sync", "--config", &config.display().to_string()]);
        command.extend(output.args);
        let run = run(command, env).await;
        let log = stderr(&run);
        let tail = &log[log.len().saturating_sub(2000)..];
        assert_eq!(run.status.code(), Some(0), "{tail}");
        assert!(log.contains("TRACE"), "trace logging was on");
        // reqwest logs through the `log` crate: its lines are in the output too.
        assert!(
            log.contains("starting new connection"),
            "reqwest's log lines: {tail}"
        );
        if output.section.contains("url_env") {
            // rustls, also through `log`, during the handshake with the TLS cluster.
            assert!(log.contains("ClientHello"), "rustls's log lines: {tail}");
        }
        // Each request's CoinW signature is as good as the key for replaying it.
        let signatures = sandbox.coinw.signatures();
        assert!(!signatures.is_empty(), "CoinW requests were signed");
        signed = signatures.len();
        for (name, bytes) in haystacks(dir.path(), &log) {
            scanned += bytes.len();
            for signature in &signatures {
                let found = bytes
                    .windows(signature.len())
                    .any(|w| w == signature.as_bytes());
                assert!(!found, "a CoinW request signature is in {name}");
            }
            for secret in &secrets {
                let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(!found, "a secret ({} chars) is in {name}", secret.len());
            }
        }
    }
    println!("scanned {scanned} bytes of logs, databases and state files: no secret, none of {signed} CoinW signatures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_the_errors_of_a_failing_trace_run() {
    let sandbox = Sandbox::start(30, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "affiliate.toml",
        &sandbox.config(25, 1000, "1 month", ""),
    );
    // Every credential wrong (and each one a secret all the same): every source fails.
    let wrong: Vec<(String, String)> = sandbox
        .env()
        .into_iter()
        .map(|(name, value)| (name, format!("wrong-{value}-x9")))
        .collect();
    let mut env = wrong.clone();
    env.push(("RUST_LOG".to_owned(), "trace".to_owned()));
    let out = format!("sqlite://{}", dir.path().join("out.db").display());
    let run = run(
        args(&[
            "sync",
            "--config",
            &config.display().to_string(),
            "--out",
            &out,
        ]),
        env,
    )
    .await;
    let log = format!("{}{}", stderr(&run), String::from_utf8_lossy(&run.stdout));
    assert_ne!(run.status.code(), Some(0), "every source failed");
    for provider in ["triport", "coinw", "prefactor", "census"] {
        assert!(
            log.contains(provider),
            "{provider}'s error is reported: {log}"
        );
    }
    let signatures = sandbox.coinw.signatures();
    assert!(!signatures.is_empty(), "CoinW requests were signed");
    for (name, bytes) in haystacks(dir.path(), &log) {
        for secret in wrong.iter().map(|(_, v)| v).chain(&signatures) {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "a secret ({} chars) is in {name}", secret.len());
        }
    }
}
