//! Census failures, one variant per HTTP status class the API answers with.
//!
//! Census publishes no error catalogue. Its own Terraform provider reads a `message` field
//! from error bodies and falls back to the raw body; so does this adapter.

use std::time::{Duration, SystemTime};

use affiliate_core::{AdapterError, ErrorKind};
use affiliate_http::{
    parse_retry_after, snippet, ConnectError, DecodeError, Exchange, ResponseError, TransportError,
};
use serde::Deserialize;

/// A Census failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CensusError {
    /// 401: the personal access token is missing, wrong or revoked.
    #[error("401 unauthorized: the personal access token was refused: {message}")]
    Unauthorized {
        /// The body's `message`, or the raw body.
        message: String,
    },
    /// 403: the token's user may not list invitations (organization admins only).
    #[error("403 forbidden: {message}")]
    Forbidden {
        /// The body's `message`, or the raw body.
        message: String,
    },
    /// 404: no such route (wrong base URL or region?).
    #[error("404 not found (is the region/base URL right?): {message}")]
    NotFound {
        /// The body's `message`, or the raw body.
        message: String,
    },
    /// 422: a parameter was refused.
    #[error("422 unprocessable: {message}")]
    Unprocessable {
        /// The body's `message`, or the raw body.
        message: String,
    },
    /// 429 after the retries ran out.
    #[error("429 rate limited: {message} (Retry-After: {retry_after:?})")]
    RateLimited {
        /// What the server asked to wait.
        retry_after: Option<Duration>,
        /// The body's `message`, or the raw body.
        message: String,
    },
    /// A 5xx after the retries ran out.
    #[error("{status} server error: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The body's `message`, or the raw body.
        message: String,
    },
    /// Any other non-success status.
    #[error("HTTP {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The body's `message`, or the raw body.
        message: String,
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
    /// No personal access token was configured.
    #[error("missing credential: {0} (set it on the builder or in the environment)")]
    MissingCredential(&'static str),
    /// The client was configured wrongly.
    #[error("invalid Census configuration: {0}")]
    Config(String),
    /// The base URL or the transport could not be set up.
    #[error("invalid Census configuration: {0}")]
    Connect(#[from] ConnectError),
}

impl AdapterError for CensusError {
    fn kind(&self) -> ErrorKind {
        match self {
            CensusError::Unauthorized { .. } => ErrorKind::Unauthenticated,
            CensusError::Forbidden { .. } => ErrorKind::PermissionDenied,
            CensusError::NotFound { .. } => ErrorKind::NotFound,
            CensusError::Unprocessable { .. } => ErrorKind::InvalidRequest,
            CensusError::RateLimited { .. } => ErrorKind::RateLimited,
            CensusError::Server { .. } => ErrorKind::Server,
            CensusError::Api { status, .. } if *status == 400 => ErrorKind::InvalidRequest,
            CensusError::Api { .. } => ErrorKind::Other,
            CensusError::Pagination(_) => ErrorKind::Pagination,
            CensusError::Decode(_) => ErrorKind::Decode,
            CensusError::Transport(_) => ErrorKind::Transport,
            CensusError::MissingCredential(_) => ErrorKind::MissingCredential,
            CensusError::Config(_) | CensusError::Connect(_) => ErrorKind::Config,
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    message: Option<String>,
}

/// The body's `message` when it is JSON with one, otherwise the start of the raw body.
fn message(body: &[u8]) -> String {
    match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope { message: Some(m) }) => m,
        _ if body.is_empty() => "(empty body)".to_owned(),
        _ => snippet(body),
    }
}

impl ResponseError for CensusError {
    /// Maps a non-success response to its variant.
    fn from_response(exchange: &Exchange) -> Self {
        let message = message(&exchange.body);
        match exchange.status.as_u16() {
            401 => CensusError::Unauthorized { message },
            403 => CensusError::Forbidden { message },
            404 => CensusError::NotFound { message },
            422 => CensusError::Unprocessable { message },
            429 => CensusError::RateLimited {
                retry_after: parse_retry_after(&exchange.headers, SystemTime::now()),
                message,
            },
            status @ 500..=599 => CensusError::Server { status, message },
            status => CensusError::Api { status, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_field_or_raw_text() {
        assert_eq!(
            message(br#"{"status":"error","message":"Invalid token"}"#),
            "Invalid token"
        );
        assert_eq!(message(b"Retry later\n"), "Retry later\n");
        assert_eq!(message(br#"{"error":"x"}"#), r#"{"error":"x"}"#);
        assert_eq!(message(b""), "(empty body)");
    }
}
