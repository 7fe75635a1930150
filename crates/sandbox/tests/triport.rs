//! The Triport emulator behaves as seeds 000/001 document.

use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use serde_json::Value;

async fn get(emu: &TriportEmulator, path: &str, cookie: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(format!("{}{path}", emu.base_url()));
    if let Some(c) = cookie {
        req = req.header("cookie", format!("other=1; nl_session={c}"));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn limit_outside_1_to_200_falls_back_to_50() {
    let emu = TriportEmulator::start(TriportConfig::new(300))
        .await
        .unwrap();
    let s = emu.session().to_owned();
    for (query, expected) in [
        ("limit=0", 50),
        ("limit=1", 1),
        ("limit=200", 200),
        ("limit=201", 50),
        ("limit=abc", 50),
        ("", 50),
        ("limit=200&offset=250", 50),
    ] {
        let (status, body) = get(&emu, &format!("/v1/referrals/invitees?{query}"), Some(&s)).await;
        assert_eq!(status, 200);
        assert_eq!(body["items"].as_array().unwrap().len(), expected, "{query}");
    }
}

#[tokio::test]
async fn empty_account_has_an_empty_items_array() {
    let emu = TriportEmulator::start(TriportConfig::new(0)).await.unwrap();
    let s = emu.session().to_owned();
    let (status, body) = get(&emu, "/v1/referrals/invitees", Some(&s)).await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({ "items": [] }));
}

#[tokio::test]
async fn newest_first_and_offsets_are_consistent() {
    let emu = TriportEmulator::start(TriportConfig::new(30))
        .await
        .unwrap();
    let s = emu.session().to_owned();
    let (_, a) = get(&emu, "/v1/referrals/invitees?limit=10&offset=0", Some(&s)).await;
    let (_, b) = get(&emu, "/v1/referrals/invitees?limit=10&offset=9", Some(&s)).await;
    assert_eq!(a["items"][9], b["items"][0]);
    let times: Vec<&str> = a["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["signed_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(times, sorted, "newest first");
    assert_eq!(
        emu.ids_newest_first()[0],
        a["items"][0]["user_id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn documented_errors() {
    let emu = TriportEmulator::start(TriportConfig::new(3)).await.unwrap();
    assert_eq!(
        get(&emu, "/v1/referrals/invitees", None).await,
        (401, serde_json::json!({"error": "unauthenticated"}))
    );
    assert_eq!(
        get(&emu, "/v1/referrals/invitees", Some("wrong")).await.0,
        401
    );

    let client = reqwest::Client::new();
    let admin = format!(
        "{}/v1/admin/referrals/users/3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e",
        emu.base_url()
    );
    let token = emu.admin_token().unwrap().to_owned();
    let res = client.get(&admin).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "admin_token_invalid"
    );
    let res = client
        .get(&admin)
        .header("x-admin-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let view: Value = res.json().await.unwrap();
    assert!(view["recent_attributions"].is_array());
    assert!(view["balance"]["lifetime_micro"].is_i64());
    let res = client
        .post(&admin)
        .header("x-admin-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "method_not_allowed"
    );
    let bad = format!("{}/v1/admin/referrals/users/nope", emu.base_url());
    let res = client
        .get(&bad)
        .header("x-admin-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_user_id"
    );
    let retired = format!("{}/v1/admin/referrals/simulate-paid", emu.base_url());
    assert_eq!(
        client
            .post(&retired)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        410
    );

    let unset = TriportEmulator::start(TriportConfig::new(1).admin_token(None))
        .await
        .unwrap();
    let admin = format!(
        "{}/v1/admin/referrals/users/3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e",
        unset.base_url()
    );
    let res = client
        .get(&admin)
        .header("x-admin-token", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "admin_token_unset"
    );
}

#[tokio::test]
async fn millions_of_rows_are_served_without_materialising_them() {
    let emu = TriportEmulator::start(TriportConfig::new(5_000_000))
        .await
        .unwrap();
    let s = emu.session().to_owned();
    let (status, body) = get(
        &emu,
        "/v1/referrals/invitees?limit=200&offset=4999900",
        Some(&s),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn raise_paid_changes_old_invitees_on_the_wire_and_in_the_ground_truth() {
    let emu = TriportEmulator::start(TriportConfig::new(10))
        .await
        .unwrap();
    let s = emu.session().to_owned();
    let before = emu.rows_newest_first();
    let changed = emu.raise_paid(3, 1_500_000);
    let oldest: Vec<&Value> = before.iter().rev().take(3).collect();
    assert_eq!(changed.len(), 3);
    for (new, old) in changed.iter().zip(&oldest) {
        assert_eq!(new["user_id"], old["user_id"], "the oldest, oldest first");
        assert_eq!(
            new["total_paid_micro"].as_i64().unwrap(),
            old["total_paid_micro"].as_i64().unwrap() + 1_500_000
        );
        assert_eq!(new["signed_at"], old["signed_at"]);
    }
    let (_, page) = get(&emu, "/v1/referrals/invitees?limit=200", Some(&s)).await;
    let wire = page["items"].as_array().unwrap();
    assert_eq!(
        *wire,
        emu.rows_newest_first(),
        "ground truth shows the change"
    );
    assert_eq!(wire[..7], before[..7], "newer rows are untouched");
    assert_eq!(wire[9], changed[0]);
    // Repeated calls raise again; never the newest invitee.
    let all = emu.raise_paid(100, 1);
    assert_eq!(all.len(), 9);
    assert!(all.iter().all(|r| r["user_id"] != before[0]["user_id"]));
    assert_eq!(
        all[0]["total_paid_micro"].as_i64().unwrap(),
        oldest[0]["total_paid_micro"].as_i64().unwrap() + 1_500_001
    );
}

#[tokio::test]
async fn error_guide_refusals_and_bare_proxy_answers() {
    use affiliate_sandbox::triport::{tier_insufficient, trial_expired};
    use affiliate_sandbox::{Emulator, Fault, FaultPlan};

    let emu = TriportEmulator::start(TriportConfig::new(3)).await.unwrap();
    emu.set_faults(
        FaultPlan::none()
            .then(tier_insufficient())
            .then(trial_expired())
            .then(Fault::Bare {
                status: 401,
                html: false,
            })
            .then(Fault::Bare {
                status: 403,
                html: true,
            })
            .then(Fault::Bare {
                status: 429,
                html: false,
            }),
    );
    let client = reqwest::Client::new();
    let url = format!("{}/v1/referrals/invitees", emu.base_url());
    let cookie = format!("nl_session={}", emu.session());
    let next = || async {
        let res = client
            .get(&url)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        (status, headers, res.text().await.unwrap())
    };
    let (status, _, body) = next().await;
    assert_eq!(
        (status, body.as_str()),
        (403, r#"{"error":"tier_insufficient"}"#)
    );
    let (status, _, body) = next().await;
    assert_eq!(
        (status, body.as_str()),
        (401, r#"{"error":"trial_expired"}"#)
    );
    let (status, headers, body) = next().await;
    assert_eq!((status, body.as_str()), (401, ""));
    assert!(headers.get("content-type").is_none());
    let (status, headers, body) = next().await;
    assert_eq!(status, 403);
    assert_eq!(headers["content-type"], "text/html");
    assert!(body.contains("403 Forbidden"), "{body}");
    let (status, headers, body) = next().await;
    assert_eq!((status, body.as_str()), (429, ""));
    assert!(headers.get("retry-after").is_none());
    assert_eq!(next().await.0, 200);
}
