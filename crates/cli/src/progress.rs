//! Progress while a sync runs: one bar per source on a terminal, plain log lines otherwise.
//! Both are a sync [`Observer`]; log output of the libraries goes through [`LogWriter`]
//! so it never tears a bar.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use affiliate::sync::{Observer, PageEvent, SourceReport, SourceStart, SourceStatus};
use affiliate::SourceId;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars being drawn, if any, so log lines can be printed above them.
static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Live bars (standard error is a terminal).
    Bars,
    /// One line per event, throttled per source.
    Lines,
}

impl Style {
    /// Bars when standard error is a terminal, lines otherwise.
    pub(crate) fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            Style::Bars
        } else {
            Style::Lines
        }
    }
}

/// A source's progress.
#[derive(Debug)]
struct Entry {
    bar: Option<ProgressBar>,
    pages: u64,
    rows: u64,
    new: u64,
    last_line: Option<Instant>,
}

/// Shows sync progress; hand it to the engine with `SyncEngine::with_observer`.
#[derive(Debug)]
pub(crate) struct Progress {
    style: Style,
    started: Instant,
    entries: Mutex<HashMap<SourceId, Entry>>,
}

/// Plain lines for one source at most this often (besides start and end).
const LINE_EVERY: Duration = Duration::from_secs(2);

impl Progress {
    /// Progress for `sources`, in this order; `expected` rows per source make real bars
    /// (otherwise a counter with a spinner).
    pub(crate) fn new(style: Style, sources: &[(SourceId, Option<u64>)]) -> Self {
        let multi = (style == Style::Bars)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)));
        let width = sources
            .iter()
            .map(|(id, _)| id.to_string().len())
            .max()
            .unwrap_or(10);
        let mut entries = HashMap::new();
        for (id, expected) in sources {
            let bar = multi.as_ref().map(|m| {
                let bar = match expected {
                    Some(len) => ProgressBar::new(*len).with_style(bar_style(width)),
                    None => ProgressBar::no_length().with_style(counter_style(width)),
                };
                let bar = m.add(bar.with_prefix(id.to_string()).with_message("waiting"));
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            });
            entries.insert(
                id.clone(),
                Entry {
                    bar,
                    pages: 0,
                    rows: 0,
                    new: 0,
                    last_line: None,
                },
            );
        }
        *BARS.lock().unwrap_or_else(PoisonError::into_inner) = multi;
        Self {
            style,
            started: Instant::now(),
            entries: Mutex::new(entries),
        }
    }

    /// Stops drawing (bars stay on screen with their final message).
    pub(crate) fn finish(&self) {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        for entry in entries.values() {
            if let Some(bar) = &entry.bar {
                if !bar.is_finished() {
                    bar.abandon();
                }
            }
        }
        *BARS.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// One plain progress line, with the time since the start.
    fn line(&self, source: &SourceId, text: &str) {
        let secs = self.started.elapsed().as_secs_f64();
        print_line(&format!("[{secs:>6.1}s] {source}: {text}"));
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A bar for a source whose size is known.
fn bar_style(width: usize) -> ProgressStyle {
    let template =
        format!("{{prefix:<{width}}} [{{bar:32}}] {{pos:>7}}/{{len:<7}} {{elapsed:>3}}  {{msg}}");
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// A spinner and a row counter for a source whose size is not known.
fn counter_style(width: usize) -> ProgressStyle {
    let template =
        format!("{{prefix:<{width}}} {{spinner}} {{pos:>8}} rows {{elapsed:>3}}  {{msg}}");
    ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Observer for Progress {
    fn source_started(&self, source: &SourceId, start: &SourceStart) {
        let what = format!(
            "{} {} run, {} slice{}{}",
            if start.resumed {
                "resuming a"
            } else {
                "started a"
            },
            start.mode,
            start.slices,
            if start.slices == 1 { "" } else { "s" },
            if start.slices_done > 0 {
                format!(" ({} already done)", start.slices_done)
            } else {
                String::new()
            }
        );
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bar) = entries.get_mut(source).and_then(|e| e.bar.as_ref()) {
            bar.set_message(if start.resumed { "resuming" } else { "syncing" });
            bar.reset_elapsed();
        }
        drop(entries);
        if self.style == Style::Lines {
            self.line(source, &what);
        }
    }

    fn page_committed(&self, source: &SourceId, page: &PageEvent) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = entries.get_mut(source) else {
            return;
        };
        entry.pages += 1;
        entry.rows += page.rows as u64;
        entry.new += page.inserted;
        if let Some(bar) = &entry.bar {
            bar.inc(page.rows as u64);
            return;
        }
        let due = entry.last_line.is_none_or(|t| t.elapsed() >= LINE_EVERY);
        if due {
            entry.last_line = Some(Instant::now());
            let text = format!(
                "{} pages, {} rows ({} new)",
                entry.pages, entry.rows, entry.new
            );
            drop(entries);
            self.line(source, &text);
        }
    }

    fn source_finished(&self, report: &SourceReport) {
        let summary = match report.status {
            SourceStatus::Ok => format!(
                "done in {:.1}s: {} pages, {} new, {} existing",
                report.duration.as_secs_f64(),
                report.pages,
                report.records,
                report.existing
            ),
            SourceStatus::Cancelled => format!(
                "stopped after {} pages ({} new)",
                report.pages, report.records
            ),
            _ => format!(
                "FAILED after {:.1}s ({} pages committed)",
                report.duration.as_secs_f64(),
                report.pages
            ),
        };
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(&report.source).and_then(|e| e.bar.as_ref()) {
            Some(bar) => {
                if let Some(len) = bar.length() {
                    if report.status == SourceStatus::Ok && bar.position() < len {
                        bar.set_length(bar.position());
                    }
                }
                bar.abandon_with_message(summary);
            }
            None => {
                drop(entries);
                self.line(&report.source, &summary);
            }
        }
    }
}

/// Prints a line to standard error, above the bars when they are drawn.
pub(crate) fn print_line(text: &str) {
    let bars = BARS.lock().unwrap_or_else(PoisonError::into_inner).clone();
    match bars {
        Some(multi) => multi.suspend(|| eprintln!("{text}")),
        None => eprintln!("{text}"),
    }
}

/// A `tracing` writer that prints above the progress bars.
#[derive(Debug, Default)]
pub(crate) struct LogWriter {
    buf: Vec<u8>,
}

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf);
        print_line(text.trim_end_matches('\n'));
        self.buf.clear();
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        // Flushing only prints; it cannot fail.
        let _ = self.flush();
    }
}
