//! The command line, as clap reads it.

use std::path::PathBuf;

use affiliate::sync::{SyncMode, SyncOptions};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Pull referral and invitee records from affiliate APIs into one clean table.
///
/// Exit codes: 0 success, 1 some sources (or the command) failed, 2 bad usage or
/// configuration, 130 interrupted (run the same command again to resume).
#[derive(Debug, Parser)]
#[command(name = "affiliate", version, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start local emulators of every provider and sync them all into a SQLite file.
    Demo(DemoArgs),
    /// Sync every source of a configuration file into an output.
    Sync(SyncArgs),
    /// Per-provider totals of a synced database, and a chart of sign-ups per week.
    Report(ReportArgs),
    /// Plan a run of every source and queue its slices for workers (PostgreSQL outputs).
    Plan(PlanArgs),
    /// Serve queued slices, page by page, until stopped (or idle, with --exit-when-idle).
    Worker(WorkerArgs),
    /// Per source: slices queued, running (by which worker), done and failed; rows so far.
    Status(StatusArgs),
    /// Triport tools.
    Triport {
        /// The Triport command.
        #[command(subcommand)]
        command: TriportCommand,
    },
    /// Configuration file tools.
    Config {
        /// The config command.
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `affiliate demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// The SQLite file to create (replaced on every run, if the demo created it).
    #[arg(long, value_name = "PATH", default_value = "affiliate-demo.db")]
    pub(crate) db: PathBuf,
    /// Records per provider.
    #[arg(long, value_name = "N", default_value_t = 3000,
          value_parser = clap::value_parser!(u64).range(1..=200_000))]
    pub(crate) records: u64,
}

/// What kind of run `sync` and `plan` start, over the file's `[sync] mode`.
#[derive(Debug, Args)]
pub(crate) struct ModeArgs {
    /// List everything, whatever `[sync] mode` says.
    #[arg(long, conflicts_with = "incremental")]
    pub(crate) full: bool,
    /// Only what changed since the last finished run, whatever `[sync] mode` says.
    #[arg(long)]
    pub(crate) incremental: bool,
    /// Make this incremental run a refresh pass (a full listing that brings every stored
    /// row's totals and statuses up to date), whatever the age of the last one.
    #[arg(long)]
    pub(crate) refresh: bool,
}

impl ModeArgs {
    /// `options` with the flags given applied.
    pub(crate) fn apply(&self, options: SyncOptions) -> SyncOptions {
        let options = if self.full {
            options.with_mode(SyncMode::Full)
        } else if self.incremental {
            options.with_mode(SyncMode::Incremental)
        } else {
            options
        };
        if self.refresh {
            options.with_force_refresh(true)
        } else {
            options
        }
    }
}

/// `affiliate sync`.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE", default_value = "affiliate.toml")]
    pub(crate) config: PathBuf,
    /// Full or incremental, and refresh.
    #[command(flatten)]
    pub(crate) mode: ModeArgs,
    /// Where rows go: sqlite://PATH, ndjson:PATH, csv:PATH, - (NDJSON on standard output)
    /// or postgres://USER@HOST/DB. Default: `[output] url`, else sqlite://affiliate.db.
    #[arg(long, value_name = "URL")]
    pub(crate) out: Option<String>,
}

/// Where the queue lives, for `plan` and `worker`.
#[derive(Debug, Args)]
pub(crate) struct QueueDb {
    /// The configuration file (sources; `[output]` names the database when --db does not).
    #[arg(long, value_name = "FILE", default_value = "affiliate.toml")]
    pub(crate) config: PathBuf,
    /// The PostgreSQL database holding the tables and the queue: postgres://USER@HOST/DB.
    /// Default: the file's `[output]`.
    #[arg(long, value_name = "URL")]
    pub(crate) db: Option<String>,
}

/// `affiliate plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The configuration and the database.
    #[command(flatten)]
    pub(crate) queue: QueueDb,
    /// Full or incremental, and refresh.
    #[command(flatten)]
    pub(crate) mode: ModeArgs,
}

/// `affiliate worker`.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// The configuration and the database.
    #[command(flatten)]
    pub(crate) queue: QueueDb,
    /// Stop once no slice of the file's sources is queued or running.
    #[arg(long)]
    pub(crate) exit_when_idle: bool,
    /// The worker's name in `status` (default: host name and process id).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,
    /// How long a slice (and its credential) stays leased without a heartbeat; a killed
    /// worker's slices are taken over after it. Heartbeats come every third of it.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) visibility_timeout: std::time::Duration,
    /// Attempts of one slice before it is moved to the dead-letter state.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) max_attempts: u32,
}

/// `affiliate status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The PostgreSQL database: postgres://USER@HOST/DB. Default: `[output]` of --config.
    #[arg(long, value_name = "URL")]
    pub(crate) db: Option<String>,
    /// The configuration file whose `[output]` names the database and schema.
    #[arg(long, value_name = "FILE", default_value = "affiliate.toml")]
    pub(crate) config: PathBuf,
    /// The schema holding the tables (default: the file's `[output] schema`).
    #[arg(long, value_name = "NAME")]
    pub(crate) schema: Option<String>,
    /// How to print the status.
    #[arg(long, value_enum, default_value_t = ViewFormat::Table)]
    pub(crate) format: ViewFormat,
}

/// Output formats of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    /// An aligned text table.
    Table,
    /// A JSON array, one object per provider.
    Json,
    /// CSV with a header row.
    Csv,
}

/// `affiliate report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The database: sqlite://PATH (or a .db path) or postgres://USER@HOST/DB.
    #[arg(long, value_name = "URL")]
    pub(crate) db: String,
    /// How to print the totals.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub(crate) format: ReportFormat,
    /// Also write an SVG chart per week per provider to this file (see --chart-of).
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) chart: Option<PathBuf>,
    /// What the chart plots: sign-ups per week, or paid per week (from the change history).
    #[arg(long, value_enum, default_value_t = ChartOf::Signups)]
    pub(crate) chart_of: ChartOf,
    /// Add the figures of a period starting this day (UTC): sign-ups, new paying invitees
    /// and paid in the period. Paid counts from each record's first sync onward.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub(crate) since: Option<chrono::NaiveDate>,
    /// The day after the period (UTC, exclusive; default: now). Needs --since.
    #[arg(long, value_name = "YYYY-MM-DD", requires = "since")]
    pub(crate) until: Option<chrono::NaiveDate>,
    /// PostgreSQL schema holding the tables.
    #[arg(long, value_name = "NAME")]
    pub(crate) schema: Option<String>,
}

/// What `report --chart` plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ChartOf {
    /// Sign-ups per week.
    Signups,
    /// Paid per week (sum of the money deltas observed that week).
    Paid,
}

/// Output formats of `triport user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ViewFormat {
    /// Readable text.
    Table,
    /// The operator view as JSON.
    Json,
}

/// `affiliate triport ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum TriportCommand {
    /// Show the operator view of one user (needs TRIPORT_ADMIN_TOKEN).
    User(UserArgs),
}

/// `affiliate triport user`.
#[derive(Debug, Args)]
pub(crate) struct UserArgs {
    /// The user's id (a UUID).
    pub(crate) uuid: String,
    /// Take the base URL and token variable from this file's Triport source.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Which Triport source of the file (by label) when it has several.
    #[arg(long, value_name = "LABEL", requires = "config")]
    pub(crate) label: Option<String>,
    /// How to print the view.
    #[arg(long, value_enum, default_value_t = ViewFormat::Table)]
    pub(crate) format: ViewFormat,
}

/// `affiliate config ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Check a configuration file (and that its environment variables are set).
    Check(CheckArgs),
}

/// `affiliate config check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE", default_value = "affiliate.toml")]
    pub(crate) config: PathBuf,
    /// Check only the file, not whether its environment variables are set.
    #[arg(long)]
    pub(crate) no_env: bool,
}
