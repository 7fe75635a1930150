//! CoinW's request signature: `api_key`, `timestamp` and `sign` headers, checked the way
//! `PROVIDERS.md` section 1.1 describes (see the module docs of [`super`]).

use std::time::Duration;

use axum::http::{HeaderMap, Method};
use axum::Json;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::error_body;
use crate::support::percent_decode;

/// The key pairs the server knows and how far a `timestamp` may be from its clock.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    pub(super) api_key: String,
    pub(super) secret_key: String,
    pub(super) restricted_key: Option<(String, String)>,
    pub(super) max_skew: Duration,
}

/// The signature CoinW.Net sends: `Base64(HMAC-SHA256(secret, prehash))`.
fn expected_mac(secret: &str, prehash: &str) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(prehash.as_bytes());
    Some(mac)
}

/// Checks `api_key`, `timestamp` (against the server clock `now`) and `sign`; the refusal
/// to send otherwise.
pub(super) fn authenticate(
    keys: &Keys,
    now: DateTime<Utc>,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    raw_query: &str,
) -> Result<(), Json<Value>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(key) = header("api_key").filter(|k| !k.is_empty()) else {
        return Err(error_body(
            6000,
            "authentication failed: api_key is required",
        ));
    };
    let restricted = keys
        .restricted_key
        .as_ref()
        .filter(|(k, _)| k == key)
        .map(|(_, s)| s.as_str());
    let secret = if key == keys.api_key {
        keys.secret_key.as_str()
    } else if let Some(secret) = restricted {
        secret
    } else {
        return Err(error_body(6000, "authentication failed: unknown api_key"));
    };
    let Some(timestamp) = header("timestamp").and_then(|t| t.trim().parse::<i64>().ok()) else {
        return Err(error_body(
            6001,
            "invalid signature: timestamp header missing or not milliseconds",
        ));
    };
    let skew_ms = (now.timestamp_millis() - timestamp).unsigned_abs();
    if u128::from(skew_ms) > keys.max_skew.as_millis() {
        return Err(error_body(6001, "request timestamp expired"));
    }
    let Some(sign) = header("sign").and_then(|s| BASE64.decode(s.trim()).ok()) else {
        return Err(error_body(
            6001,
            "invalid signature: sign header missing or not Base64",
        ));
    };
    let query = percent_decode(raw_query);
    let prehash = if query.is_empty() {
        format!("{timestamp}{method}{path}")
    } else {
        format!("{timestamp}{method}{path}?{query}")
    };
    let valid = expected_mac(secret, &prehash).is_some_and(|mac| mac.verify_slice(&sign).is_ok());
    if !valid {
        return Err(error_body(6001, "invalid signature"));
    }
    if restricted.is_some() {
        return Err(Json(json!({
            "code": 6003,
            "message": "require more permission: Your account is not recognized as an affiliate account.",
            "retry": false,
            "success": false,
        })));
    }
    Ok(())
}
