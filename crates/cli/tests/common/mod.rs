//! Shared by the CLI tests: the four emulators in the test process, config files pointing
//! at them, running the built `affiliate` binary, and reading the SQLite database back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use affiliate_sandbox::census::{CensusConfig, CensusEmulator};
use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator};
use affiliate_sandbox::prefactor::{PrefactorConfig, PrefactorEmulator};
use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use affiliate_sandbox::Emulator;
use chrono::{DateTime, TimeDelta, Utc};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_affiliate");

/// One emulator of each provider.
pub struct Sandbox {
    pub triport: TriportEmulator,
    pub coinw: CoinwEmulator,
    pub prefactor: PrefactorEmulator,
    pub census: CensusEmulator,
}

impl Sandbox {
    /// `n` records in each emulator, `latency` per request. Triport, Prefactor and Census
    /// sign up one person every 10 minutes up to an hour ago; CoinW every 2 hours up to 8
    /// hours ago (so 1-day windows hold about 12 rows, and a few new sign-ups still land
    /// in the past).
    pub async fn start(n: u64, latency: Duration) -> Self {
        let newest = Utc::now() - TimeDelta::hours(8);
        let newest = DateTime::from_timestamp(newest.timestamp(), 0).unwrap_or(newest);
        Self {
            triport: TriportEmulator::start(TriportConfig::new(n).latency(latency))
                .await
                .expect("triport emulator"),
            coinw: CoinwEmulator::start(
                CoinwConfig::new(n)
                    .spacing(TimeDelta::hours(2))
                    .newest_at(newest)
                    .latency(latency),
            )
            .await
            .expect("coinw emulator"),
            prefactor: PrefactorEmulator::start(PrefactorConfig::new(n).latency(latency))
                .await
                .expect("prefactor emulator"),
            census: CensusEmulator::start(CensusConfig::new(n).latency(latency))
                .await
                .expect("census emulator"),
        }
    }

    /// The credentials, under the providers' standard variable names.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("TRIPORT_SESSION".into(), self.triport.session().into()),
            ("COINW_API_KEY".into(), self.coinw.api_key().into()),
            ("COINW_SECRET_KEY".into(), self.coinw.secret_key().into()),
            ("PREFACTOR_TOKEN".into(), self.prefactor.token().into()),
            ("CENSUS_TOKEN".into(), self.census.token().into()),
        ]
    }

    /// A config with all four providers (label `t`), pages of `page` rows, `rate` requests
    /// per second per source, CoinW windows of `window`, and `sync` as the `[sync]` body.
    pub fn config(&self, page: u32, rate: u32, window: &str, sync: &str) -> String {
        let offset = self.coinw.utc_offset();
        let since = self.coinw.oldest_at().with_timezone(&offset).date_naive();
        format!(
            r#"[sync]
{sync}

[[source]]
provider = "triport"
label = "t"
base_url = "{triport}"
limit = {page}
rate_limit = {rate}

[[source]]
provider = "coinw"
label = "t"
base_url = "{coinw}"
utc_offset = "{offset}"
since = {since}
window = "{window}"
page_size = {page}
rate_limit = {rate}

[[source]]
provider = "prefactor"
label = "t"
base_url = "{prefactor}"
page_size = {page}
rate_limit = {rate}

[[source]]
provider = "census"
label = "t"
base_url = "{census}"
per_page = {page}
rate_limit = {rate}
"#,
            triport = self.triport.base_url(),
            coinw = self.coinw.base_url(),
            prefactor = self.prefactor.base_url(),
            census = self.census.base_url(),
        )
    }

    /// Ground truth: every provider's ids, sorted.
    pub fn truth(&self) -> BTreeMap<String, Vec<String>> {
        let sorted = |mut ids: Vec<String>| {
            ids.sort();
            ids
        };
        BTreeMap::from([
            (
                "triport".to_owned(),
                sorted(self.triport.ids_newest_first()),
            ),
            (
                "coinw".to_owned(),
                sorted(
                    self.coinw
                        .invitees_newest_first()
                        .into_iter()
                        .map(|(uid, _)| uid.to_string())
                        .collect(),
                ),
            ),
            ("prefactor".to_owned(), sorted(self.prefactor.ids())),
            ("census".to_owned(), sorted(self.census.ids_newest_first())),
        ])
    }

    /// Requests each emulator served so far.
    pub fn requests(&self) -> BTreeMap<&'static str, usize> {
        BTreeMap::from([
            ("triport", self.triport.requests().len()),
            ("coinw", self.coinw.requests().len()),
            ("prefactor", self.prefactor.requests().len()),
            ("census", self.census.requests().len()),
        ])
    }
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// Variables the binary reads, removed from the environment it inherits so only what a
/// test passes counts.
pub const PROVIDER_VARS: [&str; 14] = [
    "TRIPORT_SESSION",
    "TRIPORT_ADMIN_TOKEN",
    "TRIPORT_BASE_URL",
    "COINW_API_KEY",
    "COINW_SECRET_KEY",
    "COINW_BASE_URL",
    "COINW_UTC_OFFSET",
    "PREFACTOR_TOKEN",
    "PREFACTOR_BASE_URL",
    "PREFACTOR_ACCOUNT_ID",
    "CENSUS_TOKEN",
    "CENSUS_BASE_URL",
    "CENSUS_REGION",
    "RUST_LOG",
];

/// The binary with a clean environment plus `env`.
pub fn command(args: &[String], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    for var in PROVIDER_VARS {
        cmd.env_remove(var);
    }
    cmd.args(args)
        .envs(env.iter().cloned())
        .stdin(Stdio::null());
    cmd
}

/// Runs the binary to completion off the async runtime (the emulators keep serving).
pub async fn run(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || command(&args, &env).output().expect("run affiliate"))
        .await
        .expect("join")
}

/// Runs the binary to completion (no emulators involved).
pub fn run_now(args: &[&str], env: &[(&str, &str)]) -> Output {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    command(&self::args(args), &env)
        .output()
        .expect("run affiliate")
}

/// `args` as owned strings.
pub fn args(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// Standard error of `out` as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Standard output of `out` as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every stored id per provider, sorted (duplicates kept, so they show).
pub fn db_ids(db: &Path) -> BTreeMap<String, Vec<String>> {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare("SELECT provider, id FROM invitees ORDER BY provider, id")
        .expect("query");
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .expect("rows");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        let (provider, id) = row.expect("row");
        out.entry(provider).or_default().push(id);
    }
    out
}

/// Every id per provider in an NDJSON output, sorted (duplicates kept, so they show). A
/// line cut off by a kill (no newline yet) was never committed: the next run cuts it off,
/// so it is not counted.
pub fn ndjson_ids(path: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path).expect("read ndjson");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let whole = text.split_inclusive('\n').filter(|l| l.ends_with('\n'));
    for line in whole.map(str::trim_end) {
        let row: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let provider = row["provider"].as_str().unwrap_or_default().to_owned();
        let id = row["id"].as_str().unwrap_or_default().to_owned();
        out.entry(provider).or_default().push(id);
    }
    for ids in out.values_mut() {
        ids.sort();
    }
    out
}

/// Rows per provider.
pub fn counts(ids: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, usize> {
    ids.iter().map(|(p, v)| (p.clone(), v.len())).collect()
}

/// Asserts the database holds exactly the ground truth: every id once, nothing else.
pub fn assert_exactly_once(db: &Path, truth: &BTreeMap<String, Vec<String>>) {
    assert_ids_exactly_once(&db_ids(db), truth);
}

/// Asserts `stored` (sorted ids per provider, duplicates kept) is exactly the ground truth.
pub fn assert_ids_exactly_once(
    stored: &BTreeMap<String, Vec<String>>,
    truth: &BTreeMap<String, Vec<String>>,
) {
    for (provider, expected) in truth {
        let got = stored.get(provider).cloned().unwrap_or_default();
        let mut unique = got.clone();
        unique.dedup();
        assert_eq!(unique.len(), got.len(), "{provider}: duplicate ids stored");
        let missing: Vec<_> = expected
            .iter()
            .filter(|id| got.binary_search(id).is_err())
            .collect();
        let extra: Vec<_> = got
            .iter()
            .filter(|id| expected.binary_search(id).is_err())
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{provider}: {} missing (e.g. {:?}), {} unexpected (e.g. {:?})",
            missing.len(),
            missing.first(),
            extra.len(),
            extra.first()
        );
    }
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        truth.keys().collect::<Vec<_>>(),
        "providers stored"
    );
}

/// Runs in progress recorded in the database (0 once every source finished).
pub fn runs_in_progress(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open db");
    conn.query_row(
        "SELECT count(*) FROM sync_state WHERE run_id IS NOT NULL",
        [],
        |r| r.get(0),
    )
    .expect("count")
}
