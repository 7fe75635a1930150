//! `affiliate report` (table, JSON, CSV, SVG chart) on a database synced from the
//! emulators, and `affiliate triport user` against the Triport emulator.

mod common;

use std::time::Duration;

use common::*;

const UUID: &str = "3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_formats_and_chart_match_the_synced_rows() {
    let sandbox = Sandbox::start(120, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("report.db");
    let config = write(
        dir.path(),
        "affiliate.toml",
        &sandbox.config(50, 500, "1 month", ""),
    );
    let db_url = format!("sqlite://{}", db.display());
    let synced = run(
        args(&[
            "sync",
            "--config",
            config.to_str().unwrap_or_default(),
            "--out",
            &db_url,
        ]),
        sandbox.env(),
    )
    .await;
    assert_eq!(synced.status.code(), Some(0), "{}", stderr(&synced));

    // What the Triport emulator says was paid.
    let paid: Vec<i64> = sandbox
        .triport
        .rows_newest_first()
        .iter()
        .filter_map(|r| r["total_paid_micro"].as_i64())
        .collect();
    let paying = paid.iter().filter(|p| **p > 0).count() as u64;
    let total: i64 = paid.iter().sum();

    let table = run(args(&["report", "--db", &db_url]), Vec::new()).await;
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let text = stdout(&table);
    for word in [
        "provider",
        "invitees",
        "census",
        "coinw",
        "prefactor",
        "triport",
    ] {
        assert!(text.contains(word), "{word} missing from\n{text}");
    }

    let json = run(
        args(&["report", "--db", &db_url, "--format", "json"]),
        Vec::new(),
    )
    .await;
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("JSON report");
    let providers = value.as_array().expect("an array");
    assert_eq!(providers.len(), 4);
    for p in providers {
        assert_eq!(p["invitees"], 120, "{p}");
        assert_eq!(p["accounts"], serde_json::json!(["t"]));
    }
    let triport = providers
        .iter()
        .find(|p| p["provider"] == "triport")
        .expect("triport");
    assert_eq!(triport["paying"], paying);
    assert_eq!(triport["total_paid_micro"], total);
    assert_eq!(triport["joined"], 120);
    // Every Triport invitee signed up within the last 21 hours (one every 10 minutes).
    assert_eq!(triport["joined_last_30_days"], 120);

    let csv = run(
        args(&["report", "--db", &db_url, "--format", "csv"]),
        Vec::new(),
    )
    .await;
    assert_eq!(csv.status.code(), Some(0), "{}", stderr(&csv));
    let text = stdout(&csv);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with(
        "provider,accounts,invitees,joined,joined_last_30_days,paying,total_paid,total_paid_micro"
    ));
    let triport_line = lines
        .iter()
        .find(|l| l.starts_with("triport,"))
        .expect("triport line");
    assert!(
        triport_line.contains(&format!(",{total},")),
        "{triport_line}"
    );

    let chart = dir.path().join("signups.svg");
    let charted = run(
        args(&[
            "report",
            "--db",
            db.to_str().unwrap_or_default(),
            "--chart",
            chart.to_str().unwrap_or_default(),
        ]),
        Vec::new(),
    )
    .await;
    assert_eq!(charted.status.code(), Some(0), "{}", stderr(&charted));
    let svg = std::fs::read_to_string(&chart).expect("chart written");
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 4, "one line per provider");
    for provider in ["census", "coinw", "prefactor", "triport"] {
        assert!(svg.contains(provider), "{provider} not in the legend");
    }
}

#[test]
fn report_refuses_what_is_not_a_synced_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.db");
    let out = run_now(
        &["report", "--db", &format!("sqlite://{}", missing.display())],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("there is no database"));
    let out = run_now(&["report", "--db", "ndjson:rows.ndjson"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x INTEGER);"))
        .expect("create");
    let out = run_now(&["report", "--db", other.to_str().unwrap_or_default()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("has no invitees table"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triport_user_prints_the_operator_view() {
    let sandbox = Sandbox::start(5, Duration::ZERO).await;
    let token = sandbox
        .triport
        .admin_token()
        .expect("the emulator has a token")
        .to_owned();
    let env = vec![
        ("TRIPORT_BASE_URL".to_owned(), sandbox.triport.base_url()),
        ("TRIPORT_ADMIN_TOKEN".to_owned(), token.clone()),
    ];
    let out = run(
        args(&["triport", "user", UUID, "--format", "json"]),
        env.clone(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let view: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON view");
    assert_eq!(view["user_id"], UUID);
    assert!(view["tier_label"].is_string());
    assert!(view["balance"]["lifetime_micro"].is_i64());
    assert!(view["recent_attributions"].is_array());
    assert!(!stdout(&out).contains(&token));

    let table = run(args(&["triport", "user", UUID]), env).await;
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(
        text.contains("tier") && text.contains("commission"),
        "{text}"
    );

    // Base URL and token variable from a config file.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "t.toml",
        &format!(
            "[[source]]\nprovider = \"triport\"\nlabel = \"ops\"\nbase_url = \"{}\"\nadmin_token_env = \"OPS_TOKEN\"\n",
            sandbox.triport.base_url()
        ),
    );
    let path = config.to_str().unwrap_or_default();
    let out = run(
        args(&[
            "triport", "user", UUID, "--config", path, "--format", "json",
        ]),
        vec![("OPS_TOKEN".to_owned(), token)],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // No token: a usage error naming the variable and the key.
    let out = run(
        args(&["triport", "user", UUID, "--config", path]),
        Vec::new(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("source[0].admin_token_env"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("OPS_TOKEN"));

    // A wrong token: the request fails (exit 1), and the token is not printed.
    let out = run(
        args(&["triport", "user", UUID, "--config", path]),
        vec![("OPS_TOKEN".to_owned(), "wrong-ops-token".to_owned())],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong-ops-token"));

    // Not a UUID.
    let out = run_now(
        &["triport", "user", "not-a-uuid"],
        &[("TRIPORT_ADMIN_TOKEN", "x")],
    );
    assert_eq!(out.status.code(), Some(2));
}
