//! Lists every Prefactor admin user invite as NDJSON on stdout, with a summary on stderr.
//!
//! ```text
//! PREFACTOR_TOKEN=… cargo run -p affiliate-prefactor --example list_invitees -- --base-url URL
//! cargo run -p affiliate-prefactor --example list_invitees -- --sandbox [--records N]
//! ```
//! Exit code 2 on bad arguments or configuration, 1 when the listing fails.

use std::process::ExitCode;

use affiliate_examples::{run, started, ListingArgs};
use affiliate_prefactor::{PrefactorBuilder, SourceBuilder};
use affiliate_sandbox::prefactor::{PrefactorConfig, PrefactorEmulator};
use clap::Parser;

/// Lists every Prefactor admin user invite (the API token comes from PREFACTOR_TOKEN).
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    listing: ListingArgs,
    /// Rows per page, 1..=100.
    #[arg(long)]
    page_size: Option<u32>,
    /// `field` or `-field` (default `id`, creation order).
    #[arg(long)]
    sorting: Option<String>,
    /// The account whose invites to list (default: the token's own).
    #[arg(long)]
    account_id: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = PrefactorBuilder::from_env();
    let _emulator = if args.listing.sandbox {
        let config = PrefactorConfig::new(args.listing.records_or(1_000));
        let emulator = match started(PrefactorEmulator::start(config).await) {
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
    if let Some(size) = args.page_size {
        builder = builder.with_page_size(size);
    }
    if let Some(sorting) = args.sorting {
        builder = builder.with_sorting(sorting);
    }
    if let Some(account) = args.account_id {
        builder = builder.with_account_id(account);
    }
    run("prefactor", builder.build()).await
}
