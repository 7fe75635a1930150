//! CoinW against its emulator: the conformance suite (the CoinW-specific cases live in
//! adapters/coinw/tests).

use affiliate_http::SourceBuilder;
use std::sync::Arc;

use affiliate_coinw::{CoinwBuilder, WindowLength};
use affiliate_core::InviteeSource;
use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator};
use affiliate_tests::conformance::{Harness, Via};
use affiliate_tests::FastTransport;
use async_trait::async_trait;

struct CoinwHarness;

const PAGE: u32 = 7;

fn builder(emu: &CoinwEmulator) -> CoinwBuilder {
    CoinwBuilder::new()
        .with_base_url(emu.base_url())
        .with_api_key(emu.api_key())
        .with_secret_key(emu.secret_key())
        .with_offset(emu.utc_offset())
        .with_page_size(PAGE)
        .with_window_length(WindowLength::Days(3))
        .with_since(emu.oldest_at() - chrono::Duration::days(1))
        // The emulator stamps sign-ups arriving during a run an hour apart after its newest
        // row (an hour ago): a bound a month ahead lets them land inside the windows read,
        // at a window's head, as sign-ups reach CoinW's newest window when its clock is
        // behind ours. Schedules drifting both ways at once then test the head check.
        .with_until(chrono::Utc::now() + chrono::Duration::days(30))
        .fast()
}

#[async_trait]
impl Harness for CoinwHarness {
    type Emu = CoinwEmulator;
    fn page_size(&self) -> u32 {
        PAGE
    }
    async fn start(&self, records: u64) -> CoinwEmulator {
        // Hourly registrations: a few windows of a few pages each.
        CoinwEmulator::start(CoinwConfig::new(records).spacing(chrono::Duration::hours(1)))
            .await
            .expect("emulator starts")
    }
    fn source_via(&self, emu: &CoinwEmulator, via: &Via) -> Arc<dyn InviteeSource> {
        Arc::new(via.apply(builder(emu)).build().expect("valid config"))
    }
    fn refused_source(&self, emu: &CoinwEmulator) -> (Arc<dyn InviteeSource>, Vec<String>) {
        let wrong = "coinw-wrong-secret-7f7f".to_owned();
        let source = builder(emu)
            .with_secret_key(wrong.as_str())
            .build()
            .expect("valid config");
        (Arc::new(source), vec![wrong])
    }
    fn secrets(&self, emu: &CoinwEmulator) -> Vec<String> {
        vec![emu.api_key().to_owned(), emu.secret_key().to_owned()]
    }
}

affiliate_tests::conformance_suite!(CoinwHarness);

/// Through the sync engine: sign-ups stamped before the frozen bound that arrive while the
/// run lists are stored too (the engine reads the newest window again at the end).
#[tokio::test]
async fn a_sync_stores_sign_ups_that_arrive_during_the_run() {
    use affiliate_sandbox::{Drift, Emulator};
    use affiliate_sync::{SqliteSink, SyncEngine};
    let until = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let config = CoinwConfig::new(1_500)
        .spacing(chrono::Duration::minutes(1))
        .newest_at(until - chrono::Duration::hours(2));
    let emu = CoinwEmulator::start(config).await.expect("emulator");
    let since = emu.oldest_at();
    let source = CoinwBuilder::new()
        .with_base_url(emu.base_url())
        .with_api_key(emu.api_key())
        .with_secret_key(emu.secret_key())
        .with_offset(emu.utc_offset())
        .with_since(since)
        .with_until(until)
        .with_page_size(100)
        .fast()
        .build()
        .expect("client");
    emu.set_drift(Drift {
        inserts_per_request: 2,
        deletes_per_request: 0,
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("coinw.db");
    let sink = Arc::new(SqliteSink::open(&db).await.expect("sink"));
    let report = SyncEngine::new(sink).with_source(source).run().await;
    assert!(report.is_success(), "{report}");
    emu.set_drift(Drift::default());
    let truth = emu
        .invitees_newest_first()
        .iter()
        .filter(|(_, at)| *at <= until)
        .count() as i64;
    assert!(
        truth > 1_500 + 20,
        "sign-ups arrived during the run: {truth}"
    );
    let stored: i64 = rusqlite::Connection::open(&db)
        .expect("db")
        .query_row("SELECT COUNT(*) FROM invitees", [], |r| r.get(0))
        .expect("count");
    assert_eq!(stored, truth, "{report}");
}
