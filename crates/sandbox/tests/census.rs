//! The Census emulator behaves as seed 004 and the Census pagination page document (and as
//! its module docs decide where they are silent).

use affiliate_sandbox::census::{CensusConfig, CensusEmulator};
use affiliate_sandbox::Emulator;
use affiliate_sandbox::{Fault, FaultPlan};
use serde_json::{json, Value};

async fn get(emu: &CensusEmulator, query: &str, token: Option<&str>) -> (u16, Value) {
    let mut req =
        reqwest::Client::new().get(format!("{}/api/v1/invitations?{query}", emu.base_url()));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn ok(emu: &CensusEmulator, query: &str) -> Value {
    let (status, body) = get(emu, query, Some(emu.token())).await;
    assert_eq!(status, 200, "{query}: {body}");
    assert_eq!(body["status"], "success");
    body
}

#[tokio::test]
async fn every_pagination_field_is_computed_as_documented() {
    let emu = CensusEmulator::start(CensusConfig::new(25)).await.unwrap();
    let first = ok(&emu, "page=1&per_page=10").await;
    assert_eq!(
        first["pagination"],
        json!({"total_records": 25, "per_page": 10, "prev_page": null, "page": 1,
               "next_page": 2, "last_page": 3})
    );
    let last = ok(&emu, "page=3&per_page=10").await;
    assert_eq!(
        last["pagination"],
        json!({"total_records": 25, "per_page": 10, "prev_page": 2, "page": 3,
               "next_page": null, "last_page": 3})
    );
    assert_eq!(last["data"].as_array().unwrap().len(), 5);
    let zero = ok(&emu, "page=0&per_page=10").await;
    assert_eq!(zero["pagination"]["page"], 1, "page 0 is page 1");
    assert_eq!(zero["data"], first["data"]);
    let beyond = ok(&emu, "page=9&per_page=10").await;
    assert_eq!(beyond["data"], json!([]));
    assert_eq!(beyond["pagination"]["next_page"], Value::Null);

    let empty = CensusEmulator::start(CensusConfig::new(0)).await.unwrap();
    let body = ok(&empty, "").await;
    assert_eq!(
        body["pagination"],
        json!({"total_records": 0, "per_page": 25, "prev_page": null, "page": 1,
               "next_page": null, "last_page": 1})
    );
}

#[tokio::test]
async fn per_page_defaults_to_25_and_is_clamped_to_100() {
    let emu = CensusEmulator::start(CensusConfig::new(250)).await.unwrap();
    for (query, expected) in [
        ("", 25),
        ("per_page=0", 25),
        ("per_page=x", 25),
        ("per_page=100", 100),
        ("per_page=500", 100),
    ] {
        let body = ok(&emu, query).await;
        assert_eq!(body["pagination"]["per_page"], expected, "{query}");
        assert_eq!(body["data"].as_array().unwrap().len(), expected, "{query}");
    }
}

#[tokio::test]
async fn order_by_creation_time_default_desc() {
    let emu = CensusEmulator::start(CensusConfig::new(30)).await.unwrap();
    let desc = ok(&emu, "per_page=100").await;
    let asc = ok(&emu, "per_page=100&order=asc").await;
    let ids = |b: &Value| -> Vec<u64> {
        b["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect()
    };
    let mut reversed = ids(&asc);
    reversed.reverse();
    assert_eq!(ids(&desc), reversed);
    assert!(
        ids(&asc).windows(2).all(|w| w[0] < w[1]),
        "ids grow with creation"
    );
    let created: Vec<&str> = asc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(emu.ids_newest_first()[0], ids(&desc)[0].to_string());
    assert_eq!(emu.rows_newest_first()[0], desc["data"][0]);
    let (status, body) = get(&emu, "order=sideways", Some(emu.token())).await;
    assert_eq!(status, 422);
    assert!(body["message"].as_str().unwrap().contains("asc"));
}

#[tokio::test]
async fn rows_have_the_documented_fields() {
    let emu = CensusEmulator::start(CensusConfig::new(100)).await.unwrap();
    let body = ok(&emu, "per_page=100").await;
    let rows = body["data"].as_array().unwrap();
    let claimed = rows.iter().filter(|r| !r["claimed_at"].is_null()).count();
    assert!(claimed > 20 && claimed < 90, "{claimed} claimed");
    for row in rows {
        assert!(row["id"].is_u64());
        assert!(row["email"].as_str().unwrap().contains('@'));
        assert!(row["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(row["created_by_id"].is_u64());
        assert!(row["role"].is_string());
        assert_eq!(row["claimed_at"].is_null(), row["claimed_by_id"].is_null());
        let workspaces = row["associated_workspace_invitations"].as_array().unwrap();
        if !row["claimed_at"].is_null() {
            assert!(
                workspaces.is_empty(),
                "claimed invitations have none pending"
            );
        }
        for w in workspaces {
            assert!(w["id"].is_u64() && w["workspace_id"].is_u64() && w["role"].is_string());
        }
    }
}

#[tokio::test]
async fn errors_and_faults() {
    let emu = CensusEmulator::start(CensusConfig::new(3)).await.unwrap();
    let (status, body) = get(&emu, "", None).await;
    assert_eq!(status, 401);
    assert!(body["message"].is_string());
    assert_eq!(get(&emu, "", Some("wrong")).await.0, 401);
    let res = reqwest::get(format!("{}/api/v1/nothing", emu.base_url()))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);

    emu.push_error(403, "Only organization admins can list invitations");
    let (status, body) = get(&emu, "", Some(emu.token())).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (403, Some("Only organization admins can list invitations"))
    );

    emu.set_faults(
        FaultPlan::none()
            .then(Fault::RateLimited {
                retry_after: Some(2),
            })
            .then(Fault::ServerError(502)),
    );
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/invitations", emu.base_url());
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(res.headers()["retry-after"], "2");
    assert_eq!(res.text().await.unwrap(), "Retry later\n");
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 502);
    assert_eq!(res.text().await.unwrap(), "Internal Server Error");
}

#[tokio::test]
async fn descending_pages_walk_every_invitation_newest_first() {
    let emu = CensusEmulator::start(CensusConfig::new(23)).await.unwrap();
    let mut page = Some(1);
    let mut ids = Vec::new();
    let mut last = Value::Null;
    while let Some(p) = page {
        let body = ok(&emu, &format!("order=desc&per_page=10&page={p}")).await;
        for row in body["data"].as_array().unwrap() {
            ids.push(row["id"].as_u64().unwrap().to_string());
        }
        page = body["pagination"]["next_page"].as_u64();
        last = body["pagination"].clone();
    }
    assert_eq!(ids, emu.ids_newest_first(), "newest first, each once");
    assert_eq!(
        last,
        json!({"total_records": 23, "per_page": 10, "prev_page": 2, "page": 3,
               "next_page": null, "last_page": 3})
    );
}

#[tokio::test]
async fn approximate_totals_move_last_page_and_next_page_with_them() {
    let under = CensusEmulator::start(CensusConfig::new(25).approximate_total(-10))
        .await
        .unwrap();
    let body = ok(&under, "per_page=10&page=2").await;
    assert_eq!(
        body["pagination"],
        json!({"total_records": 15, "per_page": 10, "prev_page": 1, "page": 2,
               "next_page": null, "last_page": 2})
    );
    assert_eq!(body["data"].as_array().unwrap().len(), 10);
    let beyond = ok(&under, "per_page=10&page=3").await;
    assert_eq!(
        beyond["data"].as_array().unwrap().len(),
        5,
        "the real rows remain"
    );

    let over = CensusEmulator::start(CensusConfig::new(25).approximate_total(12))
        .await
        .unwrap();
    let body = ok(&over, "per_page=10&page=3").await;
    assert_eq!(body["pagination"]["total_records"], 37);
    assert_eq!(body["pagination"]["last_page"], 4);
    assert_eq!(body["pagination"]["next_page"], 4);
    assert_eq!(body["data"].as_array().unwrap().len(), 5);
    let body = ok(&over, "per_page=10&page=4").await;
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["pagination"]["next_page"], Value::Null);

    let none = CensusEmulator::start(CensusConfig::new(5).approximate_total(-100))
        .await
        .unwrap();
    let body = ok(&none, "").await;
    assert_eq!(body["pagination"]["total_records"], 0);
    assert_eq!(body["pagination"]["last_page"], 1);
    assert_eq!(body["data"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn claim_sets_claimed_at_on_old_unclaimed_invitations() {
    let emu = CensusEmulator::start(CensusConfig::new(30)).await.unwrap();
    let mut before = emu.rows_newest_first();
    before.reverse();
    let unclaimed: Vec<&Value> = before
        .iter()
        .filter(|r| r["claimed_at"].is_null())
        .take(3)
        .collect();
    let started = chrono::Utc::now();
    let changed = emu.claim(3);
    assert_eq!(changed.len(), 3);
    for (new, old) in changed.iter().zip(&unclaimed) {
        assert_eq!(new["id"], old["id"], "the oldest unclaimed, oldest first");
        let at = chrono::DateTime::parse_from_rfc3339(new["claimed_at"].as_str().unwrap()).unwrap();
        assert!(at >= started - chrono::Duration::milliseconds(1));
        assert!(new["claimed_by_id"].is_u64());
        assert_eq!(new["associated_workspace_invitations"], json!([]));
        assert_eq!(new["created_at"], old["created_at"]);
        assert_eq!(new["email"], old["email"]);
    }
    let body = ok(&emu, "per_page=100").await;
    assert_eq!(
        *body["data"].as_array().unwrap(),
        emu.rows_newest_first(),
        "ground truth shows the change"
    );
    for new in &changed {
        assert!(body["data"].as_array().unwrap().contains(new));
    }
    while !emu.claim(100).is_empty() {}
    assert!(emu
        .rows_newest_first()
        .iter()
        .all(|r| !r["claimed_at"].is_null()));
}
