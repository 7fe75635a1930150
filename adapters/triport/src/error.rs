//! Every documented Triport error as its own variant.

use std::time::{Duration, SystemTime};

use affiliate_core::{AdapterError, ErrorKind};
use affiliate_http::{
    decode_json, parse_retry_after, snippet, ConnectError, DecodeError, Exchange, ResponseError,
    TransportError,
};
use serde::Deserialize;

/// The optional parts of Triport's error envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiDetails {
    /// Human-readable message, when the server sent one.
    pub message: Option<String>,
    /// `req_…` id to quote to Triport support.
    pub request_id: Option<String>,
}

impl std::fmt::Display for ApiDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request_id {id})")?;
        }
        Ok(())
    }
}

/// A Triport failure. One variant per documented error tag, plus the failures around them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TriportError {
    /// 401 `unauthenticated`: no valid console session cookie.
    #[error("401 unauthenticated: no valid console session cookie (nl_session){0}")]
    Unauthenticated(ApiDetails),
    /// 429 `rate_limited`, after the retries ran out.
    #[error("429 rate_limited{details} (Retry-After: {retry_after:?})")]
    RateLimited {
        /// What the server asked to wait.
        retry_after: Option<Duration>,
        /// Envelope details.
        details: ApiDetails,
    },
    /// 500 `internal`, after the retries ran out.
    #[error("{status} internal: Triport failed server-side{details}")]
    Internal {
        /// HTTP status.
        status: u16,
        /// Envelope details.
        details: ApiDetails,
    },
    /// 403 `tier_insufficient` (shared error guide): the account's tier is too low for the
    /// endpoint.
    #[error("403 tier_insufficient: the account's Triport tier does not include this endpoint{0}")]
    TierInsufficient(ApiDetails),
    /// 401 `trial_expired` (shared error guide): the account's trial has ended.
    #[error("401 trial_expired: the Triport trial has ended{0}")]
    TrialExpired(ApiDetails),
    /// 401 `admin_token_unset`: the server has no operator token; the admin surface is off.
    #[error("401 admin_token_unset: the server has no operator token configured{0}")]
    AdminTokenUnset(ApiDetails),
    /// 401 `admin_token_invalid`: `X-Admin-Token` missing or wrong.
    #[error("401 admin_token_invalid: the X-Admin-Token was refused{0}")]
    AdminTokenInvalid(ApiDetails),
    /// 400 `invalid_user_id`: the path's user id is not a UUID.
    #[error("400 invalid_user_id: the user id is not a valid UUID{0}")]
    InvalidUserId(ApiDetails),
    /// 405 `method_not_allowed`.
    #[error("405 method_not_allowed{0}")]
    MethodNotAllowed(ApiDetails),
    /// 410 Gone: a retired route (e.g. `POST /v1/admin/referrals/simulate-paid`).
    #[error("410 gone: the route was retired{0}")]
    Gone(ApiDetails),
    /// An error tag this version does not know, kept verbatim.
    #[error("{status} {tag}{details}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The `error` tag as sent.
        tag: String,
        /// Envelope details.
        details: ApiDetails,
    },
    /// A non-success status without Triport's envelope.
    #[error("unexpected HTTP {status} without an error envelope; body starts with {body:?}")]
    UnexpectedStatus {
        /// HTTP status.
        status: u16,
        /// The first bytes of the body.
        body: String,
    },
    /// A success status whose body is not the documented JSON.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// No usable response (connect, timeout, reset, oversized body, insecure URL).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The call needs a credential the client was built without.
    #[error("missing credential: {0} (set it on the builder or in the environment)")]
    MissingCredential(&'static str),
    /// A user id argument that is not a UUID (caught before any request).
    #[error("{0:?} is not a UUID; Triport user ids are UUIDs")]
    NotAUuid(String),
    /// The client was configured wrongly.
    #[error("invalid Triport configuration: {0}")]
    Config(String),
    /// The base URL or the transport could not be set up.
    #[error("invalid Triport configuration: {0}")]
    Connect(#[from] ConnectError),
}

impl AdapterError for TriportError {
    fn kind(&self) -> ErrorKind {
        match self {
            TriportError::Unauthenticated(_) | TriportError::AdminTokenInvalid(_) => {
                ErrorKind::Unauthenticated
            }
            // The server's own configuration, not the caller's token.
            TriportError::AdminTokenUnset(_) => ErrorKind::Disabled,
            TriportError::TierInsufficient(_) | TriportError::TrialExpired(_) => {
                ErrorKind::PermissionDenied
            }
            TriportError::RateLimited { .. } => ErrorKind::RateLimited,
            TriportError::Internal { .. } => ErrorKind::Server,
            TriportError::InvalidUserId(_) | TriportError::MethodNotAllowed(_) => {
                ErrorKind::InvalidRequest
            }
            TriportError::Gone(_) => ErrorKind::Gone,
            TriportError::Api { status, .. } | TriportError::UnexpectedStatus { status, .. } => {
                kind_of_status(*status)
            }
            TriportError::Decode(_) => ErrorKind::Decode,
            TriportError::Transport(_) => ErrorKind::Transport,
            TriportError::MissingCredential(_) => ErrorKind::MissingCredential,
            TriportError::NotAUuid(_) | TriportError::Config(_) | TriportError::Connect(_) => {
                ErrorKind::Config
            }
        }
    }
}

/// The kind of a status without a known tag (an unknown tag, or a proxy's bare answer).
fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Unauthenticated,
        403 => ErrorKind::PermissionDenied,
        429 => ErrorKind::RateLimited,
        410 => ErrorKind::Gone,
        500.. => ErrorKind::Server,
        _ => ErrorKind::Other,
    }
}

/// Triport's shared error envelope `{"error": "<tag>", …}`.
#[derive(Deserialize)]
pub(crate) struct Envelope {
    pub(crate) error: String,
    message: Option<String>,
    request_id: Option<String>,
}

impl ResponseError for TriportError {
    /// Maps a non-success response to its variant (unknown tags are kept verbatim in
    /// [`TriportError::Api`]).
    fn from_response(exchange: &Exchange) -> Self {
        let status = exchange.status.as_u16();
        let Ok(env) = decode_json::<Envelope>(exchange) else {
            return if status == 410 {
                TriportError::Gone(ApiDetails::default())
            } else {
                TriportError::UnexpectedStatus {
                    status,
                    body: snippet(&exchange.body),
                }
            };
        };
        let details = ApiDetails {
            message: env.message,
            request_id: env.request_id,
        };
        match (status, env.error.as_str()) {
            (_, "unauthenticated") => TriportError::Unauthenticated(details),
            (_, "rate_limited") => TriportError::RateLimited {
                retry_after: parse_retry_after(&exchange.headers, SystemTime::now()),
                details,
            },
            (_, "internal") => TriportError::Internal { status, details },
            (_, "admin_token_unset") => TriportError::AdminTokenUnset(details),
            (_, "tier_insufficient") => TriportError::TierInsufficient(details),
            (_, "trial_expired") => TriportError::TrialExpired(details),
            (_, "admin_token_invalid") => TriportError::AdminTokenInvalid(details),
            (_, "invalid_user_id") => TriportError::InvalidUserId(details),
            (_, "method_not_allowed") => TriportError::MethodNotAllowed(details),
            (410, _) => TriportError::Gone(details),
            (_, tag) => TriportError::Api {
                status,
                tag: tag.to_owned(),
                details,
            },
        }
    }
}
