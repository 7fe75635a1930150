//! `affiliate`: the command-line tool of the affiliate workspace.
//!
//! * `affiliate demo`: local emulators of every provider, synced into `affiliate-demo.db`;
//! * `affiliate sync --config affiliate.toml`: every configured account into SQLite, NDJSON,
//!   CSV or PostgreSQL, resumable, with live progress;
//! * `affiliate report --db URL`: per-provider totals and a sign-ups chart;
//! * `affiliate triport user <uuid>`: Triport's operator view of one user;
//! * `affiliate config check`: what is wrong with a configuration file, key by key.
//!
//! Exit codes: 0 success, 1 failure (some sources failed), 2 bad usage or configuration,
//! 130 interrupted.

mod arenas;
mod args;
mod chart;
mod commands;
mod config;
mod error;
mod output;
mod progress;
mod signals;
mod stats;
mod store;
mod table;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::args::Cli;

/// Parses the command line (clap exits with 2 on bad usage), runs the command, maps the
/// outcome to the exit code.
fn main() -> ExitCode {
    arenas::cap();
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(commands::run(cli.command));
    // Emulators and sinks are dropped with the runtime; don't wait for stray tasks.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    }
}

/// Library logs (retries, throttling, cut-off file tails) on standard error, above any
/// progress bars: warnings by default, `RUST_LOG` to change it. Source failures are left
/// to the run's summary.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,affiliate_sync::engine=error"));
    // A second initialisation (never happens in the binary) is not worth failing over.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(progress::LogWriter::default)
        .with_target(false)
        .without_time()
        .try_init();
}
