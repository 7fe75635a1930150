//! Secrets never show in `Debug` (builder, client), in errors or in logs. Alone in
//! its binary: `tracing` caches callsite interest process-wide, so log capture with a
//! thread-local subscriber is only reliable without concurrent tests.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use affiliate_coinw::{CoinwBuilder, WindowLength};
use affiliate_core::Scope;
use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator};
use affiliate_sandbox::Emulator;
use affiliate_sandbox::{Fault, FaultPlan};
use chrono::{Duration, Utc};

use common::*;

async fn small() -> CoinwEmulator {
    emulator(CoinwConfig::new(30).spacing(chrono::Duration::seconds(60))).await
}

fn one_window(emu: &CoinwEmulator) -> CoinwBuilder {
    builder(emu)
        .with_since(Utc::now() - Duration::days(2))
        .with_window_length(WindowLength::Months(1200))
}

/// A `Write` shared with the test, for capturing logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_never_show_in_debug_errors_or_logs() {
    use tracing_subscriber::util::SubscriberInitExt;
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_writer(move || writer.clone())
        .set_default();

    let emu = small().await;
    emu.set_faults(FaultPlan::none().then(Fault::RateLimited { retry_after: None }));
    let good = one_window(&emu).build().unwrap();
    let builder_debug = format!("{:?}", one_window(&emu));
    let got = list_all(Arc::new(good.clone()), Scope::full())
        .await
        .unwrap();
    assert_eq!(got.len(), 30);
    let wrong_secret = "wrong-secret-0f0f0f";
    let bad = one_window(&emu)
        .with_secret_key(wrong_secret)
        .build()
        .unwrap();
    let err = first_error(bad.clone()).await;
    let shown = format!(
        "{builder_debug}\n{good:?}\n{bad:?}\n{err}\n{err:?}\n{}",
        String::from_utf8_lossy(&logs.0.lock().unwrap())
    );
    assert!(shown.contains("retrying"), "the 29001 retry was logged");
    for secret in [emu.api_key(), emu.secret_key(), wrong_secret] {
        assert!(!shown.contains(secret), "{secret} leaked into: {shown}");
    }
}
