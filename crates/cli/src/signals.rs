//! Ctrl-C and SIGTERM: the first one cancels the sync between pages (the page in flight is
//! committed or discarded whole), a second one exits at once. Either way the next run
//! resumes from the last committed page.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use affiliate::sync::CancellationToken;

use crate::progress::print_line;

/// Cancels `token` on the first Ctrl-C or SIGTERM; exits with code 130 on the second.
/// Returns a flag that is set once a signal arrived.
pub(crate) fn cancel_on_signal(token: CancellationToken) -> Arc<AtomicBool> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    tokio::spawn(async move {
        if !next_signal().await {
            return;
        }
        flag.store(true, Ordering::SeqCst);
        print_line(
            "interrupted: stopping after the pages in flight (press Ctrl-C again to stop at once)",
        );
        token.cancel();
        if next_signal().await {
            print_line("interrupted again: stopping now; committed pages are kept");
            std::process::exit(130);
        }
    });
    interrupted
}

/// Waits for Ctrl-C or (on Unix) SIGTERM; false when no handler could be installed.
async fn next_signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                r = term.recv() => r.is_some(),
            },
            Err(_) => tokio::signal::ctrl_c().await.is_ok(),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}
