//! The `Debug` output of every public type that holds a secret, built with distinctive
//! secret values: builders, clients (via their configs too), the HTTP `Secret`, the sync
//! engine holding them, a PostgreSQL sink connected through a URL with a password and a
//! connection error for one. None may show a secret; a base URL's password is a secret too
//! (and is refused when a client is built).

use std::collections::HashMap;
use std::sync::Arc;

use affiliate_census::{CensusBuilder, CensusConfig};
use affiliate_coinw::{CoinwBuilder, CoinwConfig};
use affiliate_http::config::{SourceConfig, SourceSettings};
use affiliate_http::{Secret, SourceBuilder};
use affiliate_prefactor::{PrefactorBuilder, PrefactorConfig};
use affiliate_sync::{connect_postgres, PostgresSink, SqliteSink, SyncEngine};
use affiliate_triport::{TriportBuilder, TriportConfig};

const SECRETS: [&str; 7] = [
    "triport-session-7d1e",
    "triport-admin-9c2f",
    "prefactor-token-4b8a",
    "census-token-1f3d",
    "coinw-key-6e5c",
    "coinw-secret-2a9b",
    "url-password-8d4e",
];

/// A base URL carrying a password in its user part.
const URL: &str = "https://user:url-password-8d4e@127.0.0.1:9";

fn assert_clean(what: &str, shown: &str) {
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{what} shows a secret: {shown}");
    }
}

#[tokio::test]
async fn no_public_type_shows_a_secret_in_debug() {
    let triport = TriportBuilder::new()
        .with_base_url(URL)
        .with_session(SECRETS[0])
        .with_admin_token(SECRETS[1]);
    let prefactor = PrefactorBuilder::new()
        .with_base_url(URL)
        .with_token(SECRETS[2])
        .with_account_id("acct");
    let census = CensusBuilder::new()
        .with_base_url(URL)
        .with_token(SECRETS[3]);
    let coinw = CoinwBuilder::new()
        .with_base_url(URL)
        .with_api_key(SECRETS[4])
        .with_secret_key(SECRETS[5]);
    assert_clean("TriportBuilder", &format!("{triport:?}"));
    assert_clean("PrefactorBuilder", &format!("{prefactor:?}"));
    assert_clean("CensusBuilder", &format!("{census:?}"));
    assert_clean("CoinwBuilder", &format!("{coinw:?}"));
    assert_clean("Secret", &format!("{:?}", Secret::new(SECRETS[0])));

    // Clients as the CLI builds them: from configs, secrets read from the environment.
    let env: HashMap<String, String> = [
        ("TRIPORT_SESSION", SECRETS[0]),
        ("TRIPORT_ADMIN_TOKEN", SECRETS[1]),
        ("PREFACTOR_TOKEN", SECRETS[2]),
        ("PREFACTOR_ACCOUNT_ID", "acct"),
        ("CENSUS_TOKEN", SECRETS[3]),
        ("COINW_API_KEY", SECRETS[4]),
        ("COINW_SECRET_KEY", SECRETS[5]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut settings = SourceSettings::default();
    settings.base_url = Some(URL.to_owned());
    // A password in the base URL is refused, and the refusal does not repeat it.
    let refused = TriportConfig::default().build(&settings, &env).unwrap_err();
    assert_clean("the refusal", &format!("{refused:?}"));
    assert!(format!("{refused:?}").contains("may not carry a user or password"));
    settings.base_url = Some("https://127.0.0.1:9".to_owned());
    let clients: Vec<(&str, String)> = vec![
        (
            "TriportClient",
            format!(
                "{:?}",
                TriportConfig::default().build(&settings, &env).unwrap()
            ),
        ),
        (
            "TriportClient (operator)",
            format!(
                "{:?}",
                TriportConfig::default()
                    .admin_client(&settings, &env)
                    .unwrap()
            ),
        ),
        (
            "PrefactorClient",
            format!(
                "{:?}",
                PrefactorConfig::default().build(&settings, &env).unwrap()
            ),
        ),
        (
            "CensusClient",
            format!(
                "{:?}",
                CensusConfig::default().build(&settings, &env).unwrap()
            ),
        ),
        (
            "CoinwClient",
            format!(
                "{:?}",
                serde_json::from_str::<CoinwConfig>(r#"{"utc_offset": "+08:00"}"#)
                    .unwrap()
                    .build(&settings, &env)
                    .unwrap()
            ),
        ),
    ];
    for (what, shown) in &clients {
        assert!(
            shown.len() > 20,
            "{what} has a Debug worth reading: {shown}"
        );
        assert_clean(what, shown);
    }

    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(SqliteSink::open(dir.path().join("r.db")).await.unwrap());
    let source = TriportBuilder::new()
        .with_base_url("https://127.0.0.1:9")
        .with_session(SECRETS[0])
        .build()
        .unwrap();
    let engine = SyncEngine::new(sink).with_sources(vec![source]);
    assert_clean("SyncEngine", &format!("{engine:?}"));

    // Nothing listens on port 9: the connection fails, and neither the error nor its
    // Debug shows the password.
    let err = connect_postgres("postgres://user:url-password-8d4e@127.0.0.1:9/db")
        .await
        .expect_err("nothing listens on port 9");
    assert_clean("SinkError", &format!("{err} {err:?}"));
}

#[tokio::test]
async fn a_connected_postgres_sink_does_not_show_its_password() {
    const URL_VAR: &str = "AFFILIATE_TEST_POSTGRES_URL";
    let Ok(url) = std::env::var(URL_VAR) else {
        println!("skipped: {URL_VAR} not set");
        return;
    };
    // The test server trusts local connections: the password is never asked for, but it is
    // in the URL the sink was given.
    let with_password = url.replacen("postgres@", "postgres:url-password-8d4e@", 1);
    assert_ne!(with_password, url, "{URL_VAR} names the user postgres");
    let sink = PostgresSink::connect(&with_password, Some("redaction_check"))
        .await
        .unwrap_or_else(|e| panic!("{URL_VAR} is set but unreachable: {e}"));
    let shown = format!("{sink:?}");
    assert!(
        shown.len() > 20,
        "PostgresSink has a Debug worth reading: {shown}"
    );
    assert_clean("PostgresSink", &shown);
}
