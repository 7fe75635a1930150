//! `affiliate report`: per-provider totals as a table, JSON or CSV, and an SVG chart of
//! sign-ups per week.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::args::{ChartOf, ReportArgs, ReportFormat};
use crate::chart;
use crate::error::Failure;
use crate::stats::{Period, PeriodStats, ProviderStats, Stats};
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
    let now = Utc::now();
    let period = period(args.since, args.until, now)?;
    let stats = db.stats(args.schema.as_deref(), now, period).await?;
    let text = match args.format {
        ReportFormat::Table => table_text(&stats),
        ReportFormat::Json => json_text(&stats)?,
        ReportFormat::Csv => csv_text(&stats)?,
    };
    print!("{text}");
    if let Some(path) = &args.chart {
        let (svg, what) = match args.chart_of {
            ChartOf::Signups => (chart::signups_svg(&stats), "sign-ups"),
            ChartOf::Paid => (chart::paid_svg(&stats), "paid"),
        };
        std::fs::write(path, svg).map_err(|e| {
            Failure::Failed(format!("cannot write the chart to {}: {e}", path.display()))
        })?;
        eprintln!("chart of {what} per week written to {}", path.display());
    }
    Ok(())
}

/// `[since, until)` in UTC (`until` defaults to `now`).
fn period(
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<Option<Period>, Failure> {
    let Some(since) = since else {
        return Ok(None);
    };
    let since = since.and_time(NaiveTime::MIN).and_utc();
    let until = until.map_or(now, |d| d.and_time(NaiveTime::MIN).and_utc());
    if until <= since {
        return Err(Failure::Usage(format!(
            "--until: the period is empty ({} is not after {})\n  fix: give an --until later than --since, or leave it out to end now",
            until.format("%Y-%m-%d"),
            since.format("%Y-%m-%d")
        )));
    }
    Ok(Some(Period { since, until }))
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
            let mut row = vec![
                p.provider.clone(),
                accounts(p),
                table::thousands(p.invitees),
                table::thousands(p.joined),
                table::thousands(p.joined_last_30_days),
                table::thousands(p.paying),
                table::units(p.total_paid_micro),
                date(p.first_joined),
                date(p.last_joined),
            ];
            if let Some(period) = &p.period {
                row.extend([
                    table::thousands(period.signups),
                    table::thousands(period.new_paying),
                    table::units(period.paid_micro),
                ]);
            }
            row
        })
        .collect();
    let mut columns = vec![
        ("provider", false),
        ("accounts", false),
        ("invitees", true),
        ("joined", true),
        ("joined 30d", true),
        ("paying", true),
        ("total paid", true),
        ("first joined", false),
        ("last joined", false),
    ];
    let mut text = String::new();
    if let Some(period) = stats.period() {
        columns.extend([
            ("signups in period", true),
            ("new paying", true),
            ("paid in period", true),
        ]);
        text.push_str(&format!(
            "period {} .. {} (paid counts from each record's first sync onward)\n",
            period.since.format("%Y-%m-%d %H:%M"),
            period.until.format("%Y-%m-%d %H:%M")
        ));
    }
    text.push_str(&table::render(&columns, &rows));
    text
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
    paid_per_week_micro: BTreeMap<String, i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<&'a PeriodStats>,
}

/// An amount as an `i64` (saturating).
fn clamp(micro: i128) -> i64 {
    i64::try_from(micro).unwrap_or(if micro < 0 { i64::MIN } else { i64::MAX })
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
            paid_per_week_micro: p
                .paid_per_week
                .iter()
                .map(|(w, n)| (w.format("%Y-%m-%d").to_string(), clamp(*n)))
                .collect(),
            period: p.period.as_ref(),
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
        "signups_in_period",
        "new_paying_in_period",
        "paid_in_period_micro",
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
            p.period
                .as_ref()
                .map(|x| x.signups.to_string())
                .unwrap_or_default(),
            p.period
                .as_ref()
                .map(|x| x.new_paying.to_string())
                .unwrap_or_default(),
            p.period
                .as_ref()
                .map(|x| x.paid_micro.to_string())
                .unwrap_or_default(),
        ])
        .map_err(fail)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| Failure::Failed(format!("encoding CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Failure::Failed(format!("encoding CSV: {e}")))
}
