//! `affiliate sync`: every source of a configuration file into one output, resumably.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use affiliate::sync::{Sink, SinkError, SourceStatus, SyncEngine, SyncOptions, SyncReport};
use affiliate::InviteeSource;

use crate::args::SyncArgs;
use crate::config::{missing_var, Config, ConfigErrors, Env, ProcessEnv};
use crate::error::Failure;
use crate::output::Target;
use crate::progress::{Progress, Style};
use crate::signals::cancel_on_signal;
use crate::table;

/// The output when neither `--out` nor `[output]` names one.
pub(crate) const DEFAULT_OUTPUT: &str = "sqlite://affiliate.db";

/// Runs `affiliate sync`.
pub(crate) async fn run(args: SyncArgs) -> Result<(), Failure> {
    let config = Config::load(&args.config)?;
    let target = output_target(&config, args.out.as_deref(), &ProcessEnv)?;
    let mut resolved = config.resolve(&ProcessEnv)?;
    resolved.options = args.mode.apply(resolved.options);
    let sink = open_sink(&target, config.output.schema.as_deref()).await?;
    let sources: Vec<_> = resolved
        .sources
        .iter()
        .map(|s| (s.id().clone(), None))
        .collect();
    // Rows on a terminal's standard output would tear the bars: print lines instead.
    let style = match target {
        Target::Stdout(_) if std::io::stdout().is_terminal() => Style::Lines,
        _ => Style::detect(),
    };
    let report = execute(resolved.sources, resolved.options, sink, &sources, style).await;
    eprint!("{}", summary(&report, &target));
    outcome(&report, true)
}

/// The output: `--out`, else `[output] url`, else the variable named by `[output] url_env`,
/// else [`DEFAULT_OUTPUT`].
pub(crate) fn output_target(
    config: &Config,
    out: Option<&str>,
    env: &dyn Env,
) -> Result<Target, Failure> {
    if let Some(out) = out {
        return Target::parse(out).map_err(|e| Failure::Usage(format!("--out: {e}")));
    }
    if let Some(url) = &config.output.url {
        // Checked when the file was read.
        return Target::parse(url).map_err(|e| Failure::Usage(format!("output.url: {e}")));
    }
    if let Some(var) = &config.output.url_env {
        let Some(url) = env.var(var) else {
            return Err(ConfigErrors::one(
                &config.path,
                missing_var("output.url_env", var, "the output URL"),
            )
            .into());
        };
        return Target::parse(&url).map_err(|e| {
            Failure::Usage(format!(
                "{}: output.url_env: the URL in {var} cannot be used: {e}",
                config.path.display()
            ))
        });
    }
    Target::parse(DEFAULT_OUTPUT).map_err(|e| Failure::Usage(e.to_string()))
}

/// Opens the sink; a sink refusing its settings is a usage error, anything else a failure.
pub(crate) async fn open_sink(
    target: &Target,
    schema: Option<&str>,
) -> Result<Arc<dyn Sink>, Failure> {
    target.open(schema).await.map_err(|err| match err {
        SinkError::Config { .. } => Failure::Usage(format!("output {target}: {err}")),
        other => Failure::Failed(format!("cannot open the output {target}: {other}")),
    })
}

/// Runs the engine with progress on standard error (`style`) and Ctrl-C handling.
pub(crate) async fn execute(
    sources: Vec<Arc<dyn InviteeSource>>,
    options: SyncOptions,
    sink: Arc<dyn Sink>,
    progress_for: &[(affiliate::SourceId, Option<u64>)],
    style: Style,
) -> SyncReport {
    let progress = Arc::new(Progress::new(style, progress_for));
    let sync = SyncEngine::new(sink)
        .with_sources(sources)
        .with_options(options)
        .with_observer(progress.clone());
    let interrupted = cancel_on_signal(sync.cancellation_token());
    let mut report = sync.run().await;
    progress.finish();
    report.cancelled |= interrupted.load(Ordering::SeqCst);
    report
}

/// The run's summary: one row per source, then every error of the failed ones.
pub(crate) fn summary(report: &SyncReport, target: &Target) -> String {
    let rows: Vec<Vec<String>> = report
        .sources
        .iter()
        .map(|s| {
            vec![
                s.source.to_string(),
                match s.status {
                    SourceStatus::Ok => "ok".to_owned(),
                    SourceStatus::Cancelled => "stopped".to_owned(),
                    _ => "FAILED".to_owned(),
                },
                format!(
                    "{}{}",
                    s.mode_label(),
                    if s.resumed { " (resumed)" } else { "" }
                ),
                table::thousands(s.pages),
                table::thousands(s.records),
                table::thousands(s.existing),
                table::thousands(s.changed),
                table::thousands(s.requests),
                table::thousands(s.retries),
                table::thousands(s.throttled),
                s.rate_label(),
                format!("{:.1}s", s.duration.as_secs_f64()),
            ]
        })
        .collect();
    let mut out = format!(
        "\nsync into {target} took {:.1}s\n",
        report.duration.as_secs_f64()
    );
    out.push_str(&table::render(
        &[
            ("source", false),
            ("status", false),
            ("run", false),
            ("pages", true),
            ("new", true),
            ("existing", true),
            ("changed", true),
            ("requests", true),
            ("retries", true),
            ("throttled", true),
            ("rate", true),
            ("time", true),
        ],
        &rows,
    ));
    for failed in report.failed() {
        for err in &failed.errors {
            out.push_str(&format!("{}: {err}\n", failed.source));
        }
    }
    out
}

/// Exit status of a finished run; `resumable` runs say how to continue when interrupted.
pub(crate) fn outcome(report: &SyncReport, resumable: bool) -> Result<(), Failure> {
    let failed: Vec<String> = report.failed().map(|s| s.source.to_string()).collect();
    if !failed.is_empty() {
        return Err(Failure::Failed(format!(
            "{} of {} sources failed: {}{}",
            failed.len(),
            report.sources.len(),
            failed.join(", "),
            if resumable {
                " (their committed pages are kept; the next run resumes them)"
            } else {
                ""
            }
        )));
    }
    if report.cancelled
        || report
            .sources
            .iter()
            .any(|s| s.status == SourceStatus::Cancelled)
    {
        return Err(Failure::Interrupted(if resumable {
            "interrupted; committed pages are kept: run the same command again to resume".to_owned()
        } else {
            "interrupted".to_owned()
        }));
    }
    Ok(())
}
