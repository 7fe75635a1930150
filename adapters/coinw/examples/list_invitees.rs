//! Lists every CoinW invitee as NDJSON on stdout, with a summary on stderr.
//!
//! ```text
//! COINW_API_KEY=… COINW_SECRET_KEY=… cargo run -p affiliate-coinw --example list_invitees -- \
//!     --base-url https://api.coinw.com --since 2024-01-01 --utc-offset +08:00
//! cargo run -p affiliate-coinw --example list_invitees -- --sandbox [--records N]
//! ```
//!
//! Options: `--since DATE|RFC3339` (a date is 00:00:00 of that day in the provider's
//! offset; default 2017-01-01), `--until RFC3339` (default: now, frozen at the start),
//! `--utc-offset ±HH:MM` (required against a real endpoint; `COINW_UTC_OFFSET` works too),
//! `--page-size N` (1..=1000), `--window months:N|days:N`, `--split-cap N`, `--uid UID`,
//! `--referral-code CODE`, `--calendar` (read calendar windows whole: no probing or splitting), `--label L`.
//! `--sandbox` starts the CoinW emulator in-process (UTC+08:00, `--records` invitees over
//! about 25 months) and uses its keys. Exit code 2 on bad arguments or configuration, 1 when
//! the listing fails.

#[path = "../../print_listing.rs"]
mod print_listing;

use std::process::ExitCode;

use affiliate_coinw::{default_client_config, CoinwBuilder, WindowLength};
use affiliate_http::RateLimit;
use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator};
use chrono::{DateTime, NaiveDate, Utc};

const USAGE: &str =
    "usage: list_invitees [--base-url URL | --sandbox [--records N]] [--since DATE|RFC3339] \
[--until RFC3339] [--utc-offset +HH:MM] [--page-size N] [--window months:N|days:N] [--split-cap N] \
[--uid UID] [--referral-code CODE] [--calendar] [--label L]\n\
(keys come from COINW_API_KEY and COINW_SECRET_KEY)";

#[derive(Default)]
struct Args {
    base_url: Option<String>,
    sandbox: bool,
    records: Option<u64>,
    since: Option<String>,
    until: Option<DateTime<Utc>>,
    utc_offset: Option<String>,
    page_size: Option<u32>,
    window: Option<WindowLength>,
    split_cap: Option<u64>,
    uid: Option<String>,
    referral_code: Option<String>,
    calendar: bool,
    label: Option<String>,
}

fn number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{name} takes a number, got {text:?}"))
}

fn parse_window(text: &str) -> Result<WindowLength, String> {
    let bad = || format!("--window takes months:N or days:N, got {text:?}");
    let (unit, n) = text.split_once(':').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    match unit.trim() {
        "months" | "month" | "m" => Ok(WindowLength::Months(n)),
        "days" | "day" | "d" => Ok(WindowLength::Days(n)),
        _ => Err(bad()),
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--base-url" => args.base_url = Some(value("--base-url")?),
            "--sandbox" => args.sandbox = true,
            "--records" => args.records = Some(number("--records", &value("--records")?)?),
            "--since" => args.since = Some(value("--since")?),
            "--until" => {
                let text = value("--until")?;
                let until = DateTime::parse_from_rfc3339(&text)
                    .map_err(|e| format!("--until takes an RFC 3339 instant ({e})"))?;
                args.until = Some(until.with_timezone(&Utc));
            }
            "--utc-offset" => args.utc_offset = Some(value("--utc-offset")?),
            "--page-size" => args.page_size = Some(number("--page-size", &value("--page-size")?)?),
            "--window" => args.window = Some(parse_window(&value("--window")?)?),
            "--split-cap" => args.split_cap = Some(number("--split-cap", &value("--split-cap")?)?),
            "--uid" => args.uid = Some(value("--uid")?),
            "--referral-code" => args.referral_code = Some(value("--referral-code")?),
            "--calendar" => args.calendar = true,
            "--label" => args.label = Some(value("--label")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// `--since`: a date (midnight in the provider's offset) or an RFC 3339 instant.
fn apply_since(builder: CoinwBuilder, text: &str) -> Result<CoinwBuilder, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return Ok(builder.with_since_date(date));
    }
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| builder.with_since(t.with_timezone(&Utc)))
        .map_err(|_| format!("--since takes YYYY-MM-DD or an RFC 3339 instant, got {text:?}"))
}

fn configure(args: &Args, emulator: Option<&CoinwEmulator>) -> Result<CoinwBuilder, String> {
    let mut builder =
        CoinwBuilder::from_env().with_label(args.label.as_deref().unwrap_or("example"));
    if let Some(emu) = emulator {
        builder = builder
            .with_base_url(emu.base_url())
            .with_api_key(emu.api_key())
            .with_secret_key(emu.secret_key())
            .with_offset(emu.utc_offset())
            // The sandbox does not ban: no need for the production pace of 5 requests/s.
            .with_client_config(default_client_config().with_rate_limit(RateLimit::new(500.0, 50)));
        if args.since.is_none() {
            builder = builder.with_since(emu.oldest_at());
        }
    }
    if let Some(url) = &args.base_url {
        builder = builder.with_base_url(url.as_str());
    }
    if let Some(offset) = &args.utc_offset {
        builder = builder.with_utc_offset(offset);
    }
    if let Some(since) = &args.since {
        builder = apply_since(builder, since)?;
    }
    if let Some(until) = args.until {
        builder = builder.with_until(until);
    }
    if let Some(size) = args.page_size {
        builder = builder.with_page_size(size);
    }
    if let Some(window) = args.window {
        builder = builder.with_window_length(window);
    }
    if let Some(cap) = args.split_cap {
        builder = builder.with_split_cap(cap);
    }
    if args.calendar {
        builder = builder.without_split();
    }
    if let Some(uid) = &args.uid {
        builder = builder.with_uid(uid);
    }
    if let Some(code) = &args.referral_code {
        builder = builder.with_referral_code(code.as_str());
    }
    Ok(builder)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Kept alive until the listing ends.
    let emulator = if args.sandbox {
        let config = CoinwConfig::new(args.records.unwrap_or(5_000));
        match CoinwEmulator::start(config).await {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("could not start the sandbox: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    match configure(&args, emulator.as_ref()) {
        Ok(builder) => print_listing::run("coinw", builder.build()).await,
        Err(msg) => {
            eprintln!("{msg}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
