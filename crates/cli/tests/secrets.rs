//! A sync of the four providers with `RUST_LOG=trace` (reqwest, hyper and our own spans
//! included), into SQLite and into NDJSON: no secret value appears in the complete log
//! output, the database, the NDJSON file or its state file, and neither does any CoinW
//! request signature the emulator received.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_trace_logs_databases_or_state_files() {
    let sandbox = Sandbox::start(120, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "affiliate.toml",
        &sandbox.config(25, 1000, "1 month", ""),
    );
    let config = config.display().to_string();
    let mut env = sandbox.env();
    env.push(("RUST_LOG".to_owned(), "trace".to_owned()));
    let secrets: Vec<String> = sandbox.env().into_iter().map(|(_, value)| value).collect();
    let mut scanned = 0usize;
    let mut signed = 0usize;
    for out in [
        format!("sqlite://{}", dir.path().join("out.db").display()),
        format!("ndjson:{}", dir.path().join("out.ndjson").display()),
    ] {
        let run = run(
            args(&["sync", "--config", &config, "--out", &out]),
            env.clone(),
        )
        .await;
        let log = stderr(&run);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{}",
            &log[log.len().saturating_sub(2000)..]
        );
        assert!(log.contains("TRACE"), "trace logging was on");
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
