//! Lists every Census organization invitation as NDJSON on stdout, with a summary on
//! stderr.
//!
//! ```text
//! CENSUS_TOKEN=… cargo run -p affiliate-census --example list_invitees -- --region eu
//! cargo run -p affiliate-census --example list_invitees -- --sandbox [--records N]
//! ```
//! Exit code 2 on bad arguments or configuration, 1 when the listing fails.

use std::process::ExitCode;

use affiliate_census::{CensusBuilder, Order, Region, SourceBuilder};
use affiliate_examples::{run, started, ListingArgs};
use affiliate_sandbox::census::{CensusConfig, CensusEmulator};
use clap::Parser;

/// Lists every Census invitation (the personal access token comes from CENSUS_TOKEN).
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    listing: ListingArgs,
    /// `us` or `eu`: selects the base URL.
    #[arg(long, value_parser = |s: &str| s.parse::<Region>().map_err(|e| e.to_string()))]
    region: Option<Region>,
    /// Rows per page, 1..=100.
    #[arg(long)]
    per_page: Option<u32>,
    /// `asc` (default) or `desc`, by creation time.
    #[arg(long, value_parser = order)]
    order: Option<Order>,
}

fn order(text: &str) -> Result<Order, String> {
    match text {
        "asc" => Ok(Order::Asc),
        "desc" => Ok(Order::Desc),
        other => Err(format!("{other:?} is neither asc nor desc")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = CensusBuilder::from_env();
    if let Some(region) = args.region {
        builder = builder.with_region(region);
    }
    let _emulator = if args.listing.sandbox {
        let config = CensusConfig::new(args.listing.records_or(1_000));
        let emulator = match started(CensusEmulator::start(config).await) {
            Ok(emulator) => emulator,
            Err(code) => return code,
        };
        builder = builder
            .with_base_url(emulator.base_url())
            .with_token(emulator.token());
        Some(emulator)
    } else {
        None
    };
    builder = args.listing.apply(builder);
    if let Some(per_page) = args.per_page {
        builder = builder.with_per_page(per_page);
    }
    if let Some(order) = args.order {
        builder = builder.with_order(order);
    }
    run("census", builder.build()).await
}
