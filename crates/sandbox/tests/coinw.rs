//! The CoinW emulator's knobs: how `endTime` is read, success answers without `data`, and a
//! server clock that is off.

use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator, EndTime, LIST_PATH, UID_BASE};
use affiliate_sandbox::{Emulator, Fault, FaultPlan};
use chrono::{DateTime, Datelike, Duration, FixedOffset, TimeZone, Utc};
use serde_json::{json, Value};

/// CoinW's signature: Base64(HMAC-SHA256(secret, prehash)).
fn sign(secret: &str, prehash: &str) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(prehash.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A GET signed at `ts` (ms), over the decoded query as sent (spaces as `%20`).
async fn get_at(emu: &CoinwEmulator, query: &str, ts: i64) -> reqwest::Response {
    let prehash = if query.is_empty() {
        format!("{ts}GET{LIST_PATH}")
    } else {
        format!("{ts}GET{LIST_PATH}?{query}")
    };
    reqwest::Client::new()
        .get(format!(
            "{}{LIST_PATH}?{}",
            emu.base_url(),
            query.replace(' ', "%20")
        ))
        .header("api_key", emu.api_key())
        .header("timestamp", ts.to_string())
        .header("sign", sign(emu.secret_key(), &prehash))
        .send()
        .await
        .unwrap()
}

async fn get(emu: &CoinwEmulator, query: &str) -> Value {
    get_at(emu, query, Utc::now().timestamp_millis())
        .await
        .json()
        .await
        .unwrap()
}

fn local(t: DateTime<Utc>, offset: FixedOffset) -> String {
    t.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn uids(body: &Value) -> Vec<u64> {
    body["data"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uid"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn end_time_readings_place_the_last_second_differently() {
    // Four rows, half a second apart: :58.000, :58.500, :59.000 and :59.500.
    let end = Utc.with_ymd_and_hms(2024, 1, 31, 15, 59, 59).unwrap();
    let config = |reading| {
        CoinwConfig::new(4)
            .newest_at(end + Duration::milliseconds(500))
            .spacing(Duration::milliseconds(500))
            .end_time(reading)
    };
    for (reading, expected) in [
        (EndTime::InclusiveSeconds, vec![3, 2, 1, 0]),
        (EndTime::Exclusive, vec![1, 0]),
        (EndTime::Milliseconds, vec![2, 1, 0]),
    ] {
        let emu = CoinwEmulator::start(config(reading)).await.unwrap();
        let offset = emu.utc_offset();
        let query = format!(
            "startTime={}&endTime={}",
            local(end - Duration::seconds(1), offset),
            local(end, offset)
        );
        let body = get(&emu, &query).await;
        let expected: Vec<u64> = expected.into_iter().map(|seq| UID_BASE + seq).collect();
        assert_eq!(uids(&body), expected, "{reading:?}: {body}");
        assert_eq!(body["data"]["total"], expected.len(), "{reading:?}");
        assert_eq!(
            emu.uids_between(end - Duration::seconds(1), end),
            expected,
            "{reading:?}: ground truth follows the reading"
        );
        // The row at :59.500 is still printed at whole seconds.
        assert_eq!(
            emu.register_time_text(UID_BASE + 3).unwrap(),
            local(end, offset)
        );
        // Without endTime the window runs to the end of the current month in every reading.
        let body = get(
            &emu,
            &format!("startTime={}", local(end - Duration::days(1), offset)),
        )
        .await;
        assert_eq!(body["data"]["total"], 4, "{reading:?}");
    }
}

#[tokio::test]
async fn null_data_faults_answer_success_without_data() {
    let emu = CoinwEmulator::start(CoinwConfig::new(5)).await.unwrap();
    let faults = FaultPlan::none()
        .then(Fault::NullData { omitted: false })
        .then(Fault::NullData { omitted: true });
    emu.set_faults(faults);
    let all = "startTime=2000-01-01 00:00:00&endTime=2099-01-01 00:00:00";
    assert_eq!(
        get(&emu, all).await,
        json!({"code": "200", "msg": "success", "data": null})
    );
    assert_eq!(
        get(&emu, all).await,
        json!({"code": "200", "msg": "success"})
    );
    assert_eq!(get(&emu, all).await["data"]["total"], 5);
}

#[tokio::test]
async fn a_skewed_clock_moves_the_date_header_and_the_staleness_check() {
    for skew in [Duration::seconds(120), Duration::seconds(-300)] {
        let emu = CoinwEmulator::start(CoinwConfig::new(5).clock_skew(skew))
            .await
            .unwrap();
        let now = Utc::now();
        let res = get_at(&emu, "pageNo=1", now.timestamp_millis()).await;
        let date = res.headers()["date"].to_str().unwrap().to_owned();
        let date = DateTime::parse_from_rfc2822(&date).unwrap();
        let off = (date.with_timezone(&Utc) - (now + skew))
            .num_seconds()
            .abs();
        assert!(off <= 5, "Date {date} is not the server clock ({skew})");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body,
            json!({"code": 6001, "msg": "request timestamp expired"}),
            "the machine's clock is stale for a server {skew} off"
        );
        let server_now = (Utc::now() + skew).timestamp_millis();
        let body: Value = get_at(&emu, "pageNo=1", server_now)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["code"], "200", "{body}");
        // Every answer carries the Date, the fallback's too.
        let res = reqwest::get(format!("{}/nowhere", emu.base_url()))
            .await
            .unwrap();
        let date = DateTime::parse_from_rfc2822(res.headers()["date"].to_str().unwrap()).unwrap();
        assert!(
            (date.with_timezone(&Utc) - (Utc::now() + skew))
                .num_seconds()
                .abs()
                <= 5
        );
    }
}

#[tokio::test]
async fn the_default_window_follows_the_skewed_clock() {
    let skew = Duration::days(-62);
    let emu = CoinwEmulator::start(CoinwConfig::new(20_000).clock_skew(skew))
        .await
        .unwrap();
    let offset = emu.utc_offset();
    let server_now = Utc::now() + skew;
    let local_now = server_now.with_timezone(&offset);
    let first = offset
        .with_ymd_and_hms(local_now.year(), local_now.month(), 1, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let next = offset
        .from_local_datetime(
            &(first.with_timezone(&offset).date_naive() + chrono::Months::new(1))
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        )
        .unwrap()
        .with_timezone(&Utc);
    let expected = emu.uids_between(first, next - Duration::seconds(1));
    assert!(!expected.is_empty());
    let body: Value = get_at(&emu, "pageSize=1000", server_now.timestamp_millis())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["total"], expected.len(), "{body}");
    assert_eq!(uids(&body), expected[..expected.len().min(1000)]);
}
