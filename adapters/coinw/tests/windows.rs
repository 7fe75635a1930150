//! Window planning: calendar months/days in the provider's offset, month ends, leap years,
//! edges shared by neighbouring windows, the frozen upper bound, and the split at the cap.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use affiliate_coinw::window::{calendar_windows, halve, WindowLength};
use affiliate_coinw::zone::{parse_utc_offset, to_provider_text};
use affiliate_coinw::{CoinwBuilder, FixedClock};
use affiliate_core::{ErrorKind, Position, Scope, Window};
use affiliate_sandbox::coinw::{CoinwConfig, EndTime};
use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};

use common::*;

fn cst() -> FixedOffset {
    parse_utc_offset("+08:00").unwrap()
}

fn local(offset: FixedOffset, text: &str) -> DateTime<Utc> {
    affiliate_coinw::zone::from_provider_text(text, offset).unwrap()
}

fn shown(windows: &[Window], offset: FixedOffset) -> Vec<(String, String)> {
    windows
        .iter()
        .map(|w| {
            (
                to_provider_text(w.start, offset),
                to_provider_text(w.end, offset),
            )
        })
        .collect()
}

/// Newest first, each window ends at the second the next one starts (they share it), first
/// starts at since, last ends at until.
fn assert_tiles(windows: &[Window], since: DateTime<Utc>, until: DateTime<Utc>) {
    assert!(!windows.is_empty());
    assert_eq!(
        windows.last().unwrap().start,
        since,
        "first window starts at since"
    );
    assert_eq!(windows[0].end, until, "last window ends at until");
    for w in windows {
        assert!(w.start <= w.end, "{w:?}");
    }
    for pair in windows.windows(2) {
        let (newer, older) = (pair[0], pair[1]);
        assert_eq!(older.end, newer.start, "edges share their second");
    }
}

/// A full listing's calendar windows and its probed plan (windows, probes), checking that
/// planning sent nothing but its probes.
async fn full_plan(
    client: &affiliate_coinw::CoinwClient,
    emu: &affiliate_sandbox::coinw::CoinwEmulator,
) -> (Vec<Window>, Vec<affiliate_coinw::ProbedWindow>, u64) {
    let calendar = client.calendar_windows(&Scope::full()).unwrap();
    let before = list_requests(emu);
    let (windows, probes) = client.probe_windows(&Scope::full()).await.unwrap();
    assert_eq!(list_requests(emu) - before, probes as usize);
    (calendar, windows, probes)
}

#[test]
fn monthly_windows_follow_month_ends_in_the_provider_zone() {
    let o = cst();
    let since = local(o, "2023-11-15 10:00:00");
    let until = local(o, "2024-03-05 12:00:00");
    let w = calendar_windows(since, until, WindowLength::Months(1), o).unwrap();
    assert_eq!(
        shown(&w, o),
        vec![
            ("2024-03-01 00:00:00".into(), "2024-03-05 12:00:00".into()),
            ("2024-02-01 00:00:00".into(), "2024-03-01 00:00:00".into()),
            ("2024-01-01 00:00:00".into(), "2024-02-01 00:00:00".into()),
            ("2023-12-01 00:00:00".into(), "2024-01-01 00:00:00".into()),
            ("2023-11-15 10:00:00".into(), "2023-12-01 00:00:00".into()),
        ]
    );
    assert_tiles(&w, since, until);
    // The boundaries are local midnights: 16:00 UTC the day before at +08:00.
    assert_eq!(
        w[0].start,
        Utc.with_ymd_and_hms(2024, 2, 29, 16, 0, 0).unwrap()
    );
}

#[test]
fn february_has_29_days_in_leap_years_only() {
    let o = cst();
    let cases = [(2024, 29), (2023, 28), (2000, 29), (2100, 28)];
    for (year, days) in cases {
        let since = local(o, &format!("{year}-02-01 00:00:00"));
        let until = local(o, &format!("{year}-03-02 00:00:00"));
        let w = calendar_windows(since, until, WindowLength::Months(1), o).unwrap();
        assert_eq!(w.len(), 2, "{year}");
        assert_eq!((w[1].end - w[1].start).num_days(), days, "{year}");
        assert_eq!(
            to_provider_text(w[0].start, o),
            format!("{year}-03-01 00:00:00")
        );
        assert_eq!(w[1].end, w[0].start, "the windows share their edge second");
    }
}

#[test]
fn every_length_tiles_the_range_at_several_offsets() {
    let offsets = ["+08:00", "-05:30", "Z", "+14:00", "-12:00"];
    let lengths = [
        WindowLength::Months(1),
        WindowLength::Months(3),
        WindowLength::Months(12),
        WindowLength::Days(1),
        WindowLength::Days(7),
        WindowLength::Days(30),
    ];
    let since = Utc.with_ymd_and_hms(2022, 12, 31, 17, 31, 7).unwrap();
    let until = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
    for text in offsets {
        let o = parse_utc_offset(text).unwrap();
        for length in lengths {
            let w = calendar_windows(since, until, length, o).unwrap();
            assert_tiles(&w, since, until);
            // Every boundary except since's is a local midnight; monthly ones on the 1st.
            for window in &w[..w.len() - 1] {
                let start = to_provider_text(window.start, o);
                assert!(start.ends_with(" 00:00:00"), "{text} {length:?} {start}");
                if matches!(length, WindowLength::Months(_)) {
                    assert_eq!(&start[8..10], "01", "{text} {length:?} {start}");
                }
            }
        }
    }
}

#[test]
fn weekly_windows_start_at_local_midnight_of_since() {
    let o = parse_utc_offset("-05:00").unwrap();
    let since = local(o, "2024-02-27 18:00:00");
    let until = local(o, "2024-03-10 00:00:00");
    let w = calendar_windows(since, until, WindowLength::Days(7), o).unwrap();
    assert_eq!(
        shown(&w, o),
        vec![
            ("2024-03-05 00:00:00".into(), "2024-03-10 00:00:00".into()),
            ("2024-02-27 18:00:00".into(), "2024-03-05 00:00:00".into()),
        ]
    );
    assert_eq!(
        w[0].start,
        Utc.with_ymd_and_hms(2024, 3, 5, 5, 0, 0).unwrap()
    );
}

#[test]
fn zero_lengths_and_reversed_ranges_are_refused() {
    let t = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    assert!(calendar_windows(t, t, WindowLength::Months(0), cst()).is_err());
    assert!(calendar_windows(t, t, WindowLength::Days(0), cst()).is_err());
    assert!(calendar_windows(t + Duration::seconds(1), t, WindowLength::Months(1), cst()).is_err());
}

#[test]
fn halving_is_recursive_without_gaps_and_halves_share_one_second() {
    let w = Window {
        start: Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap(),
        end: Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap(),
    };
    let mut pieces = vec![w];
    for _ in 0..6 {
        pieces = pieces
            .into_iter()
            .flat_map(|p| match halve(p) {
                Some((a, b)) => vec![a, b],
                None => vec![p],
            })
            .collect();
    }
    assert_eq!(pieces.len(), 64);
    assert_eq!(pieces[0].start, w.start);
    assert_eq!(pieces[63].end, w.end);
    for pair in pieces.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
    }
}

fn planning_client(now: DateTime<Utc>) -> affiliate_coinw::CoinwClient {
    CoinwBuilder::new()
        .with_api_key("k")
        .with_secret_key("s")
        .with_utc_offset("+08:00")
        .with_since(Utc.with_ymd_and_hms(2023, 12, 31, 16, 0, 0).unwrap()) // 2024-01-01 local
        .with_page_size(500)
        .with_clock(FixedClock(now.timestamp_millis()))
        .build()
        .unwrap()
}

/// The slices `plan` starts from before probing: one first page per calendar window.
fn calendar_plan(
    client: &affiliate_coinw::CoinwClient,
    scope: &Scope,
) -> Result<Vec<affiliate_core::Cursor>, affiliate_core::SourceError> {
    Ok(client
        .calendar_windows(scope)?
        .into_iter()
        .map(|w| {
            affiliate_core::Cursor::in_window(
                w,
                Position::Page {
                    number: 1,
                    size: client.page_size(),
                },
            )
        })
        .collect())
}

#[test]
fn calendar_plan_freezes_until_and_narrows_since() {
    let now = Utc.with_ymd_and_hms(2024, 4, 10, 3, 20, 11).unwrap() + Duration::milliseconds(400);
    let client = planning_client(now);
    let cursors = calendar_plan(&client, &Scope::full()).unwrap();
    assert_eq!(cursors.len(), 4, "Jan..Apr 2024");
    let newest = cursors[0].window.unwrap();
    assert_eq!(
        newest.end,
        Utc.with_ymd_and_hms(2024, 4, 10, 3, 20, 11).unwrap(),
        "until = now, to the second"
    );
    for c in &cursors {
        assert_eq!(
            c.position,
            Position::Page {
                number: 1,
                size: 500
            }
        );
        let text = serde_json::to_string(c).unwrap();
        assert_eq!(
            serde_json::from_str::<affiliate_core::Cursor>(&text).unwrap(),
            *c
        );
    }
    // Incremental: the scope's since narrows the start.
    let since = local(cst(), "2024-03-20 08:00:00");
    let narrowed = calendar_plan(&client, &Scope::since(since)).unwrap();
    let windows: Vec<Window> = narrowed.iter().map(|c| c.window.unwrap()).collect();
    assert_eq!(
        shown(&windows, cst()),
        vec![
            ("2024-04-01 00:00:00".into(), "2024-04-10 11:20:11".into()),
            ("2024-03-20 08:00:00".into(), "2024-04-01 00:00:00".into()),
        ]
    );
    // A scope since before the configured one does not widen it.
    let wide = calendar_plan(
        &client,
        &Scope::since(Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap()),
    )
    .unwrap();
    assert_eq!(wide.len(), 4);
    // The scope's until freezes the end.
    let until = local(cst(), "2024-02-10 00:00:00");
    let frozen = calendar_plan(&client, &Scope::full().until(until)).unwrap();
    assert_eq!(frozen.len(), 2);
    assert_eq!(frozen[0].window.unwrap().end, until);
    // Since after until: refused before any request.
    let err = calendar_plan(
        &client,
        &Scope::since(until + Duration::days(1)).until(until),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.attempts(), 0);
}

#[tokio::test]
async fn windows_over_the_cap_are_split_recursively_and_read_exactly_once() {
    // 6,000 rows over ~25 months: ~240 per month; a cap of 100 splits every month twice.
    let emu = emulator(CoinwConfig::new(6_000)).await;
    let client = builder(&emu)
        .with_split_cap(100)
        .with_page_size(37)
        .build()
        .unwrap();
    let scope = Scope::full();
    let (calendar, windows, _) = full_plan(&client, &emu).await;
    assert!(
        windows.len() > calendar.len() * 2,
        "{} windows",
        windows.len()
    );
    let mut seen = HashSet::new();
    for probed in &windows {
        // ~240 rows a month against a cap of 100: every window is split.
        let total = probed.total;
        assert!(total <= 100, "{probed:?}");
        let truth = emu.uids_between(probed.window.start, probed.window.end);
        assert_eq!(truth.len() as u64, total);
        seen.extend(truth);
    }
    assert_eq!(seen.len(), 6_000, "every uid in some window");
    // Newest first, neighbours sharing at most their edge second.
    for pair in windows.windows(2) {
        assert!(pair[1].window.end <= pair[0].window.start);
    }
    // Planning the listing probes and splits the same way.
    let got = list_all(Arc::new(client.clone()), scope.clone())
        .await
        .unwrap();
    let truth: Vec<u64> = emu
        .invitees_newest_first()
        .iter()
        .map(|(uid, _)| *uid)
        .collect();
    assert_exactly(&got, &truth);
    // The output is globally newest first.
    let ids: Vec<u64> = got.iter().map(|i| i.id.parse().unwrap()).collect();
    assert_eq!(ids, truth);
}

#[tokio::test]
async fn a_sparse_history_is_planned_top_down_and_read_in_runs_of_months() {
    // 6,000 rows over ~25 months, listed from five years before the oldest: 60 empty
    // months, then ~240 rows a month against a cap of 2,000 (about eight months' worth).
    let emu = emulator(CoinwConfig::new(6_000)).await;
    let oldest = emu
        .oldest_at()
        .with_timezone(&emu.utc_offset())
        .date_naive();
    let client = builder(&emu)
        .with_since_date(oldest - Duration::days(5 * 365))
        .with_split_cap(2_000)
        .build()
        .unwrap();
    let scope = Scope::full();
    let (calendar, windows, probes) = full_plan(&client, &emu).await;
    assert!(
        probes * 4 < calendar.len() as u64,
        "{probes} probes for {} calendar windows",
        calendar.len()
    );
    // Every row is in a planned window of at most the cap, whose edges are calendar edges;
    // a calendar window in no planned window holds nothing.
    let mut seen = HashSet::new();
    let edges: HashSet<_> = calendar.iter().flat_map(|w| [w.start, w.end]).collect();
    for probed in &windows {
        let truth = emu.uids_between(probed.window.start, probed.window.end);
        assert_eq!(probed.total, truth.len() as u64, "{probed:?}");
        assert!(probed.total <= 2_000, "{probed:?}");
        assert!(edges.contains(&probed.window.start) && edges.contains(&probed.window.end));
        seen.extend(truth);
    }
    assert_eq!(seen.len(), 6_000, "every uid in a planned window");
    let covered = |w: &Window| {
        windows
            .iter()
            .any(|p| p.window.start <= w.start && w.end <= p.window.end)
    };
    for window in calendar.iter().filter(|w| !covered(w)) {
        assert!(
            emu.uids_between(window.start, window.end).is_empty(),
            "{window:?} dropped"
        );
    }
    assert!(
        windows.len() * 3 < 25,
        "runs of months are read as one slice: {} slices",
        windows.len()
    );
    // The listing reads each planned window once (one page each at 1,000 rows a page,
    // two for runs above it).
    let before = list_requests(&emu);
    let got = list_all(Arc::new(client), scope).await.unwrap();
    let truth: Vec<u64> = emu
        .invitees_newest_first()
        .iter()
        .map(|(uid, _)| *uid)
        .collect();
    assert_exactly(&got, &truth);
    let pages = list_requests(&emu) - before;
    // The newest month is never merged: the listing reads it again at the end.
    assert_eq!(
        windows[0].window, calendar[0],
        "the newest window stands alone"
    );
    // A second probing pass, then the pages of each window and the newest read again.
    let pages_of = |total: u64| total.div_ceil(1_000) as usize;
    let reads: usize = windows.iter().map(|w| pages_of(w.total)).sum();
    assert_eq!(
        pages,
        probes as usize + reads + pages_of(windows[0].total),
        "requests of the listing"
    );
}

#[tokio::test]
async fn the_newest_window_is_planned_even_when_empty() {
    // Data ends in January; the listing runs to mid-March: February and March are empty,
    // yet March (the window a run's new sign-ups land in, read again at the end) stays.
    let newest = local(cst(), "2024-01-20 12:00:00");
    let emu = emulator(CoinwConfig::new(300).newest_at(newest)).await;
    let until = local(cst(), "2024-03-15 00:00:00");
    let client = builder(&emu).with_until(until).build().unwrap();
    let calendar = client.calendar_windows(&Scope::full()).unwrap();
    let (windows, _) = client.probe_windows(&Scope::full()).await.unwrap();
    assert_eq!(windows[0].window, calendar[0]);
    assert_eq!(windows[0].total, 0);
    // The rest, 300 rows, is one run under the cap.
    assert_eq!(windows.len(), 2, "{windows:?}");
    assert_eq!(windows[1].total, 300);
    let got = list_all(Arc::new(client), Scope::full()).await.unwrap();
    assert_eq!(got.len(), 300);
}

#[tokio::test]
async fn a_single_second_over_the_cap_is_read_whole() {
    // 3,000 rows 1 ms apart: 1,000 rows share each second; no split can get under a cap of 10.
    let config = CoinwConfig::new(3_000).spacing(chrono::Duration::milliseconds(1));
    let emu = emulator(config).await;
    let client = builder(&emu)
        .with_split_cap(10)
        .with_page_size(128)
        .build()
        .unwrap();
    let (windows, _) = client.probe_windows(&Scope::full()).await.unwrap();
    let seconds: Vec<_> = windows.iter().filter(|w| w.total > 10).collect();
    assert!(!seconds.is_empty());
    for w in &seconds {
        assert!(
            (w.window.end - w.window.start).num_seconds() <= 1,
            "only windows of one or two seconds stay over the cap: {w:?}"
        );
    }
    let got = list_all(Arc::new(client), Scope::full()).await.unwrap();
    let truth: Vec<u64> = emu
        .invitees_newest_first()
        .iter()
        .map(|(uid, _)| *uid)
        .collect();
    assert_exactly(&got, &truth);
}

#[tokio::test]
async fn rows_sharing_a_second_on_a_window_edge_are_listed_once() {
    // Two rows per displayed second, straddling local midnight (a daily window edge).
    let midnight = local(cst(), "2024-03-01 00:00:00");
    let config = CoinwConfig::new(2_000)
        .spacing(chrono::Duration::milliseconds(500))
        .newest_at(midnight + Duration::seconds(300));
    let emu = emulator(config).await;
    let client = builder(&emu)
        .with_window_length(WindowLength::Days(1))
        .with_until(midnight + Duration::days(1))
        .with_page_size(50)
        .build()
        .unwrap();
    let before = emu.uids_between(
        midnight - Duration::days(1),
        midnight - Duration::seconds(1),
    );
    let after = emu.uids_between(midnight, midnight + Duration::days(1));
    assert_eq!((before.len(), after.len()), (1_399, 601));
    let got = list_all(Arc::new(client), Scope::full()).await.unwrap();
    let truth: Vec<u64> = emu
        .invitees_newest_first()
        .iter()
        .map(|(uid, _)| *uid)
        .collect();
    assert_exactly(&got, &truth);
    let ids: Vec<u64> = got.iter().map(|i| i.id.parse().unwrap()).collect();
    assert_eq!(ids, truth, "register time desc, then uid");
}

#[tokio::test]
async fn every_reading_of_end_time_lists_each_registration_once() {
    // Registrations every 30 minutes, half of them on a local midnight or half past, a
    // window edge with daily windows; shifted by half a second for the millisecond reading.
    let midnight = local(cst(), "2024-03-10 00:00:00");
    for (reading, shift) in [
        (EndTime::InclusiveSeconds, 0),
        (EndTime::Exclusive, 0),
        (EndTime::Milliseconds, -500),
    ] {
        let config = CoinwConfig::new(600)
            .spacing(Duration::minutes(30))
            .newest_at(midnight + Duration::milliseconds(shift))
            .end_time(reading);
        let emu = emulator(config).await;
        let client = builder(&emu)
            .with_window_length(WindowLength::Days(1))
            .with_until(midnight + Duration::hours(1))
            .with_page_size(100)
            .build()
            .unwrap();
        let got = list_all(Arc::new(client), Scope::full()).await.unwrap();
        let truth: Vec<u64> = emu
            .invitees_newest_first()
            .iter()
            .map(|(uid, _)| *uid)
            .collect();
        assert_eq!(truth.len(), 600, "{reading:?}");
        assert_exactly(&got, &truth);
    }
}
