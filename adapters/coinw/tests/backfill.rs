//! Whole listings against the emulator: a 24-month backfill of 50,000 invitees, drift while
//! paging, throttling under load, and the uid/referralCode filters.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use affiliate_core::{InviteeSource, Scope};
use affiliate_sandbox::coinw::CoinwConfig;
use affiliate_sandbox::Emulator;
use affiliate_sandbox::{Drift, Fault, FaultPlan};
use chrono::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_of_24_months_and_50_000_invitees_lists_every_record_once() {
    let emu = emulator(CoinwConfig::new(50_000)).await;
    let truth: Vec<u64> = emu
        .invitees_newest_first()
        .iter()
        .map(|(uid, _)| *uid)
        .collect();
    let span = emu.invitees_newest_first()[0].1 - emu.oldest_at();
    assert!(
        span > Duration::days(730),
        "data spans {} days",
        span.num_days()
    );

    // What planning will see: the probed windows.
    let client = client(&emu);
    let (windows, probes) = client.probe_windows(&Scope::full()).await.unwrap();
    // ~2,000 rows a month against the default cap of 10,000: runs of a few months are
    // planned, probed and read as one slice.
    assert!(
        windows.len() * 2 < 26 && probes < 26,
        "{probes} probes, {} windows",
        windows.len()
    );
    assert!(windows.iter().all(|w| w.total <= 10_000));
    // Neighbours share their edge second, so a row on an edge is in two windows.
    let planned: std::collections::HashSet<u64> = windows
        .iter()
        .flat_map(|w| emu.uids_between(w.window.start, w.window.end))
        .collect();
    assert_eq!(planned.len(), 50_000, "every row in a planned window");

    // The listing the sync engine runs: probes while planning, then pages.
    let before = list_requests(&emu);
    let started = Instant::now();
    let got = list_all(Arc::new(client), Scope::full()).await.unwrap();
    let requests = list_requests(&emu) - before;
    let elapsed = started.elapsed();
    assert_exactly(&got, &truth);
    let ids: Vec<u64> = got.iter().map(|i| i.id.parse().unwrap()).collect();
    assert_eq!(ids, truth, "newest first across windows");
    eprintln!(
        "backfill: {} invitees, {} windows, {requests} requests ({probes} probes + {} pages) in {elapsed:?}",
        got.len(),
        windows.len(),
        requests - probes as usize
    );
    // 50 full pages and a part page per window, the newest window read again, after the
    // plan's probes.
    let pages: u64 = windows.iter().map(|w| w.total.div_ceil(1_000)).sum();
    let reread = windows[0].total.div_ceil(1_000);
    assert_eq!(
        requests - probes as usize,
        (pages + reread) as usize,
        "{requests}"
    );
    assert!(pages <= 50 + windows.len() as u64);
}

/// Drift as CoinW sees it: sign-ups during the listing are stamped "now", after the bound
/// frozen when the listing was planned (they belong to the next run), and deletions hit
/// any window, shifting pages under the reader.
#[tokio::test]
async fn drift_while_paging_loses_and_doubles_nothing() {
    for drift in [
        Drift {
            inserts_per_request: 3,
            deletes_per_request: 0,
        },
        Drift {
            inserts_per_request: 0,
            deletes_per_request: 2,
        },
        Drift {
            inserts_per_request: 2,
            deletes_per_request: 3,
        },
    ] {
        // ~3 weeks of data, the newest a minute ago; sign-ups arrive 10 minutes apart.
        let newest = chrono::Utc::now() - Duration::minutes(1);
        let newest = chrono::DateTime::from_timestamp(newest.timestamp(), 0).unwrap();
        let config = CoinwConfig::new(3_000)
            .spacing(chrono::Duration::minutes(10))
            .newest_at(newest);
        let emu = emulator(config).await;
        let before: HashSet<u64> = emu
            .invitees_newest_first()
            .iter()
            .map(|(u, _)| *u)
            .collect();
        emu.set_drift(drift);
        let c = builder(&emu).with_page_size(40).build().unwrap();
        let got = list_all(Arc::new(c.clone()), Scope::full()).await.unwrap();
        let after: Vec<u64> = emu
            .invitees_newest_first()
            .iter()
            .map(|(u, _)| *u)
            .collect();
        let survivors: Vec<u64> = after
            .iter()
            .copied()
            .filter(|u| before.contains(u))
            .collect();
        let mut seen = HashSet::new();
        for invitee in &got {
            let uid: u64 = invitee.id.parse().unwrap();
            assert!(seen.insert(uid), "{drift:?}: {uid} twice");
            assert!(
                before.contains(&uid),
                "{drift:?}: {uid} registered after the frozen bound"
            );
        }
        let lost: Vec<_> = survivors
            .iter()
            .filter(|u| !seen.contains(u))
            .take(5)
            .collect();
        assert!(lost.is_empty(), "{drift:?}: lost {lost:?}");
        let requests = list_requests(&emu);
        assert!(requests >= 3_000 / 40, "{drift:?}: {requests} requests");
        if drift.deletes_per_request > 0 {
            assert!(
                survivors.len() < before.len(),
                "{drift:?}: rows were deleted meanwhile"
            );
        }

        // The next run (a later bound) picks up the sign-ups, each once.
        emu.set_drift(Drift::default());
        let later = chrono::Utc::now() + Duration::days(365);
        let next = list_all(Arc::new(c), Scope::full().until(later))
            .await
            .unwrap();
        let truth: Vec<u64> = emu
            .invitees_newest_first()
            .iter()
            .map(|(u, _)| *u)
            .collect();
        assert_exactly(&next, &truth);
        if drift.inserts_per_request > 0 {
            assert!(truth.len() > survivors.len(), "{drift:?}: sign-ups arrived");
        }
    }
}

#[tokio::test]
async fn throttling_under_load_is_retried_without_loss() {
    // The same listing without faults, for the number of requests it needs.
    let clean = emulator(CoinwConfig::new(5_000)).await;
    let c = builder(&clean).with_page_size(200).build().unwrap();
    list_all(Arc::new(c), Scope::full()).await.unwrap();
    let needed = list_requests(&clean) as u64;

    let emu = emulator(CoinwConfig::new(5_000)).await;
    emu.set_faults(FaultPlan::none().every(3, Fault::RateLimited { retry_after: None }));
    let c = builder(&emu).with_page_size(200).build().unwrap();
    let got = list_all(Arc::new(c.clone()), Scope::full()).await.unwrap();
    let truth: Vec<u64> = emu
        .invitees_newest_first()
        .iter()
        .map(|(u, _)| *u)
        .collect();
    assert_exactly(&got, &truth);
    let sent = list_requests(&emu) as u64;
    let retries = c.transport_stats().retries;
    // Every request beyond the clean listing's is a retry of a throttled one, and every
    // third request was throttled.
    assert_eq!(
        sent,
        needed + retries,
        "{sent} sent, {needed} needed, {retries} retries"
    );
    assert!(retries >= sent / 3, "{retries} retries of {sent} requests");
}

#[tokio::test]
async fn uid_and_referral_code_filters_are_sent_and_honoured() {
    let emu = emulator(CoinwConfig::new(2_000)).await;
    let target = emu.invitees_newest_first()[777].0;
    let c = builder(&emu).with_uid(target).build().unwrap();
    let got = list_all(Arc::new(c), Scope::full()).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, target.to_string());
    assert!(emu
        .requests()
        .iter()
        .all(|r| r.contains(&format!("&uid={target}"))));

    let code = affiliate_sandbox::coinw::REFERRAL_CODES[1];
    let before = list_requests(&emu);
    let c = builder(&emu)
        .with_referral_code(code)
        .with_page_size(100)
        .build()
        .unwrap();
    let got = list_all(Arc::new(c), Scope::full()).await.unwrap();
    let truth = emu.uids_with_referral_code(code);
    assert!(truth.len() > 400, "{}", truth.len());
    assert_exactly(&got, &truth);
    assert!(emu.requests()[before..]
        .iter()
        .all(|r| r.ends_with(&format!("&referralCode={code}"))));
}

/// Sign-ups stamped before the frozen bound but arriving while the listing runs land in the
/// newest window, read first: the listing reads it again at the end and includes them,
/// each once.
#[tokio::test]
async fn sign_ups_arriving_during_the_run_before_the_bound_are_included() {
    let now = chrono::Utc::now();
    let until = chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap();
    // The newest of 2,000 rows two hours before the bound; sign-ups arrive a minute apart.
    let config = CoinwConfig::new(2_000)
        .spacing(chrono::Duration::minutes(1))
        .newest_at(until - Duration::hours(2));
    let emu = emulator(config).await;
    let c = builder(&emu)
        .with_page_size(100)
        .with_until(until)
        .build()
        .unwrap();
    emu.set_drift(Drift {
        inserts_per_request: 2,
        deletes_per_request: 0,
    });
    let got = list_all(Arc::new(c), Scope::full()).await.unwrap();
    emu.set_drift(Drift::default());
    let truth: Vec<u64> = emu
        .invitees_newest_first()
        .iter()
        .filter(|(_, at)| *at <= until)
        .map(|(u, _)| *u)
        .collect();
    assert!(
        truth.len() > 2_000 + 20,
        "sign-ups arrived during the run: {}",
        truth.len()
    );
    assert_exactly(&got, &truth);
}

/// One page of a window answered late, after the pages below it, while every request
/// brings a sign-up at the window's head and deletes a row: the total never moves, and the
/// rows the arrivals push off the late page land on pages already served. The walk of the
/// window finds them because its pass reads its head again when it closes (the driver's
/// head check); without it they are lost. (A whole listing reads CoinW's newest window a
/// second time, which would find them too unless that read lost them as well: the walk of
/// the one slice is what shows the check.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_answered_late_while_arrivals_hide_deletions_loses_nothing() {
    let now = chrono::Utc::now();
    let newest = chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap() - Duration::hours(2);
    // The first request (page 1) is answered at once, the second (a page of the next
    // round) after the rest of its round.
    let late = FaultPlan::none()
        .then(Fault::Slow(std::time::Duration::ZERO))
        .then(Fault::Slow(std::time::Duration::from_millis(400)));
    let config = CoinwConfig::new(60)
        .spacing(Duration::minutes(1))
        .newest_at(newest)
        .faults(late);
    let emu = Arc::new(emulator(config).await);
    let before: HashSet<String> = emu.ids().into_iter().collect();
    emu.set_drift(Drift {
        inserts_per_request: 2,
        deletes_per_request: 2,
    });
    // The list settles once the first pass is read (its six pages and its head asked
    // for): a list that never does ends with `KeepsShrinking` instead.
    let settles = {
        let emu = emu.clone();
        tokio::spawn(async move {
            while list_requests(&emu) < 7 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            emu.set_drift(Drift::default());
        })
    };
    // One window, unprobed, reaching past now: sign-ups land at its head.
    let client = builder(&emu)
        .with_window_length(affiliate_coinw::WindowLength::Months(12))
        .with_until(now + Duration::days(1))
        .without_split()
        .with_page_size(10)
        .build()
        .unwrap();
    let source: Arc<dyn InviteeSource> = Arc::new(client);
    let window = source.plan(&Scope::full()).await.unwrap();
    assert_eq!(window.len(), 1, "one window");
    let seen = affiliate_core::driver::SeenSet::new();
    let options = affiliate_core::driver::DriverOptions::default();
    let pages = affiliate_core::driver::slice_pages(
        source,
        window[0].clone(),
        Scope::full(),
        seen,
        options,
    );
    let pages: Vec<_> = futures::TryStreamExt::try_collect(pages).await.unwrap();
    let got: Vec<String> = pages
        .into_iter()
        .flat_map(|page| page.invitees)
        .map(|invitee| invitee.id)
        .collect();
    settles.abort();
    let after = emu.ids();
    assert_eq!(after.len(), 60, "as many arrived as were deleted");
    let there_throughout: Vec<String> =
        after.into_iter().filter(|id| before.contains(id)).collect();
    affiliate_tests::conformance::assert_exactly_once(&got, &there_throughout);
}
