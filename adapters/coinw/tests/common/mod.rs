//! Shared helpers of the CoinW integration tests.
#![allow(dead_code, unreachable_pub)]

use affiliate_http::SourceBuilder;
use std::collections::HashMap;
use std::sync::Arc;

use affiliate_coinw::{CoinwBuilder, CoinwClient};
use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::{Invitee, InviteeSource, Scope, SourceError};
use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator};
use affiliate_sandbox::Emulator;
use affiliate_tests::FastTransport;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use futures::StreamExt;

/// The real retry loop with millisecond backoff and no client-side rate limit.
pub async fn emulator(config: CoinwConfig) -> CoinwEmulator {
    CoinwEmulator::start(config).await.expect("emulator starts")
}

/// A builder pointed at `emu` with its keys and offset, starting on the first day of the
/// month of the oldest row (in the emulator's offset), fast retries.
pub fn builder(emu: &CoinwEmulator) -> CoinwBuilder {
    let local = emu.oldest_at().with_timezone(&emu.utc_offset());
    let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).expect("a date");
    CoinwBuilder::new()
        .with_base_url(emu.base_url())
        .with_api_key(emu.api_key())
        .with_secret_key(emu.secret_key())
        .with_offset(emu.utc_offset())
        .with_since_date(first)
        .fast()
}

pub fn client(emu: &CoinwEmulator) -> CoinwClient {
    builder(emu).build().expect("valid config")
}

/// Every result of a listing (ids or the first error).
pub async fn list_all(
    source: Arc<dyn InviteeSource>,
    scope: Scope,
) -> Result<Vec<Invitee>, SourceError> {
    let mut out = Vec::new();
    let mut stream = invitees(source, scope, DriverOptions::default());
    while let Some(item) = stream.next().await {
        out.push(item?);
    }
    Ok(out)
}

/// The first error of a listing through the calendar plan.
pub async fn first_error(client: CoinwClient) -> SourceError {
    match list_all(Arc::new(client), Scope::full()).await {
        Ok(got) => panic!("expected a failure, listed {}", got.len()),
        Err(err) => err,
    }
}

/// Asserts no id twice and exactly the `truth` ids.
pub fn assert_exactly(got: &[Invitee], truth: &[u64]) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for invitee in got {
        *counts.entry(invitee.id.as_str()).or_default() += 1;
    }
    let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "emitted more than once: {doubled:?}");
    let truth_text: Vec<String> = truth.iter().map(u64::to_string).collect();
    let missing: Vec<_> = truth_text
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "records lost, e.g. {missing:?}");
    assert_eq!(got.len(), truth.len(), "record count");
}

/// Requests to the list endpoint served so far.
pub fn list_requests(emu: &CoinwEmulator) -> usize {
    emu.requests().len()
}

pub fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    Utc.with_ymd_and_hms(y, m, d, h, mi, s)
        .single()
        .expect("a valid time")
}
