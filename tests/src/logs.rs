//! Capturing `tracing` output, to prove secrets never reach logs.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

/// A buffer log lines are written into.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }

    /// The process-wide capture: on first use installs a TRACE-level global subscriber
    /// writing into one buffer, so every test of the binary logs there. (A thread-local
    /// subscriber would miss events whose callsites another thread registered first.)
    pub fn global() -> CapturedLogs {
        static GLOBAL: OnceLock<CapturedLogs> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let logs = CapturedLogs::default();
                let subscriber = tracing_subscriber::fmt()
                    .with_writer(logs.clone())
                    .with_max_level(tracing::Level::TRACE)
                    .with_ansi(false)
                    .finish();
                // Another global subscriber (from the test binary itself) wins; then the
                // buffer stays empty and the redaction check says so.
                let _ = tracing::subscriber::set_global_default(subscriber);
                logs
            })
            .clone()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
