//! Every documented Prefactor error code as its own variant.

use std::time::{Duration, SystemTime};

use affiliate_core::{AdapterError, ErrorKind};
use affiliate_http::{
    decode_json, parse_retry_after, snippet, ConnectError, DecodeError, Exchange, ResponseError,
    TransportError,
};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The parts of Prefactor's error envelope besides the code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiDetails {
    /// HTTP status of the response.
    pub status: u16,
    /// The envelope's human-readable `message`, when present.
    pub message: Option<String>,
}

impl std::fmt::Display for ApiDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, " (HTTP {})", self.status)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

/// A Prefactor failure: one variant per `code` of the documented error enum, plus
/// `validation_errors`, unknown codes, and the failures around them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrefactorError {
    /// `bad_request`: the request was malformed.
    #[error("bad_request{0}")]
    BadRequest(ApiDetails),
    /// `bad_authtoken`: the bearer token is invalid, expired, suspended or revoked.
    #[error("bad_authtoken: the API token was refused{0}")]
    BadAuthtoken(ApiDetails),
    /// `not_authenticated`: no credentials reached the server.
    #[error("not_authenticated: no API token was accepted{0}")]
    NotAuthenticated(ApiDetails),
    /// `not_permitted`: the token may not read this account's invites.
    #[error("not_permitted: the token lacks permission for this account{0}")]
    NotPermitted(ApiDetails),
    /// `not_implemented`.
    #[error("not_implemented{0}")]
    NotImplemented(ApiDetails),
    /// `unknown`: an error Prefactor itself could not classify.
    #[error("unknown error{0}")]
    Unknown(ApiDetails),
    /// `not_found`: the account or route does not exist.
    #[error("not_found{0}")]
    NotFound(ApiDetails),
    /// `unexpected_ref_type`: an id of the wrong kind (e.g. not an account id).
    #[error("unexpected_ref_type: an id of the wrong kind was passed{0}")]
    UnexpectedRefType(ApiDetails),
    /// `unexpected`: an unexpected server-side error.
    #[error("unexpected error{0}")]
    Unexpected(ApiDetails),
    /// `invalid_action`.
    #[error("invalid_action{0}")]
    InvalidAction(ApiDetails),
    /// `invalid_value`: a parameter has a value the server refuses.
    #[error("invalid_value{0}")]
    InvalidValue(ApiDetails),
    /// `required_value`: a required parameter is missing.
    #[error("required_value{0}")]
    RequiredValue(ApiDetails),
    /// `idempotency_key_already_used`: the configured `idempotency_key` was used before.
    #[error("idempotency_key_already_used{0}")]
    IdempotencyKeyAlreadyUsed(ApiDetails),
    /// `validation_errors`: per-field messages in `errors`.
    #[error("validation_errors{details}; errors: {}", Value::Object(errors.clone()))]
    ValidationErrors {
        /// Status and message.
        details: ApiDetails,
        /// The `errors` map: field name → what is wrong with it.
        errors: Map<String, Value>,
    },
    /// An error code this version does not know, kept verbatim.
    #[error("{code}{details}")]
    Api {
        /// The `code` as sent.
        code: String,
        /// Status and message.
        details: ApiDetails,
    },
    /// HTTP 429 after the retries ran out (Prefactor documents no throttling code).
    #[error("429 rate limited{details} (Retry-After: {retry_after:?})")]
    RateLimited {
        /// What the server asked to wait.
        retry_after: Option<Duration>,
        /// Status and message (code, if any, in the message).
        details: ApiDetails,
    },
    /// A non-success status without Prefactor's envelope.
    #[error("unexpected HTTP {status} without an error envelope; body starts with {body:?}")]
    UnexpectedStatus {
        /// HTTP status.
        status: u16,
        /// The first bytes of the body.
        body: String,
    },
    /// A pagination object that contradicts itself or the request: following it could
    /// loop, skip or double rows.
    #[error("inconsistent pagination object: {0}")]
    Pagination(String),
    /// A success status whose body is not the documented JSON.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// No usable response (connect, timeout, reset, oversized body, insecure URL).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// No API token was configured.
    #[error("missing credential: {0} (set it on the builder or in the environment)")]
    MissingCredential(&'static str),
    /// The client was configured wrongly.
    #[error("invalid Prefactor configuration: {0}")]
    Config(String),
    /// The base URL or the transport could not be set up.
    #[error("invalid Prefactor configuration: {0}")]
    Connect(#[from] ConnectError),
}

impl AdapterError for PrefactorError {
    fn kind(&self) -> ErrorKind {
        use PrefactorError::*;
        match self {
            BadAuthtoken(_) | NotAuthenticated(_) => ErrorKind::Unauthenticated,
            NotPermitted(_) => ErrorKind::PermissionDenied,
            NotFound(_) => ErrorKind::NotFound,
            BadRequest(_)
            | UnexpectedRefType(_)
            | InvalidAction(_)
            | InvalidValue(_)
            | RequiredValue(_)
            | IdempotencyKeyAlreadyUsed(_)
            | ValidationErrors { .. } => ErrorKind::InvalidRequest,
            RateLimited { .. } => ErrorKind::RateLimited,
            NotImplemented(d) | Unknown(d) | Unexpected(d) | Api { details: d, .. } => {
                by_status(d.status)
            }
            UnexpectedStatus { status, .. } => by_status(*status),
            Pagination(_) => ErrorKind::Pagination,
            Decode(_) => ErrorKind::Decode,
            Transport(_) => ErrorKind::Transport,
            MissingCredential(_) => ErrorKind::MissingCredential,
            Config(_) | Connect(_) => ErrorKind::Config,
        }
    }
}

/// The official SDKs' HTTP mapping: 401/403 auth, 404 not found, 400/422 validation,
/// 5xx server, anything else generic.
fn by_status(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Unauthenticated,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        400 | 422 => ErrorKind::InvalidRequest,
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Other,
    }
}

/// The error envelope; every field optional so a partial one still says what it can.
#[derive(Deserialize)]
struct Envelope {
    code: Option<String>,
    message: Option<String>,
    #[serde(default)]
    errors: Option<Map<String, Value>>,
}

impl PrefactorError {
    /// The variant for an error `code` (also used for an error envelope inside a 200).
    pub(crate) fn from_code(
        status: u16,
        code: &str,
        message: Option<String>,
        errors: Option<Map<String, Value>>,
    ) -> Self {
        let details = ApiDetails { status, message };
        match code {
            "bad_request" => PrefactorError::BadRequest(details),
            "bad_authtoken" => PrefactorError::BadAuthtoken(details),
            "not_authenticated" => PrefactorError::NotAuthenticated(details),
            "not_permitted" => PrefactorError::NotPermitted(details),
            "not_implemented" => PrefactorError::NotImplemented(details),
            "unknown" => PrefactorError::Unknown(details),
            "not_found" => PrefactorError::NotFound(details),
            "unexpected_ref_type" => PrefactorError::UnexpectedRefType(details),
            "unexpected" => PrefactorError::Unexpected(details),
            "invalid_action" => PrefactorError::InvalidAction(details),
            "invalid_value" => PrefactorError::InvalidValue(details),
            "required_value" => PrefactorError::RequiredValue(details),
            "idempotency_key_already_used" => PrefactorError::IdempotencyKeyAlreadyUsed(details),
            "validation_errors" => PrefactorError::ValidationErrors {
                details,
                errors: errors.unwrap_or_default(),
            },
            other => PrefactorError::Api {
                code: other.to_owned(),
                details,
            },
        }
    }
}

impl ResponseError for PrefactorError {
    /// Maps a non-success response to its variant: HTTP 429 is always
    /// [`PrefactorError::RateLimited`]; otherwise the envelope's `code` decides.
    fn from_response(exchange: &Exchange) -> Self {
        let status = exchange.status.as_u16();
        let envelope = decode_json::<Envelope>(exchange).ok();
        if status == 429 {
            let message = envelope.and_then(|e| match (e.code, e.message) {
                (Some(code), Some(message)) => Some(format!("{code}: {message}")),
                (code, message) => code.or(message),
            });
            return PrefactorError::RateLimited {
                retry_after: parse_retry_after(&exchange.headers, SystemTime::now()),
                details: ApiDetails { status, message },
            };
        }
        match envelope {
            Some(Envelope {
                code: Some(code),
                message,
                errors,
            }) => Self::from_code(status, &code, message, errors),
            _ => PrefactorError::UnexpectedStatus {
                status,
                body: snippet(&exchange.body),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every documented code, its variant's name and its kind.
    const CODES: [(&str, ErrorKind); 14] = [
        ("bad_request", ErrorKind::InvalidRequest),
        ("bad_authtoken", ErrorKind::Unauthenticated),
        ("not_authenticated", ErrorKind::Unauthenticated),
        ("not_permitted", ErrorKind::PermissionDenied),
        ("not_implemented", ErrorKind::Server),
        ("unknown", ErrorKind::Server),
        ("not_found", ErrorKind::NotFound),
        ("unexpected_ref_type", ErrorKind::InvalidRequest),
        ("unexpected", ErrorKind::Server),
        ("invalid_action", ErrorKind::InvalidRequest),
        ("invalid_value", ErrorKind::InvalidRequest),
        ("required_value", ErrorKind::InvalidRequest),
        ("idempotency_key_already_used", ErrorKind::InvalidRequest),
        ("validation_errors", ErrorKind::InvalidRequest),
    ];

    #[test]
    fn every_code_has_its_own_variant() {
        let mut seen = std::collections::HashSet::new();
        for (code, kind) in CODES {
            let err = PrefactorError::from_code(500, code, Some("m".into()), None);
            assert!(
                !matches!(err, PrefactorError::Api { .. }),
                "{code} fell through"
            );
            assert_eq!(err.kind(), kind, "{code}");
            assert!(
                seen.insert(std::mem::discriminant(&err)),
                "{code} shares a variant"
            );
            assert!(err.to_string().contains(code), "{err}");
        }
        let other = PrefactorError::from_code(418, "teapot", None, None);
        assert!(matches!(&other, PrefactorError::Api { code, .. } if code == "teapot"));
        assert_eq!(other.kind(), ErrorKind::Other);
    }
}
