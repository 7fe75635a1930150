//! `affiliate report`: per-provider totals as a table, JSON or CSV, and an SVG chart of
//! sign-ups per week.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::args::{ReportArgs, ReportFormat};
use crate::chart;
use crate::error::Failure;
use crate::stats::{ProviderStats, Stats};
use crate::store::Db;
use crate::table;

/// Runs `affiliate report`.
pub(crate) async fn run(args: ReportArgs) -> Result<(), Failure> {
    let db = Db::parse(&args.db)?;
    if let Some(chart) = &args.chart {
        if chart.as_os_str().is_empty() {
            return Err(Failure::Usage("--chart: the file name is empty".into()));
        }
    }
    let stats = db.stats(args.schema.as_deref(), Utc::now()).await?;
    let text = match args.format {
        ReportFormat::Table => table_text(&stats),
        ReportFormat::Json => json_text(&stats)?,
        ReportFormat::Csv => csv_text(&stats)?,
    };
    print!("{text}");
    if let Some(path) = &args.chart {
        std::fs::write(path, chart::signups_svg(&stats)).map_err(|e| {
            Failure::Failed(format!("cannot write the chart to {}: {e}", path.display()))
        })?;
        eprintln!("chart of sign-ups per week written to {}", path.display());
    }
    Ok(())
}

/// `2024-05-01`, or empty.
fn date(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// RFC 3339 in UTC, or null.
fn instant(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        Value::String(t.to_rfc3339_opts(SecondsFormat::Secs, true))
    })
}

/// The account labels, space-separated.
fn accounts(p: &ProviderStats) -> String {
    p.accounts.iter().cloned().collect::<Vec<_>>().join(" ")
}

/// The totals as an aligned table.
pub(crate) fn table_text(stats: &Stats) -> String {
    if stats.is_empty() {
        return "no invitees in the database yet\n".to_owned();
    }
    let rows: Vec<Vec<String>> = stats
        .providers()
        .map(|p| {
            vec![
                p.provider.clone(),
                accounts(p),
                table::thousands(p.invitees),
                table::thousands(p.joined),
                table::thousands(p.joined_last_30_days),
                table::thousands(p.paying),
                table::units(p.total_paid_micro),
                date(p.first_joined),
                date(p.last_joined),
            ]
        })
        .collect();
    table::render(
        &[
            ("provider", false),
            ("accounts", false),
            ("invitees", true),
            ("joined", true),
            ("joined 30d", true),
            ("paying", true),
            ("total paid", true),
            ("first joined", false),
            ("last joined", false),
        ],
        &rows,
    )
}

/// One provider in the JSON report (fields in this order).
#[derive(Serialize)]
struct ProviderJson<'a> {
    provider: &'a str,
    accounts: Vec<&'a str>,
    invitees: u64,
    joined: u64,
    joined_last_30_days: u64,
    paying: u64,
    total_paid_micro: i64,
    total_paid: String,
    first_joined: Value,
    last_joined: Value,
    signups_per_week: BTreeMap<String, u64>,
}

/// The totals as a JSON array (amounts both in micro-units and as a decimal string).
fn json_text(stats: &Stats) -> Result<String, Failure> {
    let providers: Vec<ProviderJson<'_>> = stats
        .providers()
        .map(|p| ProviderJson {
            provider: &p.provider,
            accounts: p.accounts.iter().map(String::as_str).collect(),
            invitees: p.invitees,
            joined: p.joined,
            joined_last_30_days: p.joined_last_30_days,
            paying: p.paying,
            total_paid_micro: i64::try_from(p.total_paid_micro).unwrap_or(i64::MAX),
            total_paid: table::units(p.total_paid_micro).replace(',', ""),
            first_joined: instant(p.first_joined),
            last_joined: instant(p.last_joined),
            signups_per_week: p
                .signups_per_week
                .iter()
                .map(|(w, n)| (w.format("%Y-%m-%d").to_string(), *n))
                .collect(),
        })
        .collect();
    serde_json::to_string_pretty(&providers)
        .map(|s| s + "\n")
        .map_err(|e| Failure::Failed(format!("encoding JSON: {e}")))
}

/// The totals as CSV with a header.
fn csv_text(stats: &Stats) -> Result<String, Failure> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Failure::Failed(format!("encoding CSV: {e}"));
    out.write_record([
        "provider",
        "accounts",
        "invitees",
        "joined",
        "joined_last_30_days",
        "paying",
        "total_paid",
        "total_paid_micro",
        "first_joined",
        "last_joined",
    ])
    .map_err(fail)?;
    for p in stats.providers() {
        let first = instant(p.first_joined);
        let last = instant(p.last_joined);
        out.write_record([
            p.provider.clone(),
            accounts(p),
            p.invitees.to_string(),
            p.joined.to_string(),
            p.joined_last_30_days.to_string(),
            p.paying.to_string(),
            table::units(p.total_paid_micro).replace(',', ""),
            p.total_paid_micro.to_string(),
            first.as_str().unwrap_or_default().to_owned(),
            last.as_str().unwrap_or_default().to_owned(),
        ])
        .map_err(fail)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| Failure::Failed(format!("encoding CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Failure::Failed(format!("encoding CSV: {e}")))
}
