//! The Prefactor emulator behaves as seed 003 documents (and as its module docs decide
//! where the seed is silent).

use affiliate_sandbox::prefactor::{PrefactorConfig, PrefactorEmulator};
use affiliate_sandbox::Emulator;
use affiliate_sandbox::{Fault, FaultPlan};
use serde_json::{json, Value};

const LIST: &str = "/api/v1/admin_user_invite";

async fn get(emu: &PrefactorEmulator, query: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(format!("{}{LIST}?{query}", emu.base_url()));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn page(emu: &PrefactorEmulator, offset: i64, size: i64) -> Value {
    let q = format!("sorting=id&pagination%5Boffset%5D={offset}&pagination%5Bpage_size%5D={size}");
    let (status, body) = get(emu, &q, Some(emu.token())).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn every_pagination_field_is_computed_as_documented() {
    let emu = PrefactorEmulator::start(PrefactorConfig::new(25))
        .await
        .unwrap();
    let first = page(&emu, 0, 10).await;
    assert_eq!(
        first["pagination"],
        json!({"item_count": 25, "item_start": 1, "item_end": 10, "next_page_offset": 10,
               "page_count": 3, "page_index": 1, "page_offset": 0, "page_size": 10,
               "previous_page_offset": null})
    );
    assert_eq!(first["sorting"], json!({"field": "id", "direction": "asc"}));
    assert_eq!(first["status"], "success");
    let middle = page(&emu, 10, 10).await;
    assert_eq!(middle["pagination"]["page_index"], 2);
    assert_eq!(middle["pagination"]["item_start"], 11);
    assert_eq!(middle["pagination"]["previous_page_offset"], 0);
    let last = page(&emu, 20, 10).await;
    assert_eq!(
        last["pagination"],
        json!({"item_count": 25, "item_start": 21, "item_end": 25, "next_page_offset": null,
               "page_count": 3, "page_index": 3, "page_offset": 20, "page_size": 10,
               "previous_page_offset": 10})
    );
    assert_eq!(last["summaries"].as_array().unwrap().len(), 5);
    let past = page(&emu, 40, 10).await;
    assert_eq!(past["summaries"], json!([]));
    assert_eq!(past["pagination"]["item_start"], 41);
    assert_eq!(past["pagination"]["item_end"], 40);
    assert_eq!(past["pagination"]["next_page_offset"], Value::Null);

    let empty = PrefactorEmulator::start(PrefactorConfig::new(0))
        .await
        .unwrap();
    let body = page(&empty, 0, 100).await;
    assert_eq!(body["summaries"], json!([]));
    assert_eq!(body["pagination"]["item_count"], 0);
    assert_eq!(body["pagination"]["page_count"], 0);
    assert_eq!(body["pagination"]["next_page_offset"], Value::Null);
}

#[tokio::test]
async fn rows_have_the_documented_fields_and_ids_are_time_ordered_pfids() {
    let emu = PrefactorEmulator::start(PrefactorConfig::new(120))
        .await
        .unwrap();
    let body = page(&emu, 0, 100).await;
    let rows = body["summaries"].as_array().unwrap();
    assert_eq!(rows.len(), 100);
    for row in rows {
        assert_eq!(row["account_id"], emu.account_id());
        assert_eq!(row["type"], "admin_user_invite");
        assert!(["pending", "used", "revoked"].contains(&row["status"].as_str().unwrap()));
        assert!(row["email"].as_str().unwrap().contains('@'));
        assert!(row["invite_url"].as_str().unwrap().starts_with("https://"));
        assert!(row["updated_at"].as_str().unwrap() >= row["inserted_at"].as_str().unwrap());
        let id = row["id"].as_str().unwrap();
        assert_eq!(id.len(), 32);
        assert!(id
            .bytes()
            .all(|b| b"0123456789abcdefghjkmnpqrstvwxyz".contains(&b)));
    }
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "ascending id order");
    let times: Vec<&str> = rows
        .iter()
        .map(|r| r["inserted_at"].as_str().unwrap())
        .collect();
    let mut by_time = times.clone();
    by_time.sort();
    assert_eq!(times, by_time, "id order is creation order");
    assert_eq!(
        emu.ids()[..100],
        ids.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(emu.rows()[0], rows[0]);
}

#[tokio::test]
async fn sorting_variants() {
    let emu = PrefactorEmulator::start(PrefactorConfig::new(5))
        .await
        .unwrap();
    let t = Some(emu.token());
    let (_, default) = get(&emu, "", t).await;
    assert_eq!(default["sorting"], Value::Null);
    assert_eq!(default["summaries"][0]["id"], emu.ids()[0].as_str());
    let (_, desc) = get(&emu, "sorting=-id", t).await;
    assert_eq!(desc["sorting"], json!({"field": "id", "direction": "desc"}));
    assert_eq!(desc["summaries"][0]["id"], emu.ids()[4].as_str());
    let (_, by_time) = get(&emu, "sorting=inserted_at", t).await;
    assert_eq!(by_time["summaries"], default["summaries"]);
    let (status, body) = get(&emu, "sorting=title", t).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_value"))
    );
}

#[tokio::test]
async fn page_size_outside_1_to_100_is_a_validation_error() {
    let emu = PrefactorEmulator::start(PrefactorConfig::new(300))
        .await
        .unwrap();
    let t = Some(emu.token());
    for (query, key) in [
        ("pagination%5Bpage_size%5D=101", "pagination[page_size]"),
        ("pagination%5Bpage_size%5D=0", "pagination[page_size]"),
        ("pagination%5Bpage_size%5D=ten", "pagination[page_size]"),
        ("pagination%5Boffset%5D=-1", "pagination[offset]"),
    ] {
        let (status, body) = get(&emu, query, t).await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(body["status"], "error");
        assert_eq!(body["code"], "validation_errors");
        assert!(body["errors"][key].is_array(), "{query}: {body}");
    }
    let (status, body) = get(&emu, "pagination%5Bpage_size%5D=100", t).await;
    assert_eq!(status, 200);
    assert_eq!(body["summaries"].as_array().unwrap().len(), 100);
    let (_, body) = get(&emu, "", t).await;
    assert_eq!(
        body["pagination"]["page_size"], 25,
        "documented default: none; ours 25"
    );
}

#[tokio::test]
async fn auth_account_and_route_errors() {
    let emu = PrefactorEmulator::start(PrefactorConfig::new(3))
        .await
        .unwrap();
    let (status, body) = get(&emu, "", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("not_authenticated"))
    );
    let (status, body) = get(&emu, "", Some("wrong")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("bad_authtoken"))
    );
    let t = Some(emu.token());
    let own = format!("account_id={}", emu.account_id());
    assert_eq!(get(&emu, &own, t).await.0, 200);
    let (status, body) = get(&emu, "account_id=013xrzp12g3nqk8ngskn1wtxgka5b0nf", t).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("not_permitted"))
    );
    let (status, body) = get(&emu, "account_id=nope", t).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_value"))
    );
    let res = reqwest::get(format!("{}/api/v1/nothing", emu.base_url()))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    let (status, _) = get(&emu, "idempotency_key=abc", t).await;
    assert_eq!(status, 200, "an idempotency key is accepted on GET");
}

#[tokio::test]
async fn scripted_errors_and_faults_use_the_envelope() {
    let emu = PrefactorEmulator::start(PrefactorConfig::new(3))
        .await
        .unwrap();
    let t = Some(emu.token());
    emu.push_error(409, "idempotency_key_already_used");
    emu.push_error(422, "validation_errors");
    let (status, body) = get(&emu, "", t).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("idempotency_key_already_used"))
    );
    let (status, body) = get(&emu, "", t).await;
    assert_eq!(status, 422);
    assert!(body["errors"].is_object());
    emu.set_faults(
        FaultPlan::none()
            .then(Fault::RateLimited {
                retry_after: Some(3),
            })
            .then(Fault::ServerError(503)),
    );
    let res = reqwest::Client::new()
        .get(format!("{}{LIST}", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(res.headers()["retry-after"], "3");
    let (status, body) = get(&emu, "", t).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("unexpected")));
    assert_eq!(get(&emu, "", t).await.0, 200);
    assert_eq!(emu.requests().len(), 5);
}

#[tokio::test]
async fn descending_id_pages_walk_every_invite_newest_first() {
    let emu = PrefactorEmulator::start(PrefactorConfig::new(23))
        .await
        .unwrap();
    let t = Some(emu.token());
    let mut offset = Some(0);
    let mut ids = Vec::new();
    let mut pages = Vec::new();
    while let Some(o) = offset {
        let q = format!("sorting=-id&pagination%5Boffset%5D={o}&pagination%5Bpage_size%5D=10");
        let (status, body) = get(&emu, &q, t).await;
        assert_eq!(status, 200);
        assert_eq!(body["sorting"], json!({"field": "id", "direction": "desc"}));
        for row in body["summaries"].as_array().unwrap() {
            ids.push(row["id"].as_str().unwrap().to_owned());
        }
        offset = body["pagination"]["next_page_offset"].as_u64();
        pages.push(body["pagination"].clone());
    }
    let mut expected = emu.ids();
    expected.reverse();
    assert_eq!(ids, expected, "newest first, each once");
    assert_eq!(
        pages[2],
        json!({"item_count": 23, "item_start": 21, "item_end": 23, "next_page_offset": null,
               "page_count": 3, "page_index": 3, "page_offset": 20, "page_size": 10,
               "previous_page_offset": 10})
    );
}

#[tokio::test]
async fn idempotency_keys_are_honoured_when_asked() {
    let emu = PrefactorEmulator::start(PrefactorConfig::new(30).honour_idempotency_keys())
        .await
        .unwrap();
    let t = Some(emu.token());
    let first = "idempotency_key=k1&sorting=id&pagination%5Bpage_size%5D=10";
    assert_eq!(get(&emu, first, t).await.0, 200);
    let retry = "sorting=id&pagination%5Bpage_size%5D=10&idempotency_key=k1";
    assert_eq!(get(&emu, retry, t).await.0, 200, "a retry in another order");
    let other = "idempotency_key=k1&sorting=id&pagination%5Bpage_size%5D=20";
    let (status, body) = get(&emu, other, t).await;
    assert_eq!(status, 422);
    assert_eq!(body["status"], "error");
    assert_eq!(body["code"], "idempotency_key_already_used");
    assert!(body["message"].is_string());
    assert_eq!(get(&emu, "idempotency_key=k2&sorting=-id", t).await.0, 200);
    // A request refused by validation does not bind its key.
    let invalid = "idempotency_key=k3&pagination%5Bpage_size%5D=1000";
    assert_eq!(get(&emu, invalid, t).await.1["code"], "validation_errors");
    assert_eq!(get(&emu, "idempotency_key=k3", t).await.0, 200);

    let ignoring = PrefactorEmulator::start(PrefactorConfig::new(3))
        .await
        .unwrap();
    let t = Some(ignoring.token());
    assert_eq!(get(&ignoring, first, t).await.0, 200);
    assert_eq!(get(&ignoring, other, t).await.0, 200, "ignored by default");
}

#[tokio::test]
async fn advance_statuses_moves_old_invites_on_the_wire_and_in_the_ground_truth() {
    let emu = PrefactorEmulator::start(PrefactorConfig::new(20))
        .await
        .unwrap();
    let before = emu.rows();
    let changed = emu.advance_statuses(4);
    assert_eq!(changed.len(), 4);
    let movable: Vec<&Value> = before
        .iter()
        .filter(|r| r["status"] != "revoked")
        .take(4)
        .collect();
    for (new, old) in changed.iter().zip(&movable) {
        assert_eq!(new["id"], old["id"], "the oldest movable, in id order");
        let step = (
            old["status"].as_str().unwrap(),
            new["status"].as_str().unwrap(),
        );
        assert!(
            matches!(step, ("pending", "used") | ("used", "revoked")),
            "{step:?}"
        );
        assert!(new["updated_at"].as_str().unwrap() > old["updated_at"].as_str().unwrap());
        assert_eq!(new["inserted_at"], old["inserted_at"]);
    }
    let body = page(&emu, 0, 100).await;
    assert_eq!(
        *body["summaries"].as_array().unwrap(),
        emu.rows(),
        "ground truth shows the change"
    );
    let rows = emu.rows();
    let mut unchanged = before
        .iter()
        .filter(|r| !changed.iter().any(|c| c["id"] == r["id"]));
    assert!(unchanged.all(|r| rows.contains(r)));
    // Moving on: everything ends revoked, then nothing moves.
    while !emu.advance_statuses(100).is_empty() {}
    assert!(emu.rows().iter().all(|r| r["status"] == "revoked"));
}
