//! `affiliate plan`, `worker` and `status`: one run shared by many workers on a pgmq queue
//! in the output database.

use std::sync::Arc;

use affiliate::sync::{
    CancellationToken, Planned, PostgresSink, SinkError, SourceProgress, WorkQueue, Worker,
    WorkerOptions,
};
use serde_json::json;

use crate::args::{PlanArgs, QueueDb, StatusArgs, ViewFormat, WorkerArgs};
use crate::commands::sync::output_target;
use crate::config::{Config, ProcessEnv};
use crate::error::Failure;
use crate::output::Target;
use crate::signals::cancel_on_signal;
use crate::table;

/// Runs `affiliate plan`.
pub(crate) async fn plan(args: PlanArgs) -> Result<(), Failure> {
    let (config, queue) = open(&args.queue).await?;
    let mut resolved = config.resolve(&ProcessEnv)?;
    resolved.options = args.mode.apply(resolved.options);
    let outcomes = queue.plan(&resolved.sources, &resolved.options).await;
    let mut failed = Vec::new();
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            let (what, run, slices) = match &o.result {
                Ok(Planned::Enqueued { run_id, slices }) => {
                    ("planned", run_id.clone(), slices.to_string())
                }
                Ok(Planned::InProgress { run_id }) => ("in progress", run_id.clone(), "-".into()),
                Err(err) => {
                    failed.push(format!("{}: {err}", o.source));
                    ("FAILED", String::new(), "-".into())
                }
            };
            vec![o.source.to_string(), what.into(), run, slices]
        })
        .collect();
    eprint!(
        "{}",
        table::render(
            &[
                ("source", false),
                ("plan", false),
                ("run", false),
                ("slices queued", true)
            ],
            &rows,
        )
    );
    if failed.is_empty() {
        return Ok(());
    }
    Err(Failure::Failed(format!(
        "{} of {} sources could not be planned:\n{}",
        failed.len(),
        outcomes.len(),
        failed.join("\n")
    )))
}

/// Runs `affiliate worker`.
pub(crate) async fn worker(args: WorkerArgs) -> Result<(), Failure> {
    let (config, queue) = open(&args.queue).await?;
    let resolved = config.resolve(&ProcessEnv)?;
    let name = args.name.unwrap_or_else(default_name);
    let options = WorkerOptions::new(name.clone())
        .with_visibility_timeout(args.visibility_timeout)
        .with_max_attempts(args.max_attempts)
        .with_exit_when_idle(args.exit_when_idle)
        .with_sync(resolved.options);
    let token = CancellationToken::new();
    let interrupted = cancel_on_signal(token.clone());
    let report = Worker::new(queue, resolved.sources, options)
        .run(token)
        .await
        .map_err(|e| Failure::Failed(format!("worker {name}: {e}")))?;
    eprintln!(
        "worker {name}: {} slices done, {} failed attempts, {} dead, {} taken over by others, \
         {} pages, {} new records",
        report.slices_done,
        report.slices_failed,
        report.slices_dead,
        report.leases_lost,
        report.pages,
        report.records
    );
    if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(Failure::Interrupted(
            "interrupted; the slices in flight are taken over by another worker after the \
             visibility timeout"
                .into(),
        ));
    }
    Ok(())
}

/// Runs `affiliate status`.
pub(crate) async fn status(args: StatusArgs) -> Result<(), Failure> {
    let (url, schema) = match &args.db {
        Some(url) => (url.clone(), args.schema.clone()),
        None => {
            let config = Config::load(&args.config)?;
            let url = postgres_url(&config, None)?;
            (url, args.schema.clone().or(config.output.schema.clone()))
        }
    };
    let queue = connect(&url, schema.as_deref()).await?;
    let progress = queue
        .status()
        .await
        .map_err(|e| Failure::Failed(format!("reading the status: {e}")))?;
    match args.format {
        ViewFormat::Table => print!("{}", status_text(&progress)),
        ViewFormat::Json => println!("{}", status_json(&progress)),
    }
    Ok(())
}

/// The file and the queue in the database it (or `--db`) names.
async fn open(args: &QueueDb) -> Result<(Config, WorkQueue), Failure> {
    let config = Config::load(&args.config)?;
    let url = postgres_url(&config, args.db.as_deref())?;
    let queue = connect(&url, config.output.schema.as_deref()).await?;
    Ok((config, queue))
}

fn postgres_url(config: &Config, db: Option<&str>) -> Result<String, Failure> {
    match output_target(config, db, &ProcessEnv)? {
        Target::Postgres(url) => Ok(url),
        other => Err(Failure::Usage(format!(
            "the queue lives in PostgreSQL, and the database is {other}\n  fix: pass \
             --db postgres://USER@HOST/DB or set [output] url (or url_env) to one"
        ))),
    }
}

async fn connect(url: &str, schema: Option<&str>) -> Result<WorkQueue, Failure> {
    let failed = |e: SinkError| match e {
        SinkError::Config { .. } => Failure::Usage(format!("--db: {e}")),
        other => Failure::Failed(format!("opening the queue: {other}")),
    };
    let sink = PostgresSink::connect(url, schema).await.map_err(failed)?;
    WorkQueue::open(Arc::new(sink)).await.map_err(failed)
}

/// `host-pid`, from the kernel's host name.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}

fn status_text(progress: &[SourceProgress]) -> String {
    let rows: Vec<Vec<String>> = progress
        .iter()
        .map(|p| {
            vec![
                p.source.clone(),
                p.run_id.clone().unwrap_or_else(|| "finished".into()),
                p.queued.to_string(),
                p.running.len().to_string(),
                p.done.to_string(),
                p.failed.iter().filter(|f| f.dead).count().to_string(),
                table::thousands(u64::try_from(p.rows).unwrap_or(0)),
            ]
        })
        .collect();
    let mut out = table::render(
        &[
            ("source", false),
            ("run", false),
            ("queued", true),
            ("running", true),
            ("done", true),
            ("dead", true),
            ("rows", true),
        ],
        &rows,
    );
    for p in progress {
        for r in &p.running {
            out.push_str(&format!(
                "{}: running {} on {} for {:.0}s\n",
                p.source,
                r.slice,
                r.worker,
                r.lease_age.as_secs_f64()
            ));
        }
        for f in &p.failed {
            let state = if f.dead { "dead" } else { "retrying" };
            out.push_str(&format!(
                "{}: {state} after {} attempts: {}: {}\n",
                p.source, f.attempts, f.slice, f.error
            ));
        }
    }
    out
}

fn status_json(progress: &[SourceProgress]) -> serde_json::Value {
    progress
        .iter()
        .map(|p| {
            json!({
                "source": p.source,
                "run_id": p.run_id,
                "queued": p.queued,
                "running": p.running.iter().map(|r| json!({
                    "slice": r.slice,
                    "worker": r.worker,
                    "lease_age_seconds": r.lease_age.as_secs_f64(),
                })).collect::<Vec<_>>(),
                "done": p.done,
                "failed": p.failed,
                "rows": p.rows,
            })
        })
        .collect()
}
