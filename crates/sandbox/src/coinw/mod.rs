//! CoinW emulator: the affiliate endpoint "Get Directly Invited User List",
//! `GET /api/v3/patener/openapi/v1/partner/invitation/user/list`, as documented in seed 002
//! and in `PROVIDERS.md` section 1 (signing, error codes, throttling).
//!
//! Behaviour reproduced:
//!
//! * **Signature** (futures-style "RESTful private" scheme, as CoinW.Net computes it):
//!   headers `api_key`, `timestamp` (Unix milliseconds) and `sign` =
//!   `Base64(HMAC-SHA256(secret_key, timestamp + "GET" + path + "?" + query))`, where `query`
//!   is the **decoded** query string exactly as received (order kept, `%XX` and `+` decoded;
//!   no `?` when the query is empty). Answers: missing or unknown `api_key` → `6000`; a
//!   missing/garbled `timestamp` or `sign`, or a wrong signature → `6001`; a timestamp more
//!   than [`CoinwConfig::max_skew`] (default 30 s) away from the server clock → `6001` with
//!   the message `"request timestamp expired"` (CoinW documents no code of its own for a stale
//!   timestamp; a signature-class refusal is the closest documented one); a valid key
//!   without the Affiliate permission → `6003` in the `{code, message, retry, success}` shape.
//!   The server clock is the machine's, off by [`CoinwConfig::clock_skew`]; every answer
//!   carries it in a `Date` header.
//! * **Parameters**: `startTime`/`endTime` (`yyyy-MM-dd HH:mm:ss` in the emulator's UTC
//!   offset; `startTime` inclusive, `endTime` read as [`CoinwConfig::end_time`] says,
//!   inclusive at whole seconds by default) default to the beginning and the end of the
//!   current month in that offset; `pageNo` defaults to 1 (values below 1 count as 1);
//!   `pageSize` defaults to 100, values below 1 count as 100 and values above 1000 are
//!   **capped at 1000** (the documented maximum; CoinW does not say whether it clamps or
//!   refuses, clamping is the lenient reading); `uid` and `referralCode` filter. A value that
//!   does not parse (a date in another format, a non-numeric `pageNo`, `pageSize` or `uid`)
//!   is answered with `402` (the documented "param required"/parameter error).
//! * **Order**: `registerTime` descending, then by uid descending for rows registered in
//!   the same second ("then by `id` for stable sorting").
//! * **Body**: `{"code":"200","msg":"success","data":{"list":[{"uid":…,"registerTime":"…"}],"total":…}}`
//!   (string code on success, as in the documentation); errors as `{"code":6001,"msg":"…"}`
//!   (numeric codes, as CoinW sends them) in an HTTP 200.
//! * **Data**: deterministic rows spread over about 25 months (by default) at a **non-UTC
//!   offset** (+08:00 by default); uids are `1_000_000 + seq`; `registerTime` has no zone.
//! * **Faults**: [`Fault::RateLimited`] renders as HTTP 200 `{"code":29001,"msg":"API access
//!   frequently"}` (CoinW sends no `Retry-After`, so the fault's value is ignored);
//!   [`Fault::ServerError`] as that HTTP status with `{"code":500,"msg":"Internal server
//!   error"}`; [`Fault::Malformed`] as a truncated success body; [`Fault::NullData`] as a
//!   success (`"code":"200"`) whose `data` is `null` or missing; [`Fault::Refused`] as
//!   `{"code":…,"msg":…}` at the given HTTP status; [`Fault::Bare`], [`Fault::Reset`] and
//!   [`Fault::Slow`] as for every emulator. [`CoinwEmulator::push_answer`] scripts any other
//!   answer (an unknown code, `402`, a string code) for error-mapping tests.
//! * **Rate limit** ([`CoinwConfig::rate_limit`], per `api_key`): beyond it the documented
//!   throttling answer, HTTP 200 `{"code":29001,"msg":"API access frequently"}`, without
//!   `Retry-After` (none is documented).
//! * **Drift** (after every answered list request): sign-ups at the head (the newest
//!   registration times) and deletions, as in the Triport emulator.

mod auth;
mod window;

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{middleware, Json, Router};
use chrono::{DateTime, FixedOffset, Offset, Utc};
use serde_json::{json, Value};

use crate::faults::{bare, reset};
use crate::generate::hash;
use crate::support::{self, percent_decode, Answers};
use crate::{
    Dataset, Drift, Emulator, Fault, FaultPlan, RateLimit, RequestRecord, Running, Throttling,
};
use auth::{authenticate, Keys};
pub use window::EndTime;
use window::{local_text, month_bounds, parse_time, registered_at, rows_in};

/// The endpoint's path ("patener" is CoinW's spelling).
pub const LIST_PATH: &str = "/api/v3/patener/openapi/v1/partner/invitation/user/list";
/// uid of the row with sequence number 0; row `seq` has uid `UID_BASE + seq`.
pub const UID_BASE: u64 = 1_000_000;
/// The referral codes rows are registered with (each row uses one, deterministically).
pub const REFERRAL_CODES: [&str; 3] = ["CWAFF01", "CWAFF02", "CWAFF03"];
/// Documented default `pageSize`.
const DEFAULT_PAGE_SIZE: u64 = 100;
/// Documented maximum `pageSize`.
const MAX_PAGE_SIZE: u64 = 1000;
/// How long the default data set spans (about 25 months).
const DEFAULT_SPAN_DAYS: i64 = 760;

/// How to start a [`CoinwEmulator`].
#[derive(Debug, Clone)]
pub struct CoinwConfig {
    /// Invitees in the account at start.
    pub invitees: u64,
    /// Seed of the generated data.
    pub seed: u64,
    /// The accepted API key (with the Affiliate permission).
    pub api_key: String,
    /// The secret of [`CoinwConfig::api_key`].
    pub secret_key: String,
    /// A valid key pair **without** the Affiliate permission (answered with `6003`).
    pub restricted_key: Option<(String, String)>,
    /// The offset the server's times (`registerTime`, `startTime`, `endTime`) are in.
    pub utc_offset: FixedOffset,
    /// Largest accepted distance between the `timestamp` header and the server clock.
    pub max_skew: Duration,
    /// How long after its request each answer leaves (the answer is built meanwhile).
    pub latency: Duration,
    /// Injected failures.
    pub faults: FaultPlan,
    /// Changes applied after every answered list request.
    pub drift: Drift,
    /// Registration time of the newest invitee (kept at whole seconds by default).
    pub newest_at: DateTime<Utc>,
    /// Time between consecutive registrations.
    pub spacing: chrono::Duration,
    /// Server-side rate limit per `api_key`; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// How `endTime` is read.
    pub end_time: EndTime,
    /// How far the server clock is ahead of the machine's (negative: behind).
    pub clock_skew: chrono::Duration,
}

impl CoinwConfig {
    /// `invitees` rows registered evenly over about 25 months up to an hour ago (whole-second
    /// spacing), at UTC+08:00, no faults, no drift.
    pub fn new(invitees: u64) -> Self {
        let span_secs = DEFAULT_SPAN_DAYS * 86_400;
        let gaps = i64::try_from(invitees.saturating_sub(1).max(1)).unwrap_or(i64::MAX);
        let spacing = chrono::Duration::seconds((span_secs / gaps).max(1));
        let hour_ago = Utc::now() - chrono::Duration::hours(1);
        let newest_at = DateTime::from_timestamp(hour_ago.timestamp(), 0).unwrap_or(hour_ago);
        Self {
            invitees,
            seed: 1,
            api_key: "sandbox-coinw-key-5b7e".into(),
            secret_key: "sandbox-coinw-secret-a19c44".into(),
            restricted_key: Some((
                "sandbox-coinw-plain-key-77d0".into(),
                "sandbox-coinw-plain-secret-e3f1".into(),
            )),
            utc_offset: FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix()),
            max_skew: Duration::from_secs(30),
            latency: Duration::ZERO,
            faults: FaultPlan::none(),
            drift: Drift::default(),
            newest_at,
            spacing,
            rate_limit: None,
            end_time: EndTime::default(),
            clock_skew: chrono::Duration::zero(),
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

    /// Sets the data seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the server's UTC offset.
    pub fn utc_offset(mut self, offset: FixedOffset) -> Self {
        self.utc_offset = offset;
        self
    }

    /// Sets the time between registrations (sub-second spacing puts several rows in one
    /// displayed second, which exercises the tie-break order).
    pub fn spacing(mut self, spacing: chrono::Duration) -> Self {
        self.spacing = spacing;
        self
    }

    /// Sets the newest registration time.
    pub fn newest_at(mut self, newest_at: DateTime<Utc>) -> Self {
        self.newest_at = newest_at;
        self
    }

    /// Sets the accepted clock skew of the `timestamp` header.
    pub fn max_skew(mut self, max_skew: Duration) -> Self {
        self.max_skew = max_skew;
        self
    }

    /// Limits each `api_key` to `limit` (answered as `29001` in an HTTP 200).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Sets how `endTime` is read.
    pub fn end_time(mut self, reading: EndTime) -> Self {
        self.end_time = reading;
        self
    }

    /// Puts the server clock `skew` ahead of the machine's (behind when negative): the
    /// `Date` header of every answer, the staleness check of the `timestamp` header (beyond
    /// [`CoinwConfig::max_skew`] → `6001` "request timestamp expired") and the default
    /// current-month window all follow it.
    pub fn clock_skew(mut self, skew: chrono::Duration) -> Self {
        self.clock_skew = skew;
        self
    }
}

#[derive(Debug, Clone)]
struct Shared {
    /// Besides the shared state: every `sign` header received, in order.
    state: support::Shared<(StatusCode, Value), Vec<String>>,
    keys: Keys,
    offset: FixedOffset,
    end_time: EndTime,
    clock_skew: chrono::Duration,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, support::State<(StatusCode, Value), Vec<String>>> {
        self.state.lock()
    }

    /// The server clock.
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_skew
    }
}

/// A running CoinW emulator. Stops when dropped.
#[derive(Debug)]
pub struct CoinwEmulator {
    running: Running,
    shared: Shared,
}

impl CoinwEmulator {
    /// Starts the emulator on `127.0.0.1` at an ephemeral port.
    pub async fn start(config: CoinwConfig) -> std::io::Result<Self> {
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
            keys: Keys {
                api_key: config.api_key,
                secret_key: config.secret_key,
                restricted_key: config.restricted_key,
                max_skew: config.max_skew,
            },
            offset: config.utc_offset,
            end_time: config.end_time,
            clock_skew: config.clock_skew,
        };
        let skew = config.clock_skew;
        let router = Router::new()
            .route(LIST_PATH, any(list))
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"code": 500, "msg": "Internal server error"})),
                )
            })
            .layer(middleware::map_response(move |response| {
                date_header(response, skew)
            }))
            .with_state(shared.clone());
        let running = Running::serve(router, latency).await?;
        Ok(Self { running, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// Every `sign` header received so far, in order (for scanning logs and files for
    /// request signatures).
    pub fn signatures(&self) -> Vec<String> {
        self.shared.lock().extra.clone()
    }

    /// The accepted API key.
    pub fn api_key(&self) -> &str {
        &self.shared.keys.api_key
    }

    /// The secret of [`CoinwEmulator::api_key`].
    pub fn secret_key(&self) -> &str {
        &self.shared.keys.secret_key
    }

    /// The key pair without the Affiliate permission, if configured.
    pub fn restricted_key(&self) -> Option<(&str, &str)> {
        self.shared
            .keys
            .restricted_key
            .as_ref()
            .map(|(k, s)| (k.as_str(), s.as_str()))
    }

    /// The offset the server's times are in.
    pub fn utc_offset(&self) -> FixedOffset {
        self.shared.offset
    }

    /// Ground truth: every live invitee's uid and registration time (UTC, at the second
    /// resolution the API shows), in the API's order.
    pub fn invitees_newest_first(&self) -> Vec<(u64, DateTime<Utc>)> {
        let inner = self.shared.lock();
        inner
            .data
            .all_desc()
            .into_iter()
            .map(|seq| (UID_BASE + seq, registered_at(&inner.data, seq)))
            .collect()
    }

    /// Ground truth: the uids a window `startTime=start&endTime=end` lists (whole seconds;
    /// `end` read as [`CoinwConfig::end_time`] says, inclusive by default), in the API's
    /// order.
    pub fn uids_between(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<u64> {
        let inner = self.shared.lock();
        let (lo, hi) = rows_in(&inner.data, start, self.shared.end_time.upper_bound(end));
        inner
            .data
            .page_desc(lo, hi, 0, u64::MAX)
            .into_iter()
            .map(|seq| UID_BASE + seq)
            .collect()
    }

    /// Ground truth: the live uids registered with `code`, in the API's order.
    pub fn uids_with_referral_code(&self, code: &str) -> Vec<u64> {
        let inner = self.shared.lock();
        let seed = inner.data.seed();
        inner
            .data
            .all_desc()
            .into_iter()
            .filter(|&seq| referral_code(seed, seq) == code)
            .map(|seq| UID_BASE + seq)
            .collect()
    }

    /// `registerTime` of a uid as the API renders it, if the uid is live.
    pub fn register_time_text(&self, uid: u64) -> Option<String> {
        let inner = self.shared.lock();
        let seq = uid.checked_sub(UID_BASE)?;
        inner
            .data
            .is_live(seq)
            .then(|| local_text(registered_at(&inner.data, seq), self.shared.offset))
    }

    /// Registration time of the oldest row ever generated (UTC).
    pub fn oldest_at(&self) -> DateTime<Utc> {
        registered_at(&self.shared.lock().data, 0)
    }

    /// Answers the next list request that is not faulted with `body` at HTTP `status`
    /// (before any check), e.g. `json!({"code": 402, "msg": "param required"})`. Scripted
    /// answers queue up in order.
    pub fn push_answer(&self, status: u16, body: Value) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        self.shared.lock().scripted.push_back((status, body));
    }
}

impl Emulator for CoinwEmulator {
    fn base_url(&self) -> String {
        CoinwEmulator::base_url(self)
    }
    fn ids(&self) -> Vec<String> {
        self.invitees_newest_first()
            .into_iter()
            .map(|(uid, _)| uid.to_string())
            .collect()
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

/// Sets the `Date` header (RFC 9110's IMF-fixdate) from the server clock, `skew` off the
/// machine's.
async fn date_header(mut response: Response, skew: chrono::Duration) -> Response {
    let date = (Utc::now() + skew)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(value) = HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

fn referral_code(seed: u64, seq: u64) -> &'static str {
    REFERRAL_CODES[(hash(seed, seq, 21) % REFERRAL_CODES.len() as u64) as usize]
}

/// CoinW's error body: a numeric code and a message, in an HTTP 200.
fn error_body(code: u32, msg: &str) -> Json<Value> {
    Json(json!({ "code": code, "msg": msg }))
}

/// The documented throttling answer, in an HTTP 200 and without `Retry-After`.
fn throttled() -> Response {
    error_body(29001, "API access frequently").into_response()
}

const ANSWERS: Answers = Answers {
    fault: render_fault,
    throttled,
};

fn render_fault(fault: Fault) -> Option<Response> {
    match fault {
        Fault::RateLimited { .. } => Some(throttled()),
        Fault::ServerError(code) => Some(
            (
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                Json(json!({"code": 500, "msg": "Internal server error"})),
            )
                .into_response(),
        ),
        Fault::Malformed => Some(
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(
                    "{\"code\":\"200\",\"msg\":\"success\",\"data\":{\"list\":[{\"uid\":10",
                ))
                .unwrap_or_default(),
        ),
        Fault::NullData { omitted } => {
            let mut body = json!({ "code": "200", "msg": "success" });
            if !omitted {
                body["data"] = Value::Null;
            }
            Some(Json(body).into_response())
        }
        Fault::Refused { status, code } => {
            let code = code
                .parse::<i64>()
                .map_or_else(|_| json!(code), |n| json!(n));
            Some(
                (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                    Json(json!({ "code": code, "msg": "sandbox: injected refusal" })),
                )
                    .into_response(),
            )
        }
        Fault::Bare { status, html } => Some(bare(status, html)),
        Fault::Reset => Some(reset()),
        Fault::Slow(_) => None,
    }
}

/// Records the request, applies the rate limit to the `api_key`, waits a `Slow` fault and
/// returns the throttling, injected or scripted answer.
async fn prelude(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: Option<&str>,
    api_key: Option<&str>,
) -> Option<Response> {
    if let Some(response) = shared
        .state
        .prelude(method, path, query, api_key, ANSWERS)
        .await
    {
        return Some(response);
    }
    let scripted = shared.lock().scripted.pop_front();
    scripted.map(|(status, body)| (status, Json(body)).into_response())
}

/// The decoded parameters, first occurrence wins.
fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// What one list request asks for.
struct ListQuery {
    start: DateTime<Utc>,
    /// Exclusive upper bound of the registration times, at millisecond precision.
    upper: DateTime<Utc>,
    page_no: u64,
    page_size: u64,
    uid: Option<u64>,
    referral_code: Option<String>,
}

fn parse_list_query(
    raw: &str,
    offset: FixedOffset,
    reading: EndTime,
    now: DateTime<Utc>,
) -> Result<ListQuery, Json<Value>> {
    let params: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let bad = |name: &str, what: &str| error_body(402, &format!("param error: {name} {what}"));
    let number = |name: &str| -> Result<Option<i64>, Json<Value>> {
        match param(&params, name) {
            None | Some("") => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| bad(name, "must be an integer")),
        }
    };
    let page_no = number("pageNo")?.filter(|n| *n >= 1).unwrap_or(1) as u64;
    let page_size = number("pageSize")?
        .filter(|n| *n >= 1)
        .map_or(DEFAULT_PAGE_SIZE, |n| (n as u64).min(MAX_PAGE_SIZE));
    let uid = match param(&params, "uid") {
        None | Some("") => None,
        Some(v) => Some(
            v.trim()
                .parse::<u64>()
                .map_err(|_| bad("uid", "must be a Long"))?,
        ),
    };
    let month =
        || month_bounds(now, offset).ok_or_else(|| error_body(500, "Internal server error"));
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, Json<Value>> {
        match param(&params, name) {
            None | Some("") => Ok(None),
            Some(v) => parse_time(v, offset)
                .map(Some)
                .ok_or_else(|| bad(name, "must be yyyy-MM-dd HH:mm:ss")),
        }
    };
    let start = match time("startTime")? {
        Some(start) => start,
        None => month()?.0,
    };
    // A missing endTime is the end of the month: its whole last second in every reading.
    let upper = match time("endTime")? {
        Some(end) => reading.upper_bound(end),
        None => month()?.1,
    };
    let referral_code = param(&params, "referralCode")
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    Ok(ListQuery {
        start,
        upper,
        page_no,
        page_size,
        uid,
        referral_code,
    })
}

async fn list(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let api_key = headers.get("api_key").and_then(|v| v.to_str().ok());
    if let Some(sign) = headers.get("sign").and_then(|v| v.to_str().ok()) {
        shared.lock().extra.push(sign.to_owned());
    }
    if let Some(response) = prelude(&shared, &method, uri.path(), query.as_deref(), api_key).await {
        return response;
    }
    if method != Method::GET {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            Json(json!({"code": 405, "msg": format!("Request method '{method}' not supported")})),
        )
            .into_response();
    }
    let raw = query.as_deref().unwrap_or_default();
    let now = shared.now();
    if let Err(refusal) = authenticate(&shared.keys, now, &headers, &method, uri.path(), raw) {
        return refusal.into_response();
    }
    let q = match parse_list_query(raw, shared.offset, shared.end_time, now) {
        Ok(q) => q,
        Err(refusal) => return refusal.into_response(),
    };
    let mut inner = shared.lock();
    let data = &inner.data;
    let seed = data.seed();
    let (lo, hi) = rows_in(data, q.start, q.upper);
    let matches = |seq: u64| {
        q.referral_code
            .as_deref()
            .is_none_or(|code| referral_code(seed, seq) == code)
    };
    let page_size = data.page_size(q.page_size);
    let offset_rows = (q.page_no - 1).saturating_mul(page_size);
    let (total, seqs) = if let Some(uid) = q.uid {
        let hit = uid
            .checked_sub(UID_BASE)
            .filter(|&seq| (lo..hi).contains(&seq) && data.is_live(seq) && matches(seq));
        let rows: Vec<u64> = hit.into_iter().collect();
        let page = rows
            .iter()
            .copied()
            .skip(usize::try_from(offset_rows).unwrap_or(usize::MAX))
            .take(page_size as usize)
            .collect();
        (rows.len() as u64, page)
    } else if q.referral_code.is_some() {
        let rows: Vec<u64> = data
            .page_desc(lo, hi, 0, u64::MAX)
            .into_iter()
            .filter(|&seq| matches(seq))
            .collect();
        let page = rows
            .iter()
            .copied()
            .skip(usize::try_from(offset_rows).unwrap_or(usize::MAX))
            .take(page_size as usize)
            .collect();
        (rows.len() as u64, page)
    } else {
        (
            data.count_in(lo, hi),
            data.page_desc(lo, hi, offset_rows, page_size),
        )
    };
    let list: Vec<Value> = seqs
        .into_iter()
        .map(|seq| {
            json!({
                "uid": UID_BASE + seq,
                "registerTime": local_text(registered_at(data, seq), shared.offset),
            })
        })
        .collect();
    inner.data.after_request();
    Json(json!({
        "code": "200",
        "msg": "success",
        "data": { "list": list, "total": total },
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

    #[test]
    fn percent_decoding_matches_a_form_decoder() {
        assert_eq!(
            percent_decode("startTime=2021-09-09%2013%3A43%3A18&x=a+b"),
            "startTime=2021-09-09 13:43:18&x=a b"
        );
        assert_eq!(percent_decode("a=%zz&b=%4"), "a=%zz&b=%4");
        assert_eq!(percent_decode("c=%E2%9C%93"), "c=✓");
        assert_eq!(percent_decode(""), "");
    }

    /// A GET signed by hand from the document: the prehash covers the decoded query.
    async fn get(emu: &CoinwEmulator, raw_query: &str, key: &str, secret: &str, ts: i64) -> Value {
        let decoded = percent_decode(raw_query);
        let prehash = if decoded.is_empty() {
            format!("{ts}GET{LIST_PATH}")
        } else {
            format!("{ts}GET{LIST_PATH}?{decoded}")
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(prehash.as_bytes());
        let sign = BASE64.encode(mac.finalize().into_bytes());
        reqwest::Client::new()
            .get(format!("{}{LIST_PATH}?{raw_query}", emu.base_url()))
            .header("api_key", key)
            .header("timestamp", ts.to_string())
            .header("sign", sign)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn now_ms() -> i64 {
        Utc::now().timestamp_millis()
    }

    #[tokio::test]
    async fn signed_requests_are_answered_with_the_documented_body() {
        let emu = CoinwEmulator::start(CoinwConfig::new(3_000)).await.unwrap();
        let (key, secret) = (emu.api_key().to_owned(), emu.secret_key().to_owned());
        let oldest = local_text(emu.oldest_at(), emu.utc_offset());
        let start = oldest.replace(' ', "%20");
        // Space as %20 and as '+': both decode to the signed space.
        for start in [start.clone(), start.replace("%20", "+")] {
            let q = format!("pageNo=1&pageSize=2&startTime={start}&endTime=2099-01-01%2000:00:00");
            let body = get(&emu, &q, &key, &secret, now_ms()).await;
            assert_eq!(body["code"], "200", "{body}");
            assert_eq!(body["msg"], "success");
            assert_eq!(body["data"]["total"], 3_000);
            let list = body["data"]["list"].as_array().unwrap();
            assert_eq!(list.len(), 2);
            assert_eq!(list[0]["uid"], UID_BASE + 2_999);
            assert!(
                list[0]["registerTime"].as_str().unwrap()
                    > list[1]["registerTime"].as_str().unwrap()
            );
        }
        // The oldest row sits exactly on an inclusive startTime.
        let q = format!("pageNo=1&pageSize=1&startTime={start}&endTime={start}");
        let body = get(&emu, &q, &key, &secret, now_ms()).await;
        assert_eq!(body["data"]["list"][0]["registerTime"], oldest.as_str());
        assert_eq!(body["data"]["list"][0]["uid"], UID_BASE);
    }

    #[tokio::test]
    async fn refusals_follow_the_documented_codes() {
        let emu = CoinwEmulator::start(CoinwConfig::new(10)).await.unwrap();
        let (key, secret) = (emu.api_key().to_owned(), emu.secret_key().to_owned());
        let q = "pageNo=1&pageSize=10";
        assert_eq!(get(&emu, q, &key, "wrong", now_ms()).await["code"], 6001);
        assert_eq!(
            get(&emu, q, "nobody", &secret, now_ms()).await["code"],
            6000
        );
        let stale = get(&emu, q, &key, &secret, now_ms() - 60_000).await;
        assert_eq!(
            (stale["code"].clone(), stale["msg"].clone()),
            (json!(6001), json!("request timestamp expired"))
        );
        let (plain_key, plain_secret) = emu
            .restricted_key()
            .map(|(k, s)| (k.to_owned(), s.to_owned()))
            .unwrap();
        let denied = get(&emu, q, &plain_key, &plain_secret, now_ms()).await;
        assert_eq!(
            (denied["code"].clone(), denied["success"].clone()),
            (json!(6003), json!(false))
        );
        assert_eq!(
            get(
                &emu,
                "startTime=2024-01-01T00:00:00",
                &key,
                &secret,
                now_ms()
            )
            .await["code"],
            402
        );
        assert_eq!(
            get(&emu, "uid=abc", &key, &secret, now_ms()).await["code"],
            402
        );
        // Signed over a different order than sent: refused.
        let body = reqwest::Client::new()
            .get(format!(
                "{}{LIST_PATH}?pageSize=10&pageNo=1",
                emu.base_url()
            ))
            .header("api_key", key.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(body.json::<Value>().await.unwrap()["code"], 6001);
        emu.set_faults(FaultPlan::none().then(Fault::RateLimited {
            retry_after: Some(1),
        }));
        let throttled = get(&emu, q, &key, &secret, now_ms()).await;
        assert_eq!(
            throttled,
            json!({"code": 29001, "msg": "API access frequently"})
        );
    }

    #[tokio::test]
    async fn defaults_caps_and_filters() {
        let config = CoinwConfig::new(3_000).spacing(chrono::Duration::minutes(5));
        let emu = CoinwEmulator::start(config).await.unwrap();
        let (key, secret) = (emu.api_key().to_owned(), emu.secret_key().to_owned());
        // No times: the current month in the offset; pageSize defaults to 100.
        let body = get(&emu, "", &key, &secret, now_ms()).await;
        let (start, next) = month_bounds(Utc::now(), emu.utc_offset()).unwrap();
        let in_month = emu.uids_between(start, next - chrono::Duration::seconds(1));
        assert_eq!(body["data"]["total"], in_month.len());
        assert_eq!(
            body["data"]["list"].as_array().unwrap().len(),
            in_month.len().min(100)
        );
        // pageSize above 1000 counts as 1000; pageNo below 1 as 1.
        let all = "startTime=2000-01-01%2000:00:00&endTime=2099-01-01%2000:00:00";
        let body = get(
            &emu,
            &format!("pageNo=0&pageSize=5000&{all}"),
            &key,
            &secret,
            now_ms(),
        )
        .await;
        assert_eq!(body["data"]["list"].as_array().unwrap().len(), 1_000);
        assert_eq!(body["data"]["list"][0]["uid"], UID_BASE + 2_999);
        // Filters.
        let uid = UID_BASE + 1_234;
        let body = get(&emu, &format!("uid={uid}&{all}"), &key, &secret, now_ms()).await;
        assert_eq!(
            body["data"],
            json!({"list": [{"uid": uid, "registerTime": emu.register_time_text(uid).unwrap()}], "total": 1})
        );
        let code = REFERRAL_CODES[2];
        let body = get(
            &emu,
            &format!("referralCode={code}&pageSize=1000&{all}"),
            &key,
            &secret,
            now_ms(),
        )
        .await;
        let truth = emu.uids_with_referral_code(code);
        assert_eq!(body["data"]["total"], truth.len());
        let listed: Vec<u64> = body["data"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["uid"].as_u64().unwrap())
            .collect();
        assert_eq!(listed, truth[..listed.len()]);
    }
}
