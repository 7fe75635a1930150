//! Census emulator: `GET /api/v1/invitations` ("List invitations", seed 004, an
//! organization API of what is now Fivetran Activations).
//!
//! Behaviour reproduced, and the choices made where the documents are silent:
//!
//! * `Authorization: Bearer <personal access token>`; anything else → 401.
//! * `page`: one-based; `0` (or a missing, negative or non-numeric value) is page 1.
//! * `per_page`: default 25; "It can't exceed 100": a larger value is **clamped** to 100
//!   (and echoed as 100), the way a capped page size usually behaves; `0` or a
//!   non-numeric value is the default.
//! * `order`: `asc` or `desc` by creation time, default `desc` (the API's documented
//!   default); any other value → 422.
//! * `pagination`: `total_records`, `per_page`, `prev_page` (null on page 1), `page`,
//!   `next_page` (null on the last page and beyond), `last_page` (the last page with
//!   records; 1 for an empty list).
//! * Errors are undocumented: JSON `{"status": "error", "message": …}` for 401, 404, 422
//!   and scripted ones ([`CensusEmulator::push_error`], e.g. 403 for a non-admin token);
//!   the throttling and server-error faults answer **plain text** (`Retry later`, `Internal
//!   Server Error`), as a Rails front end does, so clients must cope with a body that is not
//!   JSON.
//! * Rate limits are undocumented: beyond [`CensusConfig::rate_limit`] (per bearer token)
//!   the answer is 429 with the JSON `message` body and no `Retry-After`.
//! * [`CensusConfig::approximate_total`] makes `total_records` (and with it `last_page` and
//!   `next_page`) an approximate count, off by a fixed amount.
//!
//! Ids are integers that grow with creation time. Unclaimed invitations carry pending
//! workspace invitations; claimed ones have `claimed_at`/`claimed_by_id` set, and
//! [`CensusEmulator::claim`] claims old ones between runs (kept in a small map; rows stay
//! computed from their sequence number).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::faults::{bare, malformed, reset};
use crate::generate::{email, hash};
use crate::support::{self, bearer, query_params, Answers, ScriptedError};
use crate::{
    Dataset, Drift, Emulator, Fault, FaultPlan, RateLimit, RequestRecord, Running, Throttling,
};

const PATH: &str = "/api/v1/invitations";
/// Documented default and maximum of `per_page`.
const DEFAULT_PER_PAGE: u64 = 25;
const MAX_PER_PAGE: u64 = 100;
/// The first invitation's id.
const FIRST_ID: u64 = 90_000;

/// How to start a [`CensusEmulator`].
#[derive(Debug, Clone)]
pub struct CensusConfig {
    /// Invitations in the organization at start.
    pub invitations: u64,
    /// Seed of the generated data.
    pub seed: u64,
    /// The personal access token the server accepts.
    pub token: String,
    /// How long after its request each answer leaves (the answer is built meanwhile).
    pub latency: Duration,
    /// Injected failures.
    pub faults: FaultPlan,
    /// Changes applied after every served list request.
    pub drift: Drift,
    /// Server-side rate limit per bearer token; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Added to the real count in `total_records` (negative: an undercount), floored at 0.
    pub total_error: i64,
    /// Creation time of the newest invitation.
    pub newest_at: DateTime<Utc>,
    /// Time between consecutive invitations.
    pub spacing: chrono::Duration,
}

impl CensusConfig {
    /// `invitations` rows, no faults, no drift, one invitation every 10 minutes up to an
    /// hour ago.
    pub fn new(invitations: u64) -> Self {
        Self {
            invitations,
            seed: 4,
            token: "census_sandbox_pat_8c2d".into(),
            latency: Duration::ZERO,
            faults: FaultPlan::none(),
            drift: Drift::default(),
            rate_limit: None,
            total_error: 0,
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

    /// Limits each token to `limit` (answered as 429 with a `message`).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Reports `total_records` off by `by` (an approximate count: larger when positive,
    /// smaller when negative, never below 0); `last_page` and `next_page` follow the
    /// reported count, while `data` still holds the real rows of the page asked for.
    pub fn approximate_total(mut self, by: i64) -> Self {
        self.total_error = by;
        self
    }
}

/// When each invitation claimed by [`CensusEmulator::claim`] was claimed, by sequence number.
type Claims = BTreeMap<u64, DateTime<Utc>>;

type Shared = support::Shared<ScriptedError, Claims>;

#[derive(Debug, Clone)]
struct Ctx {
    shared: Shared,
    token: String,
    total_error: i64,
}

/// A running Census emulator. Stops when dropped.
#[derive(Debug)]
pub struct CensusEmulator {
    running: Running,
    ctx: Ctx,
}

impl CensusEmulator {
    /// Starts the emulator on `127.0.0.1` at an ephemeral port.
    pub async fn start(config: CensusConfig) -> std::io::Result<Self> {
        let latency = config.latency;
        let mut data = Dataset::new(
            config.seed,
            config.invitations,
            config.newest_at,
            config.spacing,
        );
        data.set_drift(config.drift);
        let ctx = Ctx {
            shared: Shared::new(data, config.faults, config.rate_limit),
            token: config.token,
            total_error: config.total_error,
        };
        let router = Router::new()
            .route(PATH, any(list))
            .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found") })
            .with_state(ctx.clone());
        let running = Running::serve(router, latency).await?;
        Ok(Self { running, ctx })
    }

    /// `http://127.0.0.1:PORT` (the API lives under `/api/v1`).
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// The accepted personal access token.
    pub fn token(&self) -> &str {
        &self.ctx.token
    }

    /// Ground truth: every live invitation's id, newest first (the API's default order).
    pub fn ids_newest_first(&self) -> Vec<String> {
        let state = self.ctx.shared.lock();
        state
            .data
            .all_desc()
            .into_iter()
            .map(|seq| (FIRST_ID + seq).to_string())
            .collect()
    }

    /// Ground truth: every live invitation as the API renders it, newest first.
    pub fn rows_newest_first(&self) -> Vec<Value> {
        let state = self.ctx.shared.lock();
        state
            .data
            .all_desc()
            .into_iter()
            .map(|seq| row(&state.data, &state.extra, seq))
            .collect()
    }

    /// Claims the `count` oldest unclaimed live invitations now: `claimed_at` becomes the
    /// current time (never before `created_at`), `claimed_by_id` is set and their pending
    /// workspace invitations are accepted (the list empties). Returns the changed rows as
    /// the API now renders them, oldest first (fewer if fewer are unclaimed);
    /// [`CensusEmulator::rows_newest_first`] shows them too.
    pub fn claim(&self, count: u64) -> Vec<Value> {
        let mut state = self.ctx.shared.lock();
        let state = &mut *state;
        let seqs = {
            let (data, claims) = (&state.data, &state.extra);
            data.oldest_where(count, |seq| {
                !claims.contains_key(&seq) && generated_claim(data, seq).is_none()
            })
        };
        let now = Utc::now();
        for &seq in &seqs {
            let at = now.max(state.data.created_at(seq));
            state.extra.insert(seq, at);
        }
        seqs.into_iter()
            .map(|seq| row(&state.data, &state.extra, seq))
            .collect()
    }

    /// The next authenticated list request answers with this status and `message`
    /// (an empty message sends an empty body); several queue up in order.
    pub fn push_error(&self, status: u16, message: &str) {
        self.ctx
            .shared
            .lock()
            .scripted
            .push_back((status, message.to_owned()));
    }
}

impl Emulator for CensusEmulator {
    fn base_url(&self) -> String {
        CensusEmulator::base_url(self)
    }
    fn ids(&self) -> Vec<String> {
        self.ids_newest_first()
    }
    fn insert_newest(&self, count: u64) {
        self.ctx.shared.lock().data.insert_head(count);
    }
    fn delete_at(&self, n: u64) -> bool {
        self.ctx.shared.lock().data.delete_newest_at(n)
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

const ROLES: [&str; 3] = ["admin", "member", "viewer"];
const WORKSPACE_ROLES: [&str; 3] = ["Owner", "Editor", "Viewer"];

/// When the generated data has invitation `seq` claimed, if it does: 60% are, within 45
/// minutes (so with the default data nothing is claimed in the future).
fn generated_claim(data: &Dataset, seq: u64) -> Option<DateTime<Utc>> {
    let seed = data.seed();
    (hash(seed, seq, 40) % 100 < 60).then(|| {
        data.created_at(seq) + chrono::Duration::minutes((hash(seed, seq, 41) % 45) as i64 + 1)
    })
}

fn row(data: &Dataset, claims: &Claims, seq: u64) -> Value {
    serde_json::to_value(typed_row(data, claims, seq)).expect("a row is plain data")
}

/// One invitation as the API renders it (typed: the list handler serializes it straight
/// to bytes, without building a `Value` tree per row under the emulator's lock).
#[derive(Serialize)]
struct Row {
    id: u64,
    email: String,
    created_at: String,
    created_by_id: u64,
    claimed_at: Option<String>,
    claimed_by_id: Option<u64>,
    role: &'static str,
    associated_workspace_invitations: Vec<WorkspaceInvitation>,
}

/// A pending workspace invitation inside a row.
#[derive(Serialize)]
struct WorkspaceInvitation {
    id: u64,
    workspace_id: u64,
    role: &'static str,
}

/// The list answer's body.
#[derive(Serialize)]
struct Listing {
    status: &'static str,
    pagination: Value,
    data: Vec<Row>,
}

fn typed_row(data: &Dataset, claims: &Claims, seq: u64) -> Row {
    let seed = data.seed();
    let claimed = claims
        .get(&seq)
        .copied()
        .or_else(|| generated_claim(data, seq));
    let pending = |k| WorkspaceInvitation {
        id: 500_000 + seq * 3 + k,
        workspace_id: 1_200 + hash(seed, seq * 3 + k, 43) % 20,
        role: WORKSPACE_ROLES[(hash(seed, seq * 3 + k, 44) % 3) as usize],
    };
    Row {
        id: FIRST_ID + seq,
        email: email(seed, seq),
        created_at: data
            .created_at(seq)
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        created_by_id: 10 + hash(seed, seq, 45) % 5,
        claimed_at: claimed.map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true)),
        claimed_by_id: claimed.map(|_| 10_000 + seq),
        role: ROLES[(hash(seed, seq, 46) % 3) as usize],
        associated_workspace_invitations: match claimed {
            Some(_) => Vec::new(),
            None => (0..hash(seed, seq, 42) % 3).map(pending).collect(),
        },
    }
}

/// A JSON error body with a `message`.
fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "status": "error", "message": message })),
    )
        .into_response()
}

/// A plain-text answer (what a proxy or the framework sends, not the API).
fn text(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

/// Census documents no rate limit: a 429 with the JSON `message` the error bodies carry,
/// without `Retry-After` (none is documented either).
fn throttled() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded, please retry later",
    )
}

const ANSWERS: Answers = Answers {
    fault: render_fault,
    throttled,
};

fn render_fault(fault: Fault) -> Option<Response> {
    match fault {
        Fault::RateLimited { retry_after } => {
            let mut response = text(StatusCode::TOO_MANY_REQUESTS, "Retry later\n");
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Some(response)
        }
        Fault::ServerError(code) => Some(text(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "Internal Server Error",
        )),
        Fault::Refused { status, code } => Some(error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &code,
        )),
        Fault::Bare { status, html } => Some(bare(status, html)),
        Fault::Malformed => Some(malformed()),
        Fault::Reset => Some(reset()),
        Fault::Slow(_) | Fault::NullData { .. } => None,
    }
}

async fn list(
    State(ctx): State<Ctx>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let token = bearer(&headers).token();
    if let Some(response) = ctx
        .shared
        .prelude(&method, PATH, query.as_deref(), token, ANSWERS)
        .await
    {
        return response;
    }
    if method != Method::GET {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    if token != Some(ctx.token.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "You must provide a valid personal access token",
        );
    }
    if let Some((status, message)) = ctx.shared.lock().scripted.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        return if message.is_empty() {
            status.into_response()
        } else {
            error(status, &message)
        };
    }
    let params = query_params(query.as_deref());
    let number = |key: &str| params.get(key).and_then(|v| v.parse::<u64>().ok());
    let page = number("page").unwrap_or(1).max(1);
    let per_page = match number("per_page") {
        None | Some(0) => DEFAULT_PER_PAGE,
        Some(n) => n.min(MAX_PER_PAGE),
    };
    let ascending = match params.get("order").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "order must be one of: asc, desc",
            )
        }
    };

    let mut state = ctx.shared.lock();
    let per_page = state.data.page_size(per_page);
    let end = state.data.end();
    let offset = (page - 1).saturating_mul(per_page);
    let seqs = if ascending {
        state.data.page_asc(0, end, offset, per_page)
    } else {
        state.data.page_desc(0, end, offset, per_page)
    };
    let data: Vec<Row> = seqs
        .into_iter()
        .map(|seq| typed_row(&state.data, &state.extra, seq))
        .collect();
    let real = i64::try_from(state.data.len()).unwrap_or(i64::MAX);
    let total = u64::try_from(real.saturating_add(ctx.total_error)).unwrap_or(0);
    let last_page = total.div_ceil(per_page).max(1);
    let pagination = json!({
        "total_records": total,
        "per_page": per_page,
        "prev_page": (page > 1).then(|| page - 1),
        "page": page,
        "next_page": (page < last_page).then_some(page + 1),
        "last_page": last_page,
    });
    state.data.after_request();
    drop(state);
    let listing = Listing {
        status: "success",
        pagination,
        data,
    };
    Json(listing).into_response()
}
