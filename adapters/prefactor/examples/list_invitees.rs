//! Lists every Prefactor admin user invite as NDJSON on stdout, with a summary on stderr.
//!
//! ```text
//! PREFACTOR_TOKEN=… cargo run -p affiliate-prefactor --example list_invitees -- [--base-url URL]
//! cargo run -p affiliate-prefactor --example list_invitees -- --sandbox [--records N]
//! ```
//! `--page-size N` (1..=100), `--sorting FIELD` (`id`, `-id`, ...) and `--account-id ID`
//! override the defaults. Exit code 2 on bad arguments or configuration, 1 when the
//! listing fails.

#[path = "../../print_listing.rs"]
mod print_listing;

use std::process::ExitCode;

use affiliate_prefactor::PrefactorBuilder;
use affiliate_sandbox::prefactor::{PrefactorConfig, PrefactorEmulator};

struct Args {
    base_url: Option<String>,
    sandbox: bool,
    records: u64,
    page_size: Option<u32>,
    sorting: Option<String>,
    account_id: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        base_url: None,
        sandbox: false,
        records: 1_000,
        page_size: None,
        sorting: None,
        account_id: None,
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
            "--page-size" => {
                args.page_size = Some(
                    value("--page-size")?
                        .parse()
                        .map_err(|_| "--page-size takes a number".to_owned())?,
                )
            }
            "--sorting" => args.sorting = Some(value("--sorting")?),
            "--account-id" => args.account_id = Some(value("--account-id")?),
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
                "{msg}\nusage: list_invitees [--base-url URL | --sandbox [--records N]] \
                 [--page-size N] [--sorting FIELD] [--account-id ID]\n\
                 (the API token comes from PREFACTOR_TOKEN)"
            );
            return ExitCode::from(2);
        }
    };
    let mut builder = PrefactorBuilder::from_env();
    let _emulator = if args.sandbox {
        let emulator = match PrefactorEmulator::start(PrefactorConfig::new(args.records)).await {
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
    if let Some(size) = args.page_size {
        builder = builder.with_page_size(size);
    }
    if let Some(sorting) = args.sorting {
        builder = builder.with_sorting(sorting);
    }
    if let Some(account) = args.account_id {
        builder = builder.with_account_id(account);
    }
    print_listing::run("prefactor", builder.build()).await
}
