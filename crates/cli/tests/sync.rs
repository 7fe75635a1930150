//! `affiliate sync` end to end against the four emulators: exactly once into SQLite, a
//! second run adding nothing, incremental runs fetching only new pages, one failing source,
//! NDJSON on standard output.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use affiliate_sandbox::Emulator;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_four_providers_land_exactly_once_and_a_rerun_adds_nothing() {
    let sandbox = Sandbox::start(250, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("out.db");
    let config = write(
        dir.path(),
        "affiliate.toml",
        &sandbox.config(40, 500, "1 day", ""),
    );
    let out_url = format!("sqlite://{}", db.display());
    let cmd = args(&[
        "sync",
        "--config",
        config.to_str().unwrap_or_default(),
        "--out",
        &out_url,
    ]);

    let first = run(cmd.clone(), sandbox.env()).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let truth = sandbox.truth();
    assert!(truth.values().all(|ids| ids.len() == 250));
    assert_exactly_once(&db, &truth);
    assert_eq!(runs_in_progress(&db), 0);
    let summary = stderr(&first);
    for source in ["triport:t", "coinw:t", "prefactor:t", "census:t"] {
        assert!(summary.contains(source), "{summary}");
    }

    // A second full run finds everything already stored.
    let second = run(cmd, sandbox.env()).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_exactly_once(&db, &truth);
    let text = stderr(&second);
    let new_column: Vec<&str> = text
        .lines()
        .filter(|l| l.ends_with('s') && l.contains(":t "))
        .filter_map(|l| l.split_whitespace().nth(4))
        .collect();
    assert_eq!(new_column, ["0", "0", "0", "0"], "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_run_after_new_sign_ups_fetches_only_the_new_pages() {
    let sandbox = Sandbox::start(200, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("inc.db");
    let toml = sandbox.config(20, 500, "1 day", "mode = \"incremental\"\noverlap = \"1h\"");
    let config = write(dir.path(), "affiliate.toml", &toml);
    let out_url = format!("sqlite://{}", db.display());
    let cmd = args(&[
        "sync",
        "--config",
        config.to_str().unwrap_or_default(),
        "--out",
        &out_url,
    ]);

    let first = run(cmd.clone(), sandbox.env()).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let after_first = sandbox.requests();
    let coinw_rows = sandbox.truth()["coinw"].len();

    sandbox.triport.insert_newest(3);
    sandbox.coinw.insert_newest(3);
    sandbox.prefactor.insert_newest(3);
    sandbox.census.insert_newest(3);
    let second = run(cmd, sandbox.env()).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_exactly_once(&db, &sandbox.truth());

    let after_second = sandbox.requests();
    let spent: Vec<(&str, usize, usize)> = after_first
        .iter()
        .map(|(p, n)| (*p, *n, after_second[p] - n))
        .collect();
    println!("requests (provider, first run, incremental run): {spent:?}");
    // Newest-first Triport stops at the watermark: the first page holds the new rows and
    // crosses it, then the head is re-read once.
    let triport = after_second["triport"] - after_first["triport"];
    assert!(triport <= 3, "triport incremental requests: {triport}");
    assert!(after_first["triport"] >= 10);
    // CoinW scans only the windows from the watermark on: one day window, or two when the
    // overlap crosses midnight in CoinW's zone (UTC+8, 16:00 UTC), each counted with one
    // `pageSize=1` probe, then one page per window (the new rows fit in one) and one re-read
    // of the newest window.
    let incremental = &sandbox.coinw.requests()[after_first["coinw"]..];
    let probes = incremental
        .iter()
        .filter(|r| r.contains("pageSize=1&"))
        .count();
    assert!(
        (1..=2).contains(&probes),
        "coinw incremental windows: {incremental:?}"
    );
    assert!(
        incremental.len() - probes <= probes + 1,
        "coinw incremental pages: {incremental:?}"
    );
    // The full run read every row, 20 a page (its plan reads runs of days as one slice).
    assert!(
        after_first["coinw"] > coinw_rows.div_ceil(20),
        "{after_first:?}"
    );
    // Prefactor and Census lists are oldest first with no server-side filter: an
    // incremental run lists them newest first (sorting=-id, order=desc) and stops at the
    // watermark, then re-reads the head once.
    for provider in ["prefactor", "census"] {
        let spent = after_second[provider] - after_first[provider];
        assert!(spent <= 3, "{provider} incremental requests: {spent}");
        assert!(
            after_first[provider] >= 10,
            "{provider}: {}",
            after_first[provider]
        );
    }
    let text = stderr(&second);
    assert!(text.contains("incremental"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_source_with_wrong_credentials_fails_alone_with_exit_code_1() {
    let sandbox = Sandbox::start(60, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("partial.db");
    let config = write(
        dir.path(),
        "affiliate.toml",
        &sandbox.config(20, 500, "1 day", ""),
    );
    let mut env = sandbox.env();
    for (name, value) in &mut env {
        if name == "CENSUS_TOKEN" {
            *value = "census_wrong_token".into();
        }
    }
    let out_url = format!("sqlite://{}", db.display());
    let out = run(
        args(&[
            "sync",
            "--config",
            config.to_str().unwrap_or_default(),
            "--out",
            &out_url,
        ]),
        env,
    )
    .await;
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("1 of 4 sources failed: census:t"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("census:t") && l.contains("FAILED")),
        "{text}"
    );
    // The reason: Census refused the token.
    assert!(text.contains("census:t: fetch failed"), "{text}");
    assert!(
        !text.contains("census_wrong_token"),
        "the token was printed: {text}"
    );
    let mut truth = sandbox.truth();
    truth.remove("census");
    assert_exactly_once(&db, &truth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_on_standard_output_keeps_progress_on_standard_error() {
    let sandbox = Sandbox::start(75, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "affiliate.toml",
        &sandbox.config(25, 500, "1 day", ""),
    );
    let out = run(
        args(&[
            "sync",
            "--config",
            config.to_str().unwrap_or_default(),
            "--out",
            "-",
        ]),
        sandbox.env(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    assert_eq!(lines.len(), 300);
    let keys: HashSet<(String, String)> = lines
        .iter()
        .map(|v| (v["provider"].to_string(), v["id"].to_string()))
        .collect();
    assert_eq!(keys.len(), 300, "a record was written twice");
    assert!(stderr(&out).contains("sync into ndjson on standard output"));
}
