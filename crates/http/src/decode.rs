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
/// A body that is UTF-8 throughout (every well-formed one) is checked once and read as
/// text: `serde_json::from_slice` checks every string on its own (4 % of a sync's
/// instructions). Any other body is read byte-wise as before, so invalid bytes inside a
/// field the adapter ignores still decode.
pub fn decode_json<T: DeserializeOwned>(exchange: &Exchange) -> Result<T, DecodeError> {
    let decoded = match std::str::from_utf8(&exchange.body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(&exchange.body),
    };
    decoded.map_err(|e| DecodeError {
        status: exchange.status.as_u16(),
        cause: e.to_string(),
        snippet: snippet(&exchange.body),
    })
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
