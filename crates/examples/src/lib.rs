//! What every adapter's `list_invitees` example shares: the command-line arguments for
//! choosing an endpoint or the in-process sandbox ([`ListingArgs`]), and the tail that
//! streams the listing as NDJSON and summarises it ([`run`]).
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod listing;

use std::fmt;
use std::process::ExitCode;

use affiliate_http::SourceBuilder;

pub use listing::{print_listing, run, Failed, Summary};

/// Where an example reads from: a base URL (or the provider's production API), or the
/// provider's emulator started in-process.
#[derive(Debug, Clone, clap::Args)]
pub struct ListingArgs {
    /// Base URL of the API (default: the provider's `*_BASE_URL` variable, else production).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Start the provider's emulator in-process and read from it with its credentials.
    #[arg(long)]
    pub sandbox: bool,
    /// Records the emulator holds (with --sandbox).
    #[arg(long)]
    pub records: Option<u64>,
}

impl ListingArgs {
    /// The emulator's size: `--records`, else `default`.
    pub fn records_or(&self, default: u64) -> u64 {
        self.records.unwrap_or(default)
    }

    /// Applies `--base-url`, when given, to an adapter's builder.
    pub fn apply<B: SourceBuilder>(&self, builder: B) -> B {
        match &self.base_url {
            Some(url) => builder.with_base_url(url),
            None => builder,
        }
    }
}

/// An emulator that started, or the exit code of one that did not (the reason is printed).
pub fn started<E, Err: fmt::Display>(emulator: Result<E, Err>) -> Result<E, ExitCode> {
    emulator.map_err(|e| {
        eprintln!("could not start the sandbox: {e}");
        ExitCode::from(1)
    })
}
