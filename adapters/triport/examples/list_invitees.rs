//! Lists every Triport invitee as NDJSON on stdout, with a summary on stderr.
//!
//! ```text
//! TRIPORT_SESSION=… cargo run -p affiliate-triport --example list_invitees -- --base-url URL
//! cargo run -p affiliate-triport --example list_invitees -- --sandbox [--records N]
//! ```
//! `--limit N` sets the page size (1..=200). Exit code 2 on bad arguments or configuration,
//! 1 when the listing fails.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::Scope;
use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use affiliate_triport::TriportBuilder;
use futures::StreamExt;

struct Args {
    base_url: Option<String>,
    sandbox: bool,
    records: u64,
    limit: Option<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        base_url: None,
        sandbox: false,
        records: 1_000,
        limit: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--base-url" => args.base_url = Some(value("--base-url")?),
            "--sandbox" => args.sandbox = true,
            "--records" => {
                args.records = value("--records")?
                    .parse()
                    .map_err(|_| "--records takes a number".to_owned())?
            }
            "--limit" => {
                args.limit = Some(
                    value("--limit")?
                        .parse()
                        .map_err(|_| "--limit takes a number".to_owned())?,
                )
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}\nusage: list_invitees [--base-url URL | --sandbox [--records N]] [--limit N]\n(the session cookie value comes from TRIPORT_SESSION)");
            return ExitCode::from(2);
        }
    };
    let mut builder = TriportBuilder::from_env().with_label("example");
    let _emulator = if args.sandbox {
        let emulator = match TriportEmulator::start(TriportConfig::new(args.records)).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("could not start the sandbox: {e}");
                return ExitCode::from(1);
            }
        };
        builder = builder
            .with_base_url(emulator.base_url())
            .with_session(emulator.session());
        Some(emulator)
    } else {
        None
    };
    if let Some(url) = args.base_url {
        builder = builder.with_base_url(url);
    }
    if let Some(limit) = args.limit {
        builder = builder.with_limit(limit);
    }
    let source = match builder.build() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut stream = invitees(source, Scope::full(), DriverOptions::default());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut count, mut paid, mut total_paid) = (0u64, 0u64, 0i64);
    while let Some(item) = stream.next().await {
        match item {
            Ok(invitee) => {
                count += 1;
                if invitee.total_paid_micro.unwrap_or(0) > 0 {
                    paid += 1;
                    total_paid += invitee.total_paid_micro.unwrap_or(0);
                }
                let line = serde_json::to_string(&invitee).unwrap_or_default();
                if writeln!(out, "{line}").is_err() {
                    return ExitCode::from(1);
                }
            }
            Err(e) => {
                let _ = out.flush();
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let _ = out.flush();
    eprintln!(
        "triport: {count} invitees ({paid} paying, {:.2} paid in total) in {:.2?}",
        total_paid as f64 / 1e6,
        started.elapsed()
    );
    ExitCode::SUCCESS
}
