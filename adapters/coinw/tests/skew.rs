//! A local clock minutes away from CoinW's: the first answer (`6001`, stale timestamp)
//! carries the server's `Date`, the client corrects its timestamps and signs again, and the
//! listing completes exactly once.

mod common;

use std::sync::Arc;

use affiliate_core::{InviteeSource, Scope};
use affiliate_sandbox::coinw::CoinwConfig;
use chrono::Duration;

use common::*;

async fn lists_everything_with_the_server_clock_off_by(minutes: i64) {
    let emu = emulator(CoinwConfig::new(300).clock_skew(Duration::minutes(minutes))).await;
    let source = Arc::new(client(&emu));
    let got = list_all(source.clone(), Scope::full())
        .await
        .unwrap_or_else(|e| panic!("server clock {minutes:+} min: {e}"));
    let truth: Vec<u64> = emu
        .invitees_newest_first()
        .iter()
        .map(|(u, _)| *u)
        .collect();
    assert_exactly(&got, &truth);
    // The requests signed before the first answer showed the server's clock were refused
    // and signed again: some retries, far fewer than the requests.
    let stats = source.transport_stats();
    assert!(stats.retries >= 1, "{stats:?}");
    assert!(stats.retries < stats.attempts / 2, "{stats:?}");
}

#[tokio::test]
async fn a_server_clock_two_minutes_ahead_is_corrected_for() {
    lists_everything_with_the_server_clock_off_by(2).await;
}

#[tokio::test]
async fn a_server_clock_two_minutes_behind_is_corrected_for() {
    lists_everything_with_the_server_clock_off_by(-2).await;
}
