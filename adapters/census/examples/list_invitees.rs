//! Lists every Census organization invitation as NDJSON on stdout, with a summary on
//! stderr.
//!
//! ```text
//! CENSUS_TOKEN=… cargo run -p affiliate-census --example list_invitees -- [--region eu] [--base-url URL]
//! cargo run -p affiliate-census --example list_invitees -- --sandbox [--records N]
//! ```
//! `--per-page N` (1..=100) and `--order asc|desc` override the defaults. Exit code 2 on bad
//! arguments or configuration, 1 when the listing fails.

#[path = "../../print_listing.rs"]
mod print_listing;

use std::process::ExitCode;

use affiliate_census::{CensusBuilder, Order, Region};
use affiliate_sandbox::census::{CensusConfig, CensusEmulator};

struct Args {
    base_url: Option<String>,
    region: Option<Region>,
    sandbox: bool,
    records: u64,
    per_page: Option<u32>,
    order: Option<Order>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        base_url: None,
        region: None,
        sandbox: false,
        records: 1_000,
        per_page: None,
        order: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--base-url" => args.base_url = Some(value("--base-url")?),
            "--region" => {
                args.region = Some(value("--region")?.parse().map_err(|e| format!("{e}"))?)
            }
            "--sandbox" => args.sandbox = true,
            "--records" => {
                args.records = value("--records")?
                    .parse()
                    .map_err(|_| "--records takes a number".to_owned())?
            }
            "--per-page" => {
                args.per_page = Some(
                    value("--per-page")?
                        .parse()
                        .map_err(|_| "--per-page takes a number".to_owned())?,
                )
            }
            "--order" => {
                args.order = Some(match value("--order")?.as_str() {
                    "asc" => Order::Asc,
                    "desc" => Order::Desc,
                    other => return Err(format!("--order is asc or desc, not {other:?}")),
                })
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
            eprintln!(
                "{msg}\nusage: list_invitees [--region us|eu] [--base-url URL | --sandbox [--records N]] \
                 [--per-page N] [--order asc|desc]\n\
                 (the personal access token comes from CENSUS_TOKEN)"
            );
            return ExitCode::from(2);
        }
    };
    let mut builder = CensusBuilder::from_env();
    if let Some(region) = args.region {
        builder = builder.with_region(region);
    }
    let _emulator = if args.sandbox {
        let emulator = match CensusEmulator::start(CensusConfig::new(args.records)).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("could not start the sandbox: {e}");
                return ExitCode::from(1);
            }
        };
        builder = builder
            .with_base_url(emulator.base_url())
            .with_token(emulator.token());
        Some(emulator)
    } else {
        None
    };
    if let Some(url) = args.base_url {
        builder = builder.with_base_url(url);
    }
    if let Some(per_page) = args.per_page {
        builder = builder.with_per_page(per_page);
    }
    if let Some(order) = args.order {
        builder = builder.with_order(order);
    }
    print_listing::run("census", builder.build()).await
}
