//! `affiliate demo`: starts an emulator of every provider in this process, syncs them all
//! into a SQLite file through the same configuration path as `affiliate sync`, and prints a
//! summary table.
//!
//! Every run starts from a fresh database: the emulators generate their data anew each
//! time, so the file is replaced, but only if the demo created it (it carries an
//! `affiliate_demo` table); any other existing file is refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use affiliate::InviteeSource;
use affiliate_sandbox::census::{CensusConfig, CensusEmulator};
use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator};
use affiliate_sandbox::prefactor::{PrefactorConfig, PrefactorEmulator};
use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use chrono::{TimeDelta, Utc};
use rusqlite::{Connection, OptionalExtension};

use crate::args::DemoArgs;
use crate::config::Config;
use crate::error::Failure;
use crate::output::Target;
use crate::progress::Style;
use crate::stats::Stats;
use crate::store::Db;
use crate::table;

use super::sync::{execute, open_sink, outcome, summary};

/// How far back the generated sign-ups go (26 weeks, for a readable weekly chart).
const SPAN_DAYS: i64 = 182;
/// The table marking a database as the demo's own, so a rerun may replace it.
const MARKER: &str = "affiliate_demo";

/// The four emulators of one demo run.
struct Emulators {
    triport: TriportEmulator,
    coinw: CoinwEmulator,
    prefactor: PrefactorEmulator,
    census: CensusEmulator,
}

/// Runs `affiliate demo`.
pub(crate) async fn run(args: DemoArgs) -> Result<(), Failure> {
    let started = Instant::now();
    prepare_db(&args.db)?;
    let emulators = start(args.records)
        .await
        .map_err(|e| Failure::Failed(format!("cannot start the emulators: {e}")))?;
    let config = Config::parse(Path::new("(demo configuration)"), &demo_toml(&emulators))?;
    let resolved = config.resolve(&credentials(&emulators))?;
    let target = Target::Sqlite(args.db.clone());
    let sink = open_sink(&target, None).await?;
    let bars: Vec<_> = resolved
        .sources
        .iter()
        .map(|s| (s.id().clone(), Some(args.records)))
        .collect();
    eprintln!(
        "affiliate demo: {} records in each of 4 local emulators (Triport, CoinW, Prefactor, Census), syncing into {}",
        table::thousands(args.records),
        args.db.display()
    );
    let report = execute(
        resolved.sources,
        resolved.options,
        sink,
        &bars,
        Style::detect(),
    )
    .await;
    drop(emulators);
    eprint!("{}", summary(&report, &target));
    let stats = Db::Sqlite(args.db.clone())
        .stats(None, Utc::now(), None)
        .await?;
    println!("\n{}", summary_table(&stats));
    println!(
        "demo finished in {:.1}s. Next: `affiliate report --db sqlite://{} --chart signups.svg`",
        started.elapsed().as_secs_f64(),
        args.db.display()
    );
    outcome(&report, false)
}

/// The per-provider table the demo ends with.
fn summary_table(stats: &Stats) -> String {
    let rows: Vec<Vec<String>> = stats
        .providers()
        .map(|p| {
            vec![
                p.provider.clone(),
                table::thousands(p.invitees),
                table::thousands(p.joined_last_30_days),
                table::thousands(p.paying),
                table::units(p.total_paid_micro),
            ]
        })
        .collect();
    table::render(
        &[
            ("provider", false),
            ("invitees", true),
            ("joined (last 30 days)", true),
            ("paying", true),
            ("total paid", true),
        ],
        &rows,
    )
}

/// Removes a database an earlier demo created; refuses to touch any other file.
fn prepare_db(path: &Path) -> Result<(), Failure> {
    if path.exists() {
        let ours = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| {
                c.query_row(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [MARKER],
                    |r| r.get::<_, String>(0),
                )
                .optional()
            })
            .ok()
            .flatten()
            .is_some();
        if !ours {
            return Err(Failure::Usage(format!(
                "{} exists and was not created by `affiliate demo`; the demo will not replace it\n  fix: pass another --db PATH, or remove the file",
                path.display()
            )));
        }
        for file in [
            path.to_path_buf(),
            sibling(path, "-wal"),
            sibling(path, "-shm"),
        ] {
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Failure::Failed(format!(
                        "cannot replace {}: {e}",
                        file.display()
                    )))
                }
            }
        }
    }
    let conn = Connection::open(path).map_err(|e| {
        Failure::Usage(format!(
            "cannot create {}: {e}\n  fix: pass a --db PATH in a writable directory",
            path.display()
        ))
    })?;
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {MARKER} (note TEXT NOT NULL);
         INSERT INTO {MARKER} (note) VALUES ('created by affiliate demo; replaced on the next run');"
    ))
    .map_err(|e| Failure::Failed(format!("cannot write {}: {e}", path.display())))
}

/// `PATH` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Starts the four emulators with `records` each, spread over the last 26 weeks, with
/// 5-20 ms of latency per request.
async fn start(records: u64) -> std::io::Result<Emulators> {
    let span = TimeDelta::days(SPAN_DAYS);
    let gaps = i32::try_from(records.max(2) - 1).unwrap_or(i32::MAX);
    let spacing = (span / gaps).max(TimeDelta::seconds(1));
    let whole_seconds = TimeDelta::seconds(spacing.num_seconds().max(1));
    let mut triport = TriportConfig::new(records).latency(Duration::from_millis(8));
    triport.spacing = spacing;
    let coinw = CoinwConfig::new(records)
        .spacing(whole_seconds)
        .latency(Duration::from_millis(12));
    let mut prefactor = PrefactorConfig::new(records).latency(Duration::from_millis(5));
    prefactor.spacing = spacing;
    let mut census = CensusConfig::new(records).latency(Duration::from_millis(20));
    census.spacing = spacing;
    Ok(Emulators {
        triport: TriportEmulator::start(triport).await?,
        coinw: CoinwEmulator::start(coinw).await?,
        prefactor: PrefactorEmulator::start(prefactor).await?,
        census: CensusEmulator::start(census).await?,
    })
}

/// The configuration the demo syncs with: what a user would write for these four accounts.
fn demo_toml(e: &Emulators) -> String {
    let offset = e.coinw.utc_offset();
    let since = e.coinw.oldest_at().with_timezone(&offset).date_naive();
    format!(
        r#"
[sync]
mode = "full"

[[source]]
provider = "triport"
label = "demo"
base_url = "{triport}"
limit = 50
rate_limit = 25

[[source]]
provider = "coinw"
label = "demo"
base_url = "{coinw}"
utc_offset = "{offset}"
since = {since}
window = "1 month"
page_size = 100
rate_limit = 25

[[source]]
provider = "prefactor"
label = "demo"
base_url = "{prefactor}"
page_size = 50
rate_limit = 25

[[source]]
provider = "census"
label = "demo"
base_url = "{census}"
per_page = 50
rate_limit = 25
"#,
        triport = e.triport.base_url(),
        coinw = e.coinw.base_url(),
        prefactor = e.prefactor.base_url(),
        census = e.census.base_url(),
    )
}

/// The emulators' credentials under the standard variable names.
fn credentials(e: &Emulators) -> HashMap<String, String> {
    HashMap::from([
        ("TRIPORT_SESSION".to_owned(), e.triport.session().to_owned()),
        ("COINW_API_KEY".to_owned(), e.coinw.api_key().to_owned()),
        (
            "COINW_SECRET_KEY".to_owned(),
            e.coinw.secret_key().to_owned(),
        ),
        ("PREFACTOR_TOKEN".to_owned(), e.prefactor.token().to_owned()),
        ("CENSUS_TOKEN".to_owned(), e.census.token().to_owned()),
    ])
}
