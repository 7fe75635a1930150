//! The one error type every source returns: which provider, which request, what kind of
//! failure, and the adapter's own typed error as the cause.

use std::error::Error as StdError;
use std::fmt;

use crate::Provider;

/// Broad classes of failure, for callers that branch (retry later, fix config, alert).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The source was configured wrongly (caught before any request).
    Config,
    /// A credential is missing for the call.
    MissingCredential,
    /// The provider rejected the credentials.
    Unauthenticated,
    /// The credentials are valid but lack a permission.
    PermissionDenied,
    /// The provider throttled us and retries ran out.
    RateLimited,
    /// The provider rejected the request's parameters.
    InvalidRequest,
    /// The requested object does not exist.
    NotFound,
    /// The provider failed (5xx or an internal error code) and retries ran out.
    Server,
    /// Connection, TLS or timeout failure after retries.
    Transport,
    /// The response body could not be decoded into the documented shape.
    Decode,
    /// The pagination went wrong: a loop, a cursor that does not advance, a page ceiling.
    Pagination,
    /// The provider no longer offers the endpoint.
    Gone,
    /// The provider has the endpoint switched off on its side (e.g. Triport's operator
    /// surface on a server without an operator token): nothing the caller's credentials or
    /// parameters can fix.
    Disabled,
    /// Anything else the provider reported.
    Other,
}

/// Implemented by every adapter's error enum: says which [`ErrorKind`] each variant is, so
/// [`SourceError::from_adapter`] can wrap it without a per-adapter conversion table.
pub trait AdapterError: StdError + Send + Sync + 'static {
    /// The broad class of this failure.
    fn kind(&self) -> ErrorKind;
}

/// A failure of one source, naming the provider, the request and the cause.
///
/// The adapter's own error enum (one variant per documented provider error) is the
/// [`source`](StdError::source) and can be recovered with [`SourceError::downcast_ref`].
/// Never contains a secret.
#[derive(Debug)]
pub struct SourceError {
    provider: Provider,
    kind: ErrorKind,
    request: Option<String>,
    attempts: u32,
    cause: Box<dyn StdError + Send + Sync + 'static>,
}

impl SourceError {
    /// Wraps an adapter error.
    pub fn new(
        provider: Provider,
        kind: ErrorKind,
        cause: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            provider,
            kind,
            request: None,
            attempts: 0,
            cause: cause.into(),
        }
    }

    /// Wraps an adapter's typed error, classified by the adapter itself.
    pub fn from_adapter<E: AdapterError>(provider: Provider, err: E) -> Self {
        let kind = err.kind();
        Self::new(provider, kind, err)
    }

    /// Names the request that failed (method and path, never a credential).
    pub fn with_request(mut self, request: impl Into<String>) -> Self {
        self.request = Some(request.into());
        self
    }

    /// Records how many attempts were made before giving up.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// The provider that failed.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The failed request (`GET /v1/...`), when one was made.
    pub fn request(&self) -> Option<&str> {
        self.request.as_deref()
    }

    /// Attempts made (0 when the error came before any request).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The adapter's typed error, if it is a `T`.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.cause.downcast_ref::<T>()
    }

    /// Whether trying the whole operation again later could succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::RateLimited | ErrorKind::Server | ErrorKind::Transport
        )
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A transport cause already names the request and its attempts: say each once.
        let cause = self.cause.to_string();
        write!(f, "{}", self.provider)?;
        match &self.request {
            Some(request) if !cause.starts_with(request.as_str()) => write!(f, " {request}: ")?,
            _ => f.write_str(": ")?,
        }
        f.write_str(&cause)?;
        let attempts = format!(" (after {} attempts)", self.attempts);
        if self.attempts > 1 && !cause.ends_with(&attempts) {
            f.write_str(&attempts)?;
        }
        Ok(())
    }
}

impl StdError for SourceError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.cause.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("no valid console session cookie")]
    struct Unauth;

    #[test]
    fn display_names_provider_request_and_cause() {
        let err = SourceError::new(Provider::Triport, ErrorKind::Unauthenticated, Unauth)
            .with_request("GET /v1/referrals/invitees?limit=200&offset=0")
            .with_attempts(3);
        assert_eq!(
            err.to_string(),
            "triport GET /v1/referrals/invitees?limit=200&offset=0: no valid console session cookie (after 3 attempts)"
        );
        assert!(err.downcast_ref::<Unauth>().is_some());
        assert!(!err.is_transient());
    }
}
