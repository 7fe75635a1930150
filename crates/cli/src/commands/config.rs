//! `affiliate config check`: every problem of a configuration file, key by key.

use crate::args::CheckArgs;
use crate::config::{Config, ConfigErrors, ProcessEnv};
use crate::error::Failure;

use super::sync::output_target;

/// Runs `affiliate config check`.
pub(crate) fn check(args: CheckArgs) -> Result<(), Failure> {
    let config = Config::load(&args.config)?;
    let mut problems: Option<ConfigErrors> = None;
    if !args.no_env {
        if let Err(errors) = config.resolve(&ProcessEnv) {
            problems = Some(errors);
        }
    }
    let output = if args.no_env && config.output.url.is_none() && config.output.url_env.is_some() {
        None
    } else {
        match output_target(&config, None, &ProcessEnv) {
            Ok(target) => Some(target),
            Err(Failure::Usage(message)) => match problems {
                Some(errors) => return Err(Failure::Usage(format!("{errors}\n{message}"))),
                None => return Err(Failure::Usage(message)),
            },
            Err(other) => return Err(other),
        }
    };
    if let Some(errors) = problems {
        return Err(errors.into());
    }
    let sources: Vec<String> = config
        .sources
        .iter()
        .map(|s| format!("{}:{}", s.provider, s.label))
        .collect();
    println!("{}: ok", config.path.display());
    println!("  sources: {}", sources.join(", "));
    println!(
        "  sync:    {} (overlap {} min, refresh {}, fail_fast {}, deadline {})",
        config.sync.mode,
        config.sync.overlap.num_minutes(),
        config
            .sync
            .refresh
            .map_or("never".to_owned(), |r| format!("every {} h", r.num_hours())),
        config.sync.fail_fast,
        config.sync.deadline.map_or("none".to_owned(), |d| {
            humantime::format_duration(d).to_string()
        }),
    );
    match output {
        Some(target) => println!("  output:  {target}"),
        None => println!("  output:  from the variable named by output.url_env (not checked)"),
    }
    if args.no_env {
        println!("  (environment variables not checked)");
    } else {
        println!("  every secret variable is set");
    }
    Ok(())
}
