//! Ctrl-C and SIGTERM: the first one cancels the sync between pages (the page in flight is
//! committed or discarded whole), a second one exits at once. Either way the next run
//! resumes from the last committed page.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use affiliate::sync::CancellationToken;

use crate::progress::print_line;

/// Cancels `token` on the first Ctrl-C or SIGTERM; exits with code 130 on the second.
/// The handlers are installed before this returns. Returns a flag set once a signal
/// arrived.
pub(crate) fn cancel_on_signal(token: CancellationToken) -> Arc<AtomicBool> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    let mut signals = Signals::install();
    tokio::spawn(async move {
        if !signals.next().await {
            return;
        }
        flag.store(true, Ordering::SeqCst);
        print_line(
            "interrupted: stopping after the pages in flight (press Ctrl-C again to stop at once)",
        );
        token.cancel();
        if signals.next().await {
            print_line("interrupted again: stopping now; committed pages are kept");
            std::process::exit(130);
        }
    });
    interrupted
}

/// SIGINT and SIGTERM listeners (Unix), registered when created.
#[cfg(unix)]
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Signals {
    /// Registers both handlers now (a handler that cannot be installed is left out).
    fn install() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        Self {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Waits for the next signal; false when no handler is installed.
    async fn next(&mut self) -> bool {
        match (&mut self.interrupt, &mut self.terminate) {
            (Some(i), Some(t)) => tokio::select! {
                r = i.recv() => r.is_some(),
                r = t.recv() => r.is_some(),
            },
            (Some(i), None) => i.recv().await.is_some(),
            (None, Some(t)) => t.recv().await.is_some(),
            (None, None) => false,
        }
    }
}

/// Ctrl-C elsewhere.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    /// Nothing to register up front.
    fn install() -> Self {
        Signals
    }

    /// Waits for Ctrl-C; false when no handler could be installed.
    async fn next(&mut self) -> bool {
        tokio::signal::ctrl_c().await.is_ok()
    }
}
