//! Lists every CoinW invitee as NDJSON on stdout, with a summary on stderr.
//!
//! ```text
//! COINW_API_KEY=… COINW_SECRET_KEY=… cargo run -p affiliate-coinw --example list_invitees -- \
//!     --base-url https://api.coinw.com --since 2024-01-01 --utc-offset +08:00
//! cargo run -p affiliate-coinw --example list_invitees -- --sandbox [--records N]
//! ```
//!
//! `--sandbox` starts the CoinW emulator in-process (UTC+08:00, `--records` invitees over
//! about 25 months) and uses its keys. Exit code 2 on bad arguments or configuration, 1 when
//! the listing fails.

use std::process::ExitCode;

use affiliate_coinw::{CoinwBuilder, SourceBuilder, WindowLength};
use affiliate_examples::{run, started, ListingArgs};
use affiliate_http::RateLimit;
use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Parser;

/// Lists every CoinW invitee (keys come from COINW_API_KEY and COINW_SECRET_KEY).
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    listing: ListingArgs,
    /// Start: YYYY-MM-DD (00:00:00 in the provider's offset) or an RFC 3339 instant
    /// (default 2017-01-01).
    #[arg(long, value_parser = since)]
    since: Option<Since>,
    /// Fixed upper bound, an RFC 3339 instant (default: now, frozen at the start).
    #[arg(long, value_parser = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)))]
    until: Option<DateTime<Utc>>,
    /// The offset CoinW's times are in, ±HH:MM (required against a real endpoint;
    /// COINW_UTC_OFFSET works too).
    #[arg(long)]
    utc_offset: Option<String>,
    /// Rows per page, 1..=1000.
    #[arg(long)]
    page_size: Option<u32>,
    /// Window length, e.g. "1 month" or "7 days".
    #[arg(long, value_parser = |s: &str| s.parse::<WindowLength>())]
    window: Option<WindowLength>,
    /// Rows above which a window is split while planning.
    #[arg(long)]
    split_cap: Option<u64>,
    /// Read calendar windows whole: no probing or splitting.
    #[arg(long)]
    calendar: bool,
    /// Only this invitee.
    #[arg(long)]
    uid: Option<u64>,
    /// Only users registered with this referral code.
    #[arg(long)]
    referral_code: Option<String>,
    /// The account label records are tagged with.
    #[arg(long, default_value = "example")]
    label: String,
}

/// Where the listing starts.
#[derive(Debug, Clone, Copy)]
enum Since {
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

fn since(text: &str) -> Result<Since, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return Ok(Since::Date(date));
    }
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| Since::Instant(t.with_timezone(&Utc)))
        .map_err(|_| format!("takes YYYY-MM-DD or an RFC 3339 instant, got {text:?}"))
}

fn configure(args: &Args, emulator: Option<&CoinwEmulator>) -> CoinwBuilder {
    let mut builder = CoinwBuilder::from_env().with_label(&args.label);
    if let Some(emu) = emulator {
        builder = builder
            .with_base_url(emu.base_url())
            .with_api_key(emu.api_key())
            .with_secret_key(emu.secret_key())
            .with_offset(emu.utc_offset())
            .with_since(emu.oldest_at())
            // The sandbox does not ban: no need for the production pace of 5 requests/s.
            .with_rate_limit(RateLimit::new(500.0, 50));
    }
    builder = args.listing.apply(builder);
    if let Some(offset) = &args.utc_offset {
        builder = builder.with_utc_offset(offset);
    }
    match args.since {
        Some(Since::Date(date)) => builder = builder.with_since_date(date),
        Some(Since::Instant(at)) => builder = builder.with_since(at),
        None => {}
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
    if let Some(uid) = args.uid {
        builder = builder.with_uid(uid);
    }
    if let Some(code) = &args.referral_code {
        builder = builder.with_referral_code(code.as_str());
    }
    builder
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Kept alive until the listing ends.
    let emulator = if args.listing.sandbox {
        let config = CoinwConfig::new(args.listing.records_or(5_000));
        match started(CoinwEmulator::start(config).await) {
            Ok(emulator) => Some(emulator),
            Err(code) => return code,
        }
    } else {
        None
    };
    run("coinw", configure(&args, emulator.as_ref()).build()).await
}
