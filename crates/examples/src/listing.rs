//! What every adapter's `list_invitees` example does once its source is built: stream the
//! listing as NDJSON to stdout and summarise it.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::{InviteeSource, Scope, SourceError};
use chrono::{DateTime, Utc};
use futures::StreamExt;

/// What a listing held.
#[derive(Debug, Default)]
pub struct Summary {
    /// Records written.
    pub count: u64,
    /// Records per status.
    pub by_status: BTreeMap<String, u64>,
    /// Records with a positive `total_paid_micro`.
    pub paying: u64,
    /// Sum of `total_paid_micro`.
    pub total_paid_micro: i64,
    /// Oldest and newest `joined_at`/`invited_at` seen.
    pub span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Wall time of the listing.
    pub elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} invitees", self.count)?;
        let statuses: Vec<String> = self
            .by_status
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        if !statuses.is_empty() {
            write!(f, " ({})", statuses.join(", "))?;
        }
        if self.paying > 0 {
            write!(
                f,
                ", {} paying, {:.2} paid",
                self.paying,
                self.total_paid_micro as f64 / 1e6
            )?;
        }
        if let Some((oldest, newest)) = self.span {
            write!(f, ", {oldest} .. {newest}")?;
        }
        write!(f, " in {:.2?}", self.elapsed)
    }
}

/// Why the listing stopped early.
#[derive(Debug)]
pub enum Failed {
    /// Stdout went away.
    Output(std::io::Error),
    /// The source failed.
    Source(SourceError),
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failed::Output(e) => write!(f, "writing stdout: {e}"),
            Failed::Source(e) => write!(f, "{e}"),
        }
    }
}

/// Streams `source` over `scope` as one JSON object per line on stdout.
pub async fn print_listing(
    source: impl InviteeSource + 'static,
    scope: Scope,
) -> Result<Summary, Failed> {
    let started = Instant::now();
    let mut stream = invitees(source, scope, DriverOptions::default());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut summary = Summary::default();
    while let Some(item) = stream.next().await {
        let invitee = item.map_err(Failed::Source)?;
        summary.count += 1;
        *summary
            .by_status
            .entry(invitee.status.to_string())
            .or_default() += 1;
        let paid = invitee.total_paid_micro.unwrap_or(0);
        if paid > 0 {
            summary.paying += 1;
            summary.total_paid_micro += paid;
        }
        if let Some(at) = invitee.joined_at.or(invitee.invited_at) {
            summary.span = Some(
                summary
                    .span
                    .map_or((at, at), |(o, n)| (o.min(at), n.max(at))),
            );
        }
        serde_json::to_writer(&mut out, &invitee)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
            .map_err(Failed::Output)?;
    }
    out.flush().map_err(Failed::Output)?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The tail of every example: builds the source (exit 2 on a configuration error), lists
/// it as NDJSON and prints `provider: summary` on stderr (exit 1 when the listing fails).
pub async fn run<S, E>(provider: &str, built: Result<S, E>) -> ExitCode
where
    S: InviteeSource + 'static,
    E: fmt::Display,
{
    let source = match built {
        Ok(source) => source,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    match print_listing(source, Scope::full()).await {
        Ok(summary) => {
            eprintln!("{provider}: {summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
