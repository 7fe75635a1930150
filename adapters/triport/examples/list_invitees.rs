//! Lists every Triport invitee as NDJSON on stdout, with a summary on stderr.
//!
//! ```text
//! TRIPORT_SESSION=… cargo run -p affiliate-triport --example list_invitees -- --base-url URL
//! cargo run -p affiliate-triport --example list_invitees -- --sandbox [--records N]
//! ```
//! `--limit N` sets the page size (1..=200). Exit code 2 on bad arguments or configuration,
//! 1 when the listing fails.

#[path = "../../print_listing.rs"]
mod print_listing;

use std::process::ExitCode;

use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use affiliate_triport::TriportBuilder;

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
    print_listing::run("triport", builder.build()).await
}
