//! Every documented CoinW error code as its own variant, plus the failures around them.

use affiliate_core::{AdapterError, ErrorKind, Window};
use affiliate_http::{
    decode_json, snippet, ConnectError, DecodeError, Exchange, ResponseError, TransportError,
    TransportErrorKind,
};
use serde::{Deserialize, Deserializer};

/// CoinW's `code`, a string (`"200"`) or a number (`6001`), kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Code(String);

impl Code {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// `"200"`, `200` and `0` mean success.
    pub(crate) fn is_success(&self) -> bool {
        matches!(self.0.as_str(), "200" | "0")
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
            Float(f64),
        }
        Ok(Code(match Raw::deserialize(d)? {
            Raw::Int(n) => n.to_string(),
            Raw::Text(s) => s.trim().to_owned(),
            Raw::Float(f) => f.to_string(),
        }))
    }
}

/// The error envelope: `{"code": …, "msg": …}`, or `{"code", "message", "retry", "success"}`
/// (the shape of `6003`).
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub(crate) code: Code,
    pub(crate) msg: Option<String>,
    pub(crate) message: Option<String>,
}

/// A CoinW failure. One variant per documented code, plus the failures around them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoinwError {
    /// `6000`: authentication failed (missing or unknown `api_key`).
    #[error("6000 authentication error: CoinW refused the api_key: {message}")]
    Unauthenticated {
        /// CoinW's `msg`/`message`.
        message: String,
    },
    /// `6001`: invalid signature (wrong secret key, or a timestamp CoinW finds stale: check
    /// the local clock).
    #[error("6001 invalid signature: {message}")]
    InvalidSignature {
        /// CoinW's `msg`/`message`.
        message: String,
    },
    /// `6003`: the key lacks a permission (the affiliate list needs the "Affiliate"
    /// permission on a master account's key).
    #[error("6003 permission denied: {message}")]
    PermissionDenied {
        /// CoinW's `msg`/`message`.
        message: String,
    },
    /// `402`: a parameter is required or malformed.
    #[error("402 param required: {message}")]
    ParamRequired {
        /// CoinW's `msg`/`message`.
        message: String,
    },
    /// `500`: internal server error (per CoinW, usually a wrong URL), after retries.
    #[error("500 internal server error (HTTP {status}; CoinW says this usually means a wrong URL): {message}")]
    Internal {
        /// HTTP status of the answer.
        status: u16,
        /// CoinW's `msg`/`message`.
        message: String,
    },
    /// `29001`: throttled ("API access frequently"), still after the retries ran out.
    #[error("29001 throttled: {message} (retries exhausted; CoinW escalates to bans, slow down)")]
    RateLimited {
        /// CoinW's `msg`/`message`.
        message: String,
    },
    /// A code this version does not know, kept verbatim.
    #[error("CoinW error code {code} (HTTP {status}): {message}")]
    Api {
        /// HTTP status of the answer.
        status: u16,
        /// The `code` as sent (a number is kept as its decimal text).
        code: String,
        /// CoinW's `msg`/`message` (empty when none).
        message: String,
    },
    /// A non-success HTTP status without CoinW's envelope.
    #[error("unexpected HTTP {status} without a CoinW error body; body starts with {body:?}")]
    HttpStatus {
        /// HTTP status.
        status: u16,
        /// The first bytes of the body.
        body: String,
    },
    /// A success body that is not the documented JSON.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A success body with a row that does not follow the documentation (e.g. a
    /// `registerTime` not in `yyyy-MM-dd HH:mm:ss`).
    #[error("CoinW sent a record that does not follow the documentation: {0}")]
    BadRecord(String),
    /// CoinW returned a row registered outside the requested window: the server ignored
    /// `startTime`/`endTime`, and windows could not guarantee exactly-once.
    #[error("CoinW returned uid {uid} registered at {register_time:?}, outside the requested window {window:?}; the server may have ignored startTime/endTime")]
    OutsideWindow {
        /// The row's uid.
        uid: String,
        /// The row's `registerTime` as sent.
        register_time: String,
        /// The window asked for.
        window: Window,
    },
    /// No usable response (connect, timeout, reset, oversized body, insecure URL).
    #[error("{}", transport_message(.0))]
    Transport(#[from] TransportError),
    /// The request could not be signed.
    #[error("could not sign the request: {0}")]
    Signing(String),
    /// A credential is missing (caught when the client is built).
    #[error("missing credential: {0} (set it on the builder or in the environment)")]
    MissingCredential(&'static str),
    /// The client or a cursor was configured wrongly (caught before any request).
    #[error("invalid CoinW configuration: {0}")]
    Config(String),
    /// A success answer without `data` (or with `data: null`): not an empty window, an
    /// answer that says nothing about it.
    #[error("a success answer without data: CoinW said nothing about the window's rows")]
    MissingData,
    /// The base URL or the transport could not be set up.
    #[error("invalid CoinW configuration: {0}")]
    Connect(#[from] ConnectError),
}

/// What went wrong with the transport, without the request and attempts (the
/// [`SourceError`](affiliate_core::SourceError) around it names both).
fn transport_message(err: &TransportError) -> String {
    let what = match err.kind {
        TransportErrorKind::Connect => "could not connect",
        TransportErrorKind::Timeout => "timed out",
        TransportErrorKind::Interrupted => "connection interrupted",
        TransportErrorKind::BodyTooLarge => "response body too large",
        TransportErrorKind::Insecure => "insecure URL",
        TransportErrorKind::Hook => "could not sign the request",
        TransportErrorKind::Setup => "could not build the HTTP client",
        _ => "transport failure",
    };
    match &err.cause {
        Some(cause) => format!("{what}: {cause}"),
        None => what.to_owned(),
    }
}

impl AdapterError for CoinwError {
    fn kind(&self) -> ErrorKind {
        match self {
            CoinwError::Unauthenticated { .. } | CoinwError::InvalidSignature { .. } => {
                ErrorKind::Unauthenticated
            }
            CoinwError::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            CoinwError::ParamRequired { .. } => ErrorKind::InvalidRequest,
            CoinwError::Internal { .. } => ErrorKind::Server,
            CoinwError::RateLimited { .. } => ErrorKind::RateLimited,
            CoinwError::Api { status, .. } => {
                if *status >= 500 {
                    ErrorKind::Server
                } else {
                    ErrorKind::Other
                }
            }
            CoinwError::HttpStatus { status, .. } => match status {
                401 => ErrorKind::Unauthenticated,
                403 => ErrorKind::PermissionDenied,
                404 => ErrorKind::NotFound,
                410 => ErrorKind::Gone,
                408 | 429 => ErrorKind::RateLimited,
                400 | 405 | 422 => ErrorKind::InvalidRequest,
                s if *s >= 500 => ErrorKind::Server,
                _ => ErrorKind::Other,
            },
            CoinwError::Decode(_)
            | CoinwError::MissingData
            | CoinwError::BadRecord(_)
            | CoinwError::OutsideWindow { .. } => ErrorKind::Decode,
            CoinwError::Transport(_) => ErrorKind::Transport,
            CoinwError::Signing(_) | CoinwError::Config(_) | CoinwError::Connect(_) => {
                ErrorKind::Config
            }
            CoinwError::MissingCredential(_) => ErrorKind::MissingCredential,
        }
    }
}

impl CoinwError {
    /// The variant for a non-success `code` (the HTTP status is kept for unknown codes).
    pub fn from_code(code: &str, message: Option<String>, http_status: u16) -> Self {
        let message = message.unwrap_or_default();
        match code {
            "6000" => CoinwError::Unauthenticated { message },
            "6001" => CoinwError::InvalidSignature { message },
            "6003" => CoinwError::PermissionDenied { message },
            "402" => CoinwError::ParamRequired { message },
            "500" => CoinwError::Internal {
                status: http_status,
                message,
            },
            "29001" => CoinwError::RateLimited { message },
            other => CoinwError::Api {
                status: http_status,
                code: other.to_owned(),
                message,
            },
        }
    }
}

impl ResponseError for CoinwError {
    /// Maps a response the transport settled on without a success body: CoinW's envelope
    /// when there is one (whatever the HTTP status), else the status alone.
    fn from_response(exchange: &Exchange) -> Self {
        let status = exchange.status.as_u16();
        match decode_json::<ErrorEnvelope>(exchange) {
            Ok(env) if !env.code.is_success() => {
                CoinwError::from_code(env.code.as_str(), env.msg.or(env.message), status)
            }
            _ => CoinwError::HttpStatus {
                status,
                body: snippet(&exchange.body),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_text_whatever_their_json_type() {
        let code = |s: &str| serde_json::from_str::<Code>(s).unwrap();
        assert_eq!(code("\"200\""), Code("200".into()));
        assert!(code("200").is_success());
        assert!(code("0").is_success());
        assert!(code("\"0\"").is_success());
        assert!(!code("6001").is_success());
        assert_eq!(code("6001").as_str(), "6001");
        assert_eq!(code("\" 6003 \"").as_str(), "6003");
    }

    #[test]
    fn kinds() {
        let k = |c: &str| CoinwError::from_code(c, Some("m".into()), 200).kind();
        assert_eq!(k("6000"), ErrorKind::Unauthenticated);
        assert_eq!(k("6001"), ErrorKind::Unauthenticated);
        assert_eq!(k("6003"), ErrorKind::PermissionDenied);
        assert_eq!(k("402"), ErrorKind::InvalidRequest);
        assert_eq!(k("500"), ErrorKind::Server);
        assert_eq!(k("29001"), ErrorKind::RateLimited);
        assert_eq!(k("-103"), ErrorKind::Other);
        let unknown = CoinwError::from_code("-103", None, 200);
        assert!(matches!(unknown, CoinwError::Api { ref code, .. } if code == "-103"));
    }
}
