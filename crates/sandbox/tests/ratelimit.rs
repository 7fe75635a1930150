//! The server-side rate limit: a token bucket per credential, answered the way each
//! provider documents its throttling, with counters and an arrival log.

use std::time::Duration;

use affiliate_sandbox::census::{CensusConfig, CensusEmulator};
use affiliate_sandbox::coinw::{CoinwConfig, CoinwEmulator, LIST_PATH};
use affiliate_sandbox::prefactor::{PrefactorConfig, PrefactorEmulator};
use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use affiliate_sandbox::{Emulator, RateLimit, Throttling};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

/// One request/second, bursts of two: the third quick request is throttled.
fn limit() -> RateLimit {
    RateLimit::new(1.0, 2)
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    Answer {
        status,
        headers,
        body: res.json().await.unwrap_or(Value::Null),
    }
}

/// Two served, the third throttled, another credential served, the counters and the log
/// agree, and after a second the first credential is served again.
async fn bursts_then_throttles(
    emu: &dyn Emulator,
    request: impl Fn(&str) -> reqwest::RequestBuilder,
    credential: &str,
    throttled: impl Fn(&Answer),
) {
    for _ in 0..2 {
        let answer = send(request(credential)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    throttled(&send(request(credential)).await);
    let other = send(request("another-credential")).await;
    assert_ne!(other.status, 429, "another credential has its own bucket");
    assert_ne!(
        other.body["code"], 29001,
        "another credential has its own bucket"
    );
    assert_eq!(
        emu.throttling(),
        Throttling {
            served: 3,
            throttled: 1
        }
    );
    let log = emu.request_log();
    assert_eq!(
        log.iter().map(|r| r.throttled).collect::<Vec<_>>(),
        [false, false, true, false]
    );
    assert!(log.windows(2).all(|w| w[0].arrived <= w[1].arrived));
    assert_eq!(
        emu.requests(),
        log.iter().map(|r| r.line.clone()).collect::<Vec<_>>()
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(send(request(credential)).await.status, 200);
    let log = emu.request_log();
    assert!(log[4].arrived.duration_since(log[2].arrived) >= Duration::from_secs(1));
    emu.set_rate_limit(None);
    for _ in 0..5 {
        assert_eq!(send(request(credential)).await.status, 200);
    }
    assert_eq!(emu.throttling().throttled, 1);
}

#[tokio::test]
async fn triport_answers_429_rate_limited_with_retry_after_1() {
    let emu = TriportEmulator::start(TriportConfig::new(5).rate_limit(limit()))
        .await
        .unwrap();
    let url = format!("{}/v1/referrals/invitees", emu.base_url());
    let client = reqwest::Client::new();
    let request = |session: &str| {
        client
            .get(&url)
            .header("cookie", format!("nl_session={session}"))
    };
    bursts_then_throttles(&emu, request, emu.session(), |answer| {
        assert_eq!(answer.status, 429);
        assert_eq!(answer.headers["retry-after"], "1");
        assert_eq!(answer.body, json!({"error": "rate_limited"}));
    })
    .await;
}

#[tokio::test]
async fn triport_admin_token_has_its_own_bucket() {
    let emu = TriportEmulator::start(TriportConfig::new(5).rate_limit(RateLimit::new(1.0, 1)))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let admin = format!(
        "{}/v1/admin/referrals/users/3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e",
        emu.base_url()
    );
    let token = emu.admin_token().unwrap().to_owned();
    let get = || client.get(&admin).header("x-admin-token", &token);
    assert_eq!(send(get()).await.status, 200);
    assert_eq!(send(get()).await.status, 429);
    let invitees = client
        .get(format!("{}/v1/referrals/invitees", emu.base_url()))
        .header("cookie", format!("nl_session={}", emu.session()));
    assert_eq!(send(invitees).await.status, 200);
}

#[tokio::test]
async fn coinw_answers_29001_in_a_200_without_retry_after() {
    let emu = CoinwEmulator::start(CoinwConfig::new(5).rate_limit(limit()))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}{LIST_PATH}?pageNo=1", emu.base_url());
    let secret = emu.secret_key().to_owned();
    let request = |key: &str| {
        let ts = chrono::Utc::now().timestamp_millis();
        let prehash = format!("{ts}GET{LIST_PATH}?pageNo=1");
        client
            .get(&url)
            .header("api_key", key)
            .header("timestamp", ts.to_string())
            .header("sign", sign(&secret, &prehash))
    };
    bursts_then_throttles(&emu, request, emu.api_key(), |answer| {
        assert_eq!(answer.status, 200);
        assert!(answer.headers.get("retry-after").is_none());
        assert_eq!(
            answer.body,
            json!({"code": 29001, "msg": "API access frequently"})
        );
    })
    .await;
}

#[tokio::test]
async fn prefactor_answers_429_in_its_envelope() {
    let emu = PrefactorEmulator::start(PrefactorConfig::new(5).rate_limit(limit()))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/admin_user_invite", emu.base_url());
    let request = |token: &str| client.get(&url).bearer_auth(token);
    bursts_then_throttles(&emu, request, emu.token(), |answer| {
        assert_eq!(answer.status, 429);
        assert!(answer.headers.get("retry-after").is_none());
        assert_eq!(answer.body["status"], "error");
        assert_eq!(answer.body["code"], "unknown");
        assert!(answer.body["message"].is_string());
    })
    .await;
}

#[tokio::test]
async fn census_answers_429_with_a_message() {
    let emu = CensusEmulator::start(CensusConfig::new(5).rate_limit(limit()))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/invitations", emu.base_url());
    let request = |token: &str| client.get(&url).bearer_auth(token);
    bursts_then_throttles(&emu, request, emu.token(), |answer| {
        assert_eq!(answer.status, 429);
        assert!(answer.headers.get("retry-after").is_none());
        assert!(answer.body["message"].is_string(), "{}", answer.body);
    })
    .await;
}

#[tokio::test]
async fn unlimited_by_default_and_set_at_runtime() {
    let emu = CensusEmulator::start(CensusConfig::new(5)).await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/invitations", emu.base_url());
    for _ in 0..10 {
        assert_eq!(
            send(client.get(&url).bearer_auth(emu.token())).await.status,
            200
        );
    }
    emu.set_rate_limit(Some(RateLimit::new(0.1, 1)));
    assert_eq!(
        send(client.get(&url).bearer_auth(emu.token())).await.status,
        200
    );
    assert_eq!(
        send(client.get(&url).bearer_auth(emu.token())).await.status,
        429
    );
    assert_eq!(
        emu.throttling(),
        Throttling {
            served: 11,
            throttled: 1
        }
    );
}

/// CoinW's signature: Base64(HMAC-SHA256(secret, prehash)).
fn sign(secret: &str, prehash: &str) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(prehash.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
