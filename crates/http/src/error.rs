//! Failures below HTTP status level.

use std::error::Error as StdError;
use std::fmt;

/// What went wrong with the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// Could not connect (refused, DNS, TLS handshake).
    Connect,
    /// The request or the body read timed out.
    Timeout,
    /// The connection broke while sending or reading (reset, truncated body).
    Interrupted,
    /// The body was larger than the configured cap.
    BodyTooLarge,
    /// Credentials would have gone over plain HTTP to a non-loopback host.
    Insecure,
    /// A request hook (signing) failed.
    Hook,
    /// The HTTP client could not be built.
    Setup,
}

/// A request that got no usable response, after retries.
#[derive(Debug)]
pub struct TransportError {
    /// What went wrong.
    pub kind: TransportErrorKind,
    /// `GET /path?query` of the request (no secrets).
    pub request: String,
    /// Attempts made.
    pub attempts: u32,
    /// Human-readable cause (never a URL with credentials: reqwest's URL is stripped).
    pub cause: Option<Box<dyn StdError + Send + Sync>>,
}

impl TransportError {
    pub(crate) fn new(
        kind: TransportErrorKind,
        request: String,
        cause: Option<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            request,
            attempts: 0,
            cause,
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Connect => "could not connect",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Interrupted => "connection interrupted",
            TransportErrorKind::BodyTooLarge => "response body too large",
            TransportErrorKind::Insecure => "insecure URL",
            TransportErrorKind::Hook => "could not prepare the request",
            TransportErrorKind::Setup => "could not build the HTTP client",
        };
        write!(f, "{} {what}", self.request)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
