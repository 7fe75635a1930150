//! Zone conversion both ways against the emulator: `startTime`/`endTime` are written in the
//! provider's offset, `registerTime` is read back to UTC with it, and a wrong offset shows.

mod common;

use std::sync::Arc;

use affiliate_coinw::zone::{from_provider_text, parse_utc_offset, to_provider_text};
use affiliate_core::Scope;
use affiliate_sandbox::coinw::CoinwConfig;
use affiliate_sandbox::Emulator;
use chrono::{Duration, FixedOffset, TimeZone, Utc};

use common::*;

#[tokio::test]
async fn joined_at_is_the_registration_instant_in_utc_at_east_and_west_offsets() {
    for offset in ["+08:00", "-05:30"] {
        let o = parse_utc_offset(offset).unwrap();
        let emu = emulator(CoinwConfig::new(1_500).utc_offset(o)).await;
        let got = list_all(Arc::new(client(&emu)), Scope::full())
            .await
            .unwrap();
        let truth = emu.invitees_newest_first();
        assert_eq!(got.len(), truth.len());
        for (invitee, (uid, at)) in got.iter().zip(&truth) {
            assert_eq!(invitee.id, uid.to_string());
            assert_eq!(invitee.joined_at, Some(*at), "{offset} uid {uid}");
            // Both ways: the UTC instant written back in the offset is what CoinW sent.
            assert_eq!(Some(to_provider_text(*at, o)), emu.register_time_text(*uid));
        }
    }
}

#[tokio::test]
async fn window_bounds_are_sent_in_the_provider_offset() {
    let o = parse_utc_offset("+08:00").unwrap();
    let emu = emulator(CoinwConfig::new(100)).await;
    // 2024-02-01 00:00:00 at +08:00 is 2024-01-31 16:00:00 UTC.
    let since = Utc.with_ymd_and_hms(2024, 1, 31, 16, 0, 0).unwrap();
    let until = Utc.with_ymd_and_hms(2024, 3, 1, 3, 0, 0).unwrap();
    let c = builder(&emu)
        .with_since(since)
        .with_until(until)
        .without_split()
        .build()
        .unwrap();
    list_all(Arc::new(c), Scope::full()).await.unwrap();
    let requests = emu.requests();
    assert_eq!(requests.len(), 3, "two windows, then the newest read again");
    assert_eq!(requests[2], requests[0]);
    assert!(
        requests[0].ends_with(
            "?pageNo=1&pageSize=1000&startTime=2024-03-01%2000:00:00&endTime=2024-03-01%2011:00:00"
        ),
        "{}",
        requests[0]
    );
    assert!(
        requests[1].ends_with(
            "?pageNo=1&pageSize=1000&startTime=2024-02-01%2000:00:00&endTime=2024-03-01%2000:00:00"
        ),
        "{}",
        requests[1]
    );
    assert_eq!(from_provider_text("2024-02-01 00:00:00", o).unwrap(), since);
}

#[tokio::test]
async fn a_wrong_offset_shifts_every_instant_by_the_difference() {
    let emu = emulator(CoinwConfig::new(400)).await; // +08:00
    let wrong = builder(&emu)
        .with_offset(FixedOffset::east_opt(0).unwrap())
        .with_since(emu.oldest_at() - Duration::days(40))
        .build()
        .unwrap();
    let got = list_all(Arc::new(wrong), Scope::full()).await.unwrap();
    let truth = emu.invitees_newest_first();
    // The newest rows lie beyond "now" when read 8 hours late, so they are outside the
    // frozen bound; every row that is listed is 8 hours off.
    assert!(
        got.len() >= truth.len() - 2,
        "{} of {}",
        got.len(),
        truth.len()
    );
    for invitee in &got {
        let uid: u64 = invitee.id.parse().unwrap();
        let at = truth.iter().find(|(u, _)| *u == uid).unwrap().1;
        assert_eq!(invitee.joined_at, Some(at + Duration::hours(8)));
    }
}
