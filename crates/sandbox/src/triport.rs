//! Triport emulator: `GET /v1/referrals/invitees` (console session cookie `nl_session`)
//! and the operator view `GET /v1/admin/referrals/users/{user_id}` (`X-Admin-Token`),
//! as documented in seeds 000 and 001.
//!
//! Behaviour reproduced: `limit` 1–200, anything else (missing, 0, 201, garbage) silently
//! becomes 50; `offset` ≥ 0 (default 0); newest first; no total; `items` never null; the
//! error envelope `{"error": "<tag>", "message"?, "request_id"?}` with `unauthenticated`
//! (401), `rate_limited` (429 + `Retry-After`), `internal` (500), `admin_token_unset` /
//! `admin_token_invalid` (401), `invalid_user_id` (400), `method_not_allowed` (405), and
//! 410 for the retired `POST /v1/admin/referrals/simulate-paid`.
//!
//! From the shared error guide (`PROVIDERS.md`, Triport's rate-limits page): beyond the
//! [`TriportConfig::rate_limit`] (per credential: the `nl_session` cookie, or the
//! `X-Admin-Token` on the admin surface) the answer is 429 `{"error":"rate_limited"}` with
//! `Retry-After: 1`; [`tier_insufficient`] (403) and [`trial_expired`] (401) are injectable
//! [`Fault::Refused`] answers, and [`Fault::Bare`] stands for a proxy's answer without the
//! envelope.
//!
//! Between runs, [`TriportEmulator::raise_paid`] raises the lifetime `total_paid_micro` of
//! old invitees (kept in a small map; rows stay computed from their sequence number).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::faults::{bare, malformed, reset};
use crate::generate::{hash, mix, name, uuid};
use crate::support::{self, Answers};
use crate::{
    Dataset, Drift, Emulator, Fault, FaultPlan, RateLimit, RequestRecord, Running, Throttling,
};

/// Documented default and bounds of `limit`.
const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 200;

/// How to start a [`TriportEmulator`].
#[derive(Debug, Clone)]
pub struct TriportConfig {
    /// Invitees in the account at start.
    pub invitees: u64,
    /// Seed of the generated data.
    pub seed: u64,
    /// The `nl_session` cookie value the server accepts.
    pub session: String,
    /// The operator token; `None` means the server has none configured.
    pub admin_token: Option<String>,
    /// How long after its request each answer leaves (the answer is built meanwhile).
    pub latency: Duration,
    /// Injected failures.
    pub faults: FaultPlan,
    /// Changes applied after every invitees request.
    pub drift: Drift,
    /// Server-side rate limit per session cookie / admin token; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Sign-up time of the newest invitee.
    pub newest_at: DateTime<Utc>,
    /// Time between consecutive sign-ups.
    pub spacing: chrono::Duration,
}

impl TriportConfig {
    /// `invitees` rows, no faults, no drift, one sign-up every 10 minutes up to an hour ago.
    pub fn new(invitees: u64) -> Self {
        Self {
            invitees,
            seed: 1,
            session: "sandbox-session-3c1f".into(),
            admin_token: Some("sandbox-admin-9d2e".into()),
            latency: Duration::ZERO,
            faults: FaultPlan::none(),
            drift: Drift::default(),
            rate_limit: None,
            newest_at: Utc::now() - chrono::Duration::hours(1),
            spacing: chrono::Duration::minutes(10),
        }
    }

    /// Sets the injected failures.
    pub fn faults(mut self, faults: FaultPlan) -> Self {
        self.faults = faults;
        self
    }

    /// Sets the drift.
    pub fn drift(mut self, drift: Drift) -> Self {
        self.drift = drift;
        self
    }

    /// Sets the per-answer latency (see the `latency` field).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets or removes the operator token.
    pub fn admin_token(mut self, token: Option<&str>) -> Self {
        self.admin_token = token.map(str::to_owned);
        self
    }

    /// Sets the data seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Limits each credential to `limit` (answered as 429 `rate_limited`, `Retry-After: 1`).
    /// Triport documents bursts of twice the sustained rate: `RateLimit::new(r, 2 * r)`.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }
}

/// The documented 403 `{"error":"tier_insufficient"}` ("the tier is too low"), as a fault.
pub fn tier_insufficient() -> Fault {
    Fault::Refused {
        status: 403,
        code: "tier_insufficient".into(),
    }
}

/// The documented 401 `{"error":"trial_expired"}`, as a fault.
pub fn trial_expired() -> Fault {
    Fault::Refused {
        status: 401,
        code: "trial_expired".into(),
    }
}

/// Micro-units added to an invitee's `total_paid_micro` since start, by sequence number.
type Raises = BTreeMap<u64, i64>;

/// The handlers' state: the shared emulator state plus the credentials it accepts.
#[derive(Debug, Clone)]
struct Shared {
    state: support::Shared<(), Raises>,
    session: String,
    admin_token: Option<String>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, support::State<(), Raises>> {
        self.state.lock()
    }
}

/// A running Triport emulator. Stops when dropped.
#[derive(Debug)]
pub struct TriportEmulator {
    running: Running,
    shared: Shared,
}

impl TriportEmulator {
    /// Starts the emulator on `127.0.0.1` at an ephemeral port.
    pub async fn start(config: TriportConfig) -> std::io::Result<Self> {
        let latency = config.latency;
        let mut data = Dataset::new(
            config.seed,
            config.invitees,
            config.newest_at,
            config.spacing,
        );
        data.set_drift(config.drift);
        let shared = Shared {
            state: support::Shared::new(data, config.faults, config.rate_limit),
            session: config.session,
            admin_token: config.admin_token,
        };
        let router = Router::new()
            .route("/v1/referrals/invitees", any(invitees))
            .route("/v1/admin/referrals/users/{user_id}", any(admin_user))
            .route("/v1/admin/referrals/simulate-paid", any(simulate_paid))
            .fallback(|| async { envelope(StatusCode::NOT_FOUND, "not_found", None) })
            .with_state(shared.clone());
        let running = Running::serve(router, latency).await?;
        Ok(Self { running, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// The accepted `nl_session` cookie value.
    pub fn session(&self) -> &str {
        &self.shared.session
    }

    /// The accepted operator token, if one is configured.
    pub fn admin_token(&self) -> Option<&str> {
        self.shared.admin_token.as_deref()
    }

    /// Ground truth: every live invitee's `user_id`, newest first.
    pub fn ids_newest_first(&self) -> Vec<String> {
        let inner = self.shared.lock();
        let seed = inner.data.seed();
        inner
            .data
            .all_desc()
            .into_iter()
            .map(|seq| uuid(seed, seq).to_string())
            .collect()
    }

    /// Ground truth: every live invitee as the API renders it, newest first.
    pub fn rows_newest_first(&self) -> Vec<Value> {
        let inner = self.shared.lock();
        inner
            .data
            .all_desc()
            .into_iter()
            .map(|seq| row(&inner.data, &inner.extra, seq))
            .collect()
    }

    /// Raises the lifetime `total_paid_micro` of the `count` oldest live invitees (never
    /// the newest one) by `by_micro`, now; repeated calls raise the same rows again. Returns
    /// the changed rows as the API now renders them, oldest first (fewer when the account
    /// has fewer than `count + 1` invitees); [`TriportEmulator::rows_newest_first`] shows
    /// them too.
    pub fn raise_paid(&self, count: u64, by_micro: i64) -> Vec<Value> {
        let mut inner = self.shared.lock();
        let state = &mut *inner;
        let newest = state.data.nth_desc(0, state.data.end(), 0);
        let seqs = state.data.oldest_where(count, |seq| Some(seq) != newest);
        for &seq in &seqs {
            *state.extra.entry(seq).or_default() += by_micro;
        }
        seqs.into_iter()
            .map(|seq| row(&state.data, &state.extra, seq))
            .collect()
    }
}

impl Emulator for TriportEmulator {
    fn base_url(&self) -> String {
        TriportEmulator::base_url(self)
    }
    fn ids(&self) -> Vec<String> {
        self.ids_newest_first()
    }
    fn insert_newest(&self, count: u64) {
        self.shared.lock().data.insert_head(count);
    }
    fn delete_at(&self, n: u64) -> bool {
        self.shared.lock().data.delete_newest_at(n)
    }
    fn set_faults(&self, faults: FaultPlan) {
        self.shared.lock().faults = faults;
    }
    fn set_drift(&self, drift: Drift) {
        self.shared.lock().data.set_drift(drift);
    }
    fn set_page_clamp(&self, rows: Option<u64>) {
        self.shared.lock().data.set_page_clamp(rows);
    }
    fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.shared.state.set_rate_limit(limit);
    }
    fn requests(&self) -> Vec<String> {
        self.shared.state.requests()
    }
    fn request_log(&self) -> Vec<RequestRecord> {
        self.shared.state.request_log()
    }
    fn throttling(&self) -> Throttling {
        self.shared.state.throttling()
    }
}

fn envelope(status: StatusCode, tag: &str, message: Option<&str>) -> Response {
    let mut body = json!({ "error": tag });
    if let Some(message) = message {
        body["message"] = json!(message);
        body["request_id"] = json!(format!("req_{:016x}", mix(status.as_u16().into())));
    }
    (status, Json(body)).into_response()
}

fn render_fault(fault: Fault) -> Option<Response> {
    match fault {
        Fault::RateLimited { retry_after } => {
            let mut response = envelope(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                Some("back off one second and retry"),
            );
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Some(response)
        }
        Fault::ServerError(code) => Some(envelope(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "internal",
            None,
        )),
        Fault::Refused { status, code } => Some(envelope(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &code,
            None,
        )),
        Fault::Bare { status, html } => Some(bare(status, html)),
        Fault::Malformed => Some(malformed()),
        Fault::Reset => Some(reset()),
        Fault::Slow(_) | Fault::NullData { .. } => None,
    }
}

/// The rate-limits page: 429 `rate_limited` with `Retry-After: 1` ("back off one second
/// and retry").
fn throttled() -> Response {
    let mut response = envelope(StatusCode::TOO_MANY_REQUESTS, "rate_limited", None);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(1));
    response
}

const ANSWERS: Answers = Answers {
    fault: render_fault,
    throttled,
};

/// Records the request, applies the rate limit to `credential`, waits a `Slow` fault and
/// returns the throttling or injected fault's answer, if any.
async fn prelude(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: Option<&str>,
    credential: Option<&str>,
) -> Option<Response> {
    shared
        .state
        .prelude(method, path, query, credential, ANSWERS)
        .await
}

/// The `nl_session` cookie's value, if the request carries one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find_map(|(k, v)| (k == "nl_session").then_some(v))
}

fn admin_header(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-admin-token").and_then(|v| v.to_str().ok())
}

fn row(data: &Dataset, raises: &Raises, seq: u64) -> Value {
    let seed = data.seed();
    let paid = match hash(seed, seq, 5) % 4 {
        0 | 1 => 0,
        _ => (hash(seed, seq, 6) % 500_000_000) as i64,
    } + raises.get(&seq).copied().unwrap_or(0);
    json!({
        "user_id": uuid(seed, seq).to_string(),
        "display_name": name(seed, seq),
        "signed_at": data.created_at(seq).to_rfc3339_opts(SecondsFormat::Secs, true),
        "total_paid_micro": paid,
    })
}

async fn invitees(
    State(shared): State<Shared>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let cookie = session_cookie(&headers);
    if let Some(response) = prelude(
        &shared,
        &method,
        "/v1/referrals/invitees",
        query.as_deref(),
        cookie,
    )
    .await
    {
        return response;
    }
    if method != Method::GET {
        return envelope(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None);
    }
    if cookie != Some(shared.session.as_str()) {
        return envelope(StatusCode::UNAUTHORIZED, "unauthenticated", None);
    }
    let params = support::query_params(query.as_deref());
    let limit = params
        .get("limit")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|l| (1..=MAX_LIMIT).contains(l))
        .unwrap_or(DEFAULT_LIMIT);
    let offset = params
        .get("offset")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let mut inner = shared.lock();
    let limit = inner.data.page_size(limit);
    let end = inner.data.end();
    let items: Vec<Value> = inner
        .data
        .page_desc(0, end, offset, limit)
        .into_iter()
        .map(|seq| row(&inner.data, &inner.extra, seq))
        .collect();
    inner.data.after_request();
    Json(json!({ "items": items })).into_response()
}

async fn admin_user(
    State(shared): State<Shared>,
    method: Method,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Response {
    let path = format!("/v1/admin/referrals/users/{user_id}");
    if let Some(response) = prelude(&shared, &method, &path, None, admin_header(&headers)).await {
        return response;
    }
    if method != Method::GET {
        return envelope(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None);
    }
    let Some(expected) = &shared.admin_token else {
        return envelope(StatusCode::UNAUTHORIZED, "admin_token_unset", None);
    };
    if admin_header(&headers) != Some(expected.as_str()) {
        return envelope(StatusCode::UNAUTHORIZED, "admin_token_invalid", None);
    }
    let Ok(id) = uuid::Uuid::parse_str(&user_id) else {
        return envelope(StatusCode::BAD_REQUEST, "invalid_user_id", None);
    };
    Json(operator_view(id)).into_response()
}

async fn simulate_paid(
    State(shared): State<Shared>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let path = "/v1/admin/referrals/simulate-paid";
    if let Some(response) = prelude(&shared, &method, path, None, admin_header(&headers)).await {
        return response;
    }
    envelope(StatusCode::GONE, "gone", Some("simulate-paid was retired"))
}

/// A deterministic operator view for any UUID.
fn operator_view(id: uuid::Uuid) -> Value {
    let seed = (id.as_u128() as u64) ^ ((id.as_u128() >> 64) as u64);
    let tier = hash(seed, 0, 10) % 4 + 1;
    let labels = ["Bronze", "Silver", "Gold", "Platinum"];
    let pending = (hash(seed, 0, 11) % 50_000_000) as i64;
    let available = (hash(seed, 0, 12) % 80_000_000) as i64;
    let attributions = hash(seed, 0, 13) % 51;
    let base = Utc::now() - chrono::Duration::days(1);
    let events = ["signup", "first-paid", "rejected", "tier-changed"];
    let recent: Vec<Value> = (0..attributions)
        .map(|i| {
            json!({
                "ID": 1_000 + i,
                "UserID": id.to_string(),
                "InviteeID": uuid(seed, i).to_string(),
                "Event": events[(hash(seed, i, 14) % 4) as usize],
                "Code": format!("TRI-{:04X}", seed & 0xFFFF),
                "CreatedAt": (base - chrono::Duration::minutes(i as i64 * 7)).to_rfc3339_opts(SecondsFormat::Secs, true),
                "Meta": { "source": "sandbox", "n": i },
            })
        })
        .collect();
    json!({
        "user_id": id.to_string(),
        "tier": tier,
        "tier_label": labels[(tier - 1) as usize],
        "rate_bps": 500 * tier,
        "primary_code": format!("TRI-{:04X}", seed & 0xFFFF),
        "custom_slug": if hash(seed, 0, 15) % 2 == 0 { Value::Null } else { json!(format!("slug-{}", seed % 1000)) },
        "paid_invitees_info": hash(seed, 0, 16) % 40,
        "balance": {
            "pending_micro": pending,
            "available_micro": available,
            "lifetime_micro": pending + available + (hash(seed, 0, 17) % 10_000_000) as i64,
        },
        "recent_attributions": recent,
    })
}
