//! Lists every Triport invitee as NDJSON on stdout, with a summary on stderr.
//!
//! ```text
//! TRIPORT_SESSION=… cargo run -p affiliate-triport --example list_invitees -- --base-url URL
//! cargo run -p affiliate-triport --example list_invitees -- --sandbox [--records N]
//! ```
//! Exit code 2 on bad arguments or configuration, 1 when the listing fails.

use std::process::ExitCode;

use affiliate_examples::{run, started, ListingArgs};
use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use affiliate_triport::{SourceBuilder, TriportBuilder};
use clap::Parser;

/// Lists every Triport invitee (the session cookie value comes from TRIPORT_SESSION).
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    listing: ListingArgs,
    /// Rows per page, 1..=200.
    #[arg(long)]
    limit: Option<u32>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = TriportBuilder::from_env().with_label("example");
    let _emulator = if args.listing.sandbox {
        let config = TriportConfig::new(args.listing.records_or(1_000));
        let emulator = match started(TriportEmulator::start(config).await) {
            Ok(emulator) => emulator,
            Err(code) => return code,
        };
        builder = builder
            .with_base_url(emulator.base_url())
            .with_session(emulator.session());
        Some(emulator)
    } else {
        None
    };
    builder = args.listing.apply(builder);
    if let Some(limit) = args.limit {
        builder = builder.with_limit(limit);
    }
    run("triport", builder.build()).await
}
