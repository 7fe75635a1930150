//! The whole pipeline: every adapter against its emulator with faults injected, synced into
//! SQLite by the engine. Nothing lost, nothing doubled, every retry counted.

use affiliate_http::SourceBuilder;
use std::collections::HashSet;
use std::sync::Arc;

use affiliate_census::CensusBuilder;
use affiliate_coinw::{CoinwBuilder, WindowLength};
use affiliate_core::InviteeSource;
use affiliate_prefactor::PrefactorBuilder;
use affiliate_sandbox::census::{CensusConfig, CensusEmulator};
use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator};
use affiliate_sandbox::prefactor::{PrefactorConfig, PrefactorEmulator};
use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use affiliate_sandbox::{Emulator, Fault, FaultPlan};
use affiliate_sync::{SqliteSink, SyncEngine};
use affiliate_tests::FastTransport;
use affiliate_triport::TriportBuilder;

fn faults() -> FaultPlan {
    FaultPlan::none().random(
        25,
        7,
        vec![
            Fault::RateLimited {
                retry_after: Some(0),
            },
            Fault::ServerError(503),
            Fault::Malformed,
            Fault::Reset,
        ],
    )
}

fn ids_in(db: &std::path::Path, provider: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("db opens");
    let mut stmt = conn
        .prepare("SELECT id FROM invitees WHERE provider = ?1")
        .expect("query");
    stmt.query_map([provider], |row| row.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("ids")
}

#[tokio::test]
async fn four_providers_under_faults_land_exactly_once() {
    let triport = TriportEmulator::start(TriportConfig::new(1_234).faults(faults()))
        .await
        .unwrap();
    let coinw = CoinwEmulator::start(CoinwConfig::new(2_345).faults(faults()))
        .await
        .unwrap();
    let prefactor = PrefactorEmulator::start(PrefactorConfig::new(567).faults(faults()))
        .await
        .unwrap();
    let census = CensusEmulator::start(CensusConfig::new(678).faults(faults()))
        .await
        .unwrap();

    let sources: Vec<Arc<dyn InviteeSource>> = vec![
        Arc::new(
            TriportBuilder::new()
                .with_base_url(triport.base_url())
                .with_session(triport.session())
                .with_limit(50)
                .fast()
                .build()
                .unwrap(),
        ),
        Arc::new(
            CoinwBuilder::new()
                .with_base_url(coinw.base_url())
                .with_api_key(coinw.api_key())
                .with_secret_key(coinw.secret_key())
                .with_offset(coinw.utc_offset())
                .with_since(coinw.oldest_at())
                .with_window_length(WindowLength::Months(1))
                .with_page_size(100)
                .fast()
                .build()
                .unwrap(),
        ),
        Arc::new(
            PrefactorBuilder::new()
                .with_base_url(prefactor.base_url())
                .with_token(prefactor.token())
                .with_page_size(25)
                .fast()
                .build()
                .unwrap(),
        ),
        Arc::new(
            CensusBuilder::new()
                .with_base_url(census.base_url())
                .with_token(census.token())
                .with_per_page(25)
                .fast()
                .build()
                .unwrap(),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pipeline.db");
    let sink = Arc::new(SqliteSink::open(&db).await.unwrap());
    let report = SyncEngine::new(sink).with_sources(sources).run().await;
    assert!(report.is_success(), "{report}");

    let truths: [(&str, &dyn Emulator); 4] = [
        ("triport", &triport),
        ("coinw", &coinw),
        ("prefactor", &prefactor),
        ("census", &census),
    ];
    for (provider, emu) in truths {
        let stored = ids_in(&db, provider);
        let unique: HashSet<&String> = stored.iter().collect();
        let truth: HashSet<String> = emu.ids().into_iter().collect();
        assert_eq!(unique.len(), stored.len(), "{provider}: doubled rows");
        assert_eq!(unique.len(), truth.len(), "{provider}: row count");
        assert!(
            truth.iter().all(|id| unique.contains(id)),
            "{provider}: lost rows"
        );
        let source = report
            .sources
            .iter()
            .find(|s| s.source.provider.as_str() == provider)
            .unwrap();
        assert!(
            source.retries > 0,
            "{provider}: faults were injected, so retries happened: {report}"
        );
        // A fresh database holds nothing: every stored row is new, none was written twice.
        assert_eq!(source.existing, 0, "{provider}: {report}");
        assert_eq!(source.records as usize, truth.len(), "{provider}: {report}");
        // Counted when started: a speculative page cancelled before it reached the server
        // counts too, so the count may exceed what was served by up to the concurrency.
        let served = emu.requests().len() as u64;
        assert!(
            (served..=served + 4).contains(&source.requests),
            "{provider}: {} requests counted, {served} served",
            source.requests
        );
    }
}
