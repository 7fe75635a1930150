//! Prefactor emulator: `GET /api/v1/admin_user_invite` ("List admin user invites for an
//! account", seed 003).
//!
//! Behaviour reproduced, and the choices made where the document is silent:
//!
//! * `Authorization: Bearer <token>`: no header → 401 `not_authenticated`; a wrong token or
//!   another scheme → 401 `bad_authtoken`.
//! * `account_id` (optional, defaults to the token's account): not a PFID → 400
//!   `invalid_value`; another account → 403 `not_permitted`.
//! * `sorting`: `id`, `-id`, `inserted_at`, `-inserted_at` (both fields are creation
//!   order: ids are PFIDs, time-ordered); any other field → 400 `invalid_value`. Without
//!   `sorting` the list is in ascending `id` order and the response's `sorting` is `null`.
//! * `pagination[offset]` (zero-based, default 0) and `pagination[page_size]` (default 25,
//!   documented range 1–100). The range is part of the documented schema, so a value
//!   outside it (or a negative or non-numeric one) is **refused** with 422
//!   `validation_errors` and an `errors` map naming the parameter, not silently clamped.
//! * Every `PaginationOutput` field computed as documented: `item_count`, one-based
//!   `item_start`/`item_end` (an empty page has `item_end = item_start - 1`), one-based
//!   `page_index`, zero-based `page_offset`, `page_size`, `page_count`,
//!   `next_page_offset` (null on the last page), `previous_page_offset` (null on the first).
//! * `idempotency_key` is accepted and ignored by default: a GET has no effect to repeat.
//!   With [`PrefactorConfig::honour_idempotency_keys`] a key already used for a request with
//!   other parameters is refused with 422 `idempotency_key_already_used`, and the same key
//!   with the same parameters (a retry) is answered normally.
//! * Errors use the envelope `{"status": "error", "code", "message"}`; unknown routes and
//!   methods → 404 `not_found`.
//! * Faults: 429 (Prefactor documents no throttling code: `code: "unknown"`, plus
//!   `Retry-After` when asked), 5xx `unexpected`, [`Fault::Refused`] with any code,
//!   [`Fault::Bare`], malformed body, reset, slow. Beyond [`PrefactorConfig::rate_limit`]
//!   (per bearer token) the answer is the same 429 `unknown`, without `Retry-After`
//!   (Prefactor documents none; its SDKs back off on their own).
//! * Between runs, [`PrefactorEmulator::advance_statuses`] moves old invites along
//!   `pending` → `used` → `revoked` and bumps their `updated_at` (kept in a small map; rows
//!   stay computed from their sequence number).
//!
//! Ids and the account id are PFIDs: 32 lowercase Crockford base32 characters encoding
//! 2 zero bits, a 48-bit millisecond timestamp, a 30-bit partition and 80 random bits, so
//! sorting by id is sorting by creation time (rows are at least a millisecond apart).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::faults::{bare, malformed, reset};
use crate::generate::{email, hash};
use crate::support::{self, bearer, query_params, Answers, Bearer, ScriptedError};
use crate::{
    Dataset, Drift, Emulator, Fault, FaultPlan, RateLimit, RequestRecord, Running, Throttling,
};

const PATH: &str = "/api/v1/admin_user_invite";
/// Rows per page when the request names no page size (undocumented; chosen here).
const DEFAULT_PAGE_SIZE: u64 = 25;
/// Documented largest page size.
const MAX_PAGE_SIZE: u64 = 100;
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// How to start a [`PrefactorEmulator`].
#[derive(Debug, Clone)]
pub struct PrefactorConfig {
    /// Admin user invites in the account at start.
    pub invites: u64,
    /// Seed of the generated data (also picks the account id).
    pub seed: u64,
    /// The bearer token the server accepts.
    pub token: String,
    /// How long after its request each answer leaves (the answer is built meanwhile).
    pub latency: Duration,
    /// Injected failures.
    pub faults: FaultPlan,
    /// Changes applied after every served list request.
    pub drift: Drift,
    /// Server-side rate limit per bearer token; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Refuse an `idempotency_key` reused with other parameters (default: keys are ignored).
    pub honour_idempotency_keys: bool,
    /// Creation time of the newest invite.
    pub newest_at: DateTime<Utc>,
    /// Time between consecutive invites (at least a millisecond, so ids stay ordered).
    pub spacing: chrono::Duration,
}

impl PrefactorConfig {
    /// `invites` rows, no faults, no drift, one invite every 10 minutes up to an hour ago.
    pub fn new(invites: u64) -> Self {
        Self {
            invites,
            seed: 3,
            token: "pf_sandbox_token_5e1a".into(),
            latency: Duration::ZERO,
            faults: FaultPlan::none(),
            drift: Drift::default(),
            rate_limit: None,
            honour_idempotency_keys: false,
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

    /// Sets the data seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Limits each token to `limit` (answered as 429 `unknown`).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Honours `idempotency_key`: the first request that uses a key (and passes validation)
    /// binds it to its parameters; a later request with the key and other parameters is
    /// refused with `idempotency_key_already_used`, one with the same parameters is a retry
    /// and answered normally.
    pub fn honour_idempotency_keys(mut self) -> Self {
        self.honour_idempotency_keys = true;
        self
    }
}

/// An invite moved by [`PrefactorEmulator::advance_statuses`].
#[derive(Debug, Clone, Copy)]
struct Moved {
    status: &'static str,
    updated_at: DateTime<Utc>,
}

/// What the emulator keeps beside the data set.
#[derive(Debug, Default)]
struct Extra {
    /// Invites moved since start, by sequence number.
    moved: BTreeMap<u64, Moved>,
    /// Each idempotency key seen, with the parameters it was first used with.
    keys: HashMap<String, String>,
}

type Shared = support::Shared<ScriptedError, Extra>;

/// The per-emulator constants the handlers need.
#[derive(Debug, Clone)]
struct Ctx {
    shared: Shared,
    token: String,
    account_id: String,
    partition: u32,
    honour_idempotency_keys: bool,
}

/// A running Prefactor emulator. Stops when dropped.
#[derive(Debug)]
pub struct PrefactorEmulator {
    running: Running,
    ctx: Ctx,
}

impl PrefactorEmulator {
    /// Starts the emulator on `127.0.0.1` at an ephemeral port.
    pub async fn start(config: PrefactorConfig) -> std::io::Result<Self> {
        let latency = config.latency;
        let spacing = config.spacing.max(chrono::Duration::milliseconds(1));
        let mut data = Dataset::new(config.seed, config.invites, config.newest_at, spacing);
        data.set_drift(config.drift);
        let partition = (hash(config.seed, 0, 20) & 0x3FFF_FFFF) as u32;
        let account_since = data.created_at(0) - chrono::Duration::days(30);
        let account_id = pfid(
            millis(account_since),
            partition,
            u128::from(hash(config.seed, 0, 21)),
        );
        let ctx = Ctx {
            shared: Shared::new(data, config.faults, config.rate_limit),
            token: config.token,
            account_id,
            partition,
            honour_idempotency_keys: config.honour_idempotency_keys,
        };
        let router = Router::new()
            .route(PATH, any(list))
            .fallback(not_found)
            .with_state(ctx.clone());
        let running = Running::serve(router, latency).await?;
        Ok(Self { running, ctx })
    }

    /// `http://127.0.0.1:PORT` (the API lives under `/api/v1`).
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// The accepted bearer token.
    pub fn token(&self) -> &str {
        &self.ctx.token
    }

    /// The account the token belongs to (a PFID).
    pub fn account_id(&self) -> &str {
        &self.ctx.account_id
    }

    /// Ground truth: every live invite's id, in ascending id (creation) order.
    pub fn ids(&self) -> Vec<String> {
        self.ascending(invite_id)
    }

    /// Ground truth: every live invite as the API renders it, in ascending id order.
    pub fn rows(&self) -> Vec<Value> {
        self.ascending(row)
    }

    fn ascending<T>(&self, render: fn(&Dataset, &Extra, &Ctx, u64) -> T) -> Vec<T> {
        let state = self.ctx.shared.lock();
        let mut seqs = state.data.all_desc();
        seqs.reverse();
        seqs.into_iter()
            .map(|seq| render(&state.data, &state.extra, &self.ctx, seq))
            .collect()
    }

    /// Moves the `count` oldest live invites that are not yet `revoked` one step now
    /// (`pending` → `used`, `used` → `revoked`) and sets their `updated_at` to the current
    /// second (at least a second after the previous one); repeated calls move the same rows
    /// on. Returns the changed rows as the API now renders them, in ascending id order
    /// (fewer if fewer can move); [`PrefactorEmulator::rows`] shows them too.
    pub fn advance_statuses(&self, count: u64) -> Vec<Value> {
        let mut state = self.ctx.shared.lock();
        let state = &mut *state;
        let seqs = {
            let (data, extra) = (&state.data, &state.extra);
            data.oldest_where(count, |seq| status(data, extra, seq).0 != "revoked")
        };
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now);
        for &seq in &seqs {
            let (was, updated) = status(&state.data, &state.extra, seq);
            let moved = Moved {
                status: if was == "pending" { "used" } else { "revoked" },
                updated_at: now.max(updated + chrono::Duration::seconds(1)),
            };
            state.extra.moved.insert(seq, moved);
        }
        seqs.into_iter()
            .map(|seq| row(&state.data, &state.extra, &self.ctx, seq))
            .collect()
    }

    /// The next authenticated list request answers with this error `code` and HTTP status
    /// (e.g. `(409, "idempotency_key_already_used")`); several queue up in order.
    /// `validation_errors` comes with an `errors` map.
    pub fn push_error(&self, status: u16, code: &str) {
        self.ctx
            .shared
            .lock()
            .scripted
            .push_back((status, code.to_owned()));
    }
}

impl Emulator for PrefactorEmulator {
    fn base_url(&self) -> String {
        PrefactorEmulator::base_url(self)
    }
    fn ids(&self) -> Vec<String> {
        PrefactorEmulator::ids(self)
    }
    fn insert_newest(&self, count: u64) {
        self.ctx.shared.lock().data.insert_head(count);
    }
    fn delete_at(&self, n: u64) -> bool {
        self.ctx.shared.lock().data.delete_oldest_at(n)
    }
    fn set_faults(&self, faults: FaultPlan) {
        self.ctx.shared.lock().faults = faults;
    }
    fn set_drift(&self, drift: Drift) {
        self.ctx.shared.lock().data.set_drift(drift);
    }
    fn set_page_clamp(&self, rows: Option<u64>) {
        self.ctx.shared.lock().data.set_page_clamp(rows);
    }
    fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.ctx.shared.set_rate_limit(limit);
    }
    fn requests(&self) -> Vec<String> {
        self.ctx.shared.requests()
    }
    fn request_log(&self) -> Vec<RequestRecord> {
        self.ctx.shared.request_log()
    }
    fn throttling(&self) -> Throttling {
        self.ctx.shared.throttling()
    }
}

/// A PFID: 2 zero bits, 48-bit ms timestamp, 30-bit partition, 80 random bits, as 32
/// lowercase Crockford base32 characters.
fn pfid(ms: u64, partition: u32, random: u128) -> String {
    let high = (u128::from(ms & 0xFFFF_FFFF_FFFF) << 30) | u128::from(partition & 0x3FFF_FFFF);
    let low = random & ((1u128 << 80) - 1);
    let mut out = String::with_capacity(32);
    for half in [high, low] {
        for i in (0..16).rev() {
            out.push(char::from(CROCKFORD[((half >> (5 * i)) & 31) as usize]));
        }
    }
    out
}

/// True for 32 lowercase Crockford base32 characters whose first is `0`-`7` (top 2 bits
/// zero).
fn is_pfid(s: &str) -> bool {
    s.len() == 32
        && s.bytes().all(|b| CROCKFORD.contains(&b))
        && s.as_bytes()
            .first()
            .is_some_and(|b| (b'0'..=b'7').contains(b))
}

fn millis(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp_millis()).unwrap_or(0)
}

fn invite_id(data: &Dataset, _: &Extra, ctx: &Ctx, seq: u64) -> String {
    let seed = data.seed();
    let random = (u128::from(hash(seed, seq, 22)) << 16) | u128::from(hash(seed, seq, 23) & 0xFFFF);
    pfid(millis(data.created_at(seq)), ctx.partition, random)
}

/// An invite's `status` and `updated_at`: as moved, else as generated (half pending, the
/// rest used or revoked within 45 minutes).
fn status(data: &Dataset, extra: &Extra, seq: u64) -> (&'static str, DateTime<Utc>) {
    if let Some(moved) = extra.moved.get(&seq) {
        return (moved.status, moved.updated_at);
    }
    let seed = data.seed();
    let inserted = data.created_at(seq);
    match hash(seed, seq, 24) % 100 {
        0..=49 => ("pending", inserted),
        roll => {
            let later = inserted + chrono::Duration::minutes((hash(seed, seq, 25) % 45) as i64 + 1);
            (if roll < 85 { "used" } else { "revoked" }, later)
        }
    }
}

fn row(data: &Dataset, extra: &Extra, ctx: &Ctx, seq: u64) -> Value {
    let seed = data.seed();
    let inserted = data.created_at(seq);
    let (status, updated) = status(data, extra, seq);
    json!({
        "account_id": ctx.account_id,
        "email": email(seed, seq),
        "id": invite_id(data, extra, ctx, seq),
        "inserted_at": inserted.to_rfc3339_opts(SecondsFormat::Secs, true),
        "invite_url": format!("https://app.prefactorai.com/invite/{:016x}{:016x}", hash(seed, seq, 26), hash(seed, seq, 27)),
        "status": status,
        "type": "admin_user_invite",
        "updated_at": updated.to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}

/// The error envelope.
fn envelope(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "status": "error", "code": code, "message": message })),
    )
        .into_response()
}

/// 422 `validation_errors` with its `errors` map.
fn validation_errors(errors: BTreeMap<&str, String>) -> Response {
    let errors: Map<String, Value> = errors
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!([v])))
        .collect();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "status": "error",
            "code": "validation_errors",
            "message": "the request has invalid parameters",
            "errors": errors,
        })),
    )
        .into_response()
}

fn scripted(status: u16, code: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    if code == "validation_errors" {
        return validation_errors(BTreeMap::from([("email", "has invalid format".to_owned())]));
    }
    envelope(status, code, &format!("sandbox: scripted {code}"))
}

/// Beyond the rate limit: 429 in the envelope. The documented `code` enum has no throttling
/// value; `unknown` is its catch-all (`not_permitted` would read as a permission refusal
/// and `unexpected` as a server fault, both wrong for "slow down").
fn throttled() -> Response {
    envelope(
        StatusCode::TOO_MANY_REQUESTS,
        "unknown",
        "rate limit exceeded",
    )
}

const ANSWERS: Answers = Answers {
    fault: render_fault,
    throttled,
};

fn render_fault(fault: Fault) -> Option<Response> {
    match fault {
        Fault::RateLimited { retry_after } => {
            let mut response = envelope(
                StatusCode::TOO_MANY_REQUESTS,
                "unknown",
                "too many requests",
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
            "unexpected",
            "an unexpected error occurred",
        )),
        Fault::Refused { status, code } => Some(envelope(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &code,
            &format!("sandbox: injected {code}"),
        )),
        Fault::Bare { status, html } => Some(bare(status, html)),
        Fault::Malformed => Some(malformed()),
        Fault::Reset => Some(reset()),
        Fault::Slow(_) | Fault::NullData { .. } => None,
    }
}

async fn not_found(method: Method) -> Response {
    envelope(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("no route for {method}"),
    )
}

/// A parameter that must be an integer of at least `min` (and at most `max`); a bad value
/// is recorded in `errors` (reported as `validation_errors`).
fn integer(
    params: &HashMap<String, String>,
    key: &'static str,
    default: u64,
    (min, max): (u64, Option<u64>),
    errors: &mut BTreeMap<&'static str, String>,
) -> u64 {
    let Some(text) = params.get(key) else {
        return default;
    };
    let Ok(n) = text.parse::<i64>() else {
        errors.insert(key, "is invalid: must be an integer".to_owned());
        return default;
    };
    match u64::try_from(n) {
        Ok(n) if n >= min && max.is_none_or(|max| n <= max) => n,
        _ => {
            let bound = match max {
                Some(max) => format!("must be between {min} and {max}"),
                None => format!("must be greater than or equal to {min}"),
            };
            errors.insert(key, bound);
            default
        }
    }
}

/// Binds a new `idempotency_key` to the request's other parameters (decoded, in key order,
/// so a retry that sends them in another order is the same request), or refuses a known
/// key bound to other parameters. Only requests that passed validation get here, so a
/// refused request does not consume its key (the way Stripe documents its keys).
///
/// The status is 422: the IETF `Idempotency-Key` draft (draft-ietf-httpapi-idempotency-key-
/// header, section 2.7) answers "reuse of a key with a different request payload" with 422
/// and keeps 409 for a retry that arrives while the first request is still in flight, which
/// a sandbox that answers at once never sees. Prefactor documents the code, not a status.
fn check_idempotency_key(
    keys: &mut HashMap<String, String>,
    params: &HashMap<String, String>,
) -> Option<Response> {
    let key = params.get("idempotency_key").filter(|k| !k.is_empty())?;
    let others: BTreeMap<&String, &String> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "idempotency_key")
        .collect();
    let fingerprint = others
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    match keys.get(key) {
        Some(bound) if *bound != fingerprint => Some(envelope(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_already_used",
            "the idempotency key was already used for a different request",
        )),
        Some(_) => None,
        None => {
            keys.insert(key.clone(), fingerprint);
            None
        }
    }
}

async fn list(
    State(ctx): State<Ctx>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(response) = ctx
        .shared
        .prelude(
            &method,
            PATH,
            query.as_deref(),
            bearer(&headers).token(),
            ANSWERS,
        )
        .await
    {
        return response;
    }
    if method != Method::GET {
        return not_found(method).await;
    }
    match bearer(&headers) {
        Bearer::Missing => {
            return envelope(
                StatusCode::UNAUTHORIZED,
                "not_authenticated",
                "authentication required",
            )
        }
        Bearer::Token(t) if t == ctx.token => {}
        _ => {
            return envelope(
                StatusCode::UNAUTHORIZED,
                "bad_authtoken",
                "invalid authentication token",
            )
        }
    }
    if let Some((status, code)) = ctx.shared.lock().scripted.pop_front() {
        return scripted(status, &code);
    }
    let params = query_params(query.as_deref());
    if let Some(account) = params.get("account_id") {
        if !is_pfid(account) {
            return envelope(
                StatusCode::BAD_REQUEST,
                "invalid_value",
                "account_id is not a valid id",
            );
        }
        if *account != ctx.account_id {
            return envelope(
                StatusCode::FORBIDDEN,
                "not_permitted",
                "the token may not access this account",
            );
        }
    }
    let (descending, echo) = match params.get("sorting").map(String::as_str) {
        None => (false, Value::Null),
        Some(sorting) => {
            let (field, descending) = match sorting.strip_prefix('-') {
                Some(field) => (field, true),
                None => (sorting, false),
            };
            if !matches!(field, "id" | "inserted_at") {
                return envelope(
                    StatusCode::BAD_REQUEST,
                    "invalid_value",
                    &format!("sorting by {field:?} is not supported for admin user invites"),
                );
            }
            let direction = if descending { "desc" } else { "asc" };
            (
                descending,
                json!({ "field": field, "direction": direction }),
            )
        }
    };
    let mut errors = BTreeMap::new();
    let offset = integer(&params, "pagination[offset]", 0, (0, None), &mut errors);
    let size = integer(
        &params,
        "pagination[page_size]",
        DEFAULT_PAGE_SIZE,
        (1, Some(MAX_PAGE_SIZE)),
        &mut errors,
    );
    if !errors.is_empty() {
        return validation_errors(errors);
    }

    let mut state = ctx.shared.lock();
    if ctx.honour_idempotency_keys {
        if let Some(refusal) = check_idempotency_key(&mut state.extra.keys, &params) {
            return refusal;
        }
    }
    let size = state.data.page_size(size);
    let end = state.data.end();
    let seqs = if descending {
        state.data.page_desc(0, end, offset, size)
    } else {
        state.data.page_asc(0, end, offset, size)
    };
    let summaries: Vec<Value> = seqs
        .iter()
        .map(|&seq| row(&state.data, &state.extra, &ctx, seq))
        .collect();
    let count = state.data.len();
    let pagination = json!({
        "item_count": count,
        "item_end": offset + summaries.len() as u64,
        "item_start": offset + 1,
        "next_page_offset": (offset + size < count).then_some(offset + size),
        "page_count": count.div_ceil(size),
        "page_index": offset / size + 1,
        "page_offset": offset,
        "page_size": size,
        "previous_page_offset": (offset > 0).then(|| offset.saturating_sub(size)),
    });
    state.data.after_request();
    Json(json!({
        "status": "success",
        "summaries": summaries,
        "pagination": pagination,
        "sorting": echo,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pfids_match_the_documented_example() {
        // 013xrzp12g3nqk8ngskn1wtxgka5b0nf: ms 1234567890000, partition 123456789.
        let id = pfid(1_234_567_890_000, 123_456_789, 0);
        assert_eq!(&id[..16], "013xrzp12g3nqk8n");
        assert!(is_pfid(&id) && is_pfid("013xrzp12g3nqk8ngskn1wtxgka5b0nf"));
        assert!(!is_pfid("013XRZP12G3NQK8NGSKN1WTXGKA5B0NF"));
        assert!(!is_pfid("zz3xrzp12g3nqk8ngskn1wtxgka5b0nf"));
        assert!(pfid(1, 0, u128::MAX) < pfid(2, 0, 0), "time-ordered");
    }
}
