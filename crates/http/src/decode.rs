//! Turning a response body into the documented shape, with an error that shows what came.

use serde::de::DeserializeOwned;

use crate::Exchange;

/// A body that is not the documented JSON.
#[derive(Debug, thiserror::Error)]
#[error(
    "response body (HTTP {status}) is not the documented JSON: {cause}; it starts with {snippet:?}"
)]
pub struct DecodeError {
    /// HTTP status of the response.
    pub status: u16,
    /// What the JSON parser said.
    pub cause: String,
    /// The first bytes of the body, lossily decoded.
    pub snippet: String,
}

/// How many bytes of a bad body an error quotes.
const SNIPPET_BYTES: usize = 120;

/// Parses the body of `exchange` as `T`.
///
/// The body is checked to be UTF-8 once and read as text: `serde_json::from_slice` would
/// check every string on its own (4 % of a sync's instructions).
pub fn decode_json<T: DeserializeOwned>(exchange: &Exchange) -> Result<T, DecodeError> {
    let fail = |cause: String| DecodeError {
        status: exchange.status.as_u16(),
        cause,
        snippet: snippet(&exchange.body),
    };
    let text = std::str::from_utf8(&exchange.body)
        .map_err(|e| fail(format!("the body is not UTF-8: {e}")))?;
    serde_json::from_str(text).map_err(|e| fail(e.to_string()))
}

/// The first bytes of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let end = body.len().min(SNIPPET_BYTES);
    let mut text = String::from_utf8_lossy(&body[..end]).into_owned();
    if body.len() > end {
        text.push('…');
    }
    text
}
